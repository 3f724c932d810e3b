// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The timekeeper in simulated time: simulated hpet, acpi_pm and tsc (simhw)
 * on a fake clock, the registry's arithmetic, and tkc_advance() at 100 Hz.
 * Accumulation gives elapsed time exactly; mult changes never move a reader
 * back at the update's counter, and elsewhere by no more than the change
 * times the distance (PLL rounds every 10 ms); ADJ_FREQUENCY and adjtime()
 * change the rate by what they say; a change of clocksource keeps MONOTONIC
 * continuous; steps and leap seconds move REALTIME only; the acpi_pm wrap
 * does not alias at a cadence under max_idle_ns (and does beyond it);
 * readers behind cycle_last see frozen time; the view hands the page
 * writer what the readers use; clocks read at a known counter value start
 * the timekeeper at that value.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clocksource.h"
#include "core/tkc.h"
#include "hw/simhw.h"
#include "tk_check.h"
#include "tk_fakeclock.h"

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)
#define DAY INT64_C(86400)
#define MIDNIGHT (DAY * 20000)
/* one 14.318 MHz cycle, rounded up: the resolution of an interval read */
#define HPET_TICK_NS 70

static struct sim_conf conf;
static struct clocksource hpet, pm, tsc;
static struct cs_registry reg;
static struct cs_entry *eh, *ep, *et;
static struct tkc tk;

static bool have_devices;

static void release_devices(void)
{
	if (!have_devices)
		return;
	cs_release(&hpet);
	cs_release(&pm);
	cs_release(&tsc);
	have_devices = false;
}

static void devices(uint64_t hpet_start, uint64_t pm_start)
{
	release_devices();
	have_devices = true;
	fake_now = 1000 * MS;
	simconf_default(&conf);
	conf.seed = tk_test_seed();
	cs_registry_init(&reg);
	ck_assert_int_eq(simhw_create(SIM_HPET, &conf, &fclk, hpet_start, &hpet), 0);
	ck_assert_int_eq(simhw_create(SIM_PMTMR, &conf, &fclk, pm_start, &pm), 0);
	ck_assert_int_eq(simhw_create(SIM_TSC, &conf, &fclk, 123456789, &tsc), 0);
	eh = cs_register(&reg, &hpet);
	ep = cs_register(&reg, &pm);
	et = cs_register(&reg, &tsc);
	ck_assert(eh && ep && et && eh->have_arith && ep->have_arith && et->have_arith);
}

static void start_on(struct clocksource *cs, const struct cs_entry *e, int64_t real_sec,
		     long real_nsec)
{
	struct tkc_start st = {
		.real = { real_sec, real_nsec },
		.mono = { 1000, 250000000 },
		.boot = { 1005, 500000000 },
		.raw = { 999, 0 },
		.tai_offset = 37,
	};

	ck_assert_int_eq(tkc_init(&tk, cs, &e->ar, TKC_HZ, &st), 0);
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * SEC + t->tv_nsec;
}

static int64_t now_ns(clockid_t id)
{
	struct timespec t;

	ck_assert_int_eq(tkc_get(&tk, id, &t), 0);
	ck_assert(t.tv_nsec >= 0 && t.tv_nsec < SEC);
	return ts_ns(&t);
}

static int64_t at_ns(clockid_t id, uint64_t cycles)
{
	struct timespec t;

	ck_assert_int_eq(tkc_get_at(&tk, id, cycles, &t), 0);
	return ts_ns(&t);
}

/* ns of simulated time in steps of step_ns, tkc_advance() after each */
static void run(int64_t ns, int64_t step_ns)
{
	for (int64_t t = 0; t < ns; t += step_ns) {
		fake_now += (uint64_t)step_ns;
		tkc_advance(&tk);
	}
}

static int adjtimex_simple(uint32_t modes, int32_t status, int64_t freq, int64_t offset)
{
	struct ntp_timex tx;

	memset(&tx, 0, sizeof(tx));
	tx.modes = modes;
	tx.status = status;
	tx.freq = freq;
	tx.offset = offset;
	return tkc_adjtimex(&tk, &tx);
}

START_TEST(test_start_values)
{
	struct tkc_start bad = { .real = { 10, 0 }, .mono = { 20, 0 }, .boot = { 20, 0 } };

	devices(0, 0);
	start_on(&hpet, eh, 1700000000, 123456789);
	ck_assert_int_eq(now_ns(CLOCK_REALTIME), 1700000000 * SEC + 123456789);
	ck_assert_int_eq(now_ns(CLOCK_MONOTONIC), 1000 * SEC + 250000000);
	ck_assert_int_eq(now_ns(CLOCK_BOOTTIME), 1005 * SEC + 500000000);
	ck_assert_int_eq(now_ns(CLOCK_MONOTONIC_RAW), 999 * SEC);
	ck_assert_int_eq(now_ns(CLOCK_TAI), 1700000037 * SEC + 123456789);
	ck_assert_int_eq(now_ns(CLOCK_REALTIME_COARSE), 1700000000 * SEC + 123456789);
	ck_assert_int_eq(now_ns(CLOCK_MONOTONIC_COARSE), 1000 * SEC + 250000000);
	{
		struct timespec t;

		ck_assert_int_eq(tkc_get(&tk, CLOCK_PROCESS_CPUTIME_ID, &t), -EINVAL);
	}
	/* REALTIME before MONOTONIC, boot before mono, bad rate: refused */
	ck_assert_int_eq(tkc_init(&tk, &hpet, &eh->ar, TKC_HZ, &bad), -EINVAL);
	bad.real.tv_sec = 30;
	bad.boot.tv_sec = 19;
	ck_assert_int_eq(tkc_init(&tk, &hpet, &eh->ar, TKC_HZ, &bad), -EINVAL);
	bad.boot.tv_sec = 20;
	ck_assert_int_eq(tkc_init(&tk, &hpet, &eh->ar, 0, &bad), -EINVAL);
	ck_assert_int_eq(tkc_init(&tk, &hpet, &eh->ar, TKC_HZ, &bad), 0);
}
END_TEST

/* 14.318 MHz HPET, 10 simulated seconds across its 32-bit wrap: 10 s. */
/* Clocks read at a known counter value belong to it: a timekeeper started
 * 30 ms later (a preempted start) reads them there, and 30 ms on now. */
START_TEST(test_start_cycles)
{
	struct tkc_start st = {
		.real = { 1700000000, 0 },
		.mono = { 1000, 0 },
		.boot = { 1000, 0 },
		.raw = { 999, 0 },
	};
	int64_t at = 1700000000 * SEC;

	devices(0, 0);
	st.cycles = cs_read(&hpet);
	st.have_cycles = true;
	fake_now += 30 * (uint64_t)MS;
	ck_assert_int_eq(tkc_init(&tk, &hpet, &eh->ar, TKC_HZ, &st), 0);
	ck_assert_int_eq(at_ns(CLOCK_REALTIME, st.cycles), at);
	ck_assert_int_eq(at_ns(CLOCK_MONOTONIC, st.cycles), 1000 * SEC);
	ck_assert_int_le(llabs(now_ns(CLOCK_REALTIME) - at - 30 * MS), HPET_TICK_NS);
	ck_assert_int_le(llabs(now_ns(CLOCK_MONOTONIC_RAW) - 999 * SEC - 30 * MS), HPET_TICK_NS);
	/* without the counter's value, the start is now */
	st.have_cycles = false;
	ck_assert_int_eq(tkc_init(&tk, &hpet, &eh->ar, TKC_HZ, &st), 0);
	ck_assert_int_eq(now_ns(CLOCK_REALTIME), at);
}
END_TEST

START_TEST(test_hpet_ten_seconds)
{
	int64_t r0, m0, w0, b0;

	devices(UINT32_MAX - 50000000u, 0);
	start_on(&hpet, eh, 1700000000, 0);
	/* one interval is 143182 cycles, 10.0000127 ms */
	ck_assert_uint_eq(tk.cycle_interval, 143182);
	r0 = now_ns(CLOCK_REALTIME);
	m0 = now_ns(CLOCK_MONOTONIC);
	w0 = now_ns(CLOCK_MONOTONIC_RAW);
	b0 = now_ns(CLOCK_BOOTTIME);
	run(10 * SEC, 10 * MS);
	ck_assert_msg(llabs(now_ns(CLOCK_REALTIME) - r0 - 10 * SEC) <= 100, "realtime %" PRId64,
		      now_ns(CLOCK_REALTIME) - r0);
	ck_assert_int_le(llabs(now_ns(CLOCK_MONOTONIC) - m0 - 10 * SEC), 100);
	ck_assert_int_le(llabs(now_ns(CLOCK_MONOTONIC_RAW) - w0 - 10 * SEC), 100);
	ck_assert_int_le(llabs(now_ns(CLOCK_BOOTTIME) - b0 - 10 * SEC), 100);
	/* coarse: the last accumulation, at most one interval (plus a tick) behind */
	ck_assert_int_le(now_ns(CLOCK_REALTIME_COARSE), now_ns(CLOCK_REALTIME));
	ck_assert_int_ge(now_ns(CLOCK_REALTIME_COARSE), now_ns(CLOCK_REALTIME) - 21 * MS);
	ck_assert(!tk.over_maxadj);
}
END_TEST

/* Reading at one counter value before and after a mult change: the same
 * time (the xtime_nsec compensation), never earlier. */
START_TEST(test_mult_change_same_counter)
{
	static const int64_t ppm[] = { 300, -300, 500, -500, 17, 0 };
	uint64_t seed = tk_test_seed();

	devices(0, 0);
	start_on(&hpet, eh, 1700000000, 0);
	for (size_t i = 0; i < sizeof(ppm) / sizeof(ppm[0]); i++) {
		uint32_t mult_before = tk.mono.mult;
		uint64_t c;
		int64_t before[3], after[3];
		static const clockid_t ids[3] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_TAI };

		/* somewhere inside an interval */
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		run(200 * MS, 10 * MS);
		fake_now += 1 * MS + (seed >> 40) % (8 * MS);
		c = hpet.read(&hpet);
		ck_assert_uint_gt((c - tk.mono.cycle_last) & tk.mono.mask, 0);
		for (int k = 0; k < 3; k++)
			before[k] = at_ns(ids[k], c);
		adjtimex_simple(NTP_ADJ_FREQUENCY, 0, ppm[i] * 65536, 0);
		for (int k = 0; k < 3; k++) {
			after[k] = at_ns(ids[k], c);
			ck_assert_msg(after[k] >= before[k] && after[k] - before[k] <= 1,
				      "%d ppm clock %d: %" PRId64 " -> %" PRId64, (int)ppm[i],
				      (int)ids[k], before[k], after[k]);
		}
		/* the change did happen now, not at the next tick */
		if (i)
			ck_assert_uint_ne(tk.mono.mult, mult_before);
	}
}
END_TEST

/* Under continuous steering (frequency jumps, PLL offsets, adjtime) every
 * clock read each 1 ms never goes back, and the coarse ones neither. */
START_TEST(test_steering_monotonic)
{
	static const clockid_t ids[] = { CLOCK_REALTIME,	CLOCK_MONOTONIC,
					 CLOCK_BOOTTIME,	CLOCK_TAI,
					 CLOCK_MONOTONIC_RAW,	CLOCK_REALTIME_COARSE,
					 CLOCK_MONOTONIC_COARSE };
	int64_t last[7];
	uint64_t seed = tk_test_seed();

	devices(0, 0);
	start_on(&tsc, et, 1700000000, 999000000);
	adjtimex_simple(NTP_ADJ_STATUS | NTP_ADJ_NANO, NTP_STA_PLL, 0, 0);
	for (int k = 0; k < 7; k++)
		last[k] = now_ns(ids[k]);
	for (int ms = 1; ms <= 20000; ms++) {
		fake_now += (uint64_t)MS;
		if (ms % 10 == 0)
			tkc_advance(&tk);
		if (ms % 37 == 0) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			switch ((seed >> 33) % 3) {
			case 0:
				adjtimex_simple(NTP_ADJ_FREQUENCY, 0,
						((int64_t)((seed >> 20) % 1000) - 500) * 65536, 0);
				break;
			case 1:
				adjtimex_simple(NTP_ADJ_OFFSET, 0, 0,
						(int64_t)((seed >> 16) % 2000000) - 1000000);
				break;
			default:
				adjtimex_simple(NTP_ADJ_OFFSET_SINGLESHOT, 0, 0,
						(int64_t)((seed >> 24) % 4000) - 2000);
				break;
			}
		}
		for (int k = 0; k < 7; k++) {
			int64_t v = now_ns(ids[k]);

			ck_assert_msg(v >= last[k], "clock %d back by %" PRId64 " ns at %d ms",
				      (int)ids[k], last[k] - v, ms);
			last[k] = v;
		}
	}
}
END_TEST

/* A discipline round every 10 ms (PLL, time constant 0, ADJ_OFFSET of up to
 * +-1 ms or +-0.5 s, clamped), updates late by up to 9 ms: the big offsets
 * change mult by up to a quarter at one tick (a slew of offset / 4 per
 * second, either way). At the counter value the update read, MONOTONIC is
 * the same after it as before (the xtime_nsec compensation, exact in
 * shifted ns); at a counter d behind or ahead of it (a reader on another
 * CPU, a reader on the old page before it is replaced) it moves by
 * d * (mult change) back at most, as in the kernel: never more. */
START_TEST(test_pll_rounds_mult_change)
{
	static const int64_t away_ns[] = { 0,	     -1000, -100000, -1 * MS, -3 * MS, -9 * MS,
					   -12 * MS, 1000,  100000,  1 * MS,  3 * MS };
	enum { NB = sizeof(away_ns) / sizeof(away_ns[0]) };
	uint64_t seed = tk_test_seed();
	int64_t worst = 0, steps = 0, bigmult = 0;

	devices(0, 0);
	start_on(&tsc, et, 1700000000, 0);
	adjtimex_simple(NTP_ADJ_STATUS | NTP_ADJ_NANO | NTP_ADJ_TIMECONST, NTP_STA_PLL, 0, 0);
	for (int round = 0; round < 3000; round++) {
		uint64_t c[NB], now, t0;
		int64_t before[NB], off, dm;
		uint32_t mult0 = tk.mono.mult;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		fake_now += (uint64_t)(10 * MS) + (seed >> 24) % (9 * MS);
		t0 = fake_now;
		now = tsc.read(&tsc);
		for (int k = 0; k < NB; k++) {
			int64_t cyc = (int64_t)(((unsigned __int128)llabs(away_ns[k])
						 << tk.mono.shift) /
						tk.mono.mult);

			c[k] = now + (uint64_t)(away_ns[k] < 0 ? -cyc : cyc);
			before[k] = at_ns(CLOCK_MONOTONIC, c[k]);
		}
		fake_now = t0; /* the update reads the counter at now */
		tkc_advance(&tk);
		dm = (int64_t)tk.mono.mult - (int64_t)mult0;
		if (llabs(dm) > (int64_t)(mult0 / 16))
			bigmult++;
		for (int k = 0; k < NB; k++) {
			int64_t after = at_ns(CLOCK_MONOTONIC, c[k]);
			uint64_t d = (c[k] > now ? c[k] - now : now - c[k]);
			int64_t lim = (int64_t)(((unsigned __int128)d * (uint64_t)llabs(dm)) >>
						tk.mono.shift) +
				      2;

			if (away_ns[k] == 0)
				ck_assert_msg(after - before[k] >= 0 && after - before[k] <= 1,
					      "round %d at the update's counter: %" PRId64
					      " -> %" PRId64,
					      round, before[k], after);
			/* forward is fine: behind the new cycle_last time stands still */
			ck_assert_msg(before[k] - after <= lim,
				      "round %d, %" PRId64 " ns away: moved %" PRId64
				      " ns, mult change %" PRId64 " allows %" PRId64,
				      round, away_ns[k], after - before[k], dm, lim);
			if (after < before[k]) {
				steps++;
				if (before[k] - after > worst)
					worst = before[k] - after;
			}
		}
		off = (seed >> 33) % 4 == 0 ? ((seed >> 35) & 1 ? 500 : -500) * MS
					    : (int64_t)((seed >> 16) % 2000001) - 1000000;
		adjtimex_simple(NTP_ADJ_OFFSET | NTP_ADJ_NANO, 0, 0, off);
	}
	/* the drive did change mult by more than 1/16 at some ticks */
	ck_assert_int_gt(bigmult, 3);
	fprintf(stderr,
		"# %" PRId64 " ticks with |mult change| > 1/16; at counters away from "
		"the update's, %" PRId64 " readings lower after it, the largest by %" PRId64
		" ns\n",
		bigmult, steps, worst);
}
END_TEST

/* ADJ_FREQUENCY N ppm: REALTIME gains N us per second on MONOTONIC_RAW. */
START_TEST(test_frequency_rate)
{
	static const int64_t ppm[] = { 100, -250, 500 };

	for (size_t i = 0; i < sizeof(ppm) / sizeof(ppm[0]); i++) {
		int64_t r0, w0, dr, dw;

		devices(0, 0);
		start_on(&hpet, eh, 1700000000, 0);
		adjtimex_simple(NTP_ADJ_FREQUENCY, 0, ppm[i] * 65536, 0);
		run(1 * SEC, 10 * MS);
		r0 = now_ns(CLOCK_REALTIME);
		w0 = now_ns(CLOCK_MONOTONIC_RAW);
		run(20 * SEC, 10 * MS);
		dr = now_ns(CLOCK_REALTIME) - r0;
		dw = now_ns(CLOCK_MONOTONIC_RAW) - w0;
		ck_assert_int_le(llabs(dw - 20 * SEC), 100);
		/* 20 s * N ppm = N * 20 us, to 1 us */
		ck_assert_msg(llabs((dr - dw) - ppm[i] * 20000) <= 1000,
			      "%" PRId64 " ppm: gained %" PRId64 " ns in 20 s", ppm[i], dr - dw);
	}
}
END_TEST

/* adjtime(1000 us) slews at 500 us/s: half after the first whole second,
 * all of it after the second. */
START_TEST(test_adjtime_rate)
{
	int64_t r0, w0;

	devices(0, 0);
	start_on(&hpet, eh, 1700000000, 0);
	r0 = now_ns(CLOCK_REALTIME);
	w0 = now_ns(CLOCK_MONOTONIC_RAW);
	adjtimex_simple(NTP_ADJ_OFFSET_SINGLESHOT, 0, 0, 1000);
	/* the second overflow at 1 s starts the slew: half a second of it at
	 * 1.5 s, less up to one interval (the overflow is seen at the tick that
	 * accumulates past 1 s; 10 ms at 500 ppm = 5 us) */
	run(1500 * MS, 10 * MS);
	ck_assert_int_le(
		llabs((now_ns(CLOCK_REALTIME) - r0) - (now_ns(CLOCK_MONOTONIC_RAW) - w0) - 250000),
		5000 + 100);
	/* 500 us from 1 s to 2 s, the last 500 us from 2 s to 3 s, then nothing */
	run(2 * SEC, 10 * MS);
	ck_assert_int_le(
		llabs((now_ns(CLOCK_REALTIME) - r0) - (now_ns(CLOCK_MONOTONIC_RAW) - w0) - 1000000),
		1000);
	ck_assert_int_eq(tk.ntp.time_adjust, 0);
}
END_TEST

/* hpet -> acpi_pm -> tsc: MONOTONIC continuous at the switch, rate kept. */
START_TEST(test_change_clocksource)
{
	struct clocksource *seq[] = { &pm, &tsc };
	struct cs_entry *eseq[] = { ep, et };
	int64_t m_before, m_after, r_before, w_before;

	devices(0, 0);
	seq[0] = &pm;
	eseq[0] = ep;
	eseq[1] = et;
	start_on(&hpet, eh, 1700000000, 0);
	adjtimex_simple(NTP_ADJ_STATUS | NTP_ADJ_FREQUENCY, NTP_STA_PLL, 10 * 65536, 0);
	for (int i = 0; i < 2; i++) {
		uint64_t cws = tk.clock_was_set_seq;
		int64_t m0;

		run(1 * SEC + 3 * MS, 10 * MS);
		fake_now += 4 * MS + 123; /* mid-interval */
		m_before = now_ns(CLOCK_MONOTONIC);
		r_before = now_ns(CLOCK_REALTIME);
		w_before = now_ns(CLOCK_MONOTONIC_RAW);
		ck_assert_int_eq(tkc_change_clocksource(&tk, seq[i], &eseq[i]->ar), 0);
		m_after = now_ns(CLOCK_MONOTONIC);
		ck_assert_msg(llabs(m_after - m_before) <= 3, "%s: monotonic jumped %" PRId64 " ns",
			      seq[i]->name, m_after - m_before);
		ck_assert_int_le(llabs(now_ns(CLOCK_REALTIME) - r_before), 3);
		ck_assert_int_le(llabs(now_ns(CLOCK_MONOTONIC_RAW) - w_before), 3);
		ck_assert_uint_eq(tk.cs_change_seq, (uint64_t)i + 1);
		ck_assert_uint_gt(tk.clock_was_set_seq, cws);
		ck_assert_uint_eq(tk.mono.shift, eseq[i]->ar.shift);
		/* ntp_clear: unsynchronized, but the frequency is kept */
		ck_assert(tk.ntp.time_status & NTP_STA_UNSYNC);
		ck_assert_int_eq(ntp_freq_scaled_ppm(&tk.ntp), 10 * 65536);
		/* and the new counter runs it 10 ppm fast */
		m0 = now_ns(CLOCK_MONOTONIC);
		w_before = now_ns(CLOCK_MONOTONIC_RAW);
		run(5 * SEC, 10 * MS);
		ck_assert_int_le(llabs((now_ns(CLOCK_MONOTONIC) - m0) -
				       (now_ns(CLOCK_MONOTONIC_RAW) - w_before) - 50000),
				 1000);
	}
	ck_assert_int_eq(tkc_change_clocksource(&tk, &tsc, NULL), -EINVAL);
}
END_TEST

START_TEST(test_step)
{
	struct timespec t;
	struct ntp_timex tx;
	int64_t m0, b0, r0;
	uint64_t cws;

	devices(0, 0);
	start_on(&hpet, eh, 1700000000, 0);
	run(1500 * MS, 10 * MS);
	fake_now += 3 * MS;
	m0 = now_ns(CLOCK_MONOTONIC);
	b0 = now_ns(CLOCK_BOOTTIME);
	cws = tk.clock_was_set_seq;

	t.tv_sec = 1800000000;
	t.tv_nsec = 250000000;
	ck_assert_int_eq(tkc_settime(&tk, &t), 0);
	ck_assert_int_eq(now_ns(CLOCK_REALTIME), 1800000000 * SEC + 250000000);
	ck_assert_int_eq(now_ns(CLOCK_TAI), 1800000037 * SEC + 250000000);
	ck_assert_int_le(llabs(now_ns(CLOCK_MONOTONIC) - m0), 1);
	ck_assert_int_le(llabs(now_ns(CLOCK_BOOTTIME) - b0), 1);
	ck_assert_int_eq(now_ns(CLOCK_REALTIME_COARSE), 1800000000 * SEC + 250000000);
	ck_assert_int_le(llabs(now_ns(CLOCK_MONOTONIC_COARSE) - m0), 1);
	ck_assert_uint_eq(tk.clock_was_set_seq, cws + 1);
	ck_assert(tk.wtm.sec <= 0 && tk.wtm.nsec >= 0 && tk.wtm.nsec < SEC);

	/* a REALTIME before MONOTONIC is refused and changes nothing */
	t.tv_sec = 500;
	t.tv_nsec = 0;
	r0 = now_ns(CLOCK_REALTIME);
	ck_assert_int_eq(tkc_settime(&tk, &t), -EINVAL);
	ck_assert_int_le(llabs(now_ns(CLOCK_REALTIME) - r0), 1);
	t.tv_nsec = SEC;
	ck_assert_int_eq(tkc_settime(&tk, &t), -EINVAL);

	/* ADJ_SETOFFSET -2.25 s (us) and +1.5 s (ns): REALTIME only */
	run(100 * MS, 10 * MS);
	m0 = now_ns(CLOCK_MONOTONIC);
	r0 = now_ns(CLOCK_REALTIME);
	memset(&tx, 0, sizeof(tx));
	tx.modes = NTP_ADJ_SETOFFSET;
	tx.time_sec = -3;
	tx.time_frac = 750000;
	ck_assert_int_ge(tkc_adjtimex(&tk, &tx), 0);
	ck_assert_int_le(llabs(now_ns(CLOCK_REALTIME) - (r0 - 2250 * MS)), 1);
	ck_assert_int_le(llabs(now_ns(CLOCK_MONOTONIC) - m0), 1);
	memset(&tx, 0, sizeof(tx));
	tx.modes = NTP_ADJ_SETOFFSET | NTP_ADJ_NANO;
	tx.time_sec = 1;
	tx.time_frac = 500000000;
	ck_assert_int_ge(tkc_adjtimex(&tk, &tx), 0);
	ck_assert_int_le(llabs(now_ns(CLOCK_REALTIME) - (r0 - 750 * MS)), 1);
	ck_assert_int_le(llabs(now_ns(CLOCK_MONOTONIC) - m0), 1);
	/* an offset taking REALTIME before MONOTONIC is refused */
	memset(&tx, 0, sizeof(tx));
	tx.modes = NTP_ADJ_SETOFFSET;
	tx.time_sec = -1800000000;
	ck_assert_int_eq(tkc_adjtimex(&tk, &tx), -EINVAL);
	ck_assert_int_le(llabs(now_ns(CLOCK_REALTIME) - (r0 - 750 * MS)), 1);
	/* the step cleared NTP, as the kernel does */
	ck_assert(tk.ntp.time_status & NTP_STA_UNSYNC);
	/* steps from a client: any int64 (no overflow, UBSan), and a
	 * REALTIME past the settable range (300 years on) is refused too */
	{
		const int64_t bad[] = { INT64_MAX, INT64_MIN, INT64_MIN + 1, 300LL * 366 * 86400 };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memset(&tx, 0, sizeof(tx));
			tx.modes = NTP_ADJ_SETOFFSET | NTP_ADJ_NANO;
			tx.time_sec = bad[i];
			tx.time_frac = 999999999;
			ck_assert_int_eq(tkc_adjtimex(&tk, &tx), -EINVAL);
			ck_assert_int_le(llabs(now_ns(CLOCK_REALTIME) - (r0 - 750 * MS)), 1);
		}
	}
}
END_TEST

/* acpi_pm (24 bits, wraps every 4.69 s, max_idle_ns 2.09 s): accumulated
 * every 1.5 s it never aliases; every 5 s it loses a wrap each time. */
START_TEST(test_pmtmr_wrap)
{
	int64_t r0;

	devices(0, 0xFFF000);
	ck_assert_uint_lt(ep->ar.max_idle_ns, 2100 * MS);
	ck_assert_uint_gt(ep->ar.max_idle_ns, 2000 * MS);
	start_on(&pm, ep, 1700000000, 0);
	ck_assert_uint_eq(tkc_max_idle_ns(&tk), ep->ar.max_idle_ns);
	r0 = now_ns(CLOCK_REALTIME);
	run(60 * SEC, 1500 * MS);
	ck_assert_msg(llabs(now_ns(CLOCK_REALTIME) - r0 - 60 * SEC) <= 1000, "%" PRId64,
		      now_ns(CLOCK_REALTIME) - r0);

	/* the cadence matters: 5 s > the wrap, each update sees 0.31 s */
	r0 = now_ns(CLOCK_REALTIME);
	run(20 * SEC, 5 * SEC);
	ck_assert_int_lt(now_ns(CLOCK_REALTIME) - r0, 20 * SEC - 4 * 4 * SEC);
}
END_TEST

/* A counter value slightly behind cycle_last (another CPU's TSC, a read
 * before the update) gives the time of the update, not a jump ahead. */
START_TEST(test_reader_behind)
{
	struct clocksource *cs[] = { &hpet, &tsc, &pm };

	devices(0, 0);
	for (int i = 0; i < 3; i++) {
		const struct cs_entry *e = i == 0 ? eh : i == 1 ? et : ep;
		uint64_t c;
		int64_t frozen;

		start_on(cs[i], e, 1700000000, 0);
		run(1003 * MS, 10 * MS);
		c = tk.mono.cycle_last;
		frozen = at_ns(CLOCK_MONOTONIC, c);
		for (uint64_t back = 1; back <= 1000; back *= 10) {
			ck_assert_int_eq(at_ns(CLOCK_MONOTONIC, (c - back) & tk.mono.mask), frozen);
			ck_assert_int_eq(at_ns(CLOCK_REALTIME, (c - back) & tk.mono.mask),
					 at_ns(CLOCK_REALTIME, c));
			ck_assert_int_eq(at_ns(CLOCK_MONOTONIC_RAW, (c - back) & tk.mono.mask),
					 at_ns(CLOCK_MONOTONIC_RAW, c));
		}
		ck_assert_int_gt(at_ns(CLOCK_MONOTONIC, (c + 1000) & tk.mono.mask), frozen);
		/* an update with the counter behind accumulates nothing */
		{
			struct tkc_base b = tk.mono;

			fake_now -= 2 * MS; /* the counter read lags (simulated) */
			tkc_advance(&tk);
			ck_assert_uint_eq(tk.mono.cycle_last, b.cycle_last);
			ck_assert_uint_eq(tk.mono.xtime_nsec, b.xtime_nsec);
			fake_now += 2 * MS;
		}
	}
}
END_TEST

/* Leap second insertion at 23:59:60, read every 10 ms: 23:59:59 twice,
 * TAI one more, MONOTONIC untouched, and the read-back fix-up in between. */
START_TEST(test_leap_insert)
{
	int64_t last_r, last_m, back = 0, nback = 0;
	bool saw_fixup = false, saw_oop = false, saw_wait = false;
	uint64_t cws;

	devices(0, 0);
	start_on(&hpet, eh, MIDNIGHT - 3, 500000000);
	ck_assert_int_eq(adjtimex_simple(NTP_ADJ_STATUS | NTP_ADJ_MAXERROR,
					 NTP_STA_PLL | NTP_STA_INS, 0, 0),
			 NTP_TIME_OK);
	cws = tk.clock_was_set_seq;
	last_r = now_ns(CLOCK_REALTIME);
	last_m = now_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < 500; i++) {
		struct ntp_timex tx;
		int64_t r, m;
		int res;

		fake_now += 10 * MS;
		r = now_ns(CLOCK_REALTIME);
		memset(&tx, 0, sizeof(tx));
		res = tkc_adjtimex(&tk, &tx);
		if (tk.ntp.time_state == NTP_TIME_INS && r / SEC >= MIDNIGHT) {
			/* past midnight, leap not applied yet: shown as 23:59:60 */
			ck_assert_int_eq(res, NTP_TIME_OOP);
			ck_assert_int_eq(tx.time_sec, MIDNIGHT - 1);
			ck_assert_int_eq(tx.tai, 38);
			saw_fixup = true;
		}
		tkc_advance(&tk);
		r = now_ns(CLOCK_REALTIME);
		m = now_ns(CLOCK_MONOTONIC);
		ck_assert_int_le(llabs(m - last_m - 10 * MS), HPET_TICK_NS);
		if (r < last_r) {
			back = last_r - r;
			nback++;
			ck_assert_int_eq(r / SEC, MIDNIGHT - 1);
			ck_assert_int_eq(tk.tai_offset, 38);
		}
		memset(&tx, 0, sizeof(tx));
		res = tkc_adjtimex(&tk, &tx);
		if (r / SEC == MIDNIGHT - 1 && tk.tai_offset == 38) {
			ck_assert_int_eq(res, NTP_TIME_OOP);
			saw_oop = true;
		}
		if (r / SEC >= MIDNIGHT + 1) {
			ck_assert_int_eq(res, NTP_TIME_WAIT);
			saw_wait = true;
		}
		last_r = r;
		last_m = m;
	}
	ck_assert_int_eq(nback, 1);
	ck_assert_int_le(llabs(back - (SEC - 10 * MS)), HPET_TICK_NS);
	ck_assert(saw_fixup && saw_oop && saw_wait);
	ck_assert_int_eq(tk.tai_offset, 38);
	ck_assert_int_eq(now_ns(CLOCK_TAI) - now_ns(CLOCK_REALTIME), 38 * SEC);
	ck_assert_uint_eq(tk.clock_was_set_seq, cws + 1);
	/* REALTIME 5 s - 1 s after the start, MONOTONIC 5 s */
	ck_assert_int_le(
		llabs(now_ns(CLOCK_REALTIME) - ((MIDNIGHT - 3) * SEC + 500 * MS + 4 * SEC)), 200);
	/* TIME_WAIT until STA_INS is cleared */
	ck_assert_int_eq(adjtimex_simple(NTP_ADJ_STATUS, NTP_STA_PLL, 0, 0), NTP_TIME_WAIT);
	run(1 * SEC, 10 * MS);
	ck_assert_int_eq(adjtimex_simple(0, 0, 0, 0), NTP_TIME_OK);
}
END_TEST

/* Leap second deletion: 23:59:59 never shows, TAI one less. */
START_TEST(test_leap_delete)
{
	int64_t last_r, last_m;
	int njump = 0;
	bool saw_fixup = false;

	devices(0, 0);
	start_on(&hpet, eh, MIDNIGHT - 3, 500000000);
	adjtimex_simple(NTP_ADJ_STATUS | NTP_ADJ_MAXERROR, NTP_STA_PLL | NTP_STA_DEL, 0, 0);
	last_r = now_ns(CLOCK_REALTIME);
	last_m = now_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < 400; i++) {
		struct ntp_timex tx;
		int64_t r, m;
		int res;

		fake_now += 10 * MS;
		r = now_ns(CLOCK_REALTIME);
		memset(&tx, 0, sizeof(tx));
		res = tkc_adjtimex(&tk, &tx);
		if (tk.ntp.time_state == NTP_TIME_DEL && r / SEC >= MIDNIGHT - 1) {
			ck_assert_int_eq(res, NTP_TIME_WAIT);
			ck_assert_int_eq(tx.time_sec, MIDNIGHT);
			ck_assert_int_eq(tx.tai, 36);
			saw_fixup = true;
		}
		tkc_advance(&tk);
		r = now_ns(CLOCK_REALTIME);
		m = now_ns(CLOCK_MONOTONIC);
		ck_assert_int_le(llabs(m - last_m - 10 * MS), HPET_TICK_NS);
		ck_assert_int_ne(r / SEC, MIDNIGHT - 1);
		if (r - last_r > 500 * MS) {
			njump++;
			ck_assert_int_eq(r / SEC, MIDNIGHT);
		} else {
			ck_assert_int_ge(r, last_r);
		}
		last_r = r;
		last_m = m;
	}
	ck_assert_int_eq(njump, 1);
	ck_assert(saw_fixup);
	ck_assert_int_eq(tk.tai_offset, 36);
	ck_assert_int_eq(tk.ntp.time_state, NTP_TIME_WAIT);
}
END_TEST

/* The view is what the readers use: the page formula on it gives tkc_get_at. */
START_TEST(test_view)
{
	struct tkv v;
	uint64_t c;
	unsigned __int128 ns;
	int64_t real, mono;

	devices(0, 0);
	start_on(&tsc, et, 1700000000, 0);
	adjtimex_simple(NTP_ADJ_STATUS | NTP_ADJ_FREQUENCY | NTP_ADJ_MAXERROR, NTP_STA_PLL,
			-42 * 65536, 0);
	run(2345 * MS, 10 * MS);
	fake_now += 7 * MS;
	tkc_view(&tk, &v);
	c = tsc.read(&tsc);
	ns = ((unsigned __int128)((c - v.mono.cycle_last) & v.mono.mask) * v.mono.mult +
	      v.mono.xtime_nsec) >>
	     v.mono.shift;
	real = v.xtime_sec * SEC + (int64_t)ns;
	mono = (v.xtime_sec + v.wall_to_monotonic.sec) * SEC + v.wall_to_monotonic.nsec +
	       (int64_t)ns;
	ck_assert_int_eq(real, at_ns(CLOCK_REALTIME, c));
	ck_assert_int_eq(mono, at_ns(CLOCK_MONOTONIC, c));
	ns = ((unsigned __int128)((c - v.raw.cycle_last) & v.raw.mask) * v.raw.mult +
	      v.raw.xtime_nsec) >>
	     v.raw.shift;
	ck_assert_int_eq(v.raw_sec * SEC + (int64_t)ns, at_ns(CLOCK_MONOTONIC_RAW, c));
	ck_assert_int_eq(v.xtime_sec * SEC + (int64_t)v.coarse_nsec, now_ns(CLOCK_REALTIME_COARSE));
	ck_assert_int_le(v.wall_to_monotonic.sec, 0);
	ck_assert_int_ge(v.monotonic_to_boot.sec, 0);
	ck_assert_int_eq(v.tai_offset, 37);
	ck_assert_str_eq(v.cs_name, "tsc");
	ck_assert_int_eq(v.cs_client_readable, (tsc.flags & CS_F_CLIENT_READ) != 0);
	ck_assert_uint_eq(v.mono.max_cycles, et->ar.max_cycles);
	ck_assert_uint_ne(v.mono.mult, v.raw.mult); /* -42 ppm steered */
	ck_assert_int_eq(v.freq_scaled_ppm, -42 * 65536);
	ck_assert_int_eq(v.ntp_state, NTP_TIME_OK);
	ck_assert_uint_eq(v.ntp_status & NTP_STA_PLL, NTP_STA_PLL);
	ck_assert_int_eq(v.maxerror_us, 2 * 500); /* from 0, two second boundaries went by */
	ck_assert_uint_eq(v.cs_change_seq, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tkc");
	TCase *tc = tcase_create("timekeeper");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, NULL, release_devices);
	tcase_add_test(tc, test_start_values);
	tcase_add_test(tc, test_start_cycles);
	tcase_add_test(tc, test_hpet_ten_seconds);
	tcase_add_test(tc, test_mult_change_same_counter);
	tcase_add_test(tc, test_steering_monotonic);
	tcase_add_test(tc, test_pll_rounds_mult_change);
	tcase_add_test(tc, test_frequency_rate);
	tcase_add_test(tc, test_adjtime_rate);
	tcase_add_test(tc, test_change_clocksource);
	tcase_add_test(tc, test_step);
	tcase_add_test(tc, test_pmtmr_wrap);
	tcase_add_test(tc, test_reader_behind);
	tcase_add_test(tc, test_leap_insert);
	tcase_add_test(tc, test_leap_delete);
	tcase_add_test(tc, test_view);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
