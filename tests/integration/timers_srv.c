// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * timers_srv: the daemon's client-timer service over the raw protocol
 * (<timekeeper/control.h> only, no libtimekeeper), printing TAP. Run by
 * timers_srv.sh against a daemon with [control] max_timers_per_client = 8,
 * max_timers = 12, min_timer_interval_us = 1000. Checks: create on every
 * clock and the refusals, the per-client and global limits, a disconnect
 * deleting only that client's timers (the TIMERS listing, with owner pid and
 * name), the minimum period, periodic expiries on value + k * interval with
 * overruns summing to the periods elapsed while the client does not read
 * (flow control), relative REALTIME on MONOTONIC, and, with "step" (root),
 * a step of the daemon's REALTIME: cancel-on-set timers on REALTIME and TAI
 * canceled, an absolute REALTIME timer re-evaluated (expires at once, at its
 * exact value), a relative one untouched, and a leap second inserted on the
 * daemon's REALTIME (cancels REALTIME cancel-on-set timers, not TAI ones).
 * No timing assertions.
 *
 *   timers_srv SOCKET [step]
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timex.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "timekeeper/control.h"

#define HDR sizeof(struct tk_ctl_hdr)
#define RES sizeof(struct tk_ctl_result)
#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)
#define MAX_EV 4096

static const char *sock;
static int tap_n, failed;
static uint32_t seq;

static void ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	failed |= !cond;
}

/* A connection: events that arrive while waiting for a reply are kept. */
struct conn {
	int fd;
	struct tk_ctl_timer_event ev[MAX_EV];
	size_t nev;
	size_t packets;
};

static struct conn *conn_open(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct conn *c = calloc(1, sizeof(*c));

	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("Bail out! %s: %s\n", sock, strerror(errno));
		exit(1);
	}
	return c;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c);
}

static void take_events(struct conn *c, const unsigned char *buf, size_t n)
{
	struct tk_ctl_timer_events h;

	memcpy(&h, buf + HDR, sizeof(h));
	c->packets++;
	for (uint32_t i = 0; i < h.count && c->nev < MAX_EV; i++)
		memcpy(&c->ev[c->nev++], buf + HDR + sizeof(h) + i * sizeof(c->ev[0]),
		       sizeof(c->ev[0]));
	(void)n;
}

/* One packet within timeout_ms: 1 event packet, 0 reply (in *reply), -1 nothing. */
static int recv_one(struct conn *c, int timeout_ms, unsigned char *buf)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	struct tk_ctl_hdr h;
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	n = recv(c->fd, buf, TK_CTL_MAX_MSG, 0);
	if (n < (ssize_t)HDR)
		return -1;
	memcpy(&h, buf, HDR);
	if (h.flags & TK_CTL_F_EVENT) {
		take_events(c, buf, (size_t)n);
		return 1;
	}
	return 0;
}

/* A request; returns the status, the payload in out (up to outlen), the message in msg. */
static int request(struct conn *c, uint16_t type, const void *payload, size_t plen, void *out,
		   size_t outlen, char *msg)
{
	static unsigned char buf[TK_CTL_MAX_MSG];
	struct tk_ctl_hdr h = {
		TK_CTL_MAGIC, TK_CTL_VERSION, type, 0, (uint32_t)(HDR + plen), ++seq
	};
	struct tk_ctl_result r;
	int k;

	memcpy(buf, &h, HDR);
	memcpy(buf + HDR, payload, plen);
	if (send(c->fd, buf, HDR + plen, MSG_NOSIGNAL) != (ssize_t)(HDR + plen))
		return -EPIPE;
	while ((k = recv_one(c, 5000, buf)) == 1)
		;
	if (k < 0)
		return -ETIMEDOUT;
	memcpy(&r, buf + HDR, RES);
	if (msg)
		snprintf(msg, TK_CTL_MESSAGE_LEN, "%s", r.message);
	if (out && r.status == 0)
		memcpy(out, buf + HDR + RES, outlen);
	return r.status;
}

static int create(struct conn *c, uint32_t clock, const char *name, uint32_t *id, char *msg)
{
	struct tk_ctl_timer_create rq = { .clock = clock };
	struct tk_ctl_timer_id out = { 0 };
	int r;

	snprintf(rq.name, sizeof(rq.name), "%s", name);
	r = request(c, TK_CTL_TIMER_CREATE, &rq, sizeof(rq), &out, sizeof(out), msg);
	*id = out.id;
	return r;
}

static int arm(struct conn *c, uint32_t id, uint32_t flags, int64_t value, int64_t interval,
	       uint64_t slack, struct tk_ctl_timer_armed *out, char *msg)
{
	struct tk_ctl_timer_arm rq = { id, flags, value, interval, slack };
	struct tk_ctl_timer_armed o;

	return request(c, TK_CTL_TIMER_ARM, &rq, sizeof(rq), out ? out : &o, sizeof(o), msg);
}

static int by_id(struct conn *c, uint16_t type, uint32_t id, struct tk_ctl_timer_armed *out)
{
	struct tk_ctl_timer_id rq = { id, 0 };
	struct tk_ctl_timer_armed o;

	return request(c, type, &rq, sizeof(rq), out ? out : &o,
		       type == TK_CTL_TIMER_DISARM ? sizeof(o) : 0, NULL);
}

/* The TIMERS listing (first page); *mine counts records with owner_pid == ours. */
static int listing(struct conn *c, struct tk_ctl_timers *head, unsigned int *mine, bool *named_ok)
{
	static unsigned char out[TK_CTL_MAX_MSG];
	struct tk_ctl_timers_req rq = { 0, 0 };
	int r = request(c, TK_CTL_TIMERS, &rq, sizeof(rq), out, sizeof(out) - HDR - RES, NULL);

	*mine = 0;
	*named_ok = true;
	if (r)
		return r;
	memcpy(head, out, sizeof(*head));
	for (uint32_t i = 0; i < head->count; i++) {
		struct tk_ctl_timer t;

		memcpy(&t, out + sizeof(*head) + i * sizeof(t), sizeof(t));
		if (t.owner_pid == getpid()) {
			(*mine)++;
			*named_ok &= strncmp(t.name, "srv-", 4) == 0 && t.period_ns == SEC;
		}
	}
	return 0;
}

static void test_create_and_limits(void)
{
	struct conn *a = conn_open(), *b = conn_open(), *c;
	struct tk_ctl_timers head;
	char msg[TK_CTL_MESSAGE_LEN];
	uint32_t id, ids[8];
	unsigned int mine, before;
	bool named;
	int r, n = 0;

	r = create(a, 9, "x", &id, msg);
	ok(r == -EINVAL, "create on clock 9: EINVAL (%d: %s)", r, msg);
	for (uint32_t clk = 0; clk < 4; clk++) {
		r = create(a, clk, "srv-a", &ids[clk], msg);
		ok(r == 0 && ids[clk] == clk + 1, "create on clock %u: id %u (%s)", clk, ids[clk],
		   msg);
	}
	while (n < 20 && (r = create(a, TK_CTL_CLOCK_MONOTONIC, "srv-a", &id, msg)) == 0)
		ids[4 + n++] = id;
	ok(n == 4 && r == -ENOSPC && strstr(msg, "max_timers_per_client"),
	   "the 9th timer of a connection: ENOSPC (%d after 4 more: %s)", r, msg);
	n = 0;
	while (n < 20 && (r = create(b, TK_CTL_CLOCK_MONOTONIC, "srv-b", &id, msg)) == 0)
		n++;
	ok(n == 4 && r == -ENOSPC && strstr(msg, "max_timers)"),
	   "the 13th timer of the daemon: ENOSPC from another connection (%d made: %s)", n, msg);
	/* everything of a armed, periodic 1 s, far away; one of b */
	for (int i = 0; i < 8; i++)
		arm(a, ids[i], 0, 3600 * SEC, SEC, 0, NULL, NULL);
	arm(b, 1, 0, 3600 * SEC, SEC, 0, NULL, NULL);
	r = listing(b, &head, &before, &named);
	ok(r == 0 && before == 9 && named,
	   "listing: 9 client timers with our pid, named and with their period (%u)", before);
	r = by_id(a, TK_CTL_TIMER_DELETE, ids[7], NULL);
	ok(r == 0 && by_id(a, TK_CTL_TIMER_DELETE, ids[7], NULL) == -ENOENT,
	   "delete, then delete again: ENOENT");
	conn_close(a);
	usleep(200000);
	r = listing(b, &head, &mine, &named);
	ok(r == 0 && mine == 1, "a disconnect deletes that connection's timers only (%u left)",
	   mine);
	c = conn_open();
	n = 0;
	while (n < 20 && create(c, TK_CTL_CLOCK_MONOTONIC, "srv-c", &id, NULL) == 0)
		n++;
	ok(n == 8, "their room is free again: another connection creates 8 (%d)", n);
	conn_close(b);
	conn_close(c);
}

static void test_periodic_flow(void)
{
	struct conn *c = conn_open();
	struct tk_ctl_timer_armed am, dm;
	char msg[TK_CTL_MESSAGE_LEN];
	static unsigned char buf[TK_CTL_MAX_MSG];
	uint64_t sum = 0;
	int64_t last = 0;
	bool grid = true, kinds = true;
	uint32_t id;
	int r;

	create(c, TK_CTL_CLOCK_MONOTONIC, "srv-periodic", &id, NULL);
	r = arm(c, id, 0, 10 * MS, 100000, 0, &am, msg);
	ok(r == 0 && am.interval_ns == MS && am.base == TK_CTL_CLOCK_MONOTONIC &&
		   am.expires_ns == am.soft_expires_ns,
	   "a 100 us period is raised to min_timer_interval_us: %lld ns (%s)",
	   (long long)am.interval_ns, msg);
	/* not reading for 300 ms: the daemon must neither queue without bound nor lose any */
	usleep(300000);
	while (recv_one(c, 0, buf) == 1)
		;
	r = by_id(c, TK_CTL_TIMER_DISARM, id, &dm);
	/* events that came with the reply are in c->ev too; after the disarm none come */
	while (recv_one(c, 50, buf) == 1)
		;
	for (size_t i = 0; i < c->nev; i++) {
		const struct tk_ctl_timer_event *e = &c->ev[i];

		kinds &= e->id == id && e->kind == TK_CTL_TEV_EXPIRED && e->overruns >= 1 &&
			 e->now_ns >= e->expires_ns;
		grid &= (e->expires_ns - am.soft_expires_ns) % MS == 0 && e->expires_ns > last;
		sum += e->overruns;
		last = e->expires_ns;
	}
	printf("# %zu events in %zu packets, %llu expiries\n", c->nev, c->packets,
	       (unsigned long long)sum);
	ok(r == 0 && dm.interval_ns == MS, "disarm returns the timer as it was");
	ok(c->nev > 0 && kinds,
	   "every event: our id, EXPIRED, overruns >= 1, run at or after its expiry");
	ok(grid, "every reported expiry lies on value + k * interval, increasing");
	ok(c->nev > 0 && sum == (uint64_t)((last - am.soft_expires_ns) / MS + 1),
	   "no expiry lost: the overruns sum to the periods from the first to the last (%llu)",
	   (unsigned long long)sum);
	conn_close(c);
}

static void test_realtime_rules(bool step)
{
	struct conn *c = conn_open();
	struct tk_ctl_timer_armed a1, a2, a3, a4, d;
	struct tk_ctl_timers head;
	static unsigned char buf[TK_CTL_MAX_MSG];
	char msg[TK_CTL_MESSAGE_LEN];
	uint32_t rel, absr, cosr, cost, mono;
	unsigned int mine;
	bool named, saw_cr = false, saw_ct = false, saw_abs = false, abs_exact = false;
	int64_t real_now, tai_now;
	int r;

	create(c, TK_CTL_CLOCK_REALTIME, "rel", &rel, NULL);
	create(c, TK_CTL_CLOCK_REALTIME, "abs", &absr, NULL);
	create(c, TK_CTL_CLOCK_REALTIME, "cos-real", &cosr, NULL);
	create(c, TK_CTL_CLOCK_TAI, "cos-tai", &cost, NULL);
	create(c, TK_CTL_CLOCK_MONOTONIC, "mono", &mono, NULL);
	r = arm(c, mono, TK_CTL_TIMER_F_ABS | TK_CTL_TIMER_F_CANCEL_ON_SET, SEC, 0, 0, NULL, msg);
	ok(r == -EINVAL, "CANCEL_ON_SET on MONOTONIC: EINVAL (%s)", msg);
	r = arm(c, rel, TK_CTL_TIMER_F_CANCEL_ON_SET, SEC, 0, 0, NULL, msg);
	ok(r == -EINVAL, "CANCEL_ON_SET on a relative REALTIME timer: EINVAL (%s)", msg);
	r = arm(c, rel, 0, 3600 * SEC, 0, 0, &a1, msg);
	ok(r == 0 && a1.base == TK_CTL_CLOCK_MONOTONIC,
	   "a relative REALTIME timer runs on MONOTONIC (base %u)", a1.base);
	listing(c, &head, &mine, &named);
	real_now = (int64_t)head.now_mono_ns + head.offset_ns[TK_CTL_CLOCK_REALTIME];
	tai_now = (int64_t)head.now_mono_ns + head.offset_ns[TK_CTL_CLOCK_TAI];
	ok(head.offset_ns[TK_CTL_CLOCK_TAI] - head.offset_ns[TK_CTL_CLOCK_REALTIME] >= 0 &&
		   (head.offset_ns[TK_CTL_CLOCK_TAI] - head.offset_ns[TK_CTL_CLOCK_REALTIME]) %
				   SEC ==
			   0,
	   "the listing's offsets: TAI - REALTIME is whole seconds (%lld ns)",
	   (long long)(head.offset_ns[TK_CTL_CLOCK_TAI] - head.offset_ns[TK_CTL_CLOCK_REALTIME]));
	r = arm(c, absr, TK_CTL_TIMER_F_ABS, real_now + 5 * SEC, 0, 0, &a2, NULL);
	r |= arm(c, cosr, TK_CTL_TIMER_F_ABS | TK_CTL_TIMER_F_CANCEL_ON_SET, real_now + 5 * SEC, 0,
		 0, &a3, NULL);
	r |= arm(c, cost, TK_CTL_TIMER_F_ABS | TK_CTL_TIMER_F_CANCEL_ON_SET, tai_now + 5 * SEC, 0,
		 0, &a4, NULL);
	ok(r == 0 && a2.base == TK_CTL_CLOCK_REALTIME && a4.base == TK_CTL_CLOCK_TAI,
	   "absolute REALTIME and TAI timers run on their own bases");
	if (!step) {
		conn_close(c);
		return;
	}
	{
		struct tk_ctl_timex tx = { .modes = ADJ_SETOFFSET | ADJ_NANO, .time_sec = 10 };
		struct tk_ctl_adjtime out;

		r = request(c, TK_CTL_ADJTIME, &tx, sizeof(tx), &out, sizeof(out), msg);
		ok(r == 0, "the daemon's REALTIME stepped 10 s forward (%s)", msg);
	}
	for (int i = 0; i < 100 && !(saw_cr && saw_ct && saw_abs); i++) {
		recv_one(c, 50, buf);
		for (size_t k = 0; k < c->nev; k++) {
			const struct tk_ctl_timer_event *e = &c->ev[k];

			saw_cr |= e->id == cosr && e->kind == TK_CTL_TEV_CANCELED &&
				  e->overruns == 0;
			saw_ct |= e->id == cost && e->kind == TK_CTL_TEV_CANCELED;
			if (e->id == absr && e->kind == TK_CTL_TEV_EXPIRED) {
				saw_abs = true;
				abs_exact = e->expires_ns == a2.soft_expires_ns &&
					    e->now_ns >= e->expires_ns && e->overruns == 1;
			}
		}
	}
	ok(saw_cr, "cancel-on-set REALTIME timer: CANCELED");
	ok(saw_ct, "cancel-on-set TAI timer: CANCELED (a step moves TAI too)");
	ok(saw_abs && abs_exact,
	   "absolute REALTIME timer re-evaluated: expired at once, at its exact value");
	r = by_id(c, TK_CTL_TIMER_DISARM, rel, &d);
	ok(r == 0 && d.base == TK_CTL_CLOCK_MONOTONIC && d.soft_expires_ns == a1.soft_expires_ns,
	   "the relative REALTIME timer did not move");
	r = by_id(c, TK_CTL_TIMER_DISARM, cosr, &d);
	ok(r == 0 && d.expires_ns == 0 && d.base == 0, "the canceled timer is disarmed");
	{
		struct tk_ctl_timex tx = { .modes = ADJ_SETOFFSET | ADJ_NANO, .time_sec = -10 };
		struct tk_ctl_adjtime out;

		request(c, TK_CTL_ADJTIME, &tx, sizeof(tx), &out, sizeof(out), NULL);
	}
	conn_close(c);
}

/* A leap second on the daemon's own clocks (not the kernel's): REALTIME is
 * stepped to 2.5 s before a midnight and STA_INS set; at midnight the
 * timekeeper inserts the second (REALTIME's offset moves, TAI's does not). */
static void test_leap(void)
{
	struct conn *c = conn_open();
	struct tk_ctl_timer_armed ar, d, at;
	struct tk_ctl_timers head;
	static unsigned char buf[TK_CTL_MAX_MSG];
	char msg[TK_CTL_MESSAGE_LEN];
	uint32_t cosr, cost, absr;
	unsigned int mine;
	bool named, saw_cr = false, saw_abs = false, abs_exact = false, tai_canceled = false;
	int64_t real_now, tai_now, midnight, delta;
	int r;

	listing(c, &head, &mine, &named);
	real_now = (int64_t)head.now_mono_ns + head.offset_ns[TK_CTL_CLOCK_REALTIME];
	midnight = (real_now / (86400 * SEC) + 1) * 86400 * SEC;
	/* 2.5 s before: the leap is scheduled at the second boundary before
	 * midnight (as the kernel's), which must come after STA_INS is set. */
	delta = midnight - 5 * SEC / 2 - real_now;
	{
		struct tk_ctl_timex tx = { .modes = ADJ_SETOFFSET | ADJ_NANO,
					   .time_sec = delta / SEC,
					   .time_usec = delta % SEC };
		struct tk_ctl_adjtime out;
		struct tk_ctl_timex st = { .modes = ADJ_STATUS | ADJ_MAXERROR,
					   .status = STA_PLL | STA_INS };

		r = request(c, TK_CTL_ADJTIME, &tx, sizeof(tx), &out, sizeof(out), msg);
		r |= request(c, TK_CTL_ADJTIME, &st, sizeof(st), &out, sizeof(out), msg);
		ok(r == 0, "REALTIME 2.5 s before midnight, leap second insertion armed (%s)", msg);
	}
	listing(c, &head, &mine, &named);
	real_now = (int64_t)head.now_mono_ns + head.offset_ns[TK_CTL_CLOCK_REALTIME];
	tai_now = (int64_t)head.now_mono_ns + head.offset_ns[TK_CTL_CLOCK_TAI];
	create(c, TK_CTL_CLOCK_REALTIME, "leap-cos-real", &cosr, NULL);
	create(c, TK_CTL_CLOCK_TAI, "leap-cos-tai", &cost, NULL);
	create(c, TK_CTL_CLOCK_REALTIME, "leap-abs", &absr, NULL);
	r = arm(c, cosr, TK_CTL_TIMER_F_ABS | TK_CTL_TIMER_F_CANCEL_ON_SET, midnight + 30 * SEC, 0,
		0, NULL, NULL);
	r |= arm(c, cost, TK_CTL_TIMER_F_ABS | TK_CTL_TIMER_F_CANCEL_ON_SET, tai_now + 30 * SEC, 0,
		 0, &at, NULL);
	r |= arm(c, absr, TK_CTL_TIMER_F_ABS, midnight + SEC / 2, 0, 0, &ar, NULL);
	for (int i = 0; i < 200 && !(saw_cr && saw_abs); i++) {
		recv_one(c, 50, buf);
		for (size_t k = 0; k < c->nev; k++) {
			const struct tk_ctl_timer_event *e = &c->ev[k];

			saw_cr |= e->id == cosr && e->kind == TK_CTL_TEV_CANCELED;
			tai_canceled |= e->id == cost;
			if (e->id == absr && e->kind == TK_CTL_TEV_EXPIRED) {
				saw_abs = true;
				abs_exact = e->expires_ns == ar.soft_expires_ns &&
					    e->now_ns >= e->expires_ns;
			}
		}
	}
	printf("# stepped %+.3f s; REALTIME was %lld\n", (double)delta / 1e9, (long long)real_now);
	ok(r == 0 && saw_cr, "leap second: the cancel-on-set REALTIME timer is CANCELED");
	r = by_id(c, TK_CTL_TIMER_DISARM, cost, &d);
	ok(r == 0 && !tai_canceled && d.base == TK_CTL_CLOCK_TAI &&
		   d.soft_expires_ns == at.soft_expires_ns,
	   "leap second: the cancel-on-set TAI timer stays armed, unmoved");
	ok(saw_abs && abs_exact,
	   "leap second: the absolute REALTIME timer expires at its exact REALTIME value");
	conn_close(c);
}

int main(int argc, char **argv)
{
	bool step;

	if (argc < 2) {
		fprintf(stderr, "usage: timers_srv SOCKET [step]\n");
		return 2;
	}
	sock = argv[1];
	step = argc > 2 && !strcmp(argv[2], "step");
	printf("1..%d\n", 21 + (step ? 10 : 0));
	test_create_and_limits();
	test_periodic_flow();
	test_realtime_rules(step);
	if (step)
		test_leap();
	return failed;
}
