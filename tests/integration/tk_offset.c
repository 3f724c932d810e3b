// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test helper: reads CLOCK_REALTIME through libtimekeeper beside the
 * kernel's for --seconds at 100 Hz and prints one JSON object: the offset
 * (kernel - page) percentiles, its mean (signed) and slope in ppm, whether every reading came
 * from the page, and the page's status at the end (SECONDS 0: the status
 * alone). With --kernel in place of PAGE, the kernel's clock stands in for
 * the page: the same brackets measure the method's own floor on this machine
 * at this moment, the figure bench/bench_discipline.sh divides by.
 *
 *   tk_offset PAGE|--kernel SECONDS
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/tunit.h"
#include "timekeeper.h"

#define BRACKETS 5

static struct timekeeper *tk;
static int kernel_only;

/* The clock under test: the page through libtimekeeper, or the kernel's. */
static void read_rt(struct timespec *ts)
{
	if (kernel_only)
		clock_gettime(CLOCK_REALTIME, ts);
	else
		tk_gettime(tk, CLOCK_REALTIME, ts);
}

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	struct tk_status st = { 0 };
	double seconds, sx = 0, sy = 0, sxx = 0, sxy = 0;
	int64_t *abs_off, t0 = 0;
	size_t n, i, from_page = 0;
	struct timespec pause = { 0, 10000000 };

	if (argc != 3 || (seconds = atof(argv[2])) < 0) {
		fprintf(stderr, "usage: tk_offset PAGE|--kernel SECONDS\n");
		return 2;
	}
	kernel_only = !strcmp(argv[1], "--kernel");
	if (!kernel_only && tk_open(argv[1], &tk) < 0) {
		fprintf(stderr, "tk_offset: cannot open %s\n", argv[1]);
		return 1;
	}
	n = (size_t)(seconds * 100);
	abs_off = calloc(n + 1, sizeof(*abs_off));
	for (i = 0; i < n; i++) {
		struct timespec a, k, b, mono;
		int64_t off = 0, x, best = INT64_MAX;

		/* The narrowest of a few brackets (page, kernel, page): a bracket
		 * this process was preempted in says nothing about the clocks. */
		for (int r = 0; r < BRACKETS; r++) {
			read_rt(&a);
			clock_gettime(CLOCK_REALTIME, &k);
			read_rt(&b);
			if (ts_to_ns(&b) - ts_to_ns(&a) >= 0 &&
			    ts_to_ns(&b) - ts_to_ns(&a) < best) {
				best = ts_to_ns(&b) - ts_to_ns(&a);
				off = ts_to_ns(&k) - (ts_to_ns(&a) + best / 2);
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &mono);
		if (!i)
			t0 = ts_to_ns(&mono);
		x = ts_to_ns(&mono) - t0;
		sx += x / 1e9;
		sy += off;
		sxx += (x / 1e9) * (x / 1e9);
		sxy += (x / 1e9) * off;
		abs_off[i] = off < 0 ? -off : off;
		if (!kernel_only && tk_status(tk, &st) == 0 && !st.stale)
			from_page++;
		nanosleep(&pause, NULL);
	}
	if (!kernel_only)
		tk_status(tk, &st);
	qsort(abs_off, n, sizeof(*abs_off), cmp);
	printf("{\"samples\":%zu,\"from_page\":%zu", n, from_page);
	if (n > 1) {
		double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx); /* ns per s */

		printf(",\"p50_ns\":%" PRId64 ",\"p99_ns\":%" PRId64 ",\"max_ns\":%" PRId64
		       ",\"mean_ns\":%.0f,\"slope_ppm\":%.3f",
		       abs_off[n / 2], abs_off[(n * 99) / 100], abs_off[n - 1], sy / n,
		       slope / 1000.0);
	}
	printf(",\"stale\":%d,\"synchronized\":%d,\"source\":\"%s\",\"writer_pid\":%d,"
	       "\"maxerror_ns\":%" PRId64 ",\"disruption\":%" PRIu64 "}\n",
	       st.stale, st.synchronized, st.source, st.writer_pid, st.maxerror_ns, st.disruption);
	free(abs_off);
	if (!kernel_only)
		tk_close(tk);
	return 0;
}
