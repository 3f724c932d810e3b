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
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

struct timekeeper;

/* Where a reading comes from (tk_status.source_kind). */
enum tk_source {
	TK_SOURCE_PAGE = 0,      /* the daemon's page */
	TK_SOURCE_NO_PAGE = 1,   /* fallback: the page did not exist at tk_open() */
	TK_SOURCE_STALE = 2,     /* fallback: the page's valid-until has passed */
	TK_SOURCE_GONE = 3,      /* fallback: the writer process no longer exists */
	TK_SOURCE_MODE_NONE = 4, /* fallback: the daemon's counter cannot be read by clients */
};

struct tk_status {
	int synchronized;          /* 1: the daemon is synchronized (STA_UNSYNC clear) */
	int stale;                 /* 1: readings come from the kernel (source_kind != PAGE) */
	int source_kind;           /* enum tk_source */
	int clock_mode;            /* TK_PAGE_MODE_* of the page (0 when none) */
	int leap;                  /* +1 insert, -1 delete a leap second at the end of the day */
	int32_t tai_offset;        /* s */
	int64_t maxerror_ns;       /* bound on |REALTIME - UTC| (adjtimex maxerror) */
	int64_t esterror_ns;       /* estimated error */
	uint64_t disruption;       /* changes on every clocksource change, step and leap */
	int32_t writer_pid;        /* the daemon, 0 when no page */
	uint64_t last_update_ns;   /* kernel CLOCK_MONOTONIC of the last update */
	uint64_t valid_until_ns;   /* kernel CLOCK_MONOTONIC after which the page is stale */
	char source[32];           /* the daemon's clocksource ("tsc", "hpet", ...), or "" */
	uint64_t reserved[4];
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
#define TK_TIMER_ABSTIME 0x01       /* value is a time of the clock (else a delay) */
#define TK_TIMER_CANCEL_ON_SET 0x02 /* ABSTIME REALTIME/TAI: a step cancels it (TK_TIMER_CANCELED) */

/* struct tk_timer_event.kind */
#define TK_TIMER_EXPIRED 1
#define TK_TIMER_CANCELED 2

struct tk_timer_event {
	uint32_t id;
	uint32_t kind;          /* TK_TIMER_EXPIRED or TK_TIMER_CANCELED */
	uint64_t overruns;      /* expiries this event stands for (>= 1; 0 when CANCELED) */
	struct timespec expiry; /* the (last) expiry reported, on the timer's clock
				 * (CANCELED: the expiry canceled) */
	struct timespec ran;    /* the timer's clock when the daemon ran it (CANCELED: canceled it) */
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
