// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Capabilities and the clocksource runtime: each driver declares what its
 * counter can do (the flags the core and the daemon decide on), and the
 * runtime shared by the daemon and the probe (daemon/sources.c) acquires,
 * registers, picks by capability, applies calibrations and reports verdicts.
 * The HPET's flags are checked by test_acpi against a fake register block;
 * the PM timer needs I/O ports and is not probed here.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/calib.h"
#include "core/conf.h"
#include "daemon/sources.h"
#include "hw/drivers.h"
#include "hw/simhw.h"
#include "hw/tsc.h"
#include "tk_check.h"
#include "tk_fakeclock.h"

#define MS UINT64_C(1000000)
#define SEC UINT64_C(1000000000)

#define ROLE_FLAGS                                                                                 \
	(CS_F_MUST_VERIFY | CS_F_CLIENT_READ | CS_F_PAGE_TSC | CS_F_KERNEL_CLOCK | CS_F_CALIBRATE)

/* ---- what each driver declares ---------------------------------------- */

START_TEST(test_caps_kclock)
{
	struct hw_env env = { 0 };
	struct clocksource cs;

	ck_assert_int_eq(kclock_probe(&env, &cs), 0);
	ck_assert(cs.usable);
	/* Clients read it through the vDSO; the page maps kernel time. */
	ck_assert_uint_eq(cs.flags & ROLE_FLAGS, CS_F_CLIENT_READ | CS_F_KERNEL_CLOCK);
	ck_assert(cs.flags & CS_F_CONTINUOUS);
	ck_assert(!(cs.flags & CS_F_SIMULATED));
	cs_release(&cs);
}
END_TEST

START_TEST(test_caps_tsc)
{
	struct tsc_features f;
	struct clocksource cs;

	memset(&f, 0, sizeof(f));
	strcpy(f.vendor, "GenuineIntel");
	f.present = true;
	f.invariant = true;
	f.cpuid_tsc_hz = UINT64_C(2592000000);
	f.known_freq = true;
	cs_init(&cs, "tsc");
	ck_assert_int_eq(tsc_probe_features(&f, &cs), 0);
	/* Verified, calibrated, read by clients with RDTSC from the page. */
	ck_assert_uint_eq(cs.flags & ROLE_FLAGS,
			  CS_F_MUST_VERIFY | CS_F_CLIENT_READ | CS_F_PAGE_TSC | CS_F_CALIBRATE);
	ck_assert(cs.flags & CS_F_KNOWN_FREQ);
	ck_assert(!(cs.flags & CS_F_SIMULATED));

	f.known_freq = false;
	f.cpuid_tsc_hz = 0;
	cs_init(&cs, "tsc");
	ck_assert_int_eq(tsc_probe_features(&f, &cs), 0);
	ck_assert_uint_eq(cs.flags & ROLE_FLAGS,
			  CS_F_MUST_VERIFY | CS_F_CLIENT_READ | CS_F_PAGE_TSC | CS_F_CALIBRATE);
	ck_assert(!(cs.flags & CS_F_KNOWN_FREQ));
}
END_TEST

START_TEST(test_caps_simulated)
{
	struct sim_conf conf;
	struct clocksource cs;

	simconf_default(&conf);
	ck_assert_int_eq(simhw_create(SIM_HPET, &conf, &fclk, 0, &cs), 0);
	ck_assert_uint_eq(cs.flags & ROLE_FLAGS, 0);
	ck_assert(cs.flags & CS_F_SIMULATED);
	cs_release(&cs);
	ck_assert_int_eq(simhw_create(SIM_PMTMR, &conf, &fclk, 0, &cs), 0);
	ck_assert_uint_eq(cs.flags & ROLE_FLAGS, 0);
	ck_assert(cs.flags & CS_F_SIMULATED);
	cs_release(&cs);
	/* Verified and calibrated like the TSC, but a client's RDTSC would
	 * read the real TSC: neither client-readable nor TSC page mode. */
	ck_assert_int_eq(simhw_create(SIM_TSC, &conf, &fclk, 0, &cs), 0);
	ck_assert_uint_eq(cs.flags & ROLE_FLAGS, CS_F_MUST_VERIFY | CS_F_CALIBRATE);
	ck_assert(cs.flags & CS_F_SIMULATED);
	cs_release(&cs);
}
END_TEST

/* ---- the runtime -------------------------------------------------------- */

static void sim_conf_all(struct tk_conf *conf)
{
	conf_defaults(conf);
	conf->sim.devices = (1u << SIM_HPET) | (1u << SIM_PMTMR) | (1u << SIM_TSC);
}

START_TEST(test_acquire_simulated)
{
	struct tk_conf *conf = calloc(1, sizeof(*conf));
	struct clocksource src[HW_MAX_SOURCES];
	struct cs_registry reg;
	struct clocksource *cal;
	size_t n, usable = 99;

	ck_assert_ptr_nonnull(conf);
	sim_conf_all(conf);
	n = sources_acquire(conf, src, &reg, LOG_LVL_DEBUG, &usable);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(usable, 4);
	ck_assert_uint_eq(reg.n, 4);
	ck_assert_str_eq(reg.current->cs->name, "tsc");
	ck_assert_str_eq(reg.watchdog->cs->name, "hpet");

	cal = sources_to_calibrate(src, n);
	ck_assert_ptr_nonnull(cal);
	ck_assert_str_eq(cal->name, "tsc");
	ck_assert(!sources_is_reference(cal));
	ck_assert_str_eq(sources_best_reference(src, n, cal)->name, "hpet");
	ck_assert_str_eq(sources_best_reference(src, n, &src[0])->name, "acpi_pm");
	for (size_t i = 0; i < n; i++)
		ck_assert(sources_is_reference(&src[i]) == (&src[i] != cal));
	sources_release(src, n);
	free(conf);
}
END_TEST

START_TEST(test_acquire_override_and_subset)
{
	struct tk_conf *conf = calloc(1, sizeof(*conf));
	struct clocksource src[HW_MAX_SOURCES];
	struct cs_registry reg;
	size_t n, usable;

	ck_assert_ptr_nonnull(conf);
	sim_conf_all(conf);
	strcpy(conf->clocksource, "acpi_pm");
	n = sources_acquire(conf, src, &reg, LOG_LVL_DEBUG, &usable);
	ck_assert_str_eq(reg.current->cs->name, "acpi_pm");
	ck_assert_str_eq(reg.override, "acpi_pm");
	sources_release(src, n);

	/* Only a simulated HPET (and kclock): nothing to calibrate. */
	conf_defaults(conf);
	conf->sim.devices = 1u << SIM_HPET;
	n = sources_acquire(conf, src, &reg, LOG_LVL_DEBUG, NULL);
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_null(sources_to_calibrate(src, n));
	ck_assert_str_eq(reg.current->cs->name, "hpet");
	ck_assert_str_eq(sources_best_reference(src, n, &src[0])->name, "kclock");
	sources_release(src, n);
	free(conf);
}
END_TEST

/* Quick, then refined, then nothing more: the kernel's tsc-early and tsc. */
START_TEST(test_apply_calibration)
{
	struct sim_conf sc;
	struct clocksource hpet, tsc;
	struct cs_registry reg;
	struct calib cal;
	struct calib_result res;
	enum calib_state applied = CALIB_STATE_NONE;
	struct cs_entry *e;

	fake_now = 0;
	simconf_default(&sc);
	sc.error_ppm[SIM_TSC] = 50;
	ck_assert_int_eq(simhw_create(SIM_HPET, &sc, &fclk, 0, &hpet), 0);
	ck_assert_int_eq(simhw_create(SIM_TSC, &sc, &fclk, 0, &tsc), 0);
	tsc.nominal_hz = 0; /* no stated frequency: not selectable until calibrated */
	cs_registry_init(&reg);
	cs_register(&reg, &hpet);
	cs_register(&reg, &tsc);
	ck_assert_str_eq(reg.current->cs->name, "hpet");

	ck_assert_int_eq(calib_start(&cal, &tsc, &hpet, fake_now), 0);
	ck_assert_ptr_null(sources_apply_calibration(&reg, &tsc, &cal, &applied, &res));
	while (fake_now < 60 * MS) {
		fake_now += 10 * MS;
		calib_poll(&cal, fake_now);
	}
	e = sources_apply_calibration(&reg, &tsc, &cal, &applied, &res);
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_eq(e->cs, &tsc);
	ck_assert_int_eq(res.state, CALIB_STATE_QUICK);
	ck_assert_int_eq(applied, CALIB_STATE_QUICK);
	ck_assert_uint_eq(e->hz, calib_hz(&cal));
	ck_assert_str_eq(reg.current->cs->name, "tsc");
	/* The same state again: nothing to do. */
	ck_assert_ptr_null(sources_apply_calibration(&reg, &tsc, &cal, &applied, &res));

	while (fake_now < 2 * SEC) {
		fake_now += 10 * MS;
		calib_poll(&cal, fake_now);
	}
	ck_assert_ptr_eq(sources_apply_calibration(&reg, &tsc, &cal, &applied, &res), e);
	ck_assert_int_eq(applied, CALIB_STATE_REFINED);
	ck_assert_uint_eq(e->hz, calib_hz(&cal));
	ck_assert_uint_ne(e->hz, 0);
	/* Refinement goes on; the registry keeps the refined value. */
	while (fake_now < 5 * SEC) {
		fake_now += 10 * MS;
		calib_poll(&cal, fake_now);
	}
	calib_result(&cal, &res);
	ck_assert_int_eq(res.state, CALIB_STATE_CONTINUOUS);
	ck_assert_ptr_null(sources_apply_calibration(&reg, &tsc, &cal, &applied, &res));
	ck_assert_ptr_null(sources_apply_calibration(&reg, NULL, &cal, &applied, &res));
	cs_release(&hpet);
	cs_release(&tsc);
}
END_TEST

START_TEST(test_warp_not_run)
{
	struct sim_conf sc;
	struct clocksource hpet, tsc;
	struct cs_registry reg;
	struct warp_result res;

	simconf_default(&sc);
	ck_assert_int_eq(simhw_create(SIM_HPET, &sc, &fclk, 0, &hpet), 0);
	ck_assert_int_eq(simhw_create(SIM_TSC, &sc, &fclk, 0, &tsc), 0);
	cs_registry_init(&reg);
	cs_register(&reg, &hpet);
	cs_register(&reg, &tsc);
	memset(&res, 0, sizeof(res));
	ck_assert(!sources_warp_test(&reg, &tsc, &res));
	ck_assert_str_eq(res.note, "not run: simulated TSC");
	ck_assert(!res.run);
	memset(&res, 0, sizeof(res));
	ck_assert(!sources_warp_test(&reg, &hpet, &res));
	ck_assert_str_eq(res.note, "not run: hpet need not be verified");
	ck_assert(!cs_find(&reg, "tsc")->unstable);
	cs_release(&hpet);
	cs_release(&tsc);
}
END_TEST

START_TEST(test_log_demoted)
{
	struct sim_conf sc;
	struct clocksource hpet, tsc;
	struct cs_registry reg;
	struct cs_entry *eh, *et;

	simconf_default(&sc);
	ck_assert_int_eq(simhw_create(SIM_HPET, &sc, &fclk, 0, &hpet), 0);
	ck_assert_int_eq(simhw_create(SIM_TSC, &sc, &fclk, 0, &tsc), 0);
	cs_registry_init(&reg);
	eh = cs_register(&reg, &hpet);
	et = cs_register(&reg, &tsc);
	ck_assert(!sources_log_demoted(&reg, et));
	/* Demoted, but not by the watchdog: not reported as its verdict. */
	cs_mark_unstable(&reg, et, "by an operator");
	ck_assert(!sources_log_demoted(&reg, et));
	et->wd.last_verdict = CS_VERDICT_UNSTABLE;
	snprintf(et->wd.last_reason, sizeof(et->wd.last_reason), "skew 600000 ns");
	ck_assert(sources_log_demoted(&reg, et));
	ck_assert(!sources_log_demoted(&reg, eh));
	ck_assert(!sources_log_demoted(&reg, NULL));
	cs_release(&hpet);
	cs_release(&tsc);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sources");
	TCase *tc = tcase_create("sources");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_caps_kclock);
	tcase_add_test(tc, test_caps_tsc);
	tcase_add_test(tc, test_caps_simulated);
	tcase_add_test(tc, test_acquire_simulated);
	tcase_add_test(tc, test_acquire_override_and_subset);
	tcase_add_test(tc, test_apply_calibration);
	tcase_add_test(tc, test_warp_not_run);
	tcase_add_test(tc, test_log_demoted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	log_set_level(LOG_LVL_ERR);
	return tk_run_suite(suite());
}
