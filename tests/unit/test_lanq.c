// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The emulated LAN's delay line, its pure part (tests/lan/lanq.c): the same
 * seed gives the same delays, every delay stays in [min, max] with the mean
 * and spread the law says, the loss rate follows its probability, and the
 * heap releases by due time, ties in arrival order, refusing when full.
 */
#include <errno.h>
#include <math.h>

#include "../lan/lanq.h"
#include "tk_check.h"

START_TEST(same_seed_same_delays)
{
	struct lanq_link l = { .mean_ns = 200000, .jitter_ns = 50000, .dist = LANQ_UNIFORM };
	struct lanq_rng a, b;
	int i;

	lanq_seed(&a, 42);
	lanq_seed(&b, 42);
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(lanq_delay_ns(&a, &l), lanq_delay_ns(&b, &l));
	lanq_seed(&b, 43);
	ck_assert_int_ne(lanq_delay_ns(&a, &l), lanq_delay_ns(&b, &l));
}
END_TEST

static void law(enum lanq_dist dist, double want_sd)
{
	struct lanq_link l = { .mean_ns = 200000, .jitter_ns = 50000, .dist = dist };
	struct lanq_rng r;
	double s = 0, s2 = 0, m, sd;
	int64_t d, lo = INT64_MAX, hi = 0;
	int i, n = 200000;

	lanq_seed(&r, tk_test_seed());
	for (i = 0; i < n; i++) {
		d = lanq_delay_ns(&r, &l);
		ck_assert_int_ge(d, lanq_min_ns(&l));
		ck_assert_int_le(d, lanq_max_ns(&l));
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		s += (double)d;
		s2 += (double)d * (double)d;
	}
	m = s / n;
	sd = sqrt(s2 / n - m * m);
	/* The mean within 5 standard errors, the spread within 2 %. */
	ck_assert_double_le(fabs(m - 200000), 5 * want_sd / sqrt(n));
	ck_assert_double_le(fabs(sd - want_sd), 0.02 * want_sd);
	/* The whole range is used. */
	ck_assert_int_le(lo, lanq_min_ns(&l) + 1000);
	ck_assert_int_ge(hi, lanq_max_ns(&l) - 1000);
}

START_TEST(uniform_law)
{
	/* Uniform on mean +- j: sd = j / sqrt(3). */
	law(LANQ_UNIFORM, 50000 / sqrt(3.0));
	ck_assert_int_eq(lanq_min_ns(&(struct lanq_link){ .mean_ns = 10, .jitter_ns = 50 }), 0);
}
END_TEST

START_TEST(normal_law)
{
	/* Cut at 3 sd: the spread is 0.9866 sd. */
	law(LANQ_NORMAL, 50000 * 0.98658);
	ck_assert_int_eq(lanq_min_ns(&(struct lanq_link){
				 .mean_ns = 200000, .jitter_ns = 50000, .dist = LANQ_NORMAL }),
			 50000);
}
END_TEST

START_TEST(loss_rate)
{
	struct lanq_link l = { .loss = 0.01 };
	struct lanq_rng r;
	int i, n = 1000000, lost = 0;

	lanq_seed(&r, tk_test_seed());
	for (i = 0; i < n; i++)
		lost += lanq_lost(&r, &l);
	/* Binomial(1e6, 0.01): sd 99.5; 6 sd. */
	ck_assert_int_le(abs(lost - 10000), 600);
	l.loss = 0;
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(lanq_lost(&r, &l), 0);
	l.loss = 1;
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(lanq_lost(&r, &l), 1);
}
END_TEST

START_TEST(heap_order)
{
	struct lanq_heap h;
	struct lanq_rng r;
	const struct lanq_item *t;
	int64_t last_due = INT64_MIN;
	uint64_t last_seq = 0;
	int i, n = 5000;

	ck_assert_int_eq(lanq_heap_init(&h, (size_t)n), 0);
	ck_assert_ptr_null(lanq_heap_top(&h));
	lanq_seed(&r, tk_test_seed());
	/* Few distinct due times, so ties are common. */
	for (i = 0; i < n; i++)
		ck_assert_int_eq(lanq_heap_push(&h,
						(struct lanq_item){
							.due_ns = (int64_t)(lanq_next(&r) % 50),
							.seq = (uint64_t)i,
							.slot = (uint32_t)i,
						}),
				 0);
	ck_assert_int_eq(lanq_heap_push(&h, (struct lanq_item){ .due_ns = 0 }), -ENOSPC);
	for (i = 0; i < n; i++) {
		t = lanq_heap_top(&h);
		ck_assert_ptr_nonnull(t);
		ck_assert(t->due_ns > last_due || (t->due_ns == last_due && t->seq > last_seq));
		ck_assert_uint_eq(t->slot, t->seq);
		last_due = t->due_ns;
		last_seq = t->seq;
		lanq_heap_pop(&h);
	}
	ck_assert_ptr_null(lanq_heap_top(&h));
	lanq_heap_free(&h);
}
END_TEST

static Suite *lanq_suite(void)
{
	Suite *s = suite_create("lanq");
	TCase *tc = tcase_create("core");

	/* 200,000 draws a law: ~3 s under ASan on a busy machine, past
	 * Check's 4 s default. A guard against a hang, not a time limit. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, same_seed_same_delays);
	tcase_add_test(tc, uniform_law);
	tcase_add_test(tc, normal_law);
	tcase_add_test(tc, loss_rate);
	tcase_add_test(tc, heap_order);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(lanq_suite());
}
