// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test helper: the bound audit. For SECONDS at about HZ (default 100) it
 * reads CLOCK_REALTIME through libtimekeeper, the kernel's (true time in
 * the tests: the local NTP servers serve the host clock), and ours again,
 * with the page's error bound read from its status block under the same
 * seqlock: bound_ns grown by bound_drift_ppb over the time since the
 * update (the kernel's CLOCK_MONOTONIC - last_update_ns, which is never
 * longer than the time since cycle_last: the audit errs on the strict
 * side). A sample is outside when the kernel's reading is outside
 * [ours_before - bound, ours_after + bound]: the interval widened by the
 * bracket. Samples without a bound (INT64_MAX) or DISRUPTED are counted,
 * not judged. Prints one JSON object: samples, judged, outside, the
 * statuses seen, the median and largest bound width (2 * bound), the
 * tightest slack. Written against the page fields, so it needs no library
 * support for them; a page without TK_PAGE_C_BOUND is judged on
 * maxerror_us.
 *
 *   tk_boundaudit PAGE SECONDS [HZ]
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/tunit.h"
#include "timekeeper.h"
#include "timekeeper/page.h"

#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define TRIES 20

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

struct sample {
	int64_t a, k, b, mono;
	int64_t bound; /* grown to the sample; INT64_MAX none */
	uint32_t status;
};

/* One bracket with the status read under the HRES block's seqlock. */
static int take(const struct tk_page *p, struct timekeeper *tk, struct sample *s)
{
	for (int i = 0; i < TRIES; i++) {
		uint32_t seq = __atomic_load_n(&p->clock[TK_PAGE_BLOCK_HRES].seq, __ATOMIC_ACQUIRE);
		uint32_t compat, drift, status, flags;
		int64_t bound, maxerr;
		uint64_t last;
		struct timespec a, k, b, m;

		if (seq & 1)
			continue;
		compat = LD(p->hdr.compat);
		drift = LD(p->status.bound_drift_ppb);
		status = LD(p->status.bound_status);
		bound = LD(p->status.bound_ns);
		maxerr = LD(p->status.maxerror_us);
		flags = LD(p->status.flags);
		last = LD(p->status.last_update_ns);
		tk_gettime(tk, CLOCK_REALTIME, &a);
		clock_gettime(CLOCK_REALTIME, &k);
		tk_gettime(tk, CLOCK_REALTIME, &b);
		clock_gettime(CLOCK_MONOTONIC, &m);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&p->clock[TK_PAGE_BLOCK_HRES].seq, __ATOMIC_RELAXED) != seq)
			continue;
		s->a = ts_to_ns(&a);
		s->k = ts_to_ns(&k);
		s->b = ts_to_ns(&b);
		s->mono = ts_to_ns(&m);
		if (!(compat & TK_PAGE_C_BOUND)) {
			/* An older page: adjtimex's maxerror, 16 s = none. */
			status = (flags & TK_PAGE_S_SYNC) ? TK_PAGE_BS_SYNCHRONIZED
							  : TK_PAGE_BS_UNKNOWN;
			bound = maxerr >= 16000000 ? INT64_MAX : maxerr * 1000;
			drift = 0;
		}
		s->status = status;
		if (bound != INT64_MAX && bound >= 0) {
			double el = (double)(s->mono - (int64_t)last);
			double grow = el > 0 ? el * drift / 1e9 : 0;

			s->bound = grow > 9e18 - (double)bound ? INT64_MAX : bound + (int64_t)grow;
		} else {
			s->bound = INT64_MAX;
		}
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct timekeeper *tk;
	const struct tk_page *p;
	double seconds, hz = 100;
	size_t n, i, judged = 0, outside = 0, unbounded = 0, torn = 0, st[4] = { 0 };
	int64_t *width, max_width = 0, min_slack = INT64_MAX, max_excess = 0;
	struct timespec pause;
	int fd;

	if (argc < 3 || (seconds = atof(argv[2])) <= 0 || (argc > 3 && (hz = atof(argv[3])) <= 0)) {
		fprintf(stderr, "usage: tk_boundaudit PAGE SECONDS [HZ]\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || tk_open(argv[1], &tk) < 0) {
		fprintf(stderr, "tk_boundaudit: cannot open %s\n", argv[1]);
		return 1;
	}
	p = mmap(NULL, TK_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "tk_boundaudit: cannot map %s\n", argv[1]);
		return 1;
	}
	pause.tv_sec = 0;
	pause.tv_nsec = (long)(1e9 / hz);
	n = (size_t)(seconds * hz);
	width = calloc(n + 1, sizeof(*width));
	for (i = 0; i < n; i++) {
		struct sample s;
		int64_t lo, hi, slack;

		if (take(p, tk, &s) < 0) {
			torn++;
			nanosleep(&pause, NULL);
			continue;
		}
		st[s.status & 3]++;
		if (s.bound == INT64_MAX) {
			unbounded++;
		} else if (s.status != TK_PAGE_BS_DISRUPTED) {
			lo = s.a - s.bound;
			hi = s.b + s.bound;
			slack = s.k < lo   ? s.k - lo
				: s.k > hi ? hi - s.k
					   : (s.k - lo < hi - s.k ? s.k - lo : hi - s.k);
			if (slack < min_slack)
				min_slack = slack;
			if (s.k < lo || s.k > hi) {
				if (outside < 10)
					fprintf(stderr,
						"outside at %.2f s: ours %" PRId64 "..%" PRId64
						" kernel %" PRId64 " bound %" PRId64 " status %u\n",
						(double)i / hz, s.a, s.b, s.k, s.bound, s.status);
				if (-slack > max_excess)
					max_excess = -slack;
				outside++;
			}
			width[judged++] = 2 * s.bound;
			if (2 * s.bound > max_width)
				max_width = 2 * s.bound;
		}
		nanosleep(&pause, NULL);
	}
	qsort(width, judged, sizeof(*width), cmp);
	printf("{\"samples\":%zu,\"judged\":%zu,\"outside\":%zu,\"unbounded\":%zu,\"torn\":%zu,"
	       "\"unknown\":%zu,\"synchronized\":%zu,\"free_running\":%zu,\"disrupted\":%zu,"
	       "\"min_width_ns\":%" PRId64 ",\"median_width_ns\":%" PRId64
	       ",\"max_width_ns\":%" PRId64 ",\"min_slack_ns\":%" PRId64
	       ",\"max_excess_ns\":%" PRId64 "}\n",
	       n, judged, outside, unbounded, torn, st[TK_PAGE_BS_UNKNOWN],
	       st[TK_PAGE_BS_SYNCHRONIZED], st[TK_PAGE_BS_FREE_RUNNING], st[TK_PAGE_BS_DISRUPTED],
	       judged ? width[0] : -1, judged ? width[judged / 2] : -1, max_width,
	       judged ? min_slack : -1, max_excess);
	free(width);
	tk_close(tk);
	return 0;
}
