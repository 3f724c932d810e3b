// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Read cost of libtimekeeper against the kernel's vDSO, in the same run:
 * tk_gettime(CLOCK_MONOTONIC) on a page in TSC mode (written by an
 * in-process pagew, the TSC mapped to the kernel's CLOCK_MONOTONIC with a
 * frequency measured over 200 ms) versus clock_gettime(CLOCK_MONOTONIC).
 * Each run times BATCH calls per sample, SAMPLES samples, alternating the two
 * readers run by run; the median is the median of the run averages, the p99
 * the 99th percentile of the batch averages over all runs. Output lines are
 * `bench: <name> <value> <unit>` (doc/architecture.md, section 11).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clocksource.h"
#include "core/pagew.h"
#include "core/tunit.h"
#include "hw/tsc.h"
#include "timekeeper.h"

#define RUNS 7
#define SAMPLES 2000
#define BATCH 64

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static volatile long sink;

/* Average ns per call of each batch into out[SAMPLES]; returns the run's mean. */
static double run(struct timekeeper *tk, bool use_tk, double *out)
{
	struct timespec a, b, ts;
	double sum = 0;

	for (int s = 0; s < SAMPLES; s++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (use_tk)
			for (int i = 0; i < BATCH; i++) {
				tk_gettime(tk, CLOCK_MONOTONIC, &ts);
				sink += ts.tv_nsec;
			}
		else
			for (int i = 0; i < BATCH; i++) {
				clock_gettime(CLOCK_MONOTONIC, &ts);
				sink += ts.tv_nsec;
			}
		clock_gettime(CLOCK_MONOTONIC, &b);
		out[s] = (double)(ts_to_ns_u(&b) - ts_to_ns_u(&a)) / BATCH;
		sum += out[s];
	}
	return sum / SAMPLES;
}

int main(void)
{
	static double batches[2][RUNS * SAMPLES];
	double means[2][RUNS], med[2], p99[2];
	char dir[] = "/tmp/tk-bench-XXXXXX", err[256];
	struct timespec r0, m0, m1, raw;
	struct timekeeper *tk;
	struct tk_status st;
	struct pagew *pw;
	struct tkv v;
	uint64_t c0, c1, hz, c;
	uint32_t mult, shift;

	if (!mkdtemp(dir) || pagew_open(dir, &pw, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_read: cannot create a page in %s: %s\n", dir, err);
		return 1;
	}
	/* Measure the TSC against CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_MONOTONIC, &m0);
	c0 = tsc_read_ordered();
	usleep(200000);
	clock_gettime(CLOCK_MONOTONIC, &m1);
	c1 = tsc_read_ordered();
	hz = (uint64_t)((double)(c1 - c0) * 1e9 / (double)(ts_to_ns_u(&m1) - ts_to_ns_u(&m0)));
	if (hz == 0 || hz > UINT32_MAX) {
		fprintf(stderr, "bench_read: TSC at %llu Hz outside 1..%u\n",
			(unsigned long long)hz, UINT32_MAX);
		return 1;
	}
	cs_calc_mult_shift(&mult, &shift, (uint32_t)hz, 1000000000u, 600);

	/* A timekeeper whose MONOTONIC is the kernel's at cycle_last. */
	memset(&v, 0, sizeof(v));
	clock_gettime(CLOCK_REALTIME, &r0);
	clock_gettime(CLOCK_MONOTONIC, &m0);
	clock_gettime(CLOCK_MONOTONIC_RAW, &raw);
	c = tsc_read_ordered() & INT64_MAX;
	v.mono.cycle_last = c;
	v.mono.mask = INT64_MAX;
	v.mono.max_cycles = (UINT64_MAX >> 1) / mult;
	v.mono.mult = mult;
	v.mono.shift = shift;
	v.mono.xtime_nsec = (uint64_t)r0.tv_nsec << shift;
	v.raw = v.mono;
	v.raw.xtime_nsec = (uint64_t)raw.tv_nsec << shift;
	v.xtime_sec = r0.tv_sec;
	v.raw_sec = raw.tv_sec;
	{
		struct timespec wtm;

		ns_to_ts((int64_t)ts_to_ns_u(&m0) - (int64_t)ts_to_ns_u(&r0), &wtm);
		v.wall_to_monotonic.sec = wtm.tv_sec;
		v.wall_to_monotonic.nsec = wtm.tv_nsec;
	}
	v.coarse_nsec = (uint64_t)r0.tv_nsec;
	strcpy(v.cs_name, "tsc");
	v.cs_client_readable = true;
	v.cs_page_tsc = true;
	v.maxerror_us = 1000;
	pagew_publish(pw, &v, ts_to_ns_u(&m0), 3600 * NSEC_PER_SEC_U, NULL, NULL);

	if (tk_open(pagew_path(pw), &tk) < 0 || tk_status(tk, &st) < 0 || st.stale ||
	    st.clock_mode != TK_PAGE_MODE_TSC) {
		fprintf(stderr, "bench_read: the page is not readable in TSC mode\n");
		return 1;
	}
	for (int r = 0; r < RUNS; r++) {
		means[0][r] = run(tk, true, &batches[0][r * SAMPLES]);
		means[1][r] = run(tk, false, &batches[1][r * SAMPLES]);
	}
	for (int k = 0; k < 2; k++) {
		qsort(means[k], RUNS, sizeof(double), cmp_double);
		qsort(batches[k], RUNS * SAMPLES, sizeof(double), cmp_double);
		med[k] = means[k][RUNS / 2];
		p99[k] = batches[k][RUNS * SAMPLES * 99 / 100];
	}
	printf("bench: tsc_hz %llu Hz\n", (unsigned long long)hz);
	printf("bench: tk_gettime_monotonic_median %.1f ns\n", med[0]);
	printf("bench: tk_gettime_monotonic_p99 %.1f ns\n", p99[0]);
	printf("bench: vdso_monotonic_median %.1f ns\n", med[1]);
	printf("bench: vdso_monotonic_p99 %.1f ns\n", p99[1]);
	printf("bench: tk_vs_vdso_monotonic_ratio %.2f ratio\n", med[0] / med[1]);
	printf("bench: tk_vs_vdso_monotonic_p99_ratio %.2f ratio\n", p99[0] / p99[1]);
	tk_close(tk);
	pagew_close(pw, true);
	rmdir(dir);
	return 0;
}
