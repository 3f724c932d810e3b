// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel's CLOCK_MONOTONIC_RAW as a counter of nanoseconds: the
 * reference of last resort. It is always there (no privileges, no device),
 * it is not slewed by NTP, and clients can read it themselves through the
 * vDSO, which is what the page's non-TSC clock mode relies on. Its rating is
 * in the kernel's "unfit" band so that any real counter wins; it needs no
 * watchdog because it is the kernel's own, already-watched, timekeeping.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/tunit.h"
#include "hw/drivers.h"

static uint64_t kclock_read(struct clocksource *cs)
{
	struct timespec ts;

	(void)cs;
	/* Cannot fail once the probe succeeded: the clock id is valid and ts is ours. */
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts_to_ns_u(&ts);
}

int kclock_probe(const struct hw_env *env, struct clocksource *cs)
{
	struct timespec ts, res;

	(void)env;
	cs_init(cs, "kclock");
	if (clock_gettime(CLOCK_MONOTONIC_RAW, &ts) < 0) {
		int err = errno;

		cs_set_unusable(cs,
				"kclock: clock_gettime(CLOCK_MONOTONIC_RAW) failed: %s, "
				"expected success",
				strerror(err));
		return -err;
	}

	cs->rating = CS_RATING_KCLOCK;
	cs->bits = 64;
	cs->mask = CS_MASK(64);
	cs->nominal_hz = 1000000000u;
	cs->flags = CS_F_CONTINUOUS | CS_F_CLIENT_READ | CS_F_KERNEL_CLOCK;
	cs->read = kclock_read;
	cs->usable = true;

	cs_attr_str(cs, "clock", "CLOCK_MONOTONIC_RAW");
	if (clock_getres(CLOCK_MONOTONIC_RAW, &res) == 0)
		cs_attr_u64(cs, "resolution_ns", ts_to_ns_u(&res));
	return 0;
}
