// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cross-CPU warp test: an injected counter that steps back once is
 * caught (one warp, its size), a clean one is not, the real run covers
 * every pair of this machine, and a warp demotes the TSC in the registry.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "core/warp.h"
#include "tk_check.h"

/* Per pair: long enough that the reads pass back_at (and 1000 loops) even
 * when the threads are scheduled late on a loaded machine; 1 ms was not
 * always (a CI run under load read fewer than 100 times). */
#define WARP_TEST_NS 300000000

struct counter {
	uint64_t n;	  /* reads so far (the reads run under the test's lock) */
	uint64_t back_at; /* read number that steps back; 0 = never */
	uint64_t back_by; /* cycles */
};

static uint64_t counter_read(void *ctx)
{
	struct counter *c = ctx;
	uint64_t v = ++c->n * 10;

	return c->n == c->back_at ? v - c->back_by : v;
}

static void first_two_cpus(int *a, int *b)
{
	cpu_set_t set;

	*a = *b = -1;
	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (*a < 0)
			*a = cpu;
		else if (*b < 0)
			*b = cpu;
	}
	if (*b < 0)
		*b = *a; /* 1 CPU: both threads on it still exercise the logic */
}

START_TEST(test_injected_warp)
{
	struct counter c = { .back_at = 1000, .back_by = 500 };
	struct warp_conf conf = { counter_read, &c, WARP_TEST_NS, -1, -1 };
	struct warp_result res;

	first_two_cpus(&conf.cpu_a, &conf.cpu_b);
	ck_assert_int_eq(warp_run(&conf, &res), 0);
	ck_assert(res.run);
	ck_assert_uint_eq(res.pairs, 1);
	ck_assert_uint_gt(res.loops, 1000);
	ck_assert_uint_eq(res.nr_warps, 1);
	/* read 999 gave 9990, read 1000 gave 10000 - 500 */
	ck_assert_uint_eq(res.max_warp_cycles, 490);
	ck_assert_int_eq(res.warp_cpu_a, conf.cpu_a);
	ck_assert_ptr_nonnull(strstr(res.note, "1 warps, largest 490 cycles"));
}
END_TEST

START_TEST(test_clean_counter)
{
	struct counter c = { 0 };
	struct warp_conf conf = { counter_read, &c, WARP_TEST_NS, -1, -1 };
	struct warp_result res;

	first_two_cpus(&conf.cpu_a, &conf.cpu_b);
	ck_assert_int_eq(warp_run(&conf, &res), 0);
	ck_assert_uint_eq(res.nr_warps, 0);
	ck_assert_uint_eq(res.max_warp_cycles, 0);
	ck_assert_uint_eq(res.loops, c.n);
	ck_assert_int_eq(res.warp_cpu_a, -1);
}
END_TEST

START_TEST(test_all_pairs)
{
	struct counter c = { 0 };
	struct warp_conf conf = { counter_read, &c, 2000000, -1, -1 };
	struct warp_result res;
	cpu_set_t set;
	int n;

	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	n = CPU_COUNT(&set);
	ck_assert_int_eq(warp_run(&conf, &res), 0);
	if (n < 2) {
		ck_assert(!res.run);
		ck_assert_str_eq(res.note, "not run: 1 CPU");
	} else {
		ck_assert(res.run);
		ck_assert_uint_eq(res.pairs, (unsigned int)n - 1);
		ck_assert_uint_eq(res.nr_warps, 0);
	}
}
END_TEST

START_TEST(test_bad_cpu)
{
	struct counter c = { 0 };
	struct warp_conf conf = { counter_read, &c, 1000000, 0, CPU_SETSIZE - 1 };
	struct warp_result res;

	ck_assert_int_lt(warp_run(&conf, &res), 0);
	ck_assert_ptr_nonnull(strstr(res.note, "pinning to CPU"));
	ck_assert(!res.run);
}
END_TEST

/* The counter is the caller's: without a read function nothing runs. */
START_TEST(test_no_read)
{
	struct warp_conf conf = { NULL, NULL, 1000000, -1, -1 };
	struct warp_result res;

	ck_assert_int_eq(warp_run(&conf, &res), -EINVAL);
	ck_assert(!res.run);
	ck_assert_ptr_nonnull(strstr(res.note, "no counter"));
	ck_assert_int_eq(warp_run(NULL, &res), -EINVAL);
}
END_TEST

static uint64_t one_read(struct clocksource *cs)
{
	(void)cs;
	return 0;
}

START_TEST(test_apply_demotes_tsc)
{
	struct cs_registry r;
	struct clocksource tsc, hpet;
	struct counter c = { .back_at = 100, .back_by = 100000 };
	struct warp_conf conf = { counter_read, &c, WARP_TEST_NS, -1, -1 };
	struct warp_result res;

	cs_init(&tsc, "tsc");
	tsc.usable = true;
	tsc.read = one_read;
	tsc.rating = CS_RATING_TSC;
	tsc.mask = CS_MASK(64);
	tsc.nominal_hz = 2400000000u;
	tsc.flags = CS_F_MUST_VERIFY;
	hpet = tsc;
	strcpy(hpet.name, "hpet");
	hpet.rating = CS_RATING_HPET;
	hpet.mask = CS_MASK(32);
	hpet.nominal_hz = 14318180;
	hpet.flags = 0;
	cs_registry_init(&r);
	cs_register(&r, &tsc);
	cs_register(&r, &hpet);
	first_two_cpus(&conf.cpu_a, &conf.cpu_b);
	ck_assert_int_eq(warp_run(&conf, &res), 0);
	ck_assert(warp_apply(&r, "tsc", &res));
	ck_assert(cs_find(&r, "tsc")->unstable);
	ck_assert_ptr_nonnull(strstr(cs_find(&r, "tsc")->reason, "warp test: 1 warps"));
	ck_assert_str_eq(r.current->cs->name, "hpet");
	res.nr_warps = 0;
	ck_assert(!warp_apply(&r, "hpet", &res));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("warp");
	TCase *tc = tcase_create("warp");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_injected_warp);
	tcase_add_test(tc, test_clean_counter);
	tcase_add_test(tc, test_all_pairs);
	tcase_add_test(tc, test_bad_cpu);
	tcase_add_test(tc, test_apply_demotes_tsc);
	tcase_add_test(tc, test_no_read);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
