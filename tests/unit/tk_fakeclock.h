/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A fake clock for the suites that run simulated devices in simulated time:
 * fake_now is the time, a device's read delay advances it. Each test file
 * that includes this gets its own copy.
 */
#ifndef TK_TESTS_TK_FAKECLOCK_H
#define TK_TESTS_TK_FAKECLOCK_H

#include <stdint.h>

#include "hw/simhw.h"

static uint64_t fake_now;

static uint64_t clk_now(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static void clk_delay(void *ctx, uint64_t ns)
{
	(void)ctx;
	fake_now += ns;
}

static const struct sim_clock fclk = { clk_now, clk_delay, NULL };

#endif
