// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The registry: the kernel's mult/shift arithmetic (its worked values as a table),
 * masked deltas, rating order, selection, override, unbind, demotion and
 * re-admission, on fake clocksources.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "core/clocksource.h"
#include "tk_check.h"
#include "tk_fakecs.h"

static uint64_t fake_val;

static uint64_t fake_read(struct clocksource *cs)
{
	(void)cs;
	return fake_val;
}

static void mk(struct clocksource *cs, const char *name, int rating, unsigned int bits, uint64_t hz,
	       uint32_t flags)
{
	fake_cs_init(cs, name, rating, bits, hz, flags, fake_read, NULL);
}

#define TSC_FLAGS (CS_F_CONTINUOUS | CS_F_MUST_VERIFY)

static struct clocksource hpet, pm, tsc, kclk;

static void mk_all(void)
{
	mk(&hpet, "hpet", CS_RATING_HPET, 32, 14318180, CS_F_CONTINUOUS);
	mk(&pm, "acpi_pm", CS_RATING_PMTMR, 24, 3579545, CS_F_CONTINUOUS);
	mk(&tsc, "tsc", CS_RATING_TSC, 64, 3000000000u, TSC_FLAGS);
	mk(&kclk, "kclock", CS_RATING_KCLOCK, 64, 1000000000, CS_F_CONTINUOUS);
}

START_TEST(test_arith_table)
{
	struct cs_arith a;

	ck_assert_int_eq(cs_arith_compute(&a, CS_MASK(64), 3000000, 1000, 0), 0);
	ck_assert_uint_eq(a.mult, 5592405);
	ck_assert_uint_eq(a.shift, 24);
	ck_assert_uint_eq(a.maxadj, 615164);
	ck_assert_uint_eq(a.max_cycles, UINT64_MAX / (5592405 + 615164));
	ck_assert(a.max_cycles > 2.96e12 && a.max_cycles < 2.98e12);
	ck_assert(a.max_idle_ns > 440.0e9 && a.max_idle_ns < 441.0e9);
	ck_assert_uint_eq(a.uncertainty_ns, 250000);

	ck_assert_int_eq(cs_arith_compute(&a, CS_MASK(32), 14318180, 1, 0), 0);
	ck_assert_uint_eq(a.mult, 2343484437u);
	ck_assert_uint_eq(a.shift, 25);
	ck_assert_uint_eq(a.maxadj, 257783288);
	ck_assert_uint_eq(a.max_cycles, 0xFFFFFFFFu);
	ck_assert(a.max_idle_ns > 133.0e9 && a.max_idle_ns < 134.0e9);

	ck_assert_int_eq(cs_arith_compute(&a, CS_MASK(32), 24000000, 1, 0), 0);
	ck_assert_uint_eq(a.mult, 2796202667u);
	ck_assert_uint_eq(a.shift, 26);
	ck_assert_uint_eq(a.maxadj, 307582293);
	ck_assert_uint_eq(a.max_cycles, 0xFFFFFFFFu);
	ck_assert(a.max_idle_ns > 79.5e9 && a.max_idle_ns < 79.7e9);

	ck_assert_int_eq(cs_arith_compute(&a, CS_MASK(24), 3579545, 1, 0), 0);
	ck_assert_uint_eq(a.mult, 2343484437u);
	ck_assert_uint_eq(a.shift, 23);
	ck_assert_uint_eq(a.maxadj, 257783288);
	ck_assert_uint_eq(a.max_cycles, 0xFFFFFFu);
	ck_assert(a.max_idle_ns > 2.08e9 && a.max_idle_ns < 2.10e9);
	ck_assert_uint_eq(a.max_raw_delta, 0x7FFFFFu + 0x3FFFFFu + 0x1FFFFFu);

	/* A driver's own margin wins; invalid input refused. */
	ck_assert_int_eq(cs_arith_compute(&a, CS_MASK(64), 3000000, 1000, 32000000), 0);
	ck_assert_uint_eq(a.uncertainty_ns, 32000000);
	ck_assert_int_eq(cs_arith_compute(&a, CS_MASK(64), 0, 1000, 0), -EINVAL);
}
END_TEST

START_TEST(test_mult_shift_maxsec)
{
	uint32_t mult, shift;
	struct cs_arith a;

	/* A 40-bit counter at 1 MHz wraps after 1.1e6 s. Uncapped, mult would
	 * get only 24 bits (shift 14); the 600 s cap (mask > 32 bits) gives
	 * shift 22, then the 11 % headroom halves it once to 21. */
	cs_calc_mult_shift(&mult, &shift, 1000000, 1000000000, 1099511);
	ck_assert_uint_eq(shift, 14);
	ck_assert_uint_eq(mult, 1000u << 14);
	ck_assert_int_eq(cs_arith_compute(&a, CS_MASK(40), 1000000, 1, 0), 0);
	ck_assert_uint_eq(a.shift, 21);
	ck_assert_uint_eq(a.mult, 1000u << 21);
	/* 32 bits at 1 MHz: no cap (4294 s), shift 22, halved to 21. */
	ck_assert_int_eq(cs_arith_compute(&a, CS_MASK(32), 1000000, 1, 0), 0);
	ck_assert_uint_eq(a.shift, 21);
	/* 1 MHz period is 1000 ns: floored at 250 us. */
	ck_assert_uint_eq(a.uncertainty_ns, 250000);
	/* 1 Hz 1-bit counter: maxsec floored at 1 s, margin one period. */
	ck_assert_int_eq(cs_arith_compute(&a, 1, 1, 1, 0), 0);
	ck_assert_uint_eq(a.uncertainty_ns, 1000000000);
}
END_TEST

START_TEST(test_delta_and_cyc2ns)
{
	struct cs_registry r;
	struct cs_entry *e, *t;

	mk_all();
	cs_registry_init(&r);
	e = cs_register(&r, &pm);
	t = cs_register(&r, &tsc);
	ck_assert_ptr_nonnull(e);
	/* Across the 24-bit wrap. */
	ck_assert_uint_eq(cs_delta(e, 0x10, 0xFFFFF0), 0x20);
	/* Just behind the last reading: time stands still, not ~2^24. */
	ck_assert_uint_eq(cs_delta(e, 0x100, 0x101), 0);
	/* 0.875*mask is the largest forward delta accepted. */
	ck_assert_uint_eq(cs_delta(e, 0xDFFFFD, 0), 0xDFFFFD);
	ck_assert_uint_eq(cs_delta(e, 0xDFFFFE, 0), 0);
	/* 64 bits: a TSC read 5 cycles behind is 0, not 2^64-5. */
	ck_assert_uint_eq(cs_delta(t, 995, 1000), 0);
	/* One second of acpi_pm is 1e9 ns within a tick. */
	ck_assert(cs_cyc2ns(e, 3579545) > 999999700 && cs_cyc2ns(e, 3579545) < 1000000300);
	/* Beyond max_cycles the 128-bit path: 1 h of 3 GHz TSC. */
	{
		uint64_t cyc = UINT64_C(3000000000) * 3600 * 2000;
		uint64_t ns = cs_cyc2ns(t, cyc);

		ck_assert(cyc > t->ar.max_cycles);
		ck_assert(ns > UINT64_C(7199999000000000) && ns < UINT64_C(7200001000000000));
	}
}
END_TEST

START_TEST(test_rating_order_equal)
{
	struct cs_registry r;
	struct clocksource a, b, c;

	mk_all();
	mk(&a, "a", 200, 32, 1000000, CS_F_CONTINUOUS);
	mk(&b, "b", 200, 32, 1000000, CS_F_CONTINUOUS);
	mk(&c, "c", 250, 32, 1000000, CS_F_CONTINUOUS);
	cs_registry_init(&r);
	cs_register(&r, &a);
	cs_register(&r, &b);
	cs_register(&r, &kclk);
	cs_register(&r, &c);
	ck_assert_uint_eq(r.n, 4);
	ck_assert_str_eq(r.list[0]->cs->name, "c");
	ck_assert_str_eq(r.list[1]->cs->name, "a"); /* equal ratings: first come first */
	ck_assert_str_eq(r.list[2]->cs->name, "b");
	ck_assert_str_eq(r.list[3]->cs->name, "kclock");
	ck_assert_str_eq(r.current->cs->name, "c");
	ck_assert_ptr_null(cs_register(&r, &b)); /* a name only once */
}
END_TEST

START_TEST(test_select_and_watchdog)
{
	struct cs_registry r;
	struct cs_entry *t;

	mk_all();
	cs_registry_init(&r);
	cs_register(&r, &kclk);
	ck_assert_str_eq(r.watchdog->cs->name, "kclock");
	cs_register(&r, &pm);
	ck_assert_str_eq(r.watchdog->cs->name, "acpi_pm");
	t = cs_register(&r, &tsc);
	ck_assert_ptr_eq(r.current, t);
	ck_assert_str_eq(r.watchdog->cs->name, "acpi_pm"); /* tsc must be verified */
	t->wd.have_base = true;
	cs_register(&r, &hpet);
	ck_assert_str_eq(r.watchdog->cs->name, "hpet");
	ck_assert(!t->wd.have_base); /* watchdog changed: baselines reset */
	ck_assert_int_eq(cs_entry_state(&r, t), CS_STATE_CURRENT);
	ck_assert_int_eq(cs_entry_state(&r, cs_find(&r, "hpet")), CS_STATE_OK);
}
END_TEST

START_TEST(test_no_freq_tsc)
{
	struct cs_registry r;
	struct cs_entry *t;

	mk_all();
	tsc.nominal_hz = 0;
	cs_registry_init(&r);
	cs_register(&r, &hpet);
	t = cs_register(&r, &tsc);
	ck_assert_int_eq(cs_entry_state(&r, t), CS_STATE_UNUSABLE);
	ck_assert_uint_eq(t->ar.uncertainty_ns, CS_WATCHDOG_THRESHOLD_NS);
	ck_assert_str_eq(r.current->cs->name, "hpet");
	ck_assert_int_eq(cs_set_freq(&r, t, 2400000000u), 0);
	ck_assert_ptr_eq(r.current, t);
	ck_assert_uint_eq(t->ar.freq, 2400000);
	ck_assert_uint_eq(t->ar.scale, 1000);
}
END_TEST

START_TEST(test_override_unknown_then_registered)
{
	struct cs_registry r;
	char why[CS_REASON_LEN];

	mk_all();
	cs_registry_init(&r);
	cs_register(&r, &tsc);
	cs_register(&r, &kclk);
	ck_assert_int_eq(cs_override(&r, "hpet\n", why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "remembered"));
	ck_assert_str_eq(r.current->cs->name, "tsc");
	cs_register(&r, &hpet);
	ck_assert_str_eq(r.current->cs->name, "hpet");
	/* Override to kclock works. */
	ck_assert_int_eq(cs_override(&r, "kclock", why, sizeof(why)), 0);
	ck_assert_str_eq(r.current->cs->name, "kclock");
	/* Empty clears: back to rating order. */
	ck_assert_int_eq(cs_override(&r, "\n", why, sizeof(why)), 0);
	ck_assert_str_eq(r.current->cs->name, "tsc");
	ck_assert_str_eq(r.override, "");
	/* 31 chars fit, 32 do not. */
	ck_assert_int_eq(cs_override(&r, "abcdefghijabcdefghijabcdefghijX", why, sizeof(why)), 0);
	ck_assert_int_eq(cs_override(&r, "abcdefghijabcdefghijabcdefghijXY", why, sizeof(why)),
			 -EINVAL);
}
END_TEST

START_TEST(test_override_unstable_refused)
{
	struct cs_registry r;
	char why[CS_REASON_LEN];
	struct cs_entry *t;

	mk_all();
	cs_registry_init(&r);
	cs_register(&r, &hpet);
	t = cs_register(&r, &tsc);
	ck_assert_int_eq(cs_override(&r, "tsc", why, sizeof(why)), 0);
	cs_mark_unstable(&r, t, "test: skew");
	ck_assert_str_eq(r.current->cs->name, "hpet");
	ck_assert_str_eq(r.override, ""); /* cleared by the selection */
	ck_assert_int_eq(t->rating, 0);
	ck_assert_str_eq(r.list[r.n - 1]->cs->name, "tsc"); /* demoted, still listed */
	ck_assert_int_eq(cs_override(&r, "tsc", why, sizeof(why)), -EBUSY);
	ck_assert_ptr_nonnull(strstr(why, "unstable"));
	ck_assert_str_eq(r.override, "");
	ck_assert_str_eq(r.current->cs->name, "hpet");
	ck_assert_int_eq(cs_entry_state(&r, t), CS_STATE_UNSTABLE);
}
END_TEST

START_TEST(test_unbind)
{
	struct cs_registry r;
	char why[CS_REASON_LEN];

	mk_all();
	cs_registry_init(&r);
	cs_register(&r, &tsc);
	cs_register(&r, &hpet);
	ck_assert_int_eq(cs_unbind(&r, "nosuch", why, sizeof(why)), -ENODEV);
	/* Current tsc falls back to hpet. */
	ck_assert_int_eq(cs_unbind(&r, "tsc", why, sizeof(why)), 0);
	ck_assert_str_eq(r.current->cs->name, "hpet");
	ck_assert_int_eq(cs_entry_state(&r, cs_find(&r, "tsc")), CS_STATE_UNBOUND);
	ck_assert_int_eq(cs_unbind(&r, "tsc", why, sizeof(why)), -ENODEV);
	/* hpet is current and watchdog with nothing else: busy. */
	ck_assert_int_eq(cs_unbind(&r, "hpet", why, sizeof(why)), -EBUSY);
	ck_assert_str_eq(r.current->cs->name, "hpet");
	/* With kclock there, unbinding the watchdog picks a new watchdog. */
	cs_register(&r, &kclk);
	ck_assert_int_eq(cs_unbind(&r, "hpet", why, sizeof(why)), 0);
	ck_assert_str_eq(r.watchdog->cs->name, "kclock");
	ck_assert_str_eq(r.current->cs->name, "kclock");
	/* Readmit brings the unbound tsc back and it wins again. */
	ck_assert_int_eq(cs_readmit(&r, "tsc", why, sizeof(why)), 0);
	ck_assert_str_eq(r.current->cs->name, "tsc");
	ck_assert_int_eq(cs_readmit(&r, "nosuch", why, sizeof(why)), -ENODEV);
}
END_TEST

START_TEST(test_unbind_watchdog_only_watcher)
{
	struct cs_registry r;
	char why[CS_REASON_LEN];

	mk_all();
	cs_registry_init(&r);
	cs_register(&r, &tsc);
	cs_register(&r, &pm);
	/* acpi_pm is not current, but it is the only possible watchdog. */
	ck_assert_str_eq(r.current->cs->name, "tsc");
	ck_assert_int_eq(cs_unbind(&r, "acpi_pm", why, sizeof(why)), -EBUSY);
	ck_assert_ptr_nonnull(strstr(why, "watchdog"));
	ck_assert_str_eq(r.watchdog->cs->name, "acpi_pm");
}
END_TEST

START_TEST(test_readmit)
{
	struct cs_registry r;
	char why[CS_REASON_LEN];
	struct cs_entry *t;

	mk_all();
	cs_registry_init(&r);
	cs_register(&r, &hpet);
	t = cs_register(&r, &tsc);
	cs_mark_unstable(&r, t, "watchdog: skew");
	ck_assert_str_eq(t->reason, "watchdog: skew");
	/* Nothing brings it back by itself: a new selection keeps hpet. */
	cs_select(&r);
	ck_assert_str_eq(r.current->cs->name, "hpet");
	cs_find(&r, "hpet")->wd.have_base = true;
	ck_assert_int_eq(cs_readmit(&r, "tsc", why, sizeof(why)), 0);
	ck_assert_int_eq(t->rating, CS_RATING_TSC);
	ck_assert(!t->unstable);
	ck_assert_str_eq(t->reason, "");
	ck_assert_ptr_eq(r.current, t);
	ck_assert_ptr_eq(r.list[0], t);
	ck_assert(!cs_find(&r, "hpet")->wd.have_base);
	/* An unusable driver cannot be readmitted. */
	{
		struct clocksource bad;

		mk(&bad, "bad", 400, 32, 1000, 0);
		cs_set_unusable(&bad, "bad: counter does not move");
		cs_register(&r, &bad);
		ck_assert_ptr_eq(r.current, t);
		ck_assert_int_eq(cs_readmit(&r, "bad", why, sizeof(why)), -EINVAL);
		ck_assert_int_eq(cs_override(&r, "bad", why, sizeof(why)), -EBUSY);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cs");
	TCase *tc = tcase_create("cs");

	tcase_add_test(tc, test_arith_table);
	tcase_add_test(tc, test_mult_shift_maxsec);
	tcase_add_test(tc, test_delta_and_cyc2ns);
	tcase_add_test(tc, test_rating_order_equal);
	tcase_add_test(tc, test_select_and_watchdog);
	tcase_add_test(tc, test_no_freq_tsc);
	tcase_add_test(tc, test_override_unknown_then_registered);
	tcase_add_test(tc, test_override_unstable_refused);
	tcase_add_test(tc, test_unbind);
	tcase_add_test(tc, test_unbind_watchdog_only_watcher);
	tcase_add_test(tc, test_readmit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
