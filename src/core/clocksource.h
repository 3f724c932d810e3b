/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The clocksource module, in two parts.
 *
 * The contract between the hardware layer (src/hw) and the core: one
 * struct clocksource per counter. A driver's probe function fills it in and
 * says whether the counter can be used; when it cannot, `reason` holds one
 * line naming the check that failed, what was read and what was expected.
 * What the counter can do is said by its capability flags (enum cs_flags),
 * never by its name: the core and the daemon decide on the flags.
 *
 * The clocksource registry: every counter the hardware layer found, kept in
 * the kernel's rating order, with the core's arithmetic (mult/shift and the
 * limits derived from them), the selection of the current source (with an
 * override by name and unbind), the choice of the watchdog, and demotion and
 * re-admission. Faithful to kernel/time/clocksource.c, except that a demoted
 * source can come back, but only through cs_readmit(). The registry never
 * reads a clock by itself; it holds no time. Everything that happens
 * periodically (watchdog, calibration) lives in wdog.c and calib.c and calls
 * in here with its verdicts.
 *
 * The core never includes a driver's header; it sees counters only through
 * this table. Everything the core adds on top (mult/shift, state, watchdog
 * statistics) lives in the registry's own structures.
 */
#ifndef TK_CORE_CLOCKSOURCE_H
#define TK_CORE_CLOCKSOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/tunit.h"

#define CS_NAME_LEN 32
#define CS_REASON_LEN 256
#define CS_MAX_ATTRS 16
#define CS_ATTR_STR_LEN 96

/* Mask of a counter `bits` wide, as the kernel's CLOCKSOURCE_MASK(). */
#define CS_MASK(bits) ((bits) >= 64 ? UINT64_MAX : ((UINT64_C(1) << (bits)) - 1))

/* The kernel's ratings for these counters. */
enum {
	CS_RATING_TSC = 300,
	CS_RATING_HPET = 250,
	CS_RATING_PMTMR = 200,
	CS_RATING_PMTMR_QUIRK = 120, /* verified triple read in force */
	CS_RATING_KCLOCK = 50,	     /* "unfit" band: a reference of last resort */
};

/* What a counter is and can do, declared by its driver. The core and the
 * daemon decide on these, never on a counter's name. The first five are
 * shown by name in the probe's report and in `timectl sources`. */
enum cs_flags {
	CS_F_CONTINUOUS = 1u << 0, /* counts through idle states */
	/* Must be verified before and while it is trusted: the watchdog
	 * checks it against a reference, the probe warp-tests it across CPUs
	 * (the TSC); it can never be the watchdog itself. */
	CS_F_MUST_VERIFY = 1u << 1,
	CS_F_CLIENT_READ = 1u << 2, /* unprivileged clients can read it themselves */
	CS_F_SIMULATED = 1u << 3,   /* a simulated device, not the hardware */
	CS_F_KNOWN_FREQ = 1u << 4,  /* nominal_hz comes from firmware/CPUID crystal */
	/* Readers read this very counter with RDTSC: with CS_F_CLIENT_READ the
	 * page may publish in TSC mode (readers compute time from their own
	 * reads); otherwise readers fall back to the kernel-clock mappings. */
	CS_F_PAGE_TSC = 1u << 5,
	/* Derived from the kernel's clock (CLOCK_MONOTONIC_RAW in ns): the page
	 * maps kernel time directly, without sampling pairs. */
	CS_F_KERNEL_CLOCK = 1u << 6,
	/* Its frequency is measured against the reference counters while the
	 * daemon runs (the TSC: nominal_hz is absent or only approximate). */
	CS_F_CALIBRATE = 1u << 7,
};

enum cs_attr_kind {
	CS_ATTR_STR,  /* JSON string */
	CS_ATTR_U64,  /* JSON number */
	CS_ATTR_BOOL, /* JSON true/false */
	CS_ATTR_HEX,  /* JSON string "0x..." (addresses exceed JSON's exact integers) */
};

/* Driver-specific facts shown by --probe (address, port, workaround, ...). */
struct cs_attr {
	const char *key; /* static string */
	enum cs_attr_kind kind;
	union {
		char s[CS_ATTR_STR_LEN];
		uint64_t u;
		bool b;
	} v;
};

struct clocksource {
	char name[CS_NAME_LEN];
	bool usable;
	char reason[CS_REASON_LEN]; /* why not usable; empty when usable */

	int rating;
	unsigned int bits;
	uint64_t mask;
	uint64_t nominal_hz;	 /* 0 = unknown (a TSC without CPUID frequency) */
	uint32_t flags;		 /* enum cs_flags */
	uint64_t uncertainty_ns; /* watchdog margin; 0 = let the core compute it */

	/* Reads the counter; the result is already masked. Only when usable. */
	uint64_t (*read)(struct clocksource *cs);
	/* Releases mappings and other resources; may be NULL. */
	void (*release)(struct clocksource *cs);
	void *priv;

	struct cs_attr attrs[CS_MAX_ATTRS];
	unsigned int nattrs;
};

static inline uint64_t cs_read(struct clocksource *cs)
{
	return cs->read(cs);
}

/* Helpers for drivers. */
void cs_init(struct clocksource *cs, const char *name);
void cs_set_unusable(struct clocksource *cs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cs_attr_str(struct clocksource *cs, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void cs_attr_u64(struct clocksource *cs, const char *key, uint64_t v);
void cs_attr_hex(struct clocksource *cs, const char *key, uint64_t v);
void cs_attr_bool(struct clocksource *cs, const char *key, bool v);
const struct cs_attr *cs_attr_get(const struct clocksource *cs, const char *key);
void cs_release(struct clocksource *cs);

/* --- the registry --------------------------------------------------------- */

#define CS_MAX_SOURCES 8

/* WATCHDOG_MAX_SKEW (v6.3+ default of CONFIG_CLOCKSOURCE_WATCHDOG_MAX_SKEW_US), ns */
#define CS_WATCHDOG_MAX_SKEW_NS UINT64_C(125000)
/* WATCHDOG_THRESHOLD: the margin of a source without a frequency, ns */
#define CS_WATCHDOG_THRESHOLD_NS (NSEC_PER_SEC_U >> 5)
/* The 600 s cap of maxsec, applied only to counters wider than 32 bits */
#define CS_MAXSEC_CAP 600u

/* What the core derives from a counter's frequency and mask, as the kernel does at
 * registration. */
struct cs_arith {
	uint32_t mult;
	uint32_t shift;
	uint32_t maxadj;	 /* 11 % of mult, the NTP steering headroom */
	uint64_t max_cycles;	 /* largest delta cycles*mult cannot overflow for */
	uint64_t max_idle_ns;	 /* half the ns of max_cycles: accumulate before this */
	uint64_t uncertainty_ns; /* the watchdog margin */
	uint64_t max_raw_delta;	 /* 0.875 * mask: larger deltas are negative motion */
	uint64_t freq;		 /* the frequency as registered, in units of scale Hz */
	uint32_t scale;		 /* 1 (Hz) or 1000 (kHz) */
};

/* clocks_calc_mult_shift(): mult/shift converting `from` Hz to `to` Hz with
 * maxsec seconds of range before cycles*mult overflows 64 bits. */
void cs_calc_mult_shift(uint32_t *mult, uint32_t *shift, uint32_t from, uint32_t to,
			uint32_t maxsec);

/* clocks_calc_max_nsecs(): returns max_idle_ns (with the 50 % safety margin)
 * and stores max_cycles when the pointer is not NULL. */
uint64_t cs_calc_max_nsecs(uint32_t mult, uint32_t shift, uint32_t maxadj, uint64_t mask,
			   uint64_t *max_cycles);

/* __clocksource_update_freq_scale(): everything in struct cs_arith for a
 * counter of `mask` running at freq*scale Hz (scale 1 or 1000).
 * margin_ns is the driver's uncertainty margin, 0 to compute it.
 * Returns 0, or -EINVAL when freq or scale is 0 or freq does not fit 32 bits. */
int cs_arith_compute(struct cs_arith *a, uint64_t mask, uint64_t freq, uint32_t scale,
		     uint64_t margin_ns);

/* The watchdog's verdict on one check (wdog.c). */
enum cs_verdict {
	CS_VERDICT_NONE,     /* never checked */
	CS_VERDICT_BASELINE, /* first sample after a reset: stored, nothing compared */
	CS_VERDICT_OK,
	CS_VERDICT_SKIP,     /* disturbed or interval too long: nothing concluded */
	CS_VERDICT_UNSTABLE, /* demoted */
	CS_VERDICT_SUSPECT,  /* beyond the margin once: the next check confirms or clears it */
};
const char *cs_verdict_name(enum cs_verdict v);

/* Per-source watchdog statistics and baselines; written by wdog.c. */
struct cs_wd_stats {
	uint64_t checks;	/* samples taken (ok + baseline + skip + suspect + unstable) */
	uint64_t skips;		/* samples skipped: disturbed readout or long interval */
	uint64_t failures;	/* verdicts "unstable" */
	uint64_t retries;	/* readouts repeated because the wd window was too wide */
	uint64_t max_skew_ns;	/* largest |cs interval - wd interval| compared, ns */
	uint64_t suspects;	/* intervals beyond margin + bracket, sent to confirmation */
	uint64_t cleared;	/* suspects the next check did not confirm */
	uint64_t typ_window_ns; /* typical wd-cs-wd bracket, ns (0 = none measured yet) */
	uint64_t demoted_ns;	/* the caller's now_ns at the demotion; 0 = not demoted */
	enum cs_verdict last_verdict;
	char last_reason[CS_REASON_LEN];
	/* baseline (watchdog-internal): the last readout, the cs count paired
	 * with the watchdog count at the middle of its bracket */
	bool have_base;
	uint64_t cs_last, wd_last;
	uint64_t half_last_ns; /* half the last readout's bracket, ns */
	uint64_t last_now_ns;  /* the caller's now_ns at the last readout */
	bool have_window;      /* typ_window_ns was measured */
	/* the span since the anchor: the last readout within the margin, or
	 * an earlier, narrower one (wdog.c) */
	bool suspect;
	uint64_t anchor_half_ns;
	int64_t span_cs_ns;
	uint64_t span_wd_ns;
	unsigned int span_checks;
	int64_t suspect_skew_ns; /* the suspect interval's cs - wd, ns */
	uint64_t back_cycles;	 /* > 0: the suspect interval ran backwards by this */
	uint64_t back_from, back_to;
	unsigned int slow_run; /* readouts in a row with an excessive read-back delay */
};

enum cs_state {
	CS_STATE_CURRENT,  /* the selected source */
	CS_STATE_OK,	   /* selectable */
	CS_STATE_UNSTABLE, /* demoted by the watchdog, the warp test or an operator */
	CS_STATE_UNBOUND,  /* unbound by an operator */
	CS_STATE_UNUSABLE, /* the driver said no, or no frequency known yet */
};
const char *cs_state_name(enum cs_state s);

/* The core's view of one registered counter. */
struct cs_entry {
	struct clocksource *cs; /* the driver's; owned by the caller */
	int rating;		/* effective: 0 while unstable */
	bool unstable;
	bool unbound;
	char reason[CS_REASON_LEN]; /* why unstable/unusable; empty otherwise */
	uint64_t hz;		    /* frequency the arithmetic uses (nominal or calibrated), Hz */
	bool have_arith;	    /* false until a frequency is known */
	struct cs_arith ar;
	struct cs_wd_stats wd;
};

struct cs_registry {
	struct cs_entry slot[CS_MAX_SOURCES];
	struct cs_entry *list[CS_MAX_SOURCES]; /* by rating, descending */
	unsigned int n;
	struct cs_entry *current;
	struct cs_entry *watchdog;
	char override[CS_NAME_LEN]; /* "" = none; may name a source not registered yet */
	char event[CS_REASON_LEN];  /* the last selection change, for the log */
};

void cs_registry_init(struct cs_registry *r);

/* Registers a driver's counter (kept sorted: after every entry of equal or
 * higher rating), computes its arithmetic from nominal_hz (counters wider
 * than 32 bits in kHz like the kernel's TSC, others in Hz), then reselects
 * the watchdog and the current source. An unusable counter is listed with
 * state unusable. Returns the entry, or NULL when the name is taken or the
 * registry is full. */
struct cs_entry *cs_register(struct cs_registry *r, struct clocksource *cs);

struct cs_entry *cs_find(struct cs_registry *r, const char *name);
enum cs_state cs_entry_state(const struct cs_registry *r, const struct cs_entry *e);

/* Sets the frequency (Hz) the core uses for a counter (the calibrated TSC:
 * calib_hz()), recomputes its arithmetic (the watchdog converts with it); a
 * source that had no frequency becomes selectable. Cheap and safe to call
 * after every calibration update: watchdog baselines are kept. Returns 0 or
 * -EINVAL. */
int cs_set_freq(struct cs_registry *r, struct cs_entry *e, uint64_t hz);

/* Runs the selection (clocksource_select): the best selectable source, or
 * the override when it names one. Returns the current entry (NULL if none). */
struct cs_entry *cs_select(struct cs_registry *r);

/* The override (`clocksource =` and the control interface). One trailing
 * '\n' is stripped; "" clears it. Returns 0 when set (also when no source
 * has that name yet: it is remembered and wins when one registers),
 * -EINVAL for a name of 32 chars or more, -EBUSY when the source is unstable
 * or unusable (the override is then cleared). why (may be NULL) gets one
 * line saying what happened. */
int cs_override(struct cs_registry *r, const char *name, char *why, size_t whylen);

/* Unbind (unbind_clocksource): -ENODEV for an unknown or already unbound
 * name; -EBUSY when it is the watchdog and no other source can watch, or
 * the current source and nothing else is selectable. */
int cs_unbind(struct cs_registry *r, const char *name, char *why, size_t whylen);

/* Demotes: rating 0, unstable, re-sorted, reselected. reason is kept in the
 * entry. Already unstable: nothing changes. */
void cs_mark_unstable(struct cs_registry *r, struct cs_entry *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The operator's way back: restores the driver's rating, clears unstable
 * and unbound, resets watchdog baselines and reselects. -ENODEV when
 * unknown, -EINVAL when the driver said the counter is unusable. */
int cs_readmit(struct cs_registry *r, const char *name, char *why, size_t whylen);

/* Forgets every watchdog baseline (watchdog change, resume, disturbance). */
void cs_reset_baselines(struct cs_registry *r);

/* clocksource_delta() v6.13+: (now - last) & mask, 0 when above
 * max_raw_delta (a reading just behind the last one: negative motion, not a
 * jump of ~2^64). */
uint64_t cs_delta(const struct cs_entry *e, uint64_t now, uint64_t last);

/* Cycles to ns for a delta; 128-bit math above max_cycles so that long
 * deltas do not overflow. */
uint64_t cs_cyc2ns(const struct cs_entry *e, uint64_t cycles);

#endif
