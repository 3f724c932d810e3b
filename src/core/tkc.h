/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's timekeeper: the kernel's struct timekeeper in user space
 * on one counter. It accumulates the counter in shifted ns with
 * the kernel's logarithmic accumulation, steers mult from the NTP tick
 * length (adjtimex.c) with the xtime_nsec compensation that keeps readers
 * continuous, applies leap seconds and steps to REALTIME only (MONOTONIC
 * never moves back), and survives a change of clocksource without a jump.
 *
 * Explicit counter: the timekeeper reads time only through cs->read(), so
 * tests drive it with simulated devices on a fake clock. The caller runs
 * tkc_advance() every 1/hz s (TKC_HZ = 100: every 10 ms), which must be
 * well under the counter's max_idle_ns (acpi_pm: 2.09 s).
 *
 * Not thread-safe: one writer (the daemon's loop) does everything; the page
 * writer publishes tkc_view() after each update.
 */
#ifndef TK_CORE_TKC_H
#define TK_CORE_TKC_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/clocksource.h"
#include "core/adjtimex.h"
#include "core/tkview.h"

#define TKC_HZ 100 /* default accumulation rate: NTP_INTERVAL_FREQ of the daemon */

/* One read base (struct tk_read_base). */
struct tkc_base {
	uint64_t cycle_last;
	uint64_t mask;
	uint64_t max_cycles;
	uint64_t max_raw_delta; /* larger deltas are negative motion: time stands still */
	uint32_t mult;
	uint32_t shift;
	uint64_t xtime_nsec; /* ns << shift since the last whole second */
};

/* The kernel's clocks when the daemon starts; the timekeeper takes over
 * from them. */
struct tkc_start {
	struct timespec real;
	struct timespec mono; /* <= real */
	struct timespec boot; /* >= mono */
	struct timespec raw;
	int32_t tai_offset; /* s */
	/* The counter's value at the instant the clocks above were read, when
	 * known (have_cycles); else tkc_init() reads it, later by however long
	 * the caller took since. */
	uint64_t cycles;
	bool have_cycles;
};

struct tkc {
	struct clocksource *cs;
	struct cs_arith ar; /* the arithmetic in use (a copy: the registry may recompute its own) */

	struct tkc_base mono, raw;
	int64_t xtime_sec;
	int64_t raw_sec;
	struct tkv_timespec wtm; /* wall_to_monotonic, <= 0 */
	struct tkv_timespec mono_to_boot;
	int32_t tai_offset;
	uint64_t coarse_nsec;

	uint64_t cycle_interval;  /* cycles per 1/hz s */
	uint64_t xtime_interval;  /* shifted ns per cycle_interval, mono (steered) */
	uint64_t xtime_remainder; /* shifted ns of the interval lost to rounding (mod 2^64) */
	uint64_t raw_interval;
	uint64_t ntp_tick; /* the tick length the mult was computed for */
	int64_t ntp_error; /* ns << (shift + ntp_error_shift): NTP minus accumulated */
	uint32_t ntp_error_shift;
	uint32_t ntp_err_mult;
	bool skip_second_overflow;
	bool over_maxadj; /* mult was steered more than 11 % away (the kernel's one-time warning) */

	struct ntp_state ntp;
	uint64_t clock_was_set_seq;
	uint64_t cs_change_seq;
};

/* Starts on cs with its arithmetic ar (from the registry's entry) at hz
 * accumulations per second, from the kernel's clocks in start. Returns 0,
 * or -EINVAL: hz outside 1..1000, a clock's nsec outside 0..999999999,
 * real before mono, boot before mono, or an unusable counter. */
int tkc_init(struct tkc *tk, struct clocksource *cs, const struct cs_arith *ar, unsigned int hz,
	     const struct tkc_start *start);

/* The periodic update (update_wall_time): accumulates whole intervals and
 * steers mult. Returns 1 when a leap second was applied (clock was set),
 * else 0. */
int tkc_advance(struct tkc *tk);

/* change_clocksource(): forward on the old counter to now, rebase on the
 * new one, convert the shift units, ntp_clear() keeping the frequency; bumps
 * cs_change_seq and clock_was_set_seq. Also for the same counter with new
 * arithmetic (a recalibrated TSC). -EINVAL for a counter without read(). */
int tkc_change_clocksource(struct tkc *tk, struct clocksource *cs, const struct cs_arith *ar);

/* settimeofday(): sets REALTIME; MONOTONIC does not move. -EINVAL for an
 * invalid time or one that would make wall_to_monotonic positive
 * (REALTIME before MONOTONIC). Clears NTP as the kernel does. */
int tkc_settime(struct tkc *tk, const struct timespec *real);

/* ADJ_SETOFFSET: adds delta (tv_nsec 0..999999999; a negative offset has a
 * negative tv_sec) to REALTIME; MONOTONIC does not move. -EINVAL as above. */
int tkc_inject_offset(struct tkc *tk, const struct timespec *delta);

/* do_adjtimex(): validation, ADJ_SETOFFSET first, the NTP modes, a TAI
 * change, and for ADJ_FREQUENCY/ADJ_TICK an immediate mult update. Returns
 * the clock state (NTP_TIME_*) or -EINVAL. No privilege check. */
int tkc_adjtimex(struct tkc *tk, struct ntp_timex *tx);

/* Reads a clock (CLOCK_REALTIME, _MONOTONIC, _MONOTONIC_RAW, _BOOTTIME,
 * _TAI, _REALTIME_COARSE, _MONOTONIC_COARSE) at the counter's current
 * value. -EINVAL for another clock id. */
int tkc_get(struct tkc *tk, clockid_t id, struct timespec *ts);

/* The same at a given counter value (tests; the seqlock page's formula). */
int tkc_get_at(const struct tkc *tk, clockid_t id, uint64_t cycles, struct timespec *ts);

/* Fills the page writer's view (src/core/tkview.h). */
void tkc_view(const struct tkc *tk, struct tkv *v);

/* Longest time between tkc_advance() calls before the counter aliases. */
static inline uint64_t tkc_max_idle_ns(const struct tkc *tk)
{
	return tk->ar.max_idle_ns;
}

#endif
