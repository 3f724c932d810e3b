/*
 * libtimekeeper: the page reader (timekeeper.h, timekeeper-page(7)).
 *
 * The read path is the vDSO's do_hres()/do_coarse() (facts §8.3) over
 * timekeeperd's page: acquire-load the block's seq (spin while odd), copy
 * the fields with relaxed loads and take the counter, acquire fence,
 * re-check seq; every computation, including the seconds/nanoseconds split,
 * happens after the loop on the copy. The TSC path makes no system call; the
 * KCLOCK path takes CLOCK_MONOTONIC_RAW from the vDSO. Nothing on the read
 * path locks, allocates or writes shared state, so it is thread-safe and
 * async-signal-safe. Anything that makes the page unusable (missing, stale,
 * mode NONE) sends the reading to the kernel's clock_gettime().
 */
#include "config.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <unistd.h>

#include "timekeeper.h"
#include "timekeeper/page.h"
#include "lib/tkread.h"

#define TK_EXPORT __attribute__((visibility("default")))
#define NSEC_PER_SEC 1000000000ull
#define DEFAULT_PAGE "/run/timekeeper/page"

#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

struct timekeeper {
	const struct tk_page_clock *hres; /* &page->clock[TK_PAGE_BLOCK_HRES], or NULL */
	bool rdtscp;
	const struct tk_page *page; /* NULL: no page, everything falls back */
};

/* The result of one page read, before the split. */
enum rd_result { RD_OK, RD_NONE, RD_STALE };

/* The ordered counter, all 64 bits. */
static inline uint64_t read_tsc_raw(bool rdtscp)
{
	uint32_t lo, hi;

	/* Ordered like a load (facts §2.2): rdtscp waits for earlier loads,
	 * lfence keeps rdtsc from running ahead of the seq load. */
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
	return (uint64_t)k.tv_sec * NSEC_PER_SEC + (uint64_t)k.tv_nsec;
}

static inline uint32_t seq_begin(const struct tk_page_clock *c)
{
	uint32_t seq;

	while ((seq = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE)) & 1)
		__builtin_ia32_pause();
	return seq;
}

static inline bool seq_retry(const struct tk_page_clock *c, uint32_t seq)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return LD(c->seq) != seq;
}

/* One high-resolution reading of clk from block blk, as shifted-out ns
 * since basetime[clk].sec; maxerr (block 0 only) gets the status maxerror. */
static inline enum rd_result read_hres(const struct timekeeper *tk, int blk, int clk,
				       uint64_t *sec, uint64_t *ns, int64_t *maxerr_us)
{
	const struct tk_page_clock *c = &tk->page->clock[blk];
	uint64_t cycles, last, mask, valid, bsec, bnsec, delta;
	uint32_t seq, mult, shift;
	int32_t mode;

	do {
		seq = seq_begin(c);
		mode = LD(c->clock_mode);
		if (mode == TK_PAGE_MODE_TSC)
			cycles = read_tsc(tk->rdtscp);
		else if (mode == TK_PAGE_MODE_KCLOCK)
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
		if (maxerr_us)
			*maxerr_us = LD(tk->page->status.maxerror_us);
	} while (seq_retry(c, seq));

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
	return RD_OK;
}

static inline bool kernel_mono_past(uint64_t until)
{
	struct timespec k;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &k);
	return (uint64_t)k.tv_sec * NSEC_PER_SEC + (uint64_t)k.tv_nsec > until;
}

static inline enum rd_result read_coarse(const struct timekeeper *tk, int clk, uint64_t *sec,
					 uint64_t *ns, int64_t *maxerr_us)
{
	const struct tk_page_clock *c = &tk->page->clock[TK_PAGE_BLOCK_HRES];
	uint64_t until;
	uint32_t seq;

	do {
		seq = seq_begin(c);
		*sec = LD(c->basetime[clk].sec);
		*ns = LD(c->basetime[clk].nsec);
		until = LD(tk->page->status.valid_until_ns);
		if (maxerr_us)
			*maxerr_us = LD(tk->page->status.maxerror_us);
	} while (seq_retry(c, seq));
	/* No counter here: liveness from the kernel's coarse clock (vDSO, no
	 * syscall), against the kernel-time valid_until of the status. */
	return kernel_mono_past(until) ? RD_STALE : RD_OK;
}

static int64_t read_maxerror(const struct timekeeper *tk)
{
	const struct tk_page_clock *c = &tk->page->clock[TK_PAGE_BLOCK_HRES];
	int64_t m;
	uint32_t seq;

	do {
		seq = seq_begin(c);
		m = LD(tk->page->status.maxerror_us);
	} while (seq_retry(c, seq));
	return m;
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

/* The split, outside the retry loop (facts §8.3): with updates well within
 * a second ns is mostly below 2e9, where one subtraction beats a division. */
static inline __attribute__((always_inline)) void ts_split(uint64_t sec, uint64_t ns,
							   struct timespec *ts)
{
	if (__builtin_expect(ns >= NSEC_PER_SEC, 0)) {
		if (__builtin_expect(ns < 2 * NSEC_PER_SEC, 1)) {
			ns -= NSEC_PER_SEC;
			sec++;
		} else {
			sec += ns / NSEC_PER_SEC;
			ns %= NSEC_PER_SEC;
		}
	}
	ts->tv_sec = (time_t)sec;
	ts->tv_nsec = (long)ns;
}

/* The reading of clock; maxerr_us is filled on the page path only. */
static inline __attribute__((always_inline)) int gettime(struct timekeeper *tk, clockid_t clock, struct timespec *ts,
			  int64_t *maxerr_us, bool *from_page)
{
	uint64_t sec, ns;
	enum rd_result r;

	*from_page = false;
	if (!tk || !ts || !clock_supported(clock))
		return -EINVAL;
	if (!tk->page)
		return kernel_gettime(clock, ts);
	if (clock == CLOCK_MONOTONIC_RAW)
		r = read_hres(tk, TK_PAGE_BLOCK_RAW, clock, &sec, &ns, NULL);
	else if (clock == CLOCK_REALTIME_COARSE || clock == CLOCK_MONOTONIC_COARSE)
		r = read_coarse(tk, clock, &sec, &ns, maxerr_us);
	else
		r = read_hres(tk, TK_PAGE_BLOCK_HRES, clock, &sec, &ns, maxerr_us);
	if (r != RD_OK)
		return kernel_gettime(clock, ts);
	ts_split(sec, ns, ts);
	*from_page = true;
	return 0;
}

/* Everything but the common case, kept out of tk_gettime's frame. */
static __attribute__((noinline, cold)) int gettime_slow(struct timekeeper *tk, clockid_t clock,
							 struct timespec *ts)
{
	bool from_page;

	return gettime(tk, clock, ts, NULL, &from_page);
}

/* The clocks of block 0 with a high-resolution reading. */
#define HRES_CLOCKS                                                                          \
	(1u << CLOCK_REALTIME | 1u << CLOCK_MONOTONIC | 1u << CLOCK_BOOTTIME | 1u << CLOCK_TAI)

/*
 * The common case, as one leaf function the compiler keeps in registers: a
 * high-resolution clock of block 0 in TSC mode, read like read_hres() but
 * without its out-parameters. Any other case (no page, another clock or
 * mode, a delta beyond valid_cycles, a bad shift) goes to gettime_slow(),
 * which reads the page again from the start.
 */
TK_EXPORT int tk_gettime(struct timekeeper *tk, clockid_t clock, struct timespec *ts)
{
	const struct tk_page_clock *c;
	const struct tk_page_basetime *b;
	uint64_t cycles, delta, sec, ns;
	uint32_t seq, mult, shift;

	if (__builtin_expect(!tk || !ts || (uint32_t)clock > 31 || !(HRES_CLOCKS >> clock & 1), 0))
		return gettime_slow(tk, clock, ts);
	c = tk->hres;
	if (__builtin_expect(!c, 0))
		return gettime_slow(tk, clock, ts);
	b = &c->basetime[clock];
	do {
		seq = seq_begin(c);
		if (__builtin_expect(LD(c->clock_mode) != TK_PAGE_MODE_TSC, 0))
			goto slow;
		/* Masking with mask (INT64_MAX in TSC mode) after the
		 * subtraction is the same as masking the counter first. */
		cycles = read_tsc_raw(tk->rdtscp);
		delta = (cycles - LD(c->cycle_last)) & LD(c->mask);
		if (__builtin_expect(delta > LD(c->valid_cycles), 0))
			goto slow;
		mult = LD(c->mult);
		shift = LD(c->shift);
		sec = LD(b->sec);
		ns = LD(b->nsec);
	} while (seq_retry(c, seq));
	if (__builtin_expect(shift > 63, 0))
		goto slow;
	ts_split(sec, (delta * mult + ns) >> shift, ts);
	return 0;
slow:
	return gettime_slow(tk, clock, ts);
}

static void ts_add_ns(struct timespec *t, const struct timespec *base, int64_t ns)
{
	int64_t s = ns / (int64_t)NSEC_PER_SEC, n = base->tv_nsec + ns % (int64_t)NSEC_PER_SEC;

	if (n < 0) {
		n += NSEC_PER_SEC;
		s--;
	} else if (n >= (int64_t)NSEC_PER_SEC) {
		n -= NSEC_PER_SEC;
		s++;
	}
	t->tv_sec = base->tv_sec + s;
	t->tv_nsec = n;
}

TK_EXPORT int tk_gettime_bounds(struct timekeeper *tk, clockid_t clock, struct timespec *earliest,
				struct timespec *latest)
{
	struct timespec ts;
	int64_t maxerr_us = 0;
	bool from_page;
	int r;

	if (!earliest || !latest)
		return -EINVAL;
	r = gettime(tk, clock, &ts, &maxerr_us, &from_page);
	if (r < 0)
		return r;
	if (from_page && clock == CLOCK_MONOTONIC_RAW) {
		maxerr_us = read_maxerror(tk);
	} else if (!from_page) {
		struct timex tx;
		int saved = errno;

		memset(&tx, 0, sizeof(tx));
		maxerr_us = adjtimex(&tx) < 0 ? 16000000 : tx.maxerror;
		errno = saved;
	}
	if (maxerr_us < 0)
		maxerr_us = 0;
	ts_add_ns(earliest, &ts, -maxerr_us * 1000);
	ts_add_ns(latest, &ts, maxerr_us * 1000);
	return 0;
}

void tkr_snapshot(const struct tk_page *p, int blk, struct tk_page_clock *out,
		  struct tk_page_status *st)
{
	const struct tk_page_clock *c = &p->clock[blk];
	uint64_t w[TK_PAGE_SOURCE_LEN / 8];
	uint32_t seq;

	do {
		seq = seq_begin(c);
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
		}
	} while (seq_retry(c, seq));
}

TK_EXPORT int tk_status(struct timekeeper *tk, struct tk_status *st)
{
	struct tk_page_clock c;
	struct tk_page_status ps;
	struct timespec now;
	int saved = errno;
	pid_t pid;

	if (!tk || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	if (!tk->page) {
		st->stale = 1;
		st->source_kind = TK_SOURCE_NO_PAGE;
		return 0;
	}
	tkr_snapshot(tk->page, TK_PAGE_BLOCK_HRES, &c, &ps);
	pid = tk->page->hdr.writer_pid;
	st->synchronized = !!(ps.flags & TK_PAGE_S_SYNC);
	st->clock_mode = c.clock_mode;
	st->leap = (ps.flags & TK_PAGE_S_LEAP_INS) ? 1 : (ps.flags & TK_PAGE_S_LEAP_DEL) ? -1 : 0;
	st->tai_offset = ps.tai_offset;
	st->maxerror_ns = ps.maxerror_us * 1000;
	st->esterror_ns = ps.esterror_us * 1000;
	st->disruption = ps.disruption;
	st->writer_pid = pid;
	st->last_update_ns = ps.last_update_ns;
	st->valid_until_ns = ps.valid_until_ns;
	memcpy(st->source, ps.source, sizeof(st->source));

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH)
		st->source_kind = TK_SOURCE_GONE;
	else if ((uint64_t)now.tv_sec * NSEC_PER_SEC + (uint64_t)now.tv_nsec > ps.valid_until_ns)
		st->source_kind = TK_SOURCE_STALE;
	else if (c.clock_mode == TK_PAGE_MODE_NONE)
		st->source_kind = TK_SOURCE_MODE_NONE;
	else
		st->source_kind = TK_SOURCE_PAGE;
	st->stale = st->source_kind != TK_SOURCE_PAGE;
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

TK_EXPORT int tk_open(const char *path, struct timekeeper **out)
{
	struct timekeeper *tk;
	struct stat sb;
	char buf[4096];
	void *map;
	int fd, r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!path) {
		/* Not secure_getenv: the page is public and mapped read-only. */
		const char *dir = getenv("TIMEKEEPER_RUNTIME_DIR");

		path = DEFAULT_PAGE;
		if (dir && *dir) {
			size_t n = strlen(dir);

			if (n + sizeof("/page") > sizeof(buf))
				return -ENAMETOOLONG;
			memcpy(buf, dir, n);
			memcpy(buf + n, "/page", sizeof("/page"));
			path = buf;
		}
	}
	tk = calloc(1, sizeof(*tk));
	if (!tk)
		return -ENOMEM;
	tk->rdtscp = cpu_has_rdtscp();

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT) {
			*out = tk; /* documented: a handle that reads the kernel */
			return 0;
		}
		free(tk);
		return r;
	}
	if (fstat(fd, &sb) < 0) {
		r = -errno;
		goto fail;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size < (off_t)TK_PAGE_SIZE) {
		r = -EPROTO;
		goto fail;
	}
	map = mmap(NULL, TK_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		r = -errno;
		goto fail;
	}
	close(fd);
	/* The header never changes after the writer's rename: plain reads. */
	r = tkr_check_header(map, (uint64_t)sb.st_size);
	if (r < 0) {
		munmap(map, TK_PAGE_SIZE);
		free(tk);
		return r;
	}
	tk->page = map;
	tk->hres = &tk->page->clock[TK_PAGE_BLOCK_HRES];
	*out = tk;
	return 0;
fail:
	close(fd);
	free(tk);
	return r;
}

TK_EXPORT void tk_close(struct timekeeper *tk)
{
	if (!tk)
		return;
	if (tk->page)
		munmap((void *)tk->page, TK_PAGE_SIZE);
	free(tk);
}
