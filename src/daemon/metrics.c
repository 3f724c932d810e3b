// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Prometheus page ([metrics] listen, off by default): core/prom.c's
 * server on the daemon's loop, and the page it serves. The page is made,
 * per scrape, from the very answers the control socket gives `timectl
 * status`, `timectl sources` and `timectl ntp` (daemon_ctl_status(),
 * daemon_ctl_sources(), ref_fill_ntp()), plus the clock's count of page
 * updates (clock_report()): there is no second way of reading the daemon's
 * state, and the numbers are timectl's. Names are in the timekeeper_
 * namespace, units in the names (seconds, ratio, hertz), mirroring
 * node_exporter's timex collector and chrony_exporter where they mean the
 * same (timekeeperd(8), METRICS, lists them all).
 *
 * A listen address that cannot be bound is one error line and the daemon
 * runs without metrics: timekeeping matters more than its monitoring. A
 * malformed one never gets here: it is a configuration error (core/conf.c).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "core/prom.h"
#include "daemon/clock.h"
#include "daemon/internal.h"
#include "proto/ctlwire.h"
#include "daemon/ref.h"
#include "timekeeper/control.h"
#include "timekeeper/page.h"

struct daemon_metrics {
	struct daemon *d;
	struct prom_server *srv;
};

#define NS_S(x) ((double)(x) / 1e9)

static void gauge(struct prom_buf *b, const char *name, const char *help, double v)
{
	prom_family(b, name, "gauge", help);
	prom_sample(b, name, NULL, 0, v);
}

static void counter(struct prom_buf *b, const char *name, const char *help, uint64_t v)
{
	prom_family(b, name, "counter", help);
	prom_sample_u64(b, name, NULL, 0, v);
}

static void render_status(struct prom_buf *b, const struct tk_ctl_status *st,
			  const struct clock_report *cr)
{
	static const char *const bs[] = { "unknown", "synchronized", "free_running", "disrupted" };
	int64_t age = (int64_t)(evl_now() - (int64_t)st->page_last_update_ns);

	prom_family(b, "timekeeper_build_info", "info", "The daemon's version.");
	prom_sample(b, "timekeeper_build_info",
		    (const struct prom_label[]){ { "version", PACKAGE_VERSION } }, 1, 1);
	gauge(b, "timekeeper_uptime_seconds", "Time since the daemon started.",
	      NS_S(st->uptime_ns));
	prom_family(b, "timekeeper_clocksource_info", "info",
		    "The timekeeper's current clock source and the page's clock mode.");
	prom_sample(b, "timekeeper_clocksource_info",
		    (const struct prom_label[]){ { "source", st->source[0] ? st->source : "none" },
						 { "override", st->override },
						 { "mode", ctlw_mode_name(st->clock_mode) } },
		    3, 1);
	prom_family(b, "timekeeper_reference_info", "info",
		    "What the clock is disciplined to ([discipline] reference).");
	prom_sample(b, "timekeeper_reference_info",
		    (const struct prom_label[]){ { "reference", ctlw_ref_name(st->reference) } }, 1,
		    1);
	gauge(b, "timekeeper_offset_seconds",
	      "Last measured offset to the reference (reference - ours).",
	      NS_S(st->last_offset_ns));
	gauge(b, "timekeeper_offset_window_seconds",
	      "Width of the read bracket of the last offset measurement.",
	      NS_S(st->last_window_ns));
	gauge(b, "timekeeper_frequency_adjustment_ratio",
	      "The discipline's frequency correction (adjtimex freq / 2^16 / 1e6; positive = "
	      "faster).",
	      (double)st->freq_scaled_ppm / 65536.0 / 1e6);
	gauge(b, "timekeeper_maxerror_seconds", "adjtimex maximum error.",
	      (double)st->maxerror_us / 1e6);
	gauge(b, "timekeeper_estimated_error_seconds", "adjtimex estimated error.",
	      (double)st->esterror_us / 1e6);
	gauge(b, "timekeeper_status", "adjtimex status bits (STA_*).", st->ntp_status);
	gauge(b, "timekeeper_time_state",
	      "adjtimex clock state: 0 OK, 1 insert leap, 2 delete leap, 3 leap in progress, "
	      "4 leap done, 5 error.",
	      st->time_state);
	gauge(b, "timekeeper_sync_status",
	      "1 when synchronized (no STA_UNSYNC, maxerror below 16 s, bound synchronized).",
	      st->synchronized ? 1 : 0);
	gauge(b, "timekeeper_tai_offset_seconds", "TAI - UTC.", st->tai_offset);
	gauge(b, "timekeeper_loop_time_constant", "adjtimex PLL time constant.", st->time_constant);
	gauge(b, "timekeeper_bound_seconds", "The error bound of REALTIME now (+Inf: no bound).",
	      st->bound_ns == INT64_MAX ? INFINITY : NS_S(st->bound_ns));
	gauge(b, "timekeeper_bound_drift_ratio", "Growth of the error bound (seconds per second).",
	      (double)st->bound_drift_ppb / 1e9);
	prom_family(b, "timekeeper_bound_status", "gauge",
		    "The error bound's status: 1 for the current one.");
	for (uint32_t i = 0; i < 4; i++)
		prom_sample(b, "timekeeper_bound_status",
			    (const struct prom_label[]){ { "status", bs[i] } }, 1,
			    st->bound_status == i ? 1 : 0);
	gauge(b, "timekeeper_update_interval_seconds", "How often the page is updated.",
	      NS_S(st->update_interval_ns));
	gauge(b, "timekeeper_page_age_seconds",
	      "Time since the page's last update (kernel CLOCK_MONOTONIC).",
	      st->page_last_update_ns ? NS_S(age > 0 ? age : 0) : NAN);
	counter(b, "timekeeper_page_updates_total", "Updates published in the page.",
		cr->page_updates);
	counter(b, "timekeeper_page_disruptions_total",
		"The page's disruption counter: source changes, steps and leaps.", st->disruption);
	gauge(b, "timekeeper_loop_lateness_recent_seconds",
	      "The event loop's worst timer lateness over the last minute.",
	      NS_S(st->loop_late_recent_ns));
	gauge(b, "timekeeper_loop_lateness_max_seconds",
	      "The event loop's worst timer lateness since the start.", NS_S(st->loop_late_max_ns));
	if (st->tsc_calibrated_hz) {
		gauge(b, "timekeeper_tsc_frequency_hertz", "The TSC's calibrated frequency.",
		      (double)st->tsc_calibrated_hz);
		gauge(b, "timekeeper_tsc_frequency_uncertainty_ratio",
		      "Uncertainty of the TSC's calibrated frequency.",
		      (double)st->tsc_uncertainty_ppb / 1e9);
	}
}

/* --- clock sources ------------------------------------------------------ */

enum src_field { SF_RATING, SF_HZ, SF_CHECKS, SF_SKIPS, SF_FAILURES, SF_RETRIES, SF_SKEW };

static const struct {
	const char *name, *type, *help;
	enum src_field f;
} src_families[] = {
	{ "timekeeper_source_rating", "gauge", "Effective rating (0 while unstable).", SF_RATING },
	{ "timekeeper_source_frequency_hertz", "gauge",
	  "The frequency the arithmetic uses (nominal or calibrated).", SF_HZ },
	{ "timekeeper_source_watchdog_checks_total", "counter",
	  "Watchdog checks of the source against the watchdog's reference.", SF_CHECKS },
	{ "timekeeper_source_watchdog_skips_total", "counter",
	  "Watchdog checks skipped (disturbed readouts).", SF_SKIPS },
	{ "timekeeper_source_watchdog_failures_total", "counter",
	  "Watchdog checks that found the source unstable.", SF_FAILURES },
	{ "timekeeper_source_watchdog_retries_total", "counter", "Watchdog readouts retried.",
	  SF_RETRIES },
	{ "timekeeper_source_watchdog_max_skew_seconds", "gauge",
	  "Largest skew the watchdog measured.", SF_SKEW },
};

static void render_sources(struct prom_buf *b, const struct tk_ctl_source *v, uint32_t n)
{
	static const char *const states[] = { "current", "ok", "unstable", "unbound", "unusable" };

	prom_family(b, "timekeeper_source_state", "gauge",
		    "The clock source's state: 1 for the current one.");
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t s = 0; s < 5; s++)
			prom_sample(b, "timekeeper_source_state",
				    (const struct prom_label[]){ { "source", v[i].name },
								 { "state", states[s] } },
				    2, v[i].state == s ? 1 : 0);
	for (size_t k = 0; k < sizeof(src_families) / sizeof(src_families[0]); k++) {
		prom_family(b, src_families[k].name, src_families[k].type, src_families[k].help);
		for (uint32_t i = 0; i < n; i++) {
			const struct tk_ctl_source *o = &v[i];
			const struct prom_label l[] = { { "source", o->name } };
			const char *nm = src_families[k].name;

			switch (src_families[k].f) {
			case SF_RATING:
				prom_sample(b, nm, l, 1, o->effective_rating);
				break;
			case SF_HZ:
				prom_sample(b, nm, l, 1, (double)o->hz);
				break;
			case SF_CHECKS:
				prom_sample_u64(b, nm, l, 1, o->wd_checks);
				break;
			case SF_SKIPS:
				prom_sample_u64(b, nm, l, 1, o->wd_skips);
				break;
			case SF_FAILURES:
				prom_sample_u64(b, nm, l, 1, o->wd_failures);
				break;
			case SF_RETRIES:
				prom_sample_u64(b, nm, l, 1, o->wd_retries);
				break;
			case SF_SKEW:
				prom_sample(b, nm, l, 1, NS_S(o->wd_max_skew_ns));
				break;
			}
		}
	}
}

/* --- NTP ----------------------------------------------------------------- */

enum ntp_field {
	NF_REACH,
	NF_REACH_RATIO,
	NF_OFFSET,
	NF_DELAY,
	NF_JITTER,
	NF_DISP,
	NF_STRATUM,
	NF_POLL,
	NF_RX_AGE,
	NF_TX,
	NF_RX,
	NF_REJ,
	NF_KOD
};

static const struct {
	const char *name, *type, *help;
	enum ntp_field f;
} ntp_families[] = {
	{ "timekeeper_ntp_source_reachability_register", "gauge",
	  "Reach register: the last 8 polls, 1 bits answered.", NF_REACH },
	{ "timekeeper_ntp_source_reachability_ratio", "gauge",
	  "Share of the last 8 polls that were answered.", NF_REACH_RATIO },
	{ "timekeeper_ntp_source_offset_seconds", "gauge",
	  "The clock filter's offset (server - ours).", NF_OFFSET },
	{ "timekeeper_ntp_source_delay_seconds", "gauge", "The clock filter's round-trip delay.",
	  NF_DELAY },
	{ "timekeeper_ntp_source_jitter_seconds", "gauge",
	  "RMS of the filter's offsets about the chosen one.", NF_JITTER },
	{ "timekeeper_ntp_source_dispersion_seconds", "gauge", "The clock filter's dispersion.",
	  NF_DISP },
	{ "timekeeper_ntp_source_stratum", "gauge", "The server's stratum (0: unknown).",
	  NF_STRATUM },
	{ "timekeeper_ntp_source_polling_interval_seconds", "gauge", "The current poll interval.",
	  NF_POLL },
	{ "timekeeper_ntp_source_last_reply_age_seconds", "gauge",
	  "Time since the last valid reply (absent: never).", NF_RX_AGE },
	{ "timekeeper_ntp_source_requests_sent_total", "counter", "Requests sent.", NF_TX },
	{ "timekeeper_ntp_source_replies_received_total", "counter", "Valid replies received.",
	  NF_RX },
	{ "timekeeper_ntp_source_replies_rejected_total", "counter", "Replies refused.", NF_REJ },
	{ "timekeeper_ntp_source_kiss_codes_total", "counter", "Kiss-o'-death packets received.",
	  NF_KOD },
};

static const char *ntp_state_name(uint32_t s)
{
	static const char *const names[] = { "selected",    "candidate", "outlier", "falseticker",
					     "unreachable", "unusable",	 "init" };

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

/* A server configured twice (same host and port) is shown once: Prometheus
 * refuses a page with the same series twice. */
static bool ntp_duplicate(const struct tk_ctl_ntp_server *v, uint32_t i)
{
	for (uint32_t k = 0; k < i; k++)
		if (v[k].port == v[i].port && !strcmp(v[k].host, v[i].host))
			return true;
	return false;
}

static void ntp_sample(struct prom_buf *b, size_t k, const struct tk_ctl_ntp_server *s,
		       const struct prom_label *l)
{
	const char *nm = ntp_families[k].name;

	switch (ntp_families[k].f) {
	case NF_REACH:
		prom_sample(b, nm, l, 2, s->reach & 0xff);
		break;
	case NF_REACH_RATIO:
		prom_sample(b, nm, l, 2, __builtin_popcount(s->reach & 0xff) / 8.0);
		break;
	case NF_OFFSET:
		prom_sample(b, nm, l, 2, NS_S(s->offset_ns));
		break;
	case NF_DELAY:
		prom_sample(b, nm, l, 2, NS_S(s->delay_ns));
		break;
	case NF_JITTER:
		prom_sample(b, nm, l, 2, NS_S(s->jitter_ns));
		break;
	case NF_DISP:
		prom_sample(b, nm, l, 2, NS_S(s->dispersion_ns));
		break;
	case NF_STRATUM:
		prom_sample(b, nm, l, 2, s->stratum);
		break;
	case NF_POLL:
		prom_sample(b, nm, l, 2, ldexp(1.0, s->poll));
		break;
	case NF_RX_AGE:
		if (s->last_rx_ago_ns != UINT64_MAX)
			prom_sample(b, nm, l, 2, NS_S(s->last_rx_ago_ns));
		break;
	case NF_TX:
		prom_sample_u64(b, nm, l, 2, s->tx);
		break;
	case NF_RX:
		prom_sample_u64(b, nm, l, 2, s->rx);
		break;
	case NF_REJ:
		prom_sample_u64(b, nm, l, 2, s->rejected);
		break;
	case NF_KOD:
		prom_sample_u64(b, nm, l, 2, s->kod);
		break;
	}
}

static void render_ntp(struct prom_buf *b, struct daemon *d)
{
	size_t cap = sizeof(struct tk_ctl_ntp) +
		     TK_CTL_NTP_MAX_SERVERS * sizeof(struct tk_ctl_ntp_server);
	char msg[TK_CTL_MESSAGE_LEN];
	struct tk_ctl_ntp h;
	struct tk_ctl_ntp_server *v;
	unsigned char *raw = malloc(cap);
	size_t len = 0;
	char port[TK_CTL_NTP_MAX_SERVERS][8];

	if (!raw)
		return;
	if (ref_fill_ntp(d, raw, cap, &len, msg) < 0 || len < sizeof(h)) {
		free(raw);
		return; /* the reference is not ntp */
	}
	memcpy(&h, raw, sizeof(h));
	if (h.count > (len - sizeof(h)) / sizeof(*v))
		h.count = (uint32_t)((len - sizeof(h)) / sizeof(*v));
	v = calloc(h.count ? h.count : 1, sizeof(*v));
	if (!v) {
		free(raw);
		return;
	}
	memcpy(v, raw + sizeof(h), h.count * sizeof(*v));
	free(raw);

	gauge(b, "timekeeper_ntp_offset_seconds",
	      "Combined offset of the surviving servers at the last update (server - ours).",
	      NS_S(h.offset_ns));
	gauge(b, "timekeeper_ntp_root_delay_seconds", "Our root delay.", NS_S(h.root_delay_ns));
	gauge(b, "timekeeper_ntp_root_dispersion_seconds", "Our root dispersion.",
	      NS_S(h.root_dispersion_ns));
	gauge(b, "timekeeper_ntp_stratum", "Our stratum (16: unsynchronized).", h.stratum);
	gauge(b, "timekeeper_ntp_leap_status",
	      "Leap indicator voted by the survivors: 0 none, 1 insert, 2 delete, 3 alarm.",
	      h.leap);
	gauge(b, "timekeeper_ntp_polling_interval_seconds", "The system poll interval.",
	      ldexp(1.0, h.poll));
	counter(b, "timekeeper_ntp_updates_total", "Clock updates made from NTP.", h.updates);
	counter(b, "timekeeper_ntp_steps_total", "Steps made from NTP.", h.steps);
	if (h.last_update_ago_ns != UINT64_MAX)
		gauge(b, "timekeeper_ntp_last_update_age_seconds", "Time since the last update.",
		      NS_S(h.last_update_ago_ns));

	for (uint32_t i = 0; i < h.count; i++) {
		v[i].host[sizeof(v[i].host) - 1] = '\0';
		v[i].address[sizeof(v[i].address) - 1] = '\0';
		snprintf(port[i], sizeof(port[i]), "%u", v[i].port);
	}
	prom_family(b, "timekeeper_ntp_source_state_info", "info",
		    "An NTP server's state (selected, candidate, outlier, falseticker, "
		    "unreachable, unusable, init) and resolved address.");
	for (uint32_t i = 0; i < h.count; i++)
		if (!ntp_duplicate(v, i))
			prom_sample(b, "timekeeper_ntp_source_state_info",
				    (const struct prom_label[]){
					    { "server", v[i].host },
					    { "port", port[i] },
					    { "address", v[i].address },
					    { "state", ntp_state_name(v[i].state) } },
				    4, 1);
	for (size_t k = 0; k < sizeof(ntp_families) / sizeof(ntp_families[0]); k++) {
		prom_family(b, ntp_families[k].name, ntp_families[k].type, ntp_families[k].help);
		for (uint32_t i = 0; i < h.count; i++) {
			const struct prom_label l[] = { { "server", v[i].host },
							{ "port", port[i] } };

			if (!ntp_duplicate(v, i))
				ntp_sample(b, k, &v[i], l);
		}
	}
	free(v);
}

/* --- the NTP server ------------------------------------------------------------ */

static void render_ntp_server(struct prom_buf *b, const struct daemon *d)
{
	static const char drop_help[] =
		"NTP requests dropped: by the rate limit (rate), allow/deny (acl), "
		"malformed (bad), not a client request (mode).";
	struct daemon_ntps_report r;

	if (!daemon_ntps_report(d, &r))
		return;
	counter(b, "timekeeper_ntp_server_received_total", "Datagrams the NTP server read.",
		r.n.received);
	counter(b, "timekeeper_ntp_server_requests_total", "Client requests allowed by allow/deny.",
		r.n.requests);
	counter(b, "timekeeper_ntp_server_replies_total",
		"Replies, basic and interleaved (KoD not included).", r.n.replies);
	counter(b, "timekeeper_ntp_server_interleaved_replies_total",
		"Replies in interleaved mode.", r.n.interleaved);
	counter(b, "timekeeper_ntp_server_kod_total", "Kiss-o'-death RATE replies.", r.n.kod);
	prom_family(b, "timekeeper_ntp_server_dropped_total", "counter", drop_help);
	prom_sample_u64(b, "timekeeper_ntp_server_dropped_total",
			(const struct prom_label[]){ { "reason", "rate" } }, 1, r.n.drop_rate);
	prom_sample_u64(b, "timekeeper_ntp_server_dropped_total",
			(const struct prom_label[]){ { "reason", "acl" } }, 1, r.n.drop_acl);
	prom_sample_u64(b, "timekeeper_ntp_server_dropped_total",
			(const struct prom_label[]){ { "reason", "bad" } }, 1, r.n.drop_bad);
	prom_sample_u64(b, "timekeeper_ntp_server_dropped_total",
			(const struct prom_label[]){ { "reason", "mode" } }, 1, r.n.drop_mode);
	counter(b, "timekeeper_ntp_server_tx_timestamps_total",
		"Kernel transmit timestamps kept for interleaved mode.", r.n.tx_stamps);
	counter(b, "timekeeper_ntp_server_send_errors_total", "Replies the kernel refused.",
		r.send_errors);
	gauge(b, "timekeeper_ntp_server_clients", "Clients in the client log.", r.clients);
}

/* --- the page -------------------------------------------------------------- */

static void render(void *ctx, struct prom_buf *b)
{
	struct daemon_metrics *m = ctx;
	struct daemon *d = m->d;
	struct tk_ctl_status st;
	struct clock_report cr;
	struct tk_ctl_source *src = calloc(HW_MAX_SOURCES, sizeof(*src));
	struct prom_stats ps;
	uint32_t n;

	daemon_ctl_status(d, &st);
	clock_report(d, &cr);
	st.source[sizeof(st.source) - 1] = '\0';
	st.override[sizeof(st.override) - 1] = '\0';
	render_status(b, &st, &cr);
	if (src) {
		n = daemon_ctl_sources(d, src, HW_MAX_SOURCES);
		for (uint32_t i = 0; i < n; i++)
			src[i].name[sizeof(src[i].name) - 1] = '\0';
		render_sources(b, src, n);
		free(src);
	}
	render_ntp(b, d);
	render_ntp_server(b, d);
	prom_get_stats(m->srv, &ps);
	counter(b, "timekeeper_metrics_scrapes_total", "Pages served (this one included).",
		ps.scrapes + 1);
	counter(b, "timekeeper_metrics_connections_dropped_total",
		"Metrics connections closed unanswered: no slot, evicted while idle, or past "
		"the deadline.",
		ps.refused + ps.evicted + ps.timed_out);
}

int daemon_metrics_open(struct daemon *d)
{
	const char *text = d->conf.metrics_listen;
	struct sockaddr_storage ss;
	unsigned int len = 0;
	struct daemon_metrics *m;
	char err[300];
	int r;

	if (!text[0])
		return 0;
	if (conf_parse_listen(text, &ss, &len, err, sizeof(err)) < 0) {
		/* conf.c refused it already; a struct filled otherwise */
		log_err("metrics: listen = %s: %s; running without metrics", text, err);
		return 0;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		log_err("metrics: out of memory");
		return -ENOMEM;
	}
	m->d = d;
	r = prom_listen(&m->srv, (const struct sockaddr *)&ss, (socklen_t)len, render, m);
	if (r < 0) {
		log_err("metrics: listen = %s: cannot bind: %s; expected a local address and a "
			"free port (below 1024 needs CAP_NET_BIND_SERVICE); running without "
			"metrics",
			text, strerror(-r));
		free(m);
		return r == -ENOMEM ? r : 0;
	}
	d->metrics = m;
	log_info("metrics: listening on %s", text);
	return 0;
}

int daemon_metrics_attach(struct daemon *d)
{
	int r;

	if (!d->metrics)
		return 0;
	r = prom_attach(d->metrics->srv, d->loop);
	if (r < 0)
		log_err("metrics: cannot watch %s: %s", d->conf.metrics_listen, strerror(-r));
	else
		log_notice("metrics: serving http://%s/metrics", d->conf.metrics_listen);
	return r;
}

void daemon_metrics_close(struct daemon *d)
{
	if (!d->metrics)
		return;
	prom_free(d->metrics->srv);
	free(d->metrics);
	d->metrics = NULL;
}
