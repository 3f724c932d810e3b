// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's client-timer service (src/daemon/timers.c) driven
 * deterministically: a real event loop whose queue runs on a fake clock
 * (evl_set_clock()), a real control server with clients connected over
 * its socket in this process, and the clock steps and leap seconds made
 * as daemon_sync_offsets() makes them (hrt_set_offsets(), then
 * daemon_timers_clock_was_set()). Covered: cancel-on-set on a step and on
 * a leap second (REALTIME vs TAI), the re-evaluation of absolute timers and
 * the relative ones that do not move, the CANCEL_ON_SET argument rules,
 * overruns summed across a late wake-up and across a full socket (flow
 * control), the per-connection limit and a client that goes. Every event
 * is checked field by field. Time only moves when a test moves it: a
 * timer runs when the fake clock reaches it and the loop dispatches its
 * timerfd, whatever the real time.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/ctl.h"
#include "core/evl.h"
#include "core/hrt.h"
#include "daemon/internal.h"
#include "timekeeper/control.h"
#include "tk_check.h"

#define HDR sizeof(struct tk_ctl_hdr)
#define RES sizeof(struct tk_ctl_result)
#define SEC NSEC_PER_SEC
#define MS NSEC_PER_MSEC

/* MONOTONIC starts at 1000 s; REALTIME is 2023-11-14, TAI 37 s ahead. */
#define MONO0 (1000 * SEC)
#define REAL0 (INT64_C(1700000000) * SEC)
#define TAI_UTC (37 * SEC)

#define MAX_EV 8192

struct cli {
	int fd;
	uint32_t seq;
	bool have_reply;
	struct tk_ctl_result res;
	unsigned char payload[TK_CTL_MAX_MSG];
	size_t plen;
	struct tk_ctl_timer_event ev[MAX_EV];
	size_t nev, head;
	unsigned int npkt; /* event packets received */
};

static struct daemon d;
static struct ctl_server *srv;
static int64_t fnow;
static char tmpdir[64];
static char sockpath[96];

static int64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fnow;
}

static const struct ctl_ops ops = {
	.timer_create = daemon_timer_create,
	.timer_arm = daemon_timer_arm,
	.timer_disarm = daemon_timer_disarm,
	.timer_delete = daemon_timer_delete,
	.writable = daemon_timers_writable,
	.gone = daemon_timers_gone,
};

static void setup(void)
{
	struct ctl_conf cc = { .max_clients = 16,
			       .max_clients_per_uid = 16,
			       .rate_limit = 1000000,
			       .rate_burst = 1000000,
			       .version = "test" };

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tk-dtimers.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(sockpath, sizeof(sockpath), "%s/control", tmpdir);
	cc.path = sockpath;

	memset(&d, 0, sizeof(d));
	conf_defaults(&d.conf);
	d.conf.min_timer_interval_us = 50;
	fnow = MONO0;
	ck_assert_int_eq(evl_new(&d.loop), 0);
	d.q = evl_timers(d.loop);
	evl_set_clock(d.loop, fake_clock, NULL);
	hrt_set_offsets(d.q, REAL0 - MONO0, 0, REAL0 + TAI_UTC - MONO0);
	ck_assert_int_eq(daemon_timers_init(&d), 0);
	ck_assert_int_eq(ctl_new(&srv, &cc, &ops, &d), 0);
	ck_assert_int_eq(ctl_open(srv), 0);
	ck_assert_int_eq(ctl_attach(srv, d.loop), 0);
}

static void teardown(void)
{
	ctl_free(srv);
	daemon_timers_free(&d);
	evl_free(d.loop);
	unlink(sockpath);
	rmdir(tmpdir);
}

/* --- the client side ------------------------------------------------------------ */

/* Reads what is there without blocking: events into c->ev, a reply into c->res. */
static void drain(struct cli *c)
{
	static _Alignas(8) unsigned char buf[TK_CTL_MAX_MSG];
	ssize_t n;

	while ((n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		struct tk_ctl_hdr h;

		ck_assert_int_ge(n, (ssize_t)HDR);
		memcpy(&h, buf, HDR);
		ck_assert_uint_eq(h.magic, TK_CTL_MAGIC);
		ck_assert_uint_eq(h.length, (uint32_t)n);
		if (h.flags & TK_CTL_F_EVENT) {
			struct tk_ctl_timer_events eh;

			ck_assert_uint_eq(h.type, TK_CTL_EV_TIMER);
			ck_assert_uint_eq(h.seq, 0);
			ck_assert_int_ge(n, (ssize_t)(HDR + sizeof(eh)));
			memcpy(&eh, buf + HDR, sizeof(eh));
			ck_assert_uint_ge(eh.count, 1);
			ck_assert_uint_eq((size_t)n,
					  HDR + sizeof(eh) + eh.count * sizeof(c->ev[0]));
			ck_assert_uint_le(c->nev + eh.count, MAX_EV);
			memcpy(&c->ev[c->nev], buf + HDR + sizeof(eh), eh.count * sizeof(c->ev[0]));
			c->nev += eh.count;
			c->npkt++;
			continue;
		}
		ck_assert_uint_eq(h.flags, TK_CTL_F_REPLY);
		ck_assert_uint_eq(h.seq, c->seq);
		ck_assert_int_ge(n, (ssize_t)(HDR + RES));
		memcpy(&c->res, buf + HDR, RES);
		c->plen = (size_t)n - HDR - RES;
		memcpy(c->payload, buf + HDR + RES, c->plen);
		c->have_reply = true;
	}
}

/* Lets the loop dispatch what is ready now (requests, writable sockets, hangups). */
static void pump(int rounds)
{
	for (int i = 0; i < rounds; i++)
		ck_assert_int_ge(evl_run_once(d.loop, 0), 0);
}

static void connect_cli(struct cli *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned int before = ctl_clients(srv);

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c->fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sockpath);
	ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	for (int i = 0; i < 200 && ctl_clients(srv) == before; i++)
		ck_assert_int_ge(evl_run_once(d.loop, 10), 0);
	ck_assert_uint_eq(ctl_clients(srv), before + 1);
}

/* One request and its reply (events that come first are kept): the status. */
static int request(struct cli *c, uint16_t type, const void *req, size_t len, void *out,
		   size_t outlen)
{
	unsigned char m[HDR + 256];
	struct tk_ctl_hdr h = { TK_CTL_MAGIC,	       TK_CTL_VERSION, type, 0,
				(uint32_t)(HDR + len), ++c->seq };

	memcpy(m, &h, HDR);
	memcpy(m + HDR, req, len);
	ck_assert_int_eq(send(c->fd, m, HDR + len, MSG_NOSIGNAL), (ssize_t)(HDR + len));
	c->have_reply = false;
	for (int i = 0; i < 500 && !c->have_reply; i++) {
		ck_assert_int_ge(evl_run_once(d.loop, 10), 0);
		drain(c);
	}
	ck_assert(c->have_reply);
	ck_assert_ptr_nonnull(memchr(c->res.message, '\0', sizeof(c->res.message)));
	if (c->res.status == 0 && out) {
		ck_assert_uint_eq(c->plen, outlen);
		memcpy(out, c->payload, outlen);
	}
	return c->res.status;
}

static uint32_t create(struct cli *c, uint32_t clock)
{
	struct tk_ctl_timer_create rq = { .clock = clock };
	struct tk_ctl_timer_id out;

	snprintf(rq.name, sizeof(rq.name), "t%u", clock);
	ck_assert_int_eq(request(c, TK_CTL_TIMER_CREATE, &rq, sizeof(rq), &out, sizeof(out)), 0);
	ck_assert_uint_ne(out.id, 0);
	return out.id;
}

static int arm(struct cli *c, uint32_t id, uint32_t flags, int64_t value, int64_t interval,
	       uint64_t slack, struct tk_ctl_timer_armed *out)
{
	struct tk_ctl_timer_arm rq = { .id = id,
				       .flags = flags,
				       .value_ns = value,
				       .interval_ns = interval,
				       .slack_ns = slack };
	struct tk_ctl_timer_armed tmp;

	return request(c, TK_CTL_TIMER_ARM, &rq, sizeof(rq), out ? out : &tmp, sizeof(tmp));
}

static struct tk_ctl_timer_armed disarm(struct cli *c, uint32_t id)
{
	struct tk_ctl_timer_id rq = { .id = id };
	struct tk_ctl_timer_armed out;

	ck_assert_int_eq(request(c, TK_CTL_TIMER_DISARM, &rq, sizeof(rq), &out, sizeof(out)), 0);
	ck_assert_uint_eq(out.id, id);
	return out;
}

/* The next event the client has, false when none came. */
static bool next_event(struct cli *c, struct tk_ctl_timer_event *e)
{
	drain(c);
	if (c->head == c->nev)
		return false;
	*e = c->ev[c->head++];
	return true;
}

static void expect_none(struct cli *c)
{
	struct tk_ctl_timer_event e;

	if (next_event(c, &e))
		ck_abort_msg("unexpected event: id %u kind %u overruns %llu expires %lld", e.id,
			     e.kind, (unsigned long long)e.overruns, (long long)e.expires_ns);
}

static void expect_event(struct cli *c, uint32_t id, uint32_t kind, uint64_t overruns,
			 int64_t expires, int64_t now)
{
	struct tk_ctl_timer_event e;

	ck_assert_msg(next_event(c, &e), "no event for timer %u", id);
	ck_assert_uint_eq(e.id, id);
	ck_assert_uint_eq(e.kind, kind);
	ck_assert_uint_eq(e.overruns, overruns);
	ck_assert_int_eq(e.expires_ns, expires);
	ck_assert_int_eq(e.now_ns, now);
}

/* --- time ---------------------------------------------------------------------------- */

static int64_t real_now(void)
{
	return fnow + d.q->offset[HRT_BASE_REALTIME];
}

static int64_t tai_now(void)
{
	return fnow + d.q->offset[HRT_BASE_TAI];
}

/* Moves the fake clock to t and lets the loop run every timer due by then. */
static void run_to(int64_t t)
{
	ck_assert_int_ge(t, fnow);
	fnow = t;
	evl_set_clock(d.loop, fake_clock, NULL); /* reprograms the timerfd from the new now */
	for (int i = 0; i < 500 && hrt_next_hard(d.q) <= fnow; i++)
		ck_assert_int_ge(evl_run_once(d.loop, 100), 0);
	ck_assert_int_gt(hrt_next_hard(d.q), fnow);
	pump(2);
}

/* As daemon_sync_offsets(): REALTIME and TAI move by dreal and dtai. */
static void clock_set(int64_t dreal, int64_t dtai)
{
	int64_t old[HRT_NR_BASES];

	memcpy(old, d.q->offset, sizeof(old));
	hrt_set_offsets(d.q, old[HRT_BASE_REALTIME] + dreal, old[HRT_BASE_BOOTTIME],
			old[HRT_BASE_TAI] + dtai);
	daemon_timers_clock_was_set(&d, old);
	pump(2);
}

/* --- cases ----------------------------------------------------------------------------- */

/* A step of +5 s (REALTIME and TAI move together). */
START_TEST(test_step)
{
	struct cli c;
	struct tk_ctl_timer_armed a;
	struct tk_ctl_timer_event e1, e2;
	uint32_t rc, tc, rp, tp, mono, rrel;
	int64_t r0 = real_now(), t0 = tai_now();

	connect_cli(&c);
	rc = create(&c, TK_CTL_CLOCK_REALTIME);
	tc = create(&c, TK_CTL_CLOCK_TAI);
	rp = create(&c, TK_CTL_CLOCK_REALTIME);
	tp = create(&c, TK_CTL_CLOCK_TAI);
	mono = create(&c, TK_CTL_CLOCK_MONOTONIC);
	rrel = create(&c, TK_CTL_CLOCK_REALTIME);
	ck_assert_int_eq(arm(&c, rc, TK_CTL_TIMER_F_ABS | TK_CTL_TIMER_F_CANCEL_ON_SET,
			     r0 + 60 * SEC, 0, 0, &a),
			 0);
	ck_assert_uint_eq(a.base, TK_CTL_CLOCK_REALTIME);
	ck_assert_int_eq(a.soft_expires_ns, r0 + 60 * SEC);
	ck_assert_int_eq(arm(&c, tc, TK_CTL_TIMER_F_ABS | TK_CTL_TIMER_F_CANCEL_ON_SET,
			     t0 + 60 * SEC, 0, 0, NULL),
			 0);
	ck_assert_int_eq(arm(&c, rp, TK_CTL_TIMER_F_ABS, r0 + 10 * SEC, 0, 0, NULL), 0);
	ck_assert_int_eq(arm(&c, tp, TK_CTL_TIMER_F_ABS, t0 + 12 * SEC, 0, 0, NULL), 0);
	ck_assert_int_eq(arm(&c, mono, 0, 8 * SEC, 0, 0, &a), 0);
	ck_assert_uint_eq(a.base, TK_CTL_CLOCK_MONOTONIC);
	ck_assert_int_eq(a.soft_expires_ns, MONO0 + 8 * SEC);
	ck_assert_int_eq(arm(&c, rrel, 0, 9 * SEC, 0, 0, &a), 0);
	ck_assert_uint_eq(a.base, TK_CTL_CLOCK_MONOTONIC); /* POSIX: REL REALTIME on MONOTONIC */
	ck_assert_int_eq(a.soft_expires_ns, MONO0 + 9 * SEC);
	ck_assert_uint_eq(hrt_count(d.q), 6);

	run_to(MONO0 + 1 * SEC);
	expect_none(&c);

	/* The step: both cancel-on-set timers are canceled, in one packet. */
	clock_set(5 * SEC, 5 * SEC);
	ck_assert_uint_eq(hrt_count(d.q), 4);
	ck_assert_msg(next_event(&c, &e1) && next_event(&c, &e2), "no CANCELED events");
	ck_assert_uint_eq(c.npkt, 1);
	if (e1.id == tc) {
		struct tk_ctl_timer_event x = e1;

		e1 = e2;
		e2 = x;
	}
	ck_assert_uint_eq(e1.id, rc);
	ck_assert_uint_eq(e1.kind, TK_CTL_TEV_CANCELED);
	ck_assert_uint_eq(e1.overruns, 0);
	ck_assert_int_eq(e1.expires_ns, r0 + 60 * SEC); /* the expiry canceled */
	ck_assert_int_eq(e1.now_ns, real_now());
	ck_assert_int_eq(e1.now_ns, r0 + 6 * SEC);
	ck_assert_uint_eq(e2.id, tc);
	ck_assert_uint_eq(e2.kind, TK_CTL_TEV_CANCELED);
	ck_assert_uint_eq(e2.overruns, 0);
	ck_assert_int_eq(e2.expires_ns, t0 + 60 * SEC);
	ck_assert_int_eq(e2.now_ns, tai_now());
	expect_none(&c);
	/* Canceled means disarmed. */
	ck_assert_int_eq(disarm(&c, rc).expires_ns, 0);
	ck_assert_int_eq(disarm(&c, tc).expires_ns, 0);

	/* The absolute timers were re-evaluated: REALTIME r0+10 s is now MONO0+5 s. */
	run_to(MONO0 + 5 * SEC - 1);
	expect_none(&c);
	run_to(MONO0 + 5 * SEC);
	expect_event(&c, rp, TK_CTL_TEV_EXPIRED, 1, r0 + 10 * SEC, r0 + 10 * SEC);
	expect_none(&c);
	run_to(MONO0 + 7 * SEC);
	expect_event(&c, tp, TK_CTL_TEV_EXPIRED, 1, t0 + 12 * SEC, t0 + 12 * SEC);
	expect_none(&c);

	/* MONOTONIC and relative REALTIME did not move. */
	run_to(MONO0 + 8 * SEC - 1);
	expect_none(&c);
	run_to(MONO0 + 8 * SEC);
	expect_event(&c, mono, TK_CTL_TEV_EXPIRED, 1, MONO0 + 8 * SEC, MONO0 + 8 * SEC);
	expect_none(&c);
	run_to(MONO0 + 9 * SEC - 1);
	expect_none(&c);
	run_to(MONO0 + 9 * SEC);
	/* Reported on its clock, REALTIME, which had moved by 5 s. */
	expect_event(&c, rrel, TK_CTL_TEV_EXPIRED, 1, r0 + 14 * SEC, r0 + 14 * SEC);
	expect_none(&c);
	ck_assert_uint_eq(hrt_count(d.q), 0);
	close(c.fd);
}
END_TEST

/* A leap second inserted: REALTIME goes back by 1 s, TAI does not move. */
START_TEST(test_leap_second)
{
	struct cli c;
	uint32_t rc, tc, rp, tp;
	int64_t r0 = real_now(), t0 = tai_now();

	connect_cli(&c);
	rc = create(&c, TK_CTL_CLOCK_REALTIME);
	tc = create(&c, TK_CTL_CLOCK_TAI);
	rp = create(&c, TK_CTL_CLOCK_REALTIME);
	tp = create(&c, TK_CTL_CLOCK_TAI);
	ck_assert_int_eq(arm(&c, rc, TK_CTL_TIMER_F_ABS | TK_CTL_TIMER_F_CANCEL_ON_SET,
			     r0 + 4 * SEC, 0, 0, NULL),
			 0);
	ck_assert_int_eq(arm(&c, tc, TK_CTL_TIMER_F_ABS | TK_CTL_TIMER_F_CANCEL_ON_SET,
			     t0 + 4 * SEC, 0, 0, NULL),
			 0);
	ck_assert_int_eq(arm(&c, rp, TK_CTL_TIMER_F_ABS, r0 + 3 * SEC, 0, 0, NULL), 0);
	ck_assert_int_eq(arm(&c, tp, TK_CTL_TIMER_F_ABS, t0 + 3 * SEC, 0, 0, NULL), 0);

	run_to(MONO0 + 2 * SEC);
	expect_none(&c);
	clock_set(-SEC, 0);
	expect_event(&c, rc, TK_CTL_TEV_CANCELED, 0, r0 + 4 * SEC, r0 + 1 * SEC);
	expect_none(&c);
	ck_assert_uint_eq(hrt_count(d.q), 3);

	/* At MONO0+3 s only the TAI timer: the REALTIME one is 1 s later now. */
	run_to(MONO0 + 3 * SEC);
	expect_event(&c, tp, TK_CTL_TEV_EXPIRED, 1, t0 + 3 * SEC, t0 + 3 * SEC);
	expect_none(&c);
	run_to(MONO0 + 4 * SEC - 1);
	expect_none(&c);
	run_to(MONO0 + 4 * SEC);
	/* Both: REALTIME r0+3 s (1 s late in MONOTONIC) and the TAI cancel-on-set one. */
	for (int i = 0; i < 2; i++) {
		struct tk_ctl_timer_event e;

		ck_assert(next_event(&c, &e));
		ck_assert_uint_eq(e.kind, TK_CTL_TEV_EXPIRED);
		ck_assert_uint_eq(e.overruns, 1);
		if (e.id == rp) {
			ck_assert_int_eq(e.expires_ns, r0 + 3 * SEC);
			ck_assert_int_eq(e.now_ns, r0 + 3 * SEC);
		} else {
			ck_assert_uint_eq(e.id, tc);
			ck_assert_int_eq(e.expires_ns, t0 + 4 * SEC);
			ck_assert_int_eq(e.now_ns, t0 + 4 * SEC);
		}
	}
	expect_none(&c);
	ck_assert_uint_eq(hrt_count(d.q), 0);
	/* An expired one-shot cancel-on-set timer is not canceled by a later step. */
	clock_set(SEC, SEC);
	expect_none(&c);
	close(c.fd);
}
END_TEST

/* CANCEL_ON_SET needs ABS on REALTIME or TAI. */
START_TEST(test_cancel_on_set_rules)
{
	struct cli c;
	uint32_t r, m, b, t;

	connect_cli(&c);
	r = create(&c, TK_CTL_CLOCK_REALTIME);
	m = create(&c, TK_CTL_CLOCK_MONOTONIC);
	b = create(&c, TK_CTL_CLOCK_BOOTTIME);
	t = create(&c, TK_CTL_CLOCK_TAI);
	ck_assert_int_eq(arm(&c, r, TK_CTL_TIMER_F_CANCEL_ON_SET, SEC, 0, 0, NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(c.res.message, "CANCEL_ON_SET"));
	ck_assert_int_eq(arm(&c, t, TK_CTL_TIMER_F_CANCEL_ON_SET, SEC, 0, 0, NULL), -EINVAL);
	ck_assert_int_eq(arm(&c, m, TK_CTL_TIMER_F_ABS | TK_CTL_TIMER_F_CANCEL_ON_SET, MONO0 + SEC,
			     0, 0, NULL),
			 -EINVAL);
	ck_assert_int_eq(arm(&c, b, TK_CTL_TIMER_F_ABS | TK_CTL_TIMER_F_CANCEL_ON_SET, MONO0 + SEC,
			     0, 0, NULL),
			 -EINVAL);
	ck_assert_int_eq(arm(&c, r, 0x4, SEC, 0, 0, NULL), -EINVAL);
	ck_assert_uint_eq(hrt_count(d.q), 0);
	/* Refused arms leave nothing that a step could cancel. */
	clock_set(SEC, SEC);
	run_to(MONO0 + 3 * SEC);
	expect_none(&c);
	close(c.fd);
}
END_TEST

/* A late wake-up: the missed periods in one event, on the value + k * interval grid. */
START_TEST(test_overruns_late)
{
	struct cli c;
	struct tk_ctl_timer_armed a;
	const int64_t v = MONO0 + 100 * MS, iv = 10 * MS;
	uint32_t id, waker;
	unsigned int pkts;

	connect_cli(&c);
	id = create(&c, TK_CTL_CLOCK_MONOTONIC);
	waker = create(&c, TK_CTL_CLOCK_MONOTONIC);
	ck_assert_int_eq(arm(&c, id, TK_CTL_TIMER_F_ABS, v, iv, 0, &a), 0);
	ck_assert_int_eq(a.interval_ns, iv);
	run_to(v);
	expect_event(&c, id, TK_CTL_TEV_EXPIRED, 1, v, v);
	run_to(v + 4 * iv + iv / 2); /* expiries at v+1..v+4 missed */
	expect_event(&c, id, TK_CTL_TEV_EXPIRED, 4, v + 4 * iv, v + 4 * iv + iv / 2);
	run_to(v + 5 * iv);
	expect_event(&c, id, TK_CTL_TEV_EXPIRED, 1, v + 5 * iv, v + 5 * iv);
	expect_none(&c);
	/* With slack: run inside its window by another timer's wake-up (one
	 * packet for both), the period stays on the grid. */
	ck_assert_int_eq(arm(&c, id, TK_CTL_TIMER_F_ABS, v + 10 * iv, iv, 3 * MS, &a), 0);
	ck_assert_int_eq(a.soft_expires_ns, v + 10 * iv);
	ck_assert_int_eq(a.expires_ns, v + 10 * iv + 3 * MS);
	ck_assert_int_eq(arm(&c, waker, TK_CTL_TIMER_F_ABS, v + 10 * iv + 2 * MS, 0, 0, NULL), 0);
	pkts = c.npkt;
	run_to(v + 10 * iv + 2 * MS);
	expect_event(&c, waker, TK_CTL_TEV_EXPIRED, 1, v + 10 * iv + 2 * MS, v + 10 * iv + 2 * MS);
	expect_event(&c, id, TK_CTL_TEV_EXPIRED, 1, v + 10 * iv, v + 10 * iv + 2 * MS);
	ck_assert_uint_eq(c.npkt, pkts + 1);
	run_to(v + 13 * iv + 3 * MS);
	expect_event(&c, id, TK_CTL_TEV_EXPIRED, 3, v + 13 * iv, v + 13 * iv + 3 * MS);
	expect_none(&c);
	/* Shorter periods are raised to [control] min_timer_interval_us. */
	ck_assert_int_eq(arm(&c, id, 0, MS, 1000, 0, &a), 0);
	ck_assert_int_eq(a.interval_ns, 50000);
	close(c.fd);
}
END_TEST

/* A client that does not read: once its socket is full the daemon keeps one
 * record, sums the overruns, and sends it when the socket has room again. */
START_TEST(test_flow_control)
{
	struct cli c, other;
	const int64_t v = MONO0 + MS, iv = MS;
	const uint64_t extra = 25;
	uint64_t periods = 0, sum = 0, last_orun = 0;
	size_t total;
	uint64_t sent, deferred;
	uint32_t id, oid;
	unsigned int pkts_before;

	connect_cli(&c);
	connect_cli(&other);
	id = create(&c, TK_CTL_CLOCK_MONOTONIC);
	oid = create(&other, TK_CTL_CLOCK_MONOTONIC);
	ck_assert_int_eq(arm(&c, id, TK_CTL_TIMER_F_ABS, v, iv, 0, NULL), 0);
	ck_assert_int_eq(arm(&other, oid, TK_CTL_TIMER_F_ABS, v, iv, 0, NULL), 0);
	deferred = 0;
	while (!deferred && periods < 100000) {
		run_to(v + (int64_t)periods * iv);
		periods++;
		drain(&other); /* the other client reads: it is never blocked */
		daemon_timers_stats(&d, &total, &sent, &deferred);
	}
	ck_assert_uint_eq(deferred, 1);
	ck_assert_uint_gt(periods, 10);
	/* Blocked: more periods pass, nothing more is tried, nothing is lost. */
	for (uint64_t k = 0; k < extra; k++) {
		run_to(v + (int64_t)periods * iv);
		periods++;
		drain(&other);
	}
	daemon_timers_stats(&d, &total, &sent, &deferred);
	ck_assert_uint_eq(deferred, 1);
	ck_assert_uint_eq(other.nev, periods); /* one event per period there */

	/* The client reads: everything, the sum of overruns is the periods elapsed. */
	drain(&c);
	pkts_before = c.npkt;
	for (int i = 0; i < 200 && c.nev < MAX_EV; i++) {
		pump(1);
		drain(&c);
		sum = 0;
		for (size_t k = 0; k < c.nev; k++)
			sum += c.ev[k].overruns;
		if (sum == periods)
			break;
	}
	ck_assert_uint_eq(sum, periods);
	ck_assert_uint_gt(c.npkt, pkts_before);
	for (size_t k = 0, n = 0; k < c.nev; k++) {
		const struct tk_ctl_timer_event *e = &c.ev[k];

		ck_assert_uint_eq(e->id, id);
		ck_assert_uint_eq(e->kind, TK_CTL_TEV_EXPIRED);
		ck_assert_uint_ge(e->overruns, 1);
		n += e->overruns;
		ck_assert_int_eq(e->expires_ns, v + (int64_t)(n - 1) * iv);
		last_orun = e->overruns;
	}
	c.head = c.nev;
	/* The expiry whose send failed and the ones while blocked: one record. */
	ck_assert_uint_eq(last_orun, extra + 1);
	ck_assert_int_eq(c.ev[c.nev - 1].now_ns, v + (int64_t)(periods - 1) * iv);
	/* Unblocked: one event per period again. */
	run_to(v + (int64_t)periods * iv);
	expect_event(&c, id, TK_CTL_TEV_EXPIRED, 1, v + (int64_t)periods * iv,
		     v + (int64_t)periods * iv);
	close(c.fd);
	close(other.fd);
}
END_TEST

/* A step while the client's socket is full: the cancel-on-set timer's
 * expiries not yet reported keep their own record (with the time they ran),
 * the CANCELED record follows with the expiry canceled and the step's time. */
START_TEST(test_cancel_while_blocked)
{
	struct cli c;
	const int64_t iv = MS;
	int64_t r0 = real_now(), v = r0 + MS, ran = 0;
	uint64_t periods = 0, sum = 0, deferred = 0, sent;
	size_t total;
	uint32_t id;

	connect_cli(&c);
	id = create(&c, TK_CTL_CLOCK_REALTIME);
	ck_assert_int_eq(
		arm(&c, id, TK_CTL_TIMER_F_ABS | TK_CTL_TIMER_F_CANCEL_ON_SET, v, iv, 0, NULL), 0);
	while (!deferred && periods < 100000) {
		run_to(MONO0 + (int64_t)(periods + 1) * iv);
		periods++;
		daemon_timers_stats(&d, &total, &sent, &deferred);
	}
	ck_assert_uint_eq(deferred, 1);
	for (int k = 0; k < 3; k++) {
		run_to(MONO0 + (int64_t)(periods + 1) * iv);
		periods++;
	}
	ran = real_now();
	run_to(fnow + iv / 2); /* between two expiries */
	clock_set(2 * SEC, 2 * SEC);
	ck_assert_uint_eq(hrt_count(d.q), 0);
	for (int i = 0; i < 200; i++) {
		pump(1);
		drain(&c);
		if (c.nev && c.ev[c.nev - 1].kind == TK_CTL_TEV_CANCELED)
			break;
	}
	ck_assert_uint_ge(c.nev, 2);
	for (size_t k = 0; k + 2 < c.nev; k++)
		sum += c.ev[k].overruns;
	/* The last two: the summed expiries (4 of them), then the cancel. */
	ck_assert_uint_eq(c.ev[c.nev - 2].id, id);
	ck_assert_uint_eq(c.ev[c.nev - 2].kind, TK_CTL_TEV_EXPIRED);
	ck_assert_uint_eq(c.ev[c.nev - 2].overruns, 4);
	ck_assert_int_eq(c.ev[c.nev - 2].expires_ns, v + (int64_t)(periods - 1) * iv);
	ck_assert_int_eq(c.ev[c.nev - 2].now_ns, ran);
	ck_assert_uint_eq(sum + 4, periods);
	ck_assert_uint_eq(c.ev[c.nev - 1].id, id);
	ck_assert_uint_eq(c.ev[c.nev - 1].overruns, 0);
	ck_assert_int_eq(c.ev[c.nev - 1].expires_ns, v + (int64_t)periods * iv);
	ck_assert_int_eq(c.ev[c.nev - 1].now_ns, real_now());
	ck_assert_int_eq(c.ev[c.nev - 1].now_ns, ran + iv / 2 + 2 * SEC);
	close(c.fd);
}
END_TEST

/* Limits per connection, and a client that goes loses its timers only. */
/* Hostile values: INT64_MIN as an absolute time (once undefined behaviour
 * when it expired at once on REALTIME or TAI), negative delays and
 * intervals, a slack past the queue's range: refused with a reason, nothing
 * queued; INT64_MAX saturates and never fires; the service goes on. */
START_TEST(test_hostile_values)
{
	struct cli c;
	struct tk_ctl_timer_armed a;
	uint32_t id[4];

	connect_cli(&c);
	for (uint32_t k = 0; k < 4; k++)
		id[k] = create(&c, k);
	for (uint32_t k = 0; k < 4; k++) {
		ck_assert_int_eq(arm(&c, id[k], TK_CTL_TIMER_F_ABS, INT64_MIN, 0, 0, NULL),
				 -EINVAL);
		ck_assert_ptr_nonnull(strstr(c.res.message, "absolute time"));
		ck_assert_int_eq(arm(&c, id[k], TK_CTL_TIMER_F_ABS, -1, SEC, 0, NULL), -EINVAL);
		ck_assert_int_eq(arm(&c, id[k], 0, INT64_MIN, 0, 0, NULL), -EINVAL);
		ck_assert_int_eq(arm(&c, id[k], 0, SEC, INT64_MIN, 0, NULL), -EINVAL);
		ck_assert_int_eq(arm(&c, id[k], 0, SEC, 0, UINT64_MAX, NULL), -EINVAL);
		ck_assert_ptr_nonnull(strstr(c.res.message, "slack"));
	}
	ck_assert_uint_eq(hrt_count(d.q), 0);
	/* The far ends saturate and stay queued without firing. */
	ck_assert_int_eq(arm(&c, id[TK_CTL_CLOCK_REALTIME], TK_CTL_TIMER_F_ABS, INT64_MAX,
			     INT64_MAX, (uint64_t)HRT_TIME_SAFE_MAX, &a),
			 0);
	ck_assert_int_eq(a.soft_expires_ns, HRT_TIME_SAFE_MAX);
	ck_assert_int_eq(arm(&c, id[TK_CTL_CLOCK_TAI], 0, INT64_MAX, INT64_MAX, 0, NULL), 0);
	ck_assert_int_eq(arm(&c, id[TK_CTL_CLOCK_MONOTONIC], 0, SEC, INT64_MAX, 0, NULL), 0);
	run_to(MONO0 + 2 * SEC);
	expect_event(&c, id[TK_CTL_CLOCK_MONOTONIC], TK_CTL_TEV_EXPIRED, 1, MONO0 + SEC,
		     MONO0 + 2 * SEC);
	expect_none(&c);
	clock_set(-3 * SEC, -3 * SEC);
	run_to(MONO0 + 3 * SEC);
	expect_none(&c);
	ck_assert_uint_eq(hrt_count(d.q), 3);
	close(c.fd);
}
END_TEST

START_TEST(test_limits_and_gone)
{
	struct cli a, b;
	struct tk_ctl_timer_create rq = { .clock = TK_CTL_CLOCK_MONOTONIC };
	struct tk_ctl_timer_id out;
	uint32_t ida[3], idb;
	size_t total;
	uint64_t sent, deferred;

	d.conf.max_timers_per_client = 3;
	connect_cli(&a);
	connect_cli(&b);
	for (int i = 0; i < 3; i++) {
		ida[i] = create(&a, TK_CTL_CLOCK_MONOTONIC);
		ck_assert_uint_eq(ida[i], (uint32_t)i + 1);
		ck_assert_int_eq(arm(&a, ida[i], 0, (i + 1) * SEC, SEC, 0, NULL), 0);
	}
	ck_assert_int_eq(request(&a, TK_CTL_TIMER_CREATE, &rq, sizeof(rq), &out, sizeof(out)),
			 -ENOSPC);
	ck_assert_ptr_nonnull(strstr(a.res.message, "max_timers_per_client"));
	/* The limit is per connection. */
	idb = create(&b, TK_CTL_CLOCK_MONOTONIC);
	ck_assert_uint_eq(idb, 1); /* ids are per connection */
	ck_assert_int_eq(arm(&b, idb, 0, 2 * SEC, 0, 0, NULL), 0);
	/* Deleting one makes room; the id is not reused. */
	{
		struct tk_ctl_timer_id del = { .id = ida[2] };

		ck_assert_int_eq(request(&a, TK_CTL_TIMER_DELETE, &del, sizeof(del), NULL, 0), 0);
		ck_assert_int_eq(request(&a, TK_CTL_TIMER_DELETE, &del, sizeof(del), NULL, 0),
				 -ENOENT);
		ida[2] = create(&a, TK_CTL_CLOCK_MONOTONIC);
		ck_assert_uint_eq(ida[2], 4);
		ck_assert_int_eq(arm(&a, ida[2], 0, 3 * SEC, SEC, 0, NULL), 0);
	}
	/* b cannot touch a's timers: ids name timers of the connection. */
	{
		struct tk_ctl_timer_id rqb = { .id = idb };
		struct tk_ctl_timer_armed o;

		ck_assert_int_eq(request(&b, TK_CTL_TIMER_DISARM, &rqb, sizeof(rqb), &o, sizeof(o)),
				 0); /* b's own timer 1... */
		rqb.id = ida[2];
		ck_assert_int_eq(request(&b, TK_CTL_TIMER_DISARM, &rqb, sizeof(rqb), &o, sizeof(o)),
				 -ENOENT); /* ...but no timer 4 there */
		ck_assert_int_eq(arm(&b, idb, 0, 2 * SEC, 0, 0, NULL), 0);
	}
	run_to(MONO0 + SEC);
	expect_event(&a, ida[0], TK_CTL_TEV_EXPIRED, 1, MONO0 + SEC, MONO0 + SEC);
	expect_none(&a);
	daemon_timers_stats(&d, &total, &sent, &deferred);
	ck_assert_uint_eq(total, 4);
	ck_assert_uint_eq(hrt_count(d.q), 4);

	/* a goes: its three timers with it, b's stays and fires. */
	close(a.fd);
	for (int i = 0; i < 200 && ctl_clients(srv) == 2; i++)
		ck_assert_int_ge(evl_run_once(d.loop, 10), 0);
	ck_assert_uint_eq(ctl_clients(srv), 1);
	daemon_timers_stats(&d, &total, &sent, &deferred);
	ck_assert_uint_eq(total, 1);
	ck_assert_uint_eq(hrt_count(d.q), 1);
	run_to(MONO0 + 2 * SEC);
	expect_event(&b, idb, TK_CTL_TEV_EXPIRED, 1, MONO0 + 2 * SEC, MONO0 + 2 * SEC);
	expect_none(&b);
	ck_assert_uint_eq(hrt_count(d.q), 0);
	close(b.fd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dtimers");
	TCase *tc = tcase_create("service");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_step);
	tcase_add_test(tc, test_leap_second);
	tcase_add_test(tc, test_cancel_on_set_rules);
	tcase_add_test(tc, test_overruns_late);
	tcase_add_test(tc, test_flow_control);
	tcase_add_test(tc, test_cancel_while_blocked);
	tcase_add_test(tc, test_limits_and_gone);
	tcase_add_test(tc, test_hostile_values);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
