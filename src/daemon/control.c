// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's side of the control socket: opens the server of core/ctl.c
 * at <runtime_dir>/control and answers its requests from the clock's report
 * (daemon/clock.h), the running reference's (daemon/ref.h), the services of
 * daemon.c (struct daemon_hooks: calibration, its timers' periods,
 * recalibrate), the registry and the timer queues. The
 * server has already checked framing, sizes, NUL-terminated names and the
 * peer's right to change things; the handlers here only act, say what they
 * did in one line, and log every change with the peer's uid and pid.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ctl.h"
#include "core/log.h"
#include "core/priv.h"
#include "daemon/clock.h"
#include "daemon/internal.h"
#include "daemon/ref.h"
#include "timekeeper/control.h"
#include "timekeeper/page.h"

struct daemon_ctl {
	struct ctl_server *srv;
	char path[PATH_MAX + 16]; /* <runtime_dir>/control */
};

#define CTL_PATH_LEN (PATH_MAX + sizeof(TK_CTL_SOCKET_NAME) + 1)

static void ctl_path(const struct daemon *d, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", d->conf.runtime_dir, TK_CTL_SOCKET_NAME);
}

static void name_copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* --- queries ------------------------------------------------------------------ */

void daemon_ctl_status(struct daemon *d, struct tk_ctl_status *st)
{
	struct clock_report cr;
	struct ref_report rr;
	struct daemon_calib_report cal;

	clock_report(d, &cr);
	ref_report(d, &rr);
	d->hooks->calib_report(d, &cal);
	memset(st, 0, sizeof(*st));
	name_copy(st->source, sizeof(st->source), cr.source);
	name_copy(st->override, sizeof(st->override), d->reg.override);
	st->reference = d->ref ? d->ref->ctl_ref : TK_CTL_REF_NONE;
	st->freq_scaled_ppm = rr.have_freq ? rr.freq_scaled_ppm : cr.freq_scaled_ppm;
	st->last_offset_ns = cr.last_offset_ns;
	st->last_window_ns = cr.last_window_ns;
	st->maxerror_us = cr.maxerror_us;
	st->esterror_us = cr.esterror_us;
	st->ntp_status = cr.ntp_status;
	st->time_state = cr.time_state;
	st->tai_offset = cr.tai_offset;
	st->time_constant = cr.time_constant;
	st->update_interval_ns = (uint64_t)cr.update_interval_ns;
	if (cr.have_page) {
		st->clock_mode = cr.clock_mode;
		st->disruption = cr.disruption;
		st->page_last_update_ns = cr.page_last_update_ns;
		st->page_valid_until_ns = cr.page_valid_until_ns;
	}
	st->uptime_ns = cr.uptime_ns;
	if (cal.tsc && cal.running) {
		st->tsc_calibrated_hz = cal.hz;
		st->tsc_uncertainty_ppb = cal.uncertainty_ppb > 0 ? (uint64_t)cal.uncertainty_ppb
								  : 0;
	}
	st->bound_status = cr.bound_status;
	st->bound_drift_ppb = cr.bound_drift_ppb;
	st->bound_ns = cr.bound_ns;
	st->synchronized = cr.synchronized;
	if (d->loop)
		evl_lateness(d->loop, &st->loop_late_recent_ns, &st->loop_late_max_ns);
}

static int on_status(void *ctx, struct ctl_call *c)
{
	struct tk_ctl_status *st = c->out;

	daemon_ctl_status(ctx, st);
	c->out_len = sizeof(*st);
	snprintf(c->msg, TK_CTL_MESSAGE_LEN, "source %s", st->source[0] ? st->source : "none");
	return 0;
}

/* tk_ctl_source.verdict carries cs_verdict's values as they are. */
_Static_assert(CS_VERDICT_NONE == TK_CTL_VERDICT_NONE &&
		       CS_VERDICT_BASELINE == TK_CTL_VERDICT_BASELINE &&
		       CS_VERDICT_OK == TK_CTL_VERDICT_OK &&
		       CS_VERDICT_SKIP == TK_CTL_VERDICT_SKIP &&
		       CS_VERDICT_UNSTABLE == TK_CTL_VERDICT_UNSTABLE &&
		       CS_VERDICT_SUSPECT == TK_CTL_VERDICT_SUSPECT,
	       "cs_verdict and TK_CTL_VERDICT_* differ");

static void fill_source(const struct daemon *d, const struct daemon_calib_report *cal,
			const struct cs_entry *e, struct tk_ctl_source *o)
{
	const struct clocksource *cs = e->cs;

	memset(o, 0, sizeof(*o));
	name_copy(o->name, sizeof(o->name), cs->name);
	o->rating = cs->rating;
	o->effective_rating = e->rating;
	o->state = (uint32_t)cs_entry_state(&d->reg, e);
	if (d->reg.watchdog == e)
		o->flags |= TK_CTL_SRCF_WATCHDOG;
	if (d->reg.override[0] && !strcmp(d->reg.override, cs->name))
		o->flags |= TK_CTL_SRCF_OVERRIDE;
	if (cs->flags & CS_F_SIMULATED)
		o->flags |= TK_CTL_SRCF_SIMULATED;
	if (cs->flags & CS_F_CLIENT_READ)
		o->flags |= TK_CTL_SRCF_CLIENT_READ;
	if (cs->flags & CS_F_MUST_VERIFY)
		o->flags |= TK_CTL_SRCF_MUST_VERIFY;
	o->bits = cs->bits;
	if (e->have_arith) {
		o->mult = e->ar.mult;
		o->shift = e->ar.shift;
		o->max_idle_ns = e->ar.max_idle_ns;
	}
	o->verdict = (uint32_t)e->wd.last_verdict;
	o->nominal_hz = cs->nominal_hz;
	o->hz = e->hz;
	if (cal->tsc && cs == cal->tsc && cal->applied) {
		o->flags |= TK_CTL_SRCF_CALIBRATED;
		o->uncertainty_ppb = cal->uncertainty_ppb > 0 ? (uint64_t)cal->uncertainty_ppb : 0;
	}
	o->wd_checks = e->wd.checks;
	o->wd_skips = e->wd.skips;
	o->wd_failures = e->wd.failures;
	o->wd_retries = e->wd.retries;
	o->wd_max_skew_ns = e->wd.max_skew_ns;
	name_copy(o->reason, sizeof(o->reason),
		  e->reason[0] ? e->reason : (!cs->usable ? cs->reason : ""));
	name_copy(o->last_verdict, sizeof(o->last_verdict), e->wd.last_reason);
}

uint32_t daemon_ctl_sources(struct daemon *d, void *out, size_t room)
{
	struct daemon_calib_report cal;
	uint32_t count = 0;

	d->hooks->calib_report(d, &cal);
	for (unsigned int i = 0; i < d->reg.n && count < room; i++) {
		struct tk_ctl_source o;

		fill_source(d, &cal, d->reg.list[i], &o);
		memcpy((unsigned char *)out + count * sizeof(o), &o, sizeof(o));
		count++;
	}
	return count;
}

static int on_sources(void *ctx, struct ctl_call *c)
{
	struct daemon *d = ctx;
	struct tk_ctl_sources head = { 0 };
	unsigned char *out = c->out;
	size_t room = (c->out_cap - sizeof(head)) / sizeof(struct tk_ctl_source);

	head.count = daemon_ctl_sources(d, out + sizeof(head), room);
	memcpy(out, &head, sizeof(head));
	c->out_len = sizeof(head) + head.count * sizeof(struct tk_ctl_source);
	snprintf(c->msg, TK_CTL_MESSAGE_LEN, "%u sources, current %s", head.count,
		 d->reg.current ? d->reg.current->cs->name : "none");
	return 0;
}

static int on_timers(void *ctx, struct ctl_call *c)
{
	struct daemon *d = ctx;
	const struct tk_ctl_timers_req *rq = c->req;
	struct tk_ctl_timers head = { 0 };
	unsigned char *out = c->out;
	size_t room = (c->out_cap - sizeof(head)) / sizeof(struct tk_ctl_timer);
	const struct hrt_timer **v;
	long got, kgot, got2 = 0;
	int64_t kshift;
	size_t nk;

	if (!d->q) {
		snprintf(c->msg, TK_CTL_MESSAGE_LEN, "the timer queue is not running yet");
		return -EAGAIN;
	}
	/* The daemon's own timers run on the kernel's clock (d->kq): listed
	 * first, their expiries moved onto the daemon's MONOTONIC, which the
	 * listing speaks, by the two clocks' difference now. */
	kshift = daemon_now(d) - evl_now();
	head.now_mono_ns = (uint64_t)daemon_now(d);
	for (int b = 0; b < HRT_NR_BASES; b++)
		head.offset_ns[b] = d->q->offset[b];
	head.next_event_ns = hrt_next_hard(d->q);
	if (d->kq && hrt_next_hard(d->kq) != HRT_TIME_MAX &&
	    hrt_next_hard(d->kq) + kshift < head.next_event_ns)
		head.next_event_ns = hrt_next_hard(d->kq) + kshift;
	nk = d->kq ? hrt_count(d->kq) : 0;
	head.total = (uint32_t)(hrt_count(d->q) + nk);
	v = calloc(room ? room : 1, sizeof(*v));
	if (!v) {
		snprintf(c->msg, TK_CTL_MESSAGE_LEN, "out of memory");
		return -ENOMEM;
	}
	got = 0;
	if (rq->offset < nk)
		got = hrt_snapshot(d->kq, v, rq->offset, room);
	kgot = got;
	if (got >= 0 && (size_t)got < room)
		got2 = hrt_snapshot(d->q, v + got, rq->offset > nk ? rq->offset - nk : 0,
				    room - (size_t)got);
	if (got < 0 || got2 < 0) {
		free(v);
		snprintf(c->msg, TK_CTL_MESSAGE_LEN, "out of memory");
		return -ENOMEM;
	}
	got += got2;
	for (long i = 0; i < got; i++) {
		struct tk_ctl_timer o = { 0 };
		int64_t period;
		int32_t pid;

		name_copy(o.name, sizeof(o.name), v[i]->name ? v[i]->name : "(anonymous)");
		o.base = v[i]->base;
		o.state = v[i]->state;
		o.soft_expires_ns = v[i]->softexpires + (i < kgot ? kshift : 0);
		o.expires_ns = v[i]->expires + (i < kgot ? kshift : 0);
		o.period_ns = d->hooks->timer_period(d, v[i]);
		if (daemon_timer_info(v[i], &pid, &period)) {
			o.owner_pid = pid;
			o.period_ns = period;
		}
		memcpy(out + sizeof(head) + (size_t)i * sizeof(o), &o, sizeof(o));
	}
	free(v);
	head.count = (uint32_t)got;
	memcpy(out, &head, sizeof(head));
	c->out_len = sizeof(head) + head.count * sizeof(struct tk_ctl_timer);
	snprintf(c->msg, TK_CTL_MESSAGE_LEN, "%u of %u timers from %u", head.count, head.total,
		 rq->offset);
	return 0;
}

/* --- ntp -------------------------------------------------------------------- */

static int on_ntp(void *ctx, struct ctl_call *c)
{
	return ref_fill_ntp(ctx, c->out, c->out_cap, &c->out_len, c->msg);
}

/* --- the NTP server ------------------------------------------------------------ */

static int on_ntp_server(void *ctx, struct ctl_call *c)
{
	struct daemon_ntps_report r;
	struct tk_ctl_ntp_srv o = { 0 };

	if (c->out_cap < sizeof(o))
		return -ENOSPC;
	if (daemon_ntps_report(ctx, &r)) {
		o.enabled = 1;
		o.sockets = r.sockets;
		o.clients = r.clients;
		o.client_log_size = r.client_log_size;
		o.received = r.n.received;
		o.requests = r.n.requests;
		o.replies = r.n.replies;
		o.interleaved = r.n.interleaved;
		o.kod = r.n.kod;
		o.drop_rate = r.n.drop_rate;
		o.drop_acl = r.n.drop_acl;
		o.drop_bad = r.n.drop_bad;
		o.drop_mode = r.n.drop_mode;
		o.tx_stamps = r.n.tx_stamps;
		o.send_errors = r.send_errors;
	}
	memcpy(c->out, &o, sizeof(o));
	c->out_len = sizeof(o);
	snprintf(c->msg, TK_CTL_MESSAGE_LEN, "%s", o.enabled ? "" : "[ntp_server] is off");
	return 0;
}

/* --- adjtime ----------------------------------------------------------------- */

static void timex_from_ctl(struct ntp_timex *n, const struct tk_ctl_timex *t)
{
	memset(n, 0, sizeof(*n));
	n->modes = t->modes;
	n->status = t->status;
	n->offset = t->offset;
	n->freq = t->freq;
	n->maxerror = t->maxerror;
	n->esterror = t->esterror;
	n->constant = t->constant;
	n->precision = t->precision;
	n->tolerance = t->tolerance;
	n->time_sec = t->time_sec;
	n->time_frac = t->time_usec;
	n->tick = t->tick;
	n->tai = t->tai;
}

static void timex_to_ctl(struct tk_ctl_timex *t, const struct ntp_timex *n)
{
	memset(t, 0, sizeof(*t));
	t->modes = n->modes;
	t->status = n->status;
	t->offset = n->offset;
	t->freq = n->freq;
	t->maxerror = n->maxerror;
	t->esterror = n->esterror;
	t->constant = n->constant;
	t->precision = n->precision;
	t->tolerance = n->tolerance;
	t->time_sec = n->time_sec;
	t->time_usec = n->time_frac;
	t->tick = n->tick;
	t->tai = n->tai;
}

static int on_adjtime(void *ctx, struct ctl_call *c)
{
	struct daemon *d = ctx;
	const struct tk_ctl_timex *in = c->req;
	struct tk_ctl_adjtime *out = c->out;
	struct ntp_timex tx;
	struct clock_report rep;
	char why[200];
	bool change = in->modes != 0 && in->modes != NTP_ADJ_OFFSET_SS_READ;
	int r;

	timex_from_ctl(&tx, in);
	if (ntp_validate_timex(&tx) < 0) {
		snprintf(c->msg, TK_CTL_MESSAGE_LEN,
			 "adjtime: invalid request (modes 0x%04x, tick %lld, freq %lld): out of "
			 "the kernel's ranges",
			 in->modes, (long long)in->tick, (long long)in->freq);
		return -EINVAL;
	}
	clock_report(d, &rep);
	if (ntp_check_range(&tx, rep.ntp_status, why, sizeof(why)) < 0) {
		snprintf(c->msg, TK_CTL_MESSAGE_LEN, "adjtime: %s", why);
		if (change)
			log_notice("control: uid %u pid %d: %s", c->peer->uid, c->peer->pid,
				   c->msg);
		return -ERANGE;
	}
	r = daemon_adjtimex(d, &tx);
	if (r == -EINVAL && (in->modes & NTP_ADJ_SETOFFSET) && !(in->modes & NTP_ADJ_ADJTIME)) {
		snprintf(c->msg, TK_CTL_MESSAGE_LEN,
			 "adjtime: a step of %lld s refused: REALTIME would leave the settable "
			 "range (from 1970 to about 2232, MONOTONIC not below 0)",
			 (long long)in->time_sec);
		log_notice("control: uid %u pid %d: %s", c->peer->uid, c->peer->pid, c->msg);
		return r;
	}
	if (r < 0) {
		snprintf(c->msg, TK_CTL_MESSAGE_LEN, "adjtime: modes 0x%04x refused: %s", in->modes,
			 strerror(-r));
		if (change)
			log_notice("control: uid %u pid %d: adjtime modes 0x%04x refused: %s",
				   c->peer->uid, c->peer->pid, in->modes, strerror(-r));
		return r;
	}
	memset(out, 0, sizeof(*out));
	out->state = r;
	timex_to_ctl(&out->tx, &tx);
	c->out_len = sizeof(*out);
	if (change) {
		snprintf(c->msg, TK_CTL_MESSAGE_LEN, "adjtime: modes 0x%04x applied, state %d",
			 in->modes, r);
		log_notice("control: uid %u pid %d: %s", c->peer->uid, c->peer->pid, c->msg);
	} else {
		snprintf(c->msg, TK_CTL_MESSAGE_LEN, "adjtime: read, state %d", r);
	}
	return 0;
}

/* --- changes to the registry ------------------------------------------------- */

static void log_change(const struct ctl_call *c, const char *what, const char *name, int r)
{
	log_notice("control: uid %u pid %d: %s %s%s%s: %s", c->peer->uid, c->peer->pid, what,
		   name[0] ? name : "(auto)", r ? " refused, " : "", r ? strerror(-r) : "", c->msg);
}

/* switch, unbind and readmit: one registry call by name, then the
 * timekeeper follows whatever the registry now selects (a refused switch
 * clears the override, so it may have moved too) and the page shows it. */
static int change_source(struct daemon *d, struct ctl_call *c, const char *what,
			 int (*fn)(struct cs_registry *, const char *, char *, size_t))
{
	const struct tk_ctl_name *n = c->req;
	int r = fn(&d->reg, n->name, c->msg, TK_CTL_MESSAGE_LEN);

	clock_follow_registry(d); /* the timekeeper follows, the page shows it */
	log_change(c, what, n->name, r);
	return r;
}

static int on_switch(void *ctx, struct ctl_call *c)
{
	return change_source(ctx, c, "switch", cs_override);
}

static int on_unbind(void *ctx, struct ctl_call *c)
{
	return change_source(ctx, c, "unbind", cs_unbind);
}

static int on_readmit(void *ctx, struct ctl_call *c)
{
	return change_source(ctx, c, "readmit", cs_readmit);
}

static int on_recalibrate(void *ctx, struct ctl_call *c)
{
	struct daemon *d = ctx;
	int r = d->hooks->recalibrate(d, c->msg, TK_CTL_MESSAGE_LEN);

	log_change(c, "recalibrate", "tsc", r);
	return r;
}

/* The page's sealed memfd for libtimekeeper (tk_open()): a client that
 * maps it cannot be faulted by a truncated page file. */
static int on_page_fd(void *ctx, struct ctl_call *c)
{
	struct daemon *d = ctx;
	int fd = clock_page_fd(d);

	if (fd < 0) {
		snprintf(c->msg, TK_CTL_MESSAGE_LEN,
			 "the page is not shared: no read-only descriptor sealed against writes");
		return -EOPNOTSUPP;
	}
	c->out_fd = fd;
	snprintf(c->msg, TK_CTL_MESSAGE_LEN, "the page's memfd");
	return 0;
}

static const struct ctl_ops daemon_ops = {
	.status = on_status,
	.sources = on_sources,
	.timers = on_timers,
	.adjtime = on_adjtime,
	.switch_source = on_switch,
	.unbind = on_unbind,
	.readmit = on_readmit,
	.recalibrate = on_recalibrate,
	.ntp = on_ntp,
	.ntp_server = on_ntp_server,
	.page_fd = on_page_fd,
	.timer_create = daemon_timer_create,
	.timer_arm = daemon_timer_arm,
	.timer_disarm = daemon_timer_disarm,
	.timer_delete = daemon_timer_delete,
	.writable = daemon_timers_writable,
	.gone = daemon_timers_gone,
};

/* --- the hooks of daemon.c ---------------------------------------------------- */

int daemon_ctl_precheck(struct daemon *d)
{
	char path[CTL_PATH_LEN];
	pid_t other;
	int r;

	ctl_path(d, path, sizeof(path));
	r = ctl_precheck(path, &other);
	if (r == -EADDRINUSE)
		log_err("another timekeeperd (pid %d) answers on %s: not starting", (int)other,
			path);
	else if (r < 0)
		log_err("%s: cannot check for another daemon: %s", path, strerror(-r));
	return r;
}

int daemon_ctl_open(struct daemon *d)
{
	struct ctl_conf cc = { 0 };
	struct daemon_ctl *dc = calloc(1, sizeof(*dc));
	int r;

	if (!dc) {
		log_err("control: out of memory");
		return -ENOMEM;
	}
	ctl_path(d, dc->path, sizeof(dc->path));
	cc.path = dc->path;
	cc.group = d->conf.control_group;
	cc.max_clients = (unsigned int)d->conf.max_clients;
	cc.max_clients_per_uid = (unsigned int)d->conf.max_clients_per_uid;
	cc.rate_limit = d->conf.rate_limit;
	cc.rate_burst = d->conf.rate_burst;
	cc.version = PACKAGE_VERSION;
	r = ctl_new(&dc->srv, &cc, &daemon_ops, d);
	if (r < 0) {
		log_err("control: %s: cannot set up the server: %s", dc->path, strerror(-r));
		free(dc);
		return r;
	}
	r = ctl_open(dc->srv);
	if (r < 0) {
		if (r == -EADDRINUSE)
			log_err("control: %s: another daemon answers there", dc->path);
		else if (r == -EEXIST)
			log_err("control: %s exists and is not a socket", dc->path);
		else
			log_err("control: %s: cannot listen: %s", dc->path, strerror(-r));
		ctl_free(dc->srv);
		free(dc);
		return r;
	}
	if (d->conf.control_group[0] && !ctl_group_found(dc->srv)) {
		/* The daemon's own uid is the one it will have after the drop. */
		uid_t own = geteuid();
		gid_t g;

		if (own == 0 && d->conf.user[0] && priv_lookup(d->conf.user, &own, &g) < 0)
			own = 0;
		log_warn("control: group %s does not exist: only root and uid %u may change things",
			 d->conf.control_group, (unsigned int)own);
	}
	d->ctl = dc;
	log_info("control: listening on %s", dc->path);
	return 0;
}

int daemon_ctl_attach(struct daemon *d)
{
	int r;

	if (!d->ctl)
		return 0;
	r = ctl_attach(d->ctl->srv, d->loop);
	if (r < 0)
		log_err("control: cannot watch %s: %s", d->ctl->path, strerror(-r));
	return r;
}

void daemon_ctl_close(struct daemon *d)
{
	if (!d->ctl)
		return;
	ctl_free(d->ctl->srv);
	free(d->ctl);
	d->ctl = NULL;
}
