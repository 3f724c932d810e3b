// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * evl: epoll + one timerfd + signalfd + caller fds (see evl.h). The hrt
 * queue tells the loop through its reprogram hook whenever its earliest
 * hard expiry moves outside the interrupt; the timerfd handler runs
 * hrt_interrupt() and programs what it returns, including the forced
 * back-off after a hang. The programmed value is cached so an unchanged
 * expiry costs no system call. Deleted fd sources are only unlinked during
 * a dispatch batch and freed after it, because later events of the same
 * epoll_wait() batch may still point at them.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "core/evl.h"
#include "core/tunit.h"

#define EVL_MAX_EVENTS 32
/* Spinning is bounded: at most this much of each second (kernel time). */
#define SPIN_WINDOW_NS NSEC_PER_SEC
#define SPIN_BUDGET_NS (SPIN_WINDOW_NS / 4)
/* evl.armed when the timerfd's state is not known; never a real expiry. */
#define ARMED_UNKNOWN INT64_MIN
/* A wake-up for the owner's queue that finds its expiry not yet due on the
 * owner's clock (a clock slower than the kernel's, or one that stands
 * still) re-arms at least this far ahead, doubling per early wake-up up to
 * the maximum: a stalled clock costs a hundred wake-ups a second, never a
 * busy loop. */
#define EARLY_MIN_NS INT64_C(1000)
#define EARLY_MAX_NS INT64_C(10000000)

enum src_kind { SRC_TIMER, SRC_SIGNAL, SRC_FD };

struct evl_src {
	enum src_kind kind;
	int fd;
	uint32_t events;
	evl_fd_fn cb;
	void *ctx;
	bool dead;
	struct evl_src *next;
};

struct evl_sig {
	int signo;
	evl_signal_fn cb;
	void *ctx;
};

struct evl {
	int epfd, tfd, sfd;
	struct hrt_queue q;  /* on the owner's clock (evl_set_clock()) */
	struct hrt_queue kq; /* on the kernel's CLOCK_MONOTONIC, whatever the owner's does */
	struct hrt_ops ops, kops;
	struct evl_src tsrc, ssrc;
	struct evl_src *fds;	   /* live caller sources */
	struct evl_src *graveyard; /* deleted during a batch, freed after it */
	bool dispatching;
	bool stop;
	int64_t armed;	     /* the queue-clock expiry programmed, HRT_TIME_MAX = disarmed */
	int64_t karmed;	     /* the kernel queue's expiry programmed, HRT_TIME_MAX = none */
	int64_t want, kwant; /* the expiries each queue last asked for (its clock) */
	int64_t q_target_k;  /* kernel time programmed for q's expiry, HRT_TIME_MAX = none */
	unsigned int early;  /* consecutive wake-ups that found q's expiry not yet due */
	uint64_t nr_wakeups, nr_early, nr_spin_cuts;
	struct evl_late late;
	int64_t spin_until; /* zero-slack expiry the early wake-up spins to, HRT_TIME_MAX = none */
	bool spin_on_q;	    /* spin_until is on the owner's clock (else the kernel's) */
	int64_t margin;	    /* early wake-up for zero-slack timers, ns (0: none) */
	int64_t (*clock)(void *ctx); /* the queue's MONOTONIC; NULL: the kernel's */
	void *clock_ctx;
	void (*timers_done)(void *ctx); /* after each timer interrupt */
	void *timers_done_ctx;
	uint64_t nr_spins;
	int64_t max_spin_ns;
	int64_t spin_window; /* kernel ns when the current budget window began */
	int64_t spin_spent;  /* ns spun in it */
	int last_err;
	struct evl_sig sig[3];
	sigset_t sigs, oldmask;
};

int64_t evl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts_to_ns(&ts);
}

/* The queue's clock. */
static int64_t clock_now(const struct evl *l)
{
	return l->clock ? l->clock(l->clock_ctx) : evl_now();
}

static int64_t now_cb(void *ctx)
{
	return clock_now(ctx);
}

static int64_t know_cb(void *ctx)
{
	(void)ctx;
	return evl_now();
}

int64_t evl_clock_now(const struct evl *l)
{
	return clock_now(l);
}

/* Dense zero-slack timers would keep the loop spinning: past a quarter of
 * a second's worth in the current second, they are woken by the timerfd
 * alone until the next second. */
static bool spin_budget_left(struct evl *l, int64_t k)
{
	if (k - l->spin_window >= SPIN_WINDOW_NS) {
		l->spin_window = k;
		l->spin_spent = 0;
	}
	return l->spin_spent < SPIN_BUDGET_NS;
}

static int64_t add_sat(int64_t a, int64_t b)
{
	int64_t r;

	return __builtin_add_overflow(a, b, &r) ? (b > 0 ? HRT_TIME_MAX : INT64_MIN) : r;
}

/* The soonest re-arm after `early` consecutive early wake-ups. */
static int64_t early_floor(const struct evl *l)
{
	if (!l->early)
		return 0;
	if (l->early > 14)
		return EARLY_MAX_NS;
	return EARLY_MIN_NS << (l->early - 1) < EARLY_MAX_NS ? EARLY_MIN_NS << (l->early - 1)
							     : EARLY_MAX_NS;
}

/* The queue's earliest expiry is a zero-slack one the loop may spin to. */
static bool spins_to(struct evl *l, const struct hrt_queue *q, int64_t expires, int64_t k)
{
	return l->margin > 0 && !q->hang_detected && hrt_next_soft(q) == expires &&
	       hrt_next_hard(q) == expires && spin_budget_left(l, k);
}

/*
 * Program the timerfd for the earlier of the two queues' expiries (want on
 * the owner's clock, kwant on the kernel's; HRT_TIME_MAX = none) or disarm
 * it. The owner's expiry is converted to the kernel's CLOCK_MONOTONIC as a
 * delay from now on both clocks; the rate difference over the delay (ppm)
 * makes the wake-up a little early or late: early, the interrupt finds
 * nothing due and this re-arms (at least early_floor() ahead, so a clock
 * that stands still cannot make a busy loop); late is what the margin
 * covers for zero-slack timers. A zero-slack earliest expiry (its soft =
 * hard) is programmed the margin early and the interrupt spins the rest
 * (on_timerfd), on the clock of its queue, bounded in kernel time.
 */
static void program(struct evl *l)
{
	struct itimerspec its;
	int64_t k, kt = HRT_TIME_MAX, qt = HRT_TIME_MAX, target = HRT_TIME_MAX;
	bool spin_k = false, spin_q = false;

	if (l->want == l->armed && l->kwant == l->karmed)
		return;
	memset(&its, 0, sizeof(its));
	l->spin_until = HRT_TIME_MAX;
	k = evl_now();
	if (l->kwant != HRT_TIME_MAX) {
		kt = l->kwant;
		if (spins_to(l, &l->kq, kt, k)) {
			spin_k = true;
			kt = kt > l->margin ? kt - l->margin : 0;
		}
	}
	if (l->want != HRT_TIME_MAX) {
		int64_t e = l->want;

		/* After two early wake-ups in a row the owner's clock is not
		 * to be trusted with a spin. */
		if (l->early < 2 && spins_to(l, &l->q, e, k)) {
			spin_q = true;
			e = e > l->margin ? e - l->margin : 0;
		}
		if (l->clock) {
			int64_t delta;

			if (__builtin_sub_overflow(e, l->clock(l->clock_ctx), &delta))
				delta = e > 0 ? HRT_TIME_MAX : 0;
			if (delta < early_floor(l))
				delta = early_floor(l);
			qt = add_sat(k, delta);
		} else {
			qt = e;
		}
	}
	l->q_target_k = qt;
	if (qt != HRT_TIME_MAX && qt <= kt) {
		target = qt;
		if (spin_q) {
			l->spin_until = l->want;
			l->spin_on_q = true;
		}
	} else if (kt != HRT_TIME_MAX) {
		target = kt;
		if (spin_k) {
			l->spin_until = l->kwant;
			l->spin_on_q = false;
		}
	}
	if (target != HRT_TIME_MAX) {
		/* An all-zero it_value disarms: a due time of 0 must still fire. */
		if (target < 1)
			target = 1;
		if (target > HRT_TIME_SAFE_MAX)
			target = HRT_TIME_SAFE_MAX;
		ns_to_ts(target, &its.it_value);
	}
	if (timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL)) {
		l->last_err = -errno;
		return;
	}
	l->armed = l->want;
	l->karmed = l->kwant;
}

/* The owner's queue asks for expires (its clock). */
static void arm(struct evl *l, int64_t expires)
{
	l->want = expires;
	program(l);
}

static void reprogram_cb(void *ctx, int64_t expires_mono)
{
	arm(ctx, expires_mono);
}

static void kreprogram_cb(void *ctx, int64_t expires_mono)
{
	struct evl *l = ctx;

	l->kwant = expires_mono;
	program(l);
}

static int epoll_add(struct evl *l, struct evl_src *s)
{
	struct epoll_event ev = { .events = s->events, .data.ptr = s };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->fd, &ev) ? -errno : 0;
}

int evl_new(struct evl **out)
{
	static const int signos[3] = { SIGTERM, SIGINT, SIGHUP };
	struct evl *l;
	int ret;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->epfd = l->tfd = l->sfd = -1;
	l->armed = l->karmed = l->want = l->kwant = HRT_TIME_MAX;
	l->spin_until = l->q_target_k = HRT_TIME_MAX;
	l->ops.now = now_cb;
	l->ops.reprogram = reprogram_cb;
	hrt_init(&l->q, &l->ops, l);
	l->kops.now = know_cb;
	l->kops.reprogram = kreprogram_cb;
	hrt_init(&l->kq, &l->kops, l);
	evl_late_init(&l->late);

	sigemptyset(&l->sigs);
	for (unsigned int i = 0; i < 3; i++) {
		l->sig[i].signo = signos[i];
		sigaddset(&l->sigs, signos[i]);
	}
	/* Blocked first, so a signal between here and the first wait stays pending
	 * for the signalfd instead of killing the daemon. */
	if (sigprocmask(SIG_BLOCK, &l->sigs, &l->oldmask)) {
		ret = -errno;
		free(l);
		return ret;
	}

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto fail;
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->tfd < 0)
		goto fail;
	l->sfd = signalfd(-1, &l->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sfd < 0)
		goto fail;

	l->tsrc = (struct evl_src){ .kind = SRC_TIMER, .fd = l->tfd, .events = EPOLLIN };
	l->ssrc = (struct evl_src){ .kind = SRC_SIGNAL, .fd = l->sfd, .events = EPOLLIN };
	ret = epoll_add(l, &l->tsrc);
	if (!ret)
		ret = epoll_add(l, &l->ssrc);
	if (ret) {
		errno = -ret;
		goto fail;
	}
	*out = l;
	return 0;
fail:
	ret = -errno;
	evl_free(l);
	return ret;
}

static void free_list(struct evl_src *s)
{
	while (s) {
		struct evl_src *next = s->next;

		free(s);
		s = next;
	}
}

void evl_free(struct evl *l)
{
	if (!l)
		return;
	hrt_fini(&l->q);
	hrt_fini(&l->kq);
	free_list(l->fds);
	free_list(l->graveyard);
	if (l->sfd >= 0)
		close(l->sfd);
	if (l->tfd >= 0)
		close(l->tfd);
	if (l->epfd >= 0)
		close(l->epfd);
	sigprocmask(SIG_SETMASK, &l->oldmask, NULL);
	free(l);
}

struct hrt_queue *evl_timers(struct evl *l)
{
	return &l->q;
}

struct hrt_queue *evl_ktimers(struct evl *l)
{
	return &l->kq;
}

int evl_on_signal(struct evl *l, int signo, evl_signal_fn cb, void *ctx)
{
	for (unsigned int i = 0; i < 3; i++) {
		if (l->sig[i].signo != signo)
			continue;
		l->sig[i].cb = cb;
		l->sig[i].ctx = ctx;
		return 0;
	}
	return -EINVAL;
}

static struct evl_src *find_fd(struct evl *l, int fd, struct evl_src ***link)
{
	for (struct evl_src **p = &l->fds; *p; p = &(*p)->next) {
		if ((*p)->fd == fd) {
			if (link)
				*link = p;
			return *p;
		}
	}
	return NULL;
}

int evl_add_fd(struct evl *l, int fd, uint32_t events, evl_fd_fn cb, void *ctx)
{
	struct evl_src *s;
	int ret;

	if (fd < 0 || !cb)
		return -EINVAL;
	if (find_fd(l, fd, NULL))
		return -EEXIST;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct evl_src){ .kind = SRC_FD, .fd = fd, .events = events, .cb = cb, .ctx = ctx };
	ret = epoll_add(l, s);
	if (ret) {
		free(s);
		return ret;
	}
	s->next = l->fds;
	l->fds = s;
	return 0;
}

int evl_mod_fd(struct evl *l, int fd, uint32_t events)
{
	struct evl_src *s = find_fd(l, fd, NULL);
	struct epoll_event ev;

	if (!s)
		return -ENOENT;
	ev.events = events;
	ev.data.ptr = s;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev))
		return -errno;
	s->events = events;
	return 0;
}

int evl_del_fd(struct evl *l, int fd)
{
	struct evl_src **link;
	struct evl_src *s = find_fd(l, fd, &link);

	if (!s)
		return -ENOENT;
	/* EBADF/ENOENT here mean the caller closed fd first, which already took it
	 * out of the epoll set; the source is dropped either way. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	*link = s->next;
	if (l->dispatching) {
		s->dead = true;
		s->next = l->graveyard;
		l->graveyard = s;
	} else {
		free(s);
	}
	return 0;
}

/* Woken the margin early for a zero-slack timer: spin on its queue's clock
 * to its expiry, for at most twice the margin of KERNEL time whatever that
 * clock does (it may stand still: the owner's clock runs on the counter
 * being judged). */
static void spin(struct evl *l)
{
	int64_t target = l->spin_until, k0 = evl_now(), k = k0;
	int64_t now = l->spin_on_q ? clock_now(l) : k0;

	l->spin_until = HRT_TIME_MAX;
	if (target <= now || target - now > 2 * l->margin)
		return;
	while (now < target) {
		k = evl_now();
		if (k - k0 >= 2 * l->margin) {
			l->nr_spin_cuts++;
			break;
		}
		now = l->spin_on_q ? clock_now(l) : k;
	}
	l->nr_spins++;
	l->spin_spent += k - k0;
	if (k - k0 > l->max_spin_ns)
		l->max_spin_ns = k - k0;
}

static void on_timerfd(struct evl *l)
{
	uint64_t ticks, q_ran = l->q.nr_run, k_ran = l->kq.nr_run;
	int64_t next, knext, k, q_target_k = l->q_target_k;

	/* Drain the expiry count. The fd may have fired (and disarmed itself) or have
	 * been re-armed by an earlier event of this batch (EAGAIN): its state is not
	 * known, so the next write must not be skipped as unchanged. */
	if (read(l->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		l->last_err = -errno;
	l->armed = l->karmed = ARMED_UNKNOWN;
	l->nr_wakeups++;
	if (l->spin_until != HRT_TIME_MAX)
		spin(l);
	/* The kernel's queue first: the daemon's own work never waits on the
	 * owner's clock. The interrupts' values win even during a hang
	 * back-off: they are the back-off. */
	l->kq.max_late_ns = l->q.max_late_ns = 0;
	knext = hrt_interrupt(&l->kq, know_cb, l);
	next = hrt_interrupt(&l->q, now_cb, l);
	k = evl_now();
	if (l->q.nr_run != q_ran || l->kq.nr_run != k_ran)
		evl_late_add(&l->late, k,
			     l->q.max_late_ns > l->kq.max_late_ns ? l->q.max_late_ns
								  : l->kq.max_late_ns);
	/* The kernel's time for q's expiry has come and q ran nothing: its
	 * clock is slower than the kernel's, or stands still. */
	if (l->q.nr_run != q_ran) {
		l->early = 0;
	} else if (l->clock && q_target_k != HRT_TIME_MAX && k >= q_target_k) {
		l->nr_early++;
		if (l->early < UINT_MAX)
			l->early++;
	}
	if (l->timers_done)
		l->timers_done(l->timers_done_ctx);
	/* The hook may have started timers: take the queues' latest word. */
	if (!l->kq.hang_detected)
		knext = hrt_next_hard(&l->kq);
	if (!l->q.hang_detected)
		next = hrt_next_hard(&l->q);
	l->kwant = knext;
	l->want = next;
	program(l);
}

static void on_signalfd(struct evl *l)
{
	struct signalfd_siginfo si;

	while (!l->stop && read(l->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		struct evl_sig *h = NULL;

		for (unsigned int i = 0; i < 3; i++)
			if (l->sig[i].signo == (int)si.ssi_signo)
				h = &l->sig[i];
		if (!h)
			continue;
		if (h->cb)
			h->cb(l, h->signo, h->ctx);
		else if (h->signo != SIGHUP)
			evl_stop(l);
	}
}

int evl_run_once(struct evl *l, int timeout_ms)
{
	struct epoll_event ev[EVL_MAX_EVENTS];
	int n, i;

	n = epoll_wait(l->epfd, ev, EVL_MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;

	l->dispatching = true;
	for (i = 0; i < n && !l->stop; i++) {
		struct evl_src *s = ev[i].data.ptr;

		switch (s->kind) {
		case SRC_TIMER:
			on_timerfd(l);
			break;
		case SRC_SIGNAL:
			on_signalfd(l);
			break;
		case SRC_FD:
			if (!s->dead)
				s->cb(l, s->fd, ev[i].events, s->ctx);
			break;
		}
	}
	l->dispatching = false;
	free_list(l->graveyard);
	l->graveyard = NULL;
	return i;
}

int evl_run(struct evl *l)
{
	int ret = 0;

	while (!l->stop) {
		ret = evl_run_once(l, -1);
		if (ret < 0)
			break;
	}
	l->stop = false;
	return ret < 0 ? ret : 0;
}

void evl_stop(struct evl *l)
{
	l->stop = true;
}

int64_t evl_armed(const struct evl *l)
{
	return l->armed;
}

int evl_last_error(const struct evl *l)
{
	return l->last_err;
}

void evl_set_clock(struct evl *l, int64_t (*now)(void *ctx), void *ctx)
{
	l->clock = now;
	l->clock_ctx = ctx;
	l->early = 0;
	l->armed = ARMED_UNKNOWN;
	arm(l, hrt_next_hard(&l->q));
}

void evl_set_margin(struct evl *l, int64_t margin_ns)
{
	l->margin = margin_ns > 0 ? margin_ns : 0;
	l->armed = ARMED_UNKNOWN;
	l->kwant = hrt_next_hard(&l->kq);
	arm(l, hrt_next_hard(&l->q));
}

void evl_on_timers_done(struct evl *l, void (*fn)(void *ctx), void *ctx)
{
	l->timers_done = fn;
	l->timers_done_ctx = ctx;
}

int64_t evl_spin_target(const struct evl *l)
{
	return l->spin_until;
}

void evl_spin_stats(const struct evl *l, uint64_t *spins, int64_t *max_spin_ns)
{
	*spins = l->nr_spins;
	*max_spin_ns = l->max_spin_ns;
}

void evl_wake_stats(const struct evl *l, uint64_t *wakeups, uint64_t *early, uint64_t *spin_cuts)
{
	*wakeups = l->nr_wakeups;
	*early = l->nr_early;
	*spin_cuts = l->nr_spin_cuts;
}

/* --- dispatch lateness ----------------------------------------------------- */

void evl_late_init(struct evl_late *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned int i = 0; i < EVL_LATE_BUCKETS; i++)
		s->bucket_id[i] = INT64_MIN;
}

static int64_t bucket_of(int64_t now_ns)
{
	/* floor division: kernel times are >= 0, a test's may not be */
	return now_ns >= 0 ? now_ns / EVL_LATE_BUCKET_NS : (now_ns + 1) / EVL_LATE_BUCKET_NS - 1;
}

void evl_late_add(struct evl_late *s, int64_t now_ns, int64_t late_ns)
{
	int64_t id = bucket_of(now_ns);
	unsigned int i = (unsigned int)(((id % EVL_LATE_BUCKETS) + EVL_LATE_BUCKETS) %
					EVL_LATE_BUCKETS);

	if (late_ns < 0)
		late_ns = 0;
	s->samples++;
	s->last_ns = late_ns;
	if (late_ns > s->max_ns)
		s->max_ns = late_ns;
	if (s->bucket_id[i] != id) {
		s->bucket_id[i] = id;
		s->bucket_max[i] = 0;
	}
	if (late_ns > s->bucket_max[i])
		s->bucket_max[i] = late_ns;
}

int64_t evl_late_recent(const struct evl_late *s, int64_t now_ns)
{
	int64_t id = bucket_of(now_ns), worst = 0;

	for (unsigned int i = 0; i < EVL_LATE_BUCKETS; i++)
		if (s->bucket_id[i] != INT64_MIN && s->bucket_id[i] <= id &&
		    s->bucket_id[i] > id - EVL_LATE_BUCKETS && s->bucket_max[i] > worst)
			worst = s->bucket_max[i];
	return worst;
}

void evl_lateness(const struct evl *l, int64_t *recent_ns, int64_t *max_ns)
{
	*recent_ns = evl_late_recent(&l->late, evl_now());
	*max_ns = l->late.max_ns;
}
