// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test helper: N reader threads (default one per CPU) read CLOCK_MONOTONIC
 * through libtimekeeper (tk_gettime) in a loop for SECONDS and count
 * backward steps, within a thread (a reading below that thread's previous
 * one) and across threads (a reading below the largest value any thread had
 * published before this one started: each thread loads the shared atomic
 * maximum, then reads the clock, then raises the maximum, so a correct clock
 * can never read below what it loaded). Prints one JSON object with the
 * counts, the largest backward step, how many readings came from the page,
 * and the page's disruption counter at start and end. Once its threads run
 * it says so on stderr ("tk_monocheck: reading"); SIGTERM ends the run
 * before SECONDS, so a script stops it when it is done rather than guessing
 * how long its work will take.
 *
 *   tk_monocheck PAGE SECONDS [THREADS]
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/tunit.h"
#include "tk_monoseen.h"
#include "timekeeper.h"

static struct timekeeper *tk;
static _Atomic int64_t global_max;
static _Atomic int stop;

struct reader {
	pthread_t thread;
	uint64_t reads, errors;
	struct mono_seen mono;
};

static void *run(void *arg)
{
	struct reader *r = arg;
	struct timespec ts;
	int64_t seen, v;

	r->mono.last = INT64_MIN;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		seen = mono_seen_before(&global_max);
		if (tk_gettime(tk, CLOCK_MONOTONIC, &ts) != 0) {
			r->errors++;
			continue;
		}
		v = ts_to_ns(&ts);
		r->reads++;
		mono_seen_note(&r->mono, &global_max, seen, v);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct tk_status st0, st1;
	struct reader *rd;
	struct timespec pause;
	sigset_t term;
	double seconds;
	long n;
	uint64_t reads = 0, within = 0, across = 0, errors = 0;
	int64_t max_back = 0;
	int err;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: tk_monocheck PAGE SECONDS [THREADS]\n");
		return 2;
	}
	seconds = strtod(argv[2], NULL);
	n = argc == 4 ? strtol(argv[3], NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1 || n > 256 || seconds <= 0) {
		fprintf(stderr, "tk_monocheck: threads %ld outside 1..256 or seconds %s not > 0\n",
			n, argv[2]);
		return 2;
	}
	err = tk_open(argv[1], &tk);
	if (err) {
		fprintf(stderr, "tk_monocheck: tk_open %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	tk_status(tk, &st0);
	/* Blocked here, so the threads inherit the mask and main waits for it. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	rd = calloc((size_t)n, sizeof(*rd));
	if (!rd)
		return 1;
	for (long i = 0; i < n; i++)
		if (pthread_create(&rd[i].thread, NULL, run, &rd[i]) != 0) {
			fprintf(stderr, "tk_monocheck: cannot start thread %ld\n", i);
			return 1;
		}
	pause.tv_sec = (time_t)seconds;
	pause.tv_nsec = (long)((seconds - (double)pause.tv_sec) * 1e9);
	fprintf(stderr, "tk_monocheck: reading\n");
	while (sigtimedwait(&term, NULL, &pause) < 0 && errno == EINTR)
		;
	atomic_store(&stop, 1);
	for (long i = 0; i < n; i++) {
		pthread_join(rd[i].thread, NULL);
		reads += rd[i].reads;
		within += rd[i].mono.back_within;
		across += rd[i].mono.back_across;
		errors += rd[i].errors;
		if (rd[i].mono.max_back_ns > max_back)
			max_back = rd[i].mono.max_back_ns;
	}
	tk_status(tk, &st1);
	printf("{\"threads\":%ld,\"reads\":%" PRIu64 ",\"errors\":%" PRIu64
	       ",\"backward_within\":%" PRIu64 ",\"backward_across\":%" PRIu64
	       ",\"max_backward_ns\":%" PRId64 ",\"stale_start\":%d,\"stale_end\":%d"
	       ",\"disruption_start\":%" PRIu64 ",\"disruption_end\":%" PRIu64 "}\n",
	       n, reads, errors, within, across, max_back, st0.stale, st1.stale, st0.disruption,
	       st1.disruption);
	free(rd);
	tk_close(tk);
	return 0;
}
