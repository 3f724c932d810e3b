// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The clocksource runtime (see sources.h): what the daemon and the probe do
 * alike with the counters the hardware layer finds.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>

#include "daemon/sources.h"

size_t sources_acquire(const struct tk_conf *conf, struct clocksource src[HW_MAX_SOURCES],
		       struct cs_registry *reg, enum log_level why_level, size_t *usable)
{
	struct hw_env env = {
		.acpi_dir = conf->acpi_tables,
		.dev_hpet = conf->hpet_device,
		.dev_mem = conf->mem_device,
		.sim = &conf->sim,
	};
	char why[CS_REASON_LEN];
	size_t n, nusable = 0;

	n = hw_discover(&env, src);
	cs_registry_init(reg);
	for (size_t i = 0; i < n; i++) {
		struct clocksource *cs = &src[i];

		if (!cs_register(reg, cs))
			log_warn("%s: not registered (duplicate name or registry full)", cs->name);
		if (!cs->usable) {
			log_msg(why_level, "%s", cs->reason);
			continue;
		}
		nusable++;
	}
	if (conf->clocksource[0] && cs_override(reg, conf->clocksource, why, sizeof(why)) < 0)
		log_warn("clocksource = %s: %s", conf->clocksource, why);
	if (usable)
		*usable = nusable;
	return n;
}

void sources_release(struct clocksource *src, size_t n)
{
	hw_release_all(src, n);
}

struct clocksource *sources_to_calibrate(struct clocksource *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (src[i].usable && (src[i].flags & CS_F_CALIBRATE))
			return &src[i];
	return NULL;
}

bool sources_is_reference(const struct clocksource *cs)
{
	return cs->usable && !(cs->flags & CS_F_MUST_VERIFY) && cs->nominal_hz;
}

struct clocksource *sources_best_reference(struct clocksource *src, size_t n,
					   const struct clocksource *cs)
{
	struct clocksource *best = NULL;

	for (size_t i = 0; i < n; i++) {
		struct clocksource *r = &src[i];

		if (r != cs && sources_is_reference(r) && (!best || r->rating > best->rating))
			best = r;
	}
	return best;
}

struct cs_entry *sources_apply_calibration(struct cs_registry *reg, struct clocksource *cs,
					   const struct calib *cal, enum calib_state *applied,
					   struct calib_result *res)
{
	struct cs_entry *e;

	if (!cs || *applied >= CALIB_STATE_REFINED)
		return NULL;
	calib_result(cal, res);
	if (res->state == CALIB_STATE_NONE || res->state == *applied || !calib_hz(cal))
		return NULL;
	e = cs_find(reg, cs->name);
	if (!e || e->cs != cs || cs_set_freq(reg, e, calib_hz(cal)) < 0)
		return NULL;
	*applied = res->state >= CALIB_STATE_REFINED ? CALIB_STATE_REFINED : res->state;
	return e;
}

static uint64_t warp_read(void *ctx)
{
	return cs_read(ctx);
}

bool sources_warp_test(struct cs_registry *reg, struct clocksource *cs, struct warp_result *res)
{
	struct warp_conf wc = { .read = warp_read, .ctx = cs, .cpu_a = -1, .cpu_b = -1 };

	if (!(cs->flags & CS_F_MUST_VERIFY)) {
		snprintf(res->note, sizeof(res->note), "not run: %s need not be verified",
			 cs->name);
		return false;
	}
	if (cs->flags & CS_F_SIMULATED) {
		snprintf(res->note, sizeof(res->note), "not run: simulated TSC");
		return false;
	}
	if (warp_run(&wc, res) < 0) {
		log_warn("%s: warp test failed to run: %s", cs->name, res->note);
		return true;
	}
	if (warp_apply(reg, cs->name, res))
		log_warn("%s: %s", cs->name, res->note);
	return true;
}

bool sources_log_demoted(const struct cs_registry *reg, const struct cs_entry *which)
{
	bool hit = false;

	for (unsigned int i = 0; i < reg->n; i++) {
		const struct cs_entry *e = reg->list[i];
		char skew[24];

		if (!e->unstable || e->wd.last_verdict != CS_VERDICT_UNSTABLE)
			continue;
		snprintf(skew, sizeof(skew), "%" PRIu64, e->wd.max_skew_ns);
		log_fields(LOG_LVL_WARN,
			   (const struct log_field[]){
				   { "TK_SOURCE", e->cs->name },
				   { "TK_VERDICT", cs_verdict_name(e->wd.last_verdict) },
				   { "TK_SKEW_NS", skew },
				   { NULL, NULL } },
			   "%s: demoted by the watchdog: %s", e->cs->name, e->wd.last_reason);
		if (e == which)
			hit = true;
	}
	return hit;
}
