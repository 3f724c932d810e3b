// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Timer queue throughput (libtkcore's hrt): a queue holding 10^6
 * timers spread over the four bases with random expiries over one hour,
 * then, at that size, cancel+arm pairs (hrt_cancel of a random queued timer
 * and hrt_start of it at a new random expiry: the queue stays at 10^6, and
 * cancels hit random heap positions), re-arms (hrt_start on a queued
 * timer, which dequeues it itself), and next-event lookups
 * (hrt_next_hard). The same pairs at 10^3 queued timers give the O(log n)
 * ratio. Output: `bench: <name> <value> <unit>` lines (doc/architecture.md, section 11).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/hrt.h"
#include "core/tunit.h"

#define BIG 1000000
#define SMALL 1000
#define PAIRS 2000000
#define LOOKUPS 20000000
#define HOUR_NS (3600 * INT64_C(1000000000))

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t xrand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int64_t mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ts_to_ns(&t);
}

static enum hrt_restart fire(struct hrt_timer *t, int64_t now)
{
	(void)t;
	(void)now;
	return HRT_NORESTART;
}

static volatile int64_t sink;

/* cancel+arm pairs per second on the n timers of v, all queued. */
static double pairs_at(struct hrt_queue *q, struct hrt_timer *v, long n)
{
	int64_t t0 = mono(), t1;

	for (long i = 0; i < PAIRS; i++) {
		struct hrt_timer *t = &v[xrand() % (uint64_t)n];

		hrt_cancel(t);
		hrt_start(q, t, (int64_t)(xrand() % HOUR_NS), 0, HRT_MODE_ABS);
	}
	t1 = mono();
	return PAIRS / ((double)(t1 - t0) / 1e9);
}

static int fill(struct hrt_queue *q, struct hrt_timer *v, long n)
{
	for (long i = 0; i < n; i++) {
		hrt_timer_init(&v[i], (unsigned int)(i % HRT_NR_BASES), fire, NULL);
		if (hrt_start(q, &v[i], (int64_t)(xrand() % HOUR_NS), (uint64_t)(xrand() % 1000000),
			      HRT_MODE_ABS) < 0)
			return -1;
	}
	return 0;
}

int main(void)
{
	static struct hrt_queue q, qs;
	struct hrt_timer *v = calloc(BIG, sizeof(*v)), *vs = calloc(SMALL, sizeof(*vs));
	double big, small, rearm;
	int64_t t0, t1;

	if (!v || !vs)
		return 1;
	hrt_init(&q, NULL, NULL);
	hrt_init(&qs, NULL, NULL);

	t0 = mono();
	if (fill(&q, v, BIG) < 0) {
		fprintf(stderr, "bench_hrt: out of memory filling the queue\n");
		return 1;
	}
	t1 = mono();
	printf("bench: hrt_fill_1m %.0f ns/timer\n", (double)(t1 - t0) / BIG);
	if (fill(&qs, vs, SMALL) < 0)
		return 1;

	big = pairs_at(&q, v, BIG);
	small = pairs_at(&qs, vs, SMALL);
	if (hrt_count(&q) != BIG) {
		fprintf(stderr, "bench_hrt: %zu timers queued after the pairs, expected %d\n",
			hrt_count(&q), BIG);
		return 1;
	}

	t0 = mono();
	for (long i = 0; i < PAIRS; i++)
		hrt_start(&q, &v[xrand() % BIG], (int64_t)(xrand() % HOUR_NS), 0, HRT_MODE_ABS);
	t1 = mono();
	rearm = PAIRS / ((double)(t1 - t0) / 1e9);

	t0 = mono();
	for (long i = 0; i < LOOKUPS; i++)
		sink += hrt_next_hard(&q);
	t1 = mono();

	printf("bench: hrt_arm_cancel_1m %.0f ops/s\n", big);
	printf("bench: hrt_arm_cancel_1k %.0f ops/s\n", small);
	printf("bench: hrt_arm_cancel_1m_vs_1k_ratio %.3f\n", big / small);
	printf("bench: hrt_rearm_1m %.0f ops/s\n", rearm);
	printf("bench: hrt_next_1m %.1f ns\n", (double)(t1 - t0) / LOOKUPS);
	hrt_fini(&q);
	hrt_fini(&qs);
	free(v);
	free(vs);
	return 0;
}
