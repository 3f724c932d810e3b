// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * reference = system: the page mirrors the host kernel's clocks. Every 1 s
 * on the kernel's queue (d->kq) REALTIME and MONOTONIC are both measured
 * against the kernel's from the narrowest of a few bracketed reads (ours,
 * the kernel's REALTIME and MONOTONIC, ours, at one counter value each
 * side). The host clock being set shows as a change of the kernel's
 * REALTIME - MONOTONIC: it is mirrored at once as a step of our REALTIME
 * alone, as the kernel stepped its own. The common phase (MONOTONIC's
 * offset) is never stepped, since MONOTONIC cannot be: the frequency is
 * measured over 4 s and set with ADJ_FREQUENCY, the phase built up until
 * then slewed out at adjtime()'s 500 ppm, then each MONOTONIC offset goes
 * to the PLL (ADJ_OFFSET). A rebased timekeeper (another source, a
 * refined TSC calibration) restarts the frequency measurement: the clock's
 * listeners say when. The kernel tells when its clock is set (a timerfd
 * with TFD_TIMER_CANCEL_ON_SET); nothing tells when its rate changes, so a
 * watch reads its adjtimex state every 10 ms while it changes or slews,
 * backing off to the round's own look once a second when it is quiet, and
 * the bound carries what an unseen change (HOST_UNSEEN_PPB) can do until
 * the next look. Either change runs a round at once. The round, the watch
 * and the daemon's other timers meet on one grid: an idle daemon wakes
 * once a second. While the page's counter is not the kernel's, the watch
 * stays at 10 ms and also measures, re-anchors the bound and publishes it
 * (fast_round(); the clock is not touched): that bound needs it.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "daemon/clock.h"
#include "daemon/ref.h"

#define DISC_INTERVAL_NS NSEC_PER_SEC
/* The discipline measures the frequency for this long before the PLL. */
#define DISC_FREQ_WINDOW_NS (4 * NSEC_PER_SEC)
#define DISC_READS 5
/* How often the host's adjtimex state is looked at between rounds: every
 * 10 ms while it changes or a slew runs, backing off one step a quiet
 * round; at 1 s the round's own look is the only one. Each step divides
 * 1 s, so every look falls on the grid the daemon's other timers share. */
static const int64_t watch_steps_ns[] = {
	10 * NSEC_PER_MSEC,  20 * NSEC_PER_MSEC,  50 * NSEC_PER_MSEC, 100 * NSEC_PER_MSEC,
	200 * NSEC_PER_MSEC, 500 * NSEC_PER_MSEC, NSEC_PER_SEC,
};
#define WATCH_STEPS (sizeof(watch_steps_ns) / sizeof(watch_steps_ns[0]))
/* A change of the host's rate unseen between two looks, that the bound
 * covers: its frequency moved within the kernel's 500 ppm, an adjtime()
 * slew started. The bound grows at this rate on top of the measured one
 * until the next look re-anchors it, so a look that runs late is covered
 * for as long as it is late; the looks are never so far apart that this
 * is more than the host's own maxerror at the interval (nor closer than
 * 10 ms). */
#define HOST_UNSEEN_PPB 500000
/* The bound's rate is the largest of this many recent intervals' rates. */
#define RATE_HISTORY 8
/* While the page's counter is not the kernel's, the bound is also
 * re-anchored from a measurement at every watch, and its rate is the
 * largest over the watch intervals of about the last second. */
#define FAST_HISTORY 100
/* ... and its value is widened by the largest change of the offset between
 * two watches over this many rounds: the counters' disagreement also comes
 * in steps of tens of us, which no rate before them shows. */
#define JUMP_HISTORY 30
/* The kernel's clock's counter, by the kernel's name for it. */
#define KERNEL_CS_PATH "/sys/devices/system/clocksource/clocksource0/current_clocksource"
/* The kernel slews an adjtime() offset at 500 us per s (MAX_TICKADJ). */
#define HOST_ADJTIME_PPB 500000u

enum disc_phase { DISC_OFF, DISC_START, DISC_FREQ, DISC_SLEW, DISC_PLL };

/* What the host's adjtimex says about how its clock runs: a change of any
 * of these changes the kernel clock's rate (or is the start or end of a
 * slew), which the discipline should see at once. */
struct host_rate {
	long freq, tick, constant;
	int status;
	bool pll_offset, adjtime_left;
};

struct ref_system {
	struct daemon *d;
	struct hrt_timer t_disc, t_watch;
	enum disc_phase phase;
	int64_t disc_t0, disc_off0;		 /* start of the frequency measurement */
	int64_t bound_prev_offset, bound_prev_t; /* the last measurement, for the bound's rate */
	double rates_ppb[RATE_HISTORY];		 /* the last intervals' rates, ppb */
	unsigned int nrates;
	int host_state; /* the host's last adjtimex answer, for its log line */
	struct host_rate host;
	bool have_host;
	int set_fd;		/* timerfd that the kernel cancels when its clock is set, or -1 */
	bool mirroring;		/* a step of ours that follows the host's: not a new frame */
	double host_dfreq_ppb;	/* how much the host's rate changed since the last round */
	uint32_t host_slew_ppb; /* the rate of the host's slew at the last look */
	bool changed;		/* the host's state changed since the last round */
	unsigned int watch;	/* index in watch_steps_ns of the interval between looks */
	int64_t maxerror_us;	/* the host's, at the last round */
	struct sim_host {	/* [sim] host_clock: the simulated host clock's state */
		int64_t step_ns, phase_ns, slew_ppb, t0_ns;
	} sim;
	bool sim_bad; /* its file was unreadable: said once */
	/* The page's counter is not the one the kernel's clock reads: the
	 * two disagree in the short term, the bound is refined at each watch. */
	bool across;
	double round_rate_ppb;		    /* the last claim's measured rate, ppb; < 0: none */
	int64_t fast_prev_off, fast_prev_t; /* the last watch's offset; t INT64_MIN: none */
	double fast_rates_ppb[FAST_HISTORY];
	unsigned int nfast;
	int64_t jumps_ns[JUMP_HISTORY]; /* each round's largest change between watches */
	int64_t jump_cur_ns;		/* this round's so far */
	unsigned int njumps;
};

/* One measurement against the kernel: offsets = kernel - ours, ns. */
struct disc_sample {
	int64_t off_real, off_mono;
	int64_t window; /* the bracket's width on our clock */
};

/* The kernel's REALTIME and MONOTONIC against ours, from the narrowest of a
 * few brackets: ours at one counter value, the kernel's two clocks, ours at
 * another; ours at the bracket's midpoint. Both kernel readings lie inside
 * the bracket, so each offset, and the difference of the two, is within
 * the window. */
/* [sim] host_clock: the state file's line, or all zero (the kernel's
 * clocks) when it cannot be read. */
static void sim_load(struct ref_system *s)
{
	const char *path = s->d->conf.sim_host_clock;
	struct sim_host h = { 0 };
	FILE *f;
	int n = 0;

	if (!path[0])
		return;
	f = fopen(path, "re");
	if (f) {
		n = fscanf(f, "%" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64, &h.step_ns,
			   &h.phase_ns, &h.slew_ppb, &h.t0_ns);
		fclose(f);
	}
	if (n != 4) {
		if (!s->sim_bad)
			log_warn("discipline: [sim] host_clock %s: %s, expected \"step_ns phase_ns "
				 "slew_ppb t0_ns\": the kernel's clocks",
				 path, f ? "malformed" : strerror(errno));
		s->sim_bad = true;
		memset(&h, 0, sizeof(h));
	} else {
		s->sim_bad = false;
	}
	if (h.slew_ppb != s->sim.slew_ppb)
		s->host_dfreq_ppb += fabs((double)(h.slew_ppb - s->sim.slew_ppb));
	s->sim = h;
}

/* The host's REALTIME and MONOTONIC: the kernel's, moved by [sim]
 * host_clock's state when there is one. */
static void host_clocks(const struct ref_system *s, struct timespec *kr, struct timespec *km)
{
	int64_t ph;

	clock_gettime(CLOCK_REALTIME, kr);
	clock_gettime(CLOCK_MONOTONIC, km);
	if (!s->d->conf.sim_host_clock[0])
		return;
	ph = s->sim.phase_ns +
	     (int64_t)((double)s->sim.slew_ppb * (double)(ts_to_ns(km) - s->sim.t0_ns) / 1e9);
	ns_to_ts(ts_to_ns(kr) + s->sim.step_ns + ph, kr);
	ns_to_ts(ts_to_ns(km) + ph, km);
}

static void measure(struct ref_system *s, struct disc_sample *m)
{
	struct daemon *d = s->d;

	m->window = INT64_MAX;
	m->off_real = m->off_mono = 0;
	for (int i = 0; i < DISC_READS; i++) {
		struct timespec m0, m1, r0, kr, km;
		uint64_t c0, c1;
		int64_t w;

		c0 = cs_read(d->tk.cs);
		host_clocks(s, &kr, &km);
		c1 = cs_read(d->tk.cs);
		tkc_get_at(&d->tk, CLOCK_MONOTONIC, c0, &m0);
		tkc_get_at(&d->tk, CLOCK_MONOTONIC, c1, &m1);
		tkc_get_at(&d->tk, CLOCK_REALTIME, c0, &r0);
		w = ts_to_ns(&m1) - ts_to_ns(&m0);
		if (w >= 0 && w < m->window) {
			m->window = w;
			m->off_mono = ts_to_ns(&km) - (ts_to_ns(&m0) + w / 2);
			m->off_real = ts_to_ns(&kr) - (ts_to_ns(&r0) + w / 2);
		}
	}
}

/* How the host's clock runs now (the real kernel's, whatever [sim] says of
 * its maxerror): 0, or -errno when adjtimex() cannot be read. *slew_ppb is
 * how fast a slew in progress moves it: an adjtime() offset left (500 ppm)
 * and the kernel PLL's offset, of which it applies offset >> (2 +
 * constant) per second. */
static int host_rate(struct host_rate *hr, uint32_t *slew_ppb)
{
	struct timex tx = { 0 }, ss = { .modes = ADJ_OFFSET_SS_READ };
	double pll_ppb = 0, v = 0;

	memset(hr, 0, sizeof(*hr)); /* compared with memcmp: padding too */
	if (adjtimex(&tx) < 0)
		return -errno;
	if (adjtimex(&ss) < 0)
		ss.offset = 0;
	hr->freq = tx.freq;
	hr->tick = tx.tick;
	hr->constant = tx.constant;
	hr->status = tx.status & (STA_PLL | STA_FLL | STA_FREQHOLD | STA_PPSFREQ | STA_PPSTIME);
	hr->pll_offset = tx.offset != 0 && (tx.status & STA_PLL);
	hr->adjtime_left = ss.offset != 0;
	if (hr->pll_offset) {
		double off_ns = fabs((double)tx.offset) * ((tx.status & STA_NANO) ? 1 : 1000);
		long c = tx.constant < 0 ? 0 : (tx.constant > 10 ? 10 : tx.constant);

		pll_ppb = off_ns / (double)(1L << (2 + c));
	}
	if (hr->adjtime_left)
		v += HOST_ADJTIME_PPB;
	v += pll_ppb;
	*slew_ppb = v >= BOUND_DRIFT_MAX_PPB ? BOUND_DRIFT_MAX_PPB : (uint32_t)ceil(v);
	return 0;
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

/* One look at the host's clock: the [sim] state and adjtimex. A change of
 * its frequency or tick is added to host_dfreq_ppb (the next round's rate)
 * and, like any change of how it runs, returns true. */
static bool look(struct ref_system *s)
{
	struct sim_host sim0 = s->sim;
	struct host_rate hr;
	uint32_t slew_ppb = 0;
	bool changed;

	sim_load(s);
	changed = memcmp(&sim0, &s->sim, sizeof(sim0)) != 0;
	if (host_rate(&hr, &slew_ppb) == 0) {
		if (s->have_host && memcmp(&hr, &s->host, sizeof(hr)) != 0) {
			/* freq: ppm << 16; tick: us per 1/USER_HZ (10 ms) */
			s->host_dfreq_ppb += fabs((double)(hr.freq - s->host.freq)) * 1000.0 /
						     65536.0 +
					     fabs((double)(hr.tick - s->host.tick)) * 1e5;
			changed = true;
		}
		s->host = hr;
		s->host_slew_ppb = slew_ppb;
		s->have_host = true;
	}
	return changed;
}

/* The longest interval between looks for which the unseen allowance stays
 * within the host's maxerror (at least the shortest, at most 1 s). */
static unsigned int watch_cap(const struct ref_system *s)
{
	double t_ns = (double)s->maxerror_us * 1e3 * 1e9 / HOST_UNSEEN_PPB;
	unsigned int i = 0;

	while (i + 1 < WATCH_STEPS && (double)watch_steps_ns[i + 1] <= t_ns)
		i++;
	return i;
}

/* While the page's counter is not the kernel's: the largest rate at which
 * the offset moved between watches over about the last second, ppb (-1:
 * none yet), and the largest change between two watches over the last
 * JUMP_HISTORY rounds, ns. */
static double across_rate(const struct ref_system *s)
{
	double r = -1;

	for (unsigned int i = 0; i < FAST_HISTORY && i < s->nfast; i++)
		if (s->fast_rates_ppb[i] > r)
			r = s->fast_rates_ppb[i];
	return r;
}

static int64_t across_jump(const struct ref_system *s)
{
	int64_t j = s->jump_cur_ns;

	for (unsigned int i = 0; i < JUMP_HISTORY && i < s->njumps; i++)
		if (s->jumps_ns[i] > j)
			j = s->jumps_ns[i];
	return j;
}

/* The bound from a measurement m: bound_system()'s, and while the page's
 * counter is not the kernel's, widened by the largest jump between watches
 * and its rate raised to the largest between watches (rate_ppb < 0: none
 * measured, the model's default). */
static void across_sync(struct ref_system *s, int64_t now, const struct disc_sample *m,
			int64_t maxerror_us, double rate_ppb)
{
	struct daemon *d = s->d;
	struct timespec res = { 0, 1 };
	int64_t err, ns, j;

	clock_getres(CLOCK_REALTIME, &res);
	err = llabs(m->off_real) > llabs(m->off_mono) ? m->off_real : m->off_mono;
	ns = bound_system(maxerror_us, err, m->window, ts_to_ns(&res) + 1);
	if (s->across) {
		double fr = across_rate(s);

		j = across_jump(s);
		ns = ns > BOUND_NONE - j ? BOUND_NONE : ns + j;
		/* none measured over a round yet: the default, or more */
		if (fr > (rate_ppb < 0 ? (double)BOUND_DRIFT_MAX_PPB : rate_ppb))
			rate_ppb = fr;
	}
	/* none measured: the model's default */
	if (rate_ppb < 0)
		rate_ppb = BOUND_DRIFT_MAX_PPB;
	/* What a change of the host's rate can do until the next look,
	 * however late it runs. */
	rate_ppb += HOST_UNSEEN_PPB;
	bound_sync(&d->bound, now, ns, bound_drift(d->conf.max_drift_ppb, rate_ppb, 1.0),
		   3 * DISC_INTERVAL_NS);
}

/* reference = system, after a measurement m at now. The bound: the host's
 * own (maxerror) plus our tracking error: the larger of the REALTIME and
 * MONOTONIC offsets (BOOTTIME and TAI are MONOTONIC and REALTIME moved by
 * the kernel's own offsets, copied at start), the bracket's window and the
 * reading granularity. It grows at the floor plus the largest rate at which
 * the offset moved over the last RATE_HISTORY intervals (the two counters,
 * ours and the kernel's, disagree in the short term by more than either
 * drifts: the last interval alone under-reads a jittery one), plus the rate
 * of a slew the host's kernel is running (adjtime, its PLL), which moves
 * its clock before any offset shows it, plus own_ppb: how much faster our
 * own clock may now move against it than over the past intervals (what
 * this round's PLL update changed). Its value also carries what a change
 * of the host's rate (HOST_UNSEEN_PPB) does before the next look. An
 * unsynchronized or unreadable host: no bound. */
static void system_bound(struct ref_system *s, int64_t now, const struct disc_sample *m, bool claim,
			 double own_ppb)
{
	struct daemon *d = s->d;
	int64_t maxerror_us = 0;
	/* INT64_MIN: no previous claim (now - INT64_MIN would overflow) */
	int64_t dt = s->bound_prev_t == INT64_MIN ? 0 : now - s->bound_prev_t;
	int host = host_adjtimex(d, &maxerror_us);
	uint32_t slew_ppb = s->host_slew_ppb;
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
	/* The rate needs two offsets in one frame: none across a rebase. */
	if (claim && s->bound_prev_t != INT64_MIN && dt > 0) {
		double r = fabs((double)(m->off_mono - s->bound_prev_offset)) * 1e9 / (double)dt;

		/* An interval shorter than a round (an early round on a host
		 * change) is not a rate over a round: counted as one. */
		if (dt < DISC_INTERVAL_NS)
			r = fabs((double)(m->off_mono - s->bound_prev_offset));
		/* A change of the host's rate shows in no offset yet. */
		if (s->host_dfreq_ppb > r)
			r = s->host_dfreq_ppb;
		s->host_dfreq_ppb = 0;
		s->rates_ppb[s->nrates++ % RATE_HISTORY] = r;
		rate_ppb = 0;
		for (unsigned int i = 0; i < RATE_HISTORY && i < s->nrates; i++)
			if (s->rates_ppb[i] > rate_ppb)
				rate_ppb = s->rates_ppb[i];
		rate_ppb += slew_ppb + own_ppb;
	}
	if (!claim)
		s->nrates = 0;
	s->round_rate_ppb = rate_ppb;
	s->bound_prev_offset = m->off_mono;
	s->bound_prev_t = claim ? now : INT64_MIN;
	if (host < 0 || host == TIME_ERROR || maxerror_us >= NTP_PHASE_LIMIT) {
		bound_unknown(&d->bound);
		return;
	}
	if (!claim) {
		bound_lost(&d->bound); /* the frequency is being measured: no claim yet */
		return;
	}
	across_sync(s, now, m, maxerror_us, rate_ppb);
}

/* The watches' history starts again: a rebase or a step of our own. */
static void fast_reset(struct ref_system *s)
{
	s->nfast = 0;
	s->fast_prev_t = INT64_MIN;
	s->njumps = 0;
	s->jump_cur_ns = 0;
}

/* Whether the page's counter is another than the one the kernel's clock
 * reads (the kernel's name for it, which the drivers share): then the two
 * can disagree in rate from one moment to the next (a TCG guest's TSC
 * against its hpet or acpi_pm), by far more than a round's rate shows. The
 * kernel-clock source reads the kernel's clock; a simulated counter is
 * never the kernel's; a kernel whose choice cannot be read counts as
 * another counter (the refinement only tightens the bound). */
static bool page_across(const struct daemon *d)
{
	char name[64] = "";
	FILE *f;

	if (!d->tk_entry || (d->tk_entry->cs->flags & CS_F_KERNEL_CLOCK))
		return false;
	if (d->tk_entry->cs->flags & CS_F_SIMULATED)
		return true; /* whatever its name, not the kernel's counter */
	f = fopen(KERNEL_CS_PATH, "re");
	if (!f)
		return true;
	if (!fgets(name, sizeof(name), f))
		name[0] = '\0';
	fclose(f);
	name[strcspn(name, "\n")] = '\0';
	return strcmp(name, d->tk_entry->cs->name) != 0;
}

/* Between rounds, while the page's counter is not the kernel's: measure
 * and re-anchor the bound the last round claimed, at the same terms, its
 * rate the larger of that round's (the default before a round measured
 * one) and the largest at which the MONOTONIC offset moved between watches
 * over about the last second, from the first interval on: right after a
 * claim is when the TSC was also seen to run away. A rate that
 * jumps within a round is then in the bound within a watch or two, and the
 * offset it built up in the measured offset; the short intervals' noise
 * (the bracket's window over 10 ms) only raises the rate, and a bound
 * re-anchored every 10 ms stays small at a large rate. No adjtimex: the
 * clock itself moves only at the rounds. */
static void fast_round(struct ref_system *s, int64_t now)
{
	struct daemon *d = s->d;
	struct disc_sample m;
	int64_t maxerror_us = 0, dt;
	int host;

	/* The frequency's measurement watches too: the first claim then
	 * knows the jumps of the 4 s before it. */
	if (s->phase != DISC_FREQ && s->phase != DISC_PLL) {
		s->fast_prev_t = INT64_MIN;
		return;
	}
	host = host_adjtimex(d, &maxerror_us);
	if (host < 0 || host == TIME_ERROR || maxerror_us >= NTP_PHASE_LIMIT)
		return;
	measure(s, &m);
	/* No bracket, or the host clock set: the next round's. */
	if (m.window == INT64_MAX || llabs(m.off_real - m.off_mono) > 2 * m.window + 1000)
		return;
	dt = s->fast_prev_t == INT64_MIN ? 0 : now - s->fast_prev_t;
	if (dt > 0) {
		/* A late watch counts as a watch interval: never a lower rate. */
		int64_t span = dt > watch_steps_ns[0] ? dt : watch_steps_ns[0];
		int64_t jump = llabs(m.off_mono - s->fast_prev_off);

		s->fast_rates_ppb[s->nfast++ % FAST_HISTORY] = (double)jump * 1e9 / (double)span;
		if (jump > s->jump_cur_ns)
			s->jump_cur_ns = jump;
	}
	s->fast_prev_off = m.off_mono;
	s->fast_prev_t = now;
	if (s->nfast == 0 || s->phase != DISC_PLL ||
	    bound_status_at(&d->bound, now) != TK_PAGE_BS_SYNCHRONIZED)
		return; /* no interval yet, or no claim to refine */
	across_sync(s, now, &m, maxerror_us, s->round_rate_ppb);
	clock_republish(d);
}

static void adjtimex_or_log(struct daemon *d, struct ntp_timex *tx, const char *what)
{
	if (tkc_adjtimex(&d->tk, tx) < 0)
		log_warn("discipline: %s refused by the timekeeper", what);
}

/* The host's REALTIME - MONOTONIC moved by delta: its clock was set. Ours
 * follows with a step of REALTIME alone, as the kernel's did; the frequency
 * and the PLL's phase (MONOTONIC's) are untouched. */
static void mirror_step(struct ref_system *s, int64_t delta)
{
	struct daemon *d = s->d;

	s->mirroring = true;
	if (daemon_step(d, delta) < 0) {
		log_warn("discipline: step refused by the timekeeper");
		daemon_bound_disrupted(d, "a step was refused");
	} else {
		log_notice("discipline: the host clock was set: REALTIME follows by %+.6f s",
			   (double)delta / 1e9);
	}
	s->mirroring = false;
}

static enum hrt_restart on_watch(struct hrt_timer *t, int64_t now);

/* The interval between looks until the next round: the shortest while the
 * host's clock changes or slews, or while the page's counter is not the
 * kernel's (fast_round()), one step longer after a quiet round, never
 * beyond watch_cap(); the watch runs only below 1 s, on the grid. */
static void pace_watch(struct ref_system *s, bool changed, int64_t now)
{
	struct daemon *d = s->d;
	unsigned int cap = watch_cap(s);

	if (changed || s->across || s->host.pll_offset || s->host.adjtime_left)
		s->watch = 0;
	else if (s->watch < cap)
		s->watch++;
	if (s->watch > cap)
		s->watch = cap;
	if (watch_steps_ns[s->watch] >= DISC_INTERVAL_NS) {
		hrt_cancel(&s->t_watch);
		return;
	}
	hrt_cancel(&s->t_watch);
	hrt_start(d->kq, &s->t_watch, clock_next_tick(d, now, watch_steps_ns[s->watch]), 0,
		  HRT_MODE_ABS);
}

/* One round at now: look at the host, measure, mirror a step of the host
 * clock, then the frequency measurement or the PLL on MONOTONIC's offset,
 * and the bound; the page shows it at once. */
static void disc_round(struct ref_system *s, int64_t now)
{
	struct daemon *d = s->d;
	struct disc_sample m;
	enum disc_phase ph0 = s->phase;
	bool bounded = false, changed;
	int64_t set, me;

	s->across = page_across(d); /* before the watch's pace: it needs it */
	changed = look(s) || s->changed;
	s->changed = false;
	if (host_adjtimex(d, &me) >= 0)
		s->maxerror_us = me;
	pace_watch(s, changed, now);
	measure(s, &m);
	/* Both kernel readings are inside the bracket: REALTIME - MONOTONIC
	 * is known to the window; a larger change is the host clock set. */
	set = m.off_real - m.off_mono;
	if (m.window != INT64_MAX && llabs(set) > 2 * m.window + 1000) {
		mirror_step(s, set);
		measure(s, &m);
	}
	clock_note_offset(d, m.off_real, m.window);
	switch (s->phase) {
	case DISC_OFF:
		clock_republish(d);
		return;
	case DISC_START:
		/* The refined TSC value rebases the timekeeper: measure the
		 * frequency on the final arithmetic only. */
		if (daemon_calib_settling(d))
			break;
		s->disc_t0 = now;
		s->disc_off0 = m.off_mono;
		s->phase = DISC_FREQ;
		break;
	case DISC_FREQ: {
		struct ntp_timex tx = { 0 }, slew = { .modes = NTP_ADJ_OFFSET_SINGLESHOT };
		double slope_ppm;

		if (now - s->disc_t0 < DISC_FREQ_WINDOW_NS)
			break;
		/* offset falls as fast as our clock gains: correct the
		 * frequency by the slope, then let the PLL take the phase (a
		 * step would leave MONOTONIC off the kernel's for good). */
		slope_ppm = (double)(m.off_mono - s->disc_off0) * 1e6 / (double)(now - s->disc_t0);
		tkc_adjtimex(&d->tk, &tx); /* read */
		tx.modes = NTP_ADJ_FREQUENCY | NTP_ADJ_STATUS | NTP_ADJ_NANO | NTP_ADJ_TIMECONST;
		tx.freq = tx.freq + (int64_t)llround(slope_ppm * 65536.0);
		tx.status = NTP_STA_PLL;
		tx.constant = (int64_t)d->conf.time_constant;
		adjtimex_or_log(d, &tx, "frequency");
		/* The phase built up before the frequency was known (our
		 * clock ran on the bare arithmetic: 300 us with a 50 ppm
		 * crystal under the start's 6 s) is no frequency error: the
		 * PLL would pull the frequency by several ppm to take it
		 * out, and keep it off for minutes. It is slewed out at
		 * adjtime()'s 500 ppm instead, toward the kernel's clock,
		 * and the PLL starts when that is done. */
		slew.offset = m.off_mono / NSEC_PER_USEC;
		if (slew.offset != 0)
			adjtimex_or_log(d, &slew, "phase slew");
		log_notice("discipline: frequency %+.3f ppm from the host clock (offset %+" PRId64
			   " ns, slewed out at 500 ppm)",
			   tx.freq / 65536.0, m.off_mono);
		s->phase = slew.offset != 0 ? DISC_SLEW : DISC_PLL;
		daemon_save_frequency(d);
		break;
	}
	case DISC_SLEW: {
		struct ntp_timex left = { .modes = NTP_ADJ_OFFSET_SS_READ };

		/* No claim while it slews: the rates measured would be the
		 * slew's. The error only shrinks meanwhile: the slew moves
		 * our clock toward the kernel's. */
		tkc_adjtimex(&d->tk, &left);
		if (left.offset == 0)
			s->phase = DISC_PLL;
		break;
	}
	case DISC_PLL: {
		struct ntp_timex tx = {
			.modes = NTP_ADJ_OFFSET | NTP_ADJ_STATUS | NTP_ADJ_NANO | NTP_ADJ_ESTERROR |
				 NTP_ADJ_TIMECONST,
			.offset = m.off_mono,
			.status = NTP_STA_PLL,
			.constant = (int64_t)d->conf.time_constant,
			.esterror = m.window / 2000 + 1,
		};
		struct ntp_timex rd = { 0 }, mx = { .modes = NTP_ADJ_MAXERROR | NTP_ADJ_STATUS };
		int64_t b, c = tx.constant > 10 ? 10 : tx.constant;
		double own_ppb;

		tkc_adjtimex(&d->tk, &rd); /* read: the frequency before */
		adjtimex_or_log(d, &tx, "offset");
		/* Our PLL now slews at offset >> (2 + constant) per second, and
		 * its frequency moved by what this update added: neither is in
		 * the rates measured so far. */
		own_ppb = fabs((double)(tx.freq - rd.freq)) * 1000.0 / 65536.0 +
			  fabs((double)m.off_mono) / (double)(1L << (2 + c));
		system_bound(s, now, &m, ph0 == DISC_PLL, own_ppb);
		bounded = true;
		/* maxerror (us): the model's bound; an unsynchronized host
		 * leaves us unsynchronized too. */
		b = bound_at(&d->bound, now);
		mx.maxerror = b >= NTP_PHASE_LIMIT * 1000 ? NTP_PHASE_LIMIT : (b + 999) / 1000;
		mx.status = NTP_STA_PLL;
		if (bound_status_at(&d->bound, now) != TK_PAGE_BS_SYNCHRONIZED)
			mx.status |= NTP_STA_UNSYNC;
		adjtimex_or_log(d, &mx, "maxerror");
		break;
	}
	}
	if (!bounded)
		system_bound(s, now, &m, false, 0);
	/* the watches' jumps, one entry per round */
	s->jumps_ns[s->njumps++ % JUMP_HISTORY] = s->jump_cur_ns;
	s->jump_cur_ns = 0;
	clock_republish(d);
}

static enum hrt_restart on_discipline(struct hrt_timer *t, int64_t now)
{
	struct ref_system *s = t->data;

	if (s->phase == DISC_OFF)
		return HRT_NORESTART;
	disc_round(s, now);
	hrt_forward(t, now, DISC_INTERVAL_NS);
	return HRT_RESTART;
}

/* Between rounds: a change of how the host's clock runs (its frequency,
 * tick, PLL mode, a slew starting or ending) runs a round now, so the
 * bound takes the new rate in within the interval between looks, which
 * the bound carries (HOST_UNSEEN_PPB), not at the next round. */
static enum hrt_restart on_watch(struct hrt_timer *t, int64_t now)
{
	struct ref_system *s = t->data;

	if (s->phase == DISC_OFF)
		return HRT_NORESTART;
	if (look(s)) {
		s->changed = true;
		if (s->phase == DISC_PLL) {
			disc_round(s, now); /* re-arms this timer (pace_watch()) */
			return HRT_NORESTART;
		}
	}
	if (s->across)
		fast_round(s, now);
	t->softexpires = t->expires = clock_next_tick(s->d, now, watch_steps_ns[s->watch]);
	return HRT_RESTART;
}

/* The kernel cancelled the timerfd: its clock was set. Mirror it now. */
static void on_clock_set(struct evl *l, int fd, uint32_t revents, void *ctx)
{
	struct ref_system *s = ctx;
	struct itimerspec far = { .it_value = { .tv_sec = INT32_MAX } };
	uint64_t n;

	(void)l;
	(void)revents;
	if (read(fd, &n, sizeof(n)) < 0 && errno == EAGAIN)
		return;
	if (timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &far, NULL) < 0)
		log_warn("discipline: cannot re-arm the clock-set timerfd: %s", strerror(errno));
	s->changed = true;
	if (s->phase != DISC_OFF)
		disc_round(s, evl_now());
}

/* A step of our own (not one that follows the host's): the phase built
 * up is gone, measure the frequency again. */
static void on_clock(void *ctx, const struct clock_event *ev)
{
	struct ref_system *s = ctx;

	if (ev->kind == CLOCK_EV_STEP && s->phase != DISC_OFF && !s->mirroring) {
		s->phase = DISC_START;
		fast_reset(s);
	}
	if (ev->kind == CLOCK_EV_SOURCE)
		fast_reset(s);
	/* A rebase: ntp_clear() dropped the phase (and a slew's rest), and a
	 * frequency measured across it would mix two rates: measure again. */
	if (ev->kind == CLOCK_EV_SOURCE && s->phase != DISC_OFF)
		s->phase = DISC_START;
}

/* A timerfd on CLOCK_REALTIME, armed far ahead with CANCEL_ON_SET: the
 * kernel cancels it whenever its clock is set. Without one, a step of the
 * host's is mirrored at the next round. */
static void open_set_fd(struct ref_system *s)
{
	struct itimerspec far = { .it_value = { .tv_sec = INT32_MAX } };
	int fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd < 0 ||
	    timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &far, NULL) < 0 ||
	    evl_add_fd(s->d->loop, fd, EPOLLIN, on_clock_set, s) < 0) {
		log_warn(
			"discipline: no clock-set timerfd (%s): host steps wait for the next round",
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	s->set_fd = fd;
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
		s->fast_prev_t = INT64_MIN;
		s->round_rate_ppb = -1;
		s->host_state = TIME_OK;
		s->set_fd = -1;
		hrt_timer_init(&s->t_disc, HRT_BASE_MONOTONIC, on_discipline, "discipline");
		s->t_disc.data = s;
		hrt_timer_init(&s->t_watch, HRT_BASE_MONOTONIC, on_watch, "discipline watch");
		s->t_watch.data = s;
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
		hrt_start(d->kq, &s->t_disc, clock_next_tick(d, evl_now(), DISC_INTERVAL_NS), 0,
			  HRT_MODE_ABS);
	s->watch = 0;
	if (!hrt_is_queued(&s->t_watch))
		hrt_start(d->kq, &s->t_watch, clock_next_tick(d, evl_now(), watch_steps_ns[0]), 0,
			  HRT_MODE_ABS);
	if (s->set_fd < 0)
		open_set_fd(s);
	return 0;
}

static void system_stop(struct daemon *d)
{
	struct ref_system *s = d->sysref;

	if (!s)
		return;
	s->phase = DISC_OFF;
	hrt_cancel(&s->t_disc);
	hrt_cancel(&s->t_watch);
}

static void system_release(struct daemon *d)
{
	struct ref_system *s = d->sysref;

	if (!s)
		return;
	hrt_cancel(&s->t_disc);
	hrt_cancel(&s->t_watch);
	if (s->set_fd >= 0) {
		evl_del_fd(d->loop, s->set_fd);
		close(s->set_fd);
	}
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

	if (s && t == &s->t_disc)
		return DISC_INTERVAL_NS;
	return s && t == &s->t_watch ? watch_steps_ns[s->watch] : 0;
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
