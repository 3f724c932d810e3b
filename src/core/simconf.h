/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the [sim] section configures: which simulated devices exist, their
 * frequencies, oscillator errors and injected faults. The configuration is
 * the core's (conf.c reads it); the hardware layer's simhw.c builds the
 * simulated counters from it.
 */
#ifndef TK_CORE_SIMCONF_H
#define TK_CORE_SIMCONF_H

#include <stddef.h>
#include <stdint.h>

enum sim_dev { SIM_HPET, SIM_PMTMR, SIM_TSC, SIM_NDEV };

enum sim_fault_kind {
	SIM_FAULT_NONE,
	SIM_FAULT_DRIFT,  /* drift:<ppm>ppm@<s>s  frequency error added from time s on */
	SIM_FAULT_STEP,	  /* step:<ns>ns@<s>s     counter jumps by ns worth of cycles at s */
	SIM_FAULT_STALL,  /* stall@<s>s           counter stops at s */
	SIM_FAULT_SPIKES, /* spikes:<ns>ns        some reads take ns longer */
};

struct sim_fault {
	enum sim_fault_kind kind;
	double ppm;	   /* DRIFT */
	int64_t step_ns;   /* STEP (may be negative) */
	uint64_t at_ns;	   /* DRIFT, STEP, STALL: when, from the device's creation */
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

/* Defaults: hpet 14318180 Hz, acpi_pm 3579545 Hz, tsc 2400000000 Hz, no
 * errors, no faults, no devices. */
void simconf_default(struct sim_conf *conf);

/* "hpet" / "acpi_pm" / "tsc" -> enum sim_dev; -1 when unknown. */
int simconf_dev_from_name(const char *name);
const char *simconf_dev_name(enum sim_dev dev);

/* Parses "none", "drift:1000ppm@2s", "step:5000000ns@3s", "stall@2s",
 * "spikes:200000ns". Returns 0, or -EINVAL with a message in err naming
 * what was read and what was expected. */
int simconf_parse_fault(const char *text, struct sim_fault *fault, char *err, size_t errlen);

/* Writes fault in the form simconf_parse_fault() reads ("none" for none);
 * returns what snprintf returns. */
int simconf_format_fault(const struct sim_fault *fault, char *buf, size_t len);

#endif
