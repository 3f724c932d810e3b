/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The clocksource runtime, shared by the daemon (daemon.c) and the probe
 * (probe.c): acquiring the counters from the hardware layer, registering
 * them and applying the configured override; finding the counter to
 * calibrate and the references; giving a calibration to the registry; the
 * warp test's verdict and the watchdog's demotion reports. It lives in
 * src/daemon because it calls the drivers (hw/hw.h), which the core may not.
 *
 * The storage is the caller's (struct daemon, struct probe): the array of
 * counters, the registry, the calibration. Every decision is taken on the
 * counters' capability flags (enum cs_flags), never on their names.
 */
#ifndef TK_DAEMON_SOURCES_H
#define TK_DAEMON_SOURCES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/calib.h"
#include "core/clocksource.h"
#include "core/conf.h"
#include "core/log.h"
#include "core/warp.h"
#include "hw/hw.h"

/* Discovers the counters conf describes ([hw] paths, [sim] devices) into
 * src[], initialises reg and registers every counter in it (a registration
 * refused is logged as a warning), logs at why_level why each unusable one
 * was refused, then applies `[clocksource] clocksource` when set (a refusal
 * is logged as a warning). Returns how many entries src[] holds; *usable
 * (may be NULL) gets how many of them are usable. */
size_t sources_acquire(const struct tk_conf *conf, struct clocksource src[HW_MAX_SOURCES],
		       struct cs_registry *reg, enum log_level why_level, size_t *usable);

/* Releases what sources_acquire() acquired. */
void sources_release(struct clocksource *src, size_t n);

/* The first usable counter whose frequency is calibrated at run time
 * (CS_F_CALIBRATE: the TSC); NULL when there is none. */
struct clocksource *sources_to_calibrate(struct clocksource *src, size_t n);

/* A reference: usable, need not be verified itself (no CS_F_MUST_VERIFY)
 * and with a stated frequency (hpet, acpi_pm, kclock). */
bool sources_is_reference(const struct clocksource *cs);

/* The best-rated reference in src[] other than cs; NULL when none. */
struct clocksource *sources_best_reference(struct clocksource *src, size_t n,
					   const struct clocksource *cs);

/* Gives cal's frequency for cs to the registry as the kernel does: the quick
 * value first (its tsc-early), then the refined one, once; later refinement
 * is reported by the calibration, not applied. *applied is the state last
 * given (CALIB_STATE_NONE at first). Returns cs's registry entry when a new
 * frequency was set (res then holds the calibration's result), NULL when
 * nothing changed or the registry refused the frequency (*applied is then
 * unchanged, so the next call tries again). */
struct cs_entry *sources_apply_calibration(struct cs_registry *reg, struct clocksource *cs,
					   const struct calib *cal, enum calib_state *applied,
					   struct calib_result *res);

/* The cross-CPU warp test of cs (which must be verified: CS_F_MUST_VERIFY)
 * on its own read function. Not run on a simulated counter (a warp test
 * measures the CPUs) or one that need not be verified: res->note says why.
 * A warp demotes cs in reg. Failures to run and warps are logged as
 * warnings prefixed with cs's name. Returns true when the test ran. */
bool sources_warp_test(struct cs_registry *reg, struct clocksource *cs, struct warp_result *res);

/* After a watchdog tick that changed something: logs each source the
 * watchdog demoted ("NAME: demoted by the watchdog: WHY", a warning with
 * journal fields). Returns true when `which` (may be NULL) is among them. */
bool sources_log_demoted(const struct cs_registry *reg, const struct cs_entry *which);

#endif
