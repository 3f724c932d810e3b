// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The error bound (core/bound.c): the model's sums, growth and status, and
 * what the page writer publishes from it (bound_ns at the HRES block's
 * cycle_last, maxerror_us the same rounded up, TK_PAGE_S_SYNC only with a
 * SYNCHRONIZED bound), including the defects it fixes: an unsynchronized
 * host never gives a microsecond bound, and NTP's bound grows at the stated
 * drift, not at adjtimex's 500 ppm.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <unistd.h>

#include "core/bound.h"
#include "core/ntpclient.h"
#include "core/pagew.h"
#include "core/tkview.h"
#include "tk_check.h"

#define NS INT64_C(1000000000)

START_TEST(test_system_sum)
{
	/* host maxerror 250 us, offset -3 us, window 1 us, granularity 2 ns */
	ck_assert_int_eq(bound_system(250, -3000, 1000, 2), 250000 + 3000 + 1000 + 2);
	/* the host's bound is part of it: never below it (the defect: 1-2 us
	 * from |offset| + window alone) */
	ck_assert_int_ge(bound_system(16000, 0, 0, 0), 16000000);
	ck_assert_int_eq(bound_system(-1, 0, 0, 0), BOUND_NONE);
	ck_assert_int_eq(bound_system(INT64_MAX, 0, 0, 0), BOUND_NONE);
	ck_assert_int_eq(bound_system(1, INT64_MIN, 0, 0), BOUND_NONE);
	ck_assert_int_eq(bound_system(1, 0, INT64_MAX, INT64_MAX), BOUND_NONE);
}
END_TEST

START_TEST(test_ntp_sum)
{
	struct bound_ntp_sample s = {
		.root_delay_ns = 10000,
		.root_disp_ns = 3000,
		.delay_ns = 40001,
		.disp_ns = 1000,
		.asymmetry = -0.25,
		.asym_delay_ns = 40000,
		.jitter_ns = 500,
		.residual_ns = -700,
	};

	/* 5000 + 3000 + 20001 (rounded up) + 1000 + 10000 + 500 + 700 */
	ck_assert_int_eq(bound_ntp(&s), 5000 + 3000 + 20001 + 1000 + 10000 + 500 + 700);
	s.root_disp_ns = INT64_MAX; /* a hostile packet cannot overflow it */
	ck_assert_int_eq(bound_ntp(&s), BOUND_NONE);
	s.root_disp_ns = -5; /* negative parts count as 0 */
	s.residual_ns = INT64_MIN;
	ck_assert_int_eq(bound_ntp(&s), BOUND_NONE);
}
END_TEST

START_TEST(test_drift)
{
	ck_assert_uint_eq(bound_drift(1000, 0, 3), 1000);
	ck_assert_uint_eq(bound_drift(1000, 100.2, 3), 1301);
	ck_assert_uint_eq(bound_drift(1000, -1, 3), BOUND_DRIFT_MAX_PPB); /* no estimate */
	ck_assert_uint_eq(bound_drift(1000, 1e300, 3), BOUND_DRIFT_MEASURED_MAX_PPB);
	/* a measured rate beyond the unmeasured 500 ppm is stated as measured */
	ck_assert_uint_eq(bound_drift(1000, 900000, 1), 901000);
	ck_assert_uint_eq(bound_drift(0, 0.0 / 0.0, 3), BOUND_DRIFT_MAX_PPB);
	/* the stated drift is never the kernel's blanket 500 ppm once measured */
	ck_assert_uint_lt(bound_drift(BOUND_DRIFT_DEFAULT_PPB, 20, 3), 2000);
}
END_TEST

START_TEST(test_growth_and_status)
{
	struct bound b;

	bound_init(&b);
	ck_assert_int_eq(bound_status_at(&b, 0), TK_PAGE_BS_UNKNOWN);
	ck_assert_int_eq(bound_at(&b, 0), BOUND_NONE);
	bound_lost(&b); /* never synchronized: still UNKNOWN */
	ck_assert_int_eq(b.status, TK_PAGE_BS_UNKNOWN);

	bound_sync(&b, 10 * NS, 5000, 1000, 8 * NS);
	ck_assert_int_eq(bound_status_at(&b, 11 * NS), TK_PAGE_BS_SYNCHRONIZED);
	ck_assert_int_eq(bound_at(&b, 10 * NS), 5000);
	ck_assert_int_eq(bound_at(&b, 9 * NS), 5000);
	ck_assert_int_eq(bound_at(&b, 12 * NS), 7000);	   /* 1 ppm for 2 s */
	ck_assert_int_eq(bound_at(&b, 10 * NS + 1), 5001); /* rounded up */
	ck_assert_int_eq(bound_status_at(&b, 18 * NS), TK_PAGE_BS_SYNCHRONIZED);
	ck_assert_int_eq(bound_status_at(&b, 18 * NS + 1), TK_PAGE_BS_FREE_RUNNING);
	/* Past staleness the holdover rate (5 ppm) applies, from the anchor;
	 * no overflow: ~9.2e18 ns at 5 ppm. */
	ck_assert_uint_eq(bound_drift_at(&b, 18 * NS), 1000);
	ck_assert_uint_eq(bound_drift_at(&b, 18 * NS + 1), BOUND_HOLDOVER_PPB);
	ck_assert_int_eq(bound_at(&b, 20 * NS), 5000 + 10 * 5000);
	ck_assert(bound_at(&b, INT64_MAX) > INT64_C(46116860000000) &&
		  bound_at(&b, INT64_MAX) < INT64_C(46116861000000));
	b.drift_ppb = UINT32_MAX;
	ck_assert_int_eq(bound_at(&b, INT64_MAX), BOUND_NONE);
	b.drift_ppb = 1000;

	bound_lost(&b); /* holdover: growing from the last good bound, at 5 ppm */
	ck_assert_int_eq(bound_status_at(&b, 11 * NS), TK_PAGE_BS_FREE_RUNNING);
	ck_assert_int_eq(bound_at(&b, 11 * NS), 10000);
	ck_assert_int_eq(bound_at(&b, 20 * NS), 55000);
	b.drift_ppb = 20000; /* a larger measured drift stands */
	ck_assert_int_eq(bound_at(&b, 11 * NS), 25000);
	b.drift_ppb = 1000;

	bound_moved(&b, -INT64_C(2000000)); /* a 2 ms step widens it */
	ck_assert_int_eq(bound_at(&b, 10 * NS), 2005000);
	bound_moved(&b, INT64_MIN);
	ck_assert_int_eq(bound_at(&b, 10 * NS), BOUND_NONE);

	bound_sync(&b, 30 * NS, 1000, 1000, 8 * NS);
	bound_disrupt(&b);
	ck_assert_int_eq(bound_status_at(&b, 31 * NS), TK_PAGE_BS_DISRUPTED);
	bound_lost(&b); /* stays disrupted */
	ck_assert_int_eq(bound_status_at(&b, 31 * NS), TK_PAGE_BS_DISRUPTED);
	ck_assert_int_eq(bound_at(&b, 31 * NS), 6000); /* disrupted: 5 ppm */
	bound_sync(&b, 32 * NS, 1000, 1000, 8 * NS);   /* the next good sample */
	ck_assert_int_eq(bound_status_at(&b, 32 * NS), TK_PAGE_BS_SYNCHRONIZED);

	bound_unknown(&b); /* an unsynchronized host: no bound at all */
	ck_assert_int_eq(bound_status_at(&b, 33 * NS), TK_PAGE_BS_UNKNOWN);
	ck_assert_int_eq(bound_at(&b, 33 * NS), BOUND_NONE);
	bound_lost(&b);
	ck_assert_int_eq(b.status, TK_PAGE_BS_UNKNOWN);
}
END_TEST

/* The frequency estimate's standard error: -1 without a fit, small for
 * points on a line, larger for noisy ones. */
START_TEST(test_slope_se)
{
	struct ntpc_disc d;
	double se_line, se_noisy;

	ntpc_disc_reset(&d);
	ntpc_disc_add(&d, 0, 0);
	ntpc_disc_add(&d, NS, 10);
	ck_assert(ntpc_disc_slope_se(&d) < 0);
	for (int i = 2; i < 16; i++)
		ntpc_disc_add(&d, i * NS, 10 * i);
	se_line = ntpc_disc_slope_se(&d);
	ck_assert(se_line >= 0 && se_line < 1e-6);
	ntpc_disc_reset(&d);
	for (int i = 0; i < 16; i++)
		ntpc_disc_add(&d, i * NS, (i & 1) ? 1000 : -1000);
	se_noisy = ntpc_disc_slope_se(&d);
	ck_assert_msg(se_noisy > 10 && se_noisy < 200, "se %g", se_noisy);
	/* the confidence half-width: Student's t for 14 degrees of freedom */
	ck_assert_double_eq_tol(ntpc_disc_slope_ci(&d), 4.140 * se_noisy, 1e-9);
	for (int i = 16; i < 40; i++) /* the window keeps the newest 32 */
		ntpc_disc_add(&d, i * NS, (i & 1) ? 1000 : -1000);
	ck_assert_double_eq_tol(ntpc_disc_slope_ci(&d), 3.646 * ntpc_disc_slope_se(&d), 1e-9);
	ntpc_disc_reset(&d);
	for (int i = 0; i < 8; i++)
		ntpc_disc_add(&d, i * NS, (i & 1) ? 1000 : -1000);
	ck_assert_double_eq_tol(ntpc_disc_slope_ci(&d), 5.959 * ntpc_disc_slope_se(&d), 1e-9);
	ntpc_disc_reset(&d);
	ntpc_disc_add(&d, 0, 0);
	ck_assert(ntpc_disc_slope_ci(&d) < 0);
}
END_TEST

/* --- the page ---------------------------------------------------------- */

static char dir[64];

static void tkv_min(struct tkv *v)
{
	memset(v, 0, sizeof(*v));
	v->mono.cycle_last = 1000;
	v->mono.mask = UINT64_MAX;
	v->mono.max_cycles = UINT64_MAX >> 4;
	v->mono.mult = 1u << 20;
	v->mono.shift = 20;
	v->mono.xtime_nsec = (uint64_t)250000000 << 20; /* REALTIME 1000000000.25 */
	v->raw = v->mono;
	v->xtime_sec = 1000000000;
	v->raw_sec = 50;
	v->wall_to_monotonic.sec = -1000000000 + 99; /* MONOTONIC 99.25 s at cycle_last */
	snprintf(v->cs_name, sizeof(v->cs_name), "hpet");
	v->ntp_status = STA_PLL;
	v->maxerror_us = 1500;
}

static const struct tk_page_status *publish(struct pagew *pw, struct tkv *v)
{
	pagew_publish(pw, v, 1, 10 * NS, NULL, NULL);
	return &pagew_page(pw)->status;
}

START_TEST(test_page_fields)
{
	struct pagew *pw;
	struct tkv v;
	char err[256], path[128];
	const struct tk_page_status *st;

	strcpy(dir, "/tmp/tk-bound-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(pagew_open(dir, &pw, err, sizeof(err)), 0);
	tkv_min(&v);

	/* The daemon's bound: 3 us at MONOTONIC 97.25 s, 1 ppm: 5 us at
	 * cycle_last (99.25 s). */
	v.bound_valid = true;
	v.bound_status = TK_PAGE_BS_SYNCHRONIZED;
	v.bound_drift_ppb = 1000;
	v.bound_ns = 3000;
	v.bound_t_ns = 97 * NS + 250000000;
	st = publish(pw, &v);
	ck_assert_int_eq(st->bound_ns, 5000);
	ck_assert_uint_eq(st->bound_drift_ppb, 1000);
	ck_assert_uint_eq(st->bound_status, TK_PAGE_BS_SYNCHRONIZED);
	ck_assert_int_eq(st->maxerror_us, 5); /* the same bound, not adjtimex's 1500 */
	ck_assert_uint_eq(st->flags & TK_PAGE_S_SYNC, TK_PAGE_S_SYNC);
	v.bound_ns = 3001;
	st = publish(pw, &v);
	ck_assert_int_eq(st->maxerror_us, 6); /* rounded up */

	/* No bound: unsynchronized whatever adjtimex says, maxerror 16 s. */
	v.bound_status = TK_PAGE_BS_UNKNOWN;
	v.bound_ns = INT64_MAX;
	st = publish(pw, &v);
	ck_assert_int_eq(st->bound_ns, INT64_MAX);
	ck_assert_uint_eq(st->bound_status, TK_PAGE_BS_UNKNOWN);
	ck_assert_int_eq(st->maxerror_us, 16000000);
	ck_assert_uint_eq(st->flags & TK_PAGE_S_SYNC, 0);

	/* Holdover: free-running, growing, not synchronized. */
	v.bound_status = TK_PAGE_BS_FREE_RUNNING;
	v.bound_ns = 3000;
	v.bound_drift_ppb = 500000;
	v.bound_t_ns = 89 * NS + 250000000; /* 10 s before: +5 ms */
	st = publish(pw, &v);
	ck_assert_int_eq(st->bound_ns, 5003000);
	ck_assert_uint_eq(st->flags & TK_PAGE_S_SYNC, 0);

	/* A bound about to overflow saturates. */
	v.bound_ns = INT64_MAX - 1;
	v.bound_drift_ppb = UINT32_MAX;
	st = publish(pw, &v);
	ck_assert_int_eq(st->bound_ns, INT64_MAX);

	/* Without the daemon's bound: adjtimex's maxerror, 500 ppm. */
	v.bound_valid = false;
	st = publish(pw, &v);
	ck_assert_int_eq(st->bound_ns, 1500000);
	ck_assert_uint_eq(st->bound_drift_ppb, 500000);
	ck_assert_uint_eq(st->bound_status, TK_PAGE_BS_SYNCHRONIZED);
	ck_assert_int_eq(st->maxerror_us, 1500);
	v.ntp_status |= STA_UNSYNC;
	st = publish(pw, &v);
	ck_assert_int_eq(st->bound_ns, INT64_MAX);
	ck_assert_uint_eq(st->bound_status, TK_PAGE_BS_UNKNOWN);

	pagew_close(pw, true);
	snprintf(path, sizeof(path), "%s/page.new", dir);
	unlink(path);
	rmdir(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bound");
	TCase *tc = tcase_create("bound");

	tcase_add_test(tc, test_system_sum);
	tcase_add_test(tc, test_ntp_sum);
	tcase_add_test(tc, test_drift);
	tcase_add_test(tc, test_growth_and_status);
	tcase_add_test(tc, test_slope_se);
	tcase_add_test(tc, test_page_fields);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
