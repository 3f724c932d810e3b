/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * evl: the daemon's one-threaded event loop (doc/architecture.md, section 6). One epoll set
 * watches three kinds of source: ONE timerfd (CLOCK_MONOTONIC, absolute)
 * that is always programmed for the earliest hard expiry of the loop's hrt
 * queue, so every daemon and client timer shares it; a signalfd for
 * SIGTERM, SIGINT and SIGHUP, which evl_new() blocks so they arrive only
 * through the loop; and arbitrary file descriptors such as the control
 * socket. The hrt timers fire from the timerfd through hrt_interrupt(), with
 * its retry and hang rules.
 *
 * Two queues, two clocks. The owner's queue (evl_timers()) runs on a clock
 * the owner gives (evl_set_clock(): the daemon's disciplined timekeeper, for
 * the timers clients arm on the daemon's clocks), as the kernel's hrtimer
 * bases run on its timekeeper; without one it is the kernel's
 * CLOCK_MONOTONIC (evl_now()). The kernel's queue (evl_ktimers()) always
 * runs on the kernel's CLOCK_MONOTONIC: the owner's own work goes there, so
 * it never depends on the clock it may have to judge. The timerfd runs on
 * the kernel's clock and is programmed for the earlier of the two queues; an
 * owner's expiry is converted as a delay from now on both clocks, and a
 * wake-up that comes before the expiry on the owner's clock re-arms, at
 * least 1 us ahead, doubling per early wake-up up to 10 ms, so an owner's
 * clock that stands still makes its timers late, never a busy loop.
 * Precision: when a queue's earliest timer has no slack, the timerfd is
 * programmed a margin early (evl_set_margin()) and the loop spins on that
 * queue's clock to the expiry, for at most twice the margin of kernel time
 * whatever that clock does; timers with slack never spin. Spinning takes at
 * most a quarter of each second: past it, zero-slack timers are woken by the
 * timerfd alone until the next second, so dense zero-slack timers cannot
 * keep a core busy. Every wake-up serves both queues and then the signals
 * of its epoll batch, so a SIGTERM waits for at most one bounded spin and
 * the callbacks due.
 *
 * Lateness. Each pass records how late the timers it ran were (now - hard
 * expiry, MONOTONIC bases only: the others move when a clock is set, which
 * is not lateness), in kernel ns for the kernel's queue and in the owner's
 * clock's ns (the same rate within its frequency error) for the owner's;
 * evl_lateness() gives the worst of the last minute and of all time.
 *
 * One loop per process: the signal mask is process-wide. Callbacks run on
 * the loop's thread and may add and delete sources (also their own), start
 * and cancel timers, and call evl_stop().
 */
#ifndef TK_CORE_EVL_H
#define TK_CORE_EVL_H

#include <stdint.h>
#include <sys/epoll.h> /* EPOLLIN etc. for evl_add_fd() */

#include "core/hrt.h"

struct evl;

/* revents: the EPOLL* bits that fired (EPOLLERR and EPOLLHUP are always reported). */
typedef void (*evl_fd_fn)(struct evl *l, int fd, uint32_t revents, void *ctx);
typedef void (*evl_signal_fn)(struct evl *l, int signo, void *ctx);

/* Creates the epoll set, the timerfd and the signalfd, and blocks SIGTERM,
 * SIGINT and SIGHUP (the previous mask is restored by evl_free()). Returns 0
 * or -errno. */
int evl_new(struct evl **out);
/* Closes everything the loop created (not the caller's fds), frees the hrt
 * queue (timers become inactive) and restores the signal mask. NULL is ok. */
void evl_free(struct evl *l);

/* The loop's timer queue: start, forward and cancel timers on it directly;
 * the loop reprograms its timerfd whenever the earliest expiry moves. */
struct hrt_queue *evl_timers(struct evl *l);

/* The queue on the kernel's CLOCK_MONOTONIC, whatever evl_set_clock() says:
 * for work that must go on when the owner's clock stalls or runs wild. */
struct hrt_queue *evl_ktimers(struct evl *l);

/* The kernel's CLOCK_MONOTONIC in ns (the timerfd's clock; without
 * evl_set_clock() also the queue's). */
int64_t evl_now(void);

/* The queue's MONOTONIC clock: now(ctx) in ns, called for relative starts,
 * in the interrupt and for every spin iteration (make it cheap: no system
 * call). NULL: back to the kernel's. Reprograms the timerfd. */
void evl_set_clock(struct evl *l, int64_t (*now)(void *ctx), void *ctx);
/* The queue's clock now. */
int64_t evl_clock_now(const struct evl *l);

/* Early wake-up for zero-slack timers (ns, 0 = none): the timerfd fires
 * this much before such an expiry and the loop spins the rest (within the
 * budget of a quarter of each second). */
void evl_set_margin(struct evl *l, int64_t margin_ns);
/* The zero-slack expiry the next wake-up will spin to (on the clock of its
 * queue), HRT_TIME_MAX when the next wake-up does not spin. */
int64_t evl_spin_target(const struct evl *l);
/* Spins done and the longest (ns), for diagnostics and benchmarks. */
void evl_spin_stats(const struct evl *l, uint64_t *spins, int64_t *max_spin_ns);
/* Timerfd wake-ups, those that found the owner's earliest expiry not yet
 * due on its clock, and spins cut by their kernel-time bound. */
void evl_wake_stats(const struct evl *l, uint64_t *wakeups, uint64_t *early, uint64_t *spin_cuts);

/* Dispatch lateness: the worst over the last minute (six buckets of 10 s of
 * kernel time: the current one and the five before it) and since the
 * start. Explicit-now style, so tests can drive it with any clock. */
#define EVL_LATE_BUCKETS 6
#define EVL_LATE_BUCKET_NS INT64_C(10000000000)
struct evl_late {
	int64_t max_ns;	 /* worst since init */
	int64_t last_ns; /* the last pass's worst */
	uint64_t samples;
	int64_t bucket_id[EVL_LATE_BUCKETS]; /* now / EVL_LATE_BUCKET_NS, INT64_MIN = empty */
	int64_t bucket_max[EVL_LATE_BUCKETS];
};
void evl_late_init(struct evl_late *s);
/* One pass that ran timers, the worst of them late_ns (< 0 counts as 0), at now_ns. */
void evl_late_add(struct evl_late *s, int64_t now_ns, int64_t late_ns);
/* The worst late_ns added in the bucket of now_ns and the five before it. */
int64_t evl_late_recent(const struct evl_late *s, int64_t now_ns);
/* The loop's: the worst of the last minute and since evl_new(), ns. */
void evl_lateness(const struct evl *l, int64_t *recent_ns, int64_t *max_ns);

/* fn(ctx) after each timer interrupt has run the due timers: where the
 * owner sends what its callbacks collected (one batch per pass). */
void evl_on_timers_done(struct evl *l, void (*fn)(void *ctx), void *ctx);

/* Callback for SIGTERM, SIGINT or SIGHUP (-EINVAL for any other signal);
 * cb NULL restores the default: SIGTERM and SIGINT stop the loop, SIGHUP is
 * ignored. */
int evl_on_signal(struct evl *l, int signo, evl_signal_fn cb, void *ctx);

/* Watch fd for events (EPOLLIN, EPOLLOUT, ...; level-triggered). The fd stays the
 * caller's. -EEXIST if already watched, other -errno from epoll_ctl. */
int evl_add_fd(struct evl *l, int fd, uint32_t events, evl_fd_fn cb, void *ctx);
/* Change the events watched on fd. -ENOENT if fd is not watched. */
int evl_mod_fd(struct evl *l, int fd, uint32_t events);
/* Stop watching fd; safe from any callback, including fd's own. Call it
 * before closing fd. -ENOENT if fd is not watched. */
int evl_del_fd(struct evl *l, int fd);

/* Waits once (timeout_ms as for epoll_wait, -1 = forever) and dispatches
 * what is ready. Returns the number of events dispatched or -errno. */
int evl_run_once(struct evl *l, int timeout_ms);
/* Dispatches until evl_stop(). Returns 0, or -errno if waiting failed. A
 * stop requested before the call makes it return at once. */
int evl_run(struct evl *l);
/* Ends evl_run() after the event being dispatched. */
void evl_stop(struct evl *l);

/* The owner's queue's expiry the timerfd is programmed for (its clock, ns),
 * HRT_TIME_MAX when that queue is empty. */
int64_t evl_armed(const struct evl *l);
/* The last error from timerfd_settime(), 0 if none (kept for the caller to log). */
int evl_last_error(const struct evl *l);

#endif
