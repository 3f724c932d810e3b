// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The in-guest half of make bench-vm (bench/bench_vm.sh boots the QEMU
 * machines and runs it there, against a running timekeeperd with
 * reference = system). One run, three parts:
 *
 * 1. Read cost: medians over batches of clock_gettime(CLOCK_MONOTONIC) (the
 *    kernel: what tk_gettime falls back to), tk_gettime(CLOCK_MONOTONIC),
 *    tk_gettime(CLOCK_REALTIME) and a bare loop of the TSC read the library
 *    uses (rdtscp, or lfence; rdtsc): under TCG that instruction is a helper
 *    call, the floor any page read in TSC mode pays. Batches are timed with
 *    the TSC itself (its rate measured against CLOCK_MONOTONIC_RAW first), so
 *    the timing costs one TSC read per BATCH calls, not a kernel call.
 * 2. Readers on every CPU (one thread pinned to each) read tk_gettime
 *    (CLOCK_MONOTONIC) for the whole audit and compare each reading with the
 *    largest any of them published before the read began: a smaller one is
 *    a backward step. Each backward reading is also compared with the
 *    kernel's MONOTONIC read right after it: within 100 us, it is the
 *    library's fallback to the kernel's clock (stderr says how many).
 * 3. The mirror audit: at about 100 Hz, for REALTIME, MONOTONIC, BOOTTIME
 *    and TAI, a bracket tk_read / clock_gettime / tk_read; a sample whose
 *    status is SYNCHRONIZED is outside when the kernel's reading lies out of
 *    [first - bound, second + bound] (each reading with its own bound, as
 *    the library grows it). The error is |kernel - midpoint|. With STEP_US
 *    and SLEW_PPM the audit moves the kernel's clock itself: at 1/4 of the
 *    time REALTIME is stepped by STEP_US (ADJ_SETOFFSET), at 1/2 an adjtime
 *    slew of STEP_US starts (ADJ_OFFSET_SINGLESHOT, 500 ppm), at 3/4 the
 *    frequency moves by SLEW_PPM (ADJ_FREQUENCY); only for a guest, never the
 *    test machine. The samples between the step and the page's following it
 *    (its disruption counter moves) are counted apart, with that reaction
 *    time: no reader can be told of a step before the daemon knows of it.
 *
 * Output: `bench: <name> <value> <unit> <label>` lines (doc/architecture.md,
 * section 11), LABEL naming the machine.
 *
 *   bench_vm PAGE SECONDS LABEL [STEP_US SLEW_PPM [READERS]]
 *
 * READERS (default 0: one per CPU) limits part 2 to that many readers, on
 * the first CPUs.
 */
#define _GNU_SOURCE
#include "config.h"

#include <cpuid.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "core/tunit.h"
#include "tk_monoseen.h"
#include "timekeeper.h"
#include "timekeeper/page.h"

#define RUNS 5
#define SAMPLES 400
#define BATCH 256
#define NCLOCKS 4
#define MAX_READERS 64
#define SYNC_WAIT_S 180

static const clockid_t clocks[NCLOCKS] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME,
					   CLOCK_TAI };
static const char *const clock_names[NCLOCKS] = { "realtime", "monotonic", "boottime", "tai" };

static volatile long sink;
static bool use_rdtscp;
static double tsc_hz; /* measured by read_bench against CLOCK_MONOTONIC_RAW */
static const char *label;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static inline uint64_t tsc(void)
{
	uint32_t lo, hi;

	if (use_rdtscp)
		__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi) : : "rcx", "memory");
	else
		__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

static int64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts_to_ns(&ts);
}

/* --- 1. read cost ------------------------------------------------------- */

enum reader { R_KERNEL_MONO, R_TK_MONO, R_TK_REAL, R_TSC, NREADERS };
static const char *const reader_names[NREADERS] = { "clock_gettime_monotonic",
						    "tk_gettime_monotonic", "tk_gettime_realtime",
						    "rdtsc" };

/* Cycles per call of one batch. */
static double batch(struct timekeeper *tk, enum reader r)
{
	struct timespec ts;
	uint64_t c0 = tsc(), c1;

	switch (r) {
	case R_KERNEL_MONO:
		for (int i = 0; i < BATCH; i++) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			sink += ts.tv_nsec;
		}
		break;
	case R_TK_MONO:
		for (int i = 0; i < BATCH; i++) {
			tk_gettime(tk, CLOCK_MONOTONIC, &ts);
			sink += ts.tv_nsec;
		}
		break;
	case R_TK_REAL:
		for (int i = 0; i < BATCH; i++) {
			tk_gettime(tk, CLOCK_REALTIME, &ts);
			sink += ts.tv_nsec;
		}
		break;
	default:
		for (int i = 0; i < BATCH; i++)
			sink += (long)tsc();
		break;
	}
	c1 = tsc();
	return (double)(c1 - c0) / BATCH;
}

static int read_bench(struct timekeeper *tk, double *med_ns)
{
	static double all[NREADERS][RUNS * SAMPLES];
	int64_t m0, m1;
	uint64_t c0, c1;
	double hz;
	struct timespec pause = { 0, 200 * 1000 * 1000 };

	m0 = now_ns(CLOCK_MONOTONIC_RAW);
	c0 = tsc();
	nanosleep(&pause, NULL);
	m1 = now_ns(CLOCK_MONOTONIC_RAW);
	c1 = tsc();
	hz = (double)(c1 - c0) * 1e9 / (double)(m1 - m0);
	tsc_hz = hz;
	if (!(hz > 1e6)) {
		fprintf(stderr, "bench_vm: TSC rate %.0f Hz, expected above 1 MHz\n", hz);
		return -1;
	}
	/* Interleaved: each run takes a batch of every reader in turn, so
	 * the host's load falls on all of them alike. */
	for (int s = 0; s < RUNS * SAMPLES; s++)
		for (int r = 0; r < NREADERS; r++)
			all[r][s] = batch(tk, (enum reader)r) * 1e9 / hz;
	for (int r = 0; r < NREADERS; r++) {
		qsort(all[r], RUNS * SAMPLES, sizeof(double), cmp_double);
		med_ns[r] = all[r][RUNS * SAMPLES / 2];
	}
	printf("bench: vm_tsc_hz %.0f Hz %s\n", hz, label);
	return 0;
}

/* --- 2. readers on every CPU -------------------------------------------- */

struct mono_reader {
	pthread_t th;
	int cpu;
	struct timekeeper *tk;
	uint64_t reads;
	struct mono_seen mono;
	/* backward readings within KERNEL_LIKE_NS of the kernel's MONOTONIC
	 * read right after: the library fell back to the kernel's clock */
	uint64_t back_kernel;
};

#define KERNEL_LIKE_NS 100000

static _Atomic int64_t mono_max; /* the largest reading any reader published */
static int readers_stop;	 /* set by the auditor */

static void *mono_loop(void *arg)
{
	struct mono_reader *m = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(m->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	while (!__atomic_load_n(&readers_stop, __ATOMIC_RELAXED)) {
		int64_t before = mono_seen_before(&mono_max);
		struct timespec ts;

		tk_gettime(m->tk, CLOCK_MONOTONIC, &ts);
		m->reads++;
		if (ts_to_ns(&ts) < before || ts_to_ns(&ts) < m->mono.last) {
			struct timespec k;

			clock_gettime(CLOCK_MONOTONIC, &k);
			if (llabs(ts_to_ns(&k) - ts_to_ns(&ts)) < KERNEL_LIKE_NS)
				m->back_kernel++;
		}
		mono_seen_note(&m->mono, &mono_max, before, ts_to_ns(&ts));
	}
	return NULL;
}

/* --- 3. the mirror audit ------------------------------------------------ */

struct audit {
	size_t samples, judged, outside, unjudged;
	int64_t *err, *bound, *slack;
	int64_t worst_excess;
};

/* The audit second by second (stderr): where the samples outside fall
 * against what the page said then (its mode, source, disruption counter,
 * bound) and the kernel's signed error (kernel - page), so a debt can be
 * told from another (doc/architecture.md, section 12). */
struct second {
	size_t judged, outside;
	int64_t max_excess, err_min, err_max, bound_min;
	int mode;
	uint64_t disruption;
	char source[32];
	uint64_t tsc0; /* the TSC and the kernel's MONOTONIC_RAW at the second's first */
	int64_t raw0;  /* sample: the counters' rates second by second */
};
static struct second *tl;
static size_t tl_n;

static void adjust(const char *what, struct timex *tx)
{
	if (adjtimex(tx) < 0)
		fprintf(stderr, "bench_vm: adjtimex (%s): %s\n", what, strerror(errno));
	else
		fprintf(stderr, "bench_vm: kernel clock: %s\n", what);
}

static void audit_one(struct timekeeper *tk, int c, struct audit *a, double at)
{
	struct tk_reading r0, r1;
	struct timespec k;
	int64_t t0, t1, kn, lo, hi, err;

	if (tk_read(tk, clocks[c], &r0) < 0 || clock_gettime(clocks[c], &k) < 0 ||
	    tk_read(tk, clocks[c], &r1) < 0)
		return;
	a->samples++;
	if (r0.status != TK_CLOCK_SYNCHRONIZED || r1.status != TK_CLOCK_SYNCHRONIZED ||
	    r0.source_kind != TK_SOURCE_PAGE || r1.source_kind != TK_SOURCE_PAGE ||
	    r0.bound_ns == INT64_MAX || r1.bound_ns == INT64_MAX) {
		a->unjudged++;
		return;
	}
	t0 = ts_to_ns(&r0.time);
	t1 = ts_to_ns(&r1.time);
	kn = ts_to_ns(&k);
	lo = t0 - r0.bound_ns;
	hi = t1 + r1.bound_ns;
	err = kn - (t0 + (t1 - t0) / 2);
	if (tl && at >= 0 && (size_t)at < tl_n) {
		struct second *x = &tl[(size_t)at];

		if (x->judged == 0 || err < x->err_min)
			x->err_min = err;
		if (x->judged == 0 || err > x->err_max)
			x->err_max = err;
		if (x->judged == 0 || r0.bound_ns < x->bound_min)
			x->bound_min = r0.bound_ns;
		x->judged++;
		if (kn < lo || kn > hi) {
			int64_t ex = kn < lo ? lo - kn : kn - hi;

			x->outside++;
			if (ex > x->max_excess)
				x->max_excess = ex;
		}
	}
	a->err[a->judged] = err < 0 ? -err : err;
	a->bound[a->judged] = r0.bound_ns;
	/* how much room the bound left: its tightness, apart from the
	 * page's own error */
	a->slack[a->judged] = r0.bound_ns - (err < 0 ? -err : err);
	a->judged++;
	if (kn < lo || kn > hi) {
		int64_t ex = kn < lo ? lo - kn : kn - hi;

		if (a->outside < 10) {
			struct tk_status ss;
			uint32_t dr = 0;

			if (tk_status(tk, &ss) == 0)
				dr = ss.bound_drift_ppb;
			fprintf(stderr,
				"bench_vm: %s outside at %.2f s (kmono %.6f): page %" PRId64
				"..%" PRId64 " kernel %" PRId64 " bound %" PRId64
				" ns drift %u (by %" PRId64 " ns)\n",
				clock_names[c], at, now_ns(CLOCK_MONOTONIC) / 1e9, t0, t1, kn,
				r0.bound_ns, dr, ex);
		}
		a->outside++;
		if (ex > a->worst_excess)
			a->worst_excess = ex;
	}
}

int main(int argc, char **argv)
{
	static struct mono_reader rd[MAX_READERS];
	struct audit au[NCLOCKS];
	struct timekeeper *tk;
	struct tk_status st;
	double seconds, med[NREADERS];
	struct audit react = { 0 };
	bool reacting = false;
	uint64_t step_disruption = 0;
	int64_t step_t = 0, reaction_ns = 0;
	long step_us = 0, slew_ppm = 0;
	unsigned int a, b, c, d;
	int ncpu, moved = 0, readers = 0;
	size_t n, total = 0, outside = 0, judged = 0, unjudged = 0;
	uint64_t reads = 0, back = 0, back_kernel = 0;
	int64_t worst_back = 0, t_start, t_end, t_open;

	if (argc < 4 || (seconds = atof(argv[2])) <= 0 || (argc > 4 && argc != 6 && argc != 7)) {
		fprintf(stderr,
			"usage: bench_vm PAGE SECONDS LABEL [STEP_US SLEW_PPM [READERS]]\n");
		return 2;
	}
	label = argv[3];
	if (argc >= 6) {
		step_us = atol(argv[4]);
		slew_ppm = atol(argv[5]);
	}
	if (argc == 7) {
		readers = atoi(argv[6]);
		if (readers < 0 || readers > MAX_READERS) {
			fprintf(stderr, "bench_vm: READERS %s: expected 0 (one per CPU) to %d\n",
				argv[6], MAX_READERS);
			return 2;
		}
	}
	t_open = now_ns(CLOCK_MONOTONIC);
	use_rdtscp = __get_cpuid(0x80000001, &a, &b, &c, &d) && (d & (1u << 27));
	if (tk_open(argv[1], &tk) < 0 || tk_status(tk, &st) < 0) {
		fprintf(stderr, "bench_vm: cannot open the page %s\n", argv[1]);
		return 1;
	}
	/* The daemon claims a bound once its discipline runs the PLL: poll
	 * for it (up to SYNC_WAIT_S), then audit from there. */
	for (int i = 0; i < SYNC_WAIT_S * 10 && st.clock_status != TK_CLOCK_SYNCHRONIZED; i++) {
		struct timespec pause = { 0, 100 * 1000 * 1000 };

		nanosleep(&pause, NULL);
		if (tk_status(tk, &st) < 0)
			return 1;
	}
	if (st.clock_status != TK_CLOCK_SYNCHRONIZED) {
		fprintf(stderr, "bench_vm: the page is not synchronized after %d s (status %d)\n",
			SYNC_WAIT_S, st.clock_status);
		return 1;
	}
	printf("bench: vm_synchronized_after %.1f s %s (page source %s, mode %s)\n",
	       (double)(now_ns(CLOCK_MONOTONIC) - t_open) / 1e9, label, st.source,
	       st.clock_mode == TK_PAGE_MODE_TSC      ? "tsc"
	       : st.clock_mode == TK_PAGE_MODE_KCLOCK ? "kclock"
						      : "none");
	if (st.stale || st.clock_mode != TK_PAGE_MODE_TSC)
		fprintf(stderr, "bench_vm: the page is %s, mode %d, source %s\n",
			st.stale ? "stale" : "fresh", st.clock_mode, st.source);

	/* 1. */
	if (read_bench(tk, med) < 0)
		return 1;
	for (int r = 0; r < NREADERS; r++)
		printf("bench: vm_%s_median %.1f ns %s\n", reader_names[r], med[r], label);
	printf("bench: vm_tsc_read %s %s\n", use_rdtscp ? "rdtscp" : "lfence+rdtsc", label);
	printf("bench: vm_fallback_read_ratio %.3f ratio %s (tk_gettime monotonic %.1f ns / "
	       "clock_gettime %.1f ns, target <= 0.05)\n",
	       med[R_TK_MONO] / med[R_KERNEL_MONO], label, med[R_TK_MONO], med[R_KERNEL_MONO]);
	printf("bench: vm_fallback_read_ratio_realtime %.3f ratio %s\n",
	       med[R_TK_REAL] / med[R_KERNEL_MONO], label);
	printf("bench: vm_rdtsc_floor_ratio %.3f ratio %s (the TSC read alone / clock_gettime; "
	       "tk_gettime is %.1fx the TSC read)\n",
	       med[R_TSC] / med[R_KERNEL_MONO], label, med[R_TK_MONO] / med[R_TSC]);
	fflush(stdout);

	/* 2. */
	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if (ncpu > MAX_READERS)
		ncpu = MAX_READERS;
	if (readers > 0 && readers < ncpu)
		ncpu = readers;
	atomic_store(&mono_max, INT64_MIN);
	for (int i = 0; i < ncpu; i++) {
		rd[i].cpu = i;
		rd[i].tk = tk;
		rd[i].mono.last = INT64_MIN;
		if (pthread_create(&rd[i].th, NULL, mono_loop, &rd[i]) != 0) {
			fprintf(stderr, "bench_vm: cannot start a reader on CPU %d\n", i);
			return 1;
		}
	}

	/* 3. */
	n = (size_t)(seconds * 100) + 16;
	for (int k = 0; k < NCLOCKS; k++) {
		memset(&au[k], 0, sizeof(au[k]));
		au[k].err = calloc(n, sizeof(int64_t));
		au[k].bound = calloc(n, sizeof(int64_t));
		au[k].slack = calloc(n, sizeof(int64_t));
		if (!au[k].err || !au[k].bound || !au[k].slack)
			return 1;
	}
	react.err = calloc(n * NCLOCKS, sizeof(int64_t));
	react.bound = calloc(n * NCLOCKS, sizeof(int64_t));
	react.slack = calloc(n * NCLOCKS, sizeof(int64_t));
	if (!react.err || !react.bound || !react.slack)
		return 1;
	tl_n = (size_t)seconds + 2;
	tl = calloc(tl_n, sizeof(*tl));
	t_start = now_ns(CLOCK_MONOTONIC);
	t_end = t_start + (int64_t)(seconds * 1e9);
	for (size_t i = 0; i < n; i++) {
		int64_t now = now_ns(CLOCK_MONOTONIC);
		double at = (double)(now - t_start) / 1e9;
		struct timespec pause = { 0, 10 * 1000 * 1000 };

		if (now >= t_end)
			break;
		if (reacting) {
			struct tk_status now_st;

			if (tk_status(tk, &now_st) == 0 && now_st.disruption != step_disruption) {
				reacting = false;
				reaction_ns = now - step_t;
			} else if (now - step_t > NSEC_PER_SEC) {
				reacting = false;
				reaction_ns = -1;
			}
		}
		if (step_us && moved == 0 && at >= seconds / 4) {
			struct timex tx = { .modes = ADJ_SETOFFSET | ADJ_NANO };
			struct tk_status before;

			if (tk_status(tk, &before) == 0) {
				step_disruption = before.disruption;
				reacting = true;
				step_t = now;
			}

			tx.time.tv_sec = step_us >= 0 ? step_us / 1000000 : -1 + step_us / 1000000;
			tx.time.tv_usec = (step_us % 1000000 + 1000000) % 1000000 * 1000;
			adjust("REALTIME stepped (ADJ_SETOFFSET)", &tx);
			moved = 1;
		} else if (step_us && moved == 1 && at >= seconds / 2) {
			struct timex tx = { .modes = ADJ_OFFSET_SINGLESHOT, .offset = step_us };

			adjust("adjtime slew started (ADJ_OFFSET_SINGLESHOT)", &tx);
			moved = 2;
		} else if (slew_ppm && moved == 2 && at >= seconds * 3 / 4) {
			struct timex tx = { .modes = ADJ_FREQUENCY, .freq = slew_ppm * 65536 };

			adjust("frequency moved (ADJ_FREQUENCY)", &tx);
			moved = 3;
		}
		if (tl && (size_t)at < tl_n && tl[(size_t)at].source[0] == 0) {
			struct tk_status ts_now;
			struct second *x = &tl[(size_t)at];

			x->raw0 = now_ns(CLOCK_MONOTONIC_RAW);
			x->tsc0 = tsc();
			if (tk_status(tk, &ts_now) == 0) {
				x->mode = ts_now.clock_mode;
				x->disruption = ts_now.disruption;
				memcpy(x->source, ts_now.source, sizeof(x->source));
				x->source[sizeof(x->source) - 1] = 0;
				if (!x->source[0])
					strcpy(x->source, "-");
			}
		}
		for (int k = 0; k < NCLOCKS; k++)
			audit_one(tk, k, reacting ? &react : &au[k], at);
		nanosleep(&pause, NULL);
	}
	__atomic_store_n(&readers_stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < ncpu; i++) {
		pthread_join(rd[i].th, NULL);
		reads += rd[i].reads;
		back += rd[i].mono.back_within + rd[i].mono.back_across;
		back_kernel += rd[i].back_kernel;
		if (rd[i].mono.max_back_ns > worst_back)
			worst_back = rd[i].mono.max_back_ns;
	}
	for (size_t i = 0; tl && i < tl_n; i++) {
		struct second *x = &tl[i];
		double ppm = 0;

		/* The TSC against the kernel's counter (MONOTONIC_RAW) over
		 * this second, in ppm of the rate measured at the start. */
		if (i + 1 < tl_n && tl[i + 1].raw0 > x->raw0 && x->raw0 && tsc_hz > 0)
			ppm = ((double)(tl[i + 1].tsc0 - x->tsc0) * 1e9 / tsc_hz -
			       (double)(tl[i + 1].raw0 - x->raw0)) *
			      1e6 / (double)(tl[i + 1].raw0 - x->raw0);
		if (!x->judged && !x->raw0)
			continue;
		fprintf(stderr,
			"bench_vm: second %zu: page %s %s disruption %" PRIu64
			": outside %zu of %zu, kernel - page %+" PRId64 "..%+" PRId64
			" ns, bound >= %" PRId64 " ns, worst excess %" PRId64
			" ns; TSC - kernel counter %+.0f ppm\n",
			i, x->source, x->mode == TK_PAGE_MODE_TSC ? "tsc" : "kclock", x->disruption,
			x->outside, x->judged, x->err_min, x->err_max, x->bound_min, x->max_excess,
			ppm);
	}
	if (tk_status(tk, &st) == 0)
		printf("bench: vm_page_source_after_audit %s %s (mode %s)\n", st.source, label,
		       st.clock_mode == TK_PAGE_MODE_TSC      ? "tsc"
		       : st.clock_mode == TK_PAGE_MODE_KCLOCK ? "kclock"
							      : "none");
	printf("bench: vm_monotonic_backward %" PRIu64 " steps %s (of %" PRIu64
	       " reads on %d CPUs, largest %" PRId64 " ns)\n",
	       back, label, reads, ncpu, worst_back);
	if (back)
		fprintf(stderr,
			"bench_vm: %" PRIu64 " backward readings within %d us of the kernel's "
			"MONOTONIC read right after (the library's fallback to the kernel)\n",
			back_kernel, KERNEL_LIKE_NS / 1000);
	for (int k = 0; k < NCLOCKS; k++) {
		struct audit *x = &au[k];

		qsort(x->err, x->judged, sizeof(int64_t), cmp_i64);
		qsort(x->bound, x->judged, sizeof(int64_t), cmp_i64);
		qsort(x->slack, x->judged, sizeof(int64_t), cmp_i64);
		printf("bench: vm_mirror_%s outside %zu of %zu judged (%zu unjudged) %s: "
		       "p99 |error| %" PRId64 " ns, p50 bound %" PRId64 " ns, max |error| %" PRId64
		       " ns, worst excess %" PRId64 " ns, p50 bound - |error| %" PRId64 " ns\n",
		       clock_names[k], x->outside, x->judged, x->unjudged, label,
		       x->judged ? x->err[x->judged * 99 / 100] : -1,
		       x->judged ? x->bound[x->judged / 2] : -1,
		       x->judged ? x->err[x->judged - 1] : -1, x->worst_excess,
		       x->judged ? x->slack[x->judged / 2] : -1);
		total += x->samples;
		outside += x->outside;
		judged += x->judged;
		unjudged += x->unjudged;
	}
	if (step_us)
		printf("bench: vm_mirror_step_reaction %.3f ms %s (the page followed the kernel's "
		       "step after that; %zu samples in between not judged, %zu of them outside)\n",
		       reaction_ns < 0 ? -1.0 : (double)reaction_ns / 1e6, label, react.samples,
		       react.outside);
	printf("bench: vm_mirror_outside %zu of %zu %s (%zu samples, %zu not synchronized, "
	       "%.0f s%s)\n",
	       outside, judged, label, total, unjudged, seconds,
	       step_us || slew_ppm ? ", the kernel clock stepped and slewed" : "");
	tk_close(tk);
	/* A backward step fails the bench; the audit is printed, not judged:
	 * the contract does not hold in these guests yet (doc/architecture.md,
	 * the error bound), and CI must show the number, not stop on it. */
	return back == 0 && judged > 0 ? 0 : 3;
}
