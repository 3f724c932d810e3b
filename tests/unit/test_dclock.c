// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's clock part (src/daemon/clock.c) on a simulated HPET and a
 * fake clock: its listeners hear steps, clock_was_set and rebases, in the
 * order they registered, only for the kinds they asked for, with the
 * request and the old offsets; they can leave; the list is bounded.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clocksource.h"
#include "core/evl.h"
#include "core/hrt.h"
#include "core/pagew.h"
#include "daemon/clock.h"
#include "daemon/internal.h"
#include "hw/simhw.h"
#include "tk_check.h"

#define SEC NSEC_PER_SEC

static struct daemon d;
static struct clocksource hpet;
static uint64_t fake_ns;

static uint64_t hw_now(void *ctx)
{
	(void)ctx;
	return fake_ns;
}

static void hw_delay(void *ctx, uint64_t ns)
{
	(void)ctx;
	fake_ns += ns;
}

static const struct sim_clock hwclk = { hw_now, hw_delay, NULL };

/* What the listeners heard, in order. */
struct heard {
	int who;
	enum clock_event_kind kind;
	int64_t step_sec;
	int64_t old_real, new_real;
	bool switched;
	double rate_ppb;
};

static struct heard log_[32];
static size_t nlog;
static int ids[3] = { 1, 2, 3 };

static void listener(void *ctx, const struct clock_event *ev)
{
	struct heard *h = &log_[nlog++];

	ck_assert_uint_lt(nlog, 32);
	memset(h, 0, sizeof(*h));
	h->who = *(int *)ctx;
	h->kind = ev->kind;
	if (ev->kind == CLOCK_EV_STEP) {
		ck_assert_ptr_nonnull(ev->tx);
		h->step_sec = ev->tx->time_sec;
	}
	if (ev->kind == CLOCK_EV_SET) {
		ck_assert_ptr_nonnull(ev->old_offsets);
		h->old_real = ev->old_offsets[HRT_BASE_REALTIME];
		h->new_real = d.q->offset[HRT_BASE_REALTIME];
	}
	h->switched = ev->switched;
	h->rate_ppb = ev->rate_ppb;
}

static void other(void *ctx, const struct clock_event *ev)
{
	(void)ctx;
	(void)ev;
}

static void setup(void)
{
	struct sim_conf sc;
	struct cs_entry *e;
	struct tkc_start st = { .real = { 1700000000, 0 },
				.mono = { 1000, 0 },
				.boot = { 1000, 0 },
				.raw = { 1000, 0 },
				.tai_offset = 37 };

	memset(&d, 0, sizeof(d));
	nlog = 0;
	fake_ns = 1000 * SEC;
	conf_defaults(&d.conf);
	d.update_ns = 10 * NSEC_PER_MSEC;
	bound_init(&d.bound);
	simconf_default(&sc);
	cs_registry_init(&d.reg);
	ck_assert_int_eq(simhw_create(SIM_HPET, &sc, &hwclk, 0, &hpet), 0);
	e = cs_register(&d.reg, &hpet);
	ck_assert_ptr_nonnull(e);
	ck_assert(e->have_arith);
	ck_assert_int_eq(tkc_init(&d.tk, &hpet, &e->ar, 100, &st), 0);
	d.tk_entry = e;
	ck_assert_int_eq(evl_new(&d.loop), 0);
	d.q = evl_timers(d.loop);
	ck_assert_int_eq(clock_init(&d), 0);
}

static void teardown(void)
{
	clock_free(&d);
	evl_free(d.loop);
}

START_TEST(test_before_init)
{
	struct daemon none;

	memset(&none, 0, sizeof(none));
	ck_assert_int_eq(clock_listen(&none, CLOCK_EV_STEP, listener, &ids[0]), -EINVAL);
	clock_unlisten(&none, listener, &ids[0]); /* nothing to do, no crash */
}
END_TEST

START_TEST(test_step_order_and_kinds)
{
	int64_t real0;

	ck_assert_int_eq(clock_listen(&d, CLOCK_EV_STEP, listener, &ids[0]), 0);
	ck_assert_int_eq(clock_listen(&d, CLOCK_EV_SET, listener, &ids[1]), 0);
	ck_assert_int_eq(clock_listen(&d, CLOCK_EV_STEP | CLOCK_EV_SET, listener, &ids[2]), 0);
	daemon_sync_offsets(&d);
	ck_assert_uint_eq(nlog, 2); /* a clock_was_set: 2 and 3 only */
	ck_assert_int_eq(log_[0].who, 2);
	ck_assert_int_eq(log_[1].who, 3);
	real0 = d.q->offset[HRT_BASE_REALTIME];
	nlog = 0;

	ck_assert_int_ge(daemon_step(&d, 5 * SEC), 0);
	/* The bases move first (SET), then the step is told (STEP). */
	ck_assert_uint_eq(nlog, 4);
	ck_assert_int_eq(log_[0].who, 2);
	ck_assert_int_eq(log_[0].kind, CLOCK_EV_SET);
	ck_assert_int_eq(log_[0].old_real, real0);
	ck_assert_int_eq(log_[0].new_real - log_[0].old_real, 5 * SEC);
	ck_assert_int_eq(log_[1].who, 3);
	ck_assert_int_eq(log_[1].kind, CLOCK_EV_SET);
	ck_assert_int_eq(log_[2].who, 1);
	ck_assert_int_eq(log_[2].kind, CLOCK_EV_STEP);
	ck_assert_int_eq(log_[2].step_sec, 5);
	ck_assert_int_eq(log_[3].who, 3);
	ck_assert_int_eq(log_[3].kind, CLOCK_EV_STEP);
	/* A step widens the bound by the step. */
	ck_assert_int_ge(bound_at(&d.bound, daemon_now(&d)), 5 * SEC);
}
END_TEST

START_TEST(test_tai_is_a_set_not_a_step)
{
	struct ntp_timex tx = { .modes = NTP_ADJ_TAI, .constant = 38 };

	ck_assert_int_eq(clock_listen(&d, CLOCK_EV_STEP | CLOCK_EV_SET, listener, &ids[0]), 0);
	ck_assert_int_ge(daemon_adjtimex(&d, &tx), 0);
	ck_assert_uint_eq(nlog, 1);
	ck_assert_int_eq(log_[0].kind, CLOCK_EV_SET);
	nlog = 0;
	memset(&tx, 0, sizeof(tx)); /* a read: nothing to tell */
	ck_assert_int_ge(daemon_adjtimex(&d, &tx), 0);
	ck_assert_uint_eq(nlog, 0);
}
END_TEST

START_TEST(test_rebase_and_follow)
{
	ck_assert_int_eq(clock_listen(&d, CLOCK_EV_SOURCE, listener, &ids[1]), 0);
	ck_assert_int_eq(clock_rebase(&d), 0);
	ck_assert_uint_eq(nlog, 1);
	ck_assert_int_eq(log_[0].kind, CLOCK_EV_SOURCE);
	ck_assert(!log_[0].switched);
	/* The registry's current source is the timekeeper's: nothing moves. */
	nlog = 0;
	daemon_follow_current(&d);
	ck_assert_uint_eq(nlog, 0);
	/* Steps are not told to a listener of sources. */
	ck_assert_int_ge(daemon_step(&d, -SEC), 0);
	ck_assert_uint_eq(nlog, 0);
}
END_TEST

/* MONOTONIC's advance over 100 s of counter time, accumulated as the
 * update does. */
static int64_t mono_over_100s(void)
{
	struct timespec a, b;

	ck_assert_int_eq(tkc_get(&d.tk, CLOCK_MONOTONIC, &a), 0);
	for (int i = 0; i < 100; i++) {
		fake_ns += SEC;
		ck_assert_int_ge(tkc_advance(&d.tk), 0);
	}
	ck_assert_int_eq(tkc_get(&d.tk, CLOCK_MONOTONIC, &b), 0);
	return (b.tv_sec - a.tv_sec) * SEC + (b.tv_nsec - a.tv_nsec);
}

/* A new calibration of the same counter (its mult 20 ppm smaller: the
 * counter was found 20 ppm faster than thought) is told with the rate
 * change the clock then shows, which the NTP reference takes off its
 * frequency; a frequency is kept across it. */
START_TEST(test_rebase_rate)
{
	struct cs_entry *e = d.tk_entry;
	struct ntp_timex tx = { .modes = NTP_ADJ_FREQUENCY, .freq = 30 * 65536 };
	int64_t before, after;
	double seen;

	ck_assert_int_ge(tkc_adjtimex(&d.tk, &tx), 0);
	ck_assert_int_eq(clock_listen(&d, CLOCK_EV_SOURCE, listener, &ids[0]), 0);
	before = mono_over_100s();
	e->ar.mult = (uint32_t)((double)e->ar.mult * (1 - 20e-6));
	ck_assert_int_eq(clock_rebase(&d), 0);
	(void)mono_over_100s(); /* the frequency steers the new mult from the next update */
	after = mono_over_100s();
	ck_assert_uint_eq(nlog, 1);
	ck_assert(!log_[0].switched);
	seen = ((double)after / (double)before - 1) * 1e9;
	/* -20 ppm, less what mult's rounding down keeps */
	ck_assert_double_lt(fabs(log_[0].rate_ppb + 20000), 1);
	/* as the clock shows it, to within the reading's rounding (1 ns in 100 s), and
	 * the frequency times mult's rounding */
	ck_assert_double_lt(fabs(seen - log_[0].rate_ppb), 0.1);
	/* An unchanged arithmetic is no change of rate. */
	nlog = 0;
	ck_assert_int_eq(clock_rebase(&d), 0);
	ck_assert_double_eq(log_[0].rate_ppb, 0);
}
END_TEST

START_TEST(test_unlisten_and_bound)
{
	int n = 0;

	ck_assert_int_eq(clock_listen(&d, CLOCK_EV_SET, listener, &ids[0]), 0);
	ck_assert_int_eq(clock_listen(&d, CLOCK_EV_SET, listener, &ids[1]), 0);
	clock_unlisten(&d, listener, &ids[0]);
	clock_unlisten(&d, other, &ids[1]); /* another fn: stays */
	daemon_sync_offsets(&d);
	ck_assert_uint_eq(nlog, 1);
	ck_assert_int_eq(log_[0].who, 2);
	clock_unlisten(&d, listener, &ids[1]);
	/* The list is bounded (the page holds one place): -ENOSPC, not a crash. */
	while (clock_listen(&d, CLOCK_EV_SET, other, &ids[0]) == 0)
		ck_assert_int_lt(++n, 64);
	ck_assert_int_gt(n, 8);
	ck_assert_int_eq(clock_listen(&d, CLOCK_EV_SET, other, &ids[0]), -ENOSPC);
}
END_TEST

/* The page is published on the simulated HPET, so as a KCLOCK mapping
 * whose rate is not measured yet: it is updated every update_interval_ms
 * meanwhile. Any publish may end that (on the kclock source the mapping
 * hands over to the timekeeper itself), after which the next update is an
 * idle period away; the page must stay valid until then, or readers fall
 * back to the kernel's clock, which is not the daemon's, and see
 * CLOCK_MONOTONIC go back. */
START_TEST(test_page_valid_past_settling)
{
	char dir[] = "/tmp/tk_dclock.XXXXXX";
	char err[256], path[64];
	const struct tk_page *p;
	int64_t idle;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_msg(pagew_open(dir, &d.pw, err, sizeof(err)) == 0, "%s", err);
	daemon_publish(&d, 1000 * SEC);
	fake_ns += 10 * NSEC_PER_MSEC;
	ck_assert(pagew_settling(d.pw));
	idle = clock_page_idle_period(&d);
	ck_assert_int_eq(clock_page_period(&d), d.update_ns);
	ck_assert_int_gt(idle, d.update_ns);
	daemon_publish(&d, 1000 * SEC + 10 * NSEC_PER_MSEC);
	p = pagew_page(d.pw);
	ck_assert_uint_ge(p->status.valid_until_ns - p->status.last_update_ns, 4 * (uint64_t)idle);
	pagew_close(d.pw, true);
	d.pw = NULL;
	snprintf(path, sizeof(path), "%s/page", dir);
	unlink(path);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dclock");
	TCase *tc = tcase_create("listeners");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_before_init);
	tcase_add_test(tc, test_step_order_and_kinds);
	tcase_add_test(tc, test_tai_is_a_set_not_a_step);
	tcase_add_test(tc, test_rebase_and_follow);
	tcase_add_test(tc, test_rebase_rate);
	tcase_add_test(tc, test_unlisten_and_bound);
	tcase_add_test(tc, test_page_valid_past_settling);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
