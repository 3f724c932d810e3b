/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The clocksource watchdog: every 0.5 s (a fixed cadence the caller
 * schedules with wdog_next_due()), each counter that must be verified (the
 * TSC) is read between reads of the watchdog source (hpet, else acpi_pm,
 * else kclock) and the intervals since the last check are compared. A
 * counter whose interval differs by more than both margins is demoted and
 * the registry reselects. Disturbed readouts are retried, then skipped, and
 * never condemn a counter unless every attempt was disturbed (the kernel's
 * clocksource watchdog, with its v6.12 limits).
 *
 * Explicit-now style: the module reads the counters but never the time;
 * now_ns is the caller's monotonic time and only decides cadence and
 * back-off. Verdicts and statistics land in each entry's cs_wd_stats.
 */
#ifndef TK_CORE_WDOG_H
#define TK_CORE_WDOG_H

#include <stdint.h>

#include "core/clocksource.h"

#define WDOG_INTERVAL_NS UINT64_C(500000000)		  /* WATCHDOG_INTERVAL, HZ >> 1 */
#define WDOG_INTERVAL_MAX_NS UINT64_C(1000000000)	  /* WATCHDOG_INTERVAL_MAX_NS (v6.8+) */
#define WDOG_SKIP_BACKOFF_NS (UINT64_C(300) * 1000000000) /* extra_wait: 5 min */

struct wdog_conf {
	uint64_t interval_ns; /* 0 = WDOG_INTERVAL_NS */
	uint64_t backoff_ns;  /* pause after a disturbed (SKIP) readout; 0 = 5 min */
	unsigned int ncpus;   /* online CPUs for the retry count; 0 = ask the system */
};

struct wdog {
	struct cs_registry *r;
	uint64_t interval_ns;
	uint64_t backoff_ns;
	unsigned int max_retries; /* ilog2(ncpus)/2 + 1: attempts = max_retries + 1 */
	uint64_t next_due;	  /* ns, the caller's clock */
	uint64_t backoff_until;	  /* ns; 0 = none */
	struct cs_entry *last_wd; /* to notice a watchdog change */
	uint64_t ticks;		  /* ticks that ran a check */
	uint64_t backoffs;	  /* times a disturbed readout paused the watchdog */
};

/* ilog2(ncpus)/2 + 1 (v6.9+, clocksource_get_max_watchdog_retry()). */
unsigned int wdog_max_retries(unsigned int ncpus);

/* conf may be NULL for the defaults. The first check is due at
 * now_ns + interval. */
void wdog_init(struct wdog *w, struct cs_registry *r, const struct wdog_conf *conf,
	       uint64_t now_ns);

/* When the next tick is due (ns): the previous due time + interval, a fixed
 * cadence like the kernel's `expires += WATCHDOG_INTERVAL`. */
uint64_t wdog_next_due(const struct wdog *w);

/* One watchdog pass when now_ns >= the due time (earlier calls do nothing
 * and return 0). Returns the number of sources demoted in this pass. */
int wdog_tick(struct wdog *w, uint64_t now_ns);

#endif
