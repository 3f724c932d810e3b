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

#ifdef __cplusplus
}
#endif

#endif
