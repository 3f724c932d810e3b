// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Simulated HPET, ACPI PM timer and TSC. Each is a pure function of one
 * clock: the count t ns after creation is start + t * hz_eff / 1e9, wrapped
 * to the real device's width (32 bits for the HPET, as the kernel reads only
 * its low word; 24 bits for the PM timer; 64 for the TSC), with at most one
 * injected fault. The clock is CLOCK_MONOTONIC_RAW by default; tests and the
 * clocksource framework's own tests pass a fake one, and then the real clock
 * is never read, so calibration and the watchdog can run in simulated time.
 *
 * Exactness matters more than speed: a calibration test compares counts
 * over simulated seconds at GHz rates, so the rate is kept as an integer in
 * nano-hertz and the count is one 128-bit product and one floor division,
 * never an accumulated floating-point sum. A drift fault integrates the rate
 * piecewise, so the count is continuous at the moment the drift starts.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/tunit.h"
#include "hw/simhw.h"

/* A rate in nano-hertz times a time in ns is in units of 1e-18 cycles. */
#define SUBCYCLES ((__int128)NSEC_PER_SEC_U * (__int128)NSEC_PER_SEC_U)

#define MAX_HZ UINT64_C(100000000000) /* 100 GHz: keeps every product far inside 128 bits */
#define MAX_PPM 1000000.0	      /* exclusive: -1e6 ppm would stop the oscillator */

static const struct {
	unsigned int bits;
	int rating;
	uint32_t flags;
} devices[SIM_NDEV] = {
	[SIM_HPET] = { 32, CS_RATING_HPET, CS_F_CONTINUOUS },
	[SIM_PMTMR] = { 24, CS_RATING_PMTMR, CS_F_CONTINUOUS },
	/* Not CLIENT_READ nor PAGE_TSC: a client's rdtsc would read the real
	 * TSC, not this one. */
	[SIM_TSC] = { 64, CS_RATING_TSC, CS_F_CONTINUOUS | CS_F_MUST_VERIFY | CS_F_CALIBRATE },
};

struct sim_state {
	struct sim_clock clk;
	uint64_t t0;	/* clock at creation, ns */
	uint64_t start; /* count at creation */
	uint64_t mask;
	__int128 rate;	     /* nHz before the fault */
	__int128 rate_after; /* nHz after a drift fault starts */
	struct sim_fault fault;
	uint64_t spike_key;
	_Atomic uint64_t nreads;
};

/* ---- the counter ------------------------------------------------------ */

static uint64_t raw_now(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts_to_ns_u(&ts);
}

/* A real device read that takes longer: the caller really waits. */
static void raw_delay(void *ctx, uint64_t ns)
{
	uint64_t end = raw_now(ctx) + ns;

	while (raw_now(ctx) < end)
		__builtin_ia32_pause();
}

/* Floor division, so that a negative step rounds the same way as the rest. */
static __int128 floor_div(__int128 a, __int128 b)
{
	__int128 q = a / b;

	return (a % b != 0 && a < 0) ? q - 1 : q;
}

static uint64_t count_at(const struct sim_state *s, uint64_t t)
{
	const struct sim_fault *f = &s->fault;
	__int128 acc; /* 1e-18 cycles */

	switch (f->kind) {
	case SIM_FAULT_DRIFT:
		if (t <= f->at_ns)
			acc = (__int128)t * s->rate;
		else
			acc = (__int128)f->at_ns * s->rate +
			      (__int128)(t - f->at_ns) * s->rate_after;
		break;
	case SIM_FAULT_STEP:
		acc = (__int128)t * s->rate;
		if (t >= f->at_ns)
			acc += (__int128)f->step_ns * s->rate;
		break;
	case SIM_FAULT_STALL:
		acc = (__int128)(t < f->at_ns ? t : f->at_ns) * s->rate;
		break;
	case SIM_FAULT_NONE:
	case SIM_FAULT_SPIKES:
	default:
		acc = (__int128)t * s->rate;
		break;
	}
	/* Conversion to unsigned wraps modulo 2^64, then the mask wraps to the width. */
	return (s->start + (uint64_t)floor_div(acc, SUBCYCLES)) & s->mask;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

/*
 * One read in every eight is slow, at a position in its group of eight
 * drawn from the seed (0..6, so never two in a row across groups): a
 * bracketing watchdog retries a wide window, and a retry must be able to
 * succeed, or the spikes would look like a broken device rather than a
 * disturbed one. Every run sees spikes, whatever the seed, so a test that
 * they are tolerated always has some to tolerate.
 */
static bool spike_now(struct sim_state *s)
{
	uint64_t i = atomic_fetch_add_explicit(&s->nreads, 1, memory_order_relaxed);

	return i % 8 == mix64(s->spike_key + (i / 8) * UINT64_C(0x9e3779b97f4a7c15)) % 7;
}

static uint64_t sim_read(struct clocksource *cs)
{
	struct sim_state *s = cs->priv;
	uint64_t now;

	/* The delay comes before the sample, so the read really takes longer. */
	if (s->fault.kind == SIM_FAULT_SPIKES && spike_now(s))
		s->clk.delay_ns(s->clk.ctx, s->fault.spike_ns);
	now = s->clk.now_ns(s->clk.ctx);
	return count_at(s, now > s->t0 ? now - s->t0 : 0);
}

static void sim_release(struct clocksource *cs)
{
	free(cs->priv);
	cs->priv = NULL;
}

/* hz * (1 + ppm * 1e-6) in nano-hertz, or -1 when not above 0. The long
 * double product is exact to well under 1 nHz for hz up to MAX_HZ. */
static __int128 rate_nhz(uint64_t hz, double ppm)
{
	long double r = (long double)hz * (1e9L + (long double)ppm * 1e3L);

	if (!(r > 0.0L))
		return -1;
	return (__int128)(r + 0.5L);
}

int simhw_create(enum sim_dev dev, const struct sim_conf *conf, const struct sim_clock *clk,
		 uint64_t start_count, struct clocksource *cs)
{
	struct sim_state *s;
	double ppm;
	char text[64];

	if ((unsigned int)dev >= SIM_NDEV) {
		cs_init(cs, "sim");
		cs_set_unusable(cs, "sim: device %d outside 0..%d", (int)dev, SIM_NDEV - 1);
		return -EINVAL;
	}
	cs_init(cs, simconf_dev_name(dev));
	if (!conf) {
		cs_set_unusable(cs, "sim %s: no configuration", simconf_dev_name(dev));
		return -EINVAL;
	}
	ppm = conf->oscillator_error_ppm + conf->error_ppm[dev];
	if (conf->hz[dev] == 0 || conf->hz[dev] > MAX_HZ) {
		cs_set_unusable(cs, "sim %s: frequency %" PRIu64 " Hz outside 1..%" PRIu64,
				simconf_dev_name(dev), conf->hz[dev], MAX_HZ);
		return -EINVAL;
	}
	if (!(ppm > -MAX_PPM && ppm < MAX_PPM)) {
		cs_set_unusable(cs, "sim %s: total error %g ppm outside -999999..999999",
				simconf_dev_name(dev), ppm);
		return -EINVAL;
	}
	if (clk && !clk->now_ns) {
		cs_set_unusable(cs, "sim %s: the clock has no now_ns", simconf_dev_name(dev));
		return -EINVAL;
	}
	if (clk && !clk->delay_ns && conf->fault[dev].kind == SIM_FAULT_SPIKES) {
		cs_set_unusable(cs, "sim %s: spikes need a clock with delay_ns",
				simconf_dev_name(dev));
		return -EINVAL;
	}

	s = calloc(1, sizeof(*s));
	if (!s) {
		cs_set_unusable(cs, "sim %s: out of memory", simconf_dev_name(dev));
		return -ENOMEM;
	}
	if (clk)
		s->clk = *clk;
	else
		s->clk = (struct sim_clock){ .now_ns = raw_now, .delay_ns = raw_delay };
	s->fault = conf->fault[dev];
	s->mask = CS_MASK(devices[dev].bits);
	s->start = start_count & s->mask;
	s->rate = rate_nhz(conf->hz[dev], ppm);
	s->rate_after = s->rate;
	if (s->fault.kind == SIM_FAULT_DRIFT)
		s->rate_after = rate_nhz(conf->hz[dev], ppm + s->fault.ppm);
	if (s->rate < 0 || s->rate_after < 0) {
		free(s);
		cs_set_unusable(cs, "sim %s: error %g ppm with the drift fault stops the counter",
				simconf_dev_name(dev), ppm);
		return -EINVAL;
	}
	s->spike_key = mix64((conf->seed ? conf->seed : UINT64_C(0x5eed)) ^
			     (((uint64_t)dev + 1) * UINT64_C(0x9e3779b97f4a7c15)));
	atomic_init(&s->nreads, 0);
	s->t0 = s->clk.now_ns(s->clk.ctx);

	cs->rating = devices[dev].rating;
	cs->bits = devices[dev].bits;
	cs->mask = s->mask;
	cs->nominal_hz = conf->hz[dev];
	cs->flags = devices[dev].flags | CS_F_SIMULATED;
	cs->read = sim_read;
	cs->release = sim_release;
	cs->priv = s;
	cs->usable = true;

	cs_attr_bool(cs, "simulated", true);
	cs_attr_str(cs, "error_ppm", "%g", ppm);
	simconf_format_fault(&s->fault, text, sizeof(text));
	cs_attr_str(cs, "fault", "%s", text);
	return 0;
}
