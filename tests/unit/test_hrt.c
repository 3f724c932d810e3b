// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The hrt timer queue in fake time: hrtimer_forward's overrun arithmetic as
 * a table, the soft/hard expiry rule, FIFO order for
 * equal expiries, the POSIX rule for relative REALTIME timers, absolute
 * REALTIME/TAI/BOOTTIME timers moving with clock_was_set, the three-pass
 * interrupt and its hang back-off with a clock that races ahead,
 * reprogramming of the owner, callbacks re-arming and cancelling timers,
 * 10^6 timers, and the /proc/timer_list-like dump.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "core/hrt.h"
#include "tk_check.h"

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)

struct rec_timer {
	struct hrt_timer t;
	int id;
	int64_t interval; /* forward + RESTART when > 0 */
	uint64_t orun;	  /* sum of forward() results */
	int64_t seen_now; /* now passed to the callback, last time */
};

static int order[64];
static int norder;

static struct rec_timer *rec_of(struct hrt_timer *t)
{
	return (struct rec_timer *)((char *)t - offsetof(struct rec_timer, t));
}

static enum hrt_restart rec_fn(struct hrt_timer *t, int64_t now)
{
	struct rec_timer *r = rec_of(t);

	if (norder < (int)(sizeof(order) / sizeof(order[0])))
		order[norder++] = r->id;
	r->seen_now = now;
	if (r->interval > 0) {
		r->orun += hrt_forward(t, now, r->interval);
		return HRT_RESTART;
	}
	return HRT_NORESTART;
}

static void rec_init(struct rec_timer *r, int id, unsigned int clock)
{
	memset(r, 0, sizeof(*r));
	hrt_timer_init(&r->t, clock, rec_fn, NULL);
	r->id = id;
}

/* The owner's side: a fake MONOTONIC clock and the last reprogram request. */
static int64_t fake_now;
static int64_t programmed;
static int nprogram;

static int64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static void fake_reprogram(void *ctx, int64_t expires)
{
	(void)ctx;
	programmed = expires;
	nprogram++;
}

static const struct hrt_ops fake_ops = { fake_clock, fake_reprogram };

static void setup(void)
{
	fake_now = 0;
	programmed = HRT_TIME_MAX;
	nprogram = 0;
	norder = 0;
}

/* ---- hrt_forward: the kernel's hrtimer_forward() overrun arithmetic ---- */

static const struct fwd_case {
	int64_t soft, slack, now, interval; /* hard = soft + slack */
	uint64_t orun;
	int64_t new_expires; /* hard */
} fwd_cases[] = {
	/* not expired yet: 0, unchanged */
	{ 1000, 0, 999, 100, 0, 1000 },
	/* exactly at expiry: one period */
	{ 1000, 0, 1000, 100, 1, 1100 },
	/* delta < interval: one period */
	{ 1000, 0, 1050, 100, 1, 1100 },
	/* delta == interval: orun 1 lands on now, not > now, so 2 */
	{ 1000, 0, 1100, 100, 2, 1200 },
	/* delta an exact multiple (3 intervals): 3 lands on now, so 4 */
	{ 1000, 0, 1300, 100, 4, 1400 },
	/* delta not a multiple: 3 whole periods + the current one */
	{ 1000, 0, 1350, 100, 4, 1400 },
	/* interval below the 1 ns resolution is floored to 1 ns */
	{ 1000, 0, 1005, 0, 6, 1006 },
	{ 1000, 0, 1005, -7, 6, 1006 },
	{ 1000, 0, 1000, 0, 1, 1001 },
	/* delta is taken from the HARD expiry: inside the slack window nothing moves */
	{ 1000, 500, 1200, 100, 0, 1500 },
	{ 1000, 500, 1500, 100, 1, 1600 },
	/* negative times (ktime_t is signed) */
	{ -1000, 0, -50, 100, 10, 0 },
	/* a big jump: 10^6 periods of 1 ms */
	{ 0, 0, 1000 * SEC - 1, 1 * MS, 1000000, 1000 * SEC },
};

START_TEST(test_forward_table)
{
	const struct fwd_case *c = &fwd_cases[_i];
	struct hrt_timer t;
	uint64_t orun;

	hrt_timer_init(&t, HRT_BASE_MONOTONIC, NULL, NULL);
	t.softexpires = c->soft;
	t.expires = c->soft + c->slack;
	orun = hrt_forward(&t, c->now, c->interval);
	ck_assert_msg(orun == c->orun, "case %d: orun %" PRIu64 ", expected %" PRIu64, _i, orun,
		      c->orun);
	ck_assert_int_eq(t.expires, c->new_expires);
	/* both expiries move together: the slack is kept */
	ck_assert_int_eq(t.expires - t.softexpires, c->slack);
	/* the kernel's guarantee: once forwarded, the expiry is strictly after now */
	if (orun)
		ck_assert_int_gt(t.expires, c->now);
}
END_TEST

/* hrt_forward_soft: the same arithmetic from the soft expiry; the slack is kept. */
static const struct fwd_case fwd_soft_cases[] = {
	/* before the soft expiry: nothing */
	{ 1000, 500, 999, 100, 0, 1500 },
	/* inside the slack window: hrt_forward would not move (see above), this does */
	{ 1000, 500, 1200, 100, 3, 1800 },
	{ 1000, 500, 1000, 100, 1, 1600 },
	/* past the hard expiry */
	{ 1000, 500, 1550, 100, 6, 2100 },
	/* zero slack: identical to hrt_forward */
	{ 1000, 0, 1350, 100, 4, 1400 },
	{ 1000, 0, 1100, 100, 2, 1200 },
};

START_TEST(test_forward_soft_table)
{
	const struct fwd_case *c = &fwd_soft_cases[_i];
	struct hrt_timer t;
	uint64_t orun;

	hrt_timer_init(&t, HRT_BASE_MONOTONIC, NULL, NULL);
	t.softexpires = c->soft;
	t.expires = c->soft + c->slack;
	orun = hrt_forward_soft(&t, c->now, c->interval);
	ck_assert_msg(orun == c->orun, "case %d: orun %" PRIu64 ", expected %" PRIu64, _i, orun,
		      c->orun);
	ck_assert_int_eq(t.expires, c->new_expires);
	ck_assert_int_eq(t.expires - t.softexpires, c->slack);
	/* still on the grid soft + k * interval, and the soft expiry is past now */
	ck_assert_int_eq((t.softexpires - c->soft) % (c->interval > 0 ? c->interval : 1), 0);
	if (orun)
		ck_assert_int_gt(t.softexpires, c->now);
}
END_TEST

/* A periodic timer with slack run anywhere in its window (or late) stays on
 * value + k * interval and its overruns add up to the periods elapsed. */
static enum hrt_restart soft_periodic_fn(struct hrt_timer *t, int64_t now)
{
	struct rec_timer *r = rec_of(t);

	r->orun += hrt_forward_soft(t, now, r->interval);
	r->seen_now = now;
	return HRT_RESTART;
}

START_TEST(test_periodic_slack_sum)
{
	struct hrt_queue q;
	struct rec_timer r;
	uint64_t seed = tk_test_seed() | 1;
	int64_t now = 0, value = 1000, interval = 100, slack = 40;
	int bad_grid = 0;

	setup();
	hrt_init(&q, &fake_ops, NULL);
	memset(&r, 0, sizeof(r));
	hrt_timer_init(&r.t, HRT_BASE_MONOTONIC, soft_periodic_fn, NULL);
	r.interval = interval;
	hrt_start(&q, &r.t, value, (uint64_t)slack, HRT_MODE_ABS);
	for (int i = 0; i < 10000; i++) {
		/* wake somewhere in [soft, hard], sometimes several periods late */
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		now = hrt_next_soft(&q) + (int64_t)((seed >> 33) % (uint64_t)(slack + 1));
		if ((seed >> 20) % 10 == 0)
			now += (int64_t)((seed >> 40) % 1000);
		hrt_run(&q, now);
		bad_grid += (r.t.softexpires - value) % interval != 0 ||
			    r.t.expires != r.t.softexpires + slack || r.t.softexpires <= now;
	}
	ck_assert_int_eq(bad_grid, 0);
	/* every period from value up to the last run counted exactly once */
	ck_assert_uint_eq(r.orun, (uint64_t)((now - value) / interval + 1));
	hrt_fini(&q);
}
END_TEST

/* Leap second (inserted): the timekeeper moves REALTIME's offset back by 1 s
 * and leaves TAI's (TAI - REALTIME grows by 1 s). An absolute REALTIME timer
 * now expires 1 s later on MONOTONIC; an absolute TAI timer does not move. */
START_TEST(test_leap_second_realtime_vs_tai)
{
	struct hrt_queue q;
	struct rec_timer real, tai;
	const int64_t roff = 1000000 * SEC, toff = roff + 37 * SEC;

	setup();
	hrt_init(&q, &fake_ops, NULL);
	hrt_set_offsets(&q, roff, 0, toff);
	rec_init(&real, 1, HRT_BASE_REALTIME);
	rec_init(&tai, 2, HRT_BASE_TAI);
	/* both at MONOTONIC 10 s: REALTIME roff + 10 s, TAI toff + 10 s */
	hrt_start(&q, &real.t, roff + 10 * SEC, 0, HRT_MODE_ABS);
	hrt_start(&q, &tai.t, toff + 10 * SEC, 0, HRT_MODE_ABS);
	ck_assert_int_eq(hrt_next_hard(&q), 10 * SEC);
	/* the leap second at MONOTONIC 5 s */
	hrt_set_offsets(&q, roff - SEC, 0, toff);
	ck_assert_int_eq(hrt_next_hard(&q), 10 * SEC); /* TAI's: unchanged */
	ck_assert_int_eq(programmed, 10 * SEC);
	ck_assert_uint_eq(hrt_run(&q, 10 * SEC), 1);
	ck_assert_int_eq(order[0], 2);
	ck_assert_int_eq(tai.seen_now, toff + 10 * SEC);
	ck_assert_int_eq(hrt_next_hard(&q), 11 * SEC); /* REALTIME's: re-evaluated, 1 s later */
	ck_assert_uint_eq(hrt_run(&q, 11 * SEC - 1), 0);
	ck_assert_uint_eq(hrt_run(&q, 11 * SEC), 1);
	ck_assert_int_eq(real.seen_now, roff + 10 * SEC); /* at its own clock's time */
	hrt_fini(&q);
}
END_TEST

/* The heaps give memory back: after a burst the capacity halves down to the
 * minimum, and a running timer's re-enqueue never fails meanwhile. */
START_TEST(test_heap_shrinks)
{
	struct hrt_queue q;
	const size_t n = 100000;
	struct rec_timer *v = calloc(n, sizeof(*v));

	ck_assert_ptr_nonnull(v);
	setup();
	hrt_init(&q, &fake_ops, NULL);
	for (size_t i = 0; i < n; i++) {
		rec_init(&v[i], (int)i, HRT_BASE_MONOTONIC);
		v[i].interval = i % 2 ? 1000 : 0; /* half of them periodic */
		hrt_start(&q, &v[i].t, (int64_t)i, 0, HRT_MODE_ABS);
	}
	ck_assert_uint_ge(q.heap[0].cap, n);
	ck_assert_uint_le(q.heap[0].cap, 2 * n);
	/* the one-shots run and leave, the periodic ones come back each time */
	hrt_run(&q, (int64_t)n);
	ck_assert_uint_eq(hrt_count(&q), n / 2);
	for (size_t i = 0; i < n; i++)
		hrt_cancel(&v[i].t);
	ck_assert_uint_eq(hrt_count(&q), 0);
	ck_assert_uint_le(q.heap[0].cap, 16);
	hrt_fini(&q);
	free(v);
}
END_TEST

START_TEST(test_forward_queued_and_saturation)
{
	struct hrt_queue q;
	struct rec_timer r;

	setup();
	hrt_init(&q, &fake_ops, NULL);
	rec_init(&r, 1, HRT_BASE_MONOTONIC);
	ck_assert_int_eq(hrt_start(&q, &r.t, 100, 0, HRT_MODE_ABS), 0);
	/* forwarding a queued timer is refused (the kernel WARNs) */
	ck_assert_uint_eq(hrt_forward(&r.t, 1000, 10), 0);
	ck_assert_int_eq(r.t.expires, 100);
	hrt_cancel(&r.t);

	/* saturating: the new expiry clamps at KTIME_SEC_MAX seconds, never HRT_TIME_MAX */
	r.t.expires = r.t.softexpires = HRT_TIME_SAFE_MAX - 10;
	ck_assert_uint_eq(hrt_forward(&r.t, HRT_TIME_SAFE_MAX - 5, SEC), 1);
	ck_assert_int_eq(r.t.expires, HRT_TIME_SAFE_MAX);

	/* hard = soft + slack saturates too */
	ck_assert_int_eq(hrt_start(&q, &r.t, HRT_TIME_SAFE_MAX - 10, UINT64_MAX, HRT_MODE_ABS), 0);
	ck_assert_int_eq(r.t.softexpires, HRT_TIME_SAFE_MAX - 10);
	ck_assert_int_eq(r.t.expires, HRT_TIME_SAFE_MAX);
	ck_assert_int_eq(hrt_next_hard(&q), HRT_TIME_SAFE_MAX);
	hrt_fini(&q);
}
END_TEST

/* ---- soft/hard expiry: run in hard-expiry order, stop at a soft expiry ahead ---- */

START_TEST(test_soft_hard_order)
{
	struct hrt_queue q;
	struct rec_timer a, b;

	setup();
	hrt_init(&q, &fake_ops, NULL);
	rec_init(&a, 1, HRT_BASE_MONOTONIC);
	rec_init(&b, 2, HRT_BASE_MONOTONIC);
	/* a: window [400, 500] (leftmost by hard expiry); b: window [100, 1000] */
	hrt_start(&q, &a.t, 400, 100, HRT_MODE_ABS);
	hrt_start(&q, &b.t, 100, 900, HRT_MODE_ABS);
	ck_assert_int_eq(hrt_next_hard(&q), 500);
	ck_assert_int_eq(hrt_next_soft(&q), 400); /* the leftmost's soft expiry, not b's */
	ck_assert_int_eq(programmed, 500);

	/* b's window is open but the leftmost (a) is not soft-expired: nothing runs */
	ck_assert_uint_eq(hrt_run(&q, 200), 0);
	ck_assert_int_eq(norder, 0);
	ck_assert(hrt_is_queued(&b.t));

	/* a's window opens before its hard expiry: a runs, and then b (window open) */
	ck_assert_uint_eq(hrt_run(&q, 450), 2);
	ck_assert_int_eq(norder, 2);
	ck_assert_int_eq(order[0], 1);
	ck_assert_int_eq(order[1], 2);
	ck_assert_int_eq(hrt_count(&q), 0);
	ck_assert_int_eq(programmed, HRT_TIME_MAX); /* empty: disarm */
	hrt_fini(&q);
}
END_TEST

START_TEST(test_fifo_equal_expiry)
{
	struct hrt_queue q;
	struct rec_timer r[40];

	setup();
	hrt_init(&q, &fake_ops, NULL);
	for (int i = 0; i < 40; i++) {
		rec_init(&r[i], i, HRT_BASE_MONOTONIC);
		hrt_start(&q, &r[i].t, 1000, 0, HRT_MODE_ABS);
	}
	/* cancel and re-start timer 5: it goes to the back, like rb_add_cached */
	ck_assert_int_eq(hrt_cancel(&r[5].t), 1);
	ck_assert_int_eq(hrt_cancel(&r[5].t), 0);
	hrt_start(&q, &r[5].t, 1000, 0, HRT_MODE_ABS);
	/* re-starting a queued timer also moves it to the back */
	hrt_start(&q, &r[7].t, 1000, 0, HRT_MODE_ABS);
	ck_assert_uint_eq(hrt_run(&q, 1000), 40);
	for (int i = 0, k = 0; i < 40; i++) {
		if (i == 5 || i == 7)
			continue;
		ck_assert_int_eq(order[k++], i);
	}
	ck_assert_int_eq(order[38], 5);
	ck_assert_int_eq(order[39], 7);
	hrt_fini(&q);
}
END_TEST

/* ---- clock bases ---- */

START_TEST(test_rel_realtime_on_monotonic)
{
	struct hrt_queue q;
	struct rec_timer rel, absr;

	setup();
	hrt_init(&q, &fake_ops, NULL);
	hrt_set_offsets(&q, 1000 * SEC, 0, 1037 * SEC);
	fake_now = 5 * SEC;
	rec_init(&rel, 1, HRT_BASE_REALTIME);
	rec_init(&absr, 2, HRT_BASE_REALTIME);
	/* relative 1 s on REALTIME: the POSIX rule puts it on MONOTONIC */
	hrt_start(&q, &rel.t, 1 * SEC, 0, HRT_MODE_REL);
	ck_assert_int_eq(rel.t.base, HRT_BASE_MONOTONIC);
	ck_assert_int_eq(rel.t.clock, HRT_BASE_REALTIME);
	ck_assert(rel.t.is_rel);
	ck_assert_int_eq(rel.t.expires, 6 * SEC);
	/* absolute REALTIME at wall 1006 s = mono 6 s */
	hrt_start(&q, &absr.t, 1006 * SEC, 0, HRT_MODE_ABS);
	ck_assert_int_eq(absr.t.base, HRT_BASE_REALTIME);
	ck_assert_int_eq(hrt_next_hard(&q), 6 * SEC);

	/* the wall clock is stepped 2 s forward: only the absolute timer comes nearer */
	hrt_set_offsets(&q, 1002 * SEC, 0, 1039 * SEC);
	ck_assert_int_eq(hrt_next_hard(&q), 4 * SEC);
	ck_assert_int_eq(programmed, 4 * SEC);
	ck_assert_uint_eq(hrt_run(&q, 4 * SEC), 1);
	ck_assert_int_eq(order[0], 2);
	ck_assert_int_eq(absr.seen_now, 1006 * SEC); /* the callback sees its base's now */
	ck_assert_int_eq(programmed, 6 * SEC);
	ck_assert_uint_eq(hrt_run(&q, 6 * SEC - 1), 0);
	ck_assert_uint_eq(hrt_run(&q, 6 * SEC), 1);
	ck_assert_int_eq(order[1], 1);
	ck_assert_int_eq(rel.seen_now, 6 * SEC);
	hrt_fini(&q);
}
END_TEST

START_TEST(test_clock_was_set_tai_boot)
{
	struct hrt_queue q;
	struct rec_timer tai, boot, mono, relboot;

	setup();
	hrt_init(&q, &fake_ops, NULL);
	hrt_set_offsets(&q, 100 * SEC, 0, 137 * SEC);
	rec_init(&tai, 1, HRT_BASE_TAI);
	rec_init(&boot, 2, HRT_BASE_BOOTTIME);
	rec_init(&mono, 3, HRT_BASE_MONOTONIC);
	rec_init(&relboot, 4, HRT_BASE_BOOTTIME);
	hrt_start(&q, &tai.t, 147 * SEC, 0, HRT_MODE_ABS);   /* mono 10 s */
	hrt_start(&q, &boot.t, 8 * SEC, 0, HRT_MODE_ABS);    /* mono 8 s */
	hrt_start(&q, &mono.t, 9 * SEC, 0, HRT_MODE_ABS);    /* mono 9 s */
	hrt_start(&q, &relboot.t, 1 * SEC, 0, HRT_MODE_REL); /* boot 0+1 s: BOOTTIME stays */
	ck_assert_int_eq(relboot.t.base, HRT_BASE_BOOTTIME);
	ck_assert_int_eq(hrt_next_hard(&q), 1 * SEC);
	hrt_cancel(&relboot.t);
	ck_assert_int_eq(hrt_next_hard(&q), 8 * SEC);
	ck_assert_int_eq(programmed, 8 * SEC);

	/* resume from a 5 s suspend: BOOTTIME moves ahead of MONOTONIC by 5 s */
	hrt_set_offsets(&q, 105 * SEC, 5 * SEC, 142 * SEC);
	ck_assert_int_eq(hrt_next_hard(&q), 3 * SEC);
	ck_assert_int_eq(programmed, 3 * SEC);
	/* TAI stepped back a lot: its timer lies beyond mono's */
	hrt_set_offsets(&q, 105 * SEC, 5 * SEC, 100 * SEC);
	ck_assert_int_eq(hrt_next_hard(&q), 3 * SEC);
	ck_assert_uint_eq(hrt_run(&q, 46 * SEC), 2);
	ck_assert_int_eq(order[0], 3); /* bases run in index order: MONOTONIC (9 s) first, */
	ck_assert_int_eq(order[1], 2); /* then BOOTTIME (3 s) */
	ck_assert_int_eq(hrt_next_hard(&q), 47 * SEC);
	ck_assert_uint_eq(hrt_run(&q, 47 * SEC), 1);
	ck_assert_int_eq(order[2], 1);
	/* expiry in the past of MONOTONIC clamps at 0 */
	hrt_set_offsets(&q, 0, 0, 0);
	hrt_start(&q, &tai.t, -5 * SEC, 0, HRT_MODE_ABS);
	ck_assert_int_eq(hrt_next_hard(&q), 0);
	hrt_fini(&q);
}
END_TEST

/* ---- reprogramming and callbacks ---- */

static struct rec_timer *victim;

static enum hrt_restart cancel_other_fn(struct hrt_timer *t, int64_t now)
{
	(void)t;
	(void)now;
	order[norder++] = 100;
	hrt_cancel(&victim->t);
	return HRT_NORESTART;
}

static enum hrt_restart self_free_fn(struct hrt_timer *t, int64_t now)
{
	(void)now;
	order[norder++] = 200;
	hrt_cancel(t); /* cancelled in its own callback: RESTART is ignored, t may go */
	memset(t, 0xa5, sizeof(*t));
	free(rec_of(t));
	return HRT_RESTART;
}

START_TEST(test_callbacks_rearm_cancel)
{
	struct hrt_queue q;
	struct rec_timer per, killer, victim_t, *selffree;

	setup();
	hrt_init(&q, &fake_ops, NULL);
	rec_init(&per, 1, HRT_BASE_MONOTONIC);
	per.interval = 100;
	rec_init(&killer, 2, HRT_BASE_MONOTONIC);
	killer.t.fn = cancel_other_fn;
	rec_init(&victim_t, 3, HRT_BASE_MONOTONIC);
	victim = &victim_t;
	selffree = malloc(sizeof(*selffree));
	ck_assert_ptr_nonnull(selffree);
	rec_init(selffree, 4, HRT_BASE_MONOTONIC);
	selffree->t.fn = self_free_fn;

	hrt_start(&q, &per.t, 100, 0, HRT_MODE_ABS);
	hrt_start(&q, &killer.t, 150, 0, HRT_MODE_ABS);
	hrt_start(&q, &victim_t.t, 160, 0, HRT_MODE_ABS);
	hrt_start(&q, &selffree->t, 170, 0, HRT_MODE_ABS);
	ck_assert_int_eq(programmed, 100);

	/* at 250: per (100) is forwarded past 250 to 300 (2 overruns), killer (150)
	 * cancels victim (160), selffree (170) frees itself */
	ck_assert_uint_eq(hrt_run(&q, 250), 3);
	ck_assert_int_eq(norder, 3);
	ck_assert_int_eq(order[0], 1);
	ck_assert_int_eq(order[1], 100);
	ck_assert_int_eq(order[2], 200);
	ck_assert(!hrt_is_queued(&victim_t.t));
	ck_assert_int_eq(hrt_count(&q), 1);
	ck_assert_int_eq(per.t.expires, 300);
	ck_assert_uint_eq(per.orun, 2);
	/* one reprogram at the end of the run, to the periodic timer */
	ck_assert_int_eq(programmed, 300);

	/* cancelling the next event reprograms to nothing */
	nprogram = 0;
	ck_assert_int_eq(hrt_cancel(&per.t), 1);
	ck_assert_int_eq(programmed, HRT_TIME_MAX);
	ck_assert_int_eq(nprogram, 1);
	/* a start that does not move the next event does not reprogram */
	hrt_start(&q, &per.t, 500, 0, HRT_MODE_ABS);
	hrt_start(&q, &killer.t, 600, 0, HRT_MODE_ABS);
	ck_assert_int_eq(nprogram, 2);
	ck_assert_int_eq(programmed, 500);
	hrt_fini(&q);
	ck_assert(!hrt_is_queued(&per.t));
}
END_TEST

/* ---- hrtimer_interrupt: three passes and the hang rule ---- */

static int64_t race_step;

/* A clock that jumps race_step per reading: every interrupt looks slow. */
static int64_t racing_clock(void *ctx)
{
	(void)ctx;
	fake_now += race_step;
	return fake_now;
}

START_TEST(test_interrupt_hang)
{
	struct hrt_queue q;
	struct rec_timer per, late;
	int64_t next;

	setup();
	hrt_init(&q, &fake_ops, NULL);
	rec_init(&per, 1, HRT_BASE_MONOTONIC);
	per.interval = 1 * MS;
	hrt_start(&q, &per.t, 1 * MS, 0, HRT_MODE_ABS);

	/* 50 ms per clock read: each pass leaves the 1 ms timer behind */
	race_step = 50 * MS;
	next = hrt_interrupt(&q, racing_clock, NULL);
	/* entry 50 ms; passes at 50, 100, 150 ms; the check after the third reads 200 ms */
	ck_assert_int_eq(norder, 3);
	ck_assert_uint_eq(q.nr_events, 1);
	ck_assert_uint_eq(q.nr_retries, 3);
	ck_assert_uint_eq(q.nr_hangs, 1);
	ck_assert(q.hang_detected);
	ck_assert_int_eq(q.max_hang_time, 150 * MS);
	/* forced back-off: now + min(150 ms, 100 ms) */
	ck_assert_int_eq(next, 200 * MS + 100 * MS);
	ck_assert_int_le(next - fake_now, 100 * MS);
	ck_assert_int_eq(per.t.expires, 151 * MS);
	ck_assert_uint_eq(per.orun, 50 + 50 + 50);

	/* while the hang is backed off, a new earliest timer does not reprogram */
	nprogram = 0;
	rec_init(&late, 2, HRT_BASE_MONOTONIC);
	hrt_start(&q, &late.t, 0, 0, HRT_MODE_ABS);
	hrt_cancel(&late.t);
	ck_assert_int_eq(nprogram, 0);

	/* a shorter hang: 20 ms per read, delay = time spent (60 ms) below the cap */
	race_step = 20 * MS;
	fake_now = 1000 * MS;
	hrt_start(&q, &per.t, 1000 * MS, 0, HRT_MODE_ABS);
	next = hrt_interrupt(&q, racing_clock, NULL);
	ck_assert_uint_eq(q.nr_hangs, 2);
	ck_assert_uint_eq(q.nr_retries, 6);
	ck_assert_int_eq(q.max_hang_time, 150 * MS); /* the maximum is kept */
	ck_assert_int_eq(next, 1080 * MS + 60 * MS);

	/* a calm clock: one pass, the next event is ahead, the hang flag clears */
	race_step = 10;
	fake_now = 2000 * MS;
	hrt_start(&q, &per.t, 2000 * MS, 0, HRT_MODE_ABS);
	next = hrt_interrupt(&q, racing_clock, NULL);
	ck_assert_int_eq(next, 2001 * MS);
	ck_assert(!q.hang_detected);
	ck_assert_uint_eq(q.nr_events, 3);
	ck_assert_uint_eq(q.nr_retries, 6);
	ck_assert_uint_eq(q.nr_hangs, 2);
	ck_assert_int_eq(q.expires_next, 2001 * MS);

	/* reprogramming works again */
	nprogram = 0;
	hrt_start(&q, &late.t, 0, 0, HRT_MODE_ABS);
	ck_assert_int_eq(nprogram, 1);
	ck_assert_int_eq(programmed, 0);
	hrt_fini(&q);
}
END_TEST

START_TEST(test_interrupt_retries)
{
	struct hrt_queue q;
	struct rec_timer a;
	int64_t next;

	setup();
	hrt_init(&q, &fake_ops, NULL);
	rec_init(&a, 1, HRT_BASE_MONOTONIC);
	a.interval = 30 * MS;
	hrt_start(&q, &a.t, 10 * MS, 0, HRT_MODE_ABS);
	/* 25 ms per read: entry 25, run -> 40; check 50 >= 40: retry; run at 50 -> 70;
	 * check 75 >= 70: retry; run at 75 -> 100; check 100 >= 100: hang. */
	race_step = 25 * MS;
	next = hrt_interrupt(&q, racing_clock, NULL);
	ck_assert_uint_eq(q.nr_retries, 3);
	ck_assert_uint_eq(q.nr_hangs, 1);
	ck_assert_int_eq(next, 100 * MS + 75 * MS);
	/* 40 ms per read with a 100 ms period: entry 40 -> 110 ahead of 80: no retry */
	a.interval = 100 * MS;
	fake_now = 1000 * MS;
	hrt_start(&q, &a.t, 1010 * MS, 0, HRT_MODE_ABS);
	race_step = 40 * MS;
	next = hrt_interrupt(&q, racing_clock, NULL);
	ck_assert_int_eq(next, 1110 * MS);
	ck_assert_uint_eq(q.nr_retries, 3);
	ck_assert_uint_eq(q.nr_hangs, 1);
	ck_assert(!q.hang_detected);
	/* empty queue: nothing to program */
	hrt_cancel(&a.t);
	ck_assert_int_eq(hrt_interrupt(&q, racing_clock, NULL), HRT_TIME_MAX);
	hrt_fini(&q);
}
END_TEST

/* ---- 10^6 timers ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

struct big_timer {
	struct hrt_timer t;
	uint32_t id;
};

static int64_t big_last_exp;
static uint64_t big_last_seq;
static size_t big_ran;
static bool big_bad_order;

static enum hrt_restart big_fn(struct hrt_timer *t, int64_t now)
{
	if (t->expires < big_last_exp || (t->expires == big_last_exp && t->seq < big_last_seq) ||
	    now < t->softexpires)
		big_bad_order = true;
	big_last_exp = t->expires;
	big_last_seq = t->seq;
	big_ran++;
	return HRT_NORESTART;
}

START_TEST(test_million)
{
	const size_t n = 1000000;
	struct big_timer *v = malloc(n * sizeof(*v));
	struct hrt_queue q;
	size_t cancelled = 0, left, fails = 0;
	int64_t prev_next = -1;

	ck_assert_ptr_nonnull(v);
	setup();
	rng_state = tk_test_seed();
	hrt_init(&q, &fake_ops, NULL);
	/* No ck_assert inside the big loops: each one is a message to the parent. */
	for (size_t i = 0; i < n; i++) {
		hrt_timer_init(&v[i].t, HRT_BASE_MONOTONIC, big_fn, NULL);
		v[i].id = (uint32_t)i;
		/* a narrow range of expiries so equal keys are common */
		fails += hrt_start(&q, &v[i].t, (int64_t)(rng() % 100000), rng() % 3,
				   HRT_MODE_ABS) != 0;
	}
	ck_assert_uint_eq(fails, 0);
	ck_assert_uint_eq(hrt_count(&q), n);
	for (size_t i = 0; i < n; i++) {
		if (rng() & 1) {
			fails += hrt_cancel(&v[i].t) != 1;
			cancelled++;
		}
	}
	ck_assert_uint_eq(fails, 0);
	left = n - cancelled;
	ck_assert_uint_eq(hrt_count(&q), left);
	big_last_exp = INT64_MIN;
	big_ran = 0;
	/* run in steps of 1000 ns: each step's next event never goes backwards */
	for (int64_t now = 0; hrt_count(&q); now += 1000) {
		int64_t nx = hrt_next_hard(&q);

		fails += nx < prev_next;
		prev_next = nx;
		hrt_run(&q, now);
	}
	ck_assert_uint_eq(fails, 0);
	ck_assert(!big_bad_order);
	ck_assert_uint_eq(big_ran, left);
	for (size_t i = 0; i < n; i++)
		fails += hrt_is_queued(&v[i].t);
	ck_assert_uint_eq(fails, 0);
	hrt_fini(&q);
	free(v);
}
END_TEST

/* ---- dump ---- */

START_TEST(test_dump)
{
	struct hrt_queue q;
	struct rec_timer a, b, c;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	setup();
	hrt_init(&q, &fake_ops, NULL);
	hrt_set_offsets(&q, 1000, 0, 1037);
	rec_init(&a, 1, HRT_BASE_MONOTONIC);
	a.t.name = "watchdog";
	rec_init(&b, 2, HRT_BASE_MONOTONIC);
	b.t.name = "update";
	rec_init(&c, 3, HRT_BASE_REALTIME);
	hrt_start(&q, &a.t, 300, 50, HRT_MODE_ABS);
	hrt_start(&q, &b.t, 100, 50, HRT_MODE_ABS);
	hrt_start(&q, &c.t, 1500, 0, HRT_MODE_ABS);
	q.nr_hangs = 7;

	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(hrt_dump(&q, f, 50), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "now at 50 nsecs\n"));
	ck_assert_ptr_nonnull(strstr(buf, " clock 0:\n"));
	ck_assert_ptr_nonnull(strstr(buf, " clock 3:\n"));
	ck_assert_ptr_nonnull(strstr(buf, "  .offset:     1037 nsecs\n"));
	ck_assert_ptr_nonnull(strstr(buf, "active timers:\n #0: <"));
	/* expiry order, not insertion order; soft-hard and the remaining times */
	ck_assert_ptr_nonnull(strstr(buf, ">, update, S:01\n"
					  " # expires at 100-150 nsecs [in 50 to 100 nsecs]\n"));
	ck_assert_ptr_nonnull(strstr(buf, " #1: <"));
	ck_assert_ptr_nonnull(strstr(buf, ">, watchdog, S:01\n"
					  " # expires at 300-350 nsecs [in 250 to 300 nsecs]\n"));
	ck_assert(strstr(buf, "update") < strstr(buf, "watchdog"));
	/* REALTIME: now is 1050 in that clock */
	ck_assert_ptr_nonnull(strstr(buf, " # expires at 1500-1500 nsecs [in 450 to 450 nsecs]\n"));
	ck_assert_ptr_nonnull(strstr(buf, "  .expires_next   : 150 nsecs\n"));
	ck_assert_ptr_nonnull(strstr(buf, "  .nr_events      : 0\n"));
	ck_assert_ptr_nonnull(strstr(buf, "  .nr_retries     : 0\n"));
	ck_assert_ptr_nonnull(strstr(buf, "  .nr_hangs       : 7\n"));
	ck_assert_ptr_nonnull(strstr(buf, "  .max_hang_time  : 0\n"));
	free(buf);
	hrt_fini(&q);
}
END_TEST

START_TEST(test_unknown_clock_and_rel_without_now)
{
	struct hrt_queue q;
	struct rec_timer r;

	setup();
	hrt_init(&q, NULL, NULL); /* no ops: relative starts count from the last run */
	rec_init(&r, 1, 42);
	ck_assert_int_eq(r.t.clock, HRT_BASE_MONOTONIC);
	hrt_run(&q, 7000);
	hrt_start(&q, &r.t, 100, 0, HRT_MODE_REL);
	ck_assert_int_eq(r.t.expires, 7100);
	ck_assert_int_eq(hrt_next_hard(&q), 7100);
	ck_assert_uint_eq(hrt_run(&q, 7100), 1);
	hrt_fini(&q);
}
END_TEST

/* hrt_snapshot: base by base, each in expiry order, paged by skip/cap. */
START_TEST(test_snapshot)
{
	struct hrt_queue q;
	struct hrt_timer t[5];
	const struct hrt_timer *v[8];
	static const unsigned int clock[5] = { HRT_BASE_REALTIME, HRT_BASE_MONOTONIC,
					       HRT_BASE_MONOTONIC, HRT_BASE_TAI,
					       HRT_BASE_MONOTONIC };
	static const int64_t exp[5] = { 10, 300, 100, 5, 200 };
	/* expected order: mono 100 (2), 200 (4), 300 (1); realtime 10 (0); tai 5 (3) */
	static const int want[5] = { 2, 4, 1, 0, 3 };

	hrt_init(&q, &fake_ops, NULL);
	ck_assert_int_eq(hrt_snapshot(&q, v, 0, 8), 0);
	for (int i = 0; i < 5; i++) {
		hrt_timer_init(&t[i], clock[i], rec_fn, NULL);
		ck_assert_int_eq(hrt_start(&q, &t[i], exp[i], 0, HRT_MODE_ABS), 0);
	}
	ck_assert_int_eq(hrt_snapshot(&q, v, 0, 8), 5);
	for (int i = 0; i < 5; i++)
		ck_assert_ptr_eq(v[i], &t[want[i]]);
	ck_assert_int_eq(hrt_snapshot(&q, v, 2, 2), 2);
	ck_assert_ptr_eq(v[0], &t[1]);
	ck_assert_ptr_eq(v[1], &t[0]);
	ck_assert_int_eq(hrt_snapshot(&q, v, 4, 8), 1);
	ck_assert_ptr_eq(v[0], &t[3]);
	ck_assert_int_eq(hrt_snapshot(&q, v, 5, 8), 0);
	ck_assert_int_eq(hrt_snapshot(&q, v, 0, 0), 0);
	hrt_fini(&q);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hrt");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_forward_table, 0, sizeof(fwd_cases) / sizeof(fwd_cases[0]));
	tcase_add_test(tc, test_forward_queued_and_saturation);
	tcase_add_loop_test(tc, test_forward_soft_table, 0,
			    sizeof(fwd_soft_cases) / sizeof(fwd_soft_cases[0]));
	tcase_add_test(tc, test_periodic_slack_sum);
	tcase_add_test(tc, test_leap_second_realtime_vs_tai);
	tcase_add_test(tc, test_heap_shrinks);
	tcase_add_test(tc, test_soft_hard_order);
	tcase_add_test(tc, test_fifo_equal_expiry);
	tcase_add_test(tc, test_rel_realtime_on_monotonic);
	tcase_add_test(tc, test_clock_was_set_tai_boot);
	tcase_add_test(tc, test_callbacks_rearm_cancel);
	tcase_add_test(tc, test_interrupt_hang);
	tcase_add_test(tc, test_interrupt_retries);
	tcase_add_test(tc, test_dump);
	tcase_add_test(tc, test_snapshot);
	tcase_add_test(tc, test_unknown_clock_and_rel_without_now);
	suite_add_tcase(s, tc);

	tc = tcase_create("scale");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_million);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
