/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TSC calibration against a reference counter (hpet, else acpi_pm, else
 * kclock: the best source that need not be verified; the caller may force
 * one). The kernel's two steps (tsc-early, then tsc): a quick value after
 * CALIB_QUICK_NS, a refined one after CALIB_REFINE_NS accepted only within
 * 1 % of the quick one; then, beyond the kernel, continuous refinement over
 * a growing baseline from the first sample, with an uncertainty derived from
 * the read windows and the reference's tick.
 *
 * Each sample reads TSC, reference, TSC and is retried (up to 5 times) when
 * the TSC window is wider than the kernel's SMI guard. The reference's count
 * is extended past its wraps by accumulating masked deltas, so the caller
 * must poll more often than the reference wraps (acpi_pm: 4.69 s; polling
 * every 10-100 ms is right). Once a frequency is known, a longer gap is
 * bridged by predicting the reference count from the TSC.
 *
 * Explicit-now style: calib_poll(c, now_ns) decides when to sample; now_ns
 * is the caller's monotonic time and only schedules, all measurement uses
 * the two counters.
 */
#ifndef TK_CORE_CALIB_H
#define TK_CORE_CALIB_H

#include <stdbool.h>
#include <stdint.h>

#include "core/clocksource.h"

#define CALIB_QUICK_NS UINT64_C(50000000)	 /* quick value after 50 ms */
#define CALIB_REFINE_NS UINT64_C(1000000000)	 /* refined value after 1 s */
#define CALIB_CONTINUOUS_NS UINT64_C(2000000000) /* continuous from 2 s on */
#define CALIB_MAX_RETRIES 5			 /* tsc_read_refs() MAX_RETRIES */
#define CALIB_DEFAULT_THRESH 0x20000u		 /* TSC_DEFAULT_THRESHOLD, cycles */

enum calib_state {
	CALIB_STATE_NONE,	/* no value yet */
	CALIB_STATE_QUICK,	/* quick value only */
	CALIB_STATE_REFINED,	/* refined value (1 s baseline) */
	CALIB_STATE_CONTINUOUS, /* refined further over a growing baseline */
};
const char *calib_state_name(enum calib_state s);

struct calib_result {
	enum calib_state state;
	double calibrated_hz;	/* our best measurement of the TSC, Hz (0 = none yet) */
	double uncertainty_ppb; /* bound on calibrated_hz's error, parts per billion */
	double quick_hz;	/* Hz; 0 = none */
	double refined_hz;	/* Hz; 0 = none */
	bool refined_accepted;	/* refined within 1 % of quick */
	/* What the kernel would run the TSC at, Hz: the firmware value with
	 * CS_F_KNOWN_FREQ, else refined when accepted, else quick. */
	uint64_t kernel_hz;
	char calibrated_against[CS_NAME_LEN];
	double baseline_s;	     /* reference seconds between anchor and last sample */
	uint64_t samples;	     /* bracketed samples taken */
	uint64_t retries;	     /* reference reads repeated: window too wide */
	uint64_t disturbed;	     /* samples given up after CALIB_MAX_RETRIES */
	char warning[CS_REASON_LEN]; /* "" or one line (disagreeing values, ...) */
};

struct calib_sample {
	uint64_t tsc;	  /* middle of the window, cycles */
	uint64_t window;  /* TSC cycles between the two TSC reads */
	uint64_t ref_ext; /* reference count extended past wraps */
};

struct calib {
	struct clocksource *tsc;
	struct clocksource *ref;
	uint64_t ref_hz;
	uint64_t start_ns;
	uint64_t last_poll_ns;
	uint64_t ref_last; /* last raw reference reading */
	uint64_t tsc_last; /* TSC at that reading */
	uint64_t ref_ext;  /* extended reference count at ref_last */
	bool have_anchor;
	uint64_t anchor_ns;
	struct calib_sample anchor, last;
	struct calib_result res;
};

/* Starts calibrating tsc against ref (which must be usable, with a known
 * nominal_hz). The anchor sample is taken now. Returns 0, or -EINVAL. */
int calib_start(struct calib *c, struct clocksource *tsc, struct clocksource *ref, uint64_t now_ns);

/* Call periodically (every 10-100 ms; at most every second or so once
 * continuous). Takes a sample when one is due. Returns 1 when the result
 * changed, 0 otherwise. */
int calib_poll(struct calib *c, uint64_t now_ns);

void calib_result(const struct calib *c, struct calib_result *res);

/* The frequency to give the registry (cs_set_freq), Hz; 0 = none yet. */
uint64_t calib_hz(const struct calib *c);

#endif
