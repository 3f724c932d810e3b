// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The event loop against the real kernel: hrt timers fire from the timerfd
 * (checked for having fired and never early, never for tight timing), a
 * periodic timer counts its overruns across a deliberate block, the timerfd
 * follows the queue's earliest expiry (also across clock_was_set), SIGHUP
 * and SIGTERM arrive through the signalfd, pipe fds dispatch and can be
 * removed from their own callback, and evl_stop() ends evl_run(). An
 * owner's clock that stands still (the fake clock) neither hangs the loop in
 * a spin nor makes it busy, the kernel's queue runs on regardless, SIGTERM
 * is served, and the dispatch lateness is measured and windowed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "core/evl.h"
#include "tk_check.h"
#include "tk_fakeclock.h"

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)

static struct evl *loop;
static bool guard_fired;

static enum hrt_restart guard_fn(struct hrt_timer *t, int64_t now)
{
	(void)t;
	(void)now;
	guard_fired = true;
	evl_stop(loop);
	return HRT_NORESTART;
}

/* A 3 s guard so a broken loop fails the test instead of hanging it. */
static struct hrt_timer guard;

static void setup(void)
{
	ck_assert_int_eq(evl_new(&loop), 0);
	guard_fired = false;
	hrt_timer_init(&guard, HRT_BASE_MONOTONIC, guard_fn, "guard");
	ck_assert_int_eq(hrt_start(evl_timers(loop), &guard, 3 * SEC, 0, HRT_MODE_REL), 0);
}

static void teardown(void)
{
	evl_free(loop);
	loop = NULL;
}

/* ---- one-shot ---- */

struct shot {
	struct hrt_timer t;
	int fired;
	int64_t cb_now, wall_now, expires;
	bool stop;
};

static enum hrt_restart shot_fn(struct hrt_timer *t, int64_t now)
{
	struct shot *s = t->data;

	s->fired++;
	s->cb_now = now;
	s->wall_now = evl_now();
	s->expires = t->expires;
	if (s->stop)
		evl_stop(loop);
	return HRT_NORESTART;
}

static void shot_init(struct shot *s, unsigned int clock, bool stop)
{
	memset(s, 0, sizeof(*s));
	hrt_timer_init(&s->t, clock, shot_fn, "shot");
	s->t.data = s;
	s->stop = stop;
}

START_TEST(test_oneshot_fires)
{
	struct hrt_queue *q = evl_timers(loop);
	struct shot s;
	int64_t start = evl_now(), due;

	shot_init(&s, HRT_BASE_MONOTONIC, true);
	ck_assert_int_eq(hrt_start(q, &s.t, 20 * MS, 0, HRT_MODE_REL), 0);
	due = s.t.expires;
	ck_assert_int_ge(due, start + 20 * MS);
	ck_assert_int_eq(evl_armed(loop), due); /* the timerfd follows the earliest */
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert(!guard_fired);
	ck_assert_int_eq(s.fired, 1);
	ck_assert_int_ge(s.cb_now, due); /* never early */
	ck_assert_int_ge(s.wall_now, due);
	ck_assert_int_lt(s.wall_now - due, 2 * SEC); /* a generous bound, not a timing test */
	ck_assert_int_eq(evl_armed(loop), guard.expires);
	hrt_cancel(&guard);
	ck_assert_int_eq(evl_armed(loop), HRT_TIME_MAX); /* empty queue: disarmed */
	ck_assert_int_eq(evl_last_error(loop), 0);

	/* timers may outlive the loop: one that ran and one still queued at evl_free() */
	ck_assert_int_eq(hrt_start(q, &guard, 1 * SEC, 0, HRT_MODE_REL), 0);
	teardown();
	ck_assert(!hrt_is_queued(&guard));
	ck_assert_int_eq(hrt_cancel(&guard), 0);
	ck_assert_int_eq(hrt_cancel(&s.t), 0);
	setup();
}
END_TEST

/* ---- the timerfd follows the queue, including clock_was_set ---- */

START_TEST(test_armed_follows_queue)
{
	struct hrt_queue *q = evl_timers(loop);
	struct shot a, b;
	int64_t now = evl_now();

	hrt_set_offsets(q, 1000 * SEC, 0, 1037 * SEC);
	shot_init(&a, HRT_BASE_REALTIME, true);
	shot_init(&b, HRT_BASE_MONOTONIC, false);
	/* absolute REALTIME 2 s ahead (wall = mono + 1000 s) */
	hrt_start(q, &a.t, now + 1002 * SEC, 0, HRT_MODE_ABS);
	ck_assert_int_eq(evl_armed(loop), now + 2 * SEC);
	hrt_start(q, &b.t, now + 1 * SEC, 0, HRT_MODE_ABS);
	ck_assert_int_eq(evl_armed(loop), now + 1 * SEC);
	hrt_cancel(&b.t);
	ck_assert_int_eq(evl_armed(loop), now + 2 * SEC);
	/* the wall clock is stepped 1.99 s forward: a is due in 10 ms and fires */
	hrt_set_offsets(q, 1000 * SEC + 1990 * MS, 0, 1037 * SEC + 1990 * MS);
	ck_assert_int_eq(evl_armed(loop), now + 10 * MS);
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert(!guard_fired);
	ck_assert_int_eq(a.fired, 1);
	ck_assert_int_eq(b.fired, 0);
	ck_assert_int_ge(a.cb_now, now + 1002 * SEC); /* in REALTIME, never early */
	ck_assert_int_ge(a.wall_now, now + 10 * MS);
}
END_TEST

/* ---- periodic with overruns ---- */

struct periodic {
	struct hrt_timer t;
	int64_t interval;
	int calls, early;
	uint64_t orun[16];
	uint64_t orun_sum;
};

static enum hrt_restart periodic_fn(struct hrt_timer *t, int64_t now)
{
	struct periodic *p = t->data;
	uint64_t o;

	if (now < t->expires)
		p->early++;
	o = hrt_forward(t, now, p->interval);
	p->orun[p->calls++] = o;
	p->orun_sum += o;
	if (p->calls == 3) {
		/* A deliberate block of 55 ms, five and a half periods. */
		struct timespec ts = { 0, 55 * MS };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	if (p->calls == 6) {
		evl_stop(loop);
		return HRT_NORESTART;
	}
	return HRT_RESTART;
}

START_TEST(test_periodic_overrun)
{
	struct hrt_queue *q = evl_timers(loop);
	struct periodic p;
	int64_t first;

	memset(&p, 0, sizeof(p));
	hrt_timer_init(&p.t, HRT_BASE_MONOTONIC, periodic_fn, "periodic");
	p.t.data = &p;
	p.interval = 10 * MS;
	ck_assert_int_eq(hrt_start(q, &p.t, 10 * MS, 0, HRT_MODE_REL), 0);
	first = p.t.expires;
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert(!guard_fired);
	ck_assert_int_eq(p.calls, 6);
	ck_assert_int_eq(p.early, 0);
	/* The call after the block sees at least 45 ms past its expiry: >= 5 periods. */
	ck_assert_uint_ge(p.orun[3], 5);
	for (int i = 0; i < 6; i++)
		ck_assert_uint_ge(p.orun[i], 1);
	/* Every elapsed period is counted exactly once. */
	ck_assert_int_eq((int64_t)p.orun_sum * p.interval, p.t.expires - first);
	/* The restarted timer was already due when the blocked pass ended: a retry. */
	ck_assert_uint_ge(q->nr_retries, 1);
}
END_TEST

/* ---- the owner's clock and the early wake-up ---- */

/* A clock far from the kernel's and running at a different rate (ppm times
 * 10^4), as the daemon's timekeeper may: ns = base + (kernel - k0) * rate. */
static int64_t own_k0;
static double own_rate;

static int64_t own_clock(void *ctx)
{
	(void)ctx;
	return 5000 * SEC + (int64_t)((double)(evl_now() - own_k0) * own_rate);
}

START_TEST(test_owner_clock)
{
	static const double rates[] = { 0.98, 1.02 };
	struct hrt_queue *q = evl_timers(loop);

	for (unsigned int i = 0; i < 2; i++) {
		struct shot a;
		int64_t exp;

		own_k0 = evl_now();
		own_rate = rates[i];
		evl_set_clock(loop, own_clock, NULL);
		ck_assert_int_ge(evl_clock_now(loop), 5000 * SEC);
		/* the guard was started on the kernel's clock: move it onto this one */
		hrt_start(q, &guard, 3 * SEC, 0, HRT_MODE_REL);
		shot_init(&a, HRT_BASE_MONOTONIC, true);
		ck_assert_int_eq(hrt_start(q, &a.t, 100 * MS, 0, HRT_MODE_REL), 0);
		exp = a.t.expires;
		ck_assert_int_ge(exp, 5000 * SEC + 100 * MS);
		ck_assert_int_eq(evl_armed(loop), exp); /* in the queue's clock */
		ck_assert_int_eq(evl_run(loop), 0);
		ck_assert(!guard_fired);
		ck_assert_int_eq(a.fired, 1);
		/* never early on the queue's clock, whichever way the rates differ */
		ck_assert_int_ge(a.cb_now, exp);
	}
	evl_set_clock(loop, NULL, NULL);
}
END_TEST

START_TEST(test_margin_spin)
{
	struct hrt_queue *q = evl_timers(loop);
	struct shot a, b;
	uint64_t spins;
	int64_t max_spin;

	evl_set_margin(loop, 50 * MS);
	shot_init(&a, HRT_BASE_MONOTONIC, true);
	shot_init(&b, HRT_BASE_MONOTONIC, false);
	/* a timer with slack never spins */
	hrt_start(q, &b.t, 100 * MS, 1 * MS, HRT_MODE_REL);
	ck_assert_int_eq(evl_spin_target(loop), HRT_TIME_MAX);
	/* a zero-slack one ahead of it does: the wake-up is set the margin early */
	hrt_start(q, &a.t, 80 * MS, 0, HRT_MODE_REL);
	ck_assert_int_eq(evl_spin_target(loop), a.t.expires);
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert(!guard_fired);
	ck_assert_int_eq(a.fired, 1);
	ck_assert_int_ge(a.cb_now, a.t.expires);
	evl_spin_stats(loop, &spins, &max_spin);
	ck_assert_uint_le(spins, 1);
	/* How long it spun is not asserted: a preemption during the spin
	 * lengthens it on a loaded machine; the bound in kernel time is
	 * checked on a clock that stands still (test_stalled_clock_bounded). */
	ck_assert_int_ge(max_spin, 0);
	/* the slack timer is next: no spin armed; unless a loaded machine
	 * made the loop 20 ms late and b ran in the same dispatch: then the
	 * zero-slack guard is next and is spun to */
	if (b.fired)
		ck_assert_int_eq(evl_spin_target(loop), guard.expires);
	else
		ck_assert_int_eq(evl_spin_target(loop), HRT_TIME_MAX);
	hrt_cancel(&b.t);
}
END_TEST

/* ---- signals ---- */

static int got_signo, got_count;

static void on_sig(struct evl *l, int signo, void *ctx)
{
	(void)ctx;
	got_signo = signo;
	got_count++;
	evl_stop(l);
}

START_TEST(test_sighup)
{
	sigset_t cur;

	ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	ck_assert(sigismember(&cur, SIGHUP));
	ck_assert(sigismember(&cur, SIGTERM));
	ck_assert(sigismember(&cur, SIGINT));
	ck_assert_int_eq(evl_on_signal(loop, SIGUSR1, on_sig, NULL), -EINVAL);
	ck_assert_int_eq(evl_on_signal(loop, SIGHUP, on_sig, NULL), 0);
	got_signo = 0;
	got_count = 0;
	ck_assert_int_eq(kill(getpid(), SIGHUP), 0);
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert(!guard_fired);
	ck_assert_int_eq(got_signo, SIGHUP);
	ck_assert_int_eq(got_count, 1);
}
END_TEST

START_TEST(test_sigterm_default_stops)
{
	ck_assert_int_eq(raise(SIGTERM), 0); /* blocked: pending until the signalfd reads it */
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert(!guard_fired);
	/* and SIGHUP without a callback is ignored: the loop runs on to the guard */
	hrt_start(evl_timers(loop), &guard, 100 * MS, 0, HRT_MODE_REL);
	ck_assert_int_eq(raise(SIGHUP), 0);
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert(guard_fired);
}
END_TEST

START_TEST(test_free_restores_mask)
{
	sigset_t cur;

	teardown();
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	ck_assert(!sigismember(&cur, SIGHUP));
	setup();
}
END_TEST

/* ---- fds ---- */

struct piperd {
	int fd, calls;
	char buf[64];
	size_t len;
	bool del_when_done;
};

static void pipe_cb(struct evl *l, int fd, uint32_t revents, void *ctx)
{
	struct piperd *r = ctx;
	ssize_t n;

	r->calls++;
	ck_assert(revents & EPOLLIN);
	n = read(fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len);
	if (n > 0)
		r->len += (size_t)n;
	r->buf[r->len] = '\0';
	if (strcmp(r->buf, "helloworld") == 0 && r->del_when_done) {
		ck_assert_int_eq(evl_del_fd(l, fd), 0); /* from its own callback */
		evl_stop(l);
	}
}

static int wfd;

static enum hrt_restart write_fn(struct hrt_timer *t, int64_t now)
{
	(void)t;
	(void)now;
	ck_assert_int_eq(write(wfd, "world", 5), 5);
	return HRT_NORESTART;
}

START_TEST(test_pipe_fd)
{
	struct hrt_queue *q = evl_timers(loop);
	struct piperd r = { .del_when_done = true };
	struct hrt_timer w;
	struct shot end;
	int p[2];
	int calls;

	ck_assert_int_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	wfd = p[1];
	r.fd = p[0];
	ck_assert_int_eq(evl_add_fd(loop, p[0], EPOLLIN, pipe_cb, &r), 0);
	ck_assert_int_eq(evl_add_fd(loop, p[0], EPOLLIN, pipe_cb, &r), -EEXIST);
	ck_assert_int_eq(evl_mod_fd(loop, p[0], EPOLLIN), 0);
	ck_assert_int_eq(evl_mod_fd(loop, p[1], EPOLLIN), -ENOENT);
	ck_assert_int_eq(write(p[1], "hello", 5), 5);
	hrt_timer_init(&w, HRT_BASE_MONOTONIC, write_fn, "writer");
	hrt_start(q, &w, 10 * MS, 0, HRT_MODE_REL);
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert(!guard_fired);
	ck_assert_str_eq(r.buf, "helloworld");
	ck_assert_int_ge(r.calls, 2);

	/* deleted: more data does not reach the callback */
	calls = r.calls;
	ck_assert_int_eq(evl_del_fd(loop, p[0]), -ENOENT);
	ck_assert_int_eq(write(p[1], "more", 4), 4);
	shot_init(&end, HRT_BASE_MONOTONIC, true);
	hrt_start(q, &end.t, 30 * MS, 0, HRT_MODE_REL);
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert_int_eq(end.fired, 1);
	ck_assert_int_eq(r.calls, calls);

	/* re-added, the pending data is dispatched */
	r.del_when_done = false;
	ck_assert_int_eq(evl_add_fd(loop, p[0], EPOLLIN, pipe_cb, &r), 0);
	ck_assert_int_eq(evl_run_once(loop, 1000), 1);
	ck_assert_str_eq(r.buf, "helloworldmore");
	ck_assert_int_eq(evl_del_fd(loop, p[0]), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* ---- stop ---- */

START_TEST(test_stop_ends_run)
{
	struct hrt_queue *q = evl_timers(loop);
	struct shot a, b;

	shot_init(&a, HRT_BASE_MONOTONIC, true);
	shot_init(&b, HRT_BASE_MONOTONIC, false);
	hrt_start(q, &a.t, 10 * MS, 0, HRT_MODE_REL);
	hrt_start(q, &b.t, 300 * MS, 0, HRT_MODE_REL);
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert_int_eq(a.fired, 1);
	ck_assert_int_eq(b.fired, 0); /* evl_run returned before b was due */
	ck_assert(hrt_is_queued(&b.t));
	ck_assert(!guard_fired);

	/* a stop requested before evl_run makes it return at once, and only once */
	evl_stop(loop);
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert_int_eq(b.fired, 0);
	b.stop = true;
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert_int_eq(b.fired, 1);
	ck_assert(!guard_fired);
}
END_TEST

/* ---- an owner's clock that stands still ---- */

/* The daemon's clock runs on the counter it judges: a stalled counter
 * stops it. fake_now is that clock here, moved by the test alone. */
static int64_t stalled_clock(void *ctx)
{
	(void)ctx;
	return (int64_t)fake_now;
}

START_TEST(test_stalled_clock_bounded)
{
	struct hrt_queue *q = evl_timers(loop), *kq = evl_ktimers(loop);
	struct shot a, k;
	uint64_t wakeups, early, cuts, w0;
	int64_t k0, recent, max;

	fake_now = 7000 * (uint64_t)SEC;
	evl_set_clock(loop, stalled_clock, NULL);
	evl_set_margin(loop, 10 * MS); /* timer_margin_us = 10000 */
	/* the guard on the kernel's queue: it must fire whatever the owner's clock does */
	hrt_cancel(&guard);
	ck_assert_int_eq(hrt_start(kq, &guard, 5 * SEC, 0, HRT_MODE_REL), 0);
	/* zero slack, 5 ms ahead on a clock that will not get there: the
	 * wake-up is armed for a spin that must stop after 2 x margin */
	shot_init(&a, HRT_BASE_MONOTONIC, true);
	ck_assert_int_eq(hrt_start(q, &a.t, 5 * MS, 0, HRT_MODE_REL), 0);
	ck_assert_int_eq(evl_spin_target(loop), a.t.expires);
	ck_assert_int_ge(evl_run_once(loop, 1000), 1);
	evl_wake_stats(loop, &wakeups, &early, &cuts);
	ck_assert_uint_eq(cuts, 1);
	ck_assert_int_eq(a.fired, 0);

	/* a timer on the kernel's queue runs while the owner's clock stands
	 * still (with slack: it does not spin, so the cuts below are the
	 * owner's queue's alone) */
	shot_init(&k, HRT_BASE_MONOTONIC, false);
	ck_assert_int_eq(hrt_start(kq, &k.t, 30 * MS, 1 * MS, HRT_MODE_REL), 0);
	while (!k.fired && !guard_fired)
		evl_run_once(loop, 1000);
	ck_assert(!guard_fired);
	ck_assert_int_eq(k.fired, 1);
	ck_assert_int_ge(k.wall_now, k.t.softexpires);

	/* 300 ms of kernel time on the stalled clock: early wake-ups back off
	 * to 10 ms, no more spins; a busy loop would wake ~10^5 times */
	evl_wake_stats(loop, &w0, &early, &cuts);
	k0 = evl_now();
	while (evl_now() - k0 < 300 * MS)
		evl_run_once(loop, 1000);
	evl_wake_stats(loop, &wakeups, &early, &cuts);
	ck_assert_int_eq(a.fired, 0);
	ck_assert_uint_le(cuts, 2); /* two early wake-ups in a row: no more spins */
	ck_assert_uint_ge(wakeups - w0, 1);
	ck_assert_uint_lt(wakeups - w0, 100);
	ck_assert_uint_ge(early, 2);

	/* SIGTERM is served (the default stops the loop) */
	ck_assert_int_eq(raise(SIGTERM), 0);
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert(!guard_fired);
	ck_assert_int_eq(a.fired, 0);

	/* the clock moves on, 7 ms past the expiry: the timer runs, 7 ms late
	 * on its clock, and the lateness says so */
	fake_now = (uint64_t)a.t.expires + 7 * (uint64_t)MS;
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert(!guard_fired);
	ck_assert_int_eq(a.fired, 1);
	ck_assert_int_eq(a.cb_now, a.t.expires + 7 * MS);
	evl_lateness(loop, &recent, &max);
	ck_assert_int_ge(max, 7 * MS);
	ck_assert_int_ge(recent, 7 * MS);
	ck_assert_int_le(recent, max);
	evl_set_clock(loop, NULL, NULL);
	evl_set_margin(loop, 0);
}
END_TEST

/* The lateness of each timer against its hard expiry, on its queue's clock. */
START_TEST(test_lateness_measured)
{
	struct hrt_queue *q = evl_timers(loop);
	struct shot a;
	int64_t recent, max;

	evl_lateness(loop, &recent, &max);
	ck_assert_int_eq(recent, 0);
	ck_assert_int_eq(max, 0);
	fake_now = 100 * (uint64_t)SEC;
	evl_set_clock(loop, stalled_clock, NULL);
	hrt_cancel(&guard);
	hrt_start(evl_ktimers(loop), &guard, 3 * SEC, 0, HRT_MODE_REL);
	shot_init(&a, HRT_BASE_MONOTONIC, true);
	hrt_start(q, &a.t, 100 * SEC + 2 * MS, 0, HRT_MODE_ABS);
	fake_now = 100 * (uint64_t)SEC + 2 * (uint64_t)MS + 123456;
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert_int_eq(a.fired, 1);
	evl_lateness(loop, &recent, &max);
	ck_assert_int_eq(max, 123456);
	ck_assert_int_eq(recent, 123456);
	/* a timer run inside its slack window is not late */
	shot_init(&a, HRT_BASE_MONOTONIC, true);
	hrt_start(q, &a.t, (int64_t)fake_now - 1000, 5000, HRT_MODE_ABS);
	ck_assert_int_eq(evl_run(loop), 0);
	ck_assert_int_eq(a.fired, 1);
	evl_lateness(loop, &recent, &max);
	ck_assert_int_eq(max, 123456);
	evl_set_clock(loop, NULL, NULL);
}
END_TEST

START_TEST(test_lateness_window)
{
	struct evl_late s;

	evl_late_init(&s);
	ck_assert_int_eq(evl_late_recent(&s, 0), 0);
	evl_late_add(&s, 0, 5 * MS);
	evl_late_add(&s, 15 * SEC, 2 * MS);
	evl_late_add(&s, 16 * SEC, -3); /* early: counts as 0 */
	ck_assert_int_eq(s.max_ns, 5 * MS);
	ck_assert_int_eq(s.last_ns, 0);
	ck_assert_uint_eq(s.samples, 3);
	ck_assert_int_eq(evl_late_recent(&s, 15 * SEC), 5 * MS);
	ck_assert_int_eq(evl_late_recent(&s, 60 * SEC - 1), 5 * MS);
	/* the bucket of 0..10 s is out of the last minute's six */
	ck_assert_int_eq(evl_late_recent(&s, 60 * SEC), 2 * MS);
	ck_assert_int_eq(evl_late_recent(&s, 69 * SEC), 2 * MS);
	ck_assert_int_eq(evl_late_recent(&s, 70 * SEC), 0);
	/* a new bucket in an old one's slot starts from zero */
	evl_late_add(&s, 61 * SEC, 1 * MS);
	ck_assert_int_eq(evl_late_recent(&s, 61 * SEC), 2 * MS);
	ck_assert_int_eq(evl_late_recent(&s, 75 * SEC), 1 * MS);
	ck_assert_int_eq(s.max_ns, 5 * MS);
	/* times before 0 (a test's clock) and at the extremes stay defined */
	evl_late_add(&s, INT64_MIN, INT64_MAX);
	ck_assert_int_eq(evl_late_recent(&s, INT64_MIN), INT64_MAX);
	ck_assert_int_eq(evl_late_recent(&s, INT64_MAX), 0);
	ck_assert_int_eq(s.max_ns, INT64_MAX);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("evl");
	TCase *tc = tcase_create("loop");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_oneshot_fires);
	tcase_add_test(tc, test_armed_follows_queue);
	tcase_add_test(tc, test_periodic_overrun);
	tcase_add_test(tc, test_owner_clock);
	tcase_add_test(tc, test_margin_spin);
	tcase_add_test(tc, test_sighup);
	tcase_add_test(tc, test_sigterm_default_stops);
	tcase_add_test(tc, test_free_restores_mask);
	tcase_add_test(tc, test_pipe_fd);
	tcase_add_test(tc, test_stop_ends_run);
	tcase_add_test(tc, test_stalled_clock_bounded);
	tcase_add_test(tc, test_lateness_measured);
	tcase_add_test(tc, test_lateness_window);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
