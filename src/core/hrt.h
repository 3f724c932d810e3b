/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hrt: a timer queue modelled on the kernel's hrtimers (kernel/time/hrtimer.c), for the
 * daemon's own timers and the timers clients arm over the control socket
 * (daemon/timers.c). Four clock bases in the kernel's index order (MONOTONIC, REALTIME,
 * BOOTTIME, TAI), each with an offset from MONOTONIC that the caller sets
 * whenever the timekeeper's clocks move (clock_was_set). Every timer has a
 * soft and a hard expiry (hard = soft + slack) so that nearby timers share
 * one wake-up; each base is a binary heap ordered by the hard expiry with a
 * FIFO tie-break, O(log n) insert and cancel, O(1) next.
 *
 * Explicit-now style: no system calls, no I/O except hrt_dump() into a FILE
 * the caller owns. Times are signed 64-bit nanoseconds like ktime_t; an
 * expiry is stored in its base's own clock, and the hardware (the event
 * loop's timerfd) is programmed in MONOTONIC: expires - offset, clamped >= 0.
 * MONOTONIC is whatever clock the owner runs the queue on (the daemon: its
 * timekeeper's for client timers, the kernel's for its own, see evl.h); the
 * offsets are that clock's. Memory: the caller's struct hrt_timer plus one
 * pointer in a heap that doubles and halves; a million timers are ~8 MB of
 * heap and O(log n) start/cancel.
 * Single-threaded: callbacks run from hrt_run()/hrt_interrupt() and may
 * start, forward and cancel any timer, including their own.
 */
#ifndef TK_CORE_HRT_H
#define TK_CORE_HRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "No event": the queue is empty (KTIME_MAX). */
#define HRT_TIME_MAX INT64_MAX
/* Where a saturating add clamps: KTIME_SEC_MAX seconds, like ktime_add_safe(), so a
 * clamped expiry is still a valid timespec and distinct from HRT_TIME_MAX. */
#define HRT_TIME_SAFE_MAX (INT64_MAX / 1000000000 * 1000000000)
/* hrtimer_resolution in high-resolution mode (HIGH_RES_NSEC). */
#define HRT_RESOLUTION_NS 1
/* hrtimer_interrupt: passes per interrupt before the hang rule applies. */
#define HRT_MAX_PASSES 3
/* hrtimer_interrupt: upper bound of the forced back-off after a hang. */
#define HRT_HANG_MAX_DELAY_NS INT64_C(100000000)
/* Default slack of a task (current->timer_slack_ns). */
#define HRT_DEFAULT_SLACK_NS UINT64_C(50000)

/* Clock bases, in the kernel's index order (HRTIMER_BASE_*). */
enum hrt_base_id {
	HRT_BASE_MONOTONIC = 0,
	HRT_BASE_REALTIME = 1,
	HRT_BASE_BOOTTIME = 2,
	HRT_BASE_TAI = 3,
	HRT_NR_BASES = 4,
};

enum hrt_mode {
	HRT_MODE_ABS = 0, /* expires is a time of the timer's clock */
	HRT_MODE_REL = 1, /* expires is a delay from the clock's current time */
};

enum hrt_restart {
	HRT_NORESTART = 0,
	HRT_RESTART = 1, /* re-enqueue with the (forwarded) expiry */
};

/* Timer state (the kernel's u8 state, printed as S:%02x). */
#define HRT_STATE_INACTIVE 0x00
#define HRT_STATE_ENQUEUED 0x01

struct hrt_timer;
struct hrt_queue;

/*
 * Expiry callback. now is the current time of the timer's base clock (the
 * kernel's basenow), the value to hand to hrt_forward(). The timer is
 * already dequeued; returning HRT_RESTART re-enqueues it with its current
 * expiry unless the callback started it itself.
 */
typedef enum hrt_restart (*hrt_fn)(struct hrt_timer *t, int64_t now);

/* Embedded by its user (intrusive); initialise with hrt_timer_init(). */
struct hrt_timer {
	int64_t expires;     /* hard expiry, ns of the base's clock: the heap key */
	int64_t softexpires; /* soft expiry: may run from here on */
	uint64_t seq;	     /* enqueue order, the FIFO tie-break for equal expiries */
	size_t idx;	     /* position in the base's heap while enqueued */
	hrt_fn fn;
	void *data;	     /* for the user; the queue never touches it */
	const char *name;    /* for hrt_dump(); may be NULL */
	struct hrt_queue *q; /* set by hrt_start() */
	uint8_t clock;	     /* the clock asked for (enum hrt_base_id) */
	uint8_t base;	     /* the base it is queued on (REL REALTIME -> MONOTONIC) */
	uint8_t state;	     /* HRT_STATE_* */
	bool is_rel;	     /* last started HRT_MODE_REL */
	bool in_callback;    /* its callback is running (hrt_cancel() needs no queue otherwise) */
};

/*
 * Services the queue needs from its owner, both optional:
 * now:       current MONOTONIC time (ns), used by relative starts; without
 *            it a relative start counts from the last now given to
 *            hrt_run()/hrt_interrupt().
 * reprogram: the earliest hard expiry (MONOTONIC ns, HRT_TIME_MAX = none)
 *            changed outside the interrupt: program the hardware for it. Not
 *            called inside hrt_interrupt() (it returns the value instead) nor
 *            while a hang is being backed off (hrtimer_reprogram skips while
 *            hang_detected), so removing a timer cannot shorten the back-off.
 */
struct hrt_ops {
	int64_t (*now)(void *ctx);
	void (*reprogram)(void *ctx, int64_t expires_mono);
};

struct hrt_heap {
	struct hrt_timer **v;
	size_t n, cap;
};

struct hrt_queue {
	struct hrt_heap heap[HRT_NR_BASES];
	int64_t offset[HRT_NR_BASES]; /* base clock - MONOTONIC, ns; [MONOTONIC] = 0 */
	const struct hrt_ops *ops;
	void *ctx;
	uint64_t next_seq;
	int64_t last_now;	   /* the last MONOTONIC now seen by run/interrupt */
	struct hrt_timer *running; /* callback in progress; NULL when it cancelled itself */
	bool in_run;		   /* inside hrt_run(): defer reprogramming to its end */
	bool in_irq;		   /* inside hrt_interrupt(): it returns the next event */
	/* The cpu_base fields of /proc/timer_list. */
	int64_t expires_next; /* earliest hard expiry in MONOTONIC, as last computed */
	bool hang_detected;
	uint64_t nr_events;
	uint64_t nr_retries;
	uint64_t nr_hangs;
	int64_t max_hang_time; /* ns */
	/* Dispatch lateness, for the owner to reset and read: the largest
	 * basenow - hard expiry of the MONOTONIC timers run since (0: none ran
	 * late; the other bases move with clock_was_set, which is no
	 * lateness), and the number of callbacks run in total. */
	int64_t max_late_ns;
	uint64_t nr_run;
};

/* ops may be NULL. Offsets start at 0. */
void hrt_init(struct hrt_queue *q, const struct hrt_ops *ops, void *ctx);
/* Dequeues every timer (without calling anything) and frees the heaps. */
void hrt_fini(struct hrt_queue *q);

/* clock: enum hrt_base_id; an unknown clock falls back to MONOTONIC, as the kernel does
 * (after a WARN). name is kept by pointer and may be NULL. */
void hrt_timer_init(struct hrt_timer *t, unsigned int clock, hrt_fn fn, const char *name);

/*
 * hrtimer_start_range_ns: dequeue t if queued, then enqueue it with
 * softexpires = expires (+ the clock's now for HRT_MODE_REL) and hard =
 * soft + slack_ns, both saturating at HRT_TIME_SAFE_MAX. A relative
 * REALTIME timer goes on the MONOTONIC base (the POSIX rule), so a clock
 * step does not move it. Returns 0, or -ENOMEM when the base's heap could
 * not grow (t is then left inactive). Re-enqueueing a timer that was just
 * dequeued (HRT_RESTART, restart from a callback) never fails.
 */
int hrt_start(struct hrt_queue *q, struct hrt_timer *t, int64_t expires, uint64_t slack_ns,
	      enum hrt_mode mode);

/*
 * Returns 1 if t was queued and is now removed, 0 if it was not queued.
 * A callback may cancel its own timer: its return value is then ignored
 * and the queue does not touch t after the callback, so it may free t.
 */
int hrt_cancel(struct hrt_timer *t);

static inline bool hrt_is_queued(const struct hrt_timer *t)
{
	return t->state & HRT_STATE_ENQUEUED;
}

/*
 * hrtimer_forward: move both expiries by whole intervals until the hard
 * expiry is strictly after now (ns of the timer's clock) and return the
 * number of intervals it moved (overruns, including the period being handled).
 * Returns 0 and changes nothing when now is before the hard expiry or when
 * t is queued. interval is floored at HRT_RESOLUTION_NS. Note the kernel's
 * rule: a timer run inside its slack window (soft <= now < hard) is not
 * forwarded; periodic timers with slack use hrt_forward_soft().
 */
uint64_t hrt_forward(struct hrt_timer *t, int64_t now, int64_t interval);

/*
 * The soft-expiry-aware forward for periodic timers with slack: the same
 * arithmetic measured from the soft expiry, so a timer run anywhere in its
 * window (soft <= now) moves: both expiries by whole intervals until the
 * soft expiry is strictly after now, the slack kept. Returns the number of
 * intervals moved (the expiries now <= soft covered, the one being handled
 * included), 0 when now < soft or t is queued. With a slack of 0 it is
 * hrt_forward(). Expiries stay at value + k * interval exactly.
 */
uint64_t hrt_forward_soft(struct hrt_timer *t, int64_t now, int64_t interval);

/* Sets the REALTIME, BOOTTIME and TAI offsets from MONOTONIC (ns) after the
 * clocks were set (clock_was_set): absolute timers of those bases now expire
 * at a different MONOTONIC time; reprograms if the next event moved. */
void hrt_set_offsets(struct hrt_queue *q, int64_t real, int64_t boot, int64_t tai);

/* Earliest hard expiry across the bases in MONOTONIC (expires - offset,
 * clamped >= 0), HRT_TIME_MAX when empty. O(1) per base. */
int64_t hrt_next_hard(const struct hrt_queue *q);

/* The earliest MONOTONIC time at which hrt_run() would run something: the
 * soft expiry of each base's leftmost (by hard expiry) timer, converted
 * and clamped the same way; HRT_TIME_MAX when empty. A wake-up anywhere
 * in [hrt_next_soft, hrt_next_hard] runs at least one timer. */
int64_t hrt_next_soft(const struct hrt_queue *q);

/*
 * __hrtimer_run_queues: for each base (in index order), basenow = now_mono
 * + offset; while the base's leftmost timer by hard expiry has basenow >=
 * its soft expiry, dequeue and run it. Stops at the first timer whose soft
 * expiry is in the future even when a later one's soft window has opened
 * (by design: the earlier timer needs a wake-up anyway). Returns the number
 * of callbacks run. Calls ops->reprogram at the end if the next event moved
 * (not when called from hrt_interrupt()).
 */
unsigned int hrt_run(struct hrt_queue *q, int64_t now_mono);

/*
 * hrtimer_interrupt: nr_events++, run the expired timers at now_fn(), and
 * compute the next event. If now_fn() then says the next event is already
 * due, count a retry and run again, at most HRT_MAX_PASSES passes. After the
 * last failed pass: nr_hangs++, hang_detected, max_hang_time = max(time spent
 * in the interrupt), and the next wake-up is forced to now + min(time spent,
 * 100 ms) to let the system catch up. A pass that leaves the next event in
 * the future clears hang_detected. Returns the MONOTONIC time to program
 * (HRT_TIME_MAX: nothing queued).
 */
int64_t hrt_interrupt(struct hrt_queue *q, int64_t (*now_fn)(void *ctx), void *ctx);

/* Number of queued timers on all bases. */
size_t hrt_count(const struct hrt_queue *q);

/* Fills v with up to cap of the queued timers, skipping the first `skip`,
 * in the order of hrt_dump() (base by base, each in expiry order), for
 * listings such as the control socket's. Returns the number stored, or
 * -ENOMEM. */
long hrt_snapshot(const struct hrt_queue *q, const struct hrt_timer **v, size_t skip, size_t cap);

/* Prints the queues like the kernel's /proc/timer_list at now_mono, timers
 * in expiry order. Returns 0 or -errno when writing failed / -ENOMEM. */
int hrt_dump(const struct hrt_queue *q, FILE *f, int64_t now_mono);

#endif
