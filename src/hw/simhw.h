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
#include "core/simconf.h"

/* The clock that drives simulated devices. delay_ns makes a read "take
 * longer": real devices busy-wait, a fake clock just advances. */
struct sim_clock {
	uint64_t (*now_ns)(void *ctx);
	void (*delay_ns)(void *ctx, uint64_t ns);
	void *ctx;
};

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
