// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libtimekeeper-preload.so: an LD_PRELOAD interposer that makes the libc
 * entry points reading the time (clock_gettime, gettimeofday, time,
 * timespec_get, ftime) read timekeeperd's page through libtimekeeper's own
 * reader (tkr_gettime) when the page is live and in TSC mode, and the
 * kernel otherwise (libtimekeeper-preload(3)). It is built from the same
 * objects as libtimekeeper.so (the convenience library libtkreader.la) and
 * exports only the interposed names and tk_preload_stats() (preload.sym).
 *
 * Served clocks: CLOCK_REALTIME, CLOCK_TAI, CLOCK_MONOTONIC,
 * CLOCK_MONOTONIC_RAW and CLOCK_BOOTTIME. Every other id (the coarse
 * clocks, whose resolution is the kernel's tick and not the page's update
 * interval, the alarm clocks, CPU-time and dynamic clocks, invalid ids) and
 * a NULL or invalid timespec go to the next definition (libc) untouched,
 * so their results and errno are libc's.
 *
 * The kernel: the next clock_gettime() in the lookup order, found with
 * dlsym(RTLD_NEXT) in the constructor. A call before that (another
 * library's constructor) makes the system call itself. libtimekeeper's own
 * calls to clock_gettime() (its fallback, its coarse liveness checks) are
 * linked to __wrap_clock_gettime (ld --wrap) and so reach the kernel, never
 * this file's clock_gettime: no recursion.
 *
 * Never backwards across sources. The page's MONOTONIC and the kernel's
 * differ by the daemon's discipline (microseconds to milliseconds), and a
 * restarted daemon's page starts again from the kernel's. Each reading of
 * MONOTONIC, MONOTONIC_RAW or BOOTTIME comes from one source (the kernel,
 * or one page mapping: tkr_gettime says which). A process-wide generation
 * names the current source; readers check it before and after the reading,
 * as a seqlock reader would, and write nothing shared but, at most once per
 * MARK_SLACK_NS of clock time, the clock's mark: every value returned is at
 * most mark + MARK_SLACK_NS. A reader whose source is not the current one
 * switches the generation (odd while switching) and raises each clock's
 * floor to its mark + MARK_SLACK_NS; readings below the floor return the
 * floor. A reader that finds a switch under way does not wait (it may be a
 * signal handler interrupting the switcher): it returns at least mark +
 * MARK_SLACK_NS and raises the floor to what it returns. So MONOTONIC stands
 * still for the sources' difference plus at most MARK_SLACK_NS after a
 * switch, and never goes back, in a thread or across threads.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timeb.h>
#include <time.h>
#include <unistd.h>

#include "core/tunit.h"
#include "timekeeper.h"
#include "lib/tkread.h"

#define TKP_EXPORT __attribute__((visibility("default")))

/* How far a returned reading may run ahead of its clock's mark before the
 * reader raises the mark: the most a switch holds MONOTONIC still beyond the
 * two sources' difference. Larger means fewer writes to the shared mark
 * (one per this much clock time per process, whatever the thread count). */
#define MARK_SLACK_NS 50000
/* A reader retries this often while the generation changes under it, then
 * takes the path that does not need it. */
#define TRIES_MAX 3
/* A source that is neither the kernel (NULL) nor a page: set in a child
 * forked during a switch, so its first reading switches again. */
#define SRC_UNKNOWN ((const struct tk_page *)(uintptr_t)1)

#define LD(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define ADD(x) __atomic_fetch_add(&(x), 1, __ATOMIC_RELAXED)

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
typedef int (*gettimeofday_fn)(struct timeval *, void *);
typedef int (*timespec_get_fn)(struct timespec *, int);

/* The next definitions (libc's), set once by the constructor. */
static clock_gettime_fn real_clock_gettime;
static gettimeofday_fn real_gettimeofday;
static timespec_get_fn real_timespec_get;

/* NULL: no handle (before the constructor, disabled, or tk_open failed). */
static struct timekeeper *handle;
static bool disabled_flag; /* TIMEKEEPER_PRELOAD=off: everything passes through */

/* The clocks with a floor: the ones that never go back. */
enum { FL_MONO, FL_RAW, FL_BOOT, FL_N };

static struct {
	uint64_t gen;		   /* odd while a switch is under way */
	const struct tk_page *src; /* the source of generation gen; NULL: the kernel */
	int64_t floor_ns[FL_N];
} __attribute__((aligned(64))) sw;

static struct {
	int64_t ns;
} __attribute__((aligned(64))) mark[FL_N];

/* The counters of tk_preload_stats(), kept only with TIMEKEEPER_PRELOAD_STATS. */
enum { ST_PAGE, ST_KERNEL, ST_PASS, ST_CLAMPED, ST_SWITCHES, ST_WAITLESS, ST_N };
static struct {
	uint64_t n;
} __attribute__((aligned(64))) stat_n[ST_N];
static bool stats_on;
static char stats_path[256];

static inline bool disabled(void)
{
	return __builtin_expect(__atomic_load_n(&disabled_flag, __ATOMIC_RELAXED), 0);
}

static inline void count(int i)
{
	if (__builtin_expect(__atomic_load_n(&stats_on, __ATOMIC_RELAXED), 0))
		ADD(stat_n[i].n);
}

/* glibc declares the timespec arguments nonnull; a caller may still pass
 * NULL, and the check for it must stay. */
static inline void *launder(void *p)
{
	__asm__("" : "+r"(p));
	return p;
}

/* The kernel's clock_gettime(): libc's, or the system call before the
 * constructor found it. 0 or -1 with errno, as libc. */
static int kernel_clock_gettime(clockid_t clock, struct timespec *ts)
{
	clock_gettime_fn f = __atomic_load_n(&real_clock_gettime, __ATOMIC_ACQUIRE);

	if (__builtin_expect(f != NULL, 1))
		return f(clock, ts);
	return (int)syscall(SYS_clock_gettime, clock, ts);
}

/* libtimekeeper's calls to clock_gettime(), redirected here at link time. */
int __wrap_clock_gettime(clockid_t clock, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clock, struct timespec *ts)
{
	return kernel_clock_gettime(clock, ts);
}

static inline int floor_index(clockid_t clock)
{
	switch (clock) {
	case CLOCK_MONOTONIC:
		return FL_MONO;
	case CLOCK_MONOTONIC_RAW:
		return FL_RAW;
	case CLOCK_BOOTTIME:
		return FL_BOOT;
	default:
		return -1;
	}
}

static inline bool served(clockid_t clock)
{
	return clock == CLOCK_REALTIME || clock == CLOCK_TAI || floor_index(clock) >= 0;
}

/* One reading of a served clock and its source: 0, or -1 with errno. */
static inline int read_src(clockid_t clock, struct timespec *ts, const struct tk_page **from)
{
	struct timekeeper *tk = __atomic_load_n(&handle, __ATOMIC_ACQUIRE);
	int r;

	if (__builtin_expect(tk != NULL, 1)) {
		r = tkr_gettime(tk, clock, ts, from);
		if (r < 0) {
			errno = -r;
			return -1;
		}
	} else {
		*from = NULL;
		if (kernel_clock_gettime(clock, ts) < 0)
			return -1;
	}
	return 0;
}

static inline void raise_to(int64_t *v, int64_t x)
{
	int64_t old = LD(*v);

	while (x > old &&
	       !__atomic_compare_exchange_n(v, &old, x, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
}

/* Makes src the current source if generation g still stands: odd, the
 * floors raised to cover every value returned so far, then even again. */
static void switch_to(uint64_t g, const struct tk_page *src)
{
	if (!__atomic_compare_exchange_n(&sw.gen, &g, g + 1, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return;
	ST(sw.src, src);
	for (int i = 0; i < FL_N; i++)
		raise_to(&sw.floor_ns[i], LD(mark[i].ns) + MARK_SLACK_NS);
	ST(sw.gen, g + 2);
	count(ST_SWITCHES);
}

/* A reading of a clock that never goes back (floor_index() i); *from as
 * read_src's, of the reading returned. */
static int read_floored(int i, clockid_t clock, struct timespec *ts, const struct tk_page **from)
{
	const struct tk_page *cur;
	int64_t v, x, m;
	uint64_t g;

	for (int tries = 0;; tries++) {
		g = LD(sw.gen);
		cur = LD(sw.src);
		if (read_src(clock, ts, from) < 0)
			return -1;
		v = ts_to_ns(ts);
		if ((g & 1) || tries >= TRIES_MAX) {
			/* No stable generation: at least every value returned. */
			m = LD(mark[i].ns);
			x = v > m + MARK_SLACK_NS ? v : m + MARK_SLACK_NS;
			raise_to(&mark[i].ns, x);
			raise_to(&sw.floor_ns[i], x);
			count(ST_WAITLESS);
			break;
		}
		if (*from != cur) {
			switch_to(g, *from);
			continue;
		}
		x = LD(sw.floor_ns[i]);
		if (x < v)
			x = v;
		m = LD(mark[i].ns);
		if (x > m + MARK_SLACK_NS)
			raise_to(&mark[i].ns, x);
		if (LD(sw.gen) == g)
			break;
	}
	if (x != v) {
		ns_to_ts(x, ts);
		count(ST_CLAMPED);
	}
	return 0;
}

static inline int read_served(clockid_t clock, struct timespec *ts)
{
	const struct tk_page *from;
	int i = floor_index(clock), r;

	r = i >= 0 ? read_floored(i, clock, ts, &from) : read_src(clock, ts, &from);
	if (r == 0)
		count(from ? ST_PAGE : ST_KERNEL);
	return r;
}

TKP_EXPORT int clock_gettime(clockid_t clock, struct timespec *ts)
{
	if (__builtin_expect(!served(clock) || !launder(ts) || disabled(), 0)) {
		count(ST_PASS);
		return kernel_clock_gettime(clock, ts);
	}
	return read_served(clock, ts);
}

static int do_gettimeofday(struct timeval *tv, void *tz)
{
	gettimeofday_fn f = __atomic_load_n(&real_gettimeofday, __ATOMIC_ACQUIRE);
	struct timespec ts;

	if (!launder(tv) || disabled()) {
		count(ST_PASS);
		return f ? f(tv, tz) : (int)syscall(SYS_gettimeofday, tv, tz);
	}
	/* The obsolete timezone is the kernel's: ask for it alone. */
	if (tz && (f ? f(NULL, tz) : (int)syscall(SYS_gettimeofday, NULL, tz)) < 0)
		return -1;
	if (read_served(CLOCK_REALTIME, &ts) < 0)
		return -1;
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}

TKP_EXPORT int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	return do_gettimeofday(tv, tz);
}

/* glibc exports gettimeofday under this name too. */
int __gettimeofday(struct timeval *restrict tv, void *restrict tz);
TKP_EXPORT int __gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	return do_gettimeofday(tv, tz);
}

TKP_EXPORT time_t time(time_t *t)
{
	struct timespec ts;

	if (disabled()) {
		count(ST_PASS);
		if (kernel_clock_gettime(CLOCK_REALTIME, &ts) < 0)
			return (time_t)-1;
	} else if (read_served(CLOCK_REALTIME, &ts) < 0) {
		return (time_t)-1;
	}
	if (t)
		*t = ts.tv_sec;
	return ts.tv_sec;
}

TKP_EXPORT int timespec_get(struct timespec *ts, int base)
{
	timespec_get_fn f = __atomic_load_n(&real_timespec_get, __ATOMIC_ACQUIRE);

	if (base != TIME_UTC || !launder(ts) || disabled()) {
		count(ST_PASS);
		if (f)
			return f(ts, base);
		return base == TIME_UTC && kernel_clock_gettime(CLOCK_REALTIME, ts) == 0 ? base : 0;
	}
	return read_served(CLOCK_REALTIME, ts) == 0 ? base : 0;
}

/* As glibc's: REALTIME in whole ms, no time zone. */
TKP_EXPORT int ftime(struct timeb *tb)
{
	struct timespec ts;

	if (disabled()) {
		count(ST_PASS);
		kernel_clock_gettime(CLOCK_REALTIME, &ts);
	} else if (read_served(CLOCK_REALTIME, &ts) < 0) {
		return -1;
	}
	tb->time = ts.tv_sec;
	tb->millitm = (unsigned short)(ts.tv_nsec / 1000000);
	tb->timezone = 0;
	tb->dstflag = 0;
	return 0;
}

/* Fills up to n counters (page, kernel, passed through, clamped, switches,
 * readings taken during a switch) and returns how many it filled: 0 unless
 * TIMEKEEPER_PRELOAD_STATS was set when the program started. */
size_t tk_preload_stats(uint64_t *out, size_t n);
TKP_EXPORT size_t tk_preload_stats(uint64_t *out, size_t n)
{
	size_t i;

	if (!__atomic_load_n(&stats_on, __ATOMIC_RELAXED) || !out)
		return 0;
	for (i = 0; i < n && i < ST_N; i++)
		out[i] = __atomic_load_n(&stat_n[i].n, __ATOMIC_RELAXED);
	return i;
}

/* A child forked while a switch was under way would see it odd for ever:
 * finish it, towards a source no reading has, so the next one switches. */
static void child_after_fork(void)
{
	uint64_t g = LD(sw.gen);

	if (!(g & 1))
		return;
	ST(sw.src, SRC_UNKNOWN);
	for (int i = 0; i < FL_N; i++)
		raise_to(&sw.floor_ns[i], LD(mark[i].ns) + MARK_SLACK_NS);
	ST(sw.gen, g + 1);
}

__attribute__((constructor)) static void preload_init(void)
{
	const char *mode = getenv("TIMEKEEPER_PRELOAD");
	const char *sp = secure_getenv("TIMEKEEPER_PRELOAD_STATS");
	struct timekeeper *tk;

	__atomic_store_n(&real_gettimeofday, (gettimeofday_fn)dlsym(RTLD_NEXT, "gettimeofday"),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&real_timespec_get, (timespec_get_fn)dlsym(RTLD_NEXT, "timespec_get"),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&real_clock_gettime, (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime"),
			 __ATOMIC_RELEASE);
	if (sp && *sp) {
		if (sp[0] == '/' && strlen(sp) < sizeof(stats_path))
			strcpy(stats_path, sp);
		__atomic_store_n(&stats_on, true, __ATOMIC_RELAXED);
	}
	if (mode && strcmp(mode, "off") == 0) {
		__atomic_store_n(&disabled_flag, true, __ATOMIC_RELAXED);
		return;
	}
	if (mode && *mode && strcmp(mode, "on") != 0)
		fprintf(stderr,
			"timekeeper-preload: TIMEKEEPER_PRELOAD=%.32s not understood: expected on "
			"or off; staying on\n",
			mode);
	pthread_atfork(NULL, NULL, child_after_fork);
	if (tk_open(NULL, &tk) == 0) {
		tkr_set_tsc_only(tk);
		__atomic_store_n(&handle, tk, __ATOMIC_RELEASE);
	}
}

/* With TIMEKEEPER_PRELOAD_STATS=/path: one line per process at exit. */
__attribute__((destructor)) static void preload_fini(void)
{
	uint64_t c[ST_N];
	char line[256];
	int fd, n;

	if (!stats_path[0] || tk_preload_stats(c, ST_N) != ST_N)
		return;
	n = snprintf(line, sizeof(line),
		     "timekeeper-preload: pid=%d page=%llu kernel=%llu passthrough=%llu "
		     "clamped=%llu switches=%llu waitless=%llu\n",
		     (int)getpid(), (unsigned long long)c[0], (unsigned long long)c[1],
		     (unsigned long long)c[2], (unsigned long long)c[3], (unsigned long long)c[4],
		     (unsigned long long)c[5]);
	fd = open(stats_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return;
	if (n > 0 && write(fd, line, (size_t)n) < 0) {
		/* nothing to do: a debug line */
	}
	close(fd);
}
