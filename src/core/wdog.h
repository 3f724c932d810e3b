/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The clocksource watchdog: every 0.5 s (a fixed cadence the caller
 * schedules with wdog_next_due()), each counter that must be verified (the
 * TSC) is read between reads of the watchdog source (hpet, else acpi_pm,
 * else kclock) and the intervals since the last check are compared.
 *
 * A verdict never rests on a delayed read. The counter's reading is paired
 * with the middle of its watchdog bracket, whose half-width bounds how far
 * off that pairing can be, whatever delayed the reads; an interval condemns
 * only when it differs by more than both margins plus the half-brackets at
 * its two ends. Wide brackets are retried and the narrowest kept, a disturbed
 * readout skipped (baselines kept; the pause comes only after
 * WDOG_DISTURBED_MAX in a row), and so is one whose every window was too
 * wide (demoted as unverifiable only after WDOG_SLOW_MAX in a row). An
 * interval beyond the margin makes the counter a suspect; the next
 * readout, compared with the last good one across both intervals, confirms
 * it (demotion) or clears it: a drift, a step or a stall persists, a bad
 * read does not. doc/architecture.md, "Clocksource framework", says why.
 *
 * Explicit-now style: the module reads the counters but never the time;
 * now_ns is the caller's monotonic time and only decides cadence, back-off,
 * whether a gap between readouts is too long to compare, and the
 * demotion's timestamp. Verdicts, statistics and the evidence land in each
 * entry's cs_wd_stats.
 */
#ifndef TK_CORE_WDOG_H
#define TK_CORE_WDOG_H

#include <stdint.h>

#include "core/clocksource.h"

#define WDOG_INTERVAL_NS UINT64_C(500000000) /* WATCHDOG_INTERVAL, HZ >> 1 */
/* The longest gap between two readouts that is compared, by the caller's
 * clock and by the watchdog's: under half the acpi_pm wrap (4.69 s), so a
 * masked watchdog delta is never ambiguous. (The kernel's limit is 1 s and
 * a single skipped check exceeds it.) */
#define WDOG_GAP_MAX_NS UINT64_C(2000000000)
/* A narrow readout stays the comparison's anchor against wider ones that
 * follow until the span from it reaches this. */
#define WDOG_ANCHOR_SPAN_NS UINT64_C(1000000000)
#define WDOG_SKIP_BACKOFF_NS (UINT64_C(300) * 1000000000) /* extra_wait: 5 min */
/* Disturbed readouts in a row (2 s at the default interval) before the pause. */
#define WDOG_DISTURBED_MAX 4u
/* Checks a suspect's span may grow to while readouts are too wide to
 * confirm or clear it; then it is cleared. */
#define WDOG_SUSPECT_CHECKS 4u
/* Readouts in a row whose every window was over the kernel's limit (the
 * watchdog's own reads fast) before the counter is demoted as unverifiable. */
#define WDOG_SLOW_MAX 8u
/* Readout attempts at least (the kernel's ilog2(ncpus)/2 + 1 where more). */
#define WDOG_ATTEMPTS 3u
/* A bracket wider than twice the typical one plus this is retried. */
#define WDOG_WINDOW_SLACK_NS UINT64_C(10000)

struct wdog_conf {
	uint64_t interval_ns; /* 0 = WDOG_INTERVAL_NS */
	/* After a check that leaves a counter suspect, or its span within the
	 * margin but past half of it (the span then goes on from the same
	 * anchor), the next one comes this soon (off the cadence, which is
	 * kept), so a counter checked seldom is still judged quickly; 0 = at
	 * the cadence, anchors as before. */
	uint64_t retry_ns;
	uint64_t backoff_ns; /* pause after WDOG_DISTURBED_MAX disturbed readouts; 0 = 5 min */
	unsigned int ncpus;  /* online CPUs for the retry count; 0 = ask the system */
};

struct wdog {
	struct cs_registry *r;
	uint64_t interval_ns;
	uint64_t retry_ns; /* wdog_conf.retry_ns */
	uint64_t backoff_ns;
	unsigned int max_retries; /* ilog2(ncpus)/2 + 1, the kernel's (see wdog_attempts()) */
	uint64_t next_due;	  /* ns, the caller's clock: the cadence's, or a retry's */
	uint64_t grid_due;	  /* ns, the cadence's next point */
	uint64_t retries;	  /* checks moved forward to confirm or clear a suspect */
	bool recheck;		  /* this tick: a span past half its margin, look again soon */
	uint64_t backoff_until;	  /* ns; 0 = none */
	struct cs_entry *last_wd; /* to notice a watchdog change */
	uint64_t ticks;		  /* ticks that ran a check */
	uint64_t backoffs;	  /* times disturbed readouts paused the watchdog */
	unsigned int disturbed;	  /* disturbed readouts in a row */
};

/* ilog2(ncpus)/2 + 1 (v6.9+, clocksource_get_max_watchdog_retry()). */
unsigned int wdog_max_retries(unsigned int ncpus);

/* Readout attempts per check: max_retries + 1, at least WDOG_ATTEMPTS. */
unsigned int wdog_attempts(const struct wdog *w);

/* conf may be NULL for the defaults. The first check is due at
 * now_ns + interval. */
void wdog_init(struct wdog *w, struct cs_registry *r, const struct wdog_conf *conf,
	       uint64_t now_ns);

/* When the next tick is due (ns): the previous due time + interval, a fixed
 * cadence like the kernel's `expires += WATCHDOG_INTERVAL`; retry_ns after
 * a check that left a counter suspect, when that is sooner (the cadence
 * goes on from where it was). */
uint64_t wdog_next_due(const struct wdog *w);

/* One watchdog pass when now_ns >= the due time (earlier calls do nothing
 * and return 0). Returns the number of sources demoted in this pass; a
 * demoted entry's wd.demoted_ns is now_ns. */
int wdog_tick(struct wdog *w, uint64_t now_ns);

#endif
