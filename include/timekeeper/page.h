/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shared page ABI of timekeeperd: one 4096-byte page that the daemon
 * keeps in a sealed memfd (mapped read-write by it alone, handed to clients
 * over the control socket) and mirrors to the file /run/timekeeper/page;
 * every client maps one of them read-only. It carries
 * the daemon's timekeeper in the form the kernel's vDSO data page uses (two
 * seqlock-protected clock blocks, base times in shifted nanoseconds next to
 * cycle_last/mask/mult/shift), plus status and liveness. Documented field by
 * field here and in timekeeper-page(7). This header is installed; it holds
 * types and constants only (fixed-width, little-endian x86-64, no padding the
 * compiler could choose: every offset is asserted below).
 *
 * Update protocol (a seqlock per clock block; C11 memory model, written with
 * the __atomic builtins so that the header stays usable from C++):
 *   writer: seq = seq + 1 (odd, relaxed store); release fence;
 *           data (relaxed atomic stores); seq = seq + 1 (even, release store)
 *   reader: s = seq (acquire load), spin while odd; data (relaxed loads);
 *           acquire fence; retry if seq (relaxed load) != s.
 *           The spin and the retries are bounded together: after a fixed
 *           number of rounds (libtimekeeper: 4096 pause instructions, no
 *           clock reads) the reader compares the kernel's CLOCK_MONOTONIC
 *           with the status's valid_until_ns (read relaxed, outside the
 *           lock): past it the page is stale and the reader reads the
 *           kernel's clock_gettime(), reporting it (a writer killed
 *           mid-update leaves seq odd for ever: never wait on it); before
 *           it the writer may be preempted mid-update, and the reader yields
 *           and spins again, for a bounded time in all (libtimekeeper:
 *           250 ms), after which the page is busy and the reader falls back.
 * Both blocks are made odd before either is written and made even only after
 * both are written, as the kernel's vdso_write_begin/end do, so that REALTIME
 * and MONOTONIC_RAW read from one page are from the same update.
 * The seconds/nanoseconds split of a result is done after the retry loop.
 */
#ifndef TIMEKEEPER_PAGE_H
#define TIMEKEEPER_PAGE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Header. */
#define TK_PAGE_MAGIC "TKPAGE\0\1" /* 8 bytes: "TKPAGE", 0, 1 (little-endian x86-64 layout) */
#define TK_PAGE_MAGIC_LEN 8
#define TK_PAGE_SIZE 4096u	/* size of the file and of the mapping */
#define TK_PAGE_VERSION 1u	/* incompatible layout changes bump it */
#define TK_PAGE_HEADER_SIZE 64u /* struct tk_page_header */

/* Feature bits (tk_page_header.features). A reader refuses a page that has
 * a bit it does not know; compatible additions get a new bit. */
#define TK_PAGE_F_CHECK 0x1ull /* clock blocks carry tk_page_clock.check */
#define TK_PAGE_FEATURES_V1 TK_PAGE_F_CHECK

/* Compatible features (tk_page_header.compat): fields that a reader may use
 * when the bit is set and may ignore otherwise. Unknown bits are ignored, so
 * readers written before a bit existed keep working. */
#define TK_PAGE_C_BOUND 0x1u /* status carries bound_ns, bound_drift_ppb, bound_status */

/* Clock status (tk_page_status.bound_status), as ClockBound names them. */
#define TK_PAGE_BS_UNKNOWN 0	  /* no reference has ever given a bound: time is not known */
#define TK_PAGE_BS_SYNCHRONIZED 1 /* the reference gives a bound; it holds */
#define TK_PAGE_BS_FREE_RUNNING 2 /* reference lost: holdover, the bound keeps growing */
#define TK_PAGE_BS_DISRUPTED 3	  /* the clock itself misbehaved: do not trust the bound */

/* Clock modes (tk_page_clock.clock_mode): how a reader gets "cycles". */
#define TK_PAGE_MODE_NONE 0   /* no usable counter: read the kernel's clocks */
#define TK_PAGE_MODE_TSC 1    /* cycles = rdtsc (ordered) & INT64_MAX */
#define TK_PAGE_MODE_KCLOCK 2 /* cycles = kernel CLOCK_MONOTONIC_RAW in ns (vDSO) */

/* Clock ids: the index into tk_page_clock.basetime, the POSIX clockid_t. */
#define TK_PAGE_CLOCK_REALTIME 0
#define TK_PAGE_CLOCK_MONOTONIC 1
#define TK_PAGE_CLOCK_MONOTONIC_RAW 4
#define TK_PAGE_CLOCK_REALTIME_COARSE 5
#define TK_PAGE_CLOCK_MONOTONIC_COARSE 6
#define TK_PAGE_CLOCK_BOOTTIME 7
#define TK_PAGE_CLOCK_TAI 11
#define TK_PAGE_BASES 12

/* Blocks (tk_page.clock[]). */
#define TK_PAGE_BLOCK_HRES 0 /* REALTIME, MONOTONIC, BOOTTIME, TAI, *_COARSE */
#define TK_PAGE_BLOCK_RAW 1  /* MONOTONIC_RAW */

/* Status flags (tk_page_status.flags). */
#define TK_PAGE_S_SYNC 0x1u	/* the discipline is synchronized (STA_UNSYNC clear) */
#define TK_PAGE_S_LEAP_INS 0x2u /* a leap second will be inserted at the end of the UTC day */
#define TK_PAGE_S_LEAP_DEL 0x4u /* a leap second will be deleted at the end of the UTC day */

#define TK_PAGE_SOURCE_LEN 32

struct tk_page_header {
	uint8_t magic[TK_PAGE_MAGIC_LEN]; /*  0: TK_PAGE_MAGIC */
	uint32_t size;			  /*  8: TK_PAGE_SIZE */
	uint16_t version;		  /* 12: TK_PAGE_VERSION */
	uint16_t header_size;		  /* 14: TK_PAGE_HEADER_SIZE */
	uint64_t features;		  /* 16: TK_PAGE_F_* */
	int32_t writer_pid;		  /* 24: pid of the daemon that writes the page */
	uint32_t compat;		  /* 28: TK_PAGE_C_* (0 in pages of older daemons) */
	uint64_t reserved[4];		  /* 32: 0 */
};

/* {sec, nsec}: for the high-resolution clocks nsec is in shifted ns
 * (ns << shift, below 1e9 << shift) like the vDSO's basetime; for the coarse
 * clocks nsec is plain ns (0..999999999) and the value is the reading. */
struct tk_page_basetime {
	uint64_t sec;
	uint64_t nsec;
};

/*
 * One seqlock-protected block. A high-resolution reading of clock id c:
 *   cycles = TSC: (lfence; rdtsc or rdtscp) & INT64_MAX
 *            KCLOCK: clock_gettime(CLOCK_MONOTONIC_RAW) as ns
 *   delta = (cycles - cycle_last) & mask
 *   if delta > valid_cycles:
 *       delta & (3 << 62): negative motion (a TSC read on another CPU
 *           slightly behind cycle_last, bit 62 after the INT64_MAX mask, as
 *           the x86 vDSO checks): delta = 0, time stands still at cycle_last;
 *       else the page is stale: use the kernel's clock instead;
 *   ns = (delta * mult + basetime[c].nsec) >> shift   (fits 64 bits: delta
 *       <= valid_cycles <= max_cycles; a reader that ignores valid_cycles
 *       must use 128-bit math above max_cycles)
 *   then, outside the retry loop: sec = basetime[c].sec + ns / 1e9, nsec = ns % 1e9.
 * A block whose clock_mode is NONE has meaningless cycle fields and
 * high-resolution base times: the coarse base times remain valid.
 * seq and clock_mode share one aligned 8-byte word, and so do mult and
 * shift: a reader may load either pair at once (seq in the low half; the
 * word's load is then the seqlock's acquire load). In TSC mode mask is
 * always INT64_MAX, so a reader may use the constant.
 */
struct tk_page_clock {
	uint32_t seq;	     /*   0: odd while an update is in progress */
	int32_t clock_mode;  /*   4: TK_PAGE_MODE_* */
	uint64_t cycle_last; /*   8: counter value at which the base times hold */
	uint64_t max_cycles; /*  16: larger deltas need 128-bit math (or are negative motion) */
	uint64_t mask;	     /*  24: counter mask (INT64_MAX for TSC, UINT64_MAX for KCLOCK) */
	uint32_t mult;	     /*  32: ns << shift per cycle */
	uint32_t shift;	     /*  36 */
	struct tk_page_basetime basetime[TK_PAGE_BASES]; /* 40: indexed by clock id */
	/* 232: liveness on the fast path: a delta above valid_cycles means the
	 * daemon missed the update it promised (valid_for after this one), and
	 * the reader falls back to the kernel. Always <= max_cycles, so a live
	 * reading never needs the 128-bit path; 0 in mode NONE. */
	uint64_t valid_cycles;
	uint64_t check;	      /* 240: mix of the fields above but seq (TK_PAGE_F_CHECK) */
	uint64_t reserved[1]; /* 248: 0 */
};

/* Status: protected by clock[TK_PAGE_BLOCK_HRES].seq (written in the same
 * update as that block; as both blocks are odd for the whole update, block
 * 1's seq protects it as well). */
struct tk_page_status {
	uint64_t disruption;	 /*  0: bumped on every clocksource change, step and leap */
	int64_t maxerror_us;	 /*  8: adjtimex maxerror: bound on |REALTIME - UTC|, us */
	int64_t esterror_us;	 /* 16: adjtimex esterror, us */
	uint32_t flags;		 /* 24: TK_PAGE_S_* */
	int32_t tai_offset;	 /* 28: TAI - UTC, s */
	uint64_t last_update_ns; /* 32: kernel CLOCK_MONOTONIC of the last update, ns */
	uint64_t valid_until_ns; /* 40: kernel CLOCK_MONOTONIC after which the page is stale,
				   * ns; 0 once the daemon has closed the page */
	char source[TK_PAGE_SOURCE_LEN]; /* 48: the daemon's clocksource, NUL-terminated */
	/* 80..95: valid when hdr.compat has TK_PAGE_C_BOUND (0 otherwise).
	 * The error bound of REALTIME (and TAI) at the block's cycle_last, in
	 * ns: |REALTIME - UTC| <= bound_ns + elapsed_ns * bound_drift_ppb / 1e9,
	 * where elapsed_ns = (delta * mult) >> shift from the same block read
	 * (delta as in the read recipe above; valid_for after an update it is
	 * the kernel's CLOCK_MONOTONIC - last_update_ns). INT64_MAX: no bound.
	 * maxerror_us stays the same bound rounded up to us, for old readers. */
	uint32_t bound_status;	  /* 80: TK_PAGE_BS_* */
	uint32_t bound_drift_ppb; /* 84: growth of the bound, ns per s */
	int64_t bound_ns;	  /* 88: bound at cycle_last, ns */
};

struct tk_page {
	struct tk_page_header hdr;	    /*    0 */
	struct tk_page_clock clock[2];	    /*   64: TK_PAGE_BLOCK_HRES, TK_PAGE_BLOCK_RAW */
	struct tk_page_status status;	    /*  576 */
	uint8_t unused[TK_PAGE_SIZE - 672]; /* 672: 0 */
};

/* The block check (TK_PAGE_F_CHECK): h = TK_PAGE_CHECK_SEED, then
 * h = tk_page_check_mix(h, v) for v = (uint32_t)clock_mode, cycle_last,
 * max_cycles, mask, mult, shift, basetime[0].sec, basetime[0].nsec, ...,
 * basetime[11].nsec, valid_cycles, in that order. It lets a reader that
 * copied a block under the seqlock prove the copy is not torn; the fast
 * path of libtimekeeper does not verify it, tools and tests do. */
static inline uint64_t tk_page_check_mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x100000001b3ull;
	return h ^ (h >> 29);
}

#define TK_PAGE_CHECK_SEED 0xcbf29ce484222325ull

/* The check of a block copy (the live page must be copied under the seqlock
 * first). */
static inline uint64_t tk_page_block_check(const struct tk_page_clock *c)
{
	uint64_t h = TK_PAGE_CHECK_SEED;
	int i;

	h = tk_page_check_mix(h, (uint32_t)c->clock_mode);
	h = tk_page_check_mix(h, c->cycle_last);
	h = tk_page_check_mix(h, c->max_cycles);
	h = tk_page_check_mix(h, c->mask);
	h = tk_page_check_mix(h, c->mult);
	h = tk_page_check_mix(h, c->shift);
	for (i = 0; i < TK_PAGE_BASES; i++) {
		h = tk_page_check_mix(h, c->basetime[i].sec);
		h = tk_page_check_mix(h, c->basetime[i].nsec);
	}
	return tk_page_check_mix(h, c->valid_cycles);
}

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(struct tk_page_header) == TK_PAGE_HEADER_SIZE, "tk_page_header size");
_Static_assert(sizeof(struct tk_page_clock) == 256, "tk_page_clock size");
_Static_assert(sizeof(struct tk_page_status) == 96, "tk_page_status size");
_Static_assert(sizeof(struct tk_page) == TK_PAGE_SIZE, "tk_page size");
#endif

#ifdef __cplusplus
}
#endif

#endif
