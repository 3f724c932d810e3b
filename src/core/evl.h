/*
 * evl: the daemon's one-threaded event loop (DESIGN.md §8). One epoll set
 * watches three kinds of source: ONE timerfd (CLOCK_MONOTONIC, absolute)
 * that is always programmed for the earliest hard expiry of the loop's hrt
 * queue, so every daemon and client timer shares it; a signalfd for
 * SIGTERM, SIGINT and SIGHUP, which evl_new() blocks so they arrive only
 * through the loop; and arbitrary file descriptors such as the control
 * socket. The hrt timers fire from the timerfd through hrt_interrupt(), with
 * its retry and hang rules. The loop's "now" is the kernel's CLOCK_MONOTONIC.
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

/* CLOCK_MONOTONIC in ns: the loop's now, the clock of the MONOTONIC base. */
int64_t evl_now(void);

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

/* What the timerfd is programmed for (MONOTONIC ns), HRT_TIME_MAX when disarmed. */
int64_t evl_armed(const struct evl *l);
/* The last error from timerfd_settime(), 0 if none (kept for the caller to log). */
int evl_last_error(const struct evl *l);

#endif
