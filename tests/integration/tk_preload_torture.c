// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test helper, run under LD_PRELOAD=libtimekeeper-preload.so: N reader
 * threads (default one per CPU, at least 2) call plain clock_gettime() in
 * a loop and count backward steps of CLOCK_MONOTONIC within a thread and
 * across threads (as tk_monocheck: each thread loads the shared maximum,
 * reads the clock, raises the maximum; a reading below what it loaded is a
 * step back), and every 64th round checks MONOTONIC_RAW and BOOTTIME for
 * steps back within the thread and REALTIME and BOOTTIME - MONOTONIC
 * against the kernel's, read with the system call (which no preload
 * reaches), within 1 s. The preload's counters (tk_preload_stats(), found
 * with dlsym; TIMEKEEPER_PRELOAD_STATS must be set) go to STATE every 20 ms
 * as one line "reads=N page=N kernel=N clamped=N switches=N back=N", so a
 * script can poll which path the readings take; SIGTERM ends the run and
 * one JSON object goes to stdout.
 *
 *   tk_preload_torture STATE [THREADS]
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/tunit.h"
#include "tk_monoseen.h"

#define SANITY_EVERY 64
#define SANITY_NS (1000 * 1000 * 1000LL)

typedef size_t (*stats_fn)(uint64_t *, size_t);

static _Atomic int64_t global_max;
static _Atomic int stop;

struct reader {
	pthread_t thread;
	_Atomic uint64_t reads;
	uint64_t back_raw, back_boot, errors, insane;
	struct mono_seen mono;
	char why[160]; /* the first insane reading */
};

static int64_t kernel_ns(clockid_t clock)
{
	struct timespec ts;

	if (syscall(SYS_clock_gettime, clock, &ts) != 0)
		return INT64_MIN;
	return ts_to_ns(&ts);
}

static int64_t read_ns(clockid_t clock, struct reader *r)
{
	struct timespec ts;

	if (clock_gettime(clock, &ts) != 0) {
		r->errors++;
		return INT64_MIN;
	}
	return ts_to_ns(&ts);
}

static void insane(struct reader *r, const char *what, int64_t got, int64_t want)
{
	if (!r->insane++)
		snprintf(r->why, sizeof(r->why), "%s %" PRId64 " ns, the kernel's %" PRId64 " ns",
			 what, got, want);
}

/* Every SANITY_EVERY rounds: RAW and BOOTTIME forward, REALTIME and the
 * BOOTTIME - MONOTONIC offset near the kernel's. */
static void sanity(struct reader *r, int64_t *raw, int64_t *boot)
{
	int64_t kr = kernel_ns(CLOCK_REALTIME), v = read_ns(CLOCK_REALTIME, r);
	int64_t km = kernel_ns(CLOCK_MONOTONIC), kb = kernel_ns(CLOCK_BOOTTIME);
	int64_t m = read_ns(CLOCK_MONOTONIC, r), b = read_ns(CLOCK_BOOTTIME, r);
	int64_t w = read_ns(CLOCK_MONOTONIC_RAW, r);

	if (v == INT64_MIN || m == INT64_MIN || b == INT64_MIN || w == INT64_MIN)
		return;
	if (llabs(v - kr) > SANITY_NS)
		insane(r, "REALTIME", v, kr);
	if (llabs((b - m) - (kb - km)) > SANITY_NS)
		insane(r, "BOOTTIME - MONOTONIC", b - m, kb - km);
	if (w < *raw)
		r->back_raw++;
	if (b < *boot)
		r->back_boot++;
	*raw = w;
	*boot = b;
}

static void *run(void *arg)
{
	struct reader *r = arg;
	int64_t raw = INT64_MIN, boot = INT64_MIN, seen, v;
	uint64_t n = 0;

	r->mono.last = INT64_MIN;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		seen = mono_seen_before(&global_max);
		v = read_ns(CLOCK_MONOTONIC, r);
		if (v == INT64_MIN)
			continue;
		mono_seen_note(&r->mono, &global_max, seen, v);
		if (++n % SANITY_EVERY == 0)
			sanity(r, &raw, &boot);
		atomic_store_explicit(&r->reads, n, memory_order_relaxed);
	}
	return NULL;
}

static uint64_t sum_back(const struct reader *rd, long n)
{
	uint64_t b = 0;

	for (long i = 0; i < n; i++)
		b += rd[i].mono.back_within + rd[i].mono.back_across + rd[i].back_raw +
		     rd[i].back_boot;
	return b;
}

/* STATE, replaced whole (rename) so a reader never sees half a line. */
static void write_state(const char *path, const struct reader *rd, long n, const uint64_t *st)
{
	char tmp[4096];
	uint64_t reads = 0;
	FILE *f;

	for (long i = 0; i < n; i++)
		reads += atomic_load_explicit(&rd[i].reads, memory_order_relaxed);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f,
		"reads=%" PRIu64 " page=%" PRIu64 " kernel=%" PRIu64 " clamped=%" PRIu64
		" switches=%" PRIu64 " back=%" PRIu64 "\n",
		reads, st[0], st[1], st[3], st[4], sum_back(rd, n));
	if (fclose(f) == 0)
		rename(tmp, path);
}

int main(int argc, char **argv)
{
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	uint64_t st[6] = { 0 }, reads = 0, within = 0, across = 0, raw = 0, boot = 0;
	uint64_t errors = 0, bad = 0;
	const char *why = "";
	struct reader *rd;
	stats_fn stats;
	sigset_t term;
	int64_t max_back = 0;
	long n;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: tk_preload_torture STATE [THREADS]\n");
		return 2;
	}
	n = argc == 3 ? strtol(argv[2], NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 2)
		n = 2;
	if (n > 256) {
		fprintf(stderr, "tk_preload_torture: threads %ld outside 2..256\n", n);
		return 2;
	}
	stats = (stats_fn)dlsym(RTLD_DEFAULT, "tk_preload_stats");
	if (!stats || stats(st, 6) != 6) {
		fprintf(stderr,
			"tk_preload_torture: no tk_preload_stats counters: run it with "
			"LD_PRELOAD=libtimekeeper-preload.so and TIMEKEEPER_PRELOAD_STATS=1\n");
		return 2;
	}
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	rd = calloc((size_t)n, sizeof(*rd));
	if (!rd)
		return 1;
	for (long i = 0; i < n; i++)
		if (pthread_create(&rd[i].thread, NULL, run, &rd[i]) != 0) {
			fprintf(stderr, "tk_preload_torture: cannot start thread %ld\n", i);
			return 1;
		}
	fprintf(stderr, "tk_preload_torture: reading\n");
	for (;;) {
		stats(st, 6);
		write_state(argv[1], rd, n, st);
		if (sigtimedwait(&term, NULL, &tick) == SIGTERM)
			break;
	}
	atomic_store(&stop, 1);
	for (long i = 0; i < n; i++) {
		pthread_join(rd[i].thread, NULL);
		reads += rd[i].reads;
		within += rd[i].mono.back_within;
		across += rd[i].mono.back_across;
		raw += rd[i].back_raw;
		boot += rd[i].back_boot;
		errors += rd[i].errors;
		bad += rd[i].insane;
		if (rd[i].insane && !*why)
			why = rd[i].why;
		if (rd[i].mono.max_back_ns > max_back)
			max_back = rd[i].mono.max_back_ns;
	}
	stats(st, 6);
	printf("{\"threads\":%ld,\"reads\":%" PRIu64 ",\"errors\":%" PRIu64
	       ",\"backward_within\":%" PRIu64 ",\"backward_across\":%" PRIu64
	       ",\"backward_raw\":%" PRIu64 ",\"backward_boot\":%" PRIu64
	       ",\"max_backward_ns\":%" PRId64 ",\"insane\":%" PRIu64 ",\"insane_first\":\"%s\""
	       ",\"page\":%" PRIu64 ",\"kernel\":%" PRIu64 ",\"passthrough\":%" PRIu64
	       ",\"clamped\":%" PRIu64 ",\"switches\":%" PRIu64 ",\"waitless\":%" PRIu64 "}\n",
	       n, reads, errors, within, across, raw, boot, max_back, bad, why, st[0], st[1], st[2],
	       st[3], st[4], st[5]);
	free(rd);
	return 0;
}
