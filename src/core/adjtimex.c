// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel's NTP discipline (kernel/time/ntp.c) for the daemon's
 * timekeeper: adjtimex modes applied in the kernel's order, the PLL/FLL, the
 * per-second slews and the leap second state machine. Fixed point as in the
 * kernel (ns << 32), with the interval frequency a parameter instead of HZ.
 * Written from the kernel's documented behaviour, not from its code.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/adjtimex.h"
#include "core/tunit.h"

#define SECS_PER_DAY 86400

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* x * 2^s for a signed x: a left shift of a negative value is undefined in C. */
static int64_t mul_pow2(int64_t x, unsigned int s)
{
	return (int64_t)((uint64_t)x << s);
}

/* ntp_update_frequency(): a second's length from tick_usec, ntp_tick_adj and
 * time_freq, divided into hz intervals. The change of base is applied to
 * tick_length at once, so it counts from now and not from the next second. */
static void update_frequency(struct ntp_state *n)
{
	uint64_t second_length, new_base;

	second_length = (uint64_t)(n->tick_usec * NSEC_PER_USEC * NTP_USER_HZ) << NTP_SCALE_SHIFT;
	second_length += (uint64_t)n->ntp_tick_adj;
	second_length += (uint64_t)n->time_freq;
	new_base = second_length / n->hz;
	n->tick_length += new_base - n->tick_length_base;
	n->tick_length_base = new_base;
}

int ntp_init(struct ntp_state *n, unsigned int hz)
{
	if (hz < 1 || hz > 1000)
		return -EINVAL;
	memset(n, 0, sizeof(*n));
	n->hz = hz;
	n->tick_usec = NTP_USER_TICK_USEC;
	n->time_state = NTP_TIME_OK;
	n->time_status = NTP_STA_UNSYNC;
	n->time_constant = 2;
	n->time_maxerror = NTP_PHASE_LIMIT;
	n->time_esterror = NTP_PHASE_LIMIT;
	n->next_leap_sec = NTP_TIME_MAX;
	update_frequency(n);
	n->tick_length = n->tick_length_base;
	return 0;
}

void ntp_clear(struct ntp_state *n)
{
	n->time_adjust = 0;
	n->time_status |= NTP_STA_UNSYNC;
	n->time_maxerror = NTP_PHASE_LIMIT;
	n->time_esterror = NTP_PHASE_LIMIT;
	update_frequency(n);
	n->tick_length = n->tick_length_base;
	n->time_offset = 0;
	n->next_leap_sec = NTP_TIME_MAX;
	/* No PPS state to clear: this discipline has no hardpps input. */
}

/* How much of the remaining phase to slew in the next second. With PPS
 * the kernel takes all of it; PPS never becomes active here (no
 * STA_PPSSIGNAL), but the rule is kept for a status that claims it. */
static int64_t offset_chunk(const struct ntp_state *n)
{
	if ((n->time_status & NTP_STA_PPSTIME) && (n->time_status & NTP_STA_PPSSIGNAL))
		return n->time_offset;
	return ntp_shift_right(n->time_offset, (unsigned int)(NTP_SHIFT_PLL + n->time_constant));
}

int ntp_second_overflow(struct ntp_state *n, int64_t secs)
{
	int leap = 0;
	int64_t rem, delta, tickadj_scaled;

	switch (n->time_state) {
	case NTP_TIME_OK:
		if (n->time_status & NTP_STA_INS) {
			/* the leap lands at the next UTC midnight */
			n->time_state = NTP_TIME_INS;
			rem = ((secs % SECS_PER_DAY) + SECS_PER_DAY) % SECS_PER_DAY;
			n->next_leap_sec = secs + SECS_PER_DAY - rem;
		} else if (n->time_status & NTP_STA_DEL) {
			/* 23:59:59 is the second that is left out */
			n->time_state = NTP_TIME_DEL;
			rem = (((secs + 1) % SECS_PER_DAY) + SECS_PER_DAY) % SECS_PER_DAY;
			n->next_leap_sec = secs + SECS_PER_DAY - rem;
		}
		break;
	case NTP_TIME_INS:
		if (!(n->time_status & NTP_STA_INS)) {
			n->next_leap_sec = NTP_TIME_MAX;
			n->time_state = NTP_TIME_OK;
		} else if (secs == n->next_leap_sec) {
			/* 23:59:60: the timekeeper repeats 23:59:59 */
			leap = -1;
			n->time_state = NTP_TIME_OOP;
		}
		break;
	case NTP_TIME_DEL:
		if (!(n->time_status & NTP_STA_DEL)) {
			n->next_leap_sec = NTP_TIME_MAX;
			n->time_state = NTP_TIME_OK;
		} else if (secs == n->next_leap_sec) {
			leap = 1;
			n->next_leap_sec = NTP_TIME_MAX;
			n->time_state = NTP_TIME_WAIT;
		}
		break;
	case NTP_TIME_OOP:
		n->next_leap_sec = NTP_TIME_MAX;
		n->time_state = NTP_TIME_WAIT;
		break;
	case NTP_TIME_WAIT:
		if (!(n->time_status & (NTP_STA_INS | NTP_STA_DEL)))
			n->time_state = NTP_TIME_OK;
		break;
	}

	/* Without updates the error bound grows by the frequency tolerance,
	 * 500 us per second, until the 16 s ceiling declares us unsynced. */
	n->time_maxerror += NTP_MAXFREQ / NSEC_PER_USEC;
	if (n->time_maxerror > NTP_PHASE_LIMIT) {
		n->time_maxerror = NTP_PHASE_LIMIT;
		n->time_status |= NTP_STA_UNSYNC;
	}

	/* Phase: a fraction 2^-(2+tc) of what remains, spread over the second. */
	n->tick_length = n->tick_length_base;
	delta = offset_chunk(n);
	n->time_offset -= delta;
	n->tick_length += (uint64_t)delta;

	/* adjtime(): at most 500 us per second (500 ppm), the rest at once. */
	if (!n->time_adjust)
		return leap;
	tickadj_scaled = (int64_t)(((uint64_t)NTP_MAX_TICKADJ * NSEC_PER_USEC << NTP_SCALE_SHIFT) /
				   n->hz);
	if (n->time_adjust > NTP_MAX_TICKADJ) {
		n->time_adjust -= NTP_MAX_TICKADJ;
		n->tick_length += (uint64_t)tickadj_scaled;
	} else if (n->time_adjust < -NTP_MAX_TICKADJ) {
		n->time_adjust += NTP_MAX_TICKADJ;
		n->tick_length -= (uint64_t)tickadj_scaled;
	} else {
		n->tick_length += (uint64_t)mul_pow2(n->time_adjust * NSEC_PER_USEC / n->hz,
						     NTP_SCALE_SHIFT);
		n->time_adjust = 0;
	}
	return leap;
}

/* ntp_update_offset(): the PLL, and the FLL for sparse updates. */
static void update_offset(struct ntp_state *n, int64_t offset, int64_t now_sec)
{
	int64_t secs, freq_adj = 0;
	unsigned int pll_shift;

	if (!(n->time_status & NTP_STA_PLL))
		return;

	if (!(n->time_status & NTP_STA_NANO)) {
		offset = clamp64(offset, -USEC_PER_SEC, USEC_PER_SEC);
		offset *= NSEC_PER_USEC;
	}
	offset = clamp64(offset, -NTP_MAXPHASE, NTP_MAXPHASE);

	secs = now_sec - n->time_reftime;
	if (n->time_status & NTP_STA_FREQHOLD)
		secs = 0;
	n->time_reftime = now_sec;

	/* FLL: only for intervals of at least MINSEC, and then only when asked
	 * for or when the interval is longer than MAXSEC. */
	n->time_status &= ~NTP_STA_MODE;
	if (secs >= NTP_MINSEC && ((n->time_status & NTP_STA_FLL) || secs > NTP_MAXSEC)) {
		n->time_status |= NTP_STA_MODE;
		freq_adj = mul_pow2(offset, NTP_SCALE_SHIFT - NTP_SHIFT_FLL) / secs;
	}

	/* PLL: the interval is capped so that sparse updates do not give it
	 * too much gain. */
	if (secs > (INT64_C(1) << (NTP_SHIFT_PLL + 1 + n->time_constant)))
		secs = INT64_C(1) << (NTP_SHIFT_PLL + 1 + n->time_constant);
	if (secs < 0)
		secs = 0; /* a step back of REALTIME: no frequency from it */
	pll_shift = (unsigned int)(NTP_SCALE_SHIFT - 2 * (NTP_SHIFT_PLL + 2 + n->time_constant));
	freq_adj += mul_pow2(offset * secs, pll_shift);

	n->time_freq = clamp64(n->time_freq + freq_adj, -NTP_MAXFREQ_SCALED, NTP_MAXFREQ_SCALED);

	/* the new phase replaces what was left of the old one */
	n->time_offset = mul_pow2(offset, NTP_SCALE_SHIFT) / n->hz;
}

static void adj_status(struct ntp_state *n, int32_t status, int64_t now_sec)
{
	if ((n->time_status & NTP_STA_PLL) && !(status & NTP_STA_PLL)) {
		/* PLL off: whatever was pending is dropped */
		n->time_state = NTP_TIME_OK;
		n->time_status = NTP_STA_UNSYNC;
		n->next_leap_sec = NTP_TIME_MAX;
	}
	if (!(n->time_status & NTP_STA_PLL) && (status & NTP_STA_PLL))
		n->time_reftime = now_sec;
	n->time_status &= NTP_STA_RONLY;
	n->time_status |= status & ~NTP_STA_RONLY;
}

static void apply_modes(struct ntp_state *n, const struct ntp_timex *tx, int64_t now_sec,
			int32_t *tai)
{
	uint32_t m = tx->modes;

	if (m & NTP_ADJ_STATUS)
		adj_status(n, tx->status, now_sec);
	if (m & NTP_ADJ_NANO)
		n->time_status |= NTP_STA_NANO;
	if (m & NTP_ADJ_MICRO)
		n->time_status &= ~NTP_STA_NANO;
	if (m & NTP_ADJ_FREQUENCY)
		n->time_freq = clamp64(tx->freq * NTP_PPM_SCALE, -NTP_MAXFREQ_SCALED,
				       NTP_MAXFREQ_SCALED);
	/* v6.11+: clamped, an unchecked value overflowed the per-second growth */
	if (m & NTP_ADJ_MAXERROR)
		n->time_maxerror = clamp64(tx->maxerror, 0, NTP_PHASE_LIMIT);
	if (m & NTP_ADJ_ESTERROR)
		n->time_esterror = clamp64(tx->esterror, 0, NTP_PHASE_LIMIT);
	if (m & NTP_ADJ_TIMECONST) {
		n->time_constant = clamp64(tx->constant, 0, NTP_MAXTC);
		/* microsecond clients use the old, 16x slower time constant */
		if (!(n->time_status & NTP_STA_NANO))
			n->time_constant += 4;
		n->time_constant = clamp64(n->time_constant, 0, NTP_MAXTC);
	}
	if ((m & NTP_ADJ_TAI) && tx->constant >= 0 && tx->constant <= NTP_MAX_TAI_OFFSET)
		*tai = (int32_t)tx->constant;
	if (m & NTP_ADJ_OFFSET)
		update_offset(n, tx->offset, now_sec);
	if (m & NTP_ADJ_TICK)
		n->tick_usec = tx->tick;
	if (m & (NTP_ADJ_TICK | NTP_ADJ_FREQUENCY | NTP_ADJ_OFFSET))
		update_frequency(n);
}

int ntp_validate_timex(const struct ntp_timex *tx)
{
	if (tx->modes & NTP_ADJ_ADJTIME) {
		if (tx->modes != NTP_ADJ_OFFSET_SINGLESHOT && tx->modes != NTP_ADJ_OFFSET_SS_READ)
			return -EINVAL;
		return 0;
	}
	if ((tx->modes & NTP_ADJ_TICK) &&
	    (tx->tick < 900000 / NTP_USER_HZ || tx->tick > 1100000 / NTP_USER_HZ))
		return -EINVAL;
	if (tx->modes & NTP_ADJ_SETOFFSET) {
		if (tx->time_frac < 0)
			return -EINVAL;
		if (tx->time_frac >= ((tx->modes & NTP_ADJ_NANO) ? NSEC_PER_SEC : USEC_PER_SEC))
			return -EINVAL;
	}
	if ((tx->modes & NTP_ADJ_FREQUENCY) &&
	    (tx->freq < INT64_MIN / NTP_PPM_SCALE || tx->freq > INT64_MAX / NTP_PPM_SCALE))
		return -EINVAL;
	return 0;
}

static int out_of_range(char *why, size_t len, const char *field, int64_t v, int64_t lo, int64_t hi,
			const char *unit)
{
	snprintf(why, len,
		 "%s %" PRId64 " is outside %" PRId64 "..%" PRId64
		 "%s%s (the kernel would clamp or ignore it; refused)",
		 field, v, lo, hi, *unit ? " " : "", unit);
	return -ERANGE;
}

int ntp_check_range(const struct ntp_timex *tx, int32_t status, char *why, size_t len)
{
	uint32_t m = tx->modes;
	bool nano = (status & NTP_STA_NANO) != 0;

	if (m & NTP_ADJ_ADJTIME)
		return 0; /* adjtime(3): its own rules, checked by ntp_validate_timex */
	if (m & NTP_ADJ_NANO)
		nano = true;
	if (m & NTP_ADJ_MICRO)
		nano = false;
	if ((m & NTP_ADJ_FREQUENCY) && (tx->freq < -NTP_MAXFREQ_SCALED / NTP_PPM_SCALE ||
					tx->freq > NTP_MAXFREQ_SCALED / NTP_PPM_SCALE)) {
		snprintf(why, len,
			 "freq %" PRId64 " (%.3f ppm) is outside -500..500 ppm (%" PRId64
			 "..%" PRId64 " in 2^-16 ppm; the kernel would clamp it; refused)",
			 tx->freq, (double)tx->freq / 65536.0, -NTP_MAXFREQ_SCALED / NTP_PPM_SCALE,
			 NTP_MAXFREQ_SCALED / NTP_PPM_SCALE);
		return -ERANGE;
	}
	if ((m & NTP_ADJ_OFFSET) && nano &&
	    (tx->offset < -NTP_MAXPHASE || tx->offset > NTP_MAXPHASE))
		return out_of_range(why, len, "offset", tx->offset, -NTP_MAXPHASE, NTP_MAXPHASE,
				    "ns");
	if ((m & NTP_ADJ_OFFSET) && !nano &&
	    (tx->offset < -NTP_MAXPHASE / NSEC_PER_USEC ||
	     tx->offset > NTP_MAXPHASE / NSEC_PER_USEC))
		return out_of_range(why, len, "offset", tx->offset, -NTP_MAXPHASE / NSEC_PER_USEC,
				    NTP_MAXPHASE / NSEC_PER_USEC, "us");
	if ((m & NTP_ADJ_MAXERROR) && (tx->maxerror < 0 || tx->maxerror > NTP_PHASE_LIMIT))
		return out_of_range(why, len, "maxerror", tx->maxerror, 0, NTP_PHASE_LIMIT, "us");
	if ((m & NTP_ADJ_ESTERROR) && (tx->esterror < 0 || tx->esterror > NTP_PHASE_LIMIT))
		return out_of_range(why, len, "esterror", tx->esterror, 0, NTP_PHASE_LIMIT, "us");
	if ((m & NTP_ADJ_TIMECONST) && (tx->constant < 0 || tx->constant > NTP_MAXTC))
		return out_of_range(why, len, "constant", tx->constant, 0, NTP_MAXTC, "");
	if ((m & NTP_ADJ_TAI) && (tx->constant < 0 || tx->constant > NTP_MAX_TAI_OFFSET))
		return out_of_range(why, len, "tai", tx->constant, 0, NTP_MAX_TAI_OFFSET, "s");
	return 0;
}

static int error_status(int32_t s)
{
	return (s & (NTP_STA_UNSYNC | NTP_STA_CLOCKERR)) ||
	       ((s & (NTP_STA_PPSFREQ | NTP_STA_PPSTIME)) && !(s & NTP_STA_PPSSIGNAL)) ||
	       ((s & (NTP_STA_PPSTIME | NTP_STA_PPSJITTER)) ==
		(NTP_STA_PPSTIME | NTP_STA_PPSJITTER)) ||
	       ((s & NTP_STA_PPSFREQ) && (s & (NTP_STA_PPSWANDER | NTP_STA_PPSERROR)));
}

int ntp_result(const struct ntp_state *n)
{
	return error_status(n->time_status) ? NTP_TIME_ERROR : n->time_state;
}

int64_t ntp_freq_scaled_ppm(const struct ntp_state *n)
{
	/* time_freq >> 19 is an arithmetic (flooring) shift, as in the kernel */
	int64_t f = n->time_freq < 0 ? -(int64_t)(((uint64_t)-n->time_freq + (1u << 19) - 1) >> 19)
				     : (int64_t)((uint64_t)n->time_freq >> 19);

	return ntp_shift_right(f * NTP_PPM_SCALE_INV, NTP_SCALE_SHIFT);
}

int ntp_adjtimex(struct ntp_state *n, struct ntp_timex *tx, int64_t now_sec, int64_t now_nsec,
		 int32_t *tai)
{
	int result;

	if (tx->modes & NTP_ADJ_ADJTIME) {
		int64_t previous = n->time_adjust;

		if (!(tx->modes & NTP_ADJ_OFFSET_READONLY)) {
			n->time_adjust = tx->offset;
			update_frequency(n);
		}
		tx->offset = previous;
	} else {
		if (tx->modes)
			apply_modes(n, tx, now_sec, tai);
		tx->offset = ntp_shift_right(n->time_offset * (int64_t)n->hz, NTP_SCALE_SHIFT);
		if (!(n->time_status & NTP_STA_NANO))
			tx->offset /= NSEC_PER_USEC;
	}

	result = ntp_result(n);
	tx->freq = ntp_freq_scaled_ppm(n);
	tx->maxerror = n->time_maxerror;
	tx->esterror = n->time_esterror;
	tx->status = n->time_status;
	tx->constant = n->time_constant;
	tx->precision = 1;
	tx->tolerance = NTP_MAXFREQ_SCALED / NTP_PPM_SCALE;
	tx->tick = n->tick_usec;
	tx->tai = *tai;
	tx->ppsfreq = 0;
	tx->jitter = 0;
	tx->shift = 0;
	tx->stabil = 0;
	tx->jitcnt = 0;
	tx->calcnt = 0;
	tx->errcnt = 0;
	tx->stbcnt = 0;
	tx->time_sec = now_sec;
	tx->time_frac = (n->time_status & NTP_STA_NANO) ? now_nsec : now_nsec / NSEC_PER_USEC;

	/* REALTIME already past the leap that the next second_overflow will
	 * apply: report it as if it had been applied. */
	if (now_sec >= n->next_leap_sec) {
		if (n->time_state == NTP_TIME_INS && (n->time_status & NTP_STA_INS)) {
			result = NTP_TIME_OOP;
			tx->tai++;
			tx->time_sec--;
		}
		if (n->time_state == NTP_TIME_DEL && (n->time_status & NTP_STA_DEL)) {
			result = NTP_TIME_WAIT;
			tx->tai--;
			tx->time_sec++;
		}
		if (n->time_state == NTP_TIME_OOP && now_sec == n->next_leap_sec)
			result = NTP_TIME_WAIT;
	}
	return result;
}
