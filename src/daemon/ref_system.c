// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * reference = system: every 1 s on the kernel's queue (d->kq) the offset to
 * the host's CLOCK_REALTIME is measured from the narrowest of a few
 * bracketed reads (ours, the kernel's, ours). Beyond 128 ms it is stepped.
 * Otherwise the frequency is measured over 4 s and set with ADJ_FREQUENCY,
 * the phase built up meanwhile is stepped out once, and then each offset
 * goes to the PLL (ADJ_OFFSET). A step or a rebased timekeeper (another
 * source, a refined TSC calibration) restarts the frequency measurement:
 * the clock's listeners say when.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include "core/log.h"
#include "daemon/clock.h"
#include "daemon/ref.h"

#define DISC_INTERVAL_NS NSEC_PER_SEC
/* The discipline measures the frequency for this long before the PLL. */
#define DISC_FREQ_WINDOW_NS (4 * NSEC_PER_SEC)
/* Offsets beyond this are stepped instead of slewed (ntpd's 128 ms). */
#define DISC_STEP_NS (128 * NSEC_PER_MSEC)
#define DISC_READS 5

enum disc_phase { DISC_OFF, DISC_START, DISC_FREQ, DISC_PLL };

struct ref_system {
	struct daemon *d;
	struct hrt_timer t_disc;
	enum disc_phase phase;
	int64_t disc_t0, disc_off0;		 /* start of the frequency measurement */
	int64_t bound_prev_offset, bound_prev_t; /* the last measurement, for the bound's rate */
	int host_state; /* the host's last adjtimex answer, for its log line */
};

/* offset = host CLOCK_REALTIME - our REALTIME, from the narrowest of a few
 * bracketed readings (ours, the kernel's, ours). */
static void measure_offset(struct daemon *d, int64_t *offset, int64_t *window)
{
	*window = INT64_MAX;
	for (int i = 0; i < DISC_READS; i++) {
		struct timespec a, k, b;
		int64_t w;

		tkc_get(&d->tk, CLOCK_REALTIME, &a);
		clock_gettime(CLOCK_REALTIME, &k);
		tkc_get(&d->tk, CLOCK_REALTIME, &b);
		w = ts_to_ns(&b) - ts_to_ns(&a);
		if (w >= 0 && w < *window) {
			*window = w;
			*offset = ts_to_ns(&k) - (ts_to_ns(&a) + w / 2);
		}
	}
}

/* The host clock's own state: adjtimex()'s result (TIME_OK..TIME_ERROR)
 * with *maxerror_us, or -errno when it cannot be read (a seccomp filter
 * without @clock). [sim] host_adjtimex replaces it in tests. */
static int host_adjtimex(const struct daemon *d, int64_t *maxerror_us)
{
	struct timex tx = { 0 };
	int r;

	switch (d->conf.sim_host_adjtimex) {
	case CONF_HOST_SYNCED:
		*maxerror_us = (int64_t)d->conf.sim_host_maxerror_us;
		return TIME_OK;
	case CONF_HOST_UNSYNCED:
		*maxerror_us = NTP_PHASE_LIMIT;
		return TIME_ERROR;
	case CONF_HOST_UNREADABLE:
		return -EPERM;
	}
	r = adjtimex(&tx);
	if (r < 0)
		return -errno;
	*maxerror_us = tx.maxerror;
	return (tx.status & STA_UNSYNC) ? TIME_ERROR : r;
}

/* reference = system, after a measurement at now: the host's bound plus
 * our tracking error, growing at the floor plus the rate at which the last
 * two offsets differ. An unsynchronized or unreadable host: no bound. */
static void system_bound(struct ref_system *s, int64_t now, int64_t offset, int64_t window,
			 bool claim)
{
	struct daemon *d = s->d;
	struct timespec res = { 0, 1 };
	int64_t maxerror_us = 0, dt = now - s->bound_prev_t;
	int host = host_adjtimex(d, &maxerror_us);
	double rate_ppb = -1;

	if (host != s->host_state) {
		if (host < 0)
			log_warn("bound: the host's adjtimex() cannot be read (%s): no error bound",
				 strerror(-host));
		else if (host == TIME_ERROR)
			log_warn("bound: the host clock is unsynchronized (adjtimex: TIME_ERROR, "
				 "maxerror %" PRId64 " us): so is the page, no error bound",
				 maxerror_us);
		else if (s->host_state < 0 || s->host_state == TIME_ERROR)
			log_notice("bound: the host clock is synchronized (maxerror %" PRId64
				   " us)",
				   maxerror_us);
		s->host_state = host;
	}
	/* The rate needs two offsets in one frame: none across a step. */
	if (claim && s->bound_prev_t != INT64_MIN && dt > 0)
		rate_ppb = fabs((double)(offset - s->bound_prev_offset)) * 1e9 / (double)dt;
	s->bound_prev_offset = offset;
	s->bound_prev_t = claim ? now : INT64_MIN;
	if (host < 0 || host == TIME_ERROR || maxerror_us >= NTP_PHASE_LIMIT) {
		bound_unknown(&d->bound);
		return;
	}
	if (!claim) {
		bound_lost(&d->bound); /* the frequency is being measured: no claim yet */
		return;
	}
	clock_getres(CLOCK_REALTIME, &res);
	bound_sync(&d->bound, now, bound_system(maxerror_us, offset, window, ts_to_ns(&res) + 1),
		   bound_drift(d->conf.max_drift_ppb, rate_ppb, 1.0), 3 * DISC_INTERVAL_NS);
}

static void adjtimex_or_log(struct daemon *d, struct ntp_timex *tx, const char *what)
{
	if (tkc_adjtimex(&d->tk, tx) < 0)
		log_warn("discipline: %s refused by the timekeeper", what);
}

static void step(struct daemon *d, int64_t offset)
{
	if (daemon_step(d, offset) < 0) {
		log_warn("discipline: step refused by the timekeeper");
		daemon_bound_disrupted(d, "a step was refused");
	} else
		log_notice("discipline: stepped REALTIME by %+.6f s", (double)offset / 1e9);
}

static enum hrt_restart on_discipline(struct hrt_timer *t, int64_t now)
{
	struct ref_system *s = t->data;
	struct daemon *d = s->d;
	int64_t offset = 0, window;
	enum disc_phase ph0 = s->phase;
	bool bounded = false;

	measure_offset(d, &offset, &window);
	clock_note_offset(d, offset, window);
	if (llabs(offset) > DISC_STEP_NS) {
		step(d, offset);
		s->phase = DISC_START;
		goto out;
	}
	switch (s->phase) {
	case DISC_OFF:
		return HRT_NORESTART;
	case DISC_START:
		/* The refined TSC value rebases the timekeeper: measure the
		 * frequency on the final arithmetic only. */
		if (daemon_calib_settling(d))
			break;
		s->disc_t0 = now;
		s->disc_off0 = offset;
		s->phase = DISC_FREQ;
		break;
	case DISC_FREQ: {
		struct ntp_timex tx = { 0 };
		double slope_ppm;

		if (now - s->disc_t0 < DISC_FREQ_WINDOW_NS)
			break;
		/* offset falls as fast as our clock gains: correct the
		 * frequency by the slope, then let the PLL hold the phase. */
		slope_ppm = (double)(offset - s->disc_off0) * 1e6 / (double)(now - s->disc_t0);
		tkc_adjtimex(&d->tk, &tx); /* read */
		tx.modes = NTP_ADJ_FREQUENCY | NTP_ADJ_STATUS | NTP_ADJ_NANO | NTP_ADJ_TIMECONST;
		tx.freq = tx.freq + (int64_t)llround(slope_ppm * 65536.0);
		tx.status = NTP_STA_PLL;
		tx.constant = (int64_t)d->conf.time_constant;
		adjtimex_or_log(d, &tx, "frequency");
		log_notice("discipline: frequency %+.3f ppm from the host clock (offset %+" PRId64
			   " ns)",
			   tx.freq / 65536.0, offset);
		/* The phase error built up while measuring is stepped out, once,
		 * so the PLL starts near zero instead of overshooting. */
		if (llabs(offset) > (int64_t)(2 * window + 1000))
			step(d, offset);
		s->phase = DISC_PLL;
		daemon_save_frequency(d);
		break;
	}
	case DISC_PLL: {
		struct ntp_timex tx = {
			.modes = NTP_ADJ_OFFSET | NTP_ADJ_STATUS | NTP_ADJ_NANO | NTP_ADJ_MAXERROR |
				 NTP_ADJ_ESTERROR | NTP_ADJ_TIMECONST,
			.offset = offset,
			.status = NTP_STA_PLL,
			.constant = (int64_t)d->conf.time_constant,
			.esterror = window / 2000 + 1,
		};
		int64_t b;

		/* maxerror (us): the model's bound; an unsynchronized host
		 * leaves us unsynchronized too. */
		system_bound(s, now, offset, window, ph0 == DISC_PLL);
		bounded = true;
		b = bound_at(&d->bound, now);
		tx.maxerror = b >= NTP_PHASE_LIMIT * 1000 ? NTP_PHASE_LIMIT : (b + 999) / 1000;
		if (bound_status_at(&d->bound, now) != TK_PAGE_BS_SYNCHRONIZED)
			tx.status |= NTP_STA_UNSYNC;
		adjtimex_or_log(d, &tx, "offset");
		break;
	}
	}
out:
	if (!bounded)
		system_bound(s, now, offset, window, false);
	hrt_forward(t, now, DISC_INTERVAL_NS);
	return HRT_RESTART;
}

/* A step: the phase built up is gone, measure the frequency again. */
static void on_clock(void *ctx, const struct clock_event *ev)
{
	struct ref_system *s = ctx;

	if (ev->kind == CLOCK_EV_STEP && s->phase != DISC_OFF)
		s->phase = DISC_START;
	/* A rebase: ntp_clear() dropped the phase, measure again. */
	if (ev->kind == CLOCK_EV_SOURCE && s->phase == DISC_PLL)
		s->phase = DISC_START;
}

static int system_start(struct daemon *d)
{
	struct ref_system *s = d->sysref;

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			log_err("discipline: out of memory");
			return -ENOMEM;
		}
		s->d = d;
		s->bound_prev_t = INT64_MIN;
		s->host_state = TIME_OK;
		hrt_timer_init(&s->t_disc, HRT_BASE_MONOTONIC, on_discipline, "discipline");
		s->t_disc.data = s;
		if (clock_listen(d, CLOCK_EV_STEP | CLOCK_EV_SOURCE, on_clock, s) < 0) {
			free(s);
			log_err("discipline: cannot follow the clock's steps");
			return -ENOSPC;
		}
		d->sysref = s;
	}
	if (s->phase == DISC_OFF)
		s->phase = DISC_START;
	if (!hrt_is_queued(&s->t_disc))
		hrt_start(d->kq, &s->t_disc, evl_now() + DISC_INTERVAL_NS, 0, HRT_MODE_ABS);
	return 0;
}

static void system_stop(struct daemon *d)
{
	struct ref_system *s = d->sysref;

	if (!s)
		return;
	s->phase = DISC_OFF;
	hrt_cancel(&s->t_disc);
}

static void system_release(struct daemon *d)
{
	struct ref_system *s = d->sysref;

	if (!s)
		return;
	hrt_cancel(&s->t_disc);
	clock_unlisten(d, on_clock, s);
	free(s);
	d->sysref = NULL;
}

static void system_report(const struct daemon *d, struct ref_report *r)
{
	const struct ref_system *s = d->sysref;

	r->sd_state = s && s->phase == DISC_PLL ? REF_SD_TRACKING : REF_SD_MEASURING;
}

static int64_t system_timer_period(const struct daemon *d, const struct hrt_timer *t)
{
	const struct ref_system *s = d->sysref;

	return s && t == &s->t_disc ? DISC_INTERVAL_NS : 0;
}

const struct ref_ops ref_system_ops = {
	.name = "system",
	.ctl_ref = TK_CTL_REF_SYSTEM,
	.start = system_start,
	.stop = system_stop,
	.release = system_release,
	.report = system_report,
	.timer_period = system_timer_period,
};
