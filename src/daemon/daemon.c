// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon. At start it acquires everything (the counters, the page) and
 * builds the clocksource framework on what it found, as the probe does; the
 * TSC gets its quick calibration before anything runs on it. Then one event
 * loop runs everything periodic as hrtimers on one queue:
 *
 *   update      every 1 s (clock_page_period()): accumulate the timekeeper
 *               (its ticks of update_interval_ms, logarithmically), follow
 *               the registry's current source, publish the page;
 *   watchdog    every 1 s on a fixed cadence: check what must be verified;
 *   calibration 50 ms, then 1 s: refine the TSC; quick and refined values
 *               go to the registry (and the timekeeper, if the TSC is current);
 *   discipline  every 1 s with reference = system, daemon/ref_system.c:
 *               measure the offset to the host's CLOCK_REALTIME and steer;
 *   ntp         with reference = ntp, daemon/ref_ntp.c: a poll timer per server;
 *   save        every 10 min: persist the frequency estimate.
 *
 * Clocks. The daemon's own work (update, watchdog, calibration, discipline,
 * save, the service manager's keep-alive) runs on the loop's queue on the
 * kernel's CLOCK_MONOTONIC (evl_ktimers(), d->kq), never on the clock it
 * judges: the timekeeper's MONOTONIC runs on the current counter, so a
 * counter that stalls would stop the very timer that is to demote it, and
 * one that runs 10 % fast would pace its own watchdog. Driven by the
 * kernel's clock, the watchdog compares the current counter with its
 * reference every 1 s of real time (250 ms after a suspicious interval)
 * and demotes a stalled, stuck, stepped or fast one; the next update
 * follows the registry to the next source, and the page, published on the
 * kernel's clock, never goes stale on the way. The quick calibration
 * before the timekeeper runs uses the kernel's clock too.
 *
 * The timers clients arm on the daemon's clocks (daemon/timers.c) and the
 * NTP client's poll timers run on the other queue (evl_timers(), d->q), on
 * the timekeeper's MONOTONIC (daemon_now()), as the kernel's hrtimer bases
 * run on the kernel's timekeeper; the loop converts their expiries to the
 * kernel's clock for its timerfd. The offsets of REALTIME, BOOTTIME and TAI
 * are the timekeeper's, read at one counter value (daemon_sync_offsets(),
 * on every clock_was_set). When the current counter stalls, that clock
 * stands still until the watchdog demotes the counter: those timers are
 * late meanwhile; the loop re-arms with a growing back-off and bounds every
 * spin in kernel time, so it neither spins nor stops serving signals, the
 * control socket and its own timers. The loop measures how late it runs
 * its timers (evl_lateness(), shown by `timectl status`).
 *
 * The daemon's own periodic timers expire on one grid of whole seconds from
 * the loop's start (clock_next_tick()), so they share one wake-up: an idle
 * daemon wakes once a second. They have no slack: hrt_forward() measures from
 * the hard expiry (as the kernel's does), so a periodic timer run inside
 * its slack window would not move forward; client timers with slack use
 * hrt_forward_soft().
 *
 * SIGTERM/SIGINT stop it cleanly (the page is marked stale, the frequency
 * saved); SIGHUP re-reads the configuration and applies what can change
 * safely (the clocksource override, the reference, the time constant, the
 * [ntp] servers).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "core/calib.h"
#include "core/clocksource.h"
#include "core/evl.h"
#include "core/hrt.h"
#include "core/log.h"
#include "core/adjtimex.h"
#include "core/pagew.h"
#include "core/tkc.h"
#include "core/wdog.h"
#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "daemon/internal.h"
#include "daemon/ref.h"
#include "daemon/sources.h"

/* The daemon's watchdog checks once a second, with the page's update, and
 * 250 ms after a check that left a counter suspect, to confirm or clear it:
 * a drift, a step or a stall is demoted within 2 s of its onset. */
#define WDOG_DAEMON_INTERVAL_NS UINT64_C(1000000000)
#define WDOG_DAEMON_RETRY_NS UINT64_C(250000000)

static enum hrt_restart on_update(struct hrt_timer *t, int64_t now)
{
	struct daemon *d = t->data;

	if (tkc_advance(&d->tk) > 0)
		daemon_sync_offsets(d); /* a leap second was applied */
	daemon_follow_current(d);
	daemon_publish(d, evl_now()); /* the page speaks the kernel's MONOTONIC */
	/* The next at the page's period on the grid the daemon's other timers
	 * share (the period depends on the source, which may have changed). */
	t->softexpires = t->expires = clock_next_tick(d, now, clock_page_period(d));
	return HRT_RESTART;
}

static enum hrt_restart on_watchdog(struct hrt_timer *t, int64_t now)
{
	struct daemon *d = t->data;

	if (wdog_tick(&d->wd, (uint64_t)now) > 0) {
		if (sources_log_demoted(&d->reg, d->tk_entry))
			daemon_bound_disrupted(d, "the clock's source was demoted");
		daemon_follow_current(d);
	}
	t->softexpires = t->expires = (int64_t)wdog_next_due(&d->wd);
	return HRT_RESTART;
}

/* The quick and then the refined TSC frequency go to the registry (the
 * kernel's tsc-early, then tsc); if the TSC is the timekeeper's source it is
 * rebased on the new arithmetic. Later refinement is reported only. */
static void apply_calibration(struct daemon *d)
{
	struct calib_result res;
	struct cs_entry *e;
	char hz[32], ppb[32];

	e = sources_apply_calibration(&d->reg, d->tsc, &d->cal, &d->cal_applied, &res);
	if (!e)
		return;
	snprintf(hz, sizeof(hz), "%.0f", res.calibrated_hz);
	snprintf(ppb, sizeof(ppb), "%.0f", res.uncertainty_ppb);
	log_fields(LOG_LVL_NOTICE,
		   (const struct log_field[]){ { "TK_SOURCE", d->tsc->name },
					       { "TK_CALIBRATION", calib_state_name(res.state) },
					       { "TK_FREQUENCY_HZ", hz },
					       { "TK_UNCERTAINTY_PPB", ppb },
					       { "TK_REFERENCE", res.calibrated_against },
					       { NULL, NULL } },
		   "%s: %s calibration %.0f Hz +- %.0f ppb against %s", d->tsc->name,
		   calib_state_name(res.state), res.calibrated_hz, res.uncertainty_ppb,
		   res.calibrated_against);
	if (res.warning[0])
		log_warn("%s: %s", d->tsc->name, res.warning);
	if (d->tk_entry == e)
		clock_rebase(d); /* announced: a discipline measures again */
}

static enum hrt_restart on_calibration(struct hrt_timer *t, int64_t now)
{
	struct daemon *d = t->data;
	struct calib_result res;

	calib_poll(&d->cal, (uint64_t)now);
	apply_calibration(d);
	calib_result(&d->cal, &res);
	if (res.state >= CALIB_STATE_REFINED) /* on the grid: no wake-up of its own */
		t->softexpires = t->expires = clock_next_tick(d, now, CALIB_SLOW_NS);
	else
		hrt_forward(t, now, CALIB_FAST_NS);
	return HRT_RESTART;
}

static int daemon_recalibrate(struct daemon *d, char *why, size_t whylen)
{
	struct clocksource *ref = d->reg.watchdog ? d->reg.watchdog->cs : NULL;
	int64_t now = evl_now(); /* the kernel's clock, as on_calibration's */

	if (!d->tsc || !ref || !ref->nominal_hz) {
		snprintf(why, whylen, "nothing to calibrate: %s",
			 !d->tsc ? "no usable TSC" : "no reference counter with a known frequency");
		return -ENODEV;
	}
	if (d->calibrating && d->cal_applied < CALIB_STATE_REFINED) {
		snprintf(why, whylen, "the TSC calibration is still in its first phases");
		return -EBUSY;
	}
	if (calib_start(&d->cal, d->tsc, ref, (uint64_t)now) < 0) {
		snprintf(why, whylen, "the calibration against %s could not start", ref->name);
		return -EIO;
	}
	d->calibrating = true;
	d->cal_applied = CALIB_STATE_NONE;
	hrt_cancel(&d->t_calib);
	hrt_start(d->kq, &d->t_calib, now + CALIB_FAST_NS, 0, HRT_MODE_ABS);
	snprintf(why, whylen, "TSC calibration restarted against %s", ref->name);
	log_notice("%s: %s", d->tsc->name, why);
	return 0;
}

static void calib_report(const struct daemon *d, struct daemon_calib_report *r)
{
	struct calib_result res;

	*r = (struct daemon_calib_report){ .tsc = d->tsc };
	if (!d->tsc)
		return;
	r->running = d->cal.tsc != NULL;
	r->applied = d->cal_applied != CALIB_STATE_NONE;
	if (!r->running)
		return;
	calib_result(&d->cal, &res);
	r->hz = calib_hz(&d->cal);
	r->uncertainty_ppb = res.uncertainty_ppb;
}

/* The period of the daemon's own periodic timers; 0 for one-shots and others. */
static int64_t timer_period(const struct daemon *d, const struct hrt_timer *t)
{
	if (t == &d->t_update)
		return clock_page_period(d);
	if (t == &d->t_wdog)
		return (int64_t)d->wd.interval_ns;
	if (t == &d->t_save)
		return SAVE_INTERVAL_NS;
	if (t == &d->t_calib)
		return d->cal.res.state >= CALIB_STATE_REFINED ? CALIB_SLOW_NS : CALIB_FAST_NS;
	return ref_timer_period(d, t);
}

static const struct daemon_hooks hooks = {
	.recalibrate = daemon_recalibrate, /* `timectl recalibrate` */
	.calib_report = calib_report,
	.timer_period = timer_period,
};

static enum hrt_restart on_save(struct hrt_timer *t, int64_t now)
{
	struct daemon *d = t->data;

	daemon_save_frequency(d);
	hrt_forward(t, now, SAVE_INTERVAL_NS);
	return HRT_RESTART;
}

/* The configured reference, started or restarted (ref.h). */
static void start_reference(struct daemon *d)
{
	const struct ref_ops *r = ref_lookup(ref_conf_name(d->conf.reference));

	if (r)
		ref_apply(d, r);
}

/* --- signals ----------------------------------------------------------- */

static void on_stop(struct evl *l, int signo, void *ctx)
{
	log_notice("signal %d: stopping", signo);
	evl_stop(l);
}

static void on_reload(struct evl *l, int signo, void *ctx)
{
	struct daemon *d = ctx;
	struct tk_conf *next;
	char err[768], why[CS_REASON_LEN];

	if (!d->conf_path)
		return;
	next = malloc(sizeof(*next));
	if (!next)
		return;
	if (conf_load(d->conf_path, next, err, sizeof(err)) < 0) {
		log_err("reload: %s; keeping the running configuration", err);
		free(next);
		return;
	}
	if (strcmp(next->clocksource, d->conf.clocksource) != 0) {
		if (cs_override(&d->reg, next->clocksource, why, sizeof(why)) < 0)
			log_warn("reload: clocksource = %s: %s", next->clocksource, why);
		daemon_follow_current(d);
	}
	d->conf.reference = next->reference;
	d->conf.time_constant = next->time_constant;
	memcpy(d->conf.ntp_servers, next->ntp_servers, sizeof(d->conf.ntp_servers));
	d->conf.ntp_nservers = next->ntp_nservers;
	d->conf.step_threshold_ms = next->step_threshold_ms;
	d->conf.step_limit = next->step_limit;
	d->conf.panic_threshold = next->panic_threshold;
	d->conf.allow_panic_step = next->allow_panic_step;
	snprintf(d->conf.clocksource, sizeof(d->conf.clocksource), "%s", next->clocksource);
	start_reference(d);
	log_notice("reload: %s re-read (clocksource, reference, time_constant and [ntp] applied, "
		   "servers resolved again; devices, directories and intervals need a restart)",
		   d->conf_path);
	free(next);
}

/* --- start --------------------------------------------------------------- */

static int acquire_sources(struct daemon *d)
{
	size_t usable;

	d->n = sources_acquire(&d->conf, d->src, &d->reg, LOG_LVL_NOTICE, &usable);
	d->tsc = sources_to_calibrate(d->src, d->n);
	if (!usable) {
		log_err("no usable clock source: every counter was refused (reasons above)");
		return -ENODEV;
	}
	return 0;
}

/* The TSC's quick calibration before the timekeeper starts, so that a TSC
 * without a stated frequency can be chosen from the start. */
static void quick_calibration(struct daemon *d)
{
	struct clocksource *ref = d->reg.watchdog ? d->reg.watchdog->cs : NULL;
	int64_t start = evl_now();
	struct timespec pause = { 0, 5 * NSEC_PER_MSEC };

	if (!d->tsc || !ref || !ref->nominal_hz ||
	    calib_start(&d->cal, d->tsc, ref, (uint64_t)start) < 0)
		return;
	d->calibrating = true;
	while (d->cal_applied == CALIB_STATE_NONE && evl_now() - start < 4 * CALIB_FAST_NS) {
		nanosleep(&pause, NULL);
		calib_poll(&d->cal, (uint64_t)evl_now());
		apply_calibration(d);
	}
}

/* The kernel's clocks at one instant, for a timekeeper that mirrors them,
 * and the counter's value at that instant: REALTIME, MONOTONIC, BOOTTIME
 * and MONOTONIC_RAW read between two reads of the counter, the narrowest
 * of a few brackets, all put at its midpoint. Read one after the other, or
 * the counter read later, a preempted read (tens of us under emulation or
 * load) would stay in the page's offset from the kernel's clocks: in
 * REALTIME - MONOTONIC for good, in MONOTONIC until the PLL has slewed it
 * away. */
static void kernel_clocks(struct clocksource *cs, struct tkc_start *st)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 5; i++) {
		struct timespec m0, r, b, raw, m1;
		uint64_t c0, c1, wc;
		int64_t w, mid;

		c0 = cs_read(cs);
		clock_gettime(CLOCK_MONOTONIC, &m0);
		clock_gettime(CLOCK_REALTIME, &r);
		clock_gettime(CLOCK_BOOTTIME, &b);
		clock_gettime(CLOCK_MONOTONIC_RAW, &raw);
		clock_gettime(CLOCK_MONOTONIC, &m1);
		c1 = cs_read(cs);
		w = ts_to_ns(&m1) - ts_to_ns(&m0);
		wc = (c1 - c0) & cs->mask;
		if (w < 0 || wc >= best)
			continue;
		best = wc;
		mid = ts_to_ns(&m0) + w / 2;
		ns_to_ts(mid, &st->mono);
		st->real = r;
		st->boot = b;
		st->raw = raw;
		st->cycles = (c0 + wc / 2) & cs->mask;
		st->have_cycles = true;
	}
	if (ts_to_ns(&st->boot) < ts_to_ns(&st->mono))
		st->boot = st->mono;
}

static int start_timekeeper(struct daemon *d)
{
	struct tkc_start st = { 0 };
	struct timex ktx = { 0 };
	struct cs_entry *cur = cs_select(&d->reg);

	if (!cur || !cur->have_arith) {
		log_err("no selectable clock source (no frequency known for any usable counter)");
		return -ENODEV;
	}
	kernel_clocks(cur->cs, &st);
	/* A seccomp filter without @clock (systemd's ProtectClock=, or
	 * @system-service alone) refuses even a read-only adjtimex(): then
	 * the TAI offset is what CLOCK_TAI and CLOCK_REALTIME differ by. */
	if (adjtimex(&ktx) >= 0) {
		st.tai_offset = ktx.tai;
	} else {
		struct timespec tai;

		clock_gettime(CLOCK_TAI, &tai);
		st.tai_offset = (int32_t)llround((double)(ts_to_ns(&tai) - ts_to_ns(&st.real)) /
						 1e9);
	}
	if (tkc_init(&d->tk, cur->cs, &cur->ar, (unsigned int)(NSEC_PER_SEC / d->update_ns), &st) <
	    0) {
		log_err("%s: the timekeeper refused it", cur->cs->name);
		return -EINVAL;
	}
	d->tk_entry = cur;
	log_notice("timekeeper: running on %s (mult %u, shift %u, max_idle %.3f s), "
		   "ticks of %" PRId64 " ms, the page every %" PRId64 " ms",
		   cur->cs->name, cur->ar.mult, cur->ar.shift, (double)cur->ar.max_idle_ns / 1e9,
		   d->update_ns / NSEC_PER_MSEC, clock_page_period(d) / NSEC_PER_MSEC);
	if ((uint64_t)d->update_ns * 2 > cur->ar.max_idle_ns)
		log_warn("timekeeper: update_interval_ms = %" PRId64 " is more than half of %s's "
			 "max_idle_ns; accumulation may alias",
			 d->update_ns / NSEC_PER_MSEC, cur->cs->name);
	return 0;
}

/* 1000+ clients each hold a descriptor: take the hard limit (as root, at
 * start, when the soft one is lower). */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("cannot raise RLIMIT_NOFILE to %llu: %s", (unsigned long long)rl.rlim_max,
			 strerror(errno));
}

int daemon_run(const struct tk_conf *conf, const char *conf_path)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct wdog_conf wc = { 0 };
	char err[512];
	int64_t now, know;
	int rc = 1;

	if (!d) {
		log_err("out of memory");
		return 1;
	}
	d->conf = *conf;
	d->conf_path = conf_path;
	d->update_ns = (int64_t)conf->update_interval_ms * NSEC_PER_MSEC;
	bound_init(&d->bound);
	d->bound.drift_ppb = BOUND_DRIFT_MAX_PPB;
	d->runtime_fd = d->state_fd = d->lock_fd = -1;
	d->hooks = &hooks;

	raise_nofile();
	if (clock_init(d) < 0) {
		log_err("out of memory");
		goto out;
	}
	if (daemon_files_open(d) < 0) /* checked directories, and the lock: one daemon */
		goto out;
	if (daemon_ctl_precheck(d) < 0)
		goto out;
	if (acquire_sources(d) < 0)
		goto out;
	quick_calibration(d);
	if (start_timekeeper(d) < 0)
		goto out;
	daemon_load_frequency(d);
	if (pagew_open(d->conf.runtime_dir, &d->pw, err, sizeof(err)) < 0) {
		log_err("page: %s", err);
		goto out;
	}
	if (daemon_ctl_open(d) < 0)
		goto out;
	if (daemon_metrics_open(d) < 0) /* bound as root: a port below 1024 is possible */
		goto out;
	if (daemon_ntps_open(d) < 0) /* the same: port 123 needs no capability after the drop */
		goto out;
	if (daemon_priv_drop(d) < 0)
		goto out;
	if (evl_new(&d->loop) < 0) {
		log_err("event loop: cannot create epoll, timerfd or signalfd: %s",
			strerror(errno));
		goto out;
	}
	d->q = evl_timers(d->loop);
	d->kq = evl_ktimers(d->loop);
	/* The clients' queue runs on the timekeeper's MONOTONIC, as the
	 * kernel's hrtimer bases do; the daemon's own on the kernel's. */
	evl_set_clock(d->loop, clock_queue_now, d);
	evl_set_margin(d->loop, (int64_t)d->conf.timer_margin_us * 1000);
	if (daemon_timers_init(d) < 0) {
		log_err("timers: out of memory");
		goto out;
	}
	evl_on_signal(d->loop, SIGTERM, on_stop, d);
	evl_on_signal(d->loop, SIGINT, on_stop, d);
	evl_on_signal(d->loop, SIGHUP, on_reload, d);

	now = know = evl_now(); /* the kernel's: the daemon's timers, the page, the uptime */
	d->tick0_ns = now;
	/* Every 1 s, on the grid: with the update, one wake-up; 250 ms after a
	 * suspect (section 3 of the architecture: a drift, a step or a stall
	 * still demoted within 2 s). */
	wc.interval_ns = WDOG_DAEMON_INTERVAL_NS;
	wc.retry_ns = WDOG_DAEMON_RETRY_NS;
	wdog_init(&d->wd, &d->reg, &wc, (uint64_t)now);
	daemon_sync_offsets(d);
	hrt_timer_init(&d->t_update, HRT_BASE_MONOTONIC, on_update, "update");
	hrt_timer_init(&d->t_wdog, HRT_BASE_MONOTONIC, on_watchdog, "watchdog");
	hrt_timer_init(&d->t_calib, HRT_BASE_MONOTONIC, on_calibration, "calibration");
	hrt_timer_init(&d->t_save, HRT_BASE_MONOTONIC, on_save, "save");
	d->t_update.data = d->t_wdog.data = d->t_calib.data = d->t_save.data = d;
	daemon_publish(d, know);
	hrt_start(d->kq, &d->t_update, clock_next_tick(d, now, clock_page_period(d)), 0,
		  HRT_MODE_ABS);
	hrt_start(d->kq, &d->t_wdog, (int64_t)wdog_next_due(&d->wd), 0, HRT_MODE_ABS);
	if (d->calibrating)
		hrt_start(d->kq, &d->t_calib, now + CALIB_FAST_NS, 0, HRT_MODE_ABS);
	hrt_start(d->kq, &d->t_save, now + SAVE_INTERVAL_NS, 0, HRT_MODE_ABS);
	start_reference(d);
	d->started_ns = know;
	if (daemon_ctl_attach(d) < 0)
		goto out;
	if (daemon_metrics_attach(d) < 0)
		goto out;
	if (daemon_ntps_attach(d) < 0)
		goto out;
	daemon_sys_ready(d);
	log_notice("running: page %s, reference %s, pid %d", pagew_path(d->pw),
		   ref_conf_name(d->conf.reference), (int)getpid());

	rc = evl_run(d->loop) < 0 ? 1 : 0;

	daemon_sys_stopping(d);
	ref_shutdown(d); /* the clock left on its frequency estimate */
	daemon_save_frequency(d);
out:
	daemon_ctl_close(d);	 /* the clients' timers go with them */
	daemon_metrics_close(d); /* before the loop: its deadline timer is on the loop's queue */
	daemon_ntps_close(d);
	ref_shutdown(d); /* after an error: what a reference started */
	daemon_timers_free(d);
	if (d->loop)
		evl_free(d->loop);
	if (d->pw)
		pagew_close(d->pw, false);
	sources_release(d->src, d->n);
	daemon_files_close(d);
	clock_free(d);
	free(d);
	return rc;
}
