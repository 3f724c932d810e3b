// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The shared page: pagew (writer) and libtimekeeper (reader) together.
 * Round trips for every clock id against values computed here from the
 * struct tkv, header refusal, the kernel fallback (stale, missing, mode
 * NONE, closed), KCLOCK interpolation from a simulated 100 MHz counter, and
 * a torture test: a writer updating at well over 10 kHz with mult changes
 * (xtime_nsec compensated) and TSC <-> KCLOCK mode switches, readers on
 * every CPU checking for torn blocks and for MONOTONIC going backwards.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <unistd.h>

#include "core/clocksource.h"
#include "core/pagew.h"
#include "core/tunit.h"
#include "hw/tsc.h"
#include "lib/tkread.h"
#include "timekeeper.h"
#include "tk_check.h"

#define NS 1000000000ll

static char dir[64];
static char err[256];

static uint64_t kraw(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_RAW, &t);
	return ts_to_ns_u(&t);
}

static uint64_t kmono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ts_to_ns_u(&t);
}

static uint64_t kcoarse(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return ts_to_ns_u(&t);
}

static uint64_t tsc(void)
{
	return tsc_read_ordered() & INT64_MAX;
}

static void mkdir_tmp(void)
{
	strcpy(dir, "/tmp/tk-page-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void rm_tmp(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/page", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/bad", dir);
	unlink(p);
	rmdir(dir);
}

/* A timekeeper view far from the kernel's clocks (so a fallback is
 * visible): REALTIME ~ 2001, MONOTONIC ~ PAGE_MONO_SEC (about three years,
 * beyond any uptime a test machine has), odd offsets everywhere. */
#define PAGE_MONO_SEC 100000000
/* Below this a MONOTONIC reading came from the kernel, not the page. */
#define KERNEL_MONO_MAX_SEC (PAGE_MONO_SEC / 2)
static void tkv_fill(struct tkv *v, const char *src, uint64_t cl, uint32_t mult, uint32_t shift)
{
	memset(v, 0, sizeof(*v));
	v->mono.cycle_last = cl;
	v->mono.mask = UINT64_MAX;
	v->mono.max_cycles = (UINT64_MAX >> 2) / mult;
	v->mono.mult = mult;
	v->mono.shift = shift;
	v->mono.xtime_nsec = (uint64_t)123456789 << shift;
	v->raw = v->mono;
	v->raw.mult = mult + 3;
	v->raw.xtime_nsec = (uint64_t)987654321 << shift;
	v->xtime_sec = 1000000000;
	v->raw_sec = 4321;
	v->wall_to_monotonic.sec = -1000000000 + PAGE_MONO_SEC - 1;
	v->wall_to_monotonic.nsec = 900000000;
	v->monotonic_to_boot.sec = 7;
	v->monotonic_to_boot.nsec = 200000001;
	v->tai_offset = 37;
	v->coarse_nsec = 111111111;
	snprintf(v->cs_name, sizeof(v->cs_name), "%s", src);
	/* What the tsc and kclock drivers declare (CS_F_CLIENT_READ, CS_F_PAGE_TSC,
	 * CS_F_KERNEL_CLOCK). */
	v->cs_client_readable = strcmp(src, "tsc") == 0 || strcmp(src, "kclock") == 0;
	v->cs_page_tsc = strcmp(src, "tsc") == 0;
	v->cs_kernel_clock = strcmp(src, "kclock") == 0;
	v->ntp_status = STA_PLL;
	v->maxerror_us = 1500;
	v->esterror_us = 20;
	v->clock_was_set_seq = 3;
	v->cs_change_seq = 2;
}

/* The expected reading of clk at counter value c, computed from the tkv
 * alone (the kernel's reader and offset formulas). */
static int64_t expect(const struct tkv *v, int clk, uint64_t c)
{
	const struct tkv_base *b = clk == CLOCK_MONOTONIC_RAW ? &v->raw : &v->mono;
	int64_t ns = (int64_t)((((c - b->cycle_last) & b->mask) * b->mult + b->xtime_nsec) >>
			       b->shift);
	int64_t real = v->xtime_sec * NS + ns;
	int64_t wtm = v->wall_to_monotonic.sec * NS + v->wall_to_monotonic.nsec;

	switch (clk) {
	case CLOCK_REALTIME:
		return real;
	case CLOCK_MONOTONIC:
		return real + wtm;
	case CLOCK_BOOTTIME:
		return real + wtm + v->monotonic_to_boot.sec * NS + v->monotonic_to_boot.nsec;
	case CLOCK_TAI:
		return real + v->tai_offset * NS;
	case CLOCK_MONOTONIC_RAW:
		return v->raw_sec * NS + ns;
	case CLOCK_REALTIME_COARSE:
		return v->xtime_sec * NS + (int64_t)v->coarse_nsec;
	case CLOCK_MONOTONIC_COARSE:
		return v->xtime_sec * NS + (int64_t)v->coarse_nsec + wtm;
	}
	ck_abort_msg("clock %d", clk);
	return 0;
}

static const int all_clocks[] = { CLOCK_REALTIME,	 CLOCK_MONOTONIC,
				  CLOCK_BOOTTIME,	 CLOCK_TAI,
				  CLOCK_MONOTONIC_RAW,	 CLOCK_REALTIME_COARSE,
				  CLOCK_MONOTONIC_COARSE };

static struct timekeeper *open_page(void)
{
	struct timekeeper *tk;
	char p[128];

	snprintf(p, sizeof(p), "%s/page", dir);
	ck_assert_int_eq(tk_open(p, &tk), 0);
	return tk;
}

START_TEST(test_roundtrip_tsc)
{
	struct pagew *pw;
	struct timekeeper *tk;
	struct tk_status st;
	struct timespec ts;
	struct tkv v;
	struct stat sb;

	mkdir_tmp();
	ck_assert_int_eq(pagew_open(dir, &pw, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(pagew_path(pw), &sb), 0);
	ck_assert_int_eq(sb.st_size, TK_PAGE_SIZE);
	ck_assert_int_eq(sb.st_mode & 0777, 0644);
	/* 1 ns per cycle (mult 1 << 24, shift 24); raw slightly faster. */
	tkv_fill(&v, "tsc", tsc(), 1u << 24, 24);
	ck_assert_int_eq(pagew_publish(pw, &v, kmono(), 10 * NS, NULL, NULL), TK_PAGE_MODE_TSC);
	tk = open_page();
	for (size_t i = 0; i < sizeof(all_clocks) / sizeof(all_clocks[0]); i++) {
		int clk = all_clocks[i];
		uint64_t c0 = tsc(), c1;

		ck_assert_int_eq(tk_gettime(tk, clk, &ts), 0);
		c1 = tsc();
		ck_assert_int_ge(ts.tv_nsec, 0);
		ck_assert_int_lt(ts.tv_nsec, NS);
		ck_assert_msg(ts_to_ns(&ts) >= expect(&v, clk, c0) &&
				      ts_to_ns(&ts) <= expect(&v, clk, c1),
			      "clock %d: read %lld, expected %lld..%lld", clk,
			      (long long)ts_to_ns(&ts), (long long)expect(&v, clk, c0),
			      (long long)expect(&v, clk, c1));
		/* The same read in the build for emulated CPUs. */
		c0 = tsc();
		ck_assert_int_eq(tkr_gettime_flat(tk, clk, &ts), 0);
		c1 = tsc();
		ck_assert_int_ge(ts.tv_nsec, 0);
		ck_assert_int_lt(ts.tv_nsec, NS);
		ck_assert_msg(ts_to_ns(&ts) >= expect(&v, clk, c0) &&
				      ts_to_ns(&ts) <= expect(&v, clk, c1),
			      "flat, clock %d: read %lld, expected %lld..%lld", clk,
			      (long long)ts_to_ns(&ts), (long long)expect(&v, clk, c0),
			      (long long)expect(&v, clk, c1));
	}
	ck_assert_int_eq(tk_status(tk, &st), 0);
	ck_assert_int_eq(st.stale, 0);
	ck_assert_int_eq(st.source_kind, TK_SOURCE_PAGE);
	ck_assert_int_eq(st.clock_mode, TK_PAGE_MODE_TSC);
	ck_assert_int_eq(st.synchronized, 1);
	ck_assert_int_eq(st.maxerror_ns, 1500000);
	ck_assert_int_eq(st.tai_offset, 37);
	ck_assert_uint_eq(st.disruption, 5);
	ck_assert_int_eq(st.writer_pid, getpid());
	ck_assert_str_eq(st.source, "tsc");

	/* Bounds: maxerror around the reading, grown at the page's drift for
	 * the time since the update (no bound model here: the kernel-style
	 * maxerror and its 500 ppm). */
	{
		struct timespec lo, hi;
		uint64_t c0 = tsc(), c1;
		int64_t grow, half;

		ck_assert_int_eq(tk_gettime_bounds(tk, CLOCK_REALTIME, &lo, &hi), 0);
		c1 = tsc();
		ck_assert_uint_eq(st.bound_drift_ppb, 500000);
		grow = (expect(&v, CLOCK_REALTIME, c1) -
			expect(&v, CLOCK_REALTIME, v.mono.cycle_last)) *
			       st.bound_drift_ppb / 1000000000 +
		       1;
		half = (ts_to_ns(&hi) - ts_to_ns(&lo)) / 2;
		ck_assert_int_ge(half, 1500000);
		ck_assert_msg(half <= 1500000 + grow, "bound %lld ns, expected 1500000..%lld",
			      (long long)half, (long long)(1500000 + grow));
		ck_assert(ts_to_ns(&lo) + half >= expect(&v, CLOCK_REALTIME, c0));
		ck_assert(ts_to_ns(&lo) + half <= expect(&v, CLOCK_REALTIME, c1));
	}
	/* Unsupported clocks and bad arguments. */
	ck_assert_int_eq(tk_gettime(tk, CLOCK_PROCESS_CPUTIME_ID, &ts), -EINVAL);
	ck_assert_int_eq(tk_gettime(tk, CLOCK_REALTIME, NULL), -EINVAL);
	ck_assert_int_eq(tk_gettime(NULL, CLOCK_REALTIME, &ts), -EINVAL);
	/* Ids past the fast path's bitmap of clocks (32, 43: 11 + 32; -1). */
	ck_assert_int_eq(tk_gettime(tk, 32, &ts), -EINVAL);
	ck_assert_int_eq(tk_gettime(tk, 43, &ts), -EINVAL);
	ck_assert_int_eq(tk_gettime(tk, -1, &ts), -EINVAL);
	ck_assert_int_eq(tkr_gettime_flat(tk, CLOCK_PROCESS_CPUTIME_ID, &ts), -EINVAL);
	ck_assert_int_eq(tkr_gettime_flat(tk, CLOCK_REALTIME, NULL), -EINVAL);
	ck_assert_int_eq(tkr_gettime_flat(NULL, CLOCK_REALTIME, &ts), -EINVAL);
	ck_assert_int_eq(tkr_gettime_flat(tk, 32, &ts), -EINVAL);
	ck_assert_int_eq(tkr_gettime_flat(tk, 43, &ts), -EINVAL);
	ck_assert_int_eq(tkr_gettime_flat(tk, -1, &ts), -EINVAL);

	/* Unsync and a pending leap reach the status. */
	v.ntp_status = STA_UNSYNC | STA_INS;
	pagew_publish(pw, &v, kmono(), 10 * NS, NULL, NULL);
	ck_assert_int_eq(tk_status(tk, &st), 0);
	ck_assert_int_eq(st.synchronized, 0);
	ck_assert_int_eq(st.leap, 1);
	tk_close(tk);
	pagew_close(pw, true);
	rm_tmp();
}
END_TEST

START_TEST(test_negative_motion)
{
	struct pagew *pw;
	struct timekeeper *tk;
	struct timespec ts;
	struct tkv v;

	mkdir_tmp();
	ck_assert_int_eq(pagew_open(dir, &pw, err, sizeof(err)), 0);
	/* cycle_last a little ahead of the TSC (another CPU's slightly ahead
	 * TSC): time stands still at cycle_last instead of jumping ~146 years. */
	tkv_fill(&v, "tsc", tsc() + 1000000000ull, 1u << 24, 24);
	pagew_publish(pw, &v, kmono(), 10 * NS, NULL, NULL);
	tk = open_page();
	ck_assert_int_eq(tk_gettime(tk, CLOCK_MONOTONIC, &ts), 0);
	ck_assert_int_eq(ts_to_ns(&ts), expect(&v, CLOCK_MONOTONIC, v.mono.cycle_last));
	ck_assert_int_eq(tkr_gettime_flat(tk, CLOCK_MONOTONIC, &ts), 0);
	ck_assert_int_eq(ts_to_ns(&ts), expect(&v, CLOCK_MONOTONIC, v.mono.cycle_last));
	tk_close(tk);
	pagew_close(pw, true);
	rm_tmp();
}
END_TEST

START_TEST(test_roundtrip_kclock_source)
{
	struct pagew *pw;
	struct timekeeper *tk;
	struct timespec ts;
	struct tkv v;

	mkdir_tmp();
	ck_assert_int_eq(pagew_open(dir, &pw, err, sizeof(err)), 0);
	/* The kclock source: the counter is the kernel's raw ns itself. */
	tkv_fill(&v, "kclock", kraw(), 1u << 20, 20);
	ck_assert_int_eq(pagew_publish(pw, &v, kmono(), 10 * NS, NULL, NULL), TK_PAGE_MODE_KCLOCK);
	tk = open_page();
	for (size_t i = 0; i < sizeof(all_clocks) / sizeof(all_clocks[0]); i++) {
		int clk = all_clocks[i];
		uint64_t c0 = kraw(), c1;

		ck_assert_int_eq(tk_gettime(tk, clk, &ts), 0);
		c1 = kraw();
		ck_assert_msg(ts_to_ns(&ts) >= expect(&v, clk, c0) &&
				      ts_to_ns(&ts) <= expect(&v, clk, c1),
			      "clock %d: read %lld, expected %lld..%lld", clk,
			      (long long)ts_to_ns(&ts), (long long)expect(&v, clk, c0),
			      (long long)expect(&v, clk, c1));
	}
	tk_close(tk);
	pagew_close(pw, true);
	rm_tmp();
}
END_TEST

/* A simulated 100 MHz counter (HPET-like, clients cannot read it) running
 * 100 ppm fast against the kernel's raw clock. */
static uint64_t sim_base_k;

static uint64_t sim_cycles(uint64_t k)
{
	return 5000000 + (uint64_t)((double)(k - sim_base_k) / 10.0 * (1 + 100e-6));
}

static int sim_sample(void *ctx, struct pagew_sample *s)
{
	uint64_t k = kraw();

	(void)ctx;
	s->kraw_before = k;
	s->cycles = sim_cycles(k);
	s->kraw_after = k;
	return 0;
}

START_TEST(test_kclock_interpolation)
{
	struct pagew *pw;
	struct timekeeper *tk;
	struct tk_status st;
	struct timespec ts;
	struct tkv v;
	uint64_t k0, k1;
	int64_t got, want;

	mkdir_tmp();
	ck_assert_int_eq(pagew_open(dir, &pw, err, sizeof(err)), 0);
	sim_base_k = kraw();
	/* The timekeeper believes the counter is exactly 100 MHz: 10 ns per
	 * cycle, mult 10 << 22. */
	tkv_fill(&v, "hpet", sim_cycles(sim_base_k), 10u << 22, 22);
	tk = open_page();

	/* No sample function: a counter clients cannot read means mode NONE,
	 * and the reader falls back to the kernel. */
	ck_assert_int_eq(pagew_publish(pw, &v, kmono(), 10 * NS, NULL, NULL), TK_PAGE_MODE_NONE);
	k0 = kmono();
	ck_assert_int_eq(tk_gettime(tk, CLOCK_MONOTONIC, &ts), 0);
	ck_assert(ts_to_ns(&ts) >= (int64_t)k0 && ts_to_ns(&ts) <= (int64_t)kmono());
	ck_assert_int_eq(tkr_gettime_flat(tk, CLOCK_MONOTONIC, &ts), 0);
	ck_assert(ts_to_ns(&ts) >= (int64_t)k0 && ts_to_ns(&ts) <= (int64_t)kmono());
	ck_assert_int_eq(tk_status(tk, &st), 0);
	ck_assert_int_eq(st.source_kind, TK_SOURCE_MODE_NONE);
	/* The coarse clocks still come from the page in mode NONE. */
	ck_assert_int_eq(tk_gettime(tk, CLOCK_REALTIME_COARSE, &ts), 0);
	ck_assert_int_eq(ts_to_ns(&ts), expect(&v, CLOCK_REALTIME_COARSE, 0));

	/* With samples, KCLOCK: a few updates 20 ms apart (the first one with
	 * a new epoch), then readings must follow the timekeeper through the
	 * simulated counter within 1 us, although the counter runs 100 ppm
	 * fast against the kernel's clock. */
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pagew_publish(pw, &v, kmono(), 10 * NS, sim_sample, NULL),
				 TK_PAGE_MODE_KCLOCK);
		usleep(20000);
	}
	for (size_t i = 0; i < sizeof(all_clocks) / sizeof(all_clocks[0]); i++) {
		int clk = all_clocks[i];

		if (clk == CLOCK_REALTIME_COARSE || clk == CLOCK_MONOTONIC_COARSE)
			continue;
		k0 = kraw();
		ck_assert_int_eq(tk_gettime(tk, clk, &ts), 0);
		k1 = kraw();
		got = ts_to_ns(&ts);
		want = expect(&v, clk, sim_cycles(k0 + (k1 - k0) / 2));
		/* The reading's kernel time is only known to within k1 - k0. */
		ck_assert_msg(llabs(got - want) < 1000 + (int64_t)(k1 - k0),
			      "clock %d: read %lld, timekeeper %lld (%+lld ns, window %llu ns)",
			      clk, (long long)got, (long long)want, (long long)(got - want),
			      (unsigned long long)(k1 - k0));
	}
	ck_assert_int_eq(tk_status(tk, &st), 0);
	ck_assert_int_eq(st.clock_mode, TK_PAGE_MODE_KCLOCK);
	ck_assert_str_eq(st.source, "hpet");
	tk_close(tk);
	pagew_close(pw, true);
	rm_tmp();
}
END_TEST

START_TEST(test_fallback)
{
	struct pagew *pw;
	struct timekeeper *tk;
	struct tk_status st;
	struct timespec ts;
	struct tkv v;
	uint64_t until;
	int64_t k0;
	char p[128];

	/* Missing page: a handle that reads the kernel. */
	ck_assert_int_eq(tk_open("/nonexistent/timekeeper/page", &tk), 0);
	k0 = (int64_t)kmono();
	ck_assert_int_eq(tk_gettime(tk, CLOCK_MONOTONIC, &ts), 0);
	ck_assert(ts_to_ns(&ts) >= k0 && ts_to_ns(&ts) <= (int64_t)kmono());
	ck_assert_int_eq(tk_status(tk, &st), 0);
	ck_assert_int_eq(st.stale, 1);
	ck_assert_int_eq(st.source_kind, TK_SOURCE_NO_PAGE);
	tk_close(tk);

	/* $TIMEKEEPER_RUNTIME_DIR picks the page when path is NULL. */
	mkdir_tmp();
	ck_assert_int_eq(pagew_open(dir, &pw, err, sizeof(err)), 0);
	tkv_fill(&v, "tsc", tsc(), 1u << 24, 24);
	pagew_publish(pw, &v, kmono(), 10 * NS, NULL, NULL);
	setenv("TIMEKEEPER_RUNTIME_DIR", dir, 1);
	ck_assert_int_eq(tk_open(NULL, &tk), 0);
	unsetenv("TIMEKEEPER_RUNTIME_DIR");
	ck_assert_int_eq(tk_gettime(tk, CLOCK_MONOTONIC, &ts), 0);
	ck_assert_int_gt(ts.tv_sec, PAGE_MONO_SEC - 10); /* the page's MONOTONIC */
	ck_assert_int_lt(ts.tv_sec, PAGE_MONO_SEC + 10);

	/* valid_for passed: every clock falls back to the kernel. */
	until = kmono() + 2000000;
	pagew_publish(pw, &v, until - 2000000, 2000000, NULL, NULL); /* valid for 2 ms */
	while (kcoarse() <= until) /* the coarse clocks' liveness is checked on it */
		usleep(1000);
	for (size_t i = 0; i < sizeof(all_clocks) / sizeof(all_clocks[0]); i++) {
		struct timespec a, b;
		int clk = all_clocks[i];

		clock_gettime(clk, &a);
		ck_assert_int_eq(tk_gettime(tk, clk, &ts), 0);
		clock_gettime(clk, &b);
		ck_assert_msg(ts_to_ns(&ts) >= ts_to_ns(&a) && ts_to_ns(&ts) <= ts_to_ns(&b),
			      "clock %d: stale page read %lld, kernel %lld..%lld", clk,
			      (long long)ts_to_ns(&ts), (long long)ts_to_ns(&a),
			      (long long)ts_to_ns(&b));
	}
	ck_assert_int_eq(tk_status(tk, &st), 0);
	ck_assert_int_eq(st.stale, 1);
	ck_assert_int_eq(st.source_kind, TK_SOURCE_STALE);

	/* A fresh update brings the page back; closing the writer retires it. */
	v.mono.cycle_last = v.raw.cycle_last = tsc();
	pagew_publish(pw, &v, kmono(), 10 * NS, NULL, NULL);
	ck_assert_int_eq(tk_gettime(tk, CLOCK_MONOTONIC, &ts), 0);
	ck_assert_int_gt(ts.tv_sec, PAGE_MONO_SEC - 10);
	pagew_close(pw, false);
	k0 = (int64_t)kmono();
	ck_assert_int_eq(tk_gettime(tk, CLOCK_MONOTONIC, &ts), 0);
	ck_assert(ts_to_ns(&ts) >= k0 && ts_to_ns(&ts) <= (int64_t)kmono());
	ck_assert_int_eq(tk_gettime(tk, CLOCK_MONOTONIC_COARSE, &ts), 0);
	ck_assert_int_lt(ts.tv_sec, KERNEL_MONO_MAX_SEC);
	tk_close(tk);
	snprintf(p, sizeof(p), "%s/page", dir);
	ck_assert_int_eq(access(p, F_OK), 0); /* kept: remove was false */
	rm_tmp();
}
END_TEST

/* Writes a copy of the good page with one change at offset off. */
static int open_modified(const struct tk_page *good, size_t off, const void *val, size_t n,
			 size_t file_size)
{
	unsigned char buf[TK_PAGE_SIZE];
	struct timekeeper *tk;
	char p[128];
	int fd, r;

	memcpy(buf, good, sizeof(buf));
	memcpy(buf + off, val, n);
	snprintf(p, sizeof(p), "%s/bad", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, file_size), (ssize_t)file_size);
	close(fd);
	r = tk_open(p, &tk);
	if (r == 0)
		tk_close(tk);
	return r;
}

START_TEST(test_header_refused)
{
	struct pagew *pw;
	struct tkv v;
	uint32_t u32;
	uint16_t u16;
	uint64_t u64;

	mkdir_tmp();
	ck_assert_int_eq(pagew_open(dir, &pw, err, sizeof(err)), 0);
	tkv_fill(&v, "tsc", tsc(), 1u << 24, 24);
	pagew_publish(pw, &v, kmono(), 10 * NS, NULL, NULL);
	/* The unchanged copy opens. */
	ck_assert_int_eq(open_modified(pagew_page(pw), 0, "T", 1, TK_PAGE_SIZE), 0);
	ck_assert_int_eq(open_modified(pagew_page(pw), 0, "X", 1, TK_PAGE_SIZE), -EPROTO);
	ck_assert_int_eq(open_modified(pagew_page(pw), 7, "\2", 1, TK_PAGE_SIZE), -EPROTO);
	u32 = 8192;
	ck_assert_int_eq(open_modified(pagew_page(pw), 8, &u32, 4, TK_PAGE_SIZE), -EPROTO);
	u16 = 2;
	ck_assert_int_eq(open_modified(pagew_page(pw), 12, &u16, 2, TK_PAGE_SIZE), -EPROTO);
	u16 = 128;
	ck_assert_int_eq(open_modified(pagew_page(pw), 14, &u16, 2, TK_PAGE_SIZE), -EPROTO);
	u64 = TK_PAGE_FEATURES_V1 | 0x100;
	ck_assert_int_eq(open_modified(pagew_page(pw), 16, &u64, 8, TK_PAGE_SIZE), -EPROTO);
	ck_assert_int_eq(open_modified(pagew_page(pw), 0, "T", 1, 100), -EPROTO);
	ck_assert_int_eq(open_modified(pagew_page(pw), 0, "T", 1, 0), -EPROTO);
	pagew_close(pw, true);
	rm_tmp();
}
END_TEST

/* Reads clk through the page; fails on a fallback to the kernel. */
static int64_t page_read(struct timekeeper *tk, int clk)
{
	struct timespec ts;

	ck_assert_int_eq(tk_gettime(tk, clk, &ts), 0);
	ck_assert_msg(clk != CLOCK_MONOTONIC || ts.tv_sec > KERNEL_MONO_MAX_SEC,
		      "MONOTONIC %lld s came from the kernel", (long long)ts.tv_sec);
	return ts_to_ns(&ts);
}

/* Moves the timekeeper's MONOTONIC by d ns at the counter now (a new source
 * that disagrees with the old one, as two real counters do). */
static void tkv_shift_mono(struct tkv *v, int64_t d)
{
	int64_t wtm = v->wall_to_monotonic.sec * NS + v->wall_to_monotonic.nsec + d;

	v->wall_to_monotonic.sec = wtm / NS - (wtm % NS < 0);
	v->wall_to_monotonic.nsec = wtm - v->wall_to_monotonic.sec * NS;
}

/*
 * In KCLOCK mode a change of source and a step both start a new epoch, and
 * the timekeeper's MONOTONIC at the new source may sit behind what the page
 * published (here by 50 us, then by 20 us with a 10 s REALTIME step). No
 * reading may go back across either; the page then slews (at most 1000
 * ppm) to the timekeeper, and REALTIME takes the step at once.
 */
/* |page MONOTONIC - the timekeeper's| now, less the reading's own window
 * (a reading preempted between the clocks says nothing about them). */
static int64_t mono_error(struct timekeeper *tk, const struct tkv *v)
{
	uint64_t k0 = kraw();
	int64_t m = page_read(tk, CLOCK_MONOTONIC);
	uint64_t k1 = kraw();
	int64_t e = llabs(m - expect(v, CLOCK_MONOTONIC, sim_cycles(k0 + (k1 - k0) / 2)));

	return e - (int64_t)(k1 - k0) > 0 ? e - (int64_t)(k1 - k0) : 0;
}

START_TEST(test_kclock_switch_never_back)
{
	struct pagew *pw;
	struct timekeeper *tk;
	struct tkv v;
	int64_t last_mono, last_raw, m, r, real0, real1, slew_err;
	uint64_t k;

	mkdir_tmp();
	ck_assert_int_eq(pagew_open(dir, &pw, err, sizeof(err)), 0);
	sim_base_k = kraw();
	tkv_fill(&v, "hpet", sim_cycles(sim_base_k), 10u << 22, 22);
	tk = open_page();
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pagew_publish(pw, &v, kmono(), 10 * NS, sim_sample, NULL),
				 TK_PAGE_MODE_KCLOCK);
		usleep(5000);
	}
	last_mono = page_read(tk, CLOCK_MONOTONIC);
	last_raw = page_read(tk, CLOCK_MONOTONIC_RAW);

	/* A new source, 50 us behind. */
	snprintf(v.cs_name, sizeof(v.cs_name), "acpi_pm");
	v.cs_change_seq++;
	tkv_shift_mono(&v, -50000);
	real0 = page_read(tk, CLOCK_REALTIME);
	ck_assert_int_eq(pagew_publish(pw, &v, kmono(), 10 * NS, sim_sample, NULL),
			 TK_PAGE_MODE_KCLOCK);
	m = page_read(tk, CLOCK_MONOTONIC);
	ck_assert_msg(m >= last_mono, "MONOTONIC went back %lld ns across a source change",
		      (long long)(last_mono - m));
	last_mono = m;

	/* A step: REALTIME +10 s, MONOTONIC's truth a further 20 us behind. */
	v.clock_was_set_seq++;
	v.xtime_sec += 10;
	v.wall_to_monotonic.sec -= 10;
	tkv_shift_mono(&v, -20000);
	ck_assert_int_eq(pagew_publish(pw, &v, kmono(), 10 * NS, sim_sample, NULL),
			 TK_PAGE_MODE_KCLOCK);
	m = page_read(tk, CLOCK_MONOTONIC);
	real1 = page_read(tk, CLOCK_REALTIME);
	ck_assert_msg(m >= last_mono, "MONOTONIC went back %lld ns across a step",
		      (long long)(last_mono - m));
	ck_assert_msg(llabs(real1 - real0 - 10 * NS) < 10000000,
		      "REALTIME moved %lld ns, not ~10 s", (long long)(real1 - real0));
	last_mono = m;

	/* Updates every 2 ms for 200 ms: never back, and the 70 us of
	 * difference are slewed out (1000 ppm of 200 ms is 200 us). A loaded
	 * machine makes fewer updates in that time: they go on until the
	 * difference is out, measured right after an update, up to 10 s. */
	slew_err = INT64_MAX;
	for (k = kraw(); kraw() - k < 10 * (uint64_t)NS;) {
		ck_assert_int_eq(pagew_publish(pw, &v, kmono(), 10 * NS, sim_sample, NULL),
				 TK_PAGE_MODE_KCLOCK);
		if (kraw() - k >= 200000000 && (slew_err = mono_error(tk, &v)) < 5000)
			break;
		for (uint64_t t = kraw(); kraw() - t < 2000000;) {
			m = page_read(tk, CLOCK_MONOTONIC);
			r = page_read(tk, CLOCK_MONOTONIC_RAW);
			ck_assert_msg(m >= last_mono, "MONOTONIC went back %lld ns while slewing",
				      (long long)(last_mono - m));
			ck_assert_msg(r >= last_raw, "MONOTONIC_RAW went back %lld ns",
				      (long long)(last_raw - r));
			last_mono = m;
			last_raw = r;
		}
	}
	ck_assert_msg(slew_err < 5000, "after 10 s of updates the page is %lld ns off",
		      (long long)slew_err);
	tk_close(tk);
	pagew_close(pw, true);
	rm_tmp();
}
END_TEST

/* ---- torture ---------------------------------------------------------- */

struct torture {
	struct pagew *pw;
	struct tkv v;
	uint64_t cycle_interval;
	uint32_t base_mult;
	uint64_t rng;
	atomic_bool stop;
	_Atomic int64_t max_mono; /* int64_t: m0 is its compare-exchange slot */
	atomic_ulong reads, torn, backwards, fallbacks, busy, updates, kclock_updates;
	atomic_llong worst_back;
	atomic_ulong big_back; /* backward steps beyond TORTURE_SKEW_NS */
	/* The big ones by the page mode the reading before and this one ran
	 * in (TORTURE_MID: an update ran during the read), and whether the
	 * reading went back behind this reader's own last one or only behind
	 * another reader's: what a failure is about. */
	atomic_ulong big_own[4][4], big_cross[4][4];
};

#define TORTURE_MID 3

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The kernel's accumulation (timekeeping_advance, one cycle_interval at a time
 * here) up to c, then a new mult with the xtime_nsec compensation of
 * timekeeping_apply_adjustment: time stays continuous at c. */
static void tk_advance(struct torture *t, uint64_t c)
{
	struct tkv *v = &t->v;
	uint64_t n = (c - v->mono.cycle_last) / t->cycle_interval, unit;
	uint64_t off;
	int64_t dm;
	uint32_t m;

	unit = (uint64_t)NS << v->mono.shift;
	v->mono.xtime_nsec += n * t->cycle_interval * v->mono.mult;
	v->mono.cycle_last += n * t->cycle_interval;
	while (v->mono.xtime_nsec >= unit) {
		v->mono.xtime_nsec -= unit;
		v->xtime_sec++;
	}
	v->raw.xtime_nsec += n * t->cycle_interval * v->raw.mult;
	v->raw.cycle_last += n * t->cycle_interval;
	while (v->raw.xtime_nsec >= unit) {
		v->raw.xtime_nsec -= unit;
		v->raw_sec++;
	}
	v->coarse_nsec = v->mono.xtime_nsec >> v->mono.shift;

	/* +-500 ppm around the calibrated mult. */
	m = t->base_mult +
	    (uint32_t)((int64_t)(rng_next(&t->rng) % 1001) - 500) * (t->base_mult / 1000000);
	off = c - v->mono.cycle_last;
	dm = (int64_t)m - (int64_t)v->mono.mult;
	if (dm > 0 && v->mono.xtime_nsec < off * (uint64_t)dm) {
		/* Underflow: borrow a second (skip_second_overflow's case). */
		v->mono.xtime_nsec += unit;
		v->xtime_sec--;
	}
	v->mono.xtime_nsec -= (uint64_t)((int64_t)off * dm);
	v->mono.mult = m;
}

static int torture_sample(void *ctx, struct pagew_sample *s)
{
	struct torture *t = ctx;

	s->kraw_before = kraw();
	s->cycles = tsc();
	s->kraw_after = kraw();
	tk_advance(t, s->cycles);
	return 0;
}

static void *torture_writer(void *arg)
{
	struct torture *t = arg;
	uint64_t n = 0, next;

	while (!atomic_load(&t->stop)) {
		if ((n++ & 63) == 0)
			pagew_set_mode(t->pw,
				       (n >> 6) & 1 ? TK_PAGE_MODE_KCLOCK : TK_PAGE_MODE_TSC);
		if (pagew_publish(t->pw, &t->v, kmono(), NS, torture_sample, t) ==
		    TK_PAGE_MODE_KCLOCK)
			atomic_fetch_add(&t->kclock_updates, 1);
		atomic_fetch_add(&t->updates, 1);
		next = kraw() + 20000; /* ~50 kHz */
		while (kraw() < next)
			;
	}
	return NULL;
}

/*
 * A reading earlier than one published before it began. With the same page
 * data that can only come from the CPUs' TSCs disagreeing (a VM's vCPUs
 * under load): the page inherits the counter's cross-CPU synchronization
 * exactly as the vDSO does. What this page's code could get wrong (a torn
 * read, an uncompensated mult change, a mode switch that moves the base)
 * shows up as microseconds or more, so steps beyond TORTURE_SKEW_NS fail the
 * test and smaller ones are counted and printed.
 */
#define TORTURE_SKEW_NS 1000
/* Updates a torture run makes at least: 2 s at the writer's ~50 kHz make
 * 100000 on an idle machine. */
#define TORTURE_MIN_UPDATES 20000

static void note_back(struct torture *t, int64_t back, int prev_mode, int mode, bool own)
{
	atomic_fetch_add(&t->backwards, 1);
	if (back > atomic_load(&t->worst_back))
		atomic_store(&t->worst_back, back);
	if (back > TORTURE_SKEW_NS) {
		atomic_fetch_add(&t->big_back, 1);
		atomic_fetch_add(
			own ? &t->big_own[prev_mode][mode] : &t->big_cross[prev_mode][mode], 1);
	}
}

/* The mode of the page's HRES block, or TORTURE_MID when it is being
 * updated; *seq its sequence number. */
static int torture_mode(const struct torture *t, uint32_t *seq)
{
	struct tk_page_clock blk;
	struct tk_page_status st;

	if (tkr_snapshot(pagew_page(t->pw), 0, &blk, &st) != 0 || blk.clock_mode < 0 ||
	    blk.clock_mode >= TORTURE_MID) {
		*seq = 1;
		return TORTURE_MID;
	}
	*seq = blk.seq;
	return blk.clock_mode;
}

static void torture_print_big(const struct torture *t)
{
	static const char *const name[] = { "none", "tsc", "kclock", "mid-update" };

	for (int a = 0; a < 4; a++)
		for (int b = 0; b < 4; b++)
			if (atomic_load(&t->big_own[a][b]) || atomic_load(&t->big_cross[a][b]))
				fprintf(stderr,
					"# torture: beyond %d ns, %s -> %s: %lu behind the "
					"reader's own last reading, %lu behind another's\n",
					TORTURE_SKEW_NS, name[a], name[b],
					atomic_load(&t->big_own[a][b]),
					atomic_load(&t->big_cross[a][b]));
}

static void *torture_reader(void *arg)
{
	struct torture *t = arg;
	struct tk_page_clock blk;
	struct tk_page_status st;
	struct timekeeper *tk = open_page();
	struct tk_reading rd;
	int64_t last = 0, last_raw = 0, m0, now;
	unsigned long n = 0;
	int mode, last_mode = TORTURE_MID, last_raw_mode = TORTURE_MID;
	uint32_t seq, seq_after;

	while (!atomic_load(&t->stop)) {
		m0 = atomic_load(&t->max_mono);
		mode = torture_mode(t, &seq);
		ck_assert_int_eq(tk_read(tk, CLOCK_MONOTONIC, &rd), 0);
		torture_mode(t, &seq_after);
		if (seq_after != seq || (seq & 1))
			mode = TORTURE_MID;
		now = ts_to_ns(&rd.time);
		/* A writer preempted mid-update past the readers' spin bound
		 * (readers on every CPU beside the writer) sends a reading to
		 * the kernel, by design, as TK_SOURCE_BUSY; anything else that
		 * falls back is a failure. */
		if (rd.source_kind == TK_SOURCE_BUSY) {
			atomic_fetch_add(&t->busy, 1);
			continue;
		}
		if (rd.source_kind != TK_SOURCE_PAGE || now < (int64_t)KERNEL_MONO_MAX_SEC * NS) {
			atomic_fetch_add(&t->fallbacks, 1);
			continue;
		}
		/* m0 was published before this read began: it must not be later. */
		if (now < m0 || now < last)
			note_back(t, (m0 > last ? m0 : last) - now, last_mode, mode, now < last);
		last = now;
		last_mode = mode;
		while (m0 < now && !atomic_compare_exchange_weak(&t->max_mono, &m0, now))
			;
		ck_assert_int_eq(tk_read(tk, CLOCK_MONOTONIC_RAW, &rd), 0);
		mode = torture_mode(t, &seq_after);
		if (seq_after != seq || (seq & 1))
			mode = TORTURE_MID;
		if (rd.source_kind == TK_SOURCE_BUSY) {
			atomic_fetch_add(&t->busy, 1);
		} else if (rd.source_kind != TK_SOURCE_PAGE) {
			atomic_fetch_add(&t->fallbacks, 1);
		} else {
			if (ts_to_ns(&rd.time) < last_raw)
				note_back(t, last_raw - ts_to_ns(&rd.time), last_raw_mode, mode,
					  true);
			last_raw = ts_to_ns(&rd.time);
			last_raw_mode = mode;
		}

		if (tkr_snapshot(pagew_page(t->pw), (int)(n & 1), &blk, &st) == 0 &&
		    (tk_page_block_check(&blk) != blk.check || (blk.seq & 1)))
			atomic_fetch_add(&t->torn, 1);
		n++;
	}
	atomic_fetch_add(&t->reads, n);
	tk_close(tk);
	return NULL;
}

START_TEST(test_torture)
{
	static struct torture t;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t w, r[64];
	uint64_t c0, k0, c1, k1, hz, secs = 2;
	uint32_t mult, shift;
	const char *env = getenv("TK_TORTURE_SECONDS");
	double elapsed;

	if (env)
		secs = strtoull(env, NULL, 0);
	if (ncpu < 1)
		ncpu = 1;
	if (ncpu > 64)
		ncpu = 64;
	memset(&t, 0, sizeof(t));
	t.rng = tk_test_seed();
	mkdir_tmp();
	ck_assert_int_eq(pagew_open(dir, &t.pw, err, sizeof(err)), 0);

	/* The TSC against the kernel's raw clock over 50 ms, so that the
	 * timekeeper's ns are kernel ns within the KCLOCK mapping's 1 %. */
	k0 = kraw();
	c0 = tsc();
	usleep(50000);
	k1 = kraw();
	c1 = tsc();
	hz = (uint64_t)((double)(c1 - c0) * 1e9 / (double)(k1 - k0));
	ck_assert_uint_lt(hz, UINT32_MAX);
	cs_calc_mult_shift(&mult, &shift, (uint32_t)hz, 1000000000u, 600);
	tkv_fill(&t.v, "tsc", tsc(), mult, shift);
	t.v.raw.mult = mult;
	t.base_mult = mult;
	t.cycle_interval = hz / 1000; /* a 1 ms tick */
	fprintf(stderr,
		"# torture: tsc %" PRIu64 " Hz, mult %u shift %u, %ld readers, %" PRIu64 " s\n", hz,
		mult, shift, ncpu, secs);
	pagew_publish(t.pw, &t.v, kmono(), NS, torture_sample, &t);

	pthread_create(&w, NULL, torture_writer, &t);
	for (long i = 0; i < ncpu; i++) {
		cpu_set_t set;

		pthread_create(&r[i], NULL, torture_reader, &t);
		CPU_ZERO(&set);
		CPU_SET((int)i, &set);
		pthread_setaffinity_np(r[i], sizeof(set), &set);
	}
	k0 = kraw();
	usleep((useconds_t)(secs * 1000000));
	/* A loaded machine gives the writer less of a CPU: it runs on until
	 * the counts below are reached (a deadline well inside the timeout). */
	while (atomic_load(&t.updates) < TORTURE_MIN_UPDATES && kraw() - k0 < (uint64_t)40 * NS)
		usleep(100000);
	atomic_store(&t.stop, true);
	pthread_join(w, NULL);
	elapsed = (double)(kraw() - k0) / 1e9;
	for (long i = 0; i < ncpu; i++)
		pthread_join(r[i], NULL);
	/* On stderr: the harness keeps it when an assertion below fails. */
	fprintf(stderr,
		"# torture: %lu updates (%.0f/s, %lu KCLOCK), %lu reads, %lu fallbacks, "
		"%lu busy, %lu torn, %lu backwards (worst %lld ns, %lu beyond %d ns)\n",
		atomic_load(&t.updates), (double)atomic_load(&t.updates) / elapsed,
		atomic_load(&t.kclock_updates), atomic_load(&t.reads), atomic_load(&t.fallbacks),
		atomic_load(&t.busy), atomic_load(&t.torn), atomic_load(&t.backwards),
		(long long)atomic_load(&t.worst_back), atomic_load(&t.big_back), TORTURE_SKEW_NS);
	torture_print_big(&t);
	ck_assert_uint_ge(atomic_load(&t.updates), TORTURE_MIN_UPDATES);
	ck_assert_uint_gt(atomic_load(&t.kclock_updates), 100);
	ck_assert_uint_gt(atomic_load(&t.updates) - atomic_load(&t.kclock_updates), 100);
	ck_assert_uint_gt(atomic_load(&t.reads), 1000);
	ck_assert_uint_eq(atomic_load(&t.fallbacks), 0);
	ck_assert_uint_eq(atomic_load(&t.torn), 0);
	ck_assert_uint_eq(atomic_load(&t.big_back), 0);
	pagew_close(t.pw, true);
	rm_tmp();
}
END_TEST

/* ---- readers that cannot hang, tk_read, attaching ---------------------- */

static void page_path(char *p, size_t n, const char *name)
{
	snprintf(p, n, "%s/%s", dir, name);
}

/* Leaves both blocks' seq of the page file odd, as a writer killed between
 * its odd and even stores does. */
static void leave_odd(void)
{
	char p[128];
	uint32_t seq;
	int fd;

	page_path(p, sizeof(p), "page");
	fd = open(p, O_RDWR);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < 2; i++) {
		off_t off = (off_t)(offsetof(struct tk_page, clock) +
				    (size_t)i * sizeof(struct tk_page_clock));

		ck_assert_int_eq(pread(fd, &seq, sizeof(seq), off), (ssize_t)sizeof(seq));
		seq |= 1;
		ck_assert_int_eq(pwrite(fd, &seq, sizeof(seq), off), (ssize_t)sizeof(seq));
	}
	close(fd);
}

/* Every clock read while the page stays odd: a kernel reading. */
static void assert_kernel_readings(struct timekeeper *tk)
{
	for (size_t i = 0; i < sizeof(all_clocks) / sizeof(all_clocks[0]); i++) {
		struct timespec a, b, ts;
		int clk = all_clocks[i];

		clock_gettime(clk, &a);
		ck_assert_int_eq(tk_gettime(tk, clk, &ts), 0);
		clock_gettime(clk, &b);
		ck_assert_msg(ts_to_ns(&ts) >= ts_to_ns(&a) && ts_to_ns(&ts) <= ts_to_ns(&b),
			      "clock %d: odd page read %lld, kernel %lld..%lld", clk,
			      (long long)ts_to_ns(&ts), (long long)ts_to_ns(&a),
			      (long long)ts_to_ns(&b));
	}
}

START_TEST(test_odd_seq_never_hangs)
{
	struct pagew *pw;
	struct timekeeper *tk;
	struct tk_reading r;
	struct tk_status st;
	struct timespec ts, lo, hi;
	struct tkv v;
	uint64_t until;

	mkdir_tmp();
	ck_assert_int_eq(pagew_open(dir, &pw, err, sizeof(err)), 0);
	tkv_fill(&v, "tsc", tsc(), 1u << 24, 24);
	until = kmono() + 60 * NS;
	pagew_publish(pw, &v, until - 60 * NS, 60 * NS, NULL, NULL);
	tk = open_page();
	ck_assert_int_eq(tk_gettime(tk, CLOCK_MONOTONIC, &ts), 0);
	ck_assert_int_gt(ts.tv_sec, PAGE_MONO_SEC - 10);

	/* Odd within valid_until: every read returns, from the kernel, BUSY. */
	leave_odd();
	assert_kernel_readings(tk);
	ck_assert_int_eq(tk_read(tk, CLOCK_REALTIME, &r), 0);
	ck_assert_int_eq(r.source_kind, TK_SOURCE_BUSY);
	ck_assert_uint_eq(r.disruption, 0);
	ck_assert_int_eq(tk_read(tk, CLOCK_MONOTONIC_RAW, &r), 0);
	ck_assert_int_eq(r.source_kind, TK_SOURCE_BUSY);
	ck_assert_int_eq(tk_read(tk, CLOCK_MONOTONIC_COARSE, &r), 0);
	ck_assert_int_eq(r.source_kind, TK_SOURCE_BUSY);
	ck_assert_int_lt(r.time.tv_sec, KERNEL_MONO_MAX_SEC);
	ck_assert_int_eq(tk_gettime_bounds(tk, CLOCK_REALTIME, &lo, &hi), 0);
	ck_assert(ts_to_ns(&lo) <= ts_to_ns(&hi));
	ck_assert_int_eq(tk_status(tk, &st), 0);
	ck_assert_int_eq(st.source_kind, TK_SOURCE_BUSY);
	ck_assert_int_eq(st.stale, 1);
	ck_assert_int_eq(st.valid_until_ns, until);

	/* Odd past valid_until: stale. */
	v.mono.cycle_last = v.raw.cycle_last = tsc();
	until = kmono() + 2000000;
	pagew_publish(pw, &v, until - 2000000, 2000000, NULL, NULL);
	leave_odd();
	while (kcoarse() <= until) /* what the library compares against */
		usleep(1000);
	assert_kernel_readings(tk);
	ck_assert_int_eq(tk_read(tk, CLOCK_REALTIME, &r), 0);
	ck_assert_int_eq(r.source_kind, TK_SOURCE_STALE);
	ck_assert_int_eq(tk_status(tk, &st), 0);
	ck_assert_int_eq(st.source_kind, TK_SOURCE_STALE);

	tk_close(tk);
	pagew_close(pw, true);
	rm_tmp();
}
END_TEST

/* A copy of good at dir/bad with the bound fields set, opened. */
static struct timekeeper *open_bound(const struct tk_page *good, uint32_t compat, uint32_t bstatus,
				     uint32_t drift_ppb, int64_t bound_ns, int64_t maxerror_us,
				     uint32_t flags)
{
	struct tk_page pg;
	struct timekeeper *tk;
	char p[128];
	int fd;

	memcpy(&pg, good, sizeof(pg));
	pg.hdr.compat = compat;
	pg.status.bound_status = bstatus;
	pg.status.bound_drift_ppb = drift_ppb;
	pg.status.bound_ns = bound_ns;
	pg.status.maxerror_us = maxerror_us;
	pg.status.flags = flags;
	page_path(p, sizeof(p), "bad");
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, &pg, sizeof(pg)), (ssize_t)sizeof(pg));
	close(fd);
	ck_assert_int_eq(tk_open(p, &tk), 0);
	return tk;
}

static void assert_interval(const struct tk_reading *r)
{
	ck_assert_int_eq(ts_to_ns(&r->earliest), ts_to_ns(&r->time) - r->bound_ns);
	ck_assert_int_eq(ts_to_ns(&r->latest), ts_to_ns(&r->time) + r->bound_ns);
}

START_TEST(test_read_bound)
{
	const int64_t base_real = 1000000000ll * NS + 123456789; /* tkv_fill's REALTIME */
	struct pagew *pw;
	struct timekeeper *tk;
	struct tk_reading r;
	struct tk_status st;
	struct timespec lo, hi, t, o;
	struct tkv v;
	int64_t growth, elapsed;

	mkdir_tmp();
	ck_assert_int_eq(pagew_open(dir, &pw, err, sizeof(err)), 0);
	tkv_fill(&v, "tsc", tsc(), 1u << 24, 24);
	pagew_publish(pw, &v, kmono(), 60 * NS, NULL, NULL);

	/* Growth at 1e9 ppb: the bound grows by the elapsed time of the very
	 * reading (the reading is the base plus it, to the ns). */
	tk = open_bound(pagew_page(pw), TK_PAGE_C_BOUND, TK_PAGE_BS_FREE_RUNNING, 1000000000,
			1000000, 0, TK_PAGE_S_SYNC);
	ck_assert_int_eq(tk_read(tk, CLOCK_REALTIME, &r), 0);
	ck_assert_int_eq(r.source_kind, TK_SOURCE_PAGE);
	ck_assert_int_eq(r.status, TK_CLOCK_FREE_RUNNING);
	growth = r.bound_ns - 1000000;
	elapsed = ts_to_ns(&r.time) - base_real;
	ck_assert_msg(growth >= elapsed - 1 && growth <= elapsed + 1,
		      "bound grew %lld ns over %lld ns at 1e9 ppb", (long long)growth,
		      (long long)elapsed);
	assert_interval(&r);
	/* Coarse clocks stand at the update: no growth. */
	ck_assert_int_eq(tk_read(tk, CLOCK_REALTIME_COARSE, &r), 0);
	ck_assert_int_eq(r.bound_ns, 1000000);
	ck_assert_int_eq(tk_status(tk, &st), 0);
	ck_assert_int_eq(st.clock_status, TK_CLOCK_FREE_RUNNING);
	ck_assert_int_eq(st.bound_drift_ppb, 1000000000);
	ck_assert_int_eq(st.bound_ns, 1000000);
	tk_close(tk);

	/* No growth: exactly the bound; tk_gettime_bounds is the same interval. */
	tk = open_bound(pagew_page(pw), TK_PAGE_C_BOUND, TK_PAGE_BS_SYNCHRONIZED, 0, 5000, 0, 0);
	ck_assert_int_eq(tk_read(tk, CLOCK_TAI, &r), 0);
	ck_assert_int_eq(r.bound_ns, 5000);
	ck_assert_int_eq(r.status, TK_CLOCK_SYNCHRONIZED);
	assert_interval(&r);
	ck_assert_int_eq(tk_gettime_bounds(tk, CLOCK_REALTIME, &lo, &hi), 0);
	ck_assert_int_eq(ts_to_ns(&hi) - ts_to_ns(&lo), 10000);
	tk_close(tk);

	/* INT64_MAX: no bound, the interval is everything. */
	tk = open_bound(pagew_page(pw), TK_PAGE_C_BOUND, TK_PAGE_BS_UNKNOWN, 500, INT64_MAX, 0, 0);
	ck_assert_int_eq(tk_read(tk, CLOCK_REALTIME, &r), 0);
	ck_assert_int_eq(r.bound_ns, INT64_MAX);
	ck_assert_int_eq(r.status, TK_CLOCK_UNKNOWN);
	ck_assert_int_eq(r.earliest.tv_sec, INT64_MIN);
	ck_assert_int_eq(r.latest.tv_sec, INT64_MAX);
	ck_assert_int_eq(r.latest.tv_nsec, 999999999);
	tk_close(tk);

	/* Saturation: growth past INT64_MAX, negative bounds, unknown status. */
	tk = open_bound(pagew_page(pw), TK_PAGE_C_BOUND, 7, UINT32_MAX, INT64_MAX - 10, 0, 0);
	ck_assert_int_eq(tk_read(tk, CLOCK_MONOTONIC, &r), 0);
	ck_assert_int_eq(r.bound_ns, INT64_MAX);
	ck_assert_int_eq(r.status, TK_CLOCK_UNKNOWN);
	tk_close(tk);
	tk = open_bound(pagew_page(pw), TK_PAGE_C_BOUND, 1, 0, INT64_MIN, 0, 0);
	ck_assert_int_eq(tk_read(tk, CLOCK_REALTIME, &r), 0);
	ck_assert_int_eq(r.bound_ns, INT64_MAX);
	tk_close(tk);

	/* Compat bit clear (an older daemon): maxerror and the SYNC flag. */
	tk = open_bound(pagew_page(pw), 0, TK_PAGE_BS_FREE_RUNNING, 1000, 7, 1500, TK_PAGE_S_SYNC);
	ck_assert_int_eq(tk_read(tk, CLOCK_REALTIME, &r), 0);
	ck_assert_int_eq(r.bound_ns, 1500000);
	ck_assert_int_eq(r.status, TK_CLOCK_SYNCHRONIZED);
	assert_interval(&r);
	ck_assert_int_eq(tk_status(tk, &st), 0);
	ck_assert_int_eq(st.bound_ns, 1500000);
	ck_assert_int_eq(st.bound_drift_ppb, 0);
	tk_close(tk);
	tk = open_bound(pagew_page(pw), 0, 0, 0, 0, INT64_MAX, 0);
	ck_assert_int_eq(tk_read(tk, CLOCK_REALTIME, &r), 0);
	ck_assert_int_eq(r.bound_ns, INT64_MAX);
	ck_assert_int_eq(r.status, TK_CLOCK_UNKNOWN);
	tk_close(tk);

	/* The arithmetic at its ends. */
	ck_assert_int_eq(tkr_bound_grow(1000, NS, 1000), 2000);
	ck_assert_int_eq(tkr_bound_grow(0, 1, 1), 1); /* rounded up */
	ck_assert_int_eq(tkr_bound_grow(0, UINT64_MAX, UINT32_MAX), INT64_MAX);
	ck_assert_int_eq(tkr_bound_grow(INT64_MAX - 1, 0, 0), INT64_MAX - 1);
	ck_assert_int_eq(tkr_bound_grow(INT64_MAX - 1, NS, 1), INT64_MAX);
	ck_assert_int_eq(tkr_bound_grow(-1, 0, 0), INT64_MAX);
	t.tv_sec = INT64_MAX - 1;
	t.tv_nsec = 999999999;
	tkr_ts_offset(&t, 2 * NS, 1, &o);
	ck_assert_int_eq(o.tv_sec, INT64_MAX);
	ck_assert_int_eq(o.tv_nsec, 999999999);
	tkr_ts_offset(&t, 1, 1, &o);
	ck_assert_int_eq(o.tv_sec, INT64_MAX);
	ck_assert_int_eq(o.tv_nsec, 0);
	t.tv_sec = INT64_MIN + 1;
	t.tv_nsec = 0;
	tkr_ts_offset(&t, 1, -1, &o);
	ck_assert_int_eq(o.tv_sec, INT64_MIN);
	ck_assert_int_eq(o.tv_nsec, 999999999);
	tkr_ts_offset(&t, NS + 1, -1, &o);
	ck_assert_int_eq(o.tv_sec, INT64_MIN);
	ck_assert_int_eq(o.tv_nsec, 0);
	tkr_ts_offset(&t, INT64_MAX, -1, &o);
	ck_assert_int_eq(o.tv_sec, INT64_MIN);

	pagew_close(pw, true);
	rm_tmp();
}
END_TEST

/* tk_open(NULL) follows $TIMEKEEPER_RUNTIME_DIR only without AT_SECURE
 * (secure_getenv); the flag stands in for a setuid process here. */
START_TEST(test_runtime_dir_secure)
{
	char p[256];

	setenv("TIMEKEEPER_RUNTIME_DIR", "/tmp/forged", 1);
	ck_assert_str_eq(tkr_runtime_dir(false), "/tmp/forged");
	ck_assert_str_eq(tkr_runtime_dir(true), "/run/timekeeper");
	ck_assert_int_eq(tkr_page_path(p, sizeof(p), true), 0);
	ck_assert_str_eq(p, "/run/timekeeper/page");
	ck_assert_int_eq(tkr_page_path(p, sizeof(p), false), 0);
	ck_assert_str_eq(p, "/tmp/forged/page");
	ck_assert_int_eq(tkr_page_path(p, 10, false), -ENAMETOOLONG);
	unsetenv("TIMEKEEPER_RUNTIME_DIR");
	ck_assert_str_eq(tkr_runtime_dir(false), "/run/timekeeper");
}
END_TEST

/* Polls (10 ms steps, 20 s at most) until MONOTONIC reads near sec. */
static bool reads_near(struct timekeeper *tk, int64_t sec)
{
	struct timespec ts;

	for (int i = 0; i < 2000; i++) {
		ck_assert_int_eq(tk_gettime(tk, CLOCK_MONOTONIC, &ts), 0);
		if (ts.tv_sec > sec - 10 && ts.tv_sec < sec + 10)
			return true;
		usleep(10000);
	}
	return false;
}

START_TEST(test_attach_late_and_follow)
{
	struct pagew *pw;
	struct timekeeper *tk;
	struct tk_status st;
	struct tkv v;
	char p[128];

	mkdir_tmp();
	page_path(p, sizeof(p), "page");
	ck_assert_int_eq(tk_open(p, &tk), 0); /* before any writer */
	ck_assert_int_eq(tk_status(tk, &st), 0);
	ck_assert_int_eq(st.source_kind, TK_SOURCE_NO_PAGE);

	ck_assert_int_eq(pagew_open(dir, &pw, err, sizeof(err)), 0);
	tkv_fill(&v, "tsc", tsc(), 1u << 24, 24);
	pagew_publish(pw, &v, kmono(), 600 * NS, NULL, NULL);
	ck_assert_msg(reads_near(tk, PAGE_MONO_SEC), "the handle never took up the new page");

	/* A restarted writer: the old page closed, a new one renamed over it. */
	pagew_close(pw, false);
	ck_assert_int_eq(pagew_open(dir, &pw, err, sizeof(err)), 0);
	v.wall_to_monotonic.sec += 1000;
	v.mono.cycle_last = v.raw.cycle_last = tsc();
	pagew_publish(pw, &v, kmono(), 600 * NS, NULL, NULL);
	ck_assert_msg(reads_near(tk, PAGE_MONO_SEC + 1000),
		      "the handle did not follow the restarted writer");
	ck_assert_int_eq(tk_status(tk, &st), 0);
	ck_assert_int_eq(st.source_kind, TK_SOURCE_PAGE);
	tk_close(tk);
	pagew_close(pw, true);
	rm_tmp();
}
END_TEST

/* The daemon's page file is a mirror it never maps: truncating it faults
 * nobody, and the next update rewrites it whole. A leftover page.new (a
 * symlink planted there) is replaced, never followed. */
START_TEST(test_mirror_truncated_and_page_new)
{
	struct pagew *pw;
	struct timekeeper *tk;
	struct timespec ts;
	struct stat sb;
	struct tkv v;
	char p[128], tmp[128], target[128], buf[8] = { 0 };
	int fd;

	mkdir_tmp();
	page_path(p, sizeof(p), "page");
	page_path(tmp, sizeof(tmp), "page.new");
	page_path(target, sizeof(target), "target");
	fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "keep", 4), 4);
	close(fd);
	ck_assert_int_eq(symlink(target, tmp), 0);
	ck_assert_int_eq(pagew_open(dir, &pw, err, sizeof(err)), 0);
	fd = open(target, O_RDONLY);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 4);
	close(fd);
	ck_assert_str_eq(buf, "keep");
	ck_assert_int_eq(lstat(p, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_int_eq(sb.st_mode & 07777, 0644);
	ck_assert_int_eq(pagew_share_fd(pw) >= 0, 1);
	ck_assert_int_eq(fcntl(pagew_share_fd(pw), F_GET_SEALS) & F_SEAL_SHRINK, F_SEAL_SHRINK);

	tkv_fill(&v, "tsc", tsc(), 1u << 24, 24);
	pagew_publish(pw, &v, kmono(), 600 * NS, NULL, NULL);
	ck_assert_int_eq(truncate(p, 0), 0);
	pagew_publish(pw, &v, kmono(), 600 * NS, NULL, NULL); /* old code: SIGBUS here */
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_int_eq(sb.st_size, TK_PAGE_SIZE);
	tk = open_page();
	ck_assert_int_eq(tk_gettime(tk, CLOCK_MONOTONIC, &ts), 0);
	ck_assert_int_gt(ts.tv_sec, PAGE_MONO_SEC - 10);
	tk_close(tk);
	pagew_close(pw, true);
	unlink(target);
	rm_tmp();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("page");
	TCase *tc = tcase_create("page");

	tcase_add_test(tc, test_roundtrip_tsc);
	tcase_add_test(tc, test_negative_motion);
	tcase_add_test(tc, test_roundtrip_kclock_source);
	tcase_add_test(tc, test_kclock_interpolation);
	tcase_add_test(tc, test_kclock_switch_never_back);
	tcase_add_test(tc, test_fallback);
	tcase_add_test(tc, test_header_refused);
	tcase_add_test(tc, test_odd_seq_never_hangs);
	tcase_add_test(tc, test_read_bound);
	tcase_add_test(tc, test_runtime_dir_secure);
	tcase_add_test(tc, test_mirror_truncated_and_page_new);
	suite_add_tcase(s, tc);
	tc = tcase_create("attach");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_attach_late_and_follow);
	suite_add_tcase(s, tc);
	tc = tcase_create("torture");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_torture);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
