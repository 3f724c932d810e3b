// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The NTP discipline against the kernel's documented behaviour:
 * initial values, the ADJ_FREQUENCY round trip and clamp, the PLL/FLL
 * responses computed by hand from ntp_update_offset()'s formulas, the per-second phase
 * and adjtime slews, maxerror growth to STA_UNSYNC, the leap second state
 * machine and the adjtimex read-back fix-ups, and the validation rules.
 * Everything at the daemon's default rate of 100 intervals per second.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "core/adjtimex.h"
#include "tk_check.h"

#define HZ 100
#define DAY INT64_C(86400)
#define M (DAY * 20000) /* a UTC midnight */

static struct ntp_state n;
static int32_t tai;

static void setup(void)
{
	ck_assert_int_eq(ntp_init(&n, HZ), 0);
	tai = 37;
}

/* one adjtimex call at REALTIME now_sec */
static int adj(uint32_t modes, struct ntp_timex *tx, int64_t now_sec)
{
	tx->modes = modes;
	ck_assert_int_eq(ntp_validate_timex(tx), 0);
	return ntp_adjtimex(&n, tx, now_sec, 0, &tai);
}

static int adj_simple(uint32_t modes, int64_t now_sec)
{
	struct ntp_timex tx;

	memset(&tx, 0, sizeof(tx));
	return adj(modes, &tx, now_sec);
}

START_TEST(test_initial)
{
	struct ntp_timex tx;

	memset(&tx, 0, sizeof(tx));
	ck_assert_int_eq(n.tick_usec, 10000);
	ck_assert_int_eq(n.time_state, NTP_TIME_OK);
	ck_assert_int_eq(n.time_status, NTP_STA_UNSYNC);
	ck_assert_int_eq(n.time_constant, 2);
	ck_assert_int_eq(n.time_maxerror, 16000000);
	ck_assert_int_eq(n.time_esterror, 16000000);
	/* 10 ms per interval at 100 Hz, in ns << 32 */
	ck_assert_uint_eq(ntp_tick_length(&n), UINT64_C(10000000) << 32);
	ck_assert_int_eq(ntp_init(&n, 0), -EINVAL);
	ck_assert_int_eq(ntp_init(&n, 1001), -EINVAL);
	ck_assert_int_eq(ntp_init(&n, HZ), 0);

	/* unsynchronized: TIME_ERROR although the state is TIME_OK */
	ck_assert_int_eq(adj(0, &tx, 1000), NTP_TIME_ERROR);
	ck_assert_int_eq(tx.tolerance, 32768000);
	ck_assert_int_eq(tx.precision, 1);
	ck_assert_int_eq(tx.tick, 10000);
	ck_assert_int_eq(tx.maxerror, 16000000);
	ck_assert_int_eq(tx.constant, 2);
	ck_assert_int_eq(tx.tai, 37);
	ck_assert_int_eq(tx.time_sec, 1000);
}
END_TEST

/* timex.freq N << 16 (N ppm) reads back unchanged, and is N*1000 ns/s << 32 inside */
START_TEST(test_freq_round_trip)
{
	static const int64_t ppm[] = { -500, -499, -123, -1, 0, 1, 37, 250, 499, 500 };

	for (size_t i = 0; i < sizeof(ppm) / sizeof(ppm[0]); i++) {
		struct ntp_timex tx;

		memset(&tx, 0, sizeof(tx));
		tx.freq = ppm[i] * 65536;
		adj(NTP_ADJ_FREQUENCY, &tx, 1000);
		ck_assert_int_eq(n.time_freq, ppm[i] * 1000 * (INT64_C(1) << 32));
		ck_assert_msg(tx.freq == ppm[i] * 65536, "%" PRId64 " ppm read back as %" PRId64,
			      ppm[i], tx.freq);
		/* and a plain read agrees */
		memset(&tx, 0, sizeof(tx));
		adj(0, &tx, 1000);
		ck_assert_int_eq(tx.freq, ppm[i] * 65536);
	}
}
END_TEST

START_TEST(test_freq_clamp)
{
	struct ntp_timex tx;

	memset(&tx, 0, sizeof(tx));
	tx.freq = 600 * 65536;
	adj(NTP_ADJ_FREQUENCY, &tx, 1000);
	ck_assert_int_eq(tx.freq, 32768000);
	ck_assert_int_eq(n.time_freq, INT64_C(500000) << 32);
	tx.freq = INT64_C(-100000) * 65536;
	adj(NTP_ADJ_FREQUENCY, &tx, 1000);
	ck_assert_int_eq(tx.freq, -32768000);
	/* the tick length follows at once: 500 ppm slower */
	ck_assert_uint_eq(ntp_tick_length(&n), (UINT64_C(10000000) << 32) - (UINT64_C(5000) << 32));
	/* a value whose scaling would overflow is refused */
	tx.modes = NTP_ADJ_FREQUENCY;
	tx.freq = INT64_MAX / 1000;
	ck_assert_int_eq(ntp_validate_timex(&tx), -EINVAL);
}
END_TEST

struct pll_case {
	int32_t status;	       /* besides STA_PLL */
	int64_t tc;	       /* ADJ_TIMECONST value */
	int64_t secs;	       /* since the PLL was switched on */
	int64_t offset;	       /* ADJ_OFFSET value */
	int64_t want_freq;     /* time_freq, by hand from ntp_update_offset() */
	int64_t want_phase_ns; /* the phase kept in time_offset, ns */
	bool fll;	       /* STA_MODE */
};

/* Hand calculations (X = offset in ns, t = tc, s = secs):
 * PLL = X * min(s, 2^(3+t)) * 2^(32 - 2*(4+t)); FLL = X * 2^30 / s. */
static const struct pll_case pll_cases[] = {
	/* tc 0, 4 s: 1e6 * 4 * 2^24 */
	{ NTP_STA_NANO, 0, 4, 1000000, 67108864000000, 1000000, false },
	/* tc 0, 20 s capped to 8 s: 1e6 * 8 * 2^24 */
	{ NTP_STA_NANO, 0, 20, 1000000, 134217728000000, 1000000, false },
	/* tc 3, 20 s (cap 64): -250000 * 20 * 2^18; sign-symmetric */
	{ NTP_STA_NANO, 3, 20, -250000, -1310720000000, -250000, false },
	/* tc 1, 0 s: no frequency change, phase only */
	{ NTP_STA_NANO, 1, 0, 300000, 0, 300000, false },
	/* tc 0, 300 s without STA_FLL: PLL only, capped to 8 s */
	{ NTP_STA_NANO, 0, 300, 1000000, 134217728000000, 1000000, false },
	/* tc 0, 300 s with STA_FLL: 1e6 * 2^30 / 300 = 3579139413333 (truncated) + PLL */
	{ NTP_STA_NANO | NTP_STA_FLL, 0, 300, 1000000, 3579139413333 + 134217728000000, 1000000,
	  true },
	/* STA_FLL but 255 s < MINSEC: PLL only */
	{ NTP_STA_NANO | NTP_STA_FLL, 0, 255, 1000000, 134217728000000, 1000000, false },
	/* tc 10, 100000 s > MAXSEC: FLL forced, 2e5 * 2^30 / 1e5 = 2^31; PLL 2e5 * 8192 * 2^4 */
	{ NTP_STA_NANO, 10, 100000, 200000, 2147483648 + 26214400000, 200000, true },
	/* microseconds: tc 0 becomes 4; 2e6 us clamps to 1e6 us = 1e9 ns, then to
	 * MAXPHASE 5e8 ns; 1 s: 5e8 * 1 * 2^16 */
	{ 0, 0, 1, 2000000, 32768000000000, 500000000, false },
	/* nanoseconds: 7e8 ns clamps to 5e8; tc 2, 16 s (cap 32): 5e8 * 16 * 2^20 > 500 ppm */
	{ NTP_STA_NANO, 2, 16, 700000000, INT64_C(500000) << 32, 500000000, false },
};

START_TEST(test_pll_fll_table)
{
	const struct pll_case *c = &pll_cases[_i];
	struct ntp_timex tx;
	int64_t t0 = 5000;

	memset(&tx, 0, sizeof(tx));
	tx.status = NTP_STA_PLL | c->status;
	tx.constant = c->tc;
	adj(NTP_ADJ_STATUS | ((c->status & NTP_STA_NANO) ? NTP_ADJ_NANO : NTP_ADJ_MICRO) |
		    NTP_ADJ_TIMECONST,
	    &tx, t0);
	ck_assert_int_eq(n.time_reftime, t0);
	ck_assert_int_eq(n.time_freq, 0);

	memset(&tx, 0, sizeof(tx));
	tx.offset = c->offset;
	adj(NTP_ADJ_OFFSET, &tx, t0 + c->secs);
	ck_assert_msg(n.time_freq == c->want_freq, "case %d: time_freq %" PRId64 " want %" PRId64,
		      _i, n.time_freq, c->want_freq);
	ck_assert_int_eq(n.time_offset, c->want_phase_ns * (INT64_C(1) << 32) / HZ);
	ck_assert_int_eq(!!(n.time_status & NTP_STA_MODE), c->fll);
	ck_assert_int_eq(n.time_reftime, t0 + c->secs);
	/* read back in the units of STA_NANO */
	ck_assert_int_eq(tx.offset,
			 (c->status & NTP_STA_NANO) ? c->want_phase_ns : c->want_phase_ns / 1000);
	/* and timex.freq in ppm << 16: time_freq / PPM_SCALE, to one unit */
	ck_assert_int_le(llabs(tx.freq - n.time_freq / (1000 * 65536)), 1);
}
END_TEST

START_TEST(test_time_constant)
{
	struct ntp_timex tx;

	memset(&tx, 0, sizeof(tx));
	tx.constant = 3;
	adj(NTP_ADJ_TIMECONST, &tx, 0); /* microseconds: +4 */
	ck_assert_int_eq(tx.constant, 7);
	tx.constant = 9;
	adj(NTP_ADJ_TIMECONST, &tx, 0); /* 13 clamps to MAXTC */
	ck_assert_int_eq(tx.constant, 10);
	tx.constant = -3;
	adj(NTP_ADJ_TIMECONST | NTP_ADJ_NANO, &tx, 0);
	ck_assert_int_eq(tx.constant, 0);
	tx.constant = 99;
	adj(NTP_ADJ_TIMECONST, &tx, 0);
	ck_assert_int_eq(tx.constant, 10);
}
END_TEST

START_TEST(test_offset_needs_pll)
{
	struct ntp_timex tx;

	memset(&tx, 0, sizeof(tx));
	tx.offset = 1000;
	adj(NTP_ADJ_OFFSET, &tx, 100);
	ck_assert_int_eq(n.time_offset, 0);
	ck_assert_int_eq(n.time_freq, 0);
	ck_assert_int_eq(tx.offset, 0);
}
END_TEST

/* The phase is slewed 1/2^(2+tc) of what remains each second, and the
 * slews over a long run add up to the offset. */
START_TEST(test_phase_slew)
{
	struct ntp_timex tx;
	uint64_t base;
	int64_t before, total = 0;

	memset(&tx, 0, sizeof(tx));
	tx.status = NTP_STA_PLL;
	tx.constant = 0;
	adj(NTP_ADJ_STATUS | NTP_ADJ_NANO | NTP_ADJ_TIMECONST, &tx, 100);
	tx.offset = 1000000;
	adj(NTP_ADJ_OFFSET, &tx, 100); /* secs 0: phase only */
	ck_assert_int_eq(n.time_freq, 0);
	base = n.tick_length_base;
	ck_assert_uint_eq(base, UINT64_C(10000000) << 32);

	before = n.time_offset;
	ntp_second_overflow(&n, 101);
	ck_assert_int_eq((int64_t)(n.tick_length - base), before >> 2);
	ck_assert_int_eq(n.time_offset, before - (before >> 2));
	total += (int64_t)(n.tick_length - base) * HZ;
	memset(&tx, 0, sizeof(tx));
	adj(0, &tx, 101);
	ck_assert_int_eq(tx.offset, 750000);

	for (int s = 102; s < 300; s++) {
		ntp_second_overflow(&n, s);
		total += (int64_t)(n.tick_length - base) * HZ;
	}
	/* all of the 1 ms, to a ns */
	ck_assert_int_le(llabs((total >> 32) - 1000000), 1);

	/* a negative offset slews the other way, sign-symmetric */
	tx.offset = -1000000;
	adj(NTP_ADJ_OFFSET, &tx, 300);
	base = n.tick_length_base; /* 200 s since the last update: the PLL moved the frequency */
	before = n.time_offset;
	ntp_second_overflow(&n, 301);
	ck_assert_int_eq((int64_t)(n.tick_length - base), -((-before) >> 2));
}
END_TEST

START_TEST(test_maxerror_growth)
{
	struct ntp_timex tx;

	memset(&tx, 0, sizeof(tx));
	tx.status = NTP_STA_PLL;
	tx.maxerror = 0;
	tx.esterror = 1000;
	ck_assert_int_eq(adj(NTP_ADJ_STATUS | NTP_ADJ_MAXERROR | NTP_ADJ_ESTERROR, &tx, 0),
			 NTP_TIME_OK);
	ck_assert_int_eq(tx.maxerror, 0);
	for (int s = 1; s <= 31999; s++)
		ntp_second_overflow(&n, s);
	ck_assert_int_eq(n.time_maxerror, 31999 * 500);
	ck_assert(!(n.time_status & NTP_STA_UNSYNC));
	ntp_second_overflow(&n, 32000); /* exactly 16 s: at the limit, not above */
	ck_assert_int_eq(n.time_maxerror, 16000000);
	ck_assert(!(n.time_status & NTP_STA_UNSYNC));
	ck_assert_int_eq(adj_simple(0, 32000), NTP_TIME_OK);
	ntp_second_overflow(&n, 32001);
	ck_assert_int_eq(n.time_maxerror, 16000000);
	ck_assert(n.time_status & NTP_STA_UNSYNC);
	ck_assert_int_eq(adj_simple(0, 32001), NTP_TIME_ERROR);

	/* out-of-range values clamp (v6.11+) */
	tx.maxerror = 20000000;
	tx.esterror = -5;
	adj(NTP_ADJ_MAXERROR | NTP_ADJ_ESTERROR, &tx, 0);
	ck_assert_int_eq(tx.maxerror, 16000000);
	ck_assert_int_eq(tx.esterror, 0);
}
END_TEST

START_TEST(test_leap_insert_states)
{
	struct ntp_timex tx;

	memset(&tx, 0, sizeof(tx));
	tx.status = NTP_STA_PLL | NTP_STA_INS;
	tx.maxerror = 0; /* synchronized: no TIME_ERROR from maxerror */
	adj(NTP_ADJ_STATUS | NTP_ADJ_MAXERROR, &tx, M - 5);
	ck_assert_int_eq(n.time_state, NTP_TIME_OK); /* armed at the next second */
	ck_assert_int_eq(ntp_second_overflow(&n, M - 3), 0);
	ck_assert_int_eq(n.time_state, NTP_TIME_INS);
	ck_assert_int_eq(n.next_leap_sec, M);
	ck_assert_int_eq(ntp_second_overflow(&n, M - 2), 0);
	ck_assert_int_eq(ntp_second_overflow(&n, M - 1), 0);

	/* 23:59:59.5 read: nothing to fix up yet */
	ck_assert_int_eq(adj(0, &tx, M - 1), NTP_TIME_INS);
	ck_assert_int_eq(tx.time_sec, M - 1);
	ck_assert_int_eq(tx.tai, 37);
	/* REALTIME past midnight before the timekeeper applied the leap */
	ck_assert_int_eq(adj(0, &tx, M), NTP_TIME_OOP);
	ck_assert_int_eq(tx.time_sec, M - 1);
	ck_assert_int_eq(tx.tai, 38);

	ck_assert_int_eq(ntp_second_overflow(&n, M), -1);
	ck_assert_int_eq(n.time_state, NTP_TIME_OOP);
	/* the timekeeper is back at M - 1 (23:59:60) */
	ck_assert_int_eq(adj(0, &tx, M - 1), NTP_TIME_OOP);
	ck_assert_int_eq(tx.time_sec, M - 1);
	/* past the leap second but before the next second_overflow */
	ck_assert_int_eq(adj(0, &tx, M), NTP_TIME_WAIT);
	ck_assert_int_eq(tx.time_sec, M);

	ck_assert_int_eq(ntp_second_overflow(&n, M), 0);
	ck_assert_int_eq(n.time_state, NTP_TIME_WAIT);
	ck_assert_int_eq(n.next_leap_sec, NTP_TIME_MAX);
	ck_assert_int_eq(ntp_second_overflow(&n, M + 1), 0);
	ck_assert_int_eq(n.time_state, NTP_TIME_WAIT); /* STA_INS still set */
	tx.status = NTP_STA_PLL;
	adj(NTP_ADJ_STATUS, &tx, M + 1);
	ck_assert_int_eq(ntp_second_overflow(&n, M + 2), 0);
	ck_assert_int_eq(n.time_state, NTP_TIME_OK);

	/* armed exactly at a midnight: the leap is the next day's */
	tx.status = NTP_STA_PLL | NTP_STA_INS;
	adj(NTP_ADJ_STATUS, &tx, M + DAY - 1);
	ntp_second_overflow(&n, M + DAY);
	ck_assert_int_eq(n.next_leap_sec, M + 2 * DAY);
	/* disarmed before it fires */
	tx.status = NTP_STA_PLL;
	adj(NTP_ADJ_STATUS, &tx, M + DAY);
	ck_assert_int_eq(ntp_second_overflow(&n, M + DAY + 1), 0);
	ck_assert_int_eq(n.time_state, NTP_TIME_OK);
	ck_assert_int_eq(n.next_leap_sec, NTP_TIME_MAX);
}
END_TEST

START_TEST(test_leap_delete_states)
{
	struct ntp_timex tx;

	memset(&tx, 0, sizeof(tx));
	tx.status = NTP_STA_PLL | NTP_STA_DEL;
	tx.maxerror = 0;
	adj(NTP_ADJ_STATUS | NTP_ADJ_MAXERROR, &tx, M - 5);
	ck_assert_int_eq(ntp_second_overflow(&n, M - 3), 0);
	ck_assert_int_eq(n.time_state, NTP_TIME_DEL);
	ck_assert_int_eq(n.next_leap_sec, M - 1); /* 23:59:59 is skipped */
	ck_assert_int_eq(ntp_second_overflow(&n, M - 2), 0);
	ck_assert_int_eq(adj(0, &tx, M - 2), NTP_TIME_DEL);
	ck_assert_int_eq(tx.time_sec, M - 2);
	/* REALTIME at 23:59:59 before the timekeeper skipped it */
	ck_assert_int_eq(adj(0, &tx, M - 1), NTP_TIME_WAIT);
	ck_assert_int_eq(tx.time_sec, M);
	ck_assert_int_eq(tx.tai, 36);
	ck_assert_int_eq(ntp_second_overflow(&n, M - 1), 1);
	ck_assert_int_eq(n.time_state, NTP_TIME_WAIT);
	ck_assert_int_eq(n.next_leap_sec, NTP_TIME_MAX);
	tx.status = NTP_STA_PLL;
	adj(NTP_ADJ_STATUS, &tx, M);
	ntp_second_overflow(&n, M + 1);
	ck_assert_int_eq(n.time_state, NTP_TIME_OK);
}
END_TEST

/* STA_PLL switched off drops the pending leap and resets the status to
 * STA_UNSYNC, which the read-only mask then removes too (even STA_NANO
 * goes): only what the caller writes is left. */
START_TEST(test_status_pll_off)
{
	struct ntp_timex tx;

	memset(&tx, 0, sizeof(tx));
	tx.status = NTP_STA_PLL | NTP_STA_INS;
	adj(NTP_ADJ_STATUS | NTP_ADJ_NANO, &tx, M - 10);
	ntp_second_overflow(&n, M - 9);
	ck_assert_int_eq(n.time_state, NTP_TIME_INS);
	tx.status = 0;
	adj(NTP_ADJ_STATUS, &tx, M - 8);
	ck_assert_int_eq(n.time_state, NTP_TIME_OK);
	ck_assert_int_eq(n.next_leap_sec, NTP_TIME_MAX);
	ck_assert_int_eq(n.time_status, 0);
	/* read-only bits cannot be written */
	tx.status = NTP_STA_PLL | NTP_STA_CLOCKERR | NTP_STA_PPSSIGNAL;
	adj(NTP_ADJ_STATUS, &tx, M - 7);
	ck_assert_int_eq(n.time_status, NTP_STA_PLL);
	ck_assert_int_eq(adj_simple(0, M - 7), NTP_TIME_OK);
}
END_TEST

START_TEST(test_error_status)
{
	struct ntp_timex tx;
	static const struct {
		int32_t status;
		int result;
	} t[] = {
		{ NTP_STA_PLL, NTP_TIME_OK },
		{ NTP_STA_PLL | NTP_STA_UNSYNC, NTP_TIME_ERROR },
		{ NTP_STA_PLL | NTP_STA_PPSFREQ, NTP_TIME_ERROR }, /* no PPS signal */
		{ NTP_STA_PLL | NTP_STA_PPSTIME, NTP_TIME_ERROR },
		{ NTP_STA_PLL | NTP_STA_FLL | NTP_STA_FREQHOLD, NTP_TIME_OK },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&tx, 0, sizeof(tx));
		tx.status = t[i].status;
		ck_assert_int_eq(adj(NTP_ADJ_STATUS, &tx, 100), t[i].result);
		ck_assert_int_eq(tx.status, t[i].status);
	}
}
END_TEST

START_TEST(test_adjtime_singleshot)
{
	struct ntp_timex tx;
	uint64_t base = n.tick_length_base;
	uint64_t step = (UINT64_C(500000) << 32) / HZ; /* 500 us per second */

	memset(&tx, 0, sizeof(tx));
	tx.offset = 1200;
	ck_assert_int_eq(adj(NTP_ADJ_OFFSET_SINGLESHOT, &tx, 10), NTP_TIME_ERROR);
	ck_assert_int_eq(tx.offset, 0); /* the previous value */
	tx.offset = 999;
	adj(NTP_ADJ_OFFSET_SS_READ, &tx, 10);
	ck_assert_int_eq(tx.offset, 1200);
	ck_assert_int_eq(n.time_adjust, 1200);

	ntp_second_overflow(&n, 11);
	ck_assert_uint_eq(n.tick_length, base + step);
	adj(NTP_ADJ_OFFSET_SS_READ, &tx, 11);
	ck_assert_int_eq(tx.offset, 700);
	ntp_second_overflow(&n, 12);
	ck_assert_uint_eq(n.tick_length, base + step);
	ck_assert_int_eq(n.time_adjust, 200);
	ntp_second_overflow(&n, 13); /* the rest at once: 200 us over one second */
	ck_assert_uint_eq(n.tick_length, base + ((UINT64_C(2000)) << 32));
	ck_assert_int_eq(n.time_adjust, 0);
	ntp_second_overflow(&n, 14);
	ck_assert_uint_eq(n.tick_length, base);

	/* negative, and replaced rather than added */
	tx.offset = -800;
	adj(NTP_ADJ_OFFSET_SINGLESHOT, &tx, 20);
	tx.offset = -300;
	adj(NTP_ADJ_OFFSET_SINGLESHOT, &tx, 20);
	ck_assert_int_eq(tx.offset, -800);
	ntp_second_overflow(&n, 21);
	ck_assert_uint_eq(n.tick_length, base - ((UINT64_C(3000)) << 32));
	ck_assert_int_eq(n.time_adjust, 0);
}
END_TEST

START_TEST(test_validate)
{
	struct ntp_timex tx;

	memset(&tx, 0, sizeof(tx));
	tx.modes = 0x8003;
	ck_assert_int_eq(ntp_validate_timex(&tx), -EINVAL);
	tx.modes = 0x8000;
	ck_assert_int_eq(ntp_validate_timex(&tx), -EINVAL);
	tx.modes = NTP_ADJ_OFFSET_SS_READ;
	ck_assert_int_eq(ntp_validate_timex(&tx), 0);
	tx.modes = NTP_ADJ_TICK;
	tx.tick = 8999;
	ck_assert_int_eq(ntp_validate_timex(&tx), -EINVAL);
	tx.tick = 11001;
	ck_assert_int_eq(ntp_validate_timex(&tx), -EINVAL);
	tx.tick = 9000;
	ck_assert_int_eq(ntp_validate_timex(&tx), 0);
	tx.modes = NTP_ADJ_SETOFFSET;
	tx.time_frac = 1000000;
	ck_assert_int_eq(ntp_validate_timex(&tx), -EINVAL);
	tx.modes |= NTP_ADJ_NANO;
	ck_assert_int_eq(ntp_validate_timex(&tx), 0);
	tx.time_frac = -1;
	ck_assert_int_eq(ntp_validate_timex(&tx), -EINVAL);
}
END_TEST

/* Where the kernel clamps, the control socket refuses: each bound is
 * accepted, one past it refused with the field and the value in the line. */
START_TEST(test_check_range)
{
	struct ntp_timex tx;
	char why[200];

	memset(&tx, 0, sizeof(tx));
	tx.modes = NTP_ADJ_FREQUENCY;
	tx.freq = 500 * 65536;
	ck_assert_int_eq(ntp_check_range(&tx, 0, why, sizeof(why)), 0);
	tx.freq = -500 * 65536;
	ck_assert_int_eq(ntp_check_range(&tx, 0, why, sizeof(why)), 0);
	tx.freq = 1000 * 65536;
	ck_assert_int_eq(ntp_check_range(&tx, 0, why, sizeof(why)), -ERANGE);
	ck_assert_msg(strstr(why, "freq 65536000 (1000.000 ppm)") && strstr(why, "-500..500 ppm"),
		      "%s", why);
	tx.freq = INT64_MIN;
	ck_assert_int_eq(ntp_check_range(&tx, 0, why, sizeof(why)), -ERANGE);

	/* offsets: microseconds unless the status or the request says ns */
	tx.modes = NTP_ADJ_OFFSET;
	tx.offset = 500000;
	ck_assert_int_eq(ntp_check_range(&tx, 0, why, sizeof(why)), 0);
	tx.offset = 500001;
	ck_assert_int_eq(ntp_check_range(&tx, 0, why, sizeof(why)), -ERANGE);
	ck_assert_msg(strstr(why, "offset 500001 is outside -500000..500000 us"), "%s", why);
	ck_assert_int_eq(ntp_check_range(&tx, NTP_STA_NANO, why, sizeof(why)), 0);
	tx.modes |= NTP_ADJ_MICRO;
	ck_assert_int_eq(ntp_check_range(&tx, NTP_STA_NANO, why, sizeof(why)), -ERANGE);
	tx.modes = NTP_ADJ_OFFSET | NTP_ADJ_NANO;
	tx.offset = -500000001;
	ck_assert_int_eq(ntp_check_range(&tx, 0, why, sizeof(why)), -ERANGE);
	ck_assert_msg(strstr(why, "ns"), "%s", why);

	tx.modes = NTP_ADJ_MAXERROR;
	tx.maxerror = NTP_PHASE_LIMIT;
	ck_assert_int_eq(ntp_check_range(&tx, 0, why, sizeof(why)), 0);
	tx.maxerror = -1;
	ck_assert_int_eq(ntp_check_range(&tx, 0, why, sizeof(why)), -ERANGE);
	tx.modes = NTP_ADJ_ESTERROR;
	tx.esterror = NTP_PHASE_LIMIT + 1;
	ck_assert_int_eq(ntp_check_range(&tx, 0, why, sizeof(why)), -ERANGE);
	tx.modes = NTP_ADJ_TIMECONST;
	tx.constant = NTP_MAXTC;
	ck_assert_int_eq(ntp_check_range(&tx, 0, why, sizeof(why)), 0);
	tx.constant = NTP_MAXTC + 1;
	ck_assert_int_eq(ntp_check_range(&tx, 0, why, sizeof(why)), -ERANGE);
	tx.modes = NTP_ADJ_TAI;
	tx.constant = NTP_MAX_TAI_OFFSET + 1;
	ck_assert_int_eq(ntp_check_range(&tx, 0, why, sizeof(why)), -ERANGE);
	tx.constant = 37;
	ck_assert_int_eq(ntp_check_range(&tx, 0, why, sizeof(why)), 0);

	/* adjtime(3)'s singleshot is not an ADJ_OFFSET */
	tx.modes = NTP_ADJ_OFFSET_SINGLESHOT;
	tx.offset = 10000000;
	ck_assert_int_eq(ntp_check_range(&tx, 0, why, sizeof(why)), 0);
}
END_TEST

START_TEST(test_tick_and_tai)
{
	struct ntp_timex tx;

	memset(&tx, 0, sizeof(tx));
	tx.tick = 10100;
	adj(NTP_ADJ_TICK, &tx, 0);
	ck_assert_int_eq(tx.tick, 10100);
	ck_assert_uint_eq(n.tick_length_base, UINT64_C(10100000) << 32);
	ck_assert_uint_eq(n.tick_length, UINT64_C(10100000) << 32);

	tx.constant = 38;
	adj(NTP_ADJ_TAI, &tx, 0);
	ck_assert_int_eq(tai, 38);
	tx.constant = -1;
	adj(NTP_ADJ_TAI, &tx, 0);
	ck_assert_int_eq(tai, 38);
	tx.constant = 100001;
	adj(NTP_ADJ_TAI, &tx, 0);
	ck_assert_int_eq(tai, 38);
	ck_assert_int_eq(tx.tai, 38);
}
END_TEST

START_TEST(test_clear_keeps_freq)
{
	struct ntp_timex tx;

	memset(&tx, 0, sizeof(tx));
	tx.status = NTP_STA_PLL;
	tx.freq = 20 * 65536;
	tx.maxerror = 100;
	adj(NTP_ADJ_STATUS | NTP_ADJ_FREQUENCY | NTP_ADJ_MAXERROR, &tx, 50);
	tx.offset = 4000;
	adj(NTP_ADJ_OFFSET, &tx, 50);
	tx.offset = 300;
	adj(NTP_ADJ_OFFSET_SINGLESHOT, &tx, 50);
	ntp_second_overflow(&n, 51);
	ntp_clear(&n);
	ck_assert_int_eq(n.time_offset, 0);
	ck_assert_int_eq(n.time_adjust, 0);
	ck_assert_int_eq(n.time_maxerror, 16000000);
	ck_assert(n.time_status & NTP_STA_UNSYNC);
	ck_assert_int_eq(ntp_freq_scaled_ppm(&n), 20 * 65536);
	ck_assert_uint_eq(n.tick_length, n.tick_length_base);
	ck_assert_uint_eq(n.tick_length_base, (UINT64_C(10000000) << 32) + (UINT64_C(200) << 32));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ntp");
	TCase *tc = tcase_create("adjtimex");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_initial);
	tcase_add_test(tc, test_freq_round_trip);
	tcase_add_test(tc, test_freq_clamp);
	tcase_add_loop_test(tc, test_pll_fll_table, 0, sizeof(pll_cases) / sizeof(pll_cases[0]));
	tcase_add_test(tc, test_time_constant);
	tcase_add_test(tc, test_offset_needs_pll);
	tcase_add_test(tc, test_phase_slew);
	tcase_add_test(tc, test_maxerror_growth);
	tcase_add_test(tc, test_leap_insert_states);
	tcase_add_test(tc, test_leap_delete_states);
	tcase_add_test(tc, test_status_pll_off);
	tcase_add_test(tc, test_error_status);
	tcase_add_test(tc, test_adjtime_singleshot);
	tcase_add_test(tc, test_validate);
	tcase_add_test(tc, test_check_range);
	tcase_add_test(tc, test_tick_and_tai);
	tcase_add_test(tc, test_clear_keeps_freq);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
