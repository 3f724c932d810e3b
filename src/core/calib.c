// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * TSC calibration (see calib.h). Every sample is a TSC-reference-TSC
 * bracket; the frequency is always measured from the first good sample (the
 * anchor) so the baseline, and with it the precision, grows with time. The
 * uncertainty is what the brackets allow: the TSC windows at both ends plus
 * one reference tick, over the baseline. It does not include the
 * reference's own frequency error: we calibrate *against* it.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/calib.h"

const char *calib_state_name(enum calib_state s)
{
	switch (s) {
	case CALIB_STATE_NONE:
		return "none";
	case CALIB_STATE_QUICK:
		return "quick";
	case CALIB_STATE_REFINED:
		return "refined";
	case CALIB_STATE_CONTINUOUS:
		return "continuous";
	}
	return "?";
}

/* Our current idea of the TSC frequency, Hz; 0 when there is none. */
static double hz_estimate(const struct calib *c)
{
	if (c->res.calibrated_hz > 0)
		return c->res.calibrated_hz;
	return (double)c->tsc->nominal_hz;
}

/* tsc_read_refs(): tsc_khz >> 5 cycles once known, else 0x20000. */
static uint64_t window_limit(const struct calib *c)
{
	double hz = hz_estimate(c);

	if (hz <= 0)
		return CALIB_DEFAULT_THRESH;
	return ((uint64_t)(hz / 1000)) >> 5;
}

/* Adds the reference's motion since the last reading to the extended
 * count. Once the TSC frequency is roughly known, the TSC tells how many
 * whole wraps a long gap hid. */
static void extend(struct calib *c, uint64_t ref, uint64_t tsc)
{
	uint64_t mask = c->ref->mask;
	uint64_t d = (ref - c->ref_last) & mask;
	double hz = hz_estimate(c);

	if (hz > 0 && mask < UINT64_MAX) {
		double span = (double)mask + 1.0;
		double expected = (double)(tsc - c->tsc_last) / hz * (double)c->ref_hz;

		if (expected > span / 2) {
			double wraps = nearbyint((expected - (double)d) / span);

			if (wraps > 0)
				d += (uint64_t)wraps * (mask + 1);
		}
	}
	c->ref_ext += d;
	c->ref_last = ref;
	c->tsc_last = tsc;
}

static bool sample(struct calib *c, struct calib_sample *s)
{
	uint64_t limit = window_limit(c);

	for (int attempt = 0; attempt < CALIB_MAX_RETRIES; attempt++) {
		uint64_t t1 = cs_read(c->tsc);
		uint64_t ref = cs_read(c->ref);
		uint64_t t2 = cs_read(c->tsc);
		uint64_t w = (t2 - t1) & c->tsc->mask;

		extend(c, ref, t1 + w / 2);
		if (w < limit) {
			s->tsc = t1 + w / 2;
			s->window = w;
			s->ref_ext = c->ref_ext;
			return true;
		}
		/* An SMI or a preemption between the reads: the reference value
		 * cannot be placed precisely on the TSC axis. */
		c->res.retries++;
	}
	c->res.disturbed++;
	return false;
}

int calib_start(struct calib *c, struct clocksource *tsc, struct clocksource *ref, uint64_t now_ns)
{
	memset(c, 0, sizeof(*c));
	if (!tsc || !ref || !tsc->usable || !tsc->read || !ref->usable || !ref->read ||
	    !ref->nominal_hz || !ref->mask)
		return -EINVAL;
	c->tsc = tsc;
	c->ref = ref;
	c->ref_hz = ref->nominal_hz;
	c->start_ns = now_ns;
	c->last_poll_ns = now_ns;
	snprintf(c->res.calibrated_against, sizeof(c->res.calibrated_against), "%s", ref->name);
	c->ref_last = cs_read(ref);
	c->tsc_last = cs_read(tsc);
	if (sample(c, &c->anchor)) {
		c->have_anchor = true;
		c->anchor_ns = now_ns;
		c->last = c->anchor;
		c->res.samples++;
	}
	return 0;
}

static void measure(const struct calib *c, const struct calib_sample *b, double *hz, double *ppb,
		    double *baseline_s)
{
	const struct calib_sample *a = &c->anchor;
	double ref_s = (double)(b->ref_ext - a->ref_ext) / (double)c->ref_hz;
	double cycles = (double)(b->tsc - a->tsc);
	double err_s;

	*baseline_s = ref_s;
	if (ref_s <= 0) {
		*hz = 0;
		*ppb = 0;
		return;
	}
	*hz = cycles / ref_s;
	err_s = (double)(a->window + b->window) / *hz + 1.0 / (double)c->ref_hz;
	*ppb = err_s / ref_s * 1e9;
}

static void conclude_refined(struct calib *c)
{
	struct calib_result *res = &c->res;
	const struct clocksource *tsc = c->tsc;
	double diff = fabs(res->refined_hz - res->quick_hz);

	res->refined_accepted = diff <= res->quick_hz / 100;
	if (tsc->flags & CS_F_KNOWN_FREQ) {
		double off = fabs(res->refined_hz - (double)tsc->nominal_hz);

		res->kernel_hz = tsc->nominal_hz;
		if (off > (double)(tsc->nominal_hz >> 11))
			snprintf(res->warning, sizeof(res->warning),
				 "%s: measured %.0f Hz against %s, firmware says %" PRIu64
				 " Hz (%.0f ppm apart, more than 500 ppm); kernel keeps firmware",
				 tsc->name, res->refined_hz, c->ref->name, tsc->nominal_hz,
				 off / (double)tsc->nominal_hz * 1e6);
		return;
	}
	if (res->refined_accepted) {
		res->kernel_hz = (uint64_t)llround(res->refined_hz);
	} else {
		res->kernel_hz = (uint64_t)llround(res->quick_hz);
		snprintf(res->warning, sizeof(res->warning),
			 "%s: refined %.0f Hz is more than 1 %% from quick %.0f Hz; "
			 "kernel keeps quick",
			 tsc->name, res->refined_hz, res->quick_hz);
	}
}

int calib_poll(struct calib *c, uint64_t now_ns)
{
	struct calib_result *res = &c->res;
	struct calib_sample s;
	double hz, ppb, base;
	uint64_t elapsed;
	enum calib_state old = res->state;

	if (!c->tsc)
		return 0;
	/* Without any frequency estimate a gap of half a reference wrap could
	 * hide a whole wrap: start over rather than guess. */
	if (hz_estimate(c) <= 0 && c->ref->mask < UINT64_MAX) {
		double wrap_ns = ((double)c->ref->mask + 1.0) / (double)c->ref_hz * 1e9;

		if ((double)(now_ns - c->last_poll_ns) > wrap_ns / 2 && c->have_anchor) {
			c->have_anchor = false;
			snprintf(res->warning, sizeof(res->warning),
				 "polled after %" PRIu64
				 " ms, more than half of %s's wrap of %.0f ms: restarted",
				 (now_ns - c->last_poll_ns) / 1000000, c->ref->name, wrap_ns / 1e6);
		}
	}
	c->last_poll_ns = now_ns;

	if (!sample(c, &s))
		return 0;
	res->samples++;
	if (!c->have_anchor) {
		c->anchor = s;
		c->anchor_ns = now_ns;
		c->have_anchor = true;
		c->last = s;
		return 0;
	}
	c->last = s;
	elapsed = now_ns - c->anchor_ns;
	measure(c, &s, &hz, &ppb, &base);
	if (hz <= 0)
		return 0;

	switch (res->state) {
	case CALIB_STATE_NONE:
		if (elapsed < CALIB_QUICK_NS)
			return 0;
		res->quick_hz = hz;
		res->kernel_hz = (c->tsc->flags & CS_F_KNOWN_FREQ) ? c->tsc->nominal_hz
								   : (uint64_t)llround(hz);
		res->state = CALIB_STATE_QUICK;
		break;
	case CALIB_STATE_QUICK:
		if (elapsed < CALIB_REFINE_NS)
			return 0;
		res->refined_hz = hz;
		res->state = CALIB_STATE_REFINED;
		conclude_refined(c);
		break;
	case CALIB_STATE_REFINED:
		if (elapsed < CALIB_CONTINUOUS_NS)
			return 0;
		res->state = CALIB_STATE_CONTINUOUS;
		break;
	case CALIB_STATE_CONTINUOUS:
		break;
	}
	res->calibrated_hz = hz;
	res->uncertainty_ppb = ppb;
	res->baseline_s = base;
	return res->state != old || res->state == CALIB_STATE_CONTINUOUS;
}

void calib_result(const struct calib *c, struct calib_result *res)
{
	*res = c->res;
}

uint64_t calib_hz(const struct calib *c)
{
	return c->res.calibrated_hz > 0 ? (uint64_t)llround(c->res.calibrated_hz) : 0;
}
