// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The clocksource watchdog (see wdog.h). A check is watchdog-counter-
 * watchdog-watchdog: the first two watchdog reads bound when the counter was
 * read (the window), the last two measure how disturbed the system is right
 * now. Only intervals are compared, never absolute times, with masked
 * deltas so a wrapped watchdog (acpi_pm every 4.69 s) does no harm as long
 * as the interval stays under WDOG_INTERVAL_MAX_NS.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/wdog.h"

enum readout { READ_OK, READ_SKIP, READ_UNSTABLE };

unsigned int wdog_max_retries(unsigned int ncpus)
{
	unsigned int lg = 0;

	while (ncpus > 1) {
		ncpus >>= 1;
		lg++;
	}
	return lg / 2 + 1;
}

void wdog_init(struct wdog *w, struct cs_registry *r, const struct wdog_conf *conf, uint64_t now_ns)
{
	unsigned int ncpus = conf ? conf->ncpus : 0;

	memset(w, 0, sizeof(*w));
	w->r = r;
	w->interval_ns = conf && conf->interval_ns ? conf->interval_ns : WDOG_INTERVAL_NS;
	w->backoff_ns = conf && conf->backoff_ns ? conf->backoff_ns : WDOG_SKIP_BACKOFF_NS;
	if (!ncpus) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		ncpus = n > 0 ? (unsigned int)n : 1;
	}
	w->max_retries = wdog_max_retries(ncpus);
	w->next_due = now_ns + w->interval_ns;
}

uint64_t wdog_next_due(const struct wdog *w)
{
	return w->next_due;
}

static void verdict(struct cs_entry *e, enum cs_verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void verdict(struct cs_entry *e, enum cs_verdict v, const char *fmt, ...)
{
	va_list ap;

	e->wd.last_verdict = v;
	va_start(ap, fmt);
	vsnprintf(e->wd.last_reason, sizeof(e->wd.last_reason), fmt, ap);
	va_end(ap);
}

static uint64_t wd_ns(const struct cs_entry *wd, uint64_t later, uint64_t earlier)
{
	return cs_cyc2ns(wd, cs_delta(wd, later, earlier));
}

/* cs_watchdog_read() with the v6.12 limits. */
static enum readout readout(struct wdog *w, struct cs_entry *wd, struct cs_entry *e,
			    uint64_t *csnow, uint64_t *wdnow, uint64_t *delay, uint64_t *seq)
{
	uint64_t limit1 = 2 * wd->ar.uncertainty_ns + e->ar.uncertainty_ns;
	uint64_t limit2 = 2 * wd->ar.uncertainty_ns;

	for (unsigned int attempt = 0; attempt <= w->max_retries; attempt++) {
		uint64_t w0, c, w1, w2;

		if (attempt)
			e->wd.retries++;
		w0 = cs_read(wd->cs);
		c = cs_read(e->cs);
		w1 = cs_read(wd->cs);
		w2 = cs_read(wd->cs);

		*delay = wd_ns(wd, w1, w0);
		if (*delay <= limit1) {
			*csnow = c;
			*wdnow = w0;
			return READ_OK;
		}
		/* Back-to-back watchdog reads slow too: the whole system is
		 * disturbed (SMIs, a noisy neighbour); conclude nothing. */
		*seq = wd_ns(wd, w2, w1);
		if (*seq > limit2)
			return READ_SKIP;
	}
	return READ_UNSTABLE;
}

/* Returns true when e was demoted. */
static bool check_one(struct wdog *w, struct cs_entry *wd, struct cs_entry *e, uint64_t now_ns,
		      bool *stop)
{
	struct cs_registry *r = w->r;
	const char *name = e->cs->name, *wdname = wd->cs->name;
	uint64_t csnow = 0, wdnow = 0, delay = 0, seq = 0;
	uint64_t raw, wd_nsec, cs_nsec, skew, md;
	bool cur = r->current == e;

	e->wd.checks++;
	switch (readout(w, wd, e, &csnow, &wdnow, &delay, &seq)) {
	case READ_OK:
		break;
	case READ_SKIP:
		e->wd.skips++;
		verdict(e, CS_VERDICT_SKIP,
			"wd-wd read-back delay %" PRIu64 " ns > limit %" PRIu64
			" ns: system disturbed; baselines reset, watchdog paused %" PRIu64 " s",
			seq, 2 * wd->ar.uncertainty_ns, w->backoff_ns / NSEC_PER_SEC_U);
		cs_reset_baselines(r);
		w->backoff_until = now_ns + w->backoff_ns;
		w->backoffs++;
		*stop = true;
		return false;
	case READ_UNSTABLE:
		e->wd.failures++;
		verdict(e, CS_VERDICT_UNSTABLE,
			"wd-%s-wd excessive read-back delay of %" PRIu64 " ns vs. limit of %" PRIu64
			" ns in %u attempts, wd-wd read-back delay %" PRIu64 " ns",
			name, delay, 2 * wd->ar.uncertainty_ns + e->ar.uncertainty_ns,
			w->max_retries + 1, seq);
		cs_mark_unstable(r, e, "watchdog: %s", e->wd.last_reason);
		return true;
	}

	if (!e->wd.have_base) {
		e->wd.have_base = true;
		e->wd.cs_last = csnow;
		e->wd.wd_last = wdnow;
		verdict(e, CS_VERDICT_BASELINE, "baseline against %s", wdname);
		return false;
	}

	raw = (csnow - e->wd.cs_last) & e->cs->mask;
	wd_nsec = wd_ns(wd, wdnow, e->wd.wd_last);
	cs_nsec = cs_cyc2ns(e, cs_delta(e, csnow, e->wd.cs_last));
	if (raw > e->ar.max_raw_delta) {
		uint64_t back = (e->wd.cs_last - csnow) & e->cs->mask;

		e->wd.failures++;
		verdict(e, CS_VERDICT_UNSTABLE,
			"ran backwards: %s read %#" PRIx64 " after %#" PRIx64 " (%" PRIu64
			" cycles back) while %s advanced %" PRIu64 " ns%s",
			name, csnow, e->wd.cs_last, back, wdname, wd_nsec,
			cur ? " (current source)" : "");
		cs_mark_unstable(r, e, "watchdog: %s", e->wd.last_reason);
		return true;
	}
	e->wd.cs_last = csnow;
	e->wd.wd_last = wdnow;

	if (cs_nsec > WDOG_INTERVAL_MAX_NS || wd_nsec > WDOG_INTERVAL_MAX_NS) {
		/* A late check: a wrapped watchdog would compare nonsense. The
		 * baselines were just renewed, the next check compares again. */
		e->wd.skips++;
		verdict(e, CS_VERDICT_SKIP,
			"long readout interval: %s %" PRIu64 " ns, %s %" PRIu64
			" ns, limit %" PRIu64 " ns; baseline renewed",
			name, cs_nsec, wdname, wd_nsec, WDOG_INTERVAL_MAX_NS);
		return false;
	}

	skew = cs_nsec > wd_nsec ? cs_nsec - wd_nsec : wd_nsec - cs_nsec;
	if (skew > e->wd.max_skew_ns)
		e->wd.max_skew_ns = skew;
	md = e->ar.uncertainty_ns + wd->ar.uncertainty_ns;
	if (skew > md) {
		e->wd.failures++;
		if (cs_nsec == 0)
			verdict(e, CS_VERDICT_UNSTABLE,
				"stuck: %s did not move while %s advanced %" PRIu64
				" ns (margin %" PRIu64 " ns)%s",
				name, wdname, wd_nsec, md, cur ? " (current source)" : "");
		else
			verdict(e, CS_VERDICT_UNSTABLE,
				"skew: %s interval %" PRIu64 " ns, %s interval %" PRIu64
				" ns, |diff| %" PRIu64 " ns > margin %" PRIu64 " ns%s",
				name, cs_nsec, wdname, wd_nsec, skew, md,
				cur ? " (current source)" : "");
		cs_mark_unstable(r, e, "watchdog: %s", e->wd.last_reason);
		return true;
	}
	verdict(e, CS_VERDICT_OK,
		"%s interval %" PRIu64 " ns, %s interval %" PRIu64 " ns, skew %" PRIu64
		" ns within %" PRIu64 " ns",
		name, cs_nsec, wdname, wd_nsec, skew, md);
	return false;
}

int wdog_tick(struct wdog *w, uint64_t now_ns)
{
	struct cs_registry *r = w->r;
	struct cs_entry *todo[CS_MAX_SOURCES], *wd;
	unsigned int n = 0;
	bool stop = false;
	int demoted = 0;

	if (now_ns < w->next_due)
		return 0;
	/* Fixed cadence: missed ticks are dropped, the phase is kept. */
	do
		w->next_due += w->interval_ns;
	while (w->next_due <= now_ns);

	if (w->backoff_until) {
		if (now_ns < w->backoff_until)
			return 0;
		w->backoff_until = 0;
	}
	wd = r->watchdog;
	if (!wd)
		return 0;
	if (wd != w->last_wd) {
		cs_reset_baselines(r);
		w->last_wd = wd;
	}
	w->ticks++;

	/* Demotion re-sorts the list: walk a snapshot. */
	for (unsigned int i = 0; i < r->n; i++) {
		struct cs_entry *e = r->list[i];

		if ((e->cs->flags & CS_F_MUST_VERIFY) && e != wd && !e->unstable && !e->unbound &&
		    e->cs->usable && e->cs->read && e->have_arith)
			todo[n++] = e;
	}
	for (unsigned int i = 0; i < n && !stop; i++) {
		if (r->watchdog != wd)
			break;
		if (check_one(w, wd, todo[i], now_ns, &stop))
			demoted++;
	}
	return demoted;
}
