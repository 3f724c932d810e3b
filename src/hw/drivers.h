/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Probe functions of the real drivers, called by hw.c only. Each one
 * initialises *cs with its name, fills it in, and returns 0 when the counter
 * is usable, or a negative errno after cs_set_unusable() has said why.
 */
#ifndef TK_HW_DRIVERS_H
#define TK_HW_DRIVERS_H

#include "hw/hw.h"

int hpet_probe(const struct hw_env *env, struct clocksource *cs);
int pmtmr_probe(const struct hw_env *env, struct clocksource *cs);
int tsc_probe(const struct hw_env *env, struct clocksource *cs);
int kclock_probe(const struct hw_env *env, struct clocksource *cs);

#endif
