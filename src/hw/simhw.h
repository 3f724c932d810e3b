/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Simulated HPET, ACPI PM timer and TSC: counters with the real widths and
 * wraps, driven by one clock (CLOCK_MONOTONIC_RAW by default, a fake clock in
 * tests), with injectable faults. They stand in for hardware in tests and
 * demos; they never stand in for a missing driver.
 */
#ifndef TK_HW_SIMHW_H
#define TK_HW_SIMHW_H

#include <stddef.h>
#include <stdint.h>

#include "core/clocksource.h"

enum sim_dev { SIM_HPET, SIM_PMTMR, SIM_TSC, SIM_NDEV };

enum sim_fault_kind {
	SIM_FAULT_NONE,
	SIM_FAULT_DRIFT,  /* drift:<ppm>ppm@<s>s  frequency error added from time s on */
	SIM_FAULT_STEP,   /* step:<ns>ns@<s>s     counter jumps by ns worth of cycles at s */
	SIM_FAULT_STALL,  /* stall@<s>s           counter stops at s */
	SIM_FAULT_SPIKES, /* spikes:<ns>ns        some reads take ns longer */
};

struct sim_fault {
	enum sim_fault_kind kind;
	double ppm;        /* DRIFT */
	int64_t step_ns;   /* STEP (may be negative) */
	uint64_t at_ns;    /* DRIFT, STEP, STALL: when, from the device's creation */
	uint64_t spike_ns; /* SPIKES */
};

struct sim_conf {
	uint32_t devices; /* bit (1u << enum sim_dev) per simulated device */
	uint64_t hz[SIM_NDEV];
	double oscillator_error_ppm; /* shared by all devices (one crystal) */
	double error_ppm[SIM_NDEV];  /* each device's own error on top */
	struct sim_fault fault[SIM_NDEV];
	uint64_t seed; /* for spike placement and start values; 0 = fixed default */
};

/* The clock that drives simulated devices. delay_ns makes a read "take
 * longer": real devices busy-wait, a fake clock just advances. */
struct sim_clock {
	uint64_t (*now_ns)(void *ctx);
	void (*delay_ns)(void *ctx, uint64_t ns);
	void *ctx;
};

/* Defaults: hpet 14318180 Hz, acpi_pm 3579545 Hz, tsc 2400000000 Hz, no
 * errors, no faults, no devices. */
void simhw_conf_default(struct sim_conf *conf);

/* "hpet" / "acpi_pm" / "tsc" -> enum sim_dev; -1 when unknown. */
int simhw_dev_from_name(const char *name);
const char *simhw_dev_name(enum sim_dev dev);

/* Parses "none", "drift:1000ppm@2s", "step:5000000ns@3s", "stall@2s",
 * "spikes:200000ns". Returns 0, or -EINVAL with a message in err naming
 * what was read and what was expected. */
int simhw_parse_fault(const char *text, struct sim_fault *fault, char *err, size_t errlen);

/* Writes fault in the form simhw_parse_fault() reads ("none" for none);
 * returns what snprintf returns. */
int simhw_format_fault(const struct sim_fault *fault, char *buf, size_t len);

/* Fills cs with a simulated device (usable, CS_F_SIMULATED set, name as the
 * real device's). clk NULL means CLOCK_MONOTONIC_RAW with busy-wait delays;
 * a clk given is copied and is the only clock the device ever reads.
 * start_count is the counter's value at creation (tests use it to put a wrap
 * close). The count at t ns after creation is start_count + t * hz_eff / 1e9
 * (rounded down, wrapped by the mask), hz_eff = hz * (1 + (oscillator_error_ppm
 * + error_ppm[dev]) * 1e-6), with the device's fault applied; a step adds
 * step_ns * hz_eff / 1e9 cycles. Returns 0 or -errno (cs unusable, with why). */
int simhw_create(enum sim_dev dev, const struct sim_conf *conf, const struct sim_clock *clk,
		 uint64_t start_count, struct clocksource *cs);

#endif
