// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libtimekeeper: the page reader (timekeeper.h, timekeeper-page(7)).
 *
 * The read path is the vDSO's do_hres()/do_coarse() over timekeeperd's
 * page: acquire-load the block's seq, copy the fields with relaxed loads and
 * take the counter, acquire fence, re-check seq; every computation,
 * including the seconds/nanoseconds split, happens after the loop on the
 * copy. The TSC path makes no system call; the KCLOCK path takes
 * CLOCK_MONOTONIC_RAW from the vDSO. Nothing on the read path locks,
 * allocates or writes shared state but two words of the handle (below), so
 * it is thread-safe and async-signal-safe. Anything that makes the page
 * unusable (missing, stale, mode NONE, mid-update for too long) sends the
 * reading to the kernel's clock_gettime().
 *
 * Readers cannot hang: a writer killed between its odd and even seq stores
 * leaves the block odd for ever. Every seqlock loop spins SPIN_MAX rounds
 * (pause instructions, no clock reads), then looks at the kernel's coarse
 * clock: past valid_until_ns the page is stale and the reading falls back
 * (TK_SOURCE_STALE); before it the writer may only be preempted in its
 * update, so the reader yields and spins again, for at most WAIT_MAX_NS in
 * all, after which it falls back with TK_SOURCE_BUSY. Waiting for a live
 * writer rather than falling back at once keeps a preempted update from
 * sending readings to the kernel's clock, which differs from the page's.
 *
 * The page: tk_open() asks the daemon for its sealed memfd over the control
 * socket (it cannot shrink, so a reader never takes SIGBUS) and maps the
 * file at the path when no daemon answers. On the fallback path, at most
 * once a second per handle, the path is checked for a different file (a
 * daemon that started after tk_open() or restarted); a new page is mapped
 * and published with a release store. Old mappings are kept until
 * tk_close(), since another thread may still be reading them, in a fixed
 * array: at most MAPS_MAX mappings per handle.
 */
#include "config.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stddef.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/tunit.h"
#include "proto/ctlwire.h"
#include "timekeeper.h"
#include "timekeeper/control.h"
#include "timekeeper/page.h"
#include "lib/tkread.h"

#define TK_EXPORT __attribute__((visibility("default")))
#define DEFAULT_DIR "/run/timekeeper"

/* Rounds of a seqlock loop (odd seq, or a changed one) before a read gives
 * up: one pause each, a few to a few hundred ns depending on the CPU. */
#define SPIN_MAX 4096
/* How long one read waits in all for a writer that is mid-update and still
 * within its valid_until (a forged or far valid_until cannot hold it longer). */
#define WAIT_MAX_NS (250 * 1000000ull)
/* Mappings a handle may make (tk_open's included); later daemons are not
 * followed and the handle keeps reading its last page or the kernel. */
#define MAPS_MAX 16
#define REATTACH_EVERY_NS NSEC_PER_SEC_U
/* How long tk_open() waits for the daemon's answer with the memfd. */
#define SHARE_WAIT_MS 200

#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

struct timekeeper {
	const struct tk_page *page; /* NULL: no page; release-stored, acquire-loaded */
	bool rdtscp;
	bool tsc_only;		     /* serve from the page in TSC mode only (tkr_set_tsc_only) */
	uint64_t path_dev, path_ino; /* the file at path that page stands for (0: none) */
	uint64_t next_check_ns;	     /* CLOCK_MONOTONIC_COARSE of the next re-attach check */
	unsigned int nmaps;	     /* of maps[] (may run past MAPS_MAX: then full) */
	void *maps[MAPS_MAX];
	char path[PATH_MAX]; /* the page file ("" when too long to follow) */
};

/* The result of one page read, before the split. */
enum rd_result { RD_OK, RD_NONE, RD_STALE, RD_BUSY };

/* What tk_read() takes from the same block read as the time. */
struct rd_status {
	uint64_t elapsed_ns; /* since the block's cycle_last (0 for coarse clocks) */
	uint64_t disruption;
	int64_t maxerror_us;
	int64_t bound_ns;
	uint32_t flags, bound_status, drift_ppb;
};

static inline const struct tk_page *page_of(const struct timekeeper *tk)
{
	return __atomic_load_n(&tk->page, __ATOMIC_ACQUIRE);
}

/* The ordered counter, all 64 bits. */
static inline uint64_t read_tsc_raw(bool rdtscp)
{
	uint32_t lo, hi;

	/* Ordered like a load: rdtscp waits for earlier loads, lfence keeps
	 * rdtsc from running ahead of the seq load. */
	if (rdtscp)
		__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi) : : "rcx", "memory");
	else
		__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

static inline uint64_t read_tsc(bool rdtscp)
{
	return read_tsc_raw(rdtscp) & INT64_MAX;
}

static inline uint64_t read_kraw(void)
{
	struct timespec k;

	clock_gettime(CLOCK_MONOTONIC_RAW, &k);
	return ts_to_ns_u(&k);
}

static inline uint64_t kernel_coarse_ns(void)
{
	struct timespec k;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &k);
	return ts_to_ns_u(&k);
}

static inline bool seq_retry(const struct tk_page_clock *c, uint32_t seq)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return LD(c->seq) != seq;
}

/* A read ran out of rounds: the block stayed odd (or kept changing). Past
 * valid_until (read without the lock: a torn value only moves the verdict
 * between two fallbacks) the page is stale; before it the writer may be
 * preempted mid-update, so the read yields and goes on, until *deadline
 * (set on the first call, WAIT_MAX_NS ahead), after which it is busy.
 * Returns true with *r set when the read must give up. */
static bool writer_late(const struct tk_page *p, uint64_t *deadline, enum rd_result *r)
{
	uint64_t now = kernel_coarse_ns();

	if (now > LD(p->status.valid_until_ns)) {
		*r = RD_STALE;
		return true;
	}
	if (!*deadline) {
		*deadline = now + WAIT_MAX_NS;
	} else if (now > *deadline) {
		*r = RD_BUSY;
		return true;
	}
	sched_yield();
	return false;
}

/* The state of one read's seqlock loop: its rounds, and its wait for a
 * writer that is mid-update (writer_late). */
struct seq_wait {
	unsigned int spins;
	uint64_t deadline;
	enum rd_result late; /* why the read gave up */
};

/* One more round of a seqlock loop: a pause, or after SPIN_MAX of them
 * writer_late()'s verdict. False when the read must give up. */
static inline bool seq_spin(const struct tk_page *p, struct seq_wait *w)
{
	if (++w->spins <= SPIN_MAX) {
		__builtin_ia32_pause();
		return true;
	}
	w->spins = 0;
	return !writer_late(p, &w->deadline, &w->late);
}

/* An even seq of block c, or false when the read must give up. */
static inline bool seq_begin(const struct tk_page *p, const struct tk_page_clock *c, uint32_t *seq,
			     struct seq_wait *w)
{
	while ((*seq = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE)) & 1)
		if (!seq_spin(p, w))
			return false;
	return true;
}

static inline void read_status(const struct tk_page *p, struct rd_status *rs)
{
	rs->disruption = LD(p->status.disruption);
	rs->maxerror_us = LD(p->status.maxerror_us);
	rs->flags = LD(p->status.flags);
	rs->bound_status = LD(p->status.bound_status);
	rs->drift_ppb = LD(p->status.bound_drift_ppb);
	rs->bound_ns = LD(p->status.bound_ns);
}

/* One high-resolution reading of clk from block blk, as shifted-out ns
 * since basetime[clk].sec; rs (may be NULL) gets the status of the same
 * read. The status is protected by either block's seq: the writer keeps
 * both odd for the whole update. */
static inline enum rd_result read_hres(const struct timekeeper *tk, const struct tk_page *p,
				       int blk, int clk, uint64_t *sec, uint64_t *ns,
				       struct rd_status *rs)
{
	const struct tk_page_clock *c = &p->clock[blk];
	uint64_t cycles, last, mask, valid, bsec, bnsec, delta;
	struct seq_wait w = { 0 };
	uint32_t seq, mult, shift;
	int32_t mode;

	for (;;) {
		if (!seq_begin(p, c, &seq, &w))
			return w.late;
		mode = LD(c->clock_mode);
		if (mode == TK_PAGE_MODE_TSC)
			cycles = read_tsc(tk->rdtscp);
		else if (mode == TK_PAGE_MODE_KCLOCK && !tk->tsc_only)
			cycles = read_kraw();
		else
			return RD_NONE; /* whatever else was read, the kernel is right */
		last = LD(c->cycle_last);
		mask = LD(c->mask);
		valid = LD(c->valid_cycles);
		mult = LD(c->mult);
		shift = LD(c->shift);
		bsec = LD(c->basetime[clk].sec);
		bnsec = LD(c->basetime[clk].nsec);
		if (rs)
			read_status(p, rs);
		if (!seq_retry(c, seq))
			break;
		if (!seq_spin(p, &w))
			return w.late;
	}

	delta = (cycles - last) & mask;
	if (__builtin_expect(delta > valid, 0)) {
		if (!(delta & (3ull << 62)))
			return RD_STALE;
		delta = 0; /* negative motion: stand still at cycle_last */
	}
	if (shift > 63)
		return RD_NONE; /* not a page we wrote: refuse rather than shift by >= 64 */
	*sec = bsec;
	*ns = (delta * mult + bnsec) >> shift;
	if (rs)
		rs->elapsed_ns = (delta * mult) >> shift;
	return RD_OK;
}

static inline enum rd_result read_coarse(const struct timekeeper *tk, const struct tk_page *p,
					 int clk, uint64_t *sec, uint64_t *ns, struct rd_status *rs)
{
	const struct tk_page_clock *c = &p->clock[TK_PAGE_BLOCK_HRES];
	struct seq_wait w = { 0 };
	uint64_t until;
	uint32_t seq;

	for (;;) {
		if (!seq_begin(p, c, &seq, &w))
			return w.late;
		if (tk->tsc_only && LD(c->clock_mode) != TK_PAGE_MODE_TSC)
			return RD_NONE;
		*sec = LD(c->basetime[clk].sec);
		*ns = LD(c->basetime[clk].nsec);
		until = LD(p->status.valid_until_ns);
		if (rs)
			read_status(p, rs);
		if (!seq_retry(c, seq))
			break;
		if (!seq_spin(p, &w))
			return w.late;
	}
	if (rs)
		rs->elapsed_ns = 0; /* the reading is the time of the update itself */
	/* No counter here: liveness from the kernel's coarse clock (vDSO, no
	 * syscall), against the kernel-time valid_until of the status. */
	return kernel_coarse_ns() > until ? RD_STALE : RD_OK;
}

static inline bool clock_supported(clockid_t clock)
{
	switch (clock) {
	case CLOCK_REALTIME:
	case CLOCK_MONOTONIC:
	case CLOCK_MONOTONIC_RAW:
	case CLOCK_REALTIME_COARSE:
	case CLOCK_MONOTONIC_COARSE:
	case CLOCK_BOOTTIME:
	case CLOCK_TAI:
		return true;
	default:
		return false;
	}
}

static int kernel_gettime(clockid_t clock, struct timespec *ts)
{
	int saved = errno, r = 0;

	if (clock_gettime(clock, ts) < 0)
		r = -errno;
	errno = saved;
	return r;
}

/* The split, outside the retry loop: with updates well within a second ns
 * is mostly below 2e9, where one subtraction beats a division. */
static inline __attribute__((always_inline)) void ts_split(uint64_t sec, uint64_t ns,
							   struct timespec *ts)
{
	if (__builtin_expect(ns >= NSEC_PER_SEC_U, 0)) {
		if (__builtin_expect(ns < 2 * NSEC_PER_SEC_U, 1)) {
			ns -= NSEC_PER_SEC_U;
			sec++;
		} else {
			sec += ns / NSEC_PER_SEC_U;
			ns %= NSEC_PER_SEC_U;
		}
	}
	ts->tv_sec = (time_t)sec;
	ts->tv_nsec = (long)ns;
}

static int kind_of(enum rd_result r)
{
	switch (r) {
	case RD_NONE:
		return TK_SOURCE_MODE_NONE;
	case RD_BUSY:
		return TK_SOURCE_BUSY;
	case RD_STALE:
	default:
		return TK_SOURCE_STALE;
	}
}

/* --- attaching --------------------------------------------------------------- */

/* Maps fd as a page after checking it: regular, at least TK_PAGE_SIZE
 * bytes, and a header we know. NULL when it is not one. Async-signal-safe. */
static void *map_page(int fd, struct stat *sb)
{
	void *map;

	if (fstat(fd, sb) < 0 || !S_ISREG(sb->st_mode) || sb->st_size < (off_t)TK_PAGE_SIZE)
		return NULL;
	map = mmap(NULL, TK_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return NULL;
	/* The header never changes after the writer's rename: plain reads. */
	if (tkr_check_header(map, (uint64_t)sb->st_size) < 0) {
		munmap(map, TK_PAGE_SIZE);
		return NULL;
	}
	return map;
}

/* Makes map the handle's page (map NULL: only records path's identity). */
static bool publish_map(struct timekeeper *tk, void *map, const struct stat *path_sb)
{
	unsigned int slot;

	if (map) {
		slot = __atomic_fetch_add(&tk->nmaps, 1, __ATOMIC_RELAXED);
		if (slot >= MAPS_MAX)
			return false;
		tk->maps[slot] = map;
	}
	ST(tk->path_dev, path_sb ? (uint64_t)path_sb->st_dev : 0);
	ST(tk->path_ino, path_sb ? (uint64_t)path_sb->st_ino : 0);
	if (map)
		__atomic_store_n(&tk->page, (const struct tk_page *)map, __ATOMIC_RELEASE);
	return true;
}

/*
 * The fallback path's check for a new page: a daemon that started after
 * tk_open(), or one that restarted (its page.new renamed over the old page).
 * At most once per REATTACH_EVERY_NS per handle (one thread wins the CAS on
 * next_check_ns), only open/fstat/mmap: async-signal-safe, never blocks
 * (O_NONBLOCK: a FIFO at the path does not hang a reader). From the path
 * only: asking the daemon for its memfd would block.
 */
static void reattach(struct timekeeper *tk)
{
	uint64_t now, next;
	struct stat sb;
	void *map;
	int saved, fd;

	if (!tk->path[0] || LD(tk->nmaps) >= MAPS_MAX)
		return;
	now = kernel_coarse_ns();
	next = LD(tk->next_check_ns);
	if (now < next ||
	    !__atomic_compare_exchange_n(&tk->next_check_ns, &next, now + REATTACH_EVERY_NS, false,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	saved = errno;
	fd = open(tk->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0) {
		if (fstat(fd, &sb) == 0 && ((uint64_t)sb.st_dev != LD(tk->path_dev) ||
					    (uint64_t)sb.st_ino != LD(tk->path_ino))) {
			map = map_page(fd, &sb);
			if (map && !publish_map(tk, map, &sb))
				munmap(map, TK_PAGE_SIZE);
		}
		close(fd);
	}
	errno = saved;
}

/* --- reading ----------------------------------------------------------------- */

static enum rd_result read_clock(const struct timekeeper *tk, const struct tk_page *p,
				 clockid_t clock, uint64_t *sec, uint64_t *ns, struct rd_status *rs)
{
	if (clock == CLOCK_MONOTONIC_RAW)
		return read_hres(tk, p, TK_PAGE_BLOCK_RAW, clock, sec, ns, rs);
	if (clock == CLOCK_REALTIME_COARSE || clock == CLOCK_MONOTONIC_COARSE)
		return read_coarse(tk, p, clock, sec, ns, rs);
	return read_hres(tk, p, TK_PAGE_BLOCK_HRES, clock, sec, ns, rs);
}

/* The reading of clock: 0 or -errno; *kind says where it came from, and
 * *from (when from is not NULL) which page (NULL: the kernel answered). */
static int gettime(struct timekeeper *tk, clockid_t clock, struct timespec *ts,
		   struct rd_status *rs, int *kind, const struct tk_page **from)
{
	const struct tk_page *p;
	uint64_t sec, ns;
	enum rd_result r;

	if (from)
		*from = NULL;
	if (!tk || !ts || !clock_supported(clock))
		return -EINVAL;
	p = page_of(tk);
	if (!p) {
		*kind = TK_SOURCE_NO_PAGE;
	} else {
		r = read_clock(tk, p, clock, &sec, &ns, rs);
		if (r == RD_OK) {
			ts_split(sec, ns, ts);
			*kind = TK_SOURCE_PAGE;
			if (from)
				*from = p;
			return 0;
		}
		*kind = kind_of(r);
	}
	reattach(tk);
	return kernel_gettime(clock, ts);
}

/* Everything but the common case, kept out of tk_gettime's frame. */
static __attribute__((noinline, cold)) int gettime_slow(struct timekeeper *tk, clockid_t clock,
							struct timespec *ts,
							const struct tk_page **from)
{
	int kind;

	return gettime(tk, clock, ts, NULL, &kind, from);
}

/* The clocks of block 0 with a high-resolution reading. */
#define HRES_CLOCKS                                                                                \
	(1u << CLOCK_REALTIME | 1u << CLOCK_MONOTONIC | 1u << CLOCK_BOOTTIME | 1u << CLOCK_TAI)

/* Two adjacent 32-bit fields of a block as one 64-bit load (the first in
 * the low half: little-endian x86-64, both within one aligned word, which
 * x86-64 loads at once; page.h allows it). */
typedef uint64_t __attribute__((may_alias)) u64_alias;
#define BLK_OFF(f) offsetof(struct tk_page_clock, f)
_Static_assert(BLK_OFF(seq) == 0 && BLK_OFF(clock_mode) == 4 && BLK_OFF(mult) % 8 == 0 &&
		       BLK_OFF(shift) == BLK_OFF(mult) + 4,
	       "seq/clock_mode and mult/shift pair up in aligned words");
/* Of seq and clock_mode as one word: the odd bit of seq and the mode. */
#define SEQ_MODE_CHECK 0xffffffff00000001ull
#define SEQ_MODE_TSC ((uint64_t)TK_PAGE_MODE_TSC << 32)

/* Which ordered TSC read gettime_fast() and gettime_flat() take: the
 * handle's (tk->rdtscp), or one fixed at build time (the IFUNC builds of
 * tk_gettime). */
#define TSC_ASK (-1)
#define TSC_LFENCE 0
#define TSC_RDTSCP 1

/* What gettime_flat() reads without a handle or without a page: a page of
 * zeros, in mode NONE, so the read takes the slow path, which sees the same
 * and says why. Never written. */
static struct tk_page no_page;
static const struct tk_page *const no_page_ptr = &no_page;

/* Keeps the compiler from turning a computed value back into a branch or
 * folding a constant into an instruction that costs more under emulation
 * (bt, btr): gettime_flat() has one branch before the counter read and one
 * after it. */
#define OPAQUE(x) __asm__("" : "+r"(x))

/*
 * The common case, as one leaf function the compiler keeps in registers: a
 * high-resolution clock of block 0 in TSC mode, read once like read_hres()
 * but without its out-parameters. Any other case (no page, another clock or
 * mode, an odd or changed seq, a delta beyond valid_cycles, a bad shift)
 * goes to gettime_slow(), which reads the page again from the start with
 * the bounded retries. Inlined into tk_gettime() (a build per ordered TSC
 * read: tsc) and tkr_gettime(), which differ only in whether the caller
 * wants to know the page (*from; from NULL in tk_gettime(), so its code is
 * the same as without it). Its branches are predicted on a real CPU, where
 * what costs is the chain of dependent instructions before and after the
 * ordered counter read; gettime_flat() below is the same read for an
 * emulated CPU.
 */
static inline __attribute__((always_inline)) int gettime_fast(struct timekeeper *tk,
							      clockid_t clock, struct timespec *ts,
							      const struct tk_page **from, int tsc)
{
	const struct tk_page *p;
	const struct tk_page_clock *c;
	const struct tk_page_basetime *b;
	uint64_t cycles, delta, sec, ns;
	uint32_t seq, mult, shift;

	if (__builtin_expect(!tk || !ts || (uint32_t)clock > 31 || !(HRES_CLOCKS >> clock & 1), 0))
		return gettime_slow(tk, clock, ts, from);
	p = page_of(tk);
	if (__builtin_expect(!p, 0))
		return gettime_slow(tk, clock, ts, from);
	c = &p->clock[TK_PAGE_BLOCK_HRES];
	b = &c->basetime[clock];
	seq = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
	if (__builtin_expect(seq & 1, 0))
		goto slow;
	if (__builtin_expect(LD(c->clock_mode) != TK_PAGE_MODE_TSC, 0))
		goto slow;
	/* Masking with mask (INT64_MAX in TSC mode) after the subtraction is
	 * the same as masking the counter first. */
	cycles = read_tsc_raw(tsc == TSC_ASK ? tk->rdtscp : tsc == TSC_RDTSCP);
	delta = (cycles - LD(c->cycle_last)) & LD(c->mask);
	if (__builtin_expect(delta > LD(c->valid_cycles), 0))
		goto slow;
	mult = LD(c->mult);
	shift = LD(c->shift);
	sec = LD(b->sec);
	ns = LD(b->nsec);
	if (__builtin_expect(seq_retry(c, seq), 0))
		goto slow;
	if (__builtin_expect(shift > 63, 0))
		goto slow;
	ts_split(sec, (delta * mult + ns) >> shift, ts);
	if (from)
		*from = p;
	return 0;
slow:
	return gettime_slow(tk, clock, ts, from);
}

/*
 * gettime_fast() for an emulated CPU (QEMU's TCG), where a read costs its
 * loads, branches and instructions: every load goes through the emulated
 * TLB, every branch ends a translated block, bt-style instructions call a
 * helper. Same checks, same order, fewer of all three: seq and clock_mode
 * come in one load and so do mult and shift, the TSC mode's mask is the
 * constant the page promises for it (INT64_MAX), a NULL handle or page
 * reads no_page instead of branching, and the handle, the clock id and ts
 * are checked in the one branch on seq's odd bit and the mode. That branch
 * comes before the counter read: it stays a seqlock read, and takes no
 * counter in another mode. After it every check (delta beyond
 * valid_cycles, shift, seq changed) is gathered in one word and tested
 * once, with the seconds carry taken without a branch. On a real CPU the
 * longer chain of dependent instructions before and after the ordered
 * counter read makes it slower than gettime_fast(): tk_gettime() takes it
 * only under TCG (gettime_resolve).
 */
static inline __attribute__((always_inline)) int
gettime_flat(struct timekeeper *tk, clockid_t clock, struct timespec *ts, int tsc)
{
	const struct tk_page *p;
	const struct tk_page_clock *c;
	const struct tk_page_basetime *b;
	uint64_t chk, cycles, delta, mask = INT64_MAX, ms, shift, sec, ns, carry, big;
	uint32_t cl = (uint32_t)clock, bad;

	/* No branch before the seq check: a NULL handle or a missing page
	 * reads no_page, and the clock id and ts are checked together with
	 * seq and the mode. */
	p = __atomic_load_n(tk ? &tk->page : &no_page_ptr, __ATOMIC_ACQUIRE);
	p = p ? p : &no_page;
	OPAQUE(p);
	c = &p->clock[TK_PAGE_BLOCK_HRES];
	/* seq (acquire: the seqlock's begin) and clock_mode in one load. */
	chk = __atomic_load_n((const u64_alias *)&c->seq, __ATOMIC_ACQUIRE);
	bad = (((HRES_CLOCKS >> (cl & 31)) & 1) ^ 1) | cl >> 5 | !ts;
	bad |= (chk & SEQ_MODE_CHECK) != SEQ_MODE_TSC;
	OPAQUE(bad);
	if (__builtin_expect(bad, 0))
		return gettime_slow(tk, clock, ts, NULL);
	b = &c->basetime[cl];
	OPAQUE(b);
	chk <<= 32; /* seq, in the high half: the checks below set low bits */
	cycles = read_tsc_raw(tsc == TSC_ASK ? tk->rdtscp : tsc == TSC_RDTSCP);
	/* Masking after the subtraction is the same as masking the counter. */
	OPAQUE(mask);
	delta = (cycles - LD(c->cycle_last)) & mask;
	chk |= delta > LD(c->valid_cycles);
	OPAQUE(chk);
	ms = __atomic_load_n((const u64_alias *)&c->mult, __ATOMIC_RELAXED);
	shift = ms >> 32;
	chk |= ms >> 38; /* shift > 63 */
	ns = (delta * (uint32_t)ms + LD(b->nsec)) >> (shift & 63);
	sec = LD(b->sec);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	chk ^= (uint64_t)LD(c->seq) << 32; /* 0: same seq and every check passed */
	OPAQUE(chk);
	/* The split (ts_split) without a branch for the common carry. */
	carry = ns >= NSEC_PER_SEC_U;
	OPAQUE(carry);
	sec += carry;
	ns -= NSEC_PER_SEC_U & -carry;
	big = ns >= NSEC_PER_SEC_U;
	OPAQUE(big);
	if (__builtin_expect(chk | big, 0)) {
		if (chk)
			goto slow;
		sec += ns / NSEC_PER_SEC_U;
		ns %= NSEC_PER_SEC_U;
	}
	ts->tv_sec = (time_t)sec;
	ts->tv_nsec = (long)ns;
	return 0;
slow:
	/* clock from b rather than kept in a register of its own. */
	return gettime_slow(tk, (clockid_t)(b - c->basetime), ts, NULL);
}

/* tk_gettime() in four builds, one per ordered TSC read and per kind of
 * CPU, of which the dynamic loader picks one once (an IFUNC, as the C
 * library picks its string functions): the read neither loads the handle's
 * rdtscp flag nor branches on it. */
static int gettime_lfence(struct timekeeper *tk, clockid_t clock, struct timespec *ts)
{
	return gettime_fast(tk, clock, ts, NULL, TSC_LFENCE);
}

static int gettime_rdtscp(struct timekeeper *tk, clockid_t clock, struct timespec *ts)
{
	return gettime_fast(tk, clock, ts, NULL, TSC_RDTSCP);
}

static int gettime_flat_lfence(struct timekeeper *tk, clockid_t clock, struct timespec *ts)
{
	return gettime_flat(tk, clock, ts, TSC_LFENCE);
}

static int gettime_flat_rdtscp(struct timekeeper *tk, clockid_t clock, struct timespec *ts)
{
	return gettime_flat(tk, clock, ts, TSC_RDTSCP);
}

int tkr_gettime_flat(struct timekeeper *tk, clockid_t clock, struct timespec *ts)
{
	return gettime_flat(tk, clock, ts, TSC_ASK);
}

typedef int gettime_fn(struct timekeeper *, clockid_t, struct timespec *);

/* The resolver runs while the loader relocates the library, before any
 * sanitizer's runtime is set up, so nothing in it may be instrumented: not
 * even the function entry ThreadSanitizer records, which no_sanitize keeps
 * and clang's disable_sanitizer_instrumentation (clang 14 on) drops. */
#if defined(__has_attribute) && __has_attribute(disable_sanitizer_instrumentation)
#define RESOLVER_ATTR __attribute__((used, disable_sanitizer_instrumentation))
#else
#define RESOLVER_ATTR __attribute__((used, no_sanitize("address", "undefined", "thread")))
#endif

/* Runs while the loader relocates the library, before any constructor (the
 * sanitizers' too): no calls, no instrumented memory. RDTSCP as for
 * tk->rdtscp (CPUID 0x80000001 EDX bit 27); QEMU's TCG says itself in the
 * hypervisor leaf 0x40000000 ("TCGTCGTCGTCG"; KVM and other hypervisors run
 * the guest's code on the real CPU and say their own names). */
RESOLVER_ATTR static gettime_fn *gettime_resolve(void)
{
	unsigned int a, b, c, d;
	bool rdtscp = false, tcg = false;

	__cpuid(0x80000000, a, b, c, d);
	if (a >= 0x80000001) {
		__cpuid(0x80000001, a, b, c, d);
		rdtscp = d & (1u << 27);
	}
	__cpuid(1, a, b, c, d);
	if (c & (1u << 31)) { /* a hypervisor */
		__cpuid(0x40000000, a, b, c, d);
		tcg = b == 0x54474354 && c == 0x43544743 && d == 0x47435447; /* "TCGTCGTCGTCG" */
	}
	if (tcg)
		return rdtscp ? gettime_flat_rdtscp : gettime_flat_lfence;
	return rdtscp ? gettime_rdtscp : gettime_lfence;
}

TK_EXPORT int tk_gettime(struct timekeeper *tk, clockid_t clock, struct timespec *ts)
	__attribute__((ifunc("gettime_resolve")));

int tkr_gettime(struct timekeeper *tk, clockid_t clock, struct timespec *ts,
		const struct tk_page **from)
{
	return gettime_fast(tk, clock, ts, from, TSC_ASK);
}

void tkr_set_tsc_only(struct timekeeper *tk)
{
	tk->tsc_only = true;
}

/* us of an old-style maxerror as ns; nonsense (negative, huge) is no bound. */
static int64_t us_to_ns(int64_t us)
{
	return us < 0 || us > INT64_MAX / 1000 ? INT64_MAX : us * 1000;
}

/* b + elapsed_ns * ppb / 1e9 (rounded up), saturating at INT64_MAX. */
int64_t tkr_bound_grow(int64_t b, uint64_t elapsed_ns, uint32_t ppb)
{
	unsigned __int128 g;

	if (b < 0 || b == INT64_MAX)
		return INT64_MAX; /* a negative bound is not one */
	g = ((unsigned __int128)elapsed_ns * ppb + (NSEC_PER_SEC_U - 1)) / NSEC_PER_SEC_U;
	if (g >= (unsigned __int128)(INT64_MAX - b))
		return INT64_MAX;
	return b + (int64_t)g;
}

/* The page's bound and status: the bound fields when the page has them
 * (TK_PAGE_C_BOUND), else the old maxerror and SYNC flag. */
static void page_bound(const struct tk_page *p, const struct rd_status *rs, int64_t *bound,
		       int *status)
{
	if (LD(p->hdr.compat) & TK_PAGE_C_BOUND) {
		*bound = tkr_bound_grow(rs->bound_ns, rs->elapsed_ns, rs->drift_ppb);
		*status = rs->bound_status <= TK_PAGE_BS_DISRUPTED ? (int)rs->bound_status
								   : TK_CLOCK_UNKNOWN;
	} else {
		*bound = us_to_ns(rs->maxerror_us);
		*status = (rs->flags & TK_PAGE_S_SYNC) ? TK_CLOCK_SYNCHRONIZED : TK_CLOCK_UNKNOWN;
	}
}

/* The kernel's: adjtimex maxerror, UNKNOWN when unsynchronized (STA_UNSYNC
 * or TIME_ERROR; the bound is still the kernel's maxerror, 16 s once it has
 * grown out), no bound when adjtimex fails. */
static void kernel_bound(int64_t *bound, int *status)
{
	struct timex tx;
	int saved = errno, state;

	memset(&tx, 0, sizeof(tx));
	state = adjtimex(&tx);
	errno = saved;
	if (state < 0) {
		*bound = INT64_MAX;
		*status = TK_CLOCK_UNKNOWN;
		return;
	}
	*bound = us_to_ns(tx.maxerror);
	*status = state == TIME_ERROR || (tx.status & STA_UNSYNC) ? TK_CLOCK_UNKNOWN
								  : TK_CLOCK_SYNCHRONIZED;
}

#define TIME_T_MAX ((time_t)INT64_MAX)
#define TIME_T_MIN ((time_t)INT64_MIN)

/* t + sign * ns (ns >= 0), saturating at the ends of time_t. */
void tkr_ts_offset(const struct timespec *t, int64_t ns, int sign, struct timespec *out)
{
	int64_t s = ns / NSEC_PER_SEC, n = ns % NSEC_PER_SEC;
	int64_t sec, nsec;
	bool ovf;

	if (sign < 0) {
		ovf = __builtin_sub_overflow((int64_t)t->tv_sec, s, &sec);
		nsec = t->tv_nsec - n;
		if (!ovf && nsec < 0) {
			nsec += NSEC_PER_SEC;
			ovf = __builtin_sub_overflow(sec, 1, &sec);
		}
		if (ovf) {
			out->tv_sec = TIME_T_MIN;
			out->tv_nsec = 0;
			return;
		}
	} else {
		ovf = __builtin_add_overflow((int64_t)t->tv_sec, s, &sec);
		nsec = t->tv_nsec + n;
		if (!ovf && nsec >= NSEC_PER_SEC) {
			nsec -= NSEC_PER_SEC;
			ovf = __builtin_add_overflow(sec, 1, &sec);
		}
		if (ovf) {
			out->tv_sec = TIME_T_MAX;
			out->tv_nsec = (long)NSEC_PER_SEC - 1;
			return;
		}
	}
	out->tv_sec = (time_t)sec;
	out->tv_nsec = (long)nsec;
}

static void set_interval(struct tk_reading *r)
{
	if (r->bound_ns == INT64_MAX) {
		r->earliest.tv_sec = TIME_T_MIN;
		r->earliest.tv_nsec = 0;
		r->latest.tv_sec = TIME_T_MAX;
		r->latest.tv_nsec = (long)NSEC_PER_SEC - 1;
		return;
	}
	tkr_ts_offset(&r->time, r->bound_ns, -1, &r->earliest);
	tkr_ts_offset(&r->time, r->bound_ns, 1, &r->latest);
}

TK_EXPORT int tk_read(struct timekeeper *tk, clockid_t clock, struct tk_reading *out)
{
	struct rd_status rs;
	struct tk_reading r;
	int err, kind = TK_SOURCE_NO_PAGE;

	if (!out)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	memset(&rs, 0, sizeof(rs));
	err = gettime(tk, clock, &r.time, &rs, &kind, NULL);
	if (err < 0)
		return err;
	r.source_kind = kind;
	if (kind == TK_SOURCE_PAGE) {
		page_bound(page_of(tk), &rs, &r.bound_ns, &r.status);
		r.disruption = rs.disruption;
	} else {
		kernel_bound(&r.bound_ns, &r.status);
	}
	set_interval(&r);
	*out = r;
	return 0;
}

TK_EXPORT int tk_gettime_bounds(struct timekeeper *tk, clockid_t clock, struct timespec *earliest,
				struct timespec *latest)
{
	struct tk_reading r;
	int err;

	if (!earliest || !latest)
		return -EINVAL;
	err = tk_read(tk, clock, &r);
	if (err < 0)
		return err;
	*earliest = r.earliest;
	*latest = r.latest;
	return 0;
}

int tkr_snapshot(const struct tk_page *p, int blk, struct tk_page_clock *out,
		 struct tk_page_status *st)
{
	const struct tk_page_clock *c = &p->clock[blk];
	uint64_t w[TK_PAGE_SOURCE_LEN / 8];
	struct seq_wait sw = { 0 };
	uint32_t seq;

	for (;;) {
		if (!seq_begin(p, c, &seq, &sw))
			return -EBUSY;
		out->seq = seq;
		out->clock_mode = LD(c->clock_mode);
		out->cycle_last = LD(c->cycle_last);
		out->max_cycles = LD(c->max_cycles);
		out->mask = LD(c->mask);
		out->mult = LD(c->mult);
		out->shift = LD(c->shift);
		for (int i = 0; i < TK_PAGE_BASES; i++) {
			out->basetime[i].sec = LD(c->basetime[i].sec);
			out->basetime[i].nsec = LD(c->basetime[i].nsec);
		}
		out->valid_cycles = LD(c->valid_cycles);
		out->check = LD(c->check);
		out->reserved[0] = 0;
		if (st && blk == TK_PAGE_BLOCK_HRES) {
			memset(st, 0, sizeof(*st));
			st->disruption = LD(p->status.disruption);
			st->maxerror_us = LD(p->status.maxerror_us);
			st->esterror_us = LD(p->status.esterror_us);
			st->flags = LD(p->status.flags);
			st->tai_offset = LD(p->status.tai_offset);
			st->last_update_ns = LD(p->status.last_update_ns);
			st->valid_until_ns = LD(p->status.valid_until_ns);
			for (size_t i = 0; i < TK_PAGE_SOURCE_LEN / 8; i++)
				w[i] = LD(((const uint64_t *)(const void *)p->status.source)[i]);
			memcpy(st->source, w, sizeof(w));
			st->source[TK_PAGE_SOURCE_LEN - 1] = '\0';
			st->bound_status = LD(p->status.bound_status);
			st->bound_drift_ppb = LD(p->status.bound_drift_ppb);
			st->bound_ns = LD(p->status.bound_ns);
		}
		if (!seq_retry(c, seq))
			return 0;
		if (!seq_spin(p, &sw))
			return -EBUSY;
	}
}

TK_EXPORT int tk_status(struct timekeeper *tk, struct tk_status *st)
{
	const struct tk_page *p;
	struct tk_page_clock c;
	struct tk_page_status ps;
	struct rd_status rs;
	struct timespec now;
	int saved = errno;
	pid_t pid;
	int r;

	if (!tk || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	p = page_of(tk);
	if (!p) {
		reattach(tk);
		st->stale = 1;
		st->source_kind = TK_SOURCE_NO_PAGE;
		st->bound_ns = INT64_MAX;
		errno = saved;
		return 0;
	}
	r = tkr_snapshot(p, TK_PAGE_BLOCK_HRES, &c, &ps);
	pid = LD(p->hdr.writer_pid);
	st->writer_pid = pid;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (r < 0) {
		/* Mid-update past the spin bound: only valid_until, unlocked. */
		st->valid_until_ns = LD(p->status.valid_until_ns);
		st->bound_ns = INT64_MAX;
	} else {
		memset(&rs, 0, sizeof(rs));
		rs.maxerror_us = ps.maxerror_us;
		rs.flags = ps.flags;
		rs.bound_status = ps.bound_status;
		rs.drift_ppb = ps.bound_drift_ppb;
		rs.bound_ns = ps.bound_ns;
		page_bound(p, &rs, &st->bound_ns, &st->clock_status);
		if (LD(p->hdr.compat) & TK_PAGE_C_BOUND)
			st->bound_drift_ppb = ps.bound_drift_ppb;
		st->synchronized = !!(ps.flags & TK_PAGE_S_SYNC);
		st->clock_mode = c.clock_mode;
		st->leap = (ps.flags & TK_PAGE_S_LEAP_INS)   ? 1
			   : (ps.flags & TK_PAGE_S_LEAP_DEL) ? -1
							     : 0;
		st->tai_offset = ps.tai_offset;
		st->maxerror_ns = us_to_ns(ps.maxerror_us);
		st->esterror_ns = us_to_ns(ps.esterror_us);
		st->disruption = ps.disruption;
		st->last_update_ns = ps.last_update_ns;
		st->valid_until_ns = ps.valid_until_ns;
		memcpy(st->source, ps.source, sizeof(st->source));
	}

	if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH)
		st->source_kind = TK_SOURCE_GONE;
	else if (ts_to_ns_u(&now) > st->valid_until_ns)
		st->source_kind = TK_SOURCE_STALE;
	else if (r < 0)
		st->source_kind = TK_SOURCE_BUSY;
	else if (c.clock_mode == TK_PAGE_MODE_NONE)
		st->source_kind = TK_SOURCE_MODE_NONE;
	else
		st->source_kind = TK_SOURCE_PAGE;
	st->stale = st->source_kind != TK_SOURCE_PAGE;
	if (st->stale)
		reattach(tk);
	errno = saved;
	return 0;
}

int tkr_check_header(const struct tk_page_header *h, uint64_t file_size)
{
	if (file_size < TK_PAGE_SIZE)
		return -EPROTO;
	if (memcmp(h->magic, TK_PAGE_MAGIC, TK_PAGE_MAGIC_LEN) != 0)
		return -EPROTO;
	if (h->size != TK_PAGE_SIZE || h->version != TK_PAGE_VERSION ||
	    h->header_size != TK_PAGE_HEADER_SIZE)
		return -EPROTO;
	if (h->features & ~(uint64_t)TK_PAGE_FEATURES_V1)
		return -EPROTO;
	return 0;
}

static bool cpu_has_rdtscp(void)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid(0x80000001, &a, &b, &c, &d))
		return false;
	return d & (1u << 27);
}

const char *tkr_runtime_dir(bool secure)
{
	/* secure_getenv: a setuid or file-capability program must not let
	 * its caller point it at a page (and control socket) of the caller's
	 * making. The flag lets the unit test take the AT_SECURE branch. */
	const char *dir = secure ? NULL : secure_getenv("TIMEKEEPER_RUNTIME_DIR");

	return dir && *dir ? dir : DEFAULT_DIR;
}

int tkr_page_path(char *buf, size_t cap, bool secure)
{
	const char *dir = tkr_runtime_dir(secure);
	size_t n = strlen(dir);

	if (n + sizeof("/page") > cap)
		return -ENAMETOOLONG;
	memcpy(buf, dir, n);
	memcpy(buf + n, "/page", sizeof("/page"));
	return 0;
}

/*
 * The daemon's memfd of the page, asked for over the control socket beside
 * the page file (TK_CTL_PAGE_FD): -1 when there is no daemon, it does not
 * answer within SHARE_WAIT_MS, it is not root, us or the page file's owner,
 * or the descriptor is not a sealed page that cannot shrink.
 */
static int shared_page_fd(const char *page_path)
{
	_Alignas(8) unsigned char rep[CTLW_REPLY_MIN];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct tk_ctl_hdr h;
	struct tk_ctl_result res;
	struct stat sb;
	const char *slash = strrchr(page_path, '/');
	size_t dl = slash ? (size_t)(slash - page_path) + 1 : 0;
	uint32_t uid;
	ssize_t n;
	int s, fd = -1, seals;

	if (dl + sizeof(TK_CTL_SOCKET_NAME) > sizeof(path))
		return -1;
	memcpy(path, page_path, dl);
	memcpy(path + dl, TK_CTL_SOCKET_NAME, sizeof(TK_CTL_SOCKET_NAME));
	s = ctlw_connect(path, SOCK_NONBLOCK);
	if (s < 0)
		return -1;
	if (ctlw_peer_cred(s, &uid, NULL, NULL) < 0)
		goto out;
	if (uid != 0 && uid != geteuid() && (stat(page_path, &sb) < 0 || sb.st_uid != uid))
		goto out;
	if (ctlw_send(s, TK_CTL_PAGE_FD, 0, 1, NULL, 0) < 0)
		goto out;
	if (ctlw_wait(s, SHARE_WAIT_MS) != 1)
		goto out;
	n = ctlw_recv(s, rep, sizeof(rep), 0, &fd);
	if (fd < 0)
		goto out;
	seals = fcntl(fd, F_GET_SEALS);
	if (n != (ssize_t)sizeof(rep) || ctlw_check_hdr(rep, (size_t)n, &h, NULL, 0) < 0 ||
	    ctlw_check_reply(rep, (size_t)n, &h, TK_CTL_PAGE_FD, 1, &res, NULL, 0) < 0 ||
	    res.status != 0 || seals < 0 || !(seals & F_SEAL_SHRINK)) {
		close(fd);
		fd = -1;
	}
out:
	close(s);
	return fd;
}

/* Maps the daemon's memfd; path_sb (when the page file at path is the same
 * daemon's) is what re-attach compares against. NULL when unusable. */
static void *map_shared(const char *path, int fd, struct stat *path_sb, bool *same)
{
	struct tk_page_header h;
	struct stat sb;
	void *map = map_page(fd, &sb);
	int pf;

	*same = false;
	if (!map)
		return NULL;
	pf = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (pf >= 0) {
		if (fstat(pf, path_sb) == 0 && S_ISREG(path_sb->st_mode) &&
		    pread(pf, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
		    h.writer_pid == ((const struct tk_page_header *)map)->writer_pid)
			*same = true;
		close(pf);
	}
	return map;
}

TK_EXPORT int tk_open(const char *path, struct timekeeper **out)
{
	struct timekeeper *tk;
	struct stat sb, psb;
	char buf[PATH_MAX];
	void *map;
	bool same;
	int fd, r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!path) {
		r = tkr_page_path(buf, sizeof(buf), false);
		if (r < 0)
			return r;
		path = buf;
	}
	tk = calloc(1, sizeof(*tk));
	if (!tk)
		return -ENOMEM;
	tk->rdtscp = cpu_has_rdtscp();
	if (strlen(path) < sizeof(tk->path))
		strcpy(tk->path, path);

	fd = shared_page_fd(path);
	if (fd >= 0) {
		map = map_shared(path, fd, &psb, &same);
		close(fd);
		if (map) {
			publish_map(tk, map, same ? &psb : NULL);
			*out = tk;
			return 0;
		}
	}

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT) {
			/* documented: a handle that reads the kernel until a page appears */
			*out = tk;
			return 0;
		}
		free(tk);
		return r;
	}
	if (fstat(fd, &sb) < 0) {
		r = -errno;
		goto fail;
	}
	map = map_page(fd, &sb);
	if (!map) {
		r = -EPROTO; /* not a regular file of a page's size, or not a page */
		goto fail;
	}
	close(fd);
	publish_map(tk, map, &sb);
	*out = tk;
	return 0;
fail:
	close(fd);
	free(tk);
	return r;
}

TK_EXPORT void tk_close(struct timekeeper *tk)
{
	unsigned int n;

	if (!tk)
		return;
	n = LD(tk->nmaps);
	for (unsigned int i = 0; i < n && i < MAPS_MAX; i++)
		if (tk->maps[i])
			munmap(tk->maps[i], TK_PAGE_SIZE);
	free(tk);
}
