// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The clock, the bottom part of the daemon (clock.h): the timekeeper's
 * follow-ups and the listeners that hear about steps, clock_was_set and
 * source changes. The parts above register themselves: the client timers
 * (CLOCK_EV_SET: cancel-on-set), the NTP reference (CLOCK_EV_STEP: its
 * samples move with the clock; CLOCK_EV_SOURCE: it keeps the clock's rate
 * across a new calibration, and fits its line again on another counter),
 * the system reference (CLOCK_EV_STEP and CLOCK_EV_SOURCE: measure the
 * frequency again) and the page (registered here by clock_init(), all
 * three: republished). Nothing here calls a function of another file of
 * src/daemon/.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "daemon/clock.h"
#include "daemon/internal.h"

#define CLOCK_MAX_LISTENERS 16

struct clock_listener {
	unsigned int kinds;
	clock_listener_fn fn;
	void *ctx;
};

struct clock_listeners {
	struct clock_listener l[CLOCK_MAX_LISTENERS];
	size_t n;
};

static void announce(struct daemon *d, const struct clock_event *ev)
{
	struct clock_listeners *ls = d->listeners;

	if (!ls)
		return;
	for (size_t i = 0; i < ls->n; i++)
		if (ls->l[i].kinds & ev->kind)
			ls->l[i].fn(ls->l[i].ctx, ev);
}

int clock_listen(struct daemon *d, unsigned int kinds, clock_listener_fn fn, void *ctx)
{
	struct clock_listeners *ls = d->listeners;

	if (!ls || !fn)
		return -EINVAL;
	if (ls->n >= CLOCK_MAX_LISTENERS)
		return -ENOSPC;
	ls->l[ls->n++] = (struct clock_listener){ kinds, fn, ctx };
	return 0;
}

void clock_unlisten(struct daemon *d, clock_listener_fn fn, void *ctx)
{
	struct clock_listeners *ls = d->listeners;

	if (!ls)
		return;
	for (size_t i = 0; i < ls->n; i++) {
		if (ls->l[i].fn != fn || ls->l[i].ctx != ctx)
			continue;
		memmove(&ls->l[i], &ls->l[i + 1], (ls->n - i - 1) * sizeof(ls->l[0]));
		ls->n--;
		return;
	}
}

/* --- publishing ---------------------------------------------------------- */

static uint64_t kraw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts_to_ns(&ts);
}

static int sample_source(void *ctx, struct pagew_sample *s)
{
	struct daemon *d = ctx;

	s->kraw_before = kraw_ns();
	s->cycles = cs_read(d->tk_entry->cs);
	s->kraw_after = kraw_ns();
	return 0;
}

int64_t clock_page_idle_period(const struct daemon *d)
{
	uint64_t half = d->tk_entry ? d->tk_entry->ar.max_idle_ns / 2 : 0;
	int64_t n = 1;

	if (d->update_ns >= NSEC_PER_SEC)
		return d->update_ns;
	while (NSEC_PER_SEC / n > d->update_ns && (uint64_t)(NSEC_PER_SEC / n) > half)
		n++;
	return NSEC_PER_SEC / n > d->update_ns ? NSEC_PER_SEC / n : d->update_ns;
}

int64_t clock_page_period(const struct daemon *d)
{
	if (d->pw && pagew_settling(d->pw))
		return d->update_ns; /* the page's KCLOCK rate is not measured yet */
	return clock_page_idle_period(d);
}

int64_t clock_next_tick(const struct daemon *d, int64_t now, int64_t period)
{
	int64_t k = now < d->tick0_ns ? 0 : (now - d->tick0_ns) / period + 1;

	return d->tick0_ns + k * period;
}

void daemon_publish(struct daemon *d, int64_t now)
{
	struct tkv v;
	int64_t period = clock_page_period(d);
	/* Readers trust a page for 4 idle periods, whatever the period now: a
	 * daemon that stopped is seen within 4 s, one late by less is not. The
	 * publish itself may end the short period (a KCLOCK mapping that has
	 * met the timekeeper on the kclock source is published directly, no
	 * longer settling), and the next update is then up to an idle period
	 * away: a validity of 4 short periods would run out before it, and
	 * readers would read the kernel's clock, another clock, meanwhile. */
	int64_t idle = clock_page_idle_period(d);
	int64_t valid = 4 * idle > PAGE_VALID_MIN_NS ? 4 * idle : PAGE_VALID_MIN_NS;

	int64_t mono = daemon_now(d);
	uint64_t drift = (uint64_t)bound_drift_at(&d->bound, mono) + d->bound_slew_ppb;

	tkc_view(&d->tk, &v);
	/* The bound now (cycle_last is not later: never an underestimate);
	 * readers grow it at the drift, plus the rate of a phase slew that
	 * runs, which a late loop could let run past its end. */
	v.bound_valid = true;
	v.bound_status = (uint32_t)bound_status_at(&d->bound, mono);
	v.bound_drift_ppb = drift > UINT32_MAX ? UINT32_MAX : (uint32_t)drift;
	v.bound_ns = bound_at(&d->bound, mono);
	v.bound_t_ns = mono;
	pagew_set_period(d->pw, (uint64_t)period);
	if (pagew_publish(d->pw, &v, (uint64_t)now, (uint64_t)valid, sample_source, d) >= 0)
		d->page_updates++;
	/* Another source: its mapping's rate is not measured yet, so the page
	 * is updated often again from now, not from the next update on. The
	 * update's own publish (its timer not queued while it runs) sets its
	 * next expiry itself. */
	if (pagew_settling(d->pw) && hrt_is_queued(&d->t_update) &&
	    d->t_update.expires > now + d->update_ns) {
		hrt_cancel(&d->t_update);
		hrt_start(d->kq, &d->t_update, clock_next_tick(d, now, d->update_ns), 0,
			  HRT_MODE_ABS);
	}
}

void clock_republish(struct daemon *d)
{
	if (d->pw && d->tk_entry)
		daemon_publish(d, evl_now());
}

/* The page's listener: a step, a rebase (new arithmetic, another source)
 * and a clock_was_set (TAI, a leap second) are shown at once, not at the
 * next update up to 1 s later. */
static void page_on_step(void *ctx, const struct clock_event *ev)
{
	struct daemon *d = ctx;

	(void)ev;
	if (d->pw && d->tk_entry)
		daemon_publish(d, evl_now());
}

int clock_init(struct daemon *d)
{
	d->listeners = calloc(1, sizeof(*d->listeners));
	if (!d->listeners)
		return -ENOMEM;
	return clock_listen(d, CLOCK_EV_STEP | CLOCK_EV_SOURCE | CLOCK_EV_SET, page_on_step, d);
}

void clock_free(struct daemon *d)
{
	free(d->listeners);
	d->listeners = NULL;
}

void daemon_bound_disrupted(struct daemon *d, const char *why)
{
	if (d->bound.status != TK_PAGE_BS_DISRUPTED)
		log_warn("bound: disrupted until the next good reference sample: %s", why);
	bound_disrupt(&d->bound);
}

int64_t daemon_now(struct daemon *d)
{
	struct timespec ts;

	if (tkc_get(&d->tk, CLOCK_MONOTONIC, &ts) < 0)
		return evl_now();
	return ts_to_ns(&ts);
}

int64_t clock_queue_now(void *ctx)
{
	return daemon_now(ctx);
}

void clock_note_offset(struct daemon *d, int64_t offset_ns, int64_t window_ns)
{
	d->last_offset_ns = offset_ns;
	d->last_window_ns = window_ns;
}

/* Moves the hrtimer bases with the timekeeper (clock_was_set). The four
 * clocks are read at one counter value, so the offsets are exact: they
 * change only when a clock is set (a step, a leap second), never by the
 * time between reads. The listeners (cancel-on-set client timers of a base
 * that moved) hear of it before anything can run them at the new time. */
void daemon_sync_offsets(struct daemon *d)
{
	struct timespec mono, real, boot, tai;
	int64_t old[HRT_NR_BASES];
	uint64_t cycles = cs_read(d->tk.cs);
	struct clock_event ev = { .kind = CLOCK_EV_SET, .old_offsets = old };

	tkc_get_at(&d->tk, CLOCK_MONOTONIC, cycles, &mono);
	tkc_get_at(&d->tk, CLOCK_REALTIME, cycles, &real);
	tkc_get_at(&d->tk, CLOCK_BOOTTIME, cycles, &boot);
	tkc_get_at(&d->tk, CLOCK_TAI, cycles, &tai);
	memcpy(old, d->q->offset, sizeof(old));
	hrt_set_offsets(d->q, ts_to_ns(&real) - ts_to_ns(&mono), ts_to_ns(&boot) - ts_to_ns(&mono),
			ts_to_ns(&tai) - ts_to_ns(&mono));
	announce(d, &ev);
}

/* Follows the registry: a demotion or an override may have changed the
 * current source; the timekeeper forwards on the old counter and rebases on
 * the new one, so no reader sees a step. */
void daemon_follow_current(struct daemon *d)
{
	struct cs_entry *cur = d->reg.current;
	struct clock_event ev = { .kind = CLOCK_EV_SOURCE, .switched = true };

	if (!cur || cur == d->tk_entry || !cur->have_arith)
		return;
	if (tkc_change_clocksource(&d->tk, cur->cs, &cur->ar) < 0) {
		log_err("%s: cannot switch the timekeeper to it", cur->cs->name);
		return;
	}
	log_fields(LOG_LVL_NOTICE,
		   (const struct log_field[]){ { "TK_SOURCE", cur->cs->name },
					       { "TK_PREVIOUS_SOURCE", d->tk_entry->cs->name },
					       { NULL, NULL } },
		   "clocksource: switched from %s to %s", d->tk_entry->cs->name, cur->cs->name);
	d->tk_entry = cur;
	/* The new counter's frequency error is not measured yet. */
	d->bound.drift_ppb = BOUND_DRIFT_MAX_PPB;
	announce(d, &ev);
}

void clock_follow_registry(struct daemon *d)
{
	daemon_follow_current(d);
	if (d->pw && d->tk_entry)
		daemon_publish(d, evl_now());
}

int clock_page_fd(struct daemon *d)
{
	return d->pw ? pagew_share_fd(d->pw) : -1;
}

int clock_rebase(struct daemon *d)
{
	struct clock_event ev = { .kind = CLOCK_EV_SOURCE };
	struct cs_entry *e = d->tk_entry;
	struct cs_arith before = d->tk.ar;

	if (tkc_change_clocksource(&d->tk, e->cs, &e->ar) < 0)
		return -EINVAL;
	/* The timekeeper steers mult so that a tick's length (the frequency's,
	 * unchanged) passes in the cycles of a tick: the clock's rate is the
	 * base mult's times the frequency's, and it moves with mult/2^shift. */
	ev.rate_ppb = (ldexp((double)e->ar.mult, -(int)e->ar.shift) /
			       ldexp((double)before.mult, -(int)before.shift) -
		       1) *
		      1e9;
	announce(d, &ev);
	return 0;
}

int daemon_adjtimex(struct daemon *d, struct ntp_timex *tx)
{
	struct ntp_timex asked = *tx; /* the read-back overwrites time_sec and time_frac */
	uint64_t cws = d->tk.clock_was_set_seq;
	int r = tkc_adjtimex(&d->tk, tx);

	if (r >= 0 && (tx->modes & NTP_ADJ_SETOFFSET) && !(tx->modes & NTP_ADJ_ADJTIME)) {
		struct clock_event ev = { .kind = CLOCK_EV_STEP, .tx = &asked };

		bound_moved(&d->bound, asked.time_sec > 9000000000 || asked.time_sec < -9000000000
					       ? INT64_MAX
					       : asked.time_sec * NSEC_PER_SEC +
							 ((asked.modes & NTP_ADJ_NANO)
								  ? asked.time_frac
								  : asked.time_frac * 1000));
		daemon_sync_offsets(d);
		announce(d, &ev); /* the listeners do not depend on one another's order */
	} else if (r >= 0 && d->tk.clock_was_set_seq != cws) {
		daemon_sync_offsets(d); /* e.g. ADJ_TAI: TAI moved, its timers follow */
	}
	/* A frequency or tick changes mult at once: readers must not
	 * extrapolate the old one until the next update, up to 1 s away. */
	if (r >= 0 && (asked.modes & (NTP_ADJ_FREQUENCY | NTP_ADJ_TICK)) &&
	    !(asked.modes & NTP_ADJ_ADJTIME))
		clock_republish(d);
	return r;
}

int daemon_step(struct daemon *d, int64_t offset_ns)
{
	struct ntp_timex tx = { .modes = NTP_ADJ_SETOFFSET | NTP_ADJ_NANO };

	tx.time_sec = offset_ns / NSEC_PER_SEC;
	tx.time_frac = offset_ns % NSEC_PER_SEC;
	if (tx.time_frac < 0) {
		tx.time_sec--;
		tx.time_frac += NSEC_PER_SEC;
	}
	return daemon_adjtimex(d, &tx);
}

void clock_report(struct daemon *d, struct clock_report *r)
{
	const struct tk_page *pg = d->pw ? pagew_page(d->pw) : NULL;
	const struct ntp_state *n = &d->tk.ntp;

	memset(r, 0, sizeof(*r));
	r->source = d->tk_entry ? d->tk_entry->cs->name : NULL;
	r->freq_scaled_ppm = ntp_freq_scaled_ppm(n);
	r->last_offset_ns = d->last_offset_ns;
	r->last_window_ns = d->last_window_ns;
	r->maxerror_us = n->time_maxerror;
	r->esterror_us = n->time_esterror;
	r->ntp_status = n->time_status;
	r->time_state = ntp_result(n);
	r->tai_offset = d->tk.tai_offset;
	r->time_constant = (int32_t)n->time_constant;
	r->update_interval_ns = clock_page_period(d);
	if (pg) {
		r->have_page = true;
		r->clock_mode = pg->clock[TK_PAGE_BLOCK_HRES].clock_mode;
		r->disruption = pg->status.disruption;
		r->page_last_update_ns = pg->status.last_update_ns;
		r->page_valid_until_ns = pg->status.valid_until_ns;
		r->page_updates = d->page_updates;
	}
	r->uptime_ns = (uint64_t)(evl_now() - d->started_ns);
	r->bound_status = (uint32_t)bound_status_at(&d->bound, daemon_now(d));
	r->bound_drift_ppb = bound_drift_at(&d->bound, daemon_now(d));
	r->bound_ns = bound_at(&d->bound, daemon_now(d));
	r->synchronized = !(n->time_status & NTP_STA_UNSYNC) &&
			  n->time_maxerror < NTP_PHASE_LIMIT &&
			  r->bound_status == TK_PAGE_BS_SYNCHRONIZED;
}
