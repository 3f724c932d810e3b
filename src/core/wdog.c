// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The clocksource watchdog (see wdog.h). A check is watchdog-counter-
 * watchdog-watchdog: the first two watchdog reads bracket the counter's read
 * (the window), the last two measure how disturbed the system is right now.
 * Only intervals are compared, never absolute times, with masked deltas so
 * a wrapped watchdog (acpi_pm every 4.69 s) does no harm as long as each
 * gap between readouts stays under WDOG_GAP_MAX_NS.
 *
 * Why a delayed read cannot condemn: the counter was sampled somewhere
 * inside its window, so pairing it with the window's middle is off by at
 * most half the window, as the watchdog itself measured it. An interval's
 * comparison is therefore off by at most the half-windows at its two ends
 * (the allowance), and only a difference beyond the margins plus that
 * allowance counts. The kernel pairs the counter with the first watchdog
 * read and accepts windows up to 2 * 250 + 250 us against a 500 us margin,
 * so one slow read late in an accepted window was enough to demote.
 *
 * The comparison runs over the span from an anchor, the last readout that
 * was within the margin, or an earlier one with a narrower window while
 * the span is short (WDOG_ANCHOR_SPAN_NS): the readouts in between cancel,
 * only the anchor's and the latest window count, and a drift has longer to
 * show. The margin is the kernel's per WDOG_INTERVAL_NS and grows with a
 * longer span, so the rate a counter may be off stays the kernel's.
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

/* One readout: the counter and the watchdog at the middle of the window. */
struct point {
	uint64_t cs, wd;
	uint64_t half_ns; /* half the window, rounded up */
	uint64_t window_ns;
};

unsigned int wdog_attempts(const struct wdog *w)
{
	return w->max_retries + 1 > WDOG_ATTEMPTS ? w->max_retries + 1 : WDOG_ATTEMPTS;
}

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
	w->retry_ns = conf ? conf->retry_ns : 0;
	w->backoff_ns = conf && conf->backoff_ns ? conf->backoff_ns : WDOG_SKIP_BACKOFF_NS;
	if (!ncpus) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		ncpus = n > 0 ? (unsigned int)n : 1;
	}
	w->max_retries = wdog_max_retries(ncpus);
	w->next_due = w->grid_due = now_ns + w->interval_ns;
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

static uint64_t abs_diff(int64_t a)
{
	return a < 0 ? (uint64_t)0 - (uint64_t)a : (uint64_t)a;
}

/* The typical window: follows a narrower one at once, a wider one slowly,
 * so that the retries' occasional wide windows do not raise it. */
static void learn_window(struct cs_wd_stats *s, uint64_t window_ns)
{
	if (!s->have_window || window_ns < s->typ_window_ns)
		s->typ_window_ns = window_ns;
	else
		s->typ_window_ns += (window_ns - s->typ_window_ns) / 8;
}

/*
 * cs_watchdog_read() with the v6.12 limits, keeping the narrowest window.
 * A window over the counter's typical one (twice, plus the slack) is
 * retried, as is one over the kernel's limit, for at least WDOG_ATTEMPTS
 * attempts (the kernel's count where it is more). When none got under the
 * limit, the last attempt decides: back-to-back watchdog reads slow too are
 * a disturbed system (SKIP), fast ones the kernel's "excessive read-back
 * delay" (UNSTABLE, see slow_reads()). The kernel gives up at the first
 * disturbed attempt; a retry often gets through.
 */
static enum readout readout(struct wdog *w, struct cs_entry *wd, struct cs_entry *e,
			    struct point *pt, uint64_t *delay, uint64_t *seq)
{
	uint64_t limit1 = 2 * wd->ar.uncertainty_ns + e->ar.uncertainty_ns;
	uint64_t limit2 = 2 * wd->ar.uncertainty_ns;
	uint64_t tight = limit1;
	unsigned int attempts = wdog_attempts(w);
	bool have = false;

	if (e->wd.have_window && 2 * e->wd.typ_window_ns + WDOG_WINDOW_SLACK_NS < tight)
		tight = 2 * e->wd.typ_window_ns + WDOG_WINDOW_SLACK_NS;
	for (unsigned int attempt = 0; attempt < attempts; attempt++) {
		uint64_t w0, c, w1, w2, dw;

		if (attempt)
			e->wd.retries++;
		w0 = cs_read(wd->cs);
		c = cs_read(e->cs);
		w1 = cs_read(wd->cs);
		w2 = cs_read(wd->cs);

		dw = cs_delta(wd, w1, w0);
		*delay = cs_cyc2ns(wd, dw);
		*seq = wd_ns(wd, w2, w1);
		if (*delay <= limit1 && (!have || *delay < pt->window_ns)) {
			have = true;
			pt->cs = c;
			pt->wd = (w0 + dw / 2) & wd->cs->mask;
			pt->window_ns = *delay;
			pt->half_ns = (*delay + 1) / 2;
		}
		if (*delay <= tight)
			break;
	}
	if (!have)
		/* Back-to-back watchdog reads slow too: the whole system is
		 * disturbed (SMIs, a noisy neighbour); conclude nothing. */
		return *seq > limit2 ? READ_SKIP : READ_UNSTABLE;
	learn_window(&e->wd, pt->window_ns);
	e->wd.have_window = true;
	return READ_OK;
}

/* A fresh anchor, nothing pending: the next span starts here. */
static void anchor_at(struct cs_wd_stats *s, const struct point *pt, uint64_t now_ns)
{
	s->have_base = true;
	s->cs_last = pt->cs;
	s->wd_last = pt->wd;
	s->half_last_ns = pt->half_ns;
	s->last_now_ns = now_ns;
	s->anchor_half_ns = pt->half_ns;
	s->suspect = false;
	s->span_cs_ns = 0;
	s->span_wd_ns = 0;
	s->span_checks = 0;
	s->back_cycles = 0;
}

static bool demote(struct wdog *w, struct cs_entry *e, uint64_t now_ns)
{
	e->wd.failures++;
	e->wd.demoted_ns = now_ns;
	cs_mark_unstable(w->r, e, "watchdog: %s", e->wd.last_reason);
	return true;
}

/* Every window over the kernel's limit while the watchdog's own reads were
 * fast: the kernel demotes at once ("excessive read-back delay"), which is
 * how a busy host loses its TSC. A slow read says nothing of the counter's
 * rate: skipped with the baseline kept, demoted only when no readout got
 * through for WDOG_SLOW_MAX checks in a row (a counter that cannot be
 * verified). */
static bool slow_reads(struct wdog *w, struct cs_entry *wd, struct cs_entry *e, uint64_t delay,
		       uint64_t seq, uint64_t now_ns)
{
	uint64_t limit1 = 2 * wd->ar.uncertainty_ns + e->ar.uncertainty_ns;

	if (++e->wd.slow_run < WDOG_SLOW_MAX) {
		e->wd.skips++;
		verdict(e, CS_VERDICT_SKIP,
			"wd-%s-wd excessive read-back delay of %" PRIu64 " ns vs. limit of %" PRIu64
			" ns in %u attempts (%u checks in a row), wd-wd read-back delay %" PRIu64
			" ns; baseline kept",
			e->cs->name, delay, limit1, wdog_attempts(w), e->wd.slow_run, seq);
		return false;
	}
	verdict(e, CS_VERDICT_UNSTABLE,
		"wd-%s-wd excessive read-back delay of %" PRIu64 " ns vs. limit of %" PRIu64
		" ns in %u attempts at %u checks in a row, wd-wd read-back delay %" PRIu64 " ns",
		e->cs->name, delay, limit1, wdog_attempts(w), e->wd.slow_run, seq);
	return demote(w, e, now_ns);
}

/* The verdict on a span beyond the margin that the second readout
 * confirmed; e->wd holds the span and the suspect interval. */
static void confirmed(struct cs_entry *e, const char *wdname, uint64_t dev, uint64_t md,
		      uint64_t allow, bool cur)
{
	const struct cs_wd_stats *s = &e->wd;
	const char *name = e->cs->name, *tail = cur ? " (current source)" : "";

	if (s->back_cycles)
		verdict(e, CS_VERDICT_UNSTABLE,
			"ran backwards: %s read %#" PRIx64 " after %#" PRIx64 " (%" PRIu64
			" cycles back); %" PRIu64 " ns off %s over %u checks, margin %" PRIu64
			" ns + bracket %" PRIu64 " ns%s",
			name, s->back_to, s->back_from, s->back_cycles, dev, wdname, s->span_checks,
			md, allow, tail);
	else if (s->span_cs_ns == 0)
		verdict(e, CS_VERDICT_UNSTABLE,
			"stuck: %s did not move while %s advanced %" PRIu64
			" ns over %u checks (margin %" PRIu64 " ns + bracket %" PRIu64 " ns)%s",
			name, wdname, s->span_wd_ns, s->span_checks, md, allow, tail);
	else
		verdict(e, CS_VERDICT_UNSTABLE,
			"skew: %s interval %" PRId64 " ns, %s interval %" PRIu64
			" ns over %u checks, |diff| %" PRIu64 " ns > margin %" PRIu64
			" ns + bracket %" PRIu64 " ns (first %+" PRId64 " ns)%s",
			name, s->span_cs_ns, wdname, s->span_wd_ns, s->span_checks, dev, md, allow,
			s->suspect_skew_ns, tail);
}

/* Returns true when e was demoted. */
static bool check_one(struct wdog *w, struct cs_entry *wd, struct cs_entry *e, uint64_t now_ns,
		      bool *stop)
{
	struct cs_registry *r = w->r;
	struct cs_wd_stats *s = &e->wd;
	const char *name = e->cs->name, *wdname = wd->cs->name;
	struct point pt = { 0 };
	uint64_t delay = 0, seq = 0;
	uint64_t raw, wd_nsec, back = 0, md, allow, dev, prev_cs = s->cs_last;
	int64_t cs_nsec, skew;
	bool cur = r->current == e;

	s->checks++;
	switch (readout(w, wd, e, &pt, &delay, &seq)) {
	case READ_OK:
		w->disturbed = 0;
		s->slow_run = 0;
		break;
	case READ_SKIP:
		s->skips++;
		*stop = true;
		if (++w->disturbed < WDOG_DISTURBED_MAX) {
			verdict(e, CS_VERDICT_SKIP,
				"wd-wd read-back delay %" PRIu64 " ns > limit %" PRIu64
				" ns: system disturbed (%u in a row); baseline kept",
				seq, 2 * wd->ar.uncertainty_ns, w->disturbed);
			return false;
		}
		verdict(e, CS_VERDICT_SKIP,
			"wd-wd read-back delay %" PRIu64 " ns > limit %" PRIu64
			" ns: system disturbed %u times in a row; baselines reset, watchdog "
			"paused %" PRIu64 " s",
			seq, 2 * wd->ar.uncertainty_ns, w->disturbed,
			w->backoff_ns / NSEC_PER_SEC_U);
		cs_reset_baselines(r);
		w->backoff_until = now_ns + w->backoff_ns;
		w->backoffs++;
		w->disturbed = 0;
		return false;
	case READ_UNSTABLE:
		w->disturbed = 0;
		return slow_reads(w, wd, e, delay, seq, now_ns);
	}

	if (!s->have_base) {
		anchor_at(s, &pt, now_ns);
		verdict(e, CS_VERDICT_BASELINE, "baseline against %s", wdname);
		return false;
	}

	/* The interval since the last readout. */
	raw = (pt.cs - s->cs_last) & e->cs->mask;
	wd_nsec = wd_ns(wd, pt.wd, s->wd_last);
	if (raw > e->ar.max_raw_delta) {
		back = (s->cs_last - pt.cs) & e->cs->mask;
		cs_nsec = -(int64_t)cs_cyc2ns(e, back);
	} else {
		cs_nsec = (int64_t)cs_cyc2ns(e, raw);
	}
	if (wd_nsec > WDOG_GAP_MAX_NS || now_ns - s->last_now_ns > WDOG_GAP_MAX_NS) {
		/* A late check: a wrapped watchdog would compare nonsense. The
		 * caller's clock and the watchdog decide, not the counter (one
		 * that jumped ahead is a fault to see, not a gap). */
		s->skips++;
		verdict(e, CS_VERDICT_SKIP,
			"long readout interval: %s %" PRId64 " ns, %s %" PRIu64 " ns, %" PRIu64
			" ns since the last readout, limit %" PRIu64 " ns; baseline renewed%s",
			name, cs_nsec, wdname, wd_nsec, now_ns - s->last_now_ns, WDOG_GAP_MAX_NS,
			s->suspect ? ", suspect dropped" : "");
		anchor_at(s, &pt, now_ns);
		return false;
	}

	skew = cs_nsec - (int64_t)wd_nsec;
	if (abs_diff(skew) > s->max_skew_ns)
		s->max_skew_ns = abs_diff(skew);
	s->cs_last = pt.cs;
	s->wd_last = pt.wd;
	s->half_last_ns = pt.half_ns;
	s->last_now_ns = now_ns;
	s->span_cs_ns += cs_nsec;
	s->span_wd_ns += wd_nsec;
	s->span_checks++;

	/* Across the span since the anchor the readouts in between cancel:
	 * only the windows at its two ends count. */
	md = e->ar.uncertainty_ns + wd->ar.uncertainty_ns;
	if (s->span_wd_ns > WDOG_INTERVAL_NS)
		md = (uint64_t)((unsigned __int128)md * s->span_wd_ns / WDOG_INTERVAL_NS);
	allow = s->anchor_half_ns + pt.half_ns;
	dev = abs_diff(s->span_cs_ns - (int64_t)s->span_wd_ns);
	/* A suspect is cleared only by a readout that shows the span within
	 * the margin whatever its window hid; a wide one leaves it pending. */
	if (s->suspect && dev <= md + allow && dev + allow > md &&
	    s->span_checks < WDOG_SUSPECT_CHECKS) {
		verdict(e, CS_VERDICT_SUSPECT,
			"still suspect: over %u checks %s %" PRId64 " ns, %s %" PRIu64
			" ns, |diff| %" PRIu64 " ns, margin %" PRIu64 " ns, bracket %" PRIu64
			" ns too wide to tell; the next check confirms",
			s->span_checks, name, s->span_cs_ns, wdname, s->span_wd_ns, dev, md, allow);
		return false;
	}
	if (dev <= md + allow) {
		if (s->suspect) {
			s->cleared++;
			verdict(e, CS_VERDICT_OK,
				"suspect cleared: over %u checks %s %" PRId64 " ns, %s %" PRIu64
				" ns, |diff| %" PRIu64 " ns within %" PRIu64 " + bracket %" PRIu64
				" ns (the last interval alone %+" PRId64 " ns)",
				s->span_checks, name, s->span_cs_ns, wdname, s->span_wd_ns, dev, md,
				allow, skew);
		} else {
			verdict(e, CS_VERDICT_OK,
				"%s interval %" PRId64 " ns, %s interval %" PRIu64
				" ns, skew %" PRIu64 " ns; over %u checks |diff| %" PRIu64
				" ns within %" PRIu64 " + bracket %" PRIu64 " ns",
				name, cs_nsec, wdname, wd_nsec, abs_diff(skew), s->span_checks, dev,
				md, allow);
		}
		/* Within the margin, but past half of it: with retries, look
		 * again soon, so a drift that began inside this interval is
		 * judged over the next half second, not over a whole fresh
		 * interval; a span shorter than that (whose margin is not
		 * scaled down) goes on from the same anchor until it is not. */
		if (w->retry_ns && 2 * dev > md + allow) {
			w->recheck = true;
			if (s->span_wd_ns < WDOG_INTERVAL_NS &&
			    s->span_checks < WDOG_SUSPECT_CHECKS) {
				s->suspect = false;
				return false;
			}
		}
		/* A window much wider than the anchor's (by more than the
		 * slack) does not replace it while the span is short: the next
		 * comparison stays as sharp. */
		if (pt.half_ns <= s->anchor_half_ns + WDOG_WINDOW_SLACK_NS ||
		    s->span_wd_ns >= WDOG_ANCHOR_SPAN_NS) {
			anchor_at(s, &pt, now_ns);
		} else {
			s->suspect = false;
			s->back_cycles = 0;
		}
		return false;
	}
	if (!s->suspect) {
		s->suspect = true;
		s->suspects++;
		s->suspect_skew_ns = skew;
		if (back) {
			s->back_cycles = back;
			s->back_from = prev_cs;
			s->back_to = pt.cs;
		}
		if (back)
			verdict(e, CS_VERDICT_SUSPECT,
				"ran backwards: %s read %#" PRIx64 " (%" PRIu64
				" cycles back) while %s advanced %" PRIu64
				" ns; the next check confirms",
				name, pt.cs, back, wdname, wd_nsec);
		else
			verdict(e, CS_VERDICT_SUSPECT,
				"%s interval %" PRId64 " ns, %s interval %" PRIu64
				" ns over %u checks, |diff| %" PRIu64 " ns > margin %" PRIu64
				" ns + bracket %" PRIu64 " ns; the next check confirms",
				name, s->span_cs_ns, wdname, s->span_wd_ns, s->span_checks, dev, md,
				allow);
		return false;
	}
	confirmed(e, wdname, dev, md, allow, cur);
	return demote(w, e, now_ns);
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
	/* Fixed cadence: missed ticks are dropped, the phase is kept (a retry
	 * in between does not move it). */
	while (w->grid_due <= now_ns)
		w->grid_due += w->interval_ns;
	w->next_due = w->grid_due;

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
	w->recheck = false;

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
	/* A suspect is confirmed or cleared by the next check: soon, as the
	 * kernel retries a suspicious readout, rather than a whole interval
	 * later (a fault is then demoted within 2 s at a 1 s cadence). */
	for (unsigned int i = 0; i < n && w->retry_ns; i++)
		if (todo[i]->wd.suspect && !todo[i]->unstable)
			w->recheck = true;
	if (w->recheck && now_ns + w->retry_ns < w->next_due) {
		w->next_due = now_ns + w->retry_ns;
		w->retries++;
	}
	w->recheck = false;
	return demoted;
}
