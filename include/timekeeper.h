/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtimekeeper: read timekeeperd's clocks from its shared page
 * (timekeeper-page(7)) without a system call, with the kernel's clocks as
 * the documented fallback. See libtimekeeper(3).
 *
 * All functions return 0 or a negative errno. The read functions
 * (tk_gettime, tk_gettime_bounds, tk_status) are thread-safe and
 * async-signal-safe: no locks, no allocation, errno untouched on success.
 */
#ifndef TIMEKEEPER_H
#define TIMEKEEPER_H

#include <stdint.h>
#include <sys/types.h> /* clockid_t, which <time.h> declares only for POSIX */
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

struct timekeeper;

/* Where a reading comes from (tk_status.source_kind). */
enum tk_source {
	TK_SOURCE_PAGE = 0,	 /* the daemon's page */
	TK_SOURCE_NO_PAGE = 1,	 /* fallback: the page did not exist at tk_open() */
	TK_SOURCE_STALE = 2,	 /* fallback: the page's valid-until has passed */
	TK_SOURCE_GONE = 3,	 /* fallback: the writer process no longer exists */
	TK_SOURCE_MODE_NONE = 4, /* fallback: the daemon's counter cannot be read by clients */
	TK_SOURCE_BUSY = 5,	 /* fallback: the page stayed mid-update past the read's wait */
};

/* The state of a clock's error bound (as ClockBound names them). */
enum tk_clock_status {
	TK_CLOCK_UNKNOWN = 0,	   /* time is not known: no reference has given a bound */
	TK_CLOCK_SYNCHRONIZED = 1, /* the reference gives a bound, and it holds */
	TK_CLOCK_FREE_RUNNING = 2, /* reference lost: holdover, the bound keeps growing */
	TK_CLOCK_DISRUPTED = 3,	   /* the clock misbehaved: do not trust the bound */
};

/* One reading with its bound and status, from one read of the page
 * (tk_read). When the kernel answers, the bound and status are the kernel's
 * (adjtimex maxerror; STA_UNSYNC means UNKNOWN). */
struct tk_reading {
	struct timespec time;	  /* the reading */
	struct timespec earliest; /* time - bound (saturated when unbounded) */
	struct timespec latest;	  /* time + bound (saturated when unbounded) */
	int64_t bound_ns;	  /* INT64_MAX: no bound */
	int status;		  /* enum tk_clock_status */
	int source_kind;	  /* enum tk_source: TK_SOURCE_PAGE, or why the kernel answered */
	uint64_t disruption;	  /* the page's disruption counter (0 from the kernel) */
	uint64_t reserved[4];
};

struct tk_status {
	int synchronized;	  /* 1: the daemon is synchronized (STA_UNSYNC clear) */
	int stale;		  /* 1: readings come from the kernel (source_kind != PAGE) */
	int source_kind;	  /* enum tk_source */
	int clock_mode;		  /* TK_PAGE_MODE_* of the page (0 when none) */
	int leap;		  /* +1 insert, -1 delete a leap second at the end of the day */
	int32_t tai_offset;	  /* s */
	int64_t maxerror_ns;	  /* bound on |REALTIME - UTC| (adjtimex maxerror) */
	int64_t esterror_ns;	  /* estimated error */
	uint64_t disruption;	  /* changes on every clocksource change, step and leap */
	int32_t writer_pid;	  /* the daemon, 0 when no page */
	uint64_t last_update_ns;  /* kernel CLOCK_MONOTONIC of the last update */
	uint64_t valid_until_ns;  /* kernel CLOCK_MONOTONIC after which the page is stale */
	char source[32];	  /* the daemon's clocksource ("tsc", "hpet", ...), or "" */
	int32_t clock_status;	  /* enum tk_clock_status of the page */
	uint32_t bound_drift_ppb; /* how fast the bound grows between updates, ns per s */
	int64_t bound_ns;	  /* the bound at the last update, ns (INT64_MAX: none) */
	uint64_t reserved[2];
};

/* Maps the page: path NULL means $TIMEKEEPER_RUNTIME_DIR/page, else
 * /run/timekeeper/page. A missing page (-ENOENT) still yields a handle whose
 * readings fall back to the kernel; a page with a wrong magic, size, version
 * or unknown feature bits is refused (-EPROTO), as are other open errors. */
int tk_open(const char *path, struct timekeeper **out);

/* CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME,
 * CLOCK_TAI, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE; other ids
 * -EINVAL. Falls back to the kernel's clock_gettime() when the page is
 * missing, stale or in mode NONE. */
int tk_gettime(struct timekeeper *tk, clockid_t clock, struct timespec *ts);

/* An interval that contains true time: [reading - maxerror, reading +
 * maxerror] from one reading of clock (the page's maxerror, or the kernel's
 * adjtimex maxerror on the fallback path). The midpoint is the reading. */
int tk_gettime_bounds(struct timekeeper *tk, clockid_t clock, struct timespec *earliest,
		      struct timespec *latest);

/* One reading of clock with its error bound and status, read together
 * (lock-free, like tk_gettime). */
int tk_read(struct timekeeper *tk, clockid_t clock, struct tk_reading *r);

/* Status, including whether readings currently fall back. Checks that the
 * writer process still exists (one kill(pid, 0) call). */
int tk_status(struct timekeeper *tk, struct tk_status *st);

void tk_close(struct timekeeper *tk);

/*
 * Timers on the daemon's clocks (libtimekeeper(3), "TIMERS"): armed over
 * the control socket, expiries read from a pollable fd, usable from any
 * event loop. Unlike the read functions these make system calls and are
 * not thread-safe: use one struct tk_timers per thread (or lock around it).
 * The timers belong to the handle's connection; tk_timers_close() (or the
 * process's exit) deletes them.
 */
struct tk_timers;

/* tk_timer_arm() flags */
#define TK_TIMER_ABSTIME 0x01 /* value is a time of the clock (else a delay) */
#define TK_TIMER_CANCEL_ON_SET                                                                     \
	0x02 /* ABSTIME REALTIME/TAI: a step cancels it (TK_TIMER_CANCELED) */

/* struct tk_timer_event.kind */
#define TK_TIMER_EXPIRED 1
#define TK_TIMER_CANCELED 2

struct tk_timer_event {
	uint32_t id;
	uint32_t kind;		/* TK_TIMER_EXPIRED or TK_TIMER_CANCELED */
	uint64_t overruns;	/* expiries this event stands for (>= 1; 0 when CANCELED) */
	struct timespec expiry; /* the (last) expiry reported, on the timer's clock
				 * (CANCELED: the expiry canceled) */
	struct timespec ran; /* the timer's clock when the daemon ran it (CANCELED: canceled it) */
};

/* Connects to the daemon's control socket: path NULL means
 * $TIMEKEEPER_RUNTIME_DIR/control, else /run/timekeeper/control.
 * -ENOENT/-ECONNREFUSED: no daemon. */
int tk_timers_open(const char *path, struct tk_timers **out);
/* Deletes the handle's timers (by closing the connection). NULL is ok. */
void tk_timers_close(struct tk_timers *tt);
/* Readable (POLLIN) when events arrived from the daemon. Events that arrive
 * while a tk_timer_*() call waits for its reply are kept in the handle, and
 * the fd does not show them: after a tk_timer_*() call, and after each
 * wake-up, call tk_timers_read() until it returns 0 (or check
 * tk_timers_pending()). */
int tk_timers_fd(const struct tk_timers *tt);
/* How many events are buffered in the handle already (read without polling). */
size_t tk_timers_pending(const struct tk_timers *tt);

/* clock: CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME or CLOCK_TAI (else
 * -EINVAL). name: for `timectl timers`, may be NULL. *id is never 0. */
int tk_timer_create(struct tk_timers *tt, clockid_t clock, const char *name, uint32_t *id);
/* Arms (or re-arms) a timer: first expiry at value (a delay, or with
 * TK_TIMER_ABSTIME a time of the clock), then every interval if interval is
 * non-NULL and non-zero. slack_ns: the expiry may be late by up to this much
 * so that it can share a wake-up; 0 = precise. */
int tk_timer_arm(struct tk_timers *tt, uint32_t id, int flags, const struct timespec *value,
		 const struct timespec *interval, uint64_t slack_ns);
/* Disarms; events already received stay readable. */
int tk_timer_disarm(struct tk_timers *tt, uint32_t id);
int tk_timer_delete(struct tk_timers *tt, uint32_t id);

/* Non-blocking: fills up to cap events, returns how many (0: none pending)
 * or -errno (-ECONNRESET: the daemon went away; the timers are gone). */
int tk_timers_read(struct tk_timers *tt, struct tk_timer_event *ev, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
