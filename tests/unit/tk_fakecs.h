/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A usable fake clocksource for the suites that script their own counters
 * (test_cs, test_wdog): registered as a driver would, read by read(cs).
 */
#ifndef TK_TESTS_TK_FAKECS_H
#define TK_TESTS_TK_FAKECS_H

#include <stdint.h>

#include "core/clocksource.h"

static inline void fake_cs_init(struct clocksource *cs, const char *name, int rating,
				unsigned int bits, uint64_t hz, uint32_t flags,
				uint64_t (*read)(struct clocksource *), void *priv)
{
	cs_init(cs, name);
	cs->usable = true;
	cs->rating = rating;
	cs->bits = bits;
	cs->mask = CS_MASK(bits);
	cs->nominal_hz = hz;
	cs->flags = flags;
	cs->read = read;
	cs->priv = priv;
}

#endif
