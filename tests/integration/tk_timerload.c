// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The client side of tests/integration/client_timers.sh: drives timekeeperd's
 * client timers through libtimekeeper alone and checks what comes back.
 * Output is line-oriented for the shell: `armed ...`, `closed`, `diag ...`
 * and `result pass|fail <what>` (one TAP line each in the script).
 *
 *   tk_timerload load CLIENTS SECONDS
 *       CLIENTS connections x 10 periodic timers (MONOTONIC, REALTIME,
 *       BOOTTIME, TAI in turn; absolute and relative; periods 20..200 ms;
 *       slack 0 or not), run for SECONDS (and on until stdin is closed: the
 *       script's checks during the load take what a loaded machine gives
 *       them), then disarm. Every event must be
 *       an expiry of a known timer with ran >= expiry and expiry = value +
 *       k * interval; the overruns of a timer must add up to the periods
 *       between its first expiry and its last reported one; and the span of
 *       expiries must match the span of kernel CLOCK_MONOTONIC over which
 *       they were received: per clock, the smallest (receipt - expiry) early
 *       in the run and late in the run differ by at most KDRIFT_NS (the
 *       daemon's clock runs with the kernel's; the minimum over thousands of
 *       events takes out the queueing delays), and every timer's last event
 *       came no more than TAIL_NS + one period before its disarm.
 *       A line `close` on stdin closes client 0 (its timers are then out of
 *       the checks) and prints `closed`.
 *   tk_timerload step
 *       Arms, STEP_AHEAD_NS ahead, a REALTIME absolute timer, a MONOTONIC
 *       relative one and a REALTIME absolute cancel-on-set one; prints
 *       `armed`; the script then steps REALTIME forward by 10 s (it has
 *       STEP_AHEAD_NS for that, which a loaded machine needs). The REALTIME timer must
 *       expire first, at its absolute expiry, ran >= the step; the
 *       cancel-on-set one must be cancelled; the MONOTONIC one must expire
 *       last, unmoved (ran - expiry small on its own clock).
 *   tk_timerload limits PER_CLIENT
 *       One client creates PER_CLIENT timers and the next is -ENOSPC;
 *       after a delete one more fits again.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/tunit.h"
#include "timekeeper.h"

#define NS ((int64_t)1000000000)
#define MS ((int64_t)1000000)
#define PER 10 /* timers per client */
/* Clock vs kernel CLOCK_MONOTONIC over the run. A driver that falls behind
 * 10000 timers on a loaded machine delays even the minimum by tens of ms; a
 * clock at a wrong rate (a few percent over the run) shows beyond this. */
#define KDRIFT_NS (250 * MS)
#define TAIL_NS (500 * MS) /* last event before the disarm, plus one period */
#define WINDOW_NS (3 * NS) /* the early and late windows of the drift check */
/* A relative REALTIME timer runs on MONOTONIC (POSIX) but reports its
 * expiries on REALTIME: when the daemon steps REALTIME (with reference =
 * system it does, by microseconds, when the discipline starts) they move off
 * the grid by the step. Allowed for those timers alone, the largest seen is
 * printed. */
#define RTREL_TOL_NS MS
#define STEP_AHEAD_NS (8 * NS) /* the step's timers, ahead of the script's step */

static const clockid_t clocks[4] = { CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME, CLOCK_TAI };
static const char *const clock_names[4] = { "MONOTONIC", "REALTIME", "BOOTTIME", "TAI" };

struct tmr {
	uint32_t id;
	int ci; /* index in clocks[] */
	bool abs;
	int64_t value, interval;
	uint64_t slack;
	uint64_t nev, sum_ov, first_ov;
	int64_t first_exp, last_exp;
	int64_t first_recv, last_recv; /* kernel CLOCK_MONOTONIC at receipt */
	int64_t disarmed;	       /* kernel CLOCK_MONOTONIC before the disarm */
};

struct cli {
	struct tk_timers *tt;
	struct tmr t[PER];
	bool closed;
};

static struct timekeeper *tk;
static int64_t warm_until = INT64_MAX; /* kernel CLOCK_MONOTONIC: receipts before are backlog */
static int64_t late_from = INT64_MAX;  /* the late window's start */
static int64_t minlag[2][4];	       /* early/late, by clock: min(receipt - expiry) */
static unsigned long bad_kind, bad_id, bad_ran, bad_grid;
static int64_t rtrel_worst; /* the largest grid error of a relative REALTIME timer */

/* |d - k * interval| for the nearest k, which goes to *k. */
static int64_t grid_err(int64_t d, int64_t interval, int64_t *k)
{
	int64_t q = (d + interval / 2) / interval, e = d - q * interval;

	if (k)
		*k = q;
	return e < 0 ? -e : e;
}

/* Whether d is a whole number of intervals for timer t (k of them). */
static bool on_grid(const struct tmr *t, int64_t d, int64_t *k)
{
	int64_t e = grid_err(d, t->interval, k);

	if (t->ci == 1 && !t->abs) {
		if (e > rtrel_worst)
			rtrel_worst = e;
		return e <= RTREL_TOL_NS;
	}
	return e == 0;
}
static char first_bad[256];

static int64_t kmono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ts_to_ns(&t);
}

static struct timespec nsts(int64_t ns)
{
	struct timespec t = { .tv_sec = ns / NS, .tv_nsec = ns % NS };

	return t;
}

static int64_t dnow(clockid_t c)
{
	struct timespec t;

	tk_gettime(tk, c, &t);
	return ts_to_ns(&t);
}

static void result(bool pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void result(bool pass, const char *fmt, ...)
{
	va_list ap;

	printf("result %s ", pass ? "pass" : "fail");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void bad(unsigned long *ctr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(unsigned long *ctr, const char *fmt, ...)
{
	va_list ap;

	if (!first_bad[0]) {
		va_start(ap, fmt);
		vsnprintf(first_bad, sizeof(first_bad), fmt, ap);
		va_end(ap);
	}
	(*ctr)++;
}

/* Takes one event of client c. */
static void take(struct cli *c, int cidx, const struct tk_timer_event *e, int64_t recv)
{
	struct tmr *t = NULL;
	int64_t exp = ts_to_ns(&e->expiry), ran = ts_to_ns(&e->ran);

	for (int k = 0; k < PER; k++)
		if (c->t[k].id == e->id)
			t = &c->t[k];
	if (!t) {
		bad(&bad_id, "client %d: event for unknown timer id %u", cidx, e->id);
		return;
	}
	if (e->kind != TK_TIMER_EXPIRED || e->overruns == 0) {
		bad(&bad_kind, "client %d timer %u: kind %u overruns %" PRIu64, cidx, e->id,
		    e->kind, e->overruns);
		return;
	}
	if (ran < exp)
		bad(&bad_ran, "client %d timer %u (%s): ran %" PRId64 " before expiry %" PRId64,
		    cidx, e->id, clock_names[t->ci], ran, exp);
	if (t->abs && ((exp - t->value) % t->interval || exp < t->value))
		bad(&bad_grid,
		    "client %d timer %u (%s ABS): expiry %" PRId64 " is not %" PRId64
		    " + k * %" PRId64,
		    cidx, e->id, clock_names[t->ci], exp, t->value, t->interval);
	if (t->nev && (!on_grid(t, exp - t->first_exp, NULL) || exp <= t->last_exp))
		bad(&bad_grid,
		    "client %d timer %u (%s %s): expiry %" PRId64 " after %" PRId64
		    " is not on the %" PRId64 " ns grid of %" PRId64,
		    cidx, e->id, clock_names[t->ci], t->abs ? "ABS" : "REL", exp, t->last_exp,
		    t->interval, t->first_exp);
	if (!t->nev) {
		t->first_exp = exp;
		t->first_ov = e->overruns;
		t->first_recv = recv;
	}
	if (recv >= warm_until && recv < warm_until + WINDOW_NS && recv - exp < minlag[0][t->ci])
		minlag[0][t->ci] = recv - exp;
	if (recv >= late_from && recv - exp < minlag[1][t->ci])
		minlag[1][t->ci] = recv - exp;
	t->nev++;
	t->sum_ov += e->overruns;
	t->last_exp = exp;
	t->last_recv = recv;
}

static int drain(struct cli *c, int cidx)
{
	struct tk_timer_event ev[64];
	int n, total = 0;

	while ((n = tk_timers_read(c->tt, ev, 64)) > 0) {
		int64_t now = kmono();

		for (int i = 0; i < n; i++)
			take(c, cidx, &ev[i], now);
		total += n;
	}
	return n < 0 ? n : total;
}

static int cmd_load(int nc, int seconds)
{
	struct rlimit rl;
	struct cli *cl = calloc((size_t)nc, sizeof(*cl));
	struct epoll_event ee, evs[256];
	int ep = epoll_create1(EPOLL_CLOEXEC), r, armed = 0;
	uint64_t events = 0, expiries = 0, nbad_ov = 0, nbad_k = 0, nsilent = 0;
	int64_t t_end, worst_tail = 0, read_err = 0, drift[4];
	bool drift_ok = true;
	char line[64];
	bool in_open = true;

	if (!cl || ep < 0)
		return 2;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (int c = 0; c < nc; c++) {
		r = tk_timers_open(NULL, &cl[c].tt);
		if (r < 0) {
			result(false, "client %d of %d: tk_timers_open: %s", c, nc, strerror(-r));
			return 1;
		}
		for (int k = 0; k < PER; k++) {
			struct tmr *t = &cl[c].t[k];
			struct timespec v, iv;
			char name[32];

			t->ci = (c + k) % 4;
			t->abs = (k / 2) % 2;
			t->interval = (20 + (c * PER + k) * 37 % 181) * MS;
			t->slack = k % 3 == 0 ? 0 : (uint64_t)(k % 3) * MS;
			snprintf(name, sizeof(name), "c%dt%d", c, k);
			r = tk_timer_create(cl[c].tt, clocks[t->ci], name, &t->id);
			if (r < 0) {
				result(false, "client %d: create %s: %s", c, name, strerror(-r));
				return 1;
			}
			/* First expiries 0.5 .. 1 s ahead, spread. */
			t->value = 500 * MS + (int64_t)((c * PER + k) % 500) * MS;
			if (t->abs)
				t->value += dnow(clocks[t->ci]);
			v = nsts(t->value);
			iv = nsts(t->interval);
			r = tk_timer_arm(cl[c].tt, t->id, t->abs ? TK_TIMER_ABSTIME : 0, &v, &iv,
					 t->slack);
			if (r < 0) {
				result(false, "client %d: arm %s: %s", c, name, strerror(-r));
				return 1;
			}
			armed++;
		}
		ee.events = EPOLLIN;
		ee.data.u32 = (uint32_t)c;
		epoll_ctl(ep, EPOLL_CTL_ADD, tk_timers_fd(cl[c].tt), &ee);
		drain(&cl[c], c);
	}
	ee.events = EPOLLIN;
	ee.data.u32 = UINT32_MAX;
	epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ee);
	printf("armed %d timers on %d clients, pid %d\n", armed, nc, (int)getpid());
	fflush(stdout);

	/* Events that piled up while the other clients were armed come in one
	 * burst: the kernel cross-check anchors on the first event received
	 * after a second of the steady load. */
	for (int i = 0; i < 4; i++)
		minlag[0][i] = minlag[1][i] = INT64_MAX;
	warm_until = kmono() + NS;
	t_end = kmono() + seconds * NS;
	late_from = t_end - WINDOW_NS;
	for (;;) {
		int64_t left = t_end - kmono();
		int n;

		/* The run lasts SECONDS and on while the script, which checks
		 * the daemon during the load, keeps stdin open. */
		if (left <= 0 && !in_open)
			break;
		n = epoll_wait(ep, evs, 256, left > 0 ? (int)(left / MS) + 1 : 100);
		for (int i = 0; i < n; i++) {
			uint32_t c = evs[i].data.u32;

			if (c == UINT32_MAX) {
				ssize_t m = in_open ? read(0, line, sizeof(line) - 1) : 0;

				if (m <= 0) {
					epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
					in_open = false;
					continue;
				}
				line[m] = '\0';
				if (strncmp(line, "close", 5) == 0 && !cl[0].closed) {
					epoll_ctl(ep, EPOLL_CTL_DEL, tk_timers_fd(cl[0].tt), NULL);
					tk_timers_close(cl[0].tt);
					cl[0].closed = true;
					printf("closed\n");
					fflush(stdout);
				}
				continue;
			}
			if (cl[c].closed)
				continue;
			r = drain(&cl[c], (int)c);
			if (r < 0 && !read_err) {
				read_err = r;
				result(false, "client %u: tk_timers_read: %s", c, strerror(-r));
			}
		}
	}

	/* Disarm everything; events that were on their way arrive before each
	 * reply and land in the handle. */
	for (int c = 0; c < nc; c++) {
		if (cl[c].closed)
			continue;
		for (int k = 0; k < PER; k++) {
			int64_t before = kmono();

			r = tk_timer_disarm(cl[c].tt, cl[c].t[k].id);
			if (r < 0) {
				result(false, "client %d: disarm %u: %s", c, cl[c].t[k].id,
				       strerror(-r));
				return 1;
			}
			cl[c].t[k].disarmed = before;
		}
		drain(&cl[c], c);
	}

	for (int c = 0; c < nc; c++) {
		if (cl[c].closed)
			continue;
		for (int k = 0; k < PER; k++) {
			const struct tmr *t = &cl[c].t[k];
			int64_t span, tail, kk;

			if (!t->nev) {
				if (!nsilent++)
					printf("diag client %d timer %u (%s, %" PRId64
					       " ms): no expiry\n",
					       c, t->id, clock_names[t->ci], t->interval / MS);
				continue;
			}
			events += t->nev;
			expiries += t->sum_ov;
			span = t->last_exp - t->first_exp;
			if (!on_grid(t, span, &kk) || kk != (int64_t)(t->sum_ov - t->first_ov) ||
			    (t->abs &&
			     t->first_exp - t->value != (int64_t)(t->first_ov - 1) * t->interval)) {
				if (!nbad_ov++)
					printf("diag client %d timer %u (%s %s, %" PRId64
					       " ns): overruns %" PRIu64 " (first %" PRIu64
					       ") but expiries %" PRId64 " .. %" PRId64
					       " from value %" PRId64 "\n",
					       c, t->id, clock_names[t->ci], t->abs ? "ABS" : "REL",
					       t->interval, t->sum_ov, t->first_ov, t->first_exp,
					       t->last_exp, t->value);
			}
			/* The last event no more than a period (+ TAIL_NS) before the
			 * disarm: the expiries kept coming to the end. */
			tail = t->disarmed - t->last_recv;
			if (tail > worst_tail)
				worst_tail = tail;
			if (tail > TAIL_NS + t->interval && !nbad_k++)
				printf("diag client %d timer %u (%s, %" PRId64
				       " ms): last event %" PRId64 " ms before the disarm\n",
				       c, t->id, clock_names[t->ci], t->interval / MS, tail / MS);
		}
	}
	/* Per clock: receipt - expiry mixes the kernel's CLOCK_MONOTONIC and the
	 * daemon's clock; its minimum early and late in the run differs by
	 * how far the two clocks drifted apart (plus the noise of the minimum
	 * delivery delay). */
	for (int i = 0; i < 4; i++) {
		drift[i] = minlag[0][i] == INT64_MAX || minlag[1][i] == INT64_MAX
				   ? INT64_MAX
				   : minlag[1][i] - minlag[0][i];
		if (drift[i] == INT64_MAX || drift[i] > KDRIFT_NS || drift[i] < -KDRIFT_NS)
			drift_ok = false;
		printf("diag %s: min(receipt - expiry) %" PRId64 " us early, %" PRId64
		       " us late: %+" PRId64 " us against kernel CLOCK_MONOTONIC over %d s\n",
		       clock_names[i], minlag[0][i] / 1000, minlag[1][i] / 1000,
		       drift[i] == INT64_MAX ? 0 : drift[i] / 1000, seconds - 1);
	}
	printf("diag %" PRIu64 " events for %" PRIu64
	       " expiries over %d s; latest last event %" PRId64 " ms before its disarm\n",
	       events, expiries, seconds, worst_tail / MS);
	printf("diag relative REALTIME timers: largest distance to the grid %" PRId64
	       " ns (REALTIME "
	       "steps; allowed %" PRId64 " ns)\n",
	       rtrel_worst, RTREL_TOL_NS);
	if (first_bad[0])
		printf("diag first bad event: %s\n", first_bad);
	result(bad_id == 0 && bad_kind == 0,
	       "every event is an expiry of a known timer "
	       "(%lu unknown ids, %lu bad kinds)",
	       bad_id, bad_kind);
	result(bad_ran == 0, "every event ran at or after its expiry (%lu not)", bad_ran);
	result(bad_grid == 0,
	       "every expiry is value + k * interval exactly (relative REALTIME: up "
	       "to REALTIME steps) (%lu not)",
	       bad_grid);
	result(nsilent == 0, "every timer expired (%" PRIu64 " silent)", nsilent);
	result(nbad_ov == 0,
	       "overruns add up to the periods between first and last expiry "
	       "(%" PRIu64 " timers not)",
	       nbad_ov);
	result(drift_ok,
	       "kernel cross-check: each clock's expiries keep pace with kernel "
	       "CLOCK_MONOTONIC within %" PRId64 " ms over the run (%" PRId64 ", %" PRId64
	       ", %" PRId64 ", %" PRId64 " us)",
	       KDRIFT_NS / MS, drift[0] / 1000, drift[1] / 1000, drift[2] / 1000, drift[3] / 1000);
	result(nbad_k == 0,
	       "every timer's expiries came until its disarm (last within 500 ms + a "
	       "period; %" PRIu64 " timers not)",
	       nbad_k);
	result(read_err == 0, "no read error during the load");
	for (int c = 0; c < nc; c++)
		if (!cl[c].closed)
			tk_timers_close(cl[c].tt);
	free(cl);
	return 0;
}

static int wait_events(struct tk_timers *tt, struct tk_timer_event *out, int want, int64_t *recv,
		       int timeout_ms)
{
	struct pollfd p = { .fd = tk_timers_fd(tt), .events = POLLIN };
	int64_t end = kmono() + timeout_ms * MS;
	int got = 0, n;

	while (got < want) {
		n = tk_timers_read(tt, out + got, (size_t)(want - got));
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++)
			recv[got + i] = kmono();
		got += n;
		if (got >= want || kmono() >= end)
			break;
		if (n == 0)
			poll(&p, 1, (int)((end - kmono()) / MS) + 1);
	}
	return got;
}

static int cmd_step(void)
{
	struct tk_timers *tt;
	struct tk_timer_event ev[3];
	int64_t recv[3], rt_val, mono_val, rt0;
	uint32_t rt, mono, cos;
	struct timespec v;
	int r, n, i_rt = -1, i_mono = -1, i_cos = -1;

	r = tk_timers_open(NULL, &tt);
	if (r < 0) {
		result(false, "step: tk_timers_open: %s", strerror(-r));
		return 1;
	}
	if (tk_timer_create(tt, CLOCK_REALTIME, "step-rt", &rt) < 0 ||
	    tk_timer_create(tt, CLOCK_MONOTONIC, "step-mono", &mono) < 0 ||
	    tk_timer_create(tt, CLOCK_REALTIME, "step-cos", &cos) < 0) {
		result(false, "step: create failed");
		return 1;
	}
	rt0 = dnow(CLOCK_REALTIME);
	rt_val = rt0 + STEP_AHEAD_NS;
	v = nsts(rt_val);
	r = tk_timer_arm(tt, rt, TK_TIMER_ABSTIME, &v, NULL, 0);
	if (r == 0)
		r = tk_timer_arm(tt, cos, TK_TIMER_ABSTIME | TK_TIMER_CANCEL_ON_SET, &v, NULL, 0);
	mono_val = dnow(CLOCK_MONOTONIC) + STEP_AHEAD_NS;
	v = nsts(STEP_AHEAD_NS);
	if (r == 0)
		r = tk_timer_arm(tt, mono, 0, &v, NULL, 0);
	if (r < 0) {
		result(false, "step: arm: %s", strerror(-r));
		return 1;
	}
	printf("armed\n");
	fflush(stdout);
	n = wait_events(tt, ev, 3, recv, (int)((STEP_AHEAD_NS + 30 * NS) / MS));
	if (n < 0) {
		result(false, "step: read: %s", strerror(-n));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		printf("diag event %d: id %u kind %u overruns %" PRIu64 " expiry %" PRId64
		       " ran %" PRId64 "\n",
		       i, ev[i].id, ev[i].kind, ev[i].overruns, ts_to_ns(&ev[i].expiry),
		       ts_to_ns(&ev[i].ran));
		if (ev[i].id == rt)
			i_rt = i;
		else if (ev[i].id == mono)
			i_mono = i;
		else if (ev[i].id == cos)
			i_cos = i;
	}
	result(n == 3 && i_rt >= 0 && i_mono >= 0 && i_cos >= 0,
	       "step: one event for each of the three timers (%d events)", n);
	result(i_cos >= 0 && ev[i_cos].kind == TK_TIMER_CANCELED && ev[i_cos].overruns == 0,
	       "step: the cancel-on-set timer was cancelled (TK_TIMER_CANCELED)");
	result(i_rt >= 0 && ev[i_rt].kind == TK_TIMER_EXPIRED &&
		       ts_to_ns(&ev[i_rt].expiry) == rt_val &&
		       ts_to_ns(&ev[i_rt].ran) >= rt0 + 10 * NS,
	       "step: the REALTIME absolute timer expired at its time, ran after the 10 s step");
	result(i_rt >= 0 && i_mono >= 0 && i_rt < i_mono && recv[i_rt] < recv[i_mono],
	       "step: the REALTIME absolute timer expired before the MONOTONIC one "
	       "(moved by the step)");
	result(i_mono >= 0 && ev[i_mono].kind == TK_TIMER_EXPIRED &&
		       ts_to_ns(&ev[i_mono].ran) >= ts_to_ns(&ev[i_mono].expiry) &&
		       ts_to_ns(&ev[i_mono].expiry) >= mono_val - 500 * MS &&
		       ts_to_ns(&ev[i_mono].expiry) <= mono_val + 500 * MS,
	       "step: the MONOTONIC relative timer expired %d s after arming, not moved",
	       (int)(STEP_AHEAD_NS / NS));
	tk_timers_close(tt);
	return 0;
}

static int cmd_limits(unsigned int per)
{
	struct tk_timers *tt;
	uint32_t id, first = 0;
	unsigned int made = 0;
	int r = 0;

	if (tk_timers_open(NULL, &tt) < 0) {
		result(false, "limits: tk_timers_open failed");
		return 1;
	}
	while (made <= per) {
		r = tk_timer_create(tt, CLOCK_MONOTONIC, "limit", &id);
		if (r < 0)
			break;
		if (!first)
			first = id;
		made++;
	}
	result(made == per && r == -ENOSPC,
	       "limits: %u timers created, then %s (expected %u, "
	       "then ENOSPC)",
	       made, r ? strerror(-r) : "no refusal", per);
	r = first ? tk_timer_delete(tt, first) : -EINVAL;
	if (r == 0)
		r = tk_timer_create(tt, CLOCK_MONOTONIC, "limit", &id);
	result(r == 0, "limits: after a delete one more fits (%s)", r ? strerror(-r) : "ok");
	tk_timers_close(tt);
	return 0;
}

int main(int argc, char **argv)
{
	int r;

	if (tk_open(NULL, &tk) < 0) {
		fprintf(stderr, "tk_timerload: tk_open failed\n");
		return 2;
	}
	if (argc == 4 && strcmp(argv[1], "load") == 0)
		r = cmd_load(atoi(argv[2]), atoi(argv[3]));
	else if (argc == 2 && strcmp(argv[1], "step") == 0)
		r = cmd_step();
	else if (argc == 3 && strcmp(argv[1], "limits") == 0)
		r = cmd_limits((unsigned int)atoi(argv[2]));
	else {
		fprintf(stderr, "usage: tk_timerload load CLIENTS SECONDS | step | limits N\n");
		r = 2;
	}
	tk_close(tk);
	return r;
}
