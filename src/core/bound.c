// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The error bound (see bound.h): anchors, growth, status, and the sums of
 * the model's parts, all saturating at BOUND_NONE so that no input (a
 * hostile packet's root dispersion, INT64_MIN offsets) overflows.
 */
#include "config.h"

#include <math.h>

#include "core/bound.h"

static int64_t sat_add(int64_t a, int64_t b)
{
	if (a < 0)
		a = 0;
	if (b < 0)
		b = 0;
	return a > BOUND_NONE - b ? BOUND_NONE : a + b;
}

static int64_t sat_abs(int64_t a)
{
	return a == INT64_MIN ? BOUND_NONE : (a < 0 ? -a : a);
}

void bound_init(struct bound *b)
{
	*b = (struct bound){ .status = TK_PAGE_BS_UNKNOWN,
			     .ns = BOUND_NONE,
			     .stale_ns = BOUND_NONE };
}

void bound_sync(struct bound *b, int64_t t, int64_t ns, uint32_t drift_ppb, int64_t stale_ns)
{
	if (ns < 0)
		ns = 0;
	b->have = ns != BOUND_NONE;
	b->status = b->have ? TK_PAGE_BS_SYNCHRONIZED : TK_PAGE_BS_UNKNOWN;
	b->ns = ns;
	b->t = t;
	b->drift_ppb = drift_ppb;
	b->stale_ns = stale_ns > 0 ? stale_ns : 0;
}

void bound_lost(struct bound *b)
{
	if (b->status == TK_PAGE_BS_DISRUPTED)
		return;
	b->status = b->have ? TK_PAGE_BS_FREE_RUNNING : TK_PAGE_BS_UNKNOWN;
}

void bound_unknown(struct bound *b)
{
	uint32_t drift = b->drift_ppb;

	bound_init(b);
	b->drift_ppb = drift;
}

void bound_disrupt(struct bound *b)
{
	b->status = TK_PAGE_BS_DISRUPTED;
}

void bound_moved(struct bound *b, int64_t delta_ns)
{
	if (b->have)
		b->ns = sat_add(b->ns, sat_abs(delta_ns));
}

uint32_t bound_drift_at(const struct bound *b, int64_t u)
{
	if (bound_status_at(b, u) != TK_PAGE_BS_SYNCHRONIZED && b->drift_ppb < BOUND_HOLDOVER_PPB)
		return BOUND_HOLDOVER_PPB;
	return b->drift_ppb;
}

int64_t bound_at(const struct bound *b, int64_t u)
{
	double grow;

	if (!b->have || b->ns == BOUND_NONE)
		return BOUND_NONE;
	if (u <= b->t)
		return b->ns;
	/* Rounded up: a bound is never smaller than the model says. Without a
	 * reference the holdover rate counts from the anchor, not from when
	 * the reference was lost: never smaller either. */
	grow = ceil((double)((uint64_t)u - (uint64_t)b->t) * (double)bound_drift_at(b, u) / 1e9);
	if (grow >= 9.2e18)
		return BOUND_NONE;
	return sat_add(b->ns, (int64_t)grow);
}

int bound_status_at(const struct bound *b, int64_t now)
{
	if (b->status == TK_PAGE_BS_SYNCHRONIZED && now > b->t &&
	    (uint64_t)now - (uint64_t)b->t > (uint64_t)b->stale_ns)
		return TK_PAGE_BS_FREE_RUNNING;
	return b->status;
}

int64_t bound_system(int64_t host_maxerror_us, int64_t offset_ns, int64_t window_ns,
		     int64_t granularity_ns)
{
	int64_t host;

	if (host_maxerror_us < 0 || host_maxerror_us > BOUND_NONE / 1000)
		return BOUND_NONE;
	host = host_maxerror_us * 1000;
	return sat_add(sat_add(host, sat_abs(offset_ns)), sat_add(window_ns, granularity_ns));
}

int64_t bound_ntp(const struct bound_ntp_sample *s)
{
	int64_t v = 0;
	double asym = fabs(s->asymmetry) * (double)(s->asym_delay_ns > 0 ? s->asym_delay_ns : 0);

	v = sat_add(v, s->root_delay_ns / 2 + (s->root_delay_ns & 1));
	v = sat_add(v, s->root_disp_ns);
	v = sat_add(v, s->delay_ns / 2 + (s->delay_ns & 1));
	v = sat_add(v, s->disp_ns);
	v = sat_add(v, asym >= 9.2e18 ? BOUND_NONE : (int64_t)ceil(asym));
	v = sat_add(v, s->jitter_ns);
	v = sat_add(v, sat_abs(s->residual_ns));
	return v;
}

uint32_t bound_drift(uint64_t floor_ppb, double se_ppb, double k)
{
	double d;

	if (!(se_ppb >= 0) || !isfinite(se_ppb))
		return BOUND_DRIFT_MAX_PPB;
	d = (double)floor_ppb + k * se_ppb;
	if (!(d < BOUND_DRIFT_MEASURED_MAX_PPB))
		return BOUND_DRIFT_MEASURED_MAX_PPB;
	return (uint32_t)ceil(d);
}
