// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * TSC calibration in simulated time: a simulated TSC with a known error
 * calibrated against simulated hpet and acpi_pm (with wraps), spikes that
 * force retries, the kernel's acceptance bands (1 % quick/refined, 500 ppm
 * against a firmware frequency) and an honest uncertainty.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "core/calib.h"
#include "hw/simhw.h"
#include "tk_check.h"
#include "tk_fakeclock.h"

#define MS UINT64_C(1000000)
#define SEC UINT64_C(1000000000)

struct world {
	struct sim_conf conf;
	struct clocksource hpet, pm, tsc;
	struct calib c;
};

static void world_init(struct world *x, double tsc_ppm, const char *tsc_fault,
		       const char *ref_fault)
{
	char err[128];

	memset(x, 0, sizeof(*x));
	fake_now = 0;
	simconf_default(&x->conf);
	x->conf.seed = tk_test_seed();
	x->conf.error_ppm[SIM_TSC] = tsc_ppm;
	ck_assert_msg(simconf_parse_fault(tsc_fault, &x->conf.fault[SIM_TSC], err, sizeof(err)) ==
			      0,
		      "%s", err);
	ck_assert_msg(simconf_parse_fault(ref_fault, &x->conf.fault[SIM_HPET], err, sizeof(err)) ==
			      0,
		      "%s", err);
	ck_assert_int_eq(simhw_create(SIM_HPET, &x->conf, &fclk, 0xFFFF0000u, &x->hpet), 0);
	ck_assert_int_eq(simhw_create(SIM_PMTMR, &x->conf, &fclk, 0xFFF000, &x->pm), 0);
	ck_assert_int_eq(simhw_create(SIM_TSC, &x->conf, &fclk, 12345, &x->tsc), 0);
}

static void world_fini(struct world *x)
{
	cs_release(&x->hpet);
	cs_release(&x->pm);
	cs_release(&x->tsc);
}

static void run(struct world *x, uint64_t until, uint64_t step)
{
	while (fake_now < until) {
		fake_now += step;
		calib_poll(&x->c, fake_now);
	}
}

static double err_ppm(const struct calib_result *res, double truth)
{
	return (res->calibrated_hz - truth) / truth * 1e6;
}

static void check_10s(double ppm, bool pm)
{
	struct world x;
	struct calib_result res;
	double truth = 2.4e9 * (1 + ppm * 1e-6);

	world_init(&x, ppm, "none", "none");
	ck_assert_int_eq(calib_start(&x.c, &x.tsc, pm ? &x.pm : &x.hpet, fake_now), 0);
	run(&x, 40 * MS, 10 * MS);
	calib_result(&x.c, &res);
	ck_assert_int_eq(res.state, CALIB_STATE_NONE);
	run(&x, 50 * MS, 10 * MS);
	calib_result(&x.c, &res);
	ck_assert_int_eq(res.state, CALIB_STATE_QUICK);
	ck_assert_double_lt(fabs(err_ppm(&res, truth)), 100);
	run(&x, 1 * SEC, 10 * MS);
	calib_result(&x.c, &res);
	ck_assert_int_eq(res.state, CALIB_STATE_REFINED);
	ck_assert(res.refined_accepted);
	ck_assert_uint_eq(res.kernel_hz, (uint64_t)llround(res.refined_hz));
	run(&x, 10 * SEC, 10 * MS);
	calib_result(&x.c, &res);
	ck_assert_int_eq(res.state, CALIB_STATE_CONTINUOUS);
	ck_assert_str_eq(res.calibrated_against, pm ? "acpi_pm" : "hpet");
	printf("# %+g ppm vs %s: %.3f Hz, error %.4f ppm, uncertainty %.1f ppb, %" PRIu64
	       " samples\n",
	       ppm, res.calibrated_against, res.calibrated_hz, err_ppm(&res, truth),
	       res.uncertainty_ppb, res.samples);
	ck_assert_double_lt(fabs(err_ppm(&res, truth)), 1.0);
	/* Honest: the real error is inside the published bound, and the bound
	 * is what one reference tick over ~10 s gives. */
	ck_assert_double_le(fabs(err_ppm(&res, truth)) * 1000, res.uncertainty_ppb);
	ck_assert_double_lt(res.uncertainty_ppb, pm ? 40 : 10);
	ck_assert_double_gt(res.baseline_s, 9.9);
	ck_assert_uint_eq(res.samples, 1001);
	ck_assert_str_eq(res.warning, "");
	ck_assert_uint_eq(calib_hz(&x.c), (uint64_t)llround(res.calibrated_hz));
	world_fini(&x);
}

START_TEST(test_hpet_plus50)
{
	check_10s(+50, false);
}
END_TEST

START_TEST(test_hpet_minus50)
{
	check_10s(-50, false);
}
END_TEST

START_TEST(test_pm_wraps_plus50)
{
	/* acpi_pm starts 4096 ticks before its 24-bit wrap and wraps twice more. */
	check_10s(+50, true);
}
END_TEST

START_TEST(test_pm_wraps_minus50)
{
	check_10s(-50, true);
}
END_TEST

START_TEST(test_pm_long_gap_bridged)
{
	struct world x;
	struct calib_result res;
	double truth = 2.4e9 * (1 - 50e-6);

	/* Polls 3.3 s apart (more than half of acpi_pm's 4.69 s wrap, and
	 * once 9.9 s: two whole wraps) after the quick value: the TSC says how
	 * many wraps the gap hid. */
	world_init(&x, -50, "none", "none");
	ck_assert_int_eq(calib_start(&x.c, &x.tsc, &x.pm, fake_now), 0);
	run(&x, 1 * SEC, 10 * MS);
	run(&x, 11 * SEC, 3300 * MS);
	fake_now += 9900 * MS;
	calib_poll(&x.c, fake_now);
	calib_result(&x.c, &res);
	ck_assert_double_gt(res.baseline_s, 20);
	ck_assert_double_lt(fabs(err_ppm(&res, truth)), 0.1);
	world_fini(&x);
}
END_TEST

START_TEST(test_forced_references_agree)
{
	struct world x;
	struct calib c2;
	struct calib_result a, b;

	world_init(&x, 30, "none", "none");
	ck_assert_int_eq(calib_start(&x.c, &x.tsc, &x.hpet, fake_now), 0);
	ck_assert_int_eq(calib_start(&c2, &x.tsc, &x.pm, fake_now), 0);
	while (fake_now < 10 * SEC) {
		fake_now += 20 * MS;
		calib_poll(&x.c, fake_now);
		calib_poll(&c2, fake_now);
	}
	calib_result(&x.c, &a);
	calib_result(&c2, &b);
	ck_assert_str_eq(a.calibrated_against, "hpet");
	ck_assert_str_eq(b.calibrated_against, "acpi_pm");
	ck_assert_double_lt(fabs(a.calibrated_hz - b.calibrated_hz) / a.calibrated_hz * 1e9,
			    a.uncertainty_ppb + b.uncertainty_ppb);
	world_fini(&x);
}
END_TEST

START_TEST(test_spikes_retried)
{
	struct world x;
	struct calib_result res;
	double truth = 2.4e9 * (1 + 50e-6);

	/* 200 us reference reads: 480000 TSC cycles, far above the
	 * tsc_khz >> 5 = 75000 cycle window; retried, and the kept samples are
	 * clean, so the accuracy holds. */
	world_init(&x, 50, "none", "spikes:200000ns");
	ck_assert_int_eq(calib_start(&x.c, &x.tsc, &x.hpet, fake_now), 0);
	run(&x, 10 * SEC, 10 * MS);
	calib_result(&x.c, &res);
	ck_assert_uint_gt(res.retries, 50);
	ck_assert_uint_eq(res.disturbed, 0);
	ck_assert_int_eq(res.state, CALIB_STATE_CONTINUOUS);
	ck_assert_double_lt(fabs(err_ppm(&res, truth)), 1.0);
	ck_assert_double_le(fabs(err_ppm(&res, truth)) * 1000, res.uncertainty_ppb);
	world_fini(&x);
}
END_TEST

START_TEST(test_tsc_spikes_retried)
{
	struct world x;
	struct calib_result res;

	world_init(&x, -50, "spikes:200000ns", "none");
	ck_assert_int_eq(calib_start(&x.c, &x.tsc, &x.hpet, fake_now), 0);
	run(&x, 10 * SEC, 10 * MS);
	calib_result(&x.c, &res);
	ck_assert_uint_gt(res.retries, 0);
	ck_assert_double_lt(fabs(err_ppm(&res, 2.4e9 * (1 - 50e-6))), 1.0);
	world_fini(&x);
}
END_TEST

START_TEST(test_known_freq_warns)
{
	struct world x;
	struct calib_result res;

	/* Firmware says 2.4 GHz, the TSC really runs 1000 ppm fast. */
	world_init(&x, 1000, "none", "none");
	x.tsc.flags |= CS_F_KNOWN_FREQ;
	ck_assert_int_eq(calib_start(&x.c, &x.tsc, &x.hpet, fake_now), 0);
	run(&x, 2 * SEC, 10 * MS);
	calib_result(&x.c, &res);
	ck_assert_uint_eq(res.kernel_hz, 2400000000u);
	ck_assert_double_gt(res.calibrated_hz, 2.4024e9 - 100);
	ck_assert_ptr_nonnull(strstr(res.warning, "more than 500 ppm"));
	world_fini(&x);

	/* 300 ppm: within the kernel's band, no warning. */
	world_init(&x, 300, "none", "none");
	x.tsc.flags |= CS_F_KNOWN_FREQ;
	ck_assert_int_eq(calib_start(&x.c, &x.tsc, &x.hpet, fake_now), 0);
	run(&x, 2 * SEC, 10 * MS);
	calib_result(&x.c, &res);
	ck_assert_str_eq(res.warning, "");
	world_fini(&x);
}
END_TEST

START_TEST(test_refined_outside_1pct_rejected)
{
	struct world x;
	struct calib_result res;

	/* The TSC speeds up by 4 % at 0.5 s: quick (50 ms) sees nominal,
	 * refined (1 s) about +2 %: the kernel keeps quick. */
	world_init(&x, 0, "drift:40000ppm@0.5s", "none");
	ck_assert_int_eq(calib_start(&x.c, &x.tsc, &x.hpet, fake_now), 0);
	run(&x, 1 * SEC, 10 * MS);
	calib_result(&x.c, &res);
	ck_assert_int_eq(res.state, CALIB_STATE_REFINED);
	ck_assert(!res.refined_accepted);
	ck_assert_uint_eq(res.kernel_hz, (uint64_t)llround(res.quick_hz));
	ck_assert_ptr_nonnull(strstr(res.warning, "more than 1 %"));
	world_fini(&x);
}
END_TEST

START_TEST(test_bad_start)
{
	struct world x;
	struct clocksource dead;

	world_init(&x, 0, "none", "none");
	cs_init(&dead, "hpet");
	cs_set_unusable(&dead, "hpet: no ACPI HPET table");
	ck_assert_int_eq(calib_start(&x.c, &x.tsc, &dead, 0), -EINVAL);
	ck_assert_int_eq(calib_poll(&x.c, 10 * MS), 0);
	world_fini(&x);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("calib");
	TCase *tc = tcase_create("calib");

	tcase_add_test(tc, test_hpet_plus50);
	tcase_add_test(tc, test_hpet_minus50);
	tcase_add_test(tc, test_pm_wraps_plus50);
	tcase_add_test(tc, test_pm_wraps_minus50);
	tcase_add_test(tc, test_pm_long_gap_bridged);
	tcase_add_test(tc, test_forced_references_agree);
	tcase_add_test(tc, test_spikes_retried);
	tcase_add_test(tc, test_tsc_spikes_retried);
	tcase_add_test(tc, test_known_freq_warns);
	tcase_add_test(tc, test_refined_outside_1pct_rejected);
	tcase_add_test(tc, test_bad_start);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
