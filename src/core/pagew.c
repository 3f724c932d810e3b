// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The page writer (see pagew.h and timekeeper-page(7)). Everything a reader
 * can see is stored with relaxed atomic stores between the seqlock's odd and
 * even stores, and both blocks are odd for the whole update, like the
 * kernel's vdso_write_begin/end (doc/architecture.md, section 5). The writer
 * keeps a private copy of what it published last, so it never reads the
 * shared mapping back and can keep the KCLOCK mapping continuous.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <unistd.h>

#include "core/pagew.h"
#include "core/tunit.h"

#define KCLOCK_SHIFT 31 /* mult = rate << 31 fits u32 for rates below 2 */
/* The KCLOCK mapping's rate: its anchor moves once it is RATE_SPAN_NS old;
 * a measurement over less than RATE_MIN_NS, or less than half the span of
 * the one in use, is not taken (a republish right after an update would
 * measure microseconds of bracket noise); until one spans RATE_SETTLED_NS
 * the writer should update often (pagew_settling()). */
#define RATE_SPAN_NS UINT64_C(1000000000)
#define RATE_MIN_NS UINT64_C(10000000)
#define RATE_SETTLED_NS UINT64_C(500000000)
#define SLEW_MAX 1e-3	/* the KCLOCK mapping's rate is steered by at most 1000 ppm */
#define STEP_NS 1000000 /* a KCLOCK mapping more than 1 ms behind is stepped (a stalled writer) */
/* A sample whose kernel-time bracket is wider than this (the writer was
 * preempted between the reads) cannot place the counter in kernel time well
 * enough to steer the mapping: the mapping then just continues. */
#define WIDE_SAMPLE_NS 100000
#define PAGE_MAXERROR_US INT64_C(16000000) /* adjtimex's ceiling: unsynchronized */

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008u /* Linux 6.3 (vm.memfd_noexec may require it) */
#endif

typedef __int128 s128;
typedef unsigned __int128 u128;

/* A read base in the REALTIME (block 0) or MONOTONIC_RAW (block 1) domain. */
struct rbase {
	uint64_t cycle_last;
	uint64_t mask;
	uint64_t max_cycles;
	uint32_t mult;
	uint32_t shift;
	int64_t sec;
	uint64_t nsec; /* shifted */
};

struct pagew {
	int fd;	      /* the mirror file at path, written with pwrite() only */
	int memfd;    /* the page itself, sealed: mapped read-write at page */
	int share_fd; /* a read-only descriptor of memfd for clients, or -1 */
	struct tk_page *page;
	struct tk_page mirror; /* what the mirror file holds */
	char path[PATH_MAX];
	int force_mode;
	int mode;	    /* last published, -1 before the first */
	uint64_t epoch;	    /* cs_change_seq + clock_was_set_seq of the last publish */
	uint64_t own_steps; /* steps of the KCLOCK mapping itself */
	bool have_prev;	    /* t_prev/kmid_prev are from this epoch */
	s128 t_prev[2];	    /* timekeeper ns at the previous sample */
	uint64_t kmid_prev;
	uint64_t cyc_prev; /* the counter at the previous sample */
	double cps;	   /* counter cycles per kernel raw ns on this source, 0: not yet */
	char cs_name[sizeof(((struct tkv *)0)->cs_name)]; /* the source of cps */
	uint64_t kpub_prev;    /* kernel raw ns of the last publish's sample, 0: none */
	uint64_t period_ns;    /* pagew_set_period() */
	uint64_t cps_span;     /* the span cps was measured over, kernel ns */
	bool mapped;	       /* the last publish was a KCLOCK mapping (not direct) */
	double rate[2];	       /* timekeeper ns per kernel raw ns, last estimate */
	struct rbase pub[2];   /* what was published last */
	s128 wtm_prev;	       /* wall_to_monotonic (ns) of the last publish */
	int64_t map_err_ns;    /* KCLOCK: how far block 0's mapping may be from the timekeeper */
	uint64_t kw_prev;      /* the bracket width of the previous sample, kernel ns */
	uint64_t rate_unc_ppb; /* KCLOCK: how far block 0's rate estimate may be off */
	uint64_t steer_ppb;    /* KCLOCK: block 0's mapping is steered at this rate */
};

#define ST(field, val) __atomic_store_n(&(field), (val), __ATOMIC_RELAXED)

/* Shifted ns of the base at counter value x (deltas as readers take them;
 * negative motion counts as 0). */
static s128 rb_shifted(const struct rbase *b, uint64_t x)
{
	uint64_t delta = (x - b->cycle_last) & b->mask;

	if (delta > b->max_cycles && (delta & (1ull << 62 | 1ull << 63)))
		delta = 0;
	return (s128)b->sec * (s128)(NSEC_PER_SEC_U << b->shift) + (s128)b->nsec +
	       (s128)((u128)delta * b->mult);
}

static s128 rb_ns(const struct rbase *b, uint64_t x)
{
	return rb_shifted(b, x) >> b->shift;
}

static void rb_from_tkv(struct rbase *b, const struct tkv_base *t, int64_t sec)
{
	b->cycle_last = t->cycle_last;
	b->mask = t->mask;
	b->max_cycles = t->max_cycles;
	b->mult = t->mult;
	b->shift = t->shift;
	b->sec = sec;
	b->nsec = t->xtime_nsec;
}

static void rb_set_shifted(struct rbase *b, s128 v)
{
	u128 unit = (u128)NSEC_PER_SEC_U << b->shift;

	if (v < 0)
		v = 0;
	b->sec = (int64_t)((u128)v / unit);
	b->nsec = (uint64_t)((u128)v % unit);
}

/* Deltas up to max_cycles keep delta * mult + nsec inside 64 bits. */
static uint64_t safe_max_cycles(uint32_t mult, uint32_t shift, uint64_t want)
{
	uint64_t lim;

	if (!mult)
		return want;
	lim = (UINT64_MAX - ((NSEC_PER_SEC_U << shift) - 1)) / mult;
	return want && want < lim ? want : lim;
}

/* The daemon's own page: a memfd that cannot shrink or grow (so nothing
 * another process does to a file can fault our stores), mapped read-write
 * before F_SEAL_FUTURE_WRITE stops any further writable mapping. Clients
 * get a read-only descriptor of it (share_fd); -1 there when this kernel
 * cannot seal against writes (the page is then not handed out). */
static int open_memfd(struct pagew *pw, char *err, size_t errlen)
{
	char self[64];
	int e;

	pw->memfd = memfd_create("timekeeper-page",
				 MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
	if (pw->memfd < 0 && errno == EINVAL) /* before Linux 6.3 */
		pw->memfd = memfd_create("timekeeper-page", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (pw->memfd < 0) {
		/* memfd_create filtered out (seccomp) or missing: the page in
		 * anonymous shared memory, which nothing outside can truncate
		 * either, and not handed out. */
		pw->page = mmap(NULL, TK_PAGE_SIZE, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (pw->page != MAP_FAILED)
			return 0;
		e = -errno;
		pw->page = NULL;
		snprintf(err, errlen, "page: memfd_create and an anonymous mapping failed: %s",
			 strerror(-e));
		return e;
	}
	if (ftruncate(pw->memfd, TK_PAGE_SIZE) < 0) {
		e = -errno;
		snprintf(err, errlen, "page: sizing the memfd to %u bytes failed: %s", TK_PAGE_SIZE,
			 strerror(-e));
		return e;
	}
	pw->page = mmap(NULL, TK_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, pw->memfd, 0);
	if (pw->page == MAP_FAILED) {
		e = -errno;
		pw->page = NULL;
		snprintf(err, errlen, "page: mmap of the memfd failed: %s", strerror(-e));
		return e;
	}
	if (fcntl(pw->memfd, F_ADD_SEALS,
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) == 0) {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", pw->memfd);
		pw->share_fd = open(self, O_RDONLY | O_CLOEXEC);
		return 0;
	}
	if (fcntl(pw->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		e = -errno;
		snprintf(err, errlen, "page: sealing the memfd failed: %s", strerror(-e));
		return e;
	}
	return 0;
}

/* The file for readers that map the path: created exclusively (a leftover
 * page.new of a killed daemon is removed first, never followed), its mode
 * set on the descriptor, written whole, then renamed over the page. */
static int open_mirror(struct pagew *pw, const char *tmp, char *err, size_t errlen)
{
	int e;

	for (int i = 0; i < 2; i++) {
		pw->fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (pw->fd >= 0 || errno != EEXIST || i)
			break;
		if (unlink(tmp) < 0 && errno != ENOENT)
			break;
	}
	if (pw->fd < 0) {
		e = -errno;
		snprintf(err, errlen, "page: open %s failed: %s", tmp, strerror(-e));
		return e;
	}
	/* umask may have cleared bits: readers need 0644 exactly. */
	memcpy(&pw->mirror, pw->page, TK_PAGE_SIZE);
	if (fchmod(pw->fd, 0644) < 0 ||
	    pwrite(pw->fd, pw->page, TK_PAGE_SIZE, 0) != (ssize_t)TK_PAGE_SIZE) {
		e = errno ? -errno : -EIO;
		snprintf(err, errlen, "page: writing %u bytes to %s failed: %s", TK_PAGE_SIZE, tmp,
			 strerror(-e));
		return e;
	}
	if (rename(tmp, pw->path) < 0) {
		e = -errno;
		snprintf(err, errlen, "page: rename %s to %s failed: %s", tmp, pw->path,
			 strerror(-e));
		return e;
	}
	return 0;
}

int pagew_open(const char *dir, struct pagew **out, char *err, size_t errlen)
{
	struct pagew *pw;
	char tmp[PATH_MAX];
	int e;

	*out = NULL;
	pw = calloc(1, sizeof(*pw));
	if (!pw) {
		snprintf(err, errlen, "page: out of memory");
		return -ENOMEM;
	}
	pw->fd = -1;
	pw->memfd = -1;
	pw->share_fd = -1;
	pw->force_mode = -1;
	pw->mode = -1;
	pw->rate[0] = pw->rate[1] = 1.0;
	pw->rate_unc_ppb = 10000000;
	if ((size_t)snprintf(pw->path, sizeof(pw->path), "%s/page", dir) >= sizeof(pw->path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/page.new", dir) >= sizeof(tmp)) {
		snprintf(err, errlen, "page: directory path of %zu bytes too long", strlen(dir));
		free(pw);
		return -ENAMETOOLONG;
	}
	e = open_memfd(pw, err, errlen);
	if (e < 0)
		goto fail;
	/* Nobody sees the memfd yet: plain stores are fine here. */
	memcpy(pw->page->hdr.magic, TK_PAGE_MAGIC, TK_PAGE_MAGIC_LEN);
	pw->page->hdr.size = TK_PAGE_SIZE;
	pw->page->hdr.version = TK_PAGE_VERSION;
	pw->page->hdr.header_size = TK_PAGE_HEADER_SIZE;
	pw->page->hdr.features = TK_PAGE_FEATURES_V1;
	pw->page->hdr.compat = TK_PAGE_C_BOUND;
	pw->page->hdr.writer_pid = (int32_t)getpid();
	for (int i = 0; i < 2; i++) {
		pw->page->clock[i].clock_mode = TK_PAGE_MODE_NONE;
		pw->page->clock[i].check = tk_page_block_check(&pw->page->clock[i]);
	}
	pw->page->status.bound_ns = INT64_MAX;
	e = open_mirror(pw, tmp, err, errlen);
	if (e < 0) {
		if (pw->fd >= 0)
			unlink(tmp);
		goto fail;
	}
	*out = pw;
	return 0;
fail:
	if (pw->page)
		munmap(pw->page, TK_PAGE_SIZE);
	if (pw->fd >= 0)
		close(pw->fd);
	if (pw->share_fd >= 0)
		close(pw->share_fd);
	if (pw->memfd >= 0)
		close(pw->memfd);
	free(pw);
	return e;
}

int pagew_share_fd(const struct pagew *pw)
{
	return pw->share_fd;
}

const struct tk_page *pagew_page(const struct pagew *pw)
{
	return pw->page;
}

const char *pagew_path(const struct pagew *pw)
{
	return pw->path;
}

void pagew_set_mode(struct pagew *pw, int mode)
{
	pw->force_mode = mode;
}

static void write_begin(struct tk_page *p)
{
	for (int i = 0; i < 2; i++)
		ST(p->clock[i].seq, p->clock[i].seq + 1);
	/* Orders the odd seq before the data for readers (release fence) and,
	 * being seq_cst (mfence), before the counter sample: a reader that still
	 * saw the even seq read its counter before our sample. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void write_end(struct tk_page *p)
{
	for (int i = 0; i < 2; i++)
		__atomic_store_n(&p->clock[i].seq, p->clock[i].seq + 1, __ATOMIC_RELEASE);
}

/* The mirror file follows each update once the memfd is even again (so
 * the memfd's odd window holds no system call), with the same seqlock
 * order, one pwrite() per step so that each lands before the next starts:
 * both seqs odd over what the file holds (bytes 64..323, block 0 as
 * mirrored last, unchanged), the whole page with its seqs odd, both seqs
 * even. The daemon never maps the file: a reader or an operator that
 * truncates it cannot fault the daemon, and the next update rewrites it
 * whole. Write errors are not the daemon's to stop for. */
#define SEQS_OFF offsetof(struct tk_page, clock)
#define SEQS_LEN (sizeof(struct tk_page_clock) + sizeof(uint32_t))

static void mirror_seqs(struct pagew *pw, uint32_t less)
{
	for (int i = 0; i < 2; i++)
		pw->mirror.clock[i].seq = pw->page->clock[i].seq - less;
	(void)!pwrite(pw->fd, (const char *)&pw->mirror + SEQS_OFF, SEQS_LEN, (off_t)SEQS_OFF);
}

static void update_begin(struct pagew *pw)
{
	write_begin(pw->page);
}

static void update_end(struct pagew *pw)
{
	write_end(pw->page);
	mirror_seqs(pw, 1);
	memcpy(&pw->mirror, pw->page, TK_PAGE_SIZE); /* our own page: only we write it */
	for (int i = 0; i < 2; i++)
		pw->mirror.clock[i].seq--;
	(void)!pwrite(pw->fd, &pw->mirror, TK_PAGE_SIZE, 0);
	mirror_seqs(pw, 0);
}

static void store_block(struct tk_page_clock *d, const struct tk_page_clock *s)
{
	ST(d->clock_mode, s->clock_mode);
	ST(d->cycle_last, s->cycle_last);
	ST(d->max_cycles, s->max_cycles);
	ST(d->mask, s->mask);
	ST(d->mult, s->mult);
	ST(d->shift, s->shift);
	for (int i = 0; i < TK_PAGE_BASES; i++) {
		ST(d->basetime[i].sec, s->basetime[i].sec);
		ST(d->basetime[i].nsec, s->basetime[i].nsec);
	}
	ST(d->valid_cycles, s->valid_cycles);
	ST(d->check, s->check);
}

static void store_status(struct tk_page_status *d, const struct tk_page_status *s)
{
	uint64_t w[TK_PAGE_SOURCE_LEN / 8];

	ST(d->disruption, s->disruption);
	ST(d->maxerror_us, s->maxerror_us);
	ST(d->esterror_us, s->esterror_us);
	ST(d->flags, s->flags);
	ST(d->tai_offset, s->tai_offset);
	ST(d->last_update_ns, s->last_update_ns);
	ST(d->valid_until_ns, s->valid_until_ns);
	ST(d->bound_status, s->bound_status);
	ST(d->bound_drift_ppb, s->bound_drift_ppb);
	ST(d->bound_ns, s->bound_ns);
	memcpy(w, s->source, sizeof(w));
	for (size_t i = 0; i < sizeof(w) / 8; i++)
		ST(((uint64_t *)(void *)d->source)[i], w[i]);
}

/* {sec, shifted nsec} + {sec, ns}, normalized. */
static struct tk_page_basetime bt_add(int64_t sec, uint64_t nsec, uint32_t shift,
				      const struct tkv_timespec *off)
{
	struct tk_page_basetime b;
	uint64_t unit = NSEC_PER_SEC_U << shift;

	sec += off->sec;
	nsec += (uint64_t)off->nsec << shift;
	while (nsec >= unit) {
		nsec -= unit;
		sec++;
	}
	b.sec = (uint64_t)sec;
	b.nsec = nsec;
	return b;
}

/* Fills a block's counter fields and base times from a REALTIME (block 0) or
 * RAW (block 1) read base, as update_vsyscall() does. */
static void fill_block(struct tk_page_clock *c, int blk, const struct rbase *b, const struct tkv *v,
		       int mode, uint64_t valid_for_ns)
{
	struct tk_page_basetime mono;
	struct tkv_timespec tai = { v->tai_offset, 0 };

	memset(c, 0, sizeof(*c));
	c->clock_mode = mode;
	c->cycle_last = b->cycle_last;
	c->mask = b->mask;
	c->mult = b->mult;
	c->shift = b->shift;
	c->max_cycles = safe_max_cycles(b->mult, b->shift, b->max_cycles);
	if (mode == TK_PAGE_MODE_TSC) {
		/* Readers take cycles & INT64_MAX without a mask (x86 vDSO). */
		c->mask = INT64_MAX;
		c->cycle_last &= INT64_MAX;
		if (c->max_cycles >= 1ull << 62)
			c->max_cycles = (1ull << 62) - 1;
	}
	if (blk == TK_PAGE_BLOCK_HRES) {
		struct tkv_timespec cn = { 0, (int64_t)v->coarse_nsec };

		c->basetime[TK_PAGE_CLOCK_REALTIME].sec = (uint64_t)b->sec;
		c->basetime[TK_PAGE_CLOCK_REALTIME].nsec = b->nsec;
		mono = bt_add(b->sec, b->nsec, b->shift, &v->wall_to_monotonic);
		c->basetime[TK_PAGE_CLOCK_MONOTONIC] = mono;
		c->basetime[TK_PAGE_CLOCK_BOOTTIME] = bt_add((int64_t)mono.sec, mono.nsec, b->shift,
							     &v->monotonic_to_boot);
		c->basetime[TK_PAGE_CLOCK_TAI] = bt_add(b->sec, b->nsec, b->shift, &tai);
		c->basetime[TK_PAGE_CLOCK_REALTIME_COARSE] = bt_add(v->xtime_sec, 0, 0, &cn);
		c->basetime[TK_PAGE_CLOCK_MONOTONIC_COARSE] = bt_add(
			v->xtime_sec + v->wall_to_monotonic.sec, v->coarse_nsec, 0,
			&(struct tkv_timespec){ 0, v->wall_to_monotonic.nsec });
	} else {
		c->basetime[TK_PAGE_CLOCK_MONOTONIC_RAW].sec = (uint64_t)b->sec;
		c->basetime[TK_PAGE_CLOCK_MONOTONIC_RAW].nsec = b->nsec;
	}
	if (mode != TK_PAGE_MODE_NONE && c->mult) {
		u128 vc = ((u128)valid_for_ns << c->shift) / c->mult;

		c->valid_cycles = vc < c->max_cycles ? (uint64_t)vc : c->max_cycles;
	}
	c->check = tk_page_block_check(c);
}

/* s, a shifted ns value of a base with shift `from`, in KCLOCK_SHIFT units. */
static s128 to_kshift(s128 v, uint32_t from)
{
	return from <= KCLOCK_SHIFT ? v * ((s128)1 << (KCLOCK_SHIFT - from))
				    : v / ((s128)1 << (from - KCLOCK_SHIFT));
}

/* What the last published KCLOCK mapping of domain d gave at kernel raw
 * time k, in KCLOCK_SHIFT units and in the frame of this publish. Readers
 * are owed continuity of MONOTONIC (and MONOTONIC_RAW): a step
 * (clock_was_set) moves block 0's REALTIME base and wall_to_monotonic
 * oppositely, so the old value is carried over by the change of
 * wall_to_monotonic. */
static s128 prev_at(const struct pagew *pw, int d, uint64_t k, s128 wtm_ns)
{
	s128 v = to_kshift(rb_shifted(&pw->pub[d], k), pw->pub[d].shift);

	if (d == 0)
		v += (pw->wtm_prev - wtm_ns) * ((s128)1 << KCLOCK_SHIFT);
	return v;
}

/* The KCLOCK mapping of one domain: kernel raw ns -> timekeeper ns.
 * truth is the timekeeper at the sampled counter, kmid the kernel raw time
 * estimated for that moment. prev (NULL when the page was not in KCLOCK
 * mode) is the last mapping at kbase (prev_at()): the new mapping starts
 * there when cont, and never below it otherwise, so no reader sees time go
 * back across a change of source or a step; the difference is slewed out. */
static void kclock_map(struct pagew *pw, int d, struct rbase *nb, const struct rbase *tb,
		       const struct pagew_sample *s, const s128 *prev, bool cont, bool from_tsc,
		       uint64_t horizon)
{
	s128 truth = rb_ns(tb, s->cycles);
	uint64_t kmid = s->kraw_before + (s->kraw_after - s->kraw_before) / 2;
	uint64_t kbase = s->kraw_after;
	bool wide = s->kraw_after - s->kraw_before > WIDE_SAMPLE_NS;
	double r = pw->rate[d], e, rate;
	s128 base_sh, base_ns;

	/* The counter's rate against the kernel's, at the timekeeper's mult
	 * now: a change of mult (a frequency set just before this publish) is
	 * in the rate at once, not one span later, which at one update a
	 * second was up to 1 s of it. */
	if (d == 0 && pw->have_prev && kmid >= pw->kmid_prev + RATE_MIN_NS &&
	    kmid - pw->kmid_prev >= pw->cps_span / 2 && !wide) {
		double cps = (double)((s->cycles - pw->cyc_prev) & tb->mask) /
			     (double)(kmid - pw->kmid_prev);
		double r0 = cps * ldexp((double)tb->mult, -(int)tb->shift);

		if (r0 > 1 - 0.01 && r0 < 1 + 0.01) { /* a timekeeper ns is a kernel ns +- 1 % */
			pw->cps = cps;
			pw->cps_span = kmid - pw->kmid_prev;
			/* each kmid is known to half its bracket */
			pw->rate_unc_ppb = (uint64_t)ceil(
				(double)(s->kraw_after - s->kraw_before + pw->kw_prev) / 2 * 1e9 /
				(double)(kmid - pw->kmid_prev));
		}
	}
	if (pw->cps > 0) {
		double rc = pw->cps * ldexp((double)tb->mult, -(int)tb->shift);

		if (rc > 1 - 0.01 && rc < 1 + 0.01)
			r = rc;
	}
	pw->rate[d] = r;
	if (cont && prev) {
		/* Continuous: the new base is the old mapping at kbase, exactly. */
		base_sh = *prev;
	} else if (from_tsc) {
		/* The timekeeper at the counter, placed at a kernel time taken after
		 * it: never ahead of what TSC readers saw, catches up below. */
		base_sh = truth * ((s128)1 << KCLOCK_SHIFT);
	} else {
		base_sh = (truth + (s128)(kbase - kmid)) * ((s128)1 << KCLOCK_SHIFT);
		if (prev && *prev > base_sh)
			base_sh = *prev;
	}
	base_ns = base_sh >> KCLOCK_SHIFT;
	/* Error at kbase, aimed to vanish over the horizon. */
	e = (double)(truth - base_ns) + (double)(kbase - kmid) * r;
	/* How far the mapping may be from the timekeeper (for the error
	 * bound): the error it slews out plus where in the bracket the counter
	 * was; a wide sample adds its width to what was there. */
	if (d == 0)
		pw->map_err_ns = (cont && wide ? pw->map_err_ns : (int64_t)fabs(e)) +
				 (int64_t)(s->kraw_after - s->kraw_before) + 1;
	if (cont && wide)
		e = 0; /* where the counter sat in kernel time is not known well enough */
	if (cont && e > STEP_NS) {
		/* Too far behind to slew (a stalled writer): step forward to the
		 * timekeeper. Never back: a mapping ahead is slewed down instead,
		 * at most SLEW_MAX, so published time never goes backwards. */
		base_ns = truth + (s128)(kbase - kmid);
		base_sh = base_ns << KCLOCK_SHIFT;
		e = 0;
		pw->own_steps++;
	}
	rate = e / (double)horizon;
	if (rate > SLEW_MAX)
		rate = SLEW_MAX;
	if (rate < -SLEW_MAX)
		rate = -SLEW_MAX;
	/* Readers that extrapolate past the horizon (a late writer) keep
	 * steering: the bound's growth must cover the steering rate. */
	if (d == 0)
		pw->steer_ppb = (uint64_t)ceil(fabs(rate) * 1e9);
	rate += r;
	nb->cycle_last = kbase;
	nb->mask = UINT64_MAX;
	nb->shift = KCLOCK_SHIFT;
	nb->mult = (uint32_t)llround(ldexp(rate, KCLOCK_SHIFT));
	nb->max_cycles = safe_max_cycles(nb->mult, nb->shift, 0);
	rb_set_shifted(nb, base_sh);
}

/* The bound at the HRES block's cycle_last: the daemon's bound grown at its
 * drift from its anchor to the time of cycle_last (the published base's
 * REALTIME plus wall_to_monotonic), plus, in KCLOCK mode, how far the
 * published mapping may be from the timekeeper; maxerror_us is the same,
 * rounded up and capped at 16 s, adjtimex's "unsynchronized". */
static void fill_bound(struct tk_page_status *st, const struct tkv *v, const struct rbase *b,
		       s128 wtm_ns, int64_t map_err_ns, uint64_t rate_unc_ppb)
{
	int64_t ns;

	if (!v->bound_valid) {
		bool sync = !(v->ntp_status & STA_UNSYNC) && v->maxerror_us >= 0 &&
			    v->maxerror_us < PAGE_MAXERROR_US;

		st->bound_status = sync ? TK_PAGE_BS_SYNCHRONIZED : TK_PAGE_BS_UNKNOWN;
		st->bound_drift_ppb = 500000; /* adjtimex's maxerror grows 500 us per s */
		st->bound_ns = sync ? v->maxerror_us * 1000 : INT64_MAX;
	} else {
		s128 t_cl = (s128)b->sec * (s128)NSEC_PER_SEC_U + (s128)(b->nsec >> b->shift) +
			    wtm_ns;
		s128 grow = 0;

		ns = v->bound_ns < 0 ? 0 : v->bound_ns;
		if (ns != INT64_MAX && t_cl > v->bound_t_ns)
			grow = ((t_cl - v->bound_t_ns) * v->bound_drift_ppb + 999999999) /
			       (s128)NSEC_PER_SEC_U;
		/* KCLOCK: the mapping published is not the timekeeper exactly. */
		if (ns != INT64_MAX)
			grow += map_err_ns > 0 ? map_err_ns : 0;
		st->bound_status = v->bound_status;
		/* Readers extrapolate the mapping at its estimated rate. */
		rate_unc_ppb += v->bound_drift_ppb;
		st->bound_drift_ppb = rate_unc_ppb > UINT32_MAX ? UINT32_MAX
								: (uint32_t)rate_unc_ppb;
		st->bound_ns = grow > (s128)(INT64_MAX - ns) ? INT64_MAX : ns + (int64_t)grow;
	}
	ns = st->bound_ns;
	st->maxerror_us = ns >= (int64_t)PAGE_MAXERROR_US * 1000 ? PAGE_MAXERROR_US
								 : (ns + 999) / 1000;
}

int pagew_publish(struct pagew *pw, const struct tkv *v, uint64_t now_ns, uint64_t valid_for_ns,
		  pagew_sample_fn sample, void *ctx)
{
	struct tk_page *p = pw->page;
	struct tk_page_clock blk[2];
	struct tk_page_status st;
	struct pagew_sample s = { 0, 0, 0 };
	struct rbase tb[2], nb[2];
	bool is_tsc, is_kclock, have_sample = false, was_kclock, cont, direct;
	uint64_t epoch, horizon;
	s128 wtm_ns, prev[2];
	int mode, want;

	update_begin(pw);
	if (sample && sample(ctx, &s) == 0 && s.kraw_after >= s.kraw_before)
		have_sample = true;

	is_tsc = v->cs_client_readable && v->cs_page_tsc;
	is_kclock = v->cs_kernel_clock;
	want = pw->force_mode;
	if (want == TK_PAGE_MODE_TSC && !is_tsc)
		want = -1;
	if (want == TK_PAGE_MODE_KCLOCK && !is_kclock && !have_sample)
		want = -1;
	if (want < 0)
		want = is_tsc ? TK_PAGE_MODE_TSC
			      : (is_kclock || have_sample ? TK_PAGE_MODE_KCLOCK
							  : TK_PAGE_MODE_NONE);

	epoch = v->cs_change_seq + v->clock_was_set_seq;
	if (epoch != pw->epoch)
		pw->have_prev = false;
	/* The counter's rate is the counter's: new arithmetic or a step keep
	 * it, another counter does not. */
	if (strcmp(v->cs_name, pw->cs_name) != 0) {
		pw->cps = 0;
		pw->cps_span = 0;
		snprintf(pw->cs_name, sizeof(pw->cs_name), "%s", v->cs_name);
	}
	rb_from_tkv(&tb[0], &v->mono, v->xtime_sec);
	rb_from_tkv(&tb[1], &v->raw, v->raw_sec);

	wtm_ns = (s128)v->wall_to_monotonic.sec * (s128)NSEC_PER_SEC_U + v->wall_to_monotonic.nsec;
	/* The last mapping is a floor for this one only when it was a
	 * mapping of kernel time (a TSC-mode base maps TSC cycles). */
	was_kclock = pw->mode == TK_PAGE_MODE_KCLOCK && have_sample;

	mode = want;
	/* Out of the pair mapping without a step: only when the mapping is
	 * not ahead of the timekeeper at a kernel time before the counter. */
	if (was_kclock && mode != TK_PAGE_MODE_KCLOCK) {
		for (int d = 0; d < 2; d++)
			if (prev_at(pw, d, s.kraw_before, wtm_ns) >
			    to_kshift(rb_shifted(&tb[d], s.cycles), tb[d].shift))
				mode = TK_PAGE_MODE_KCLOCK;
	}

	direct = mode != TK_PAGE_MODE_KCLOCK || is_kclock;
	if (mode == TK_PAGE_MODE_KCLOCK && was_kclock) {
		for (int d = 0; d < 2; d++) {
			prev[d] = prev_at(pw, d, s.kraw_after, wtm_ns);
			/* On the kclock source the timekeeper itself maps kernel
			 * time; published directly unless the last mapping is
			 * still ahead of it. */
			if (is_kclock &&
			    prev[d] > to_kshift(rb_shifted(&tb[d], s.kraw_after), tb[d].shift))
				direct = false;
		}
	}
	if (!direct) {
		/* The error is slewed out by the next update: as far away as
		 * the last publish was, and at least one period. */
		uint64_t since = pw->have_prev && pw->kpub_prev && s.kraw_after > pw->kpub_prev
					 ? s.kraw_after - pw->kpub_prev
					 : 0;

		horizon = pw->period_ns ? pw->period_ns : (since ? since : valid_for_ns / 2);
		if (since > horizon)
			horizon = since;
		if (horizon < 100000)
			horizon = 100000;
		cont = was_kclock && epoch == pw->epoch;
		for (int d = 0; d < 2; d++)
			kclock_map(pw, d, &nb[d], &tb[d], &s, was_kclock ? &prev[d] : NULL, cont,
				   pw->mode == TK_PAGE_MODE_TSC && epoch == pw->epoch, horizon);
	} else {
		nb[0] = tb[0];
		nb[1] = tb[1];
	}
	for (int d = 0; d < 2; d++)
		fill_block(&blk[d], d, &nb[d], v, mode, valid_for_ns);
	pw->mapped = !direct;
	if (direct)
		pw->map_err_ns = 0;
	else if (!pw->have_prev)
		pw->rate_unc_ppb = 10000000; /* a rate not estimated on this epoch: +- 1 % */

	memset(&st, 0, sizeof(st));
	st.disruption = epoch + pw->own_steps;
	st.esterror_us = v->esterror_us;
	fill_bound(&st, v, &nb[0], wtm_ns, pw->map_err_ns,
		   direct ? 0 : pw->rate_unc_ppb + pw->steer_ppb);
	st.flags = (v->ntp_status & STA_UNSYNC) || st.bound_status != TK_PAGE_BS_SYNCHRONIZED
			   ? 0
			   : TK_PAGE_S_SYNC;
	if (v->ntp_status & STA_INS)
		st.flags |= TK_PAGE_S_LEAP_INS;
	else if (v->ntp_status & STA_DEL)
		st.flags |= TK_PAGE_S_LEAP_DEL;
	st.tai_offset = v->tai_offset;
	st.last_update_ns = now_ns;
	st.valid_until_ns = now_ns + valid_for_ns;
	snprintf(st.source, sizeof(st.source), "%s", v->cs_name);

	store_block(&p->clock[0], &blk[0]);
	store_block(&p->clock[1], &blk[1]);
	store_status(&p->status, &st);
	update_end(pw);

	if (have_sample) {
		uint64_t kmid = s.kraw_before + (s.kraw_after - s.kraw_before) / 2;

		pw->kpub_prev = kmid;

		/* The rate's anchor moves only after RATE_SPAN_NS, so the rate
		 * is measured over up to that. */
		if (!pw->have_prev || kmid < pw->kmid_prev ||
		    kmid - pw->kmid_prev >= RATE_SPAN_NS) {
			pw->kmid_prev = kmid;
			pw->kw_prev = s.kraw_after - s.kraw_before;
			pw->cyc_prev = s.cycles;
			for (int d = 0; d < 2; d++)
				pw->t_prev[d] = rb_ns(&tb[d], s.cycles);
		}
		pw->have_prev = true;
	} else {
		pw->have_prev = false;
	}
	pw->pub[0] = nb[0];
	pw->pub[1] = nb[1];
	pw->wtm_prev = wtm_ns;
	pw->epoch = epoch;
	pw->mode = mode;
	return mode;
}

bool pagew_settling(const struct pagew *pw)
{
	return pw->mapped && pw->cps_span < RATE_SETTLED_NS;
}

void pagew_set_period(struct pagew *pw, uint64_t period_ns)
{
	pw->period_ns = period_ns;
}

void pagew_close(struct pagew *pw, bool remove)
{
	struct tk_page_clock c;

	if (!pw)
		return;
	update_begin(pw);
	for (int i = 0; i < 2; i++) {
		c = pw->page->clock[i]; /* our own page: only we write it */
		c.clock_mode = TK_PAGE_MODE_NONE;
		c.valid_cycles = 0;
		c.check = tk_page_block_check(&c);
		store_block(&pw->page->clock[i], &c);
	}
	ST(pw->page->status.valid_until_ns, 0);
	update_end(pw);
	munmap(pw->page, TK_PAGE_SIZE);
	close(pw->fd);
	if (pw->share_fd >= 0)
		close(pw->share_fd);
	if (pw->memfd >= 0)
		close(pw->memfd);
	if (remove)
		unlink(pw->path);
	free(pw);
}
