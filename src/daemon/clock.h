/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The clock: the bottom part of the daemon. It owns the timekeeper's
 * follow-ups (publishing the page, the hrtimer bases' offsets, following
 * the registry's current source, steps and every other adjtimex) and knows
 * nothing of the parts above it (the references, the control socket, the
 * client timers, the service manager). They call down into it; it calls up
 * only through the listeners registered here.
 */
#ifndef TK_DAEMON_CLOCK_H
#define TK_DAEMON_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/adjtimex.h"
#include "core/hrt.h"

struct daemon;

/* What a listener hears about. */
enum clock_event_kind {
	CLOCK_EV_STEP = 1 << 0,	  /* REALTIME was stepped (ADJ_SETOFFSET, applied) */
	CLOCK_EV_SET = 1 << 1,	  /* the bases' offsets were re-read (clock_was_set) */
	CLOCK_EV_SOURCE = 1 << 2, /* the timekeeper was rebased (another source or arithmetic) */
};

struct clock_event {
	enum clock_event_kind kind;
	const struct ntp_timex *tx; /* STEP: the request as asked (nanoseconds or not) */
	const int64_t *old_offsets; /* SET: the offsets before, HRT_NR_BASES of them */
	bool switched;		    /* SOURCE: to another source (not just new arithmetic) */
	/* SOURCE, not switched: how much faster (ppb) the clock runs on the
	 * counter's new arithmetic than on the old (the ratio of mult/2^shift,
	 * which the timekeeper's steering keeps as the base of its rate). */
	double rate_ppb;
};

typedef void (*clock_listener_fn)(void *ctx, const struct clock_event *ev);

/* Before the clock runs: the listener list. 0 or -ENOMEM. */
int clock_init(struct daemon *d);
void clock_free(struct daemon *d);
/* fn(ctx, ev) for every event whose kind is in kinds, in the order of
 * registration. 0, -ENOSPC when the list is full, -EINVAL before clock_init(). */
int clock_listen(struct daemon *d, unsigned int kinds, clock_listener_fn fn, void *ctx);
/* Removes the listener registered with fn and ctx, if any. */
void clock_unlisten(struct daemon *d, clock_listener_fn fn, void *ctx);

/* Publishes the timekeeper in the page (now: evl_now()). */
void daemon_publish(struct daemon *d, int64_t now);
/* Publishes now, when there is a page and a timekeeper: after a change of
 * the timekeeper's rate or of the bound that readers must see before the
 * next update. */
void clock_republish(struct daemon *d);
/* How often the page is updated when nothing needs it sooner: 1 s (the
 * discipline changes the tick length once a second), or 1 s / n within
 * half the source's max_idle_ns; never below update_interval_ms. */
int64_t clock_page_idle_period(const struct daemon *d);
/* How often the page is updated now: update_interval_ms while its KCLOCK
 * mapping settles (pagew_settling()), else clock_page_idle_period(). Each
 * publish may change it; the page stays valid for 4 idle periods. */
int64_t clock_page_period(const struct daemon *d);
/* The first point after now (kernel's MONOTONIC) of the grid of period ns
 * from d->tick0_ns: the daemon's own timers meet there, one wake-up. */
int64_t clock_next_tick(const struct daemon *d, int64_t now, int64_t period);
/* Moves the hrtimer bases with the timekeeper and announces CLOCK_EV_SET. */
void daemon_sync_offsets(struct daemon *d);
/* Makes the timekeeper follow the registry's current source (no step);
 * announces CLOCK_EV_SOURCE when it switched. */
void daemon_follow_current(struct daemon *d);
/* After a change to the registry (switch, unbind, readmit): the timekeeper
 * follows it and the page shows it at once. */
void clock_follow_registry(struct daemon *d);
/* The page's memfd, sealed against writes, for a reader; -1 when there is none. */
int clock_page_fd(struct daemon *d);
/* The timekeeper's own source has new arithmetic (a calibration): rebases
 * on it and announces CLOCK_EV_SOURCE with the change of rate it makes.
 * < 0 when the timekeeper refused it. */
int clock_rebase(struct daemon *d);
/* adjtimex on the timekeeper, with the follow-ups: a step (ADJ_SETOFFSET)
 * widens the bound, is announced (CLOCK_EV_STEP), moves the timer bases
 * and republishes; any other clock_was_set (ADJ_TAI) moves the bases too.
 * Returns the clock state or -errno. */
int daemon_adjtimex(struct daemon *d, struct ntp_timex *tx);
/* Steps REALTIME by offset_ns through daemon_adjtimex() (ADJ_SETOFFSET,
 * nanoseconds). Returns its result. */
int daemon_step(struct daemon *d, int64_t offset_ns);
/* The clock misbehaved (its source demoted by the watchdog, a step
 * refused): the page's bound status is DISRUPTED until the reference gives
 * the next good sample. why: one line for the log. */
void daemon_bound_disrupted(struct daemon *d, const char *why);
/* The daemon's MONOTONIC (the timekeeper's): the clock of d->q. */
int64_t daemon_now(struct daemon *d);
/* For evl_set_clock(): daemon_now(ctx). */
int64_t clock_queue_now(void *ctx);
/* A reference measured the offset (ns) over a window (ns): kept for the
 * control socket's status and ntp answers. */
void clock_note_offset(struct daemon *d, int64_t offset_ns, int64_t window_ns);

/* The clock's part of TK_CTL_STATUS. */
struct clock_report {
	const char *source; /* the timekeeper's source, NULL before it runs */
	int64_t freq_scaled_ppm;
	int64_t last_offset_ns, last_window_ns;
	int64_t maxerror_us, esterror_us;
	int32_t ntp_status, time_state, tai_offset, time_constant;
	int64_t update_interval_ns;
	bool have_page;
	int32_t clock_mode; /* TK_PAGE_MODE_* */
	uint64_t disruption;
	uint64_t page_last_update_ns, page_valid_until_ns;
	uint64_t page_updates; /* publications since the start */
	uint64_t uptime_ns;
	uint32_t bound_status;
	uint32_t bound_drift_ppb;
	int64_t bound_ns;
	bool synchronized;
};

void clock_report(struct daemon *d, struct clock_report *r);

#endif
