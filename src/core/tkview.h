/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the timekeeper hands the page writer on every update: its read bases
 * and offsets, exactly as the kernel's update_vsyscall() takes them from
 * struct timekeeper, plus the discipline's status. The
 * timekeeper (tkc.c) fills it; the page writer (pagew.c) publishes it.
 * Neither includes the other's header.
 */
#ifndef TK_CORE_TKVIEW_H
#define TK_CORE_TKVIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "core/clocksource.h"

/* One read base (struct tk_read_base): ns = ((cycles - cycle_last) & mask)
 * * mult + xtime_nsec, all >> shift. */
struct tkv_base {
	uint64_t cycle_last;
	uint64_t mask;
	uint64_t max_cycles; /* deltas above it need 128-bit math / are negative motion */
	uint32_t mult;	     /* NTP-steered for mono, the source's own for raw */
	uint32_t shift;
	uint64_t xtime_nsec; /* shifted ns since the base's last whole second */
};

struct tkv_timespec {
	int64_t sec;
	int64_t nsec; /* always 0..999999999 */
};

struct tkv {
	struct tkv_base mono;		       /* REALTIME/MONOTONIC/BOOTTIME/TAI */
	struct tkv_base raw;		       /* MONOTONIC_RAW */
	int64_t xtime_sec;		       /* REALTIME seconds */
	int64_t raw_sec;		       /* MONOTONIC_RAW seconds */
	struct tkv_timespec wall_to_monotonic; /* <= 0 */
	struct tkv_timespec monotonic_to_boot; /* >= 0 */
	int32_t tai_offset;		       /* s */
	uint64_t coarse_nsec; /* unshifted ns of the last accumulation (coarse clocks) */

	/* The counter behind the bases. */
	char cs_name[CS_NAME_LEN];
	bool cs_client_readable; /* clients may read it themselves (CS_F_CLIENT_READ) */
	bool cs_page_tsc;	 /* readers read it with RDTSC (CS_F_PAGE_TSC) */
	bool cs_kernel_clock;	 /* it is the kernel's clock (CS_F_KERNEL_CLOCK) */

	/* Discipline status (adjtimex view). */
	uint32_t ntp_status; /* STA_* bits */
	int ntp_state;	     /* TIME_OK .. TIME_ERROR */
	int64_t maxerror_us;
	int64_t esterror_us;
	int64_t freq_scaled_ppm; /* timex.freq units: ppm << 16 */

	/* The error bound (core/bound.h), filled by the daemon after the
	 * timekeeper: bound_ns at bound_t_ns (the timekeeper's MONOTONIC),
	 * growing at bound_drift_ppb. bound_valid false: the page derives it
	 * from maxerror_us and ntp_status as adjtimex has them. */
	bool bound_valid;
	uint32_t bound_status; /* TK_PAGE_BS_* */
	uint32_t bound_drift_ppb;
	int64_t bound_ns; /* INT64_MAX: no bound */
	int64_t bound_t_ns;

	uint64_t clock_was_set_seq; /* bumped on every step and leap */
	uint64_t cs_change_seq;	    /* bumped on every change of clocksource */
};

#endif
