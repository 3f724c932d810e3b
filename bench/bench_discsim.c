// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The NTP discipline's update rule (src/daemon/ref_ntp.c, clock_update())
 * in a deterministic simulation: an oscillator 50 ppm off, one combined
 * offset per poll (true phase error + uniform noise, seeded), the line fit
 * and its frame corrections through the core's ntpc_disc_* exactly as the
 * daemon calls them, the phase slewed over half a poll. It prints the
 * standard deviation, RMS and largest true phase error over the second half,
 * the frequency's standard deviation and the time from which the error
 * stays within 50 us (for 10 s at least, to the end), for the rule of gain 1 (the whole fitted
 * slope into the frequency, the whole fitted phase slewed at each update)
 * and for damped rules; last, a `bench:` line: the lowest standard deviation
 * of a damped rule over the current rule's (< 1: damping helps).
 *
 * usage: bench_discsim [noise_us [poll_ms [seconds [seeds [lan [late_us]]]]]]: with
 * "lan", the noise is that of a path of +-noise_us each way ((up - down) / 2);
 * late_us: each leg also late by an exponential of that mean (a delay line's
 * wake-ups).
 */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/ntpclient.h"

#define S INT64_C(1000000000)

struct rule {
	const char *name;
	double g_freq;	  /* fraction of the fitted slope put into the frequency */
	double tau_polls; /* phase time constant in polls (0: the whole phase each update) */
	bool se_weight;	  /* frequency gain from the slope's standard error */
};

struct result {
	double sd, rms, lock_s, freq_sd, max;
};

static bool lan_noise; /* the offset error of a path: (up - down) / 2, each uniform */
static double late_ns; /* and each leg late by an exponential of this mean */

static uint64_t rng;

static double uniform(void) /* [-1, 1) */
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0 * 2 - 1;
}

static struct result run(const struct rule *r, double noise_ns, int64_t poll, int64_t len,
			 uint64_t seed)
{
	struct ntpc_disc disc;
	double x = 0, base = 0, f0 = 50000, slew_ppb = 0, sum = 0, sum2 = 0, lock = -1, fs = 0,
	       fs2 = 0, max = 0;
	int64_t slew_ns = poll / 2, slew_end = 0, below = 0;
	unsigned int k = 0;

	if (slew_ns < S / 4)
		slew_ns = S / 4;
	rng = seed * 0x9E3779B97F4A7C15ULL | 1;
	ntpc_disc_reset(&disc);
	for (int64_t t = poll; t <= len; t += poll) {
		/* The clock runs from t - poll to t: x = ours - true (ns). */
		int64_t from = t - poll, slewing = slew_end > from ? slew_end - from : 0;
		double phase, slope, applied, g = r->g_freq;
		double e = lan_noise ? (uniform() - uniform()) / 2 : uniform();
		double late = 0;
		int64_t span;

		if (late_ns > 0) /* (up - down) / 2 of two exponentials */
			late = late_ns * (log((1 - uniform()) / 2) - log((1 - uniform()) / 2)) / 2;
		if (slewing > poll)
			slewing = poll;
		x += (f0 + base) * (double)poll / 1e9 + slew_ppb * (double)slewing / 1e9;
		if (t >= slew_end)
			slew_ppb = 0;
		if (t > len / 2) {
			sum += x;
			sum2 += x * x;
			fs += f0 + base;
			fs2 += (f0 + base) * (f0 + base);
			max = fmax(max, fabs(x));
			k++;
		}
		/* Locked from the last time the error was beyond 50 us. */
		if (fabs(x) < 50000) {
			if (lock < 0 && t - below >= 10 * S)
				lock = (double)below / 1e9;
		} else {
			below = t;
			lock = -1;
		}
		ntpc_disc_add(&disc, t, (int64_t)llround(-x + noise_ns * e + late));
		ntpc_disc_fit(&disc, t, &phase, &slope, &span);
		if (r->se_weight) {
			/* Weight the slope by its uncertainty against the
			 * offsets' own: a slope known to within a small
			 * fraction of itself goes in whole. */
			double se = ntpc_disc_slope_se(&disc);

			g = se < 0 ? 1 : slope * slope / (slope * slope + se * se);
		}
		applied = phase;
		if (r->tau_polls > 0)
			applied = phase / r->tau_polls;
		if (fabs(applied) > 400000.0 * (double)slew_ns / 1e9)
			applied = copysign(400000.0 * (double)slew_ns / 1e9, applied);
		base += g * slope;
		slew_ppb = applied * 1e9 / (double)slew_ns;
		slew_end = t + slew_ns;
		ntpc_disc_correct(&disc, t, g * slope, (int64_t)llround(applied));
	}
	double m = sum / k, fm = fs / k;

	return (struct result){ sqrt(sum2 / k - m * m), sqrt(sum2 / k), lock,
				sqrt(fs2 / k - fm * fm), max };
}

int main(int argc, char **argv)
{
	double noise_us = argc > 1 ? atof(argv[1]) : 25;
	int64_t poll = (argc > 2 ? atoll(argv[2]) : 1000) * (S / 1000);
	int64_t len = (argc > 3 ? atoll(argv[3]) : 600) * S;
	unsigned int seeds = argc > 4 ? (unsigned int)atoi(argv[4]) : 8;

	lan_noise = argc > 5 && argv[5][0] == 'l';
	late_ns = argc > 6 ? atof(argv[6]) * 1000 : 0;
	static const struct rule rules[] = {
		{ "gain 1 (current)", 1, 0, false },
		{ "freq x0.5", 0.5, 0, false },
		{ "freq x0.1", 0.1, 0, false },
		{ "phase tau 4 polls", 1, 4, false },
		{ "freq x0.1 + phase tau 4", 0.1, 4, false },
		{ "freq se-weighted", 1, 0, true },
		{ "se-weighted + phase tau 4", 1, 4, true },
	};

	double sd0 = 0, best = INFINITY;

	printf("bench-discsim: noise +-%.0f us, poll %.3f s, %lld s, %u seeds;"
	       " over the second half\n",
	       noise_us, (double)poll / 1e9, (long long)(len / S), seeds);
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const struct rule *r = &rules[i];
		double sd = 0, rms = 0, lock = 0, fsd = 0, max = 0;
		int unlocked = 0;

		for (unsigned int s = 1; s <= seeds; s++) {
			struct result res = run(r, noise_us * 1000, poll, len, s);

			sd += res.sd / seeds;
			rms += res.rms / seeds;
			fsd += res.freq_sd / seeds;
			max = fmax(max, res.max);
			if (res.lock_s < 0)
				unlocked++;
			else if (res.lock_s > lock)
				lock = res.lock_s;
		}
		if (i == 0)
			sd0 = sd;
		else if (sd < best)
			best = sd;
		printf("bench-discsim: %-26s sd %5.2f us  rms %5.2f us  max %5.1f us"
		       "  freq sd %5.3f ppm  lock by %5.1f s%s\n",
		       r->name, sd / 1000, rms / 1000, max / 1000, fsd / 1e3, lock,
		       unlocked ? "  (some never locked)" : "");
	}
	printf("bench: discsim_damped_sd_ratio %.3f ratio\n", best / sd0);
	return 0;
}
