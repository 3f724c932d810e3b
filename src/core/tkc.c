// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel's timekeeper (kernel/time/timekeeping.c) in user
 * space: two read bases (mono, steered by NTP, and raw) over one counter,
 * logarithmic accumulation with the NTP error feedback, mult steering with
 * the xtime_nsec compensation, leap seconds, steps, the change of
 * clocksource and the readers. Written from the kernel's documented behaviour.
 *
 * Kept deliberately as the kernel does it: settimeofday, ADJ_SETOFFSET and
 * a change of clocksource clear the NTP state (ntp_clear keeps the
 * frequency), and forwarding to "now" before those normalizes xtime
 * without calling second_overflow.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/tkc.h"
#include "core/tunit.h"

/* The latest settable time, in s: KTIME_SEC_MAX less 30 years, as the
 * kernel's TIME_SETTOD_SEC_MAX (a step's ns stay within int64_t). */
#define TKC_SETTOD_SEC_MAX (INT64_MAX / NSEC_PER_SEC - 30LL * 365 * 86400)

static unsigned int ilog2_u64(uint64_t x)
{
	return x ? 63u - (unsigned int)__builtin_clzll(x) : 0;
}

static void ts_norm(struct tkv_timespec *t)
{
	while (t->nsec >= NSEC_PER_SEC) {
		t->nsec -= NSEC_PER_SEC;
		t->sec++;
	}
	while (t->nsec < 0) {
		t->nsec += NSEC_PER_SEC;
		t->sec--;
	}
}

static bool ts_valid(const struct timespec *t)
{
	return t->tv_nsec >= 0 && t->tv_nsec < (long)NSEC_PER_SEC;
}

static bool ts_positive(const struct tkv_timespec *t)
{
	return t->sec > 0 || (t->sec == 0 && t->nsec > 0);
}

/* clocksource_delta() v6.13+: masked, 0 for negative motion. */
static uint64_t cyc_delta(const struct tkc_base *b, uint64_t now)
{
	uint64_t d = (now - b->cycle_last) & b->mask;

	return d > b->max_raw_delta ? 0 : d;
}

/* timekeeping_cycles_to_ns(): ns since the base's whole second. A reading
 * behind cycle_last (another CPU's TSC, a counter read before an update)
 * gives the time of the last update instead of a jump forward. The clamp is
 * the accumulation's (0.875 * mask), not only the kernel reader's MSB test
 * above max_cycles: for a 32-bit HPET max_cycles is the whole mask, so that
 * test would never fire. 128-bit math throughout: the daemon's reader is
 * not the fast path (clients read the page). */
static uint64_t base_ns(const struct tkc_base *b, uint64_t cycles)
{
	uint64_t d = (cycles - b->cycle_last) & b->mask;

	if (d > b->max_raw_delta)
		return b->xtime_nsec >> b->shift;
	return (uint64_t)(((unsigned __int128)d * b->mult + b->xtime_nsec) >> b->shift);
}

static void update_coarse(struct tkc *tk)
{
	tk->coarse_nsec = tk->mono.xtime_nsec >> tk->mono.shift;
}

/* tk_normalize_xtime(): whole seconds out of xtime_nsec, without NTP. */
static void normalize_xtime(struct tkc *tk)
{
	while (tk->mono.xtime_nsec >= NSEC_PER_SEC_U << tk->mono.shift) {
		tk->mono.xtime_nsec -= NSEC_PER_SEC_U << tk->mono.shift;
		tk->xtime_sec++;
	}
	while (tk->raw.xtime_nsec >= NSEC_PER_SEC_U << tk->raw.shift) {
		tk->raw.xtime_nsec -= NSEC_PER_SEC_U << tk->raw.shift;
		tk->raw_sec++;
	}
}

/* tk_setup_internals(): bases on the counter, the interval of 1/hz s in
 * cycles and in shifted ns, and the NTP error bookkeeping. */
static void setup_internals(struct tkc *tk, struct clocksource *cs, const struct cs_arith *ar,
			    bool had_clock)
{
	uint32_t old_shift = tk->mono.shift;
	uint64_t now = cs->read(cs), ntpinterval, interval;
	int shift_change;

	tk->cs = cs;
	tk->ar = *ar;
	for (int i = 0; i < 2; i++) {
		struct tkc_base *b = i ? &tk->raw : &tk->mono;

		b->cycle_last = now;
		b->mask = cs->mask;
		b->max_cycles = ar->max_cycles;
		b->max_raw_delta = ar->max_raw_delta;
	}

	ntpinterval = (NSEC_PER_SEC_U / tk->ntp.hz) << ar->shift;
	interval = (ntpinterval + ar->mult / 2) / ar->mult;
	if (!interval)
		interval = 1;
	tk->cycle_interval = interval;
	tk->xtime_interval = interval * ar->mult;
	tk->xtime_remainder = ntpinterval - tk->xtime_interval;
	tk->raw_interval = interval * ar->mult;

	/* the ns state stays; only its fixed-point unit changes */
	if (had_clock) {
		shift_change = (int)old_shift - (int)ar->shift;
		if (shift_change < 0) {
			tk->mono.xtime_nsec <<= -shift_change;
			tk->raw.xtime_nsec <<= -shift_change;
		} else {
			tk->mono.xtime_nsec >>= shift_change;
			tk->raw.xtime_nsec >>= shift_change;
		}
	}
	tk->mono.shift = tk->raw.shift = ar->shift;
	tk->mono.mult = tk->raw.mult = ar->mult;

	tk->ntp_error = 0;
	tk->ntp_error_shift = NTP_SCALE_SHIFT - ar->shift;
	tk->ntp_tick = ntpinterval << tk->ntp_error_shift;
	tk->ntp_err_mult = 0;
	tk->skip_second_overflow = false;
}

int tkc_init(struct tkc *tk, struct clocksource *cs, const struct cs_arith *ar, unsigned int hz,
	     const struct tkc_start *start)
{
	struct tkv_timespec wtm, m2b;

	if (!cs || !cs->read || !ar || !ar->mult || ar->shift > NTP_SCALE_SHIFT)
		return -EINVAL;
	if (!ts_valid(&start->real) || !ts_valid(&start->mono) || !ts_valid(&start->boot) ||
	    !ts_valid(&start->raw) || start->real.tv_sec < 0 || start->raw.tv_sec < 0)
		return -EINVAL;
	wtm.sec = start->mono.tv_sec - start->real.tv_sec;
	wtm.nsec = start->mono.tv_nsec - start->real.tv_nsec;
	ts_norm(&wtm);
	m2b.sec = start->boot.tv_sec - start->mono.tv_sec;
	m2b.nsec = start->boot.tv_nsec - start->mono.tv_nsec;
	ts_norm(&m2b);
	if (ts_positive(&wtm) || m2b.sec < 0)
		return -EINVAL;

	memset(tk, 0, sizeof(*tk));
	if (ntp_init(&tk->ntp, hz))
		return -EINVAL;
	setup_internals(tk, cs, ar, false);
	if (start->have_cycles)
		tk->mono.cycle_last = tk->raw.cycle_last = start->cycles & cs->mask;
	tk->xtime_sec = start->real.tv_sec;
	tk->mono.xtime_nsec = (uint64_t)start->real.tv_nsec << tk->mono.shift;
	tk->raw_sec = start->raw.tv_sec;
	tk->raw.xtime_nsec = (uint64_t)start->raw.tv_nsec << tk->raw.shift;
	tk->wtm = wtm;
	tk->mono_to_boot = m2b;
	tk->tai_offset = start->tai_offset;
	update_coarse(tk);
	return 0;
}

/* timekeeping_forward_now(): everything since cycle_last into xtime, in
 * chunks the multiplication cannot overflow. */
static void forward_now(struct tkc *tk)
{
	uint64_t now = tk->cs->read(tk->cs);
	uint64_t delta = cyc_delta(&tk->mono, now);

	tk->mono.cycle_last = tk->raw.cycle_last = now;
	while (delta > 0) {
		uint64_t incr = delta < tk->ar.max_cycles ? delta : tk->ar.max_cycles;

		tk->mono.xtime_nsec += incr * tk->mono.mult;
		tk->raw.xtime_nsec += incr * tk->raw.mult;
		normalize_xtime(tk);
		delta -= incr;
	}
	update_coarse(tk);
}

/* accumulate_nsecs_to_secs(): one second_overflow per REALTIME second;
 * a leap moves REALTIME and wall_to_monotonic oppositely. */
static int accumulate_nsecs_to_secs(struct tkc *tk)
{
	uint64_t nsecps = NSEC_PER_SEC_U << tk->mono.shift;
	int clock_set = 0;

	while (tk->mono.xtime_nsec >= nsecps) {
		int leap;

		tk->mono.xtime_nsec -= nsecps;
		tk->xtime_sec++;
		/* this second was already seen by NTP before an underflow took it back */
		if (tk->skip_second_overflow) {
			tk->skip_second_overflow = false;
			continue;
		}
		leap = ntp_second_overflow(&tk->ntp, tk->xtime_sec);
		if (leap) {
			tk->xtime_sec += leap;
			tk->wtm.sec -= leap;
			tk->tai_offset -= leap;
			clock_set = 1;
		}
	}
	return clock_set;
}

/* logarithmic_accumulation(): cycle_interval << shift at once. */
static uint64_t accumulate(struct tkc *tk, uint64_t offset, unsigned int shift, int *clock_set)
{
	uint64_t interval = tk->cycle_interval << shift;
	uint64_t snsec = NSEC_PER_SEC_U << tk->raw.shift;

	if (offset < interval)
		return offset;
	offset -= interval;
	tk->mono.cycle_last = (tk->mono.cycle_last + interval) & tk->mono.mask;
	tk->raw.cycle_last = tk->mono.cycle_last;

	tk->mono.xtime_nsec += tk->xtime_interval << shift;
	*clock_set |= accumulate_nsecs_to_secs(tk);

	tk->raw.xtime_nsec += tk->raw_interval << shift;
	while (tk->raw.xtime_nsec >= snsec) {
		tk->raw.xtime_nsec -= snsec;
		tk->raw_sec++;
	}

	/* what NTP wanted minus what was accumulated (the remainder counts as
	 * accumulated: the mult formula leaves it out) */
	tk->ntp_error += (int64_t)(tk->ntp_tick << shift);
	tk->ntp_error -= (int64_t)((tk->xtime_interval + tk->xtime_remainder)
				   << (tk->ntp_error_shift + shift));
	return offset;
}

/* timekeeping_apply_adjustment(): mult += mult_adj, and xtime_nsec takes
 * back offset * mult_adj so that offset * mult + xtime_nsec, the time a
 * reader computes at the current counter value, does not change. */
static void apply_adjustment(struct tkc *tk, int64_t offset, int64_t mult_adj)
{
	int64_t interval = (int64_t)tk->cycle_interval;

	if (!mult_adj)
		return;
	if ((int64_t)tk->mono.mult + mult_adj > UINT32_MAX || (int64_t)tk->mono.mult + mult_adj < 1)
		return; /* the kernel WARNs and leaves mult alone */
	tk->mono.mult = (uint32_t)((int64_t)tk->mono.mult + mult_adj);
	tk->xtime_interval += (uint64_t)(interval * mult_adj);
	tk->mono.xtime_nsec -= (uint64_t)(offset * mult_adj);
}

/* timekeeping_adjust(): mult straight from the tick length (v4.19+), one
 * unit more while the clock is behind NTP time. In a frequency update that
 * accumulated nothing, a change whose compensation would take xtime_nsec
 * below zero waits for the next tick: the underflow path moves xtime_sec
 * back a second, and without an accumulation the coarse clocks would follow
 * it back (they are updated only when time is accumulated). */
static void adjust(struct tkc *tk, uint64_t offset, bool accumulated)
{
	uint64_t ntp_tl = ntp_tick_length(&tk->ntp);
	int64_t mult, mult_adj;

	if (tk->ntp_tick == ntp_tl) {
		mult = (int64_t)tk->mono.mult - tk->ntp_err_mult;
	} else {
		mult = (int64_t)(((ntp_tl >> tk->ntp_error_shift) - tk->xtime_remainder) /
				 tk->cycle_interval);
	}
	mult += tk->ntp_error > 0 ? 1 : 0;
	mult_adj = mult - (int64_t)tk->mono.mult;

	if (!accumulated && mult_adj > 0 &&
	    (unsigned __int128)offset * (uint64_t)mult_adj > tk->mono.xtime_nsec)
		return;

	tk->ntp_tick = ntp_tl;
	tk->ntp_err_mult = tk->ntp_error > 0 ? 1 : 0;
	apply_adjustment(tk, (int64_t)offset, mult_adj);

	if ((uint32_t)(tk->mono.mult > tk->ar.mult ? tk->mono.mult - tk->ar.mult
						   : tk->ar.mult - tk->mono.mult) > tk->ar.maxadj)
		tk->over_maxadj = true;

	if ((int64_t)tk->mono.xtime_nsec < 0) {
		tk->mono.xtime_nsec += NSEC_PER_SEC_U << tk->mono.shift;
		tk->xtime_sec--;
		tk->skip_second_overflow = true;
	}
}

enum adv_mode { ADV_TICK, ADV_FREQ };

static int advance(struct tkc *tk, enum adv_mode mode)
{
	uint64_t offset, orig;
	int shift, maxshift, clock_set = 0;

	offset = cyc_delta(&tk->mono, tk->cs->read(tk->cs));
	if (offset < tk->cycle_interval && mode == ADV_TICK)
		return 0;
	orig = offset;

	shift = offset ? (int)ilog2_u64(offset) - (int)ilog2_u64(tk->cycle_interval) : 0;
	if (shift < 0)
		shift = 0;
	/* one below what overflows the tick length */
	maxshift = (64 - ((int)ilog2_u64(ntp_tick_length(&tk->ntp)) + 1)) - 1;
	if (shift > maxshift)
		shift = maxshift;
	while (offset >= tk->cycle_interval) {
		offset = accumulate(tk, offset, (unsigned int)shift, &clock_set);
		if (shift > 0 && offset < tk->cycle_interval << shift)
			shift--;
	}

	adjust(tk, offset, orig != offset);
	clock_set |= accumulate_nsecs_to_secs(tk);
	if (orig != offset)
		update_coarse(tk);
	if (clock_set)
		tk->clock_was_set_seq++;
	return clock_set;
}

int tkc_advance(struct tkc *tk)
{
	return advance(tk, ADV_TICK);
}

/* timekeeping_update(TK_CLEAR_NTP | TK_CLOCK_WAS_SET) */
static void clear_ntp_clock_was_set(struct tkc *tk)
{
	tk->ntp_error = 0;
	ntp_clear(&tk->ntp);
	tk->clock_was_set_seq++;
}

int tkc_change_clocksource(struct tkc *tk, struct clocksource *cs, const struct cs_arith *ar)
{
	if (!cs || !cs->read || !ar || !ar->mult || ar->shift > NTP_SCALE_SHIFT)
		return -EINVAL;
	forward_now(tk);
	setup_internals(tk, cs, ar, true);
	clear_ntp_clock_was_set(tk);
	tk->cs_change_seq++;
	return 0;
}

int tkc_settime(struct tkc *tk, const struct timespec *real)
{
	struct tkv_timespec delta, wtm;

	if (!ts_valid(real) || real->tv_sec < 0)
		return -EINVAL;
	forward_now(tk);
	delta.sec = real->tv_sec - tk->xtime_sec;
	delta.nsec = real->tv_nsec - (int64_t)(tk->mono.xtime_nsec >> tk->mono.shift);
	ts_norm(&delta);
	wtm.sec = tk->wtm.sec - delta.sec;
	wtm.nsec = tk->wtm.nsec - delta.nsec;
	ts_norm(&wtm);
	if (ts_positive(&wtm))
		return -EINVAL;
	tk->wtm = wtm;
	tk->xtime_sec = real->tv_sec;
	tk->mono.xtime_nsec = (uint64_t)real->tv_nsec << tk->mono.shift;
	update_coarse(tk);
	clear_ntp_clock_was_set(tk);
	return 0;
}

int tkc_inject_offset(struct tkc *tk, const struct timespec *delta)
{
	struct tkv_timespec wtm, xt;

	if (!ts_valid(delta))
		return -EINVAL;
	forward_now(tk);
	/* A step the clock cannot represent (from a client: any int64) is
	 * refused before any arithmetic on it, as the kernel's
	 * timespec64_valid_settod() refuses a time past TKC_SETTOD_SEC_MAX. */
	if (__builtin_sub_overflow(tk->wtm.sec, (int64_t)delta->tv_sec, &wtm.sec) ||
	    __builtin_add_overflow(tk->xtime_sec, (int64_t)delta->tv_sec, &xt.sec) ||
	    xt.sec > TKC_SETTOD_SEC_MAX)
		return -EINVAL;
	wtm.nsec = tk->wtm.nsec - delta->tv_nsec;
	ts_norm(&wtm);
	xt.nsec = (int64_t)(tk->mono.xtime_nsec >> tk->mono.shift) + delta->tv_nsec;
	ts_norm(&xt);
	if (ts_positive(&wtm) || xt.sec < 0 || xt.sec > TKC_SETTOD_SEC_MAX)
		return -EINVAL;
	tk->wtm = wtm;
	tk->xtime_sec += delta->tv_sec;
	tk->mono.xtime_nsec += (uint64_t)delta->tv_nsec << tk->mono.shift;
	normalize_xtime(tk);
	update_coarse(tk);
	clear_ntp_clock_was_set(tk);
	return 0;
}

int tkc_adjtimex(struct tkc *tk, struct ntp_timex *tx)
{
	struct timespec now;
	int32_t tai = tk->tai_offset;
	int ret;

	ret = ntp_validate_timex(tx);
	if (ret)
		return ret;
	/* ADJ_SETOFFSET before the NTP modes: a status set in the same call
	 * lands after the clear */
	if (!(tx->modes & NTP_ADJ_ADJTIME) && (tx->modes & NTP_ADJ_SETOFFSET)) {
		struct timespec d = { .tv_sec = tx->time_sec, .tv_nsec = tx->time_frac };

		if (!(tx->modes & NTP_ADJ_NANO))
			d.tv_nsec *= 1000;
		ret = tkc_inject_offset(tk, &d);
		if (ret)
			return ret;
	}
	tkc_get(tk, CLOCK_REALTIME, &now);
	ret = ntp_adjtimex(&tk->ntp, tx, now.tv_sec, now.tv_nsec, &tai);
	if (tai != tk->tai_offset) {
		tk->tai_offset = tai;
		tk->clock_was_set_seq++;
	}
	/* a frequency set directly takes effect now, not at the next tick */
	if (!(tx->modes & NTP_ADJ_ADJTIME) && (tx->modes & (NTP_ADJ_FREQUENCY | NTP_ADJ_TICK)))
		advance(tk, ADV_FREQ);
	return ret;
}

static void set_ts(struct timespec *ts, int64_t sec, uint64_t nsec)
{
	ts->tv_sec = (time_t)(sec + (int64_t)(nsec / NSEC_PER_SEC_U));
	ts->tv_nsec = (long)(nsec % NSEC_PER_SEC_U);
}

int tkc_get_at(const struct tkc *tk, clockid_t id, uint64_t cycles, struct timespec *ts)
{
	switch (id) {
	case CLOCK_REALTIME:
		set_ts(ts, tk->xtime_sec, base_ns(&tk->mono, cycles));
		return 0;
	case CLOCK_MONOTONIC:
		set_ts(ts, tk->xtime_sec + tk->wtm.sec,
		       base_ns(&tk->mono, cycles) + (uint64_t)tk->wtm.nsec);
		return 0;
	case CLOCK_BOOTTIME:
		set_ts(ts, tk->xtime_sec + tk->wtm.sec + tk->mono_to_boot.sec,
		       base_ns(&tk->mono, cycles) + (uint64_t)tk->wtm.nsec +
			       (uint64_t)tk->mono_to_boot.nsec);
		return 0;
	case CLOCK_TAI:
		set_ts(ts, tk->xtime_sec + tk->tai_offset, base_ns(&tk->mono, cycles));
		return 0;
	case CLOCK_MONOTONIC_RAW:
		set_ts(ts, tk->raw_sec, base_ns(&tk->raw, cycles));
		return 0;
	case CLOCK_REALTIME_COARSE:
		set_ts(ts, tk->xtime_sec, tk->coarse_nsec);
		return 0;
	case CLOCK_MONOTONIC_COARSE:
		set_ts(ts, tk->xtime_sec + tk->wtm.sec, tk->coarse_nsec + (uint64_t)tk->wtm.nsec);
		return 0;
	default:
		return -EINVAL;
	}
}

int tkc_get(struct tkc *tk, clockid_t id, struct timespec *ts)
{
	if (id == CLOCK_REALTIME_COARSE || id == CLOCK_MONOTONIC_COARSE)
		return tkc_get_at(tk, id, tk->mono.cycle_last, ts);
	return tkc_get_at(tk, id, tk->cs->read(tk->cs), ts);
}

static void view_base(struct tkv_base *v, const struct tkc_base *b)
{
	v->cycle_last = b->cycle_last;
	v->mask = b->mask;
	v->max_cycles = b->max_cycles;
	v->mult = b->mult;
	v->shift = b->shift;
	v->xtime_nsec = b->xtime_nsec;
}

void tkc_view(const struct tkc *tk, struct tkv *v)
{
	memset(v, 0, sizeof(*v));
	view_base(&v->mono, &tk->mono);
	view_base(&v->raw, &tk->raw);
	v->xtime_sec = tk->xtime_sec;
	v->raw_sec = tk->raw_sec;
	v->wall_to_monotonic = tk->wtm;
	v->monotonic_to_boot = tk->mono_to_boot;
	v->tai_offset = tk->tai_offset;
	v->coarse_nsec = tk->coarse_nsec;
	snprintf(v->cs_name, sizeof(v->cs_name), "%s", tk->cs->name);
	v->cs_client_readable = (tk->cs->flags & CS_F_CLIENT_READ) != 0;
	v->cs_page_tsc = (tk->cs->flags & CS_F_PAGE_TSC) != 0;
	v->cs_kernel_clock = (tk->cs->flags & CS_F_KERNEL_CLOCK) != 0;
	v->ntp_status = (uint32_t)tk->ntp.time_status;
	v->ntp_state = ntp_result(&tk->ntp);
	v->maxerror_us = tk->ntp.time_maxerror;
	v->esterror_us = tk->ntp.time_esterror;
	v->freq_scaled_ppm = ntp_freq_scaled_ppm(&tk->ntp);
	v->clock_was_set_seq = tk->clock_was_set_seq;
	v->cs_change_seq = tk->cs_change_seq;
}
