// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hrt: the kernel-hrtimer-like timer queue (see hrt.h). Each
 * clock base is an array-backed binary min-heap of timer pointers keyed by
 * (hard expiry, enqueue sequence): the sequence makes equal expiries FIFO,
 * as rb_add_cached does by inserting equal keys to the right. Each timer
 * remembers its heap slot, so cancel is O(log n) without a search, and the
 * leftmost timer is slot 0. Heaps double when full and halve when a
 * quarter full (never below HRT_HEAP_MIN slots), so a million timers cost
 * one pointer each in the heap and a queue that emptied gives the memory
 * back; a base keeps one slot spare while a callback runs (halving leaves
 * at least twice the timers' room), so the re-enqueue of a HRT_RESTART
 * timer cannot fail for lack of memory.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/hrt.h"

static const char *const base_clock_name[HRT_NR_BASES] = {
	"CLOCK_MONOTONIC",
	"CLOCK_REALTIME",
	"CLOCK_BOOTTIME",
	"CLOCK_TAI",
};

/* ktime_add_safe: a sum past the representable range clamps to HRT_TIME_SAFE_MAX (and
 * symmetric at the bottom), and no sum is ever HRT_TIME_MAX, which means "no event". */
static int64_t add_safe(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? HRT_TIME_SAFE_MAX : INT64_MIN;
	return r > HRT_TIME_SAFE_MAX ? HRT_TIME_SAFE_MAX : r;
}

/* a - b for printing, saturated at the int64 range. */
static int64_t sub_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* A base-clock time as MONOTONIC: expires - offset, clamped to [0, HRT_TIME_SAFE_MAX]. */
static int64_t to_mono(int64_t t, int64_t offset)
{
	int64_t r;

	if (__builtin_sub_overflow(t, offset, &r))
		return offset < 0 ? HRT_TIME_SAFE_MAX : 0;
	if (r < 0)
		return 0;
	return r > HRT_TIME_SAFE_MAX ? HRT_TIME_SAFE_MAX : r;
}

static bool before(const struct hrt_timer *a, const struct hrt_timer *b)
{
	if (a->expires != b->expires)
		return a->expires < b->expires;
	return a->seq < b->seq;
}

static void heap_set(struct hrt_heap *h, size_t i, struct hrt_timer *t)
{
	h->v[i] = t;
	t->idx = i;
}

static void sift_up(struct hrt_heap *h, size_t i)
{
	struct hrt_timer *t = h->v[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!before(t, h->v[parent]))
			break;
		heap_set(h, i, h->v[parent]);
		i = parent;
	}
	heap_set(h, i, t);
}

static void sift_down(struct hrt_heap *h, size_t i)
{
	struct hrt_timer *t = h->v[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && before(h->v[c + 1], h->v[c]))
			c++;
		if (!before(h->v[c], t))
			break;
		heap_set(h, i, h->v[c]);
		i = c;
	}
	heap_set(h, i, t);
}

#define HRT_HEAP_MIN 16

static int heap_reserve(struct hrt_heap *h, size_t need)
{
	struct hrt_timer **v;
	size_t cap;

	if (need <= h->cap)
		return 0;
	cap = h->cap ? h->cap : HRT_HEAP_MIN;
	while (cap < need) {
		if (cap > SIZE_MAX / 2 / sizeof(*v))
			return -ENOMEM;
		cap *= 2;
	}
	v = realloc(h->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	h->v = v;
	h->cap = cap;
	return 0;
}

/* The caller made room (h->n < h->cap). */
static void enqueue(struct hrt_queue *q, struct hrt_timer *t)
{
	struct hrt_heap *h = &q->heap[t->base];

	t->seq = q->next_seq++;
	t->state = HRT_STATE_ENQUEUED;
	t->q = q;
	h->v[h->n] = t;
	t->idx = h->n++;
	sift_up(h, t->idx);
}

static void dequeue(struct hrt_queue *q, struct hrt_timer *t)
{
	struct hrt_heap *h = &q->heap[t->base];
	size_t i = t->idx;
	struct hrt_timer *last = h->v[--h->n];

	t->state = HRT_STATE_INACTIVE;
	if (i != h->n) {
		heap_set(h, i, last);
		if (i > 0 && before(last, h->v[(i - 1) / 2]))
			sift_up(h, i);
		else
			sift_down(h, i);
	}
	/* Halve at a quarter full: still room for twice the timers left, so
	 * the spare slot of a running timer survives, and no thrashing at the
	 * boundary. A failed shrink keeps the larger array. */
	if (h->cap > HRT_HEAP_MIN && h->n <= h->cap / 4) {
		struct hrt_timer **v = realloc(h->v, h->cap / 2 * sizeof(*v));

		if (v) {
			h->v = v;
			h->cap /= 2;
		}
	}
}

/*
 * hrtimer_reprogram / hrtimer_force_reprogram in one: recompute the next
 * event and tell the owner if it moved. Deferred inside hrt_run() and
 * hrt_interrupt(), which re-evaluate at their end anyway; while a hang is
 * backed off the value is recorded but the hardware is left alone.
 */
static void update_next(struct hrt_queue *q)
{
	int64_t next;

	if (q->in_run || q->in_irq)
		return;
	next = hrt_next_hard(q);
	if (next == q->expires_next)
		return;
	q->expires_next = next;
	if (q->hang_detected)
		return;
	if (q->ops && q->ops->reprogram)
		q->ops->reprogram(q->ctx, next);
}

void hrt_init(struct hrt_queue *q, const struct hrt_ops *ops, void *ctx)
{
	memset(q, 0, sizeof(*q));
	q->ops = ops;
	q->ctx = ctx;
	q->expires_next = HRT_TIME_MAX;
}

void hrt_fini(struct hrt_queue *q)
{
	for (unsigned int b = 0; b < HRT_NR_BASES; b++) {
		struct hrt_heap *h = &q->heap[b];

		for (size_t i = 0; i < h->n; i++) {
			h->v[i]->state = HRT_STATE_INACTIVE;
			h->v[i]->q = NULL;
		}
		free(h->v);
		memset(h, 0, sizeof(*h));
	}
	q->expires_next = HRT_TIME_MAX;
}

void hrt_timer_init(struct hrt_timer *t, unsigned int clock, hrt_fn fn, const char *name)
{
	memset(t, 0, sizeof(*t));
	/* Unknown clock ids fall back to MONOTONIC, as __hrtimer_setup does. */
	t->clock = clock < HRT_NR_BASES ? clock : HRT_BASE_MONOTONIC;
	t->base = t->clock;
	t->fn = fn;
	t->name = name;
	t->state = HRT_STATE_INACTIVE;
}

int hrt_start(struct hrt_queue *q, struct hrt_timer *t, int64_t expires, uint64_t slack_ns,
	      enum hrt_mode mode)
{
	unsigned int base = t->clock;
	struct hrt_queue *oldq = t->q;
	size_t need;
	int64_t slack;

	/* The POSIX rule: a relative CLOCK_REALTIME timer measures an interval, so it must
	 * not move when the clock is set; it lives on the MONOTONIC base. */
	if (mode == HRT_MODE_REL && base == HRT_BASE_REALTIME)
		base = HRT_BASE_MONOTONIC;

	if (hrt_is_queued(t)) {
		/* Remove first so a timer that was the next event is not reprogrammed twice
		 * (hrtimer_start_range_ns removes with reprogram only when it moves away). */
		dequeue(oldq, t);
		if (oldq != q)
			update_next(oldq);
	}

	/* Keep one slot spare for a running timer that may return HRT_RESTART. */
	need = q->heap[base].n + 1;
	if (q->running && q->running != t && q->running->base == base && !hrt_is_queued(q->running))
		need++;
	if (heap_reserve(&q->heap[base], need)) {
		update_next(q);
		return -ENOMEM;
	}

	if (mode == HRT_MODE_REL) {
		int64_t now = q->ops && q->ops->now ? q->ops->now(q->ctx) : q->last_now;

		expires = add_safe(expires, add_safe(now, q->offset[base]));
	}
	slack = slack_ns > (uint64_t)HRT_TIME_SAFE_MAX ? HRT_TIME_SAFE_MAX : (int64_t)slack_ns;
	t->base = base;
	t->is_rel = mode == HRT_MODE_REL;
	t->softexpires = add_safe(expires, 0);
	t->expires = add_safe(t->softexpires, slack);
	enqueue(q, t);
	update_next(q);
	return 0;
}

int hrt_cancel(struct hrt_timer *t)
{
	struct hrt_queue *q = t->q;
	int ret = 0;

	/* Only a queued or running timer looks at its queue: an idle one may have outlived
	 * it (hrt_fini() leaves t->q alone for timers it does not hold). */
	if (!q || (!hrt_is_queued(t) && !t->in_callback))
		return 0;
	if (q->running == t) {
		q->running = NULL; /* tell run_one not to touch t again */
		t->in_callback = false;
	}
	if (hrt_is_queued(t)) {
		dequeue(q, t);
		update_next(q);
		ret = 1;
	}
	return ret;
}

uint64_t hrt_forward(struct hrt_timer *t, int64_t now, int64_t interval)
{
	uint64_t orun = 1;
	int64_t delta;

	if (__builtin_sub_overflow(now, t->expires, &delta))
		delta = now < 0 ? -1 : INT64_MAX;
	if (delta < 0)
		return 0;
	/* The kernel WARNs: forwarding a queued timer would corrupt the tree's order. */
	if (hrt_is_queued(t))
		return 0;
	if (interval < HRT_RESOLUTION_NS)
		interval = HRT_RESOLUTION_NS;

	if (delta >= interval) {
		int64_t n = delta / interval;
		int64_t incr;

		if (__builtin_mul_overflow(n, interval, &incr))
			incr = HRT_TIME_SAFE_MAX;
		orun = (uint64_t)n;
		t->expires = add_safe(t->expires, incr);
		t->softexpires = add_safe(t->softexpires, incr);
		if (t->expires > now)
			return orun;
		/* The period now being handled counts too. */
		orun++;
	}
	t->expires = add_safe(t->expires, interval);
	t->softexpires = add_safe(t->softexpires, interval);
	return orun;
}

uint64_t hrt_forward_soft(struct hrt_timer *t, int64_t now, int64_t interval)
{
	int64_t delta, slack;
	uint64_t orun;

	if (__builtin_sub_overflow(now, t->softexpires, &delta))
		delta = now < 0 ? -1 : INT64_MAX;
	if (delta < 0 || hrt_is_queued(t))
		return 0;
	/* Forward a zero-slack view of the timer, then put the slack back: the
	 * same arithmetic as hrt_forward(), measured from the soft expiry. */
	slack = t->expires - t->softexpires;
	t->expires = t->softexpires;
	orun = hrt_forward(t, now, interval);
	t->expires = add_safe(t->softexpires, slack);
	return orun;
}

void hrt_set_offsets(struct hrt_queue *q, int64_t real, int64_t boot, int64_t tai)
{
	q->offset[HRT_BASE_MONOTONIC] = 0;
	q->offset[HRT_BASE_REALTIME] = real;
	q->offset[HRT_BASE_BOOTTIME] = boot;
	q->offset[HRT_BASE_TAI] = tai;
	update_next(q);
}

/* The earliest expiry over the bases, in MONOTONIC: hard or soft, of each
 * base's first timer (the heaps are ordered by hard expiry). */
static int64_t next_expiry(const struct hrt_queue *q, bool soft)
{
	int64_t next = HRT_TIME_MAX;

	for (unsigned int b = 0; b < HRT_NR_BASES; b++) {
		const struct hrt_heap *h = &q->heap[b];
		int64_t m;

		if (!h->n)
			continue;
		m = to_mono(soft ? h->v[0]->softexpires : h->v[0]->expires, q->offset[b]);
		if (m < next)
			next = m;
	}
	return next;
}

int64_t hrt_next_hard(const struct hrt_queue *q)
{
	return next_expiry(q, false);
}

int64_t hrt_next_soft(const struct hrt_queue *q)
{
	return next_expiry(q, true);
}

/* __run_hrtimer: dequeue, call, and re-enqueue on HRT_RESTART unless the callback
 * queued the timer itself or cancelled it (then t may be gone). */
static void run_one(struct hrt_queue *q, struct hrt_timer *t, int64_t basenow)
{
	enum hrt_restart r = HRT_NORESTART;
	int64_t late;

	if (t->base == HRT_BASE_MONOTONIC && !__builtin_sub_overflow(basenow, t->expires, &late) &&
	    late > q->max_late_ns)
		q->max_late_ns = late;
	q->nr_run++;
	dequeue(q, t);
	q->running = t;
	t->in_callback = true;
	if (t->fn)
		r = t->fn(t, basenow);
	if (q->running == t) {
		t->in_callback = false;
		if (r == HRT_RESTART && !hrt_is_queued(t))
			enqueue(q, t); /* the spare slot kept by hrt_start() guarantees room */
	}
	q->running = NULL;
}

unsigned int hrt_run(struct hrt_queue *q, int64_t now_mono)
{
	unsigned int ran = 0;

	if (q->in_run)
		return 0; /* not re-entrant from a callback */
	q->in_run = true;
	q->last_now = now_mono;
	for (unsigned int b = 0; b < HRT_NR_BASES; b++) {
		struct hrt_heap *h = &q->heap[b];
		int64_t basenow = add_safe(now_mono, q->offset[b]);

		/* Ordered by hard expiry; stop at the first timer whose soft expiry is
		 * still ahead, even if a later one's window has opened, as the kernel does: the
		 * earlier timer needs a wake-up anyway. */
		while (h->n && basenow >= h->v[0]->softexpires) {
			run_one(q, h->v[0], basenow);
			ran++;
		}
	}
	q->in_run = false;
	update_next(q);
	return ran;
}

int64_t hrt_interrupt(struct hrt_queue *q, int64_t (*now_fn)(void *ctx), void *ctx)
{
	int64_t entry, now, next, delta;
	unsigned int passes = 0;

	q->nr_events++;
	entry = now = now_fn(ctx);
	for (;;) {
		q->in_irq = true;
		q->expires_next = HRT_TIME_MAX;
		hrt_run(q, now);
		next = hrt_next_hard(q);
		q->expires_next = next;
		q->in_irq = false;

		/* tick_program_event() fails only for an event that is already due. */
		if (next == HRT_TIME_MAX) {
			q->hang_detected = false;
			return next;
		}
		now = now_fn(ctx);
		if (next > now) {
			q->hang_detected = false;
			return next;
		}
		q->nr_retries++;
		if (++passes >= HRT_MAX_PASSES)
			break;
	}

	/* Three passes and still behind: an interrupt storm or a slow machine. Back off
	 * for as long as this interrupt took, at most 100 ms ("give the CPU at least
	 * 100 ms to catch up"); reprogramming stays suppressed until a pass succeeds. */
	q->nr_hangs++;
	q->hang_detected = true;
	if (__builtin_sub_overflow(now, entry, &delta) || delta < 0)
		delta = delta < 0 ? 0 : HRT_HANG_MAX_DELAY_NS;
	if (delta > q->max_hang_time)
		q->max_hang_time = delta;
	if (delta > HRT_HANG_MAX_DELAY_NS)
		delta = HRT_HANG_MAX_DELAY_NS;
	return add_safe(now, delta);
}

size_t hrt_count(const struct hrt_queue *q)
{
	size_t n = 0;

	for (unsigned int b = 0; b < HRT_NR_BASES; b++)
		n += q->heap[b].n;
	return n;
}

static int cmp_timer(const void *a, const void *b)
{
	const struct hrt_timer *x = *(const struct hrt_timer *const *)a;
	const struct hrt_timer *y = *(const struct hrt_timer *const *)b;

	return before(x, y) ? -1 : before(y, x) ? 1 : 0;
}

long hrt_snapshot(const struct hrt_queue *q, const struct hrt_timer **v, size_t skip, size_t cap)
{
	size_t pos = 0, stored = 0;

	for (unsigned int b = 0; b < HRT_NR_BASES && stored < cap; b++) {
		const struct hrt_heap *h = &q->heap[b];
		struct hrt_timer **sorted;

		if (!h->n || pos + h->n <= skip) {
			pos += h->n;
			continue;
		}
		sorted = malloc(h->n * sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		memcpy(sorted, h->v, h->n * sizeof(*sorted));
		qsort(sorted, h->n, sizeof(*sorted), cmp_timer);
		for (size_t i = 0; i < h->n && stored < cap; i++, pos++)
			if (pos >= skip)
				v[stored++] = sorted[i];
		free(sorted);
	}
	return (long)stored;
}

int hrt_dump(const struct hrt_queue *q, FILE *f, int64_t now_mono)
{
	fprintf(f, "Timer List Version: v0.10\n");
	fprintf(f, "HRTIMER_MAX_CLOCK_BASES: %d\n", HRT_NR_BASES);
	fprintf(f, "now at %" PRId64 " nsecs\n\n", now_mono);
	fprintf(f, "cpu: 0\n");
	for (unsigned int b = 0; b < HRT_NR_BASES; b++) {
		const struct hrt_heap *h = &q->heap[b];
		int64_t basenow = add_safe(now_mono, q->offset[b]);
		struct hrt_timer **sorted = NULL;

		fprintf(f, " clock %u:\n", b);
		fprintf(f, "  .base:       %p\n", (const void *)h);
		fprintf(f, "  .index:      %u\n", b);
		fprintf(f, "  .resolution: %d nsecs\n", HRT_RESOLUTION_NS);
		fprintf(f, "  .get_time:   %s\n", base_clock_name[b]);
		fprintf(f, "  .offset:     %" PRId64 " nsecs\n", q->offset[b]);
		fprintf(f, "active timers:\n");
		if (h->n) {
			/* Heap order is not expiry order: print a sorted copy, as the
			 * kernel walks its rbtree in order. */
			sorted = malloc(h->n * sizeof(*sorted));
			if (!sorted)
				return -ENOMEM;
			memcpy(sorted, h->v, h->n * sizeof(*sorted));
			qsort(sorted, h->n, sizeof(*sorted), cmp_timer);
		}
		for (size_t i = 0; i < h->n; i++) {
			const struct hrt_timer *t = sorted[i];

			fprintf(f, " #%zu: <%p>, %s, S:%02x\n", i, (const void *)t,
				t->name ? t->name : "(anonymous)", t->state);
			fprintf(f,
				" # expires at %" PRId64 "-%" PRId64 " nsecs [in %" PRId64
				" to %" PRId64 " nsecs]\n",
				t->softexpires, t->expires, sub_sat(t->softexpires, basenow),
				sub_sat(t->expires, basenow));
		}
		free(sorted);
	}
	fprintf(f, "  .%-15s: %" PRId64 " nsecs\n", "expires_next", q->expires_next);
	fprintf(f, "  .%-15s: %d\n", "hres_active", 1);
	fprintf(f, "  .%-15s: %" PRIu64 "\n", "nr_events", q->nr_events);
	fprintf(f, "  .%-15s: %" PRIu64 "\n", "nr_retries", q->nr_retries);
	fprintf(f, "  .%-15s: %" PRIu64 "\n", "nr_hangs", q->nr_hangs);
	fprintf(f, "  .%-15s: %" PRId64 "\n", "max_hang_time", q->max_hang_time);
	fprintf(f, "  .%-15s: %d\n", "hang_detected", q->hang_detected);
	fputc('\n', f);
	if (fflush(f) || ferror(f))
		return -EIO;
	return 0;
}
