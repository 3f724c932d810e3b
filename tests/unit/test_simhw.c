// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Simulated devices: widths and wraps, frequency and error arithmetic over
 * long simulated spans, every fault kind, and the fault text parser. All
 * but one test run on a fake clock that only moves when the test (or a
 * spike's delay) moves it, so every expected count is exact.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/tunit.h"
#include "hw/simhw.h"
#include "tk_check.h"

struct fake_clock {
	uint64_t now;
	uint64_t delayed_ns;
	unsigned int ndelays;
};

static uint64_t fake_now(void *ctx)
{
	return ((struct fake_clock *)ctx)->now;
}

static void fake_delay(void *ctx, uint64_t ns)
{
	struct fake_clock *fc = ctx;

	fc->now += ns;
	fc->delayed_ns += ns;
	fc->ndelays++;
}

/* Arbitrary epoch: the devices must count from their creation, not from 0. */
#define EPOCH (UINT64_C(123) * NSEC_PER_SEC_U + 456789)

static struct fake_clock fc;
static struct sim_clock clk;

static void setup(void)
{
	memset(&fc, 0, sizeof(fc));
	fc.now = EPOCH;
	clk = (struct sim_clock){ .now_ns = fake_now, .delay_ns = fake_delay, .ctx = &fc };
}

static void at(uint64_t t_ns)
{
	fc.now = EPOCH + t_ns;
}

static uint64_t read_at(struct clocksource *cs, uint64_t t_ns)
{
	at(t_ns);
	return cs_read(cs);
}

static void make(enum sim_dev dev, const struct sim_conf *conf, uint64_t start,
		 struct clocksource *cs)
{
	int rc = simhw_create(dev, conf, &clk, start, cs);

	ck_assert_msg(rc == 0, "simhw_create(%s): %d %s", simconf_dev_name(dev), rc, cs->reason);
	ck_assert(cs->usable);
}

/* floor(t_ns * hz * (1 + ppb/1e9) / 1e9), in exact integers. */
static uint64_t expect_cycles(uint64_t hz, int64_t ppb, uint64_t t_ns)
{
	__int128 num = (__int128)t_ns * hz * ((__int128)1000000000 + ppb);

	return (uint64_t)(num / ((__int128)1000000000 * 1000000000));
}

START_TEST(test_defaults_and_names)
{
	struct sim_conf c;

	simconf_default(&c);
	ck_assert_uint_eq(c.hz[SIM_HPET], 14318180);
	ck_assert_uint_eq(c.hz[SIM_PMTMR], 3579545);
	ck_assert_uint_eq(c.hz[SIM_TSC], 2400000000u);
	ck_assert_uint_eq(c.devices, 0);
	for (int i = 0; i < SIM_NDEV; i++) {
		ck_assert_int_eq(c.fault[i].kind, SIM_FAULT_NONE);
		ck_assert(c.error_ppm[i] == 0.0);
		ck_assert_int_eq(simconf_dev_from_name(simconf_dev_name(i)), i);
	}
	ck_assert(c.oscillator_error_ppm == 0.0);
	ck_assert_str_eq(simconf_dev_name(SIM_HPET), "hpet");
	ck_assert_str_eq(simconf_dev_name(SIM_PMTMR), "acpi_pm");
	ck_assert_str_eq(simconf_dev_name(SIM_TSC), "tsc");
	ck_assert_int_eq(simconf_dev_from_name("kclock"), -1);
	ck_assert_int_eq(simconf_dev_from_name("HPET"), -1);
	ck_assert_int_eq(simconf_dev_from_name(NULL), -1);
}
END_TEST

START_TEST(test_description)
{
	static const struct {
		enum sim_dev dev;
		unsigned int bits;
		int rating;
		uint32_t flags;
	} want[] = {
		{ SIM_HPET, 32, 250, CS_F_CONTINUOUS | CS_F_SIMULATED },
		{ SIM_PMTMR, 24, 200, CS_F_CONTINUOUS | CS_F_SIMULATED },
		{ SIM_TSC, 64, 300,
		  CS_F_CONTINUOUS | CS_F_MUST_VERIFY | CS_F_CALIBRATE | CS_F_SIMULATED },
	};
	struct sim_conf c;

	simconf_default(&c);
	c.oscillator_error_ppm = 1.5;
	c.error_ppm[SIM_HPET] = -0.25;
	ck_assert_int_eq(simconf_parse_fault("drift:1000ppm@2s", &c.fault[SIM_TSC], NULL, 0), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct clocksource cs;
		const struct cs_attr *a;

		make(want[i].dev, &c, 0, &cs);
		ck_assert_str_eq(cs.name, simconf_dev_name(want[i].dev));
		ck_assert_uint_eq(cs.bits, want[i].bits);
		ck_assert_uint_eq(cs.mask, CS_MASK(want[i].bits));
		ck_assert_int_eq(cs.rating, want[i].rating);
		ck_assert_uint_eq(cs.flags, want[i].flags);
		ck_assert(!(cs.flags & CS_F_CLIENT_READ));
		ck_assert_uint_eq(cs.nominal_hz, c.hz[want[i].dev]);
		ck_assert_str_eq(cs.reason, "");
		ck_assert_ptr_nonnull(cs.priv);
		ck_assert_ptr_nonnull(cs.release);

		a = cs_attr_get(&cs, "simulated");
		ck_assert_ptr_nonnull(a);
		ck_assert_int_eq(a->kind, CS_ATTR_BOOL);
		ck_assert(a->v.b);
		a = cs_attr_get(&cs, "error_ppm");
		ck_assert_ptr_nonnull(a);
		ck_assert_str_eq(a->v.s, want[i].dev == SIM_HPET ? "1.25" : "1.5");
		a = cs_attr_get(&cs, "fault");
		ck_assert_ptr_nonnull(a);
		ck_assert_str_eq(a->v.s, want[i].dev == SIM_TSC ? "drift:1000ppm@2s" : "none");

		cs_release(&cs);
		ck_assert_ptr_null(cs.priv);
		ck_assert_ptr_null(cs.read);
	}
}
END_TEST

/* The loop index picks the device: start just below the mask, cross it. */
START_TEST(test_wrap)
{
	enum sim_dev dev = (enum sim_dev)_i;
	struct sim_conf c;
	struct clocksource cs;
	uint64_t before, after, want;

	simconf_default(&c);
	make(dev, &c, CS_MASK(64) - 1000, &cs); /* masked to the width by create */
	before = read_at(&cs, 0);
	ck_assert_uint_eq(before, cs.mask - 1000);
	after = read_at(&cs, 1000000); /* 1 ms */
	want = expect_cycles(c.hz[dev], 0, 1000000);
	ck_assert_uint_gt(want, 1000);
	ck_assert_msg(after < before, "%s did not wrap: %" PRIu64 " -> %" PRIu64, cs.name, before,
		      after);
	ck_assert_uint_le(after, cs.mask);
	ck_assert_uint_eq((after - before) & cs.mask, want);
	ck_assert_uint_eq(after, want - 1001);
	cs_release(&cs);
}
END_TEST

START_TEST(test_frequency_exact)
{
	struct sim_conf c;
	struct clocksource tsc, hpet;
	uint64_t prev;

	simconf_default(&c);
	c.error_ppm[SIM_TSC] = 12.5;
	c.error_ppm[SIM_HPET] = -3.25;
	make(SIM_TSC, &c, 0, &tsc);
	make(SIM_HPET, &c, 0, &hpet);

	/* 2.4e9 * 10 * (1 + 12.5e-6) is an integer: no rounding to hide behind. */
	ck_assert_uint_eq(read_at(&tsc, 10 * NSEC_PER_SEC_U), UINT64_C(24000300000));
	ck_assert_uint_eq(read_at(&hpet, 10 * NSEC_PER_SEC_U),
			  expect_cycles(14318180, -3250, 10 * NSEC_PER_SEC_U));

	/* One hour at 2.4 GHz + 7.3 ppm: exact to the cycle. */
	c.error_ppm[SIM_TSC] = 7.3;
	cs_release(&tsc);
	setup();
	make(SIM_TSC, &c, 0, &tsc);
	ck_assert_uint_eq(read_at(&tsc, 3600 * NSEC_PER_SEC_U), UINT64_C(8640063072000));

	/* Nanosecond steps late in the run: 2 or 3 cycles each, never a jump. */
	prev = read_at(&tsc, 3600 * NSEC_PER_SEC_U);
	for (uint64_t t = 3600 * NSEC_PER_SEC_U + 1; t < 3600 * NSEC_PER_SEC_U + 1000; t++) {
		uint64_t now = read_at(&tsc, t);

		ck_assert_msg(now - prev == 2 || now - prev == 3, "t=%" PRIu64 ": +%" PRIu64, t,
			      now - prev);
		prev = now;
	}
	cs_release(&tsc);
	cs_release(&hpet);
}
END_TEST

START_TEST(test_oscillator_shared)
{
	struct sim_conf c;
	struct clocksource cs[SIM_NDEV];

	simconf_default(&c);
	c.oscillator_error_ppm = 50;
	c.error_ppm[SIM_PMTMR] = 10;
	for (int i = 0; i < SIM_NDEV; i++)
		make(i, &c, 0, &cs[i]);
	at(10 * NSEC_PER_SEC_U);
	for (int i = 0; i < SIM_NDEV; i++) {
		int64_t ppb = i == SIM_PMTMR ? 60000 : 50000;
		uint64_t got = cs_read(&cs[i]) & cs[i].mask;
		uint64_t want = expect_cycles(c.hz[i], ppb, 10 * NSEC_PER_SEC_U) & cs[i].mask;
		uint64_t none = expect_cycles(c.hz[i], 0, 10 * NSEC_PER_SEC_U) & cs[i].mask;

		ck_assert_msg(got == want, "%s: %" PRIu64 ", expected %" PRIu64, cs[i].name, got,
			      want);
		ck_assert_uint_ne(got, none);
	}
	for (int i = 0; i < SIM_NDEV; i++)
		cs_release(&cs[i]);
}
END_TEST

START_TEST(test_drift)
{
	struct sim_conf c;
	struct clocksource cs;
	uint64_t c1, c2, c2p, c3;

	simconf_default(&c);
	ck_assert_int_eq(simconf_parse_fault("drift:1000ppm@2s", &c.fault[SIM_TSC], NULL, 0), 0);
	make(SIM_TSC, &c, 0, &cs);
	c1 = read_at(&cs, 1 * NSEC_PER_SEC_U);
	c2 = read_at(&cs, 2 * NSEC_PER_SEC_U);
	c2p = read_at(&cs, 2 * NSEC_PER_SEC_U + 1);
	c3 = read_at(&cs, 3 * NSEC_PER_SEC_U);
	/* Before s: the nominal rate. */
	ck_assert_uint_eq(c1, UINT64_C(2400000000));
	ck_assert_uint_eq(c2 - c1, UINT64_C(2400000000));
	/* Continuous at s: one ns later is 2.4 cycles later, not a jump. */
	ck_assert_uint_le(c2p - c2, 3);
	ck_assert_uint_ge(c2p - c2, 2);
	/* After s: 1000 ppm fast. */
	ck_assert_uint_eq(c3 - c2, UINT64_C(2402400000));
	ck_assert_uint_eq(read_at(&cs, 12 * NSEC_PER_SEC_U),
			  UINT64_C(4800000000) + UINT64_C(24024000000));
	cs_release(&cs);

	/* A negative drift, with decimals, on the 24-bit timer. */
	ck_assert_int_eq(simconf_parse_fault("drift:-250.5ppm@0.5s", &c.fault[SIM_PMTMR], NULL, 0),
			 0);
	setup();
	make(SIM_PMTMR, &c, 0, &cs);
	c1 = read_at(&cs, NSEC_PER_SEC_U / 2);
	c2 = read_at(&cs, NSEC_PER_SEC_U / 2 + NSEC_PER_SEC_U);
	ck_assert_uint_eq(c1, expect_cycles(3579545, 0, NSEC_PER_SEC_U / 2));
	ck_assert_uint_eq((c2 - c1) & cs.mask, 3579545 - 897); /* 3579545 * 250.5e-6 = 896.7 */
	cs_release(&cs);
}
END_TEST

START_TEST(test_step)
{
	struct sim_conf c;
	struct clocksource cs;
	uint64_t before, after, later;

	simconf_default(&c);
	ck_assert_int_eq(simconf_parse_fault("step:5000000ns@3s", &c.fault[SIM_HPET], NULL, 0), 0);
	make(SIM_HPET, &c, 0, &cs);
	before = read_at(&cs, 3 * NSEC_PER_SEC_U - 1);
	after = read_at(&cs, 3 * NSEC_PER_SEC_U);
	later = read_at(&cs, 4 * NSEC_PER_SEC_U);
	ck_assert_uint_eq(before, 3 * 14318180 - 1);
	/* 5 ms of 14.31818 MHz = 71590.9 cycles, on top of the 3 s count. */
	ck_assert_uint_eq(after, 3 * 14318180 + 71590);
	ck_assert_uint_eq(later - after, 14318180); /* the rate is unchanged */
	cs_release(&cs);

	/* A negative step moves the 64-bit counter back. */
	ck_assert_int_eq(simconf_parse_fault("step:-1000000ns@1s", &c.fault[SIM_TSC], NULL, 0), 0);
	setup();
	make(SIM_TSC, &c, 0, &cs);
	before = read_at(&cs, NSEC_PER_SEC_U - 5);
	after = read_at(&cs, NSEC_PER_SEC_U);
	ck_assert_uint_eq(before, UINT64_C(2400000000) - 12);
	ck_assert_uint_eq(after, UINT64_C(2400000000) - UINT64_C(2400000));
	ck_assert_uint_lt(after, before);
	cs_release(&cs);
}
END_TEST

START_TEST(test_stall)
{
	struct sim_conf c;
	struct clocksource cs;

	simconf_default(&c);
	ck_assert_int_eq(simconf_parse_fault("stall@2s", &c.fault[SIM_PMTMR], NULL, 0), 0);
	make(SIM_PMTMR, &c, 0, &cs);
	ck_assert_uint_eq(read_at(&cs, NSEC_PER_SEC_U), 3579545);
	ck_assert_uint_eq(read_at(&cs, 2 * NSEC_PER_SEC_U - 1), 2 * 3579545 - 1);
	ck_assert_uint_eq(read_at(&cs, 2 * NSEC_PER_SEC_U), 2 * 3579545);
	ck_assert_uint_eq(read_at(&cs, 2 * NSEC_PER_SEC_U + 1), 2 * 3579545);
	ck_assert_uint_eq(read_at(&cs, 60 * NSEC_PER_SEC_U), 2 * 3579545);
	cs_release(&cs);
}
END_TEST

static unsigned int spike_pattern(uint64_t seed, enum sim_dev dev, bool pattern[], unsigned int n)
{
	struct sim_conf c;
	struct clocksource cs;
	unsigned int spikes = 0;

	setup();
	simconf_default(&c);
	c.seed = seed;
	ck_assert_int_eq(simconf_parse_fault("spikes:200000ns", &c.fault[dev], NULL, 0), 0);
	make(dev, &c, 0, &cs);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t t = (uint64_t)i * 1000000; /* 1 ms apart */
		uint64_t got = read_at(&cs, t);
		bool slow = fc.now != EPOCH + t;

		if (slow) {
			/* The delay went through the clock, and the count was
			 * sampled after it. */
			ck_assert_uint_eq(fc.now, EPOCH + t + 200000);
			spikes++;
		}
		ck_assert_uint_eq(got, expect_cycles(c.hz[dev], 0, fc.now - EPOCH) & cs.mask);
		pattern[i] = slow;
		if (i > 0)
			ck_assert_msg(!(slow && pattern[i - 1]), "two slow reads in a row at %u",
				      i);
	}
	ck_assert_uint_eq(fc.ndelays, spikes);
	ck_assert_uint_eq(fc.delayed_ns, (uint64_t)spikes * 200000);
	cs_release(&cs);
	return spikes;
}

START_TEST(test_spikes)
{
	enum { N = 2000 };
	static bool a[N], b[N];
	uint64_t seed = tk_test_seed();
	unsigned int na, nb;

	na = spike_pattern(seed, SIM_TSC, a, N);
	/* One in every group of eight (spike_pattern checked none are adjacent). */
	ck_assert_uint_eq(na, N / 8);
	for (unsigned int i = 0; i < N; i += 8) {
		unsigned int in_group = 0;

		for (unsigned int j = i; j < i + 8; j++)
			in_group += a[j];
		ck_assert_msg(in_group == 1, "%u slow reads in reads %u..%u", in_group, i, i + 7);
	}
	/* Deterministic for a seed. */
	nb = spike_pattern(seed, SIM_TSC, b, N);
	ck_assert_uint_eq(na, nb);
	ck_assert(memcmp(a, b, sizeof(a)) == 0);
	/* Another device gets another pattern. */
	spike_pattern(seed, SIM_HPET, b, N);
	ck_assert(memcmp(a, b, sizeof(a)) != 0);
}
END_TEST

START_TEST(test_real_clock)
{
	struct sim_conf c;
	struct clocksource cs;
	struct timespec ts = { 0, 2000000 };
	struct timespec t0, t1;
	uint64_t a, b, max_ns = 0, min_ns = UINT64_MAX;

	simconf_default(&c);
	ck_assert_int_eq(simconf_parse_fault("spikes:300000ns", &c.fault[SIM_HPET], NULL, 0), 0);
	ck_assert_int_eq(simhw_create(SIM_HPET, &c, NULL, 0, &cs), 0);
	a = cs_read(&cs);
	nanosleep(&ts, NULL);
	b = cs_read(&cs);
	/* 2 ms at 14.3 MHz is 28636 cycles; allow a slow, busy host. */
	ck_assert_uint_ge((b - a) & cs.mask, 28636);
	ck_assert_uint_lt((b - a) & cs.mask, 14318180);
	/* The real clock's spikes really wait. */
	for (int i = 0; i < 64; i++) {
		uint64_t d;

		clock_gettime(CLOCK_MONOTONIC_RAW, &t0);
		cs_read(&cs);
		clock_gettime(CLOCK_MONOTONIC_RAW, &t1);
		d = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec));
		if (d > max_ns)
			max_ns = d;
		if (d < min_ns)
			min_ns = d;
	}
	ck_assert_uint_ge(max_ns, 300000);
	ck_assert_uint_lt(min_ns, 300000);
	cs_release(&cs);
}
END_TEST

START_TEST(test_create_errors)
{
	struct sim_conf c;
	struct clocksource cs;
	struct sim_clock noclk = { .now_ns = NULL };

	simconf_default(&c);
	c.hz[SIM_HPET] = 0;
	ck_assert_int_eq(simhw_create(SIM_HPET, &c, &clk, 0, &cs), -EINVAL);
	ck_assert(!cs.usable);
	ck_assert_ptr_null(cs.read);
	ck_assert_str_eq(cs.name, "hpet");
	ck_assert_ptr_nonnull(strstr(cs.reason, "frequency 0 Hz outside 1.."));

	simconf_default(&c);
	c.oscillator_error_ppm = -600000;
	c.error_ppm[SIM_TSC] = -500000;
	ck_assert_int_eq(simhw_create(SIM_TSC, &c, &clk, 0, &cs), -EINVAL);
	ck_assert_ptr_nonnull(strstr(cs.reason, "total error -1.1e+06 ppm"));

	simconf_default(&c);
	ck_assert_int_eq(simhw_create(SIM_NDEV, &c, &clk, 0, &cs), -EINVAL);
	ck_assert(!cs.usable);
	ck_assert_int_eq(simhw_create(SIM_PMTMR, &c, &noclk, 0, &cs), -EINVAL);
	ck_assert_ptr_nonnull(strstr(cs.reason, "now_ns"));
}
END_TEST

START_TEST(test_parse_good)
{
	static const struct {
		const char *text;
		enum sim_fault_kind kind;
		double ppm;
		int64_t step_ns;
		uint64_t at_ns;
		uint64_t spike_ns;
		const char *formatted;
	} cases[] = {
		{ "none", SIM_FAULT_NONE, 0, 0, 0, 0, "none" },
		{ "drift:1000ppm@2s", SIM_FAULT_DRIFT, 1000, 0, 2000000000, 0, NULL },
		{ "drift:-12.5ppm@0.25s", SIM_FAULT_DRIFT, -12.5, 0, 250000000, 0, NULL },
		{ "drift:+0.001ppm@1.000000001s", SIM_FAULT_DRIFT, 0.001, 0, 1000000001, 0,
		  "drift:0.001ppm@1.000000001s" },
		{ "step:5000000ns@3s", SIM_FAULT_STEP, 0, 5000000, 3000000000, 0, NULL },
		{ "step:-5000ns@3.5s", SIM_FAULT_STEP, 0, -5000, 3500000000, 0, NULL },
		{ "stall@2s", SIM_FAULT_STALL, 0, 0, 2000000000, 0, NULL },
		{ "stall@0s", SIM_FAULT_STALL, 0, 0, 0, 0, NULL },
		{ "spikes:200000ns", SIM_FAULT_SPIKES, 0, 0, 0, 200000, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sim_fault f;
		char err[256] = "", buf[64];

		memset(&f, 0xa5, sizeof(f));
		ck_assert_msg(simconf_parse_fault(cases[i].text, &f, err, sizeof(err)) == 0,
			      "%s: %s", cases[i].text, err);
		ck_assert_int_eq(f.kind, cases[i].kind);
		ck_assert_msg(f.ppm == cases[i].ppm, "%s: ppm %g", cases[i].text, f.ppm);
		ck_assert_int_eq(f.step_ns, cases[i].step_ns);
		ck_assert_uint_eq(f.at_ns, cases[i].at_ns);
		ck_assert_uint_eq(f.spike_ns, cases[i].spike_ns);
		simconf_format_fault(&f, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].formatted ? cases[i].formatted : cases[i].text);
	}
}
END_TEST

START_TEST(test_parse_bad)
{
	static const struct {
		const char *text;
		const char *what;
	} cases[] = {
		{ "", "unknown fault kind \"\"" },
		{ "bogus", "unknown fault kind \"bogus\"" },
		{ "Drift:1ppm@1s", "unknown fault kind \"Drift\"" },
		{ "drift:ppm@1s", "expected a ppm value at \"ppm@1s\"" },
		{ "drift:10@2s", "expected \"ppm@\" after the ppm value, read \"@2s\"" },
		{ "drift:10ppm", "expected \"ppm@\" after the ppm value, read \"ppm\"" },
		{ "drift:1.ppm@1s", "expected a ppm value" },
		{ "drift:1000000ppm@1s", "drift 1000000 ppm outside -999999..999999" },
		{ "drift:10ppm@2", "expected \"s\" after the time, read \"end of text\"" },
		{ "drift:10ppm@-2s", "expected a time in seconds at \"-2s\"" },
		{ "drift:10ppm@2ms", "expected \"s\" after the time, read \"ms\"" },
		{ "step:1.5ns@2s", "expected \"ns@\" after the step, read \".5ns@2s\"" },
		{ "step:10us@2s", "expected \"ns@\" after the step, read \"us@2s\"" },
		{ "step:-2000000000000ns@1s", "step -2000000000000 ns outside" },
		{ "stall@2", "expected \"s\" after the time" },
		{ "stall@2000000001s", "time 2000000001 s outside 0..1000000000 s" },
		{ "stall@0.0000000001s", "expected a time in seconds" },
		{ "stall@2s ", "unexpected \" \" at the end" },
		{ "spikes:0ns", "spike 0 ns outside 1..1000000000" },
		{ "spikes:-5ns", "expected a whole number of ns at \"-5ns\"" },
		{ "spikes:100", "expected \"ns\" after the spike length, read \"end of text\"" },
		{ "spikes:100ns@1s", "unexpected \"@1s\" at the end" },
		{ "none ", "unknown fault kind \"none \"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sim_fault f = { .kind = SIM_FAULT_STALL, .at_ns = 42 };
		char err[320] = "";
		char head[96];

		ck_assert_int_eq(simconf_parse_fault(cases[i].text, &f, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, cases[i].what), "%s: got \"%s\", wanted \"%s\"",
			      cases[i].text, err, cases[i].what);
		/* Names what was read, and the forms that are accepted. */
		snprintf(head, sizeof(head), "sim fault \"%s\": ", cases[i].text);
		ck_assert_msg(strncmp(err, head, strlen(head)) == 0, "%s", err);
		ck_assert_ptr_nonnull(strstr(err, "expected none | drift:<ppm>ppm@<s>s | "
						  "step:<ns>ns@<s>s | stall@<s>s | spikes:<ns>ns"));
		/* The output is untouched on error. */
		ck_assert_int_eq(f.kind, SIM_FAULT_STALL);
		ck_assert_uint_eq(f.at_ns, 42);
	}
	/* A short buffer is truncated, not overrun; NULL is allowed. */
	{
		struct sim_fault f;
		char small[8];

		ck_assert_int_eq(simconf_parse_fault("bogus", &f, small, sizeof(small)), -EINVAL);
		ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
		ck_assert_int_eq(simconf_parse_fault("bogus", &f, NULL, 0), -EINVAL);
		ck_assert_int_eq(simconf_parse_fault(NULL, &f, NULL, 0), -EINVAL);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("simhw");
	TCase *tc = tcase_create("counters");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_defaults_and_names);
	tcase_add_test(tc, test_description);
	tcase_add_loop_test(tc, test_wrap, 0, SIM_NDEV);
	tcase_add_test(tc, test_frequency_exact);
	tcase_add_test(tc, test_oscillator_shared);
	tcase_add_test(tc, test_create_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_drift);
	tcase_add_test(tc, test_step);
	tcase_add_test(tc, test_stall);
	tcase_add_test(tc, test_spikes);
	suite_add_tcase(s, tc);

	tc = tcase_create("real_clock");
	tcase_add_test(tc, test_real_clock);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_good);
	tcase_add_test(tc, test_parse_bad);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
