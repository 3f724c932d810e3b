// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test helper for libtimekeeper-preload.so: calls each libc entry point the
 * preload interposes (clock_gettime by both of glibc's versions,
 * gettimeofday, time, timespec_get, ftime) and the cases it must pass
 * through (clocks it does not serve, invalid and dynamic clock ids, NULL
 * arguments), one line each:
 *
 *   <case> rc=<return value> errno=<errno or 0> served=<readings it served>
 *
 * served is how many readings the preload counted as its own (page or
 * kernel) during the call, from tk_preload_stats() (found with dlsym), or
 * "-" when it is not loaded or TIMEKEEPER_PRELOAD_STATS is not set. The
 * script compares rc and errno with and without the preload.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/timeb.h>
#include <time.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* ftime */

/* clock_gettime as programs linked against glibc before 2.17 (librt) name it. */
int clock_gettime_old(clockid_t clock, struct timespec *ts);
__asm__(".symver clock_gettime_old,clock_gettime@GLIBC_2.2.5");

typedef size_t (*stats_fn)(uint64_t *, size_t);
static stats_fn stats;

static long served_now(void)
{
	uint64_t c[2];

	if (!stats || stats(c, 2) != 2)
		return -1;
	return (long)(c[0] + c[1]);
}

static void report(const char *name, long rc, int err, long before)
{
	long after = served_now();

	if (before < 0 || after < 0)
		printf("%s rc=%ld errno=%s served=-\n", name, rc, err ? strerror(err) : "0");
	else
		printf("%s rc=%ld errno=%s served=%ld\n", name, rc, err ? strerror(err) : "0",
		       after - before);
}

#define CASE(name, expr)                                                                           \
	do {                                                                                       \
		long b_ = served_now(), r_;                                                        \
		errno = 0;                                                                         \
		r_ = (long)(expr);                                                                 \
		report(name, r_, errno, b_);                                                       \
	} while (0)

/* A clock id of a descriptor (the kernel's FD_TO_CLOCKID) and of another
 * process's CPU time (MAKE_PROCESS_CPUCLOCK, CPUCLOCK_SCHED). */
#define FD_CLOCK(fd) ((clockid_t)((~(unsigned int)(fd) << 3) | 3))
#define PID_CLOCK(pid) ((clockid_t)((~(unsigned int)(pid) << 3) | 2))

int main(void)
{
	struct timespec ts;
	struct timeval tv;
	struct timezone tz;
	struct timeb tb;
	/* volatile: glibc declares these arguments nonnull, and the calls with
	 * NULL are the point. */
	struct timespec *volatile null_ts = NULL;
	struct timeval *volatile null_tv = NULL;

	stats = (stats_fn)dlsym(RTLD_DEFAULT, "tk_preload_stats");
	/* served */
	CASE("clock_gettime@GLIBC_2.17/MONOTONIC", clock_gettime(CLOCK_MONOTONIC, &ts));
	CASE("clock_gettime@GLIBC_2.2.5/MONOTONIC", clock_gettime_old(CLOCK_MONOTONIC, &ts));
	CASE("clock_gettime/REALTIME", clock_gettime(CLOCK_REALTIME, &ts));
	CASE("clock_gettime/TAI", clock_gettime(CLOCK_TAI, &ts));
	CASE("clock_gettime/BOOTTIME", clock_gettime(CLOCK_BOOTTIME, &ts));
	CASE("clock_gettime/MONOTONIC_RAW", clock_gettime(CLOCK_MONOTONIC_RAW, &ts));
	CASE("gettimeofday", gettimeofday(&tv, NULL));
	CASE("gettimeofday/tz", gettimeofday(&tv, &tz));
	CASE("time", time(NULL) > 0);
	CASE("timespec_get/TIME_UTC", timespec_get(&ts, TIME_UTC));
	CASE("ftime", ftime(&tb));
	/* passed through */
	CASE("clock_gettime/PROCESS_CPUTIME_ID", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts));
	CASE("clock_gettime/THREAD_CPUTIME_ID", clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts));
	CASE("clock_gettime/MONOTONIC_COARSE", clock_gettime(CLOCK_MONOTONIC_COARSE, &ts));
	CASE("clock_gettime/REALTIME_COARSE", clock_gettime(CLOCK_REALTIME_COARSE, &ts));
	CASE("clock_gettime/id 12345", clock_gettime((clockid_t)12345, &ts));
	CASE("clock_gettime/id -1", clock_gettime((clockid_t)-1, &ts));
	CASE("clock_gettime/fd 999", clock_gettime(FD_CLOCK(999), &ts));
	CASE("clock_gettime/pid 4194303 cpu", clock_gettime(PID_CLOCK(4194303), &ts));
	CASE("clock_gettime/PROCESS_CPUTIME_ID NULL",
	     clock_gettime(CLOCK_PROCESS_CPUTIME_ID, null_ts));
	CASE("clock_gettime@GLIBC_2.2.5/id 12345", clock_gettime_old((clockid_t)12345, &ts));
	CASE("gettimeofday/NULL", gettimeofday(null_tv, NULL));
	CASE("gettimeofday/NULL tz", gettimeofday(null_tv, &tz));
	CASE("timespec_get/base 0", timespec_get(&ts, 0));
	return 0;
}
