// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Discovery: one pass over the counters the daemon knows, in a fixed order.
 * A device named in the [sim] section is simulated instead of probed, and the
 * real devices that are not simulated are then left out, so a simulated
 * machine is the same on every host. kclock is always there: it is the
 * reference of last resort.
 */
#include "config.h"

#include <string.h>

#include "hw/drivers.h"
#include "hw/hw.h"

static const struct {
	const char *name;
	int (*probe)(const struct hw_env *env, struct clocksource *cs);
	int sim; /* enum sim_dev, or -1 */
} drivers[] = {
	{ "hpet", hpet_probe, SIM_HPET },
	{ "acpi_pm", pmtmr_probe, SIM_PMTMR },
	{ "tsc", tsc_probe, SIM_TSC },
	{ "kclock", kclock_probe, -1 },
};

size_t hw_discover(const struct hw_env *env, struct clocksource out[HW_MAX_SOURCES])
{
	uint32_t simulated = env->sim ? env->sim->devices : 0;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		struct clocksource *cs = &out[n];
		int sim = drivers[i].sim;

		if (sim >= 0 && (simulated & (1u << sim))) {
			if (simhw_create(sim, env->sim, NULL, 0, cs) < 0 && cs->reason[0] == '\0')
				cs_set_unusable(cs, "%s: simulated device could not be created",
						drivers[i].name);
		} else if (sim >= 0 && simulated) {
			continue; /* a simulated machine has only the devices it names */
		} else {
			drivers[i].probe(env, cs);
		}
		n++;
	}
	return n;
}

void hw_release_all(struct clocksource *cs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cs_release(&cs[i]);
}
