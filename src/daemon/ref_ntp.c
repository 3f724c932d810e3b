// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * reference = ntp: the daemon's NTP client. Per configured server: an
 * address (resolved off the loop at start and on SIGHUP, core/rsv.c: a
 * lookup that does not end within RESOLVE_TIMEOUT_NS, or fails, is flagged
 * and retried after a back-off that doubles from 1 s to 10 min; never
 * fatal, never blocking the loop or the other servers), a poll timer on the loop's queue and
 * a new connected UDP socket for each request, on a new ephemeral port;
 * and the discipline that feeds the timekeeper from the selected servers
 * (core/ntpclient.c does the RFC 5905 work, interleaved mode included). T1 is
 * the kernel's software transmit timestamp (SO_TIMESTAMPING, read from the
 * socket's error queue; our REALTIME just before send() when there is
 * none), T4 its receive timestamp (SO_TIMESTAMPNS); both are
 * carried over to our REALTIME. Reading T1 in user space would make it
 * early by the cost of send(), a bias of half that in every offset.
 *
 * The discipline: the combined offset of each new sample goes into a line
 * fit (ntpc_disc). Once it holds enough samples, the slope corrects the
 * frequency (ADJ_FREQUENCY) and the phase is slewed out by an extra
 * frequency for a time shorter than the next poll (a timer takes it off
 * again), so a server that stops answering leaves the clock on its
 * frequency estimate. Every stored sample is moved into the corrected
 * clock's frame, so the fit keeps all its history: a least-squares
 * estimator that is well damped by construction. A large offset is stepped
 * per step_threshold_ms and step_limit; one beyond panic_threshold is not
 * applied at all unless allow_panic_step = yes and the servers agree
 * (ntpc_panic_check()).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/ntpclient.h"
#include "core/rsv.h"
#include "daemon/clock.h"
#include "daemon/ref.h"
#include "timekeeper/control.h"

/* The core's states and flags go out as the protocol's values, unchanged. */
_Static_assert(NTPC_SELECTED == TK_CTL_NTP_SELECTED && NTPC_INIT == TK_CTL_NTP_INIT &&
		       NTPC_UNUSABLE == TK_CTL_NTP_UNUSABLE,
	       "ntpc states are the TK_CTL_NTP_* values");
_Static_assert(NTPC_F_IBURST == TK_CTL_NTPF_IBURST && NTPC_F_KOD_RATE == TK_CTL_NTPF_KOD_RATE &&
		       NTPC_F_KOD_DENY == TK_CTL_NTPF_KOD_DENY &&
		       NTPC_F_RESOLVE_FAILED == TK_CTL_NTPF_RESOLVE_FAILED &&
		       NTPC_F_XLEAVE == TK_CTL_NTPF_XLEAVE &&
		       NTPC_F_INTERLEAVED == TK_CTL_NTPF_INTERLEAVED &&
		       NTPC_F_RESOLVING == TK_CTL_NTPF_RESOLVING &&
		       NTPC_F_PANIC == TK_CTL_NTPF_PANIC,
	       "ntpc flags are the TK_CTL_NTPF_* values");

#define SLEW_MAX_PPB 400000.0 /* phase slews at most this fast */
#define SLEW_MIN_NS (NSEC_PER_SEC / 4)
#define SLEW_MAX_NS (16 * NSEC_PER_SEC)
/* A name lookup: how long it may take, and the back-off after a failure
 * (1 s, doubling per consecutive failure, at most 10 min). */
#define RESOLVE_TIMEOUT_NS (10 * NSEC_PER_SEC)
#define RESOLVE_BACKOFF_MIN_NS NSEC_PER_SEC
#define RESOLVE_BACKOFF_MAX_NS (600 * NSEC_PER_SEC)
#define FREQ_LIMIT_PPB 500000.0
/* The first update waits at most this long for a majority of the servers
 * (first_quorum()): an initial burst's length, NTPC_BURST requests 2 s
 * apart. */
#define QUORUM_WAIT_NS (NTPC_BURST * NTPC_BURST_NS)

struct ntp_srv {
	struct daemon *d;
	unsigned int idx;
	int fd;		  /* the socket of the last request, -1 none */
	int64_t t1_width; /* the bracket T1 was converted in, ns (0: read before send) */
	struct sockaddr_storage addr; /* the server's, addrlen 0 until resolved */
	socklen_t addrlen;
	char address[TK_CTL_ADDR_LEN];
	struct hrt_timer t_poll; /* polls; while unresolved: lookup timeout and back-off */
	/* The name lookup in flight, NULL none. late: it outlived
	 * RESOLVE_TIMEOUT_NS and still runs in glibc; its result will be
	 * dropped and no other lookup starts for this server until it ends. */
	struct rsv_lookup *lookup;
	bool late;
	unsigned int resolve_fails; /* consecutive failed lookups */
};

struct daemon_ntp {
	unsigned int n;
	struct conf_ntp_server conf[CONF_NTP_MAX_SERVERS];
	struct ntpc_peer peer[CONF_NTP_MAX_SERVERS];
	struct ntp_srv srv[CONF_NTP_MAX_SERVERS];
	struct ntpc_system sys;
	struct ntpc_disc disc;
	struct hrt_timer t_slew;
	double base_ppb;     /* the frequency estimate, without the phase slew */
	double slew_ppb;     /* the phase slew's extra frequency while t_slew runs */
	int64_t last_t;	     /* sample time of the last update */
	int64_t last_update; /* MONOTONIC of the last clock update, INT64_MIN never */
	uint64_t updates, steps;
	/* Before the first update: until then a majority of the servers
	 * that can answer must agree (first_quorum()). */
	int64_t quorum_until;
	bool quorum_said; /* the wait was logged */
	bool synced;
	bool watch_rsv;	       /* rsv_fd() is on the loop */
	enum ntpc_panic panic; /* the last update's refusal, NTPC_PANIC_NONE none */
};

static int64_t our_real(struct daemon *d)
{
	struct timespec ts;

	tkc_get(&d->tk, CLOCK_REALTIME, &ts);
	return ts_to_ns(&ts);
}

static int64_t kernel_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts_to_ns(&ts);
}

/* --- the clock ------------------------------------------------------------ */

static void set_freq(struct daemon *d, double ppb, uint32_t more, struct ntp_timex *extra)
{
	struct ntp_timex tx = { 0 };

	if (extra)
		tx = *extra;
	if (ppb > FREQ_LIMIT_PPB)
		ppb = FREQ_LIMIT_PPB;
	if (ppb < -FREQ_LIMIT_PPB)
		ppb = -FREQ_LIMIT_PPB;
	tx.modes = NTP_ADJ_FREQUENCY | more;
	tx.freq = (int64_t)llround(ppb * 65.536);
	if (tkc_adjtimex(&d->tk, &tx) < 0)
		log_warn("ntp: frequency %.3f ppm refused by the timekeeper", ppb / 1000);
}

/* The frequency estimate, kept SLEW_MAX_PPB / 4 inside the timekeeper's
 * limit so that a phase slew on top of it is never cut. */
static void set_base(struct daemon_ntp *n, double ppb)
{
	double lim = FREQ_LIMIT_PPB - SLEW_MAX_PPB / 4;

	n->base_ppb = ppb > lim ? lim : ppb < -lim ? -lim : ppb;
}

static enum hrt_restart on_slew_end(struct hrt_timer *t, int64_t now)
{
	struct daemon *d = t->data;
	struct daemon_ntp *n = d->ntp;

	/* A late end let the slew move the clock past the correction: the
	 * bound widens by that much, and the samples move with the clock. */
	if (now > t->expires) {
		double over = n->slew_ppb * (double)(now - t->expires) / 1e9;

		bound_moved(&d->bound, (int64_t)ceil((double)d->bound_slew_ppb *
						     (double)(now - t->expires) / 1e9));
		ntpc_correct(n->peer, n->n, now, 0, llround(over));
		ntpc_disc_correct(&n->disc, now, 0, llround(over));
	}
	d->bound_slew_ppb = 0;
	n->slew_ppb = 0;
	set_freq(d, d->ntp->base_ppb, 0, NULL);
	clock_republish(d); /* mult changed: not at the next update, up to 1 s away */
	return HRT_NORESTART;
}

static void set_unsync(struct daemon *d)
{
	struct ntp_timex tx = { .modes = NTP_ADJ_STATUS, .status = NTP_STA_UNSYNC };

	if (tkc_adjtimex(&d->tk, &tx) < 0)
		log_warn("ntp: status refused by the timekeeper");
}

static int64_t shortest_poll(const struct daemon_ntp *n)
{
	int64_t best = INT64_MAX;

	for (unsigned int i = 0; i < n->n; i++) {
		int64_t iv = ntpc_poll_interval(&n->peer[i]);

		if (iv > 0 && iv < best && n->peer[i].state <= NTPC_OUTLIER)
			best = iv;
	}
	return best == INT64_MAX ? SLEW_MAX_NS : best;
}

/* daemon_adjtimex() moves the samples with the step (ntp_on_clock());
 * after a step of our own the line fit starts again. */
static int step_clock(struct daemon *d, int64_t offset)
{
	struct daemon_ntp *n = d->ntp;

	if (daemon_step(d, offset) < 0) {
		log_warn("ntp: step of %+.6f s refused by the timekeeper", (double)offset / 1e9);
		daemon_bound_disrupted(d, "a step was refused");
		return -1;
	}
	n->steps++;
	ntpc_disc_reset(&n->disc);
	log_notice("ntp: stepped REALTIME by %+.6f s (step %" PRIu64 ")", (double)offset / 1e9,
		   n->steps);
	return 0;
}

/* The error bound after a clock update on the system peer's newest sample
 * (core/bound.h): its server's root distance, the sample's uncertainty,
 * the offset not yet corrected (the sample's own, or what is left once the
 * correction `applied` is slewed out, whichever is larger), anchored at the
 * sample's time and growing at max_drift_ppb plus the 99.9 % confidence
 * half-width of the frequency estimate (500 ppm until there is one). FREE_RUNNING after
 * NTPC_UNREACH_POLLS polls without a new sample. */
static void ntp_bound(struct daemon *d, int64_t applied, bool fit_reset)
{
	struct daemon_ntp *n = d->ntp;
	const struct ntpc_peer *p = &n->peer[n->sys.selected];
	int64_t off = p->recent.offset, left = off - applied;
	int64_t poll = ntpc_poll_interval(p), dmin = p->recent.delay;

	/* The asymmetry correction moved the sample by asymmetry x (delay -
	 * the lowest recent delay): that much more it may be off. */
	for (unsigned int i = 0; i < p->nhist; i++)
		if (p->hist[i].delay < dmin)
			dmin = p->hist[i].delay;
	struct bound_ntp_sample s = {
		.root_delay_ns = p->root_delay,
		.root_disp_ns = p->root_disp,
		.delay_ns = p->recent.delay,
		.disp_ns = p->recent.disp,
		.asymmetry = p->asymmetry,
		.asym_delay_ns = p->recent.delay - dmin,
		.jitter_ns = p->jitter,
		.residual_ns = llabs(left) > llabs(off) ? left : off,
	};
	double ci = fit_reset ? -1 : ntpc_disc_slope_ci(&n->disc);

	if (poll <= 0 || poll > INT64_MAX / NTPC_UNREACH_POLLS)
		poll = SLEW_MAX_NS;
	bound_sync(&d->bound, p->recent.t, bound_ntp(&s),
		   bound_drift(d->conf.max_drift_ppb, ci, 1.0), NTPC_UNREACH_POLLS * poll);
}

/* The panic threshold (ntpc_panic_check): true when the combined offset
 * is beyond it and may not be applied. Then nothing of the update is used
 * (no step, no slew, no frequency), the clock is marked unsynchronized, the
 * servers beyond it are flagged NTPC_F_PANIC with the reason, and one line
 * is logged when the refusal starts or its reason changes. */
static bool panic_refused(struct daemon *d, int64_t now)
{
	struct daemon_ntp *n = d->ntp;
	const struct ntpc_system *sys = &n->sys;
	int64_t limit = (int64_t)d->conf.panic_threshold * NSEC_PER_SEC;
	unsigned int agree, voters;
	enum ntpc_panic v = ntpc_panic_check(n->peer, n->n, sys, limit, d->conf.allow_panic_step,
					     &agree, &voters);
	char why[160];

	for (unsigned int i = 0; i < n->n; i++)
		n->peer[i].flags &= ~NTPC_F_PANIC;
	if (v == NTPC_PANIC_NONE || v == NTPC_PANIC_ALLOWED) {
		if (v == NTPC_PANIC_ALLOWED && n->panic != v)
			log_warn("ntp: offset %+.3f s beyond panic_threshold %" PRIu64
				 " s applied: allow_panic_step = yes and %u of %u servers agree",
				 (double)sys->offset / 1e9, d->conf.panic_threshold, agree, voters);
		n->panic = v;
		return false;
	}
	if (v == NTPC_PANIC_NOT_ALLOWED)
		snprintf(why, sizeof(why), "allow_panic_step = no");
	else
		snprintf(why, sizeof(why),
			 "%u of %u servers agree, at least %u and a majority needed", agree, voters,
			 NTPC_PANIC_MIN_AGREE);
	for (unsigned int i = 0; i < n->n; i++) {
		struct ntpc_peer *p = &n->peer[i];

		if (p->nfilt && llabs(p->chosen.offset) > limit) {
			p->flags |= NTPC_F_PANIC;
			snprintf(p->message, sizeof(p->message),
				 "offset %+.3f s beyond panic_threshold %" PRIu64
				 " s: not applied (%s)",
				 (double)p->chosen.offset / 1e9, d->conf.panic_threshold, why);
		}
	}
	if (n->panic != v)
		log_err("ntp: offset %+.3f s from %s (%s) beyond panic_threshold %" PRIu64
			" s: not applied (%s); the clock is marked unsynchronized",
			(double)sys->offset / 1e9, n->conf[sys->selected].host,
			n->srv[sys->selected].address, d->conf.panic_threshold, why);
	/* The servers contradict our bound by more than the threshold. */
	if (n->panic != v)
		daemon_bound_disrupted(d, "an offset beyond panic_threshold was refused");
	n->panic = v;
	n->synced = false;
	set_unsync(d);
	return true;
}

/* The first update, which may step the clock by any amount and anchors
 * the first bound, waits until the servers that agree with the system peer
 * (selection's truechimers) are a majority of those that may still answer,
 * not only of those that have: one server that happens to answer first
 * would otherwise set the clock alone, a falseticker among three as well,
 * and the step limit would leave its error to a slew of hours. A server
 * that cannot answer (its name did not resolve, unreachable, unusable, a
 * KoD DENY) does not count, and the wait ends when an initial burst would
 * have (QUORUM_WAIT_NS after the start): after that whoever answers is
 * used. */
static bool first_quorum(struct daemon *d, int64_t now)
{
	struct daemon_ntp *n = d->ntp;
	unsigned int able = 0, agree = 0;

	if (n->updates > 0 || now >= n->quorum_until)
		return true;
	for (unsigned int i = 0; i < n->n; i++) {
		const struct ntpc_peer *p = &n->peer[i];

		if (p->state == NTPC_UNREACHABLE || p->state == NTPC_UNUSABLE ||
		    (p->flags & (NTPC_F_RESOLVE_FAILED | NTPC_F_KOD_DENY)))
			continue;
		able++;
		if (p->state <= NTPC_OUTLIER)
			agree++;
	}
	if (2 * agree > able)
		return true;
	if (!n->quorum_said)
		log_notice("ntp: %u of %u servers agree so far: the first update waits up to "
			   "%.1f s for a majority",
			   agree, able, (double)(n->quorum_until - now) / 1e9);
	n->quorum_said = true;
	return false;
}

/* No server selectable. Unreachable servers leave the last bound to grow
 * (FREE_RUNNING); servers that answer but disagree, with no majority,
 * contradict it: the bound anchored on one of them may be the wrong one's,
 * so none is claimed (DISRUPTED) until selection finds a majority again. */
static void none_selectable(struct daemon *d)
{
	struct daemon_ntp *n = d->ntp;
	bool disagree = false;

	for (unsigned int i = 0; i < n->n; i++)
		disagree = disagree || n->peer[i].state == NTPC_FALSETICKER;
	/* Holdover, as the kernel and ntpd do it: the status stays
	 * synchronized while maxerror grows by 500 us each second
	 * (second_overflow), which sets STA_UNSYNC past 16 s. */
	if (n->synced) {
		if (disagree)
			log_warn("ntp: no server selectable: the servers disagree and no majority "
				 "agrees on the time; holdover on the frequency estimate");
		else
			log_warn("ntp: no server selectable: holdover on the frequency estimate, "
				 "maxerror growing");
		n->synced = false;
	}
	if (!disagree) {
		bound_lost(&d->bound);
		return;
	}
	if (d->bound.have) {
		daemon_bound_disrupted(d,
				       "the servers disagree and no majority agrees on the time");
		clock_republish(d);
	}
}

/* A new sample from some server: select, and update the clock when the
 * system peer has something new. */
static void clock_update(struct daemon *d, int64_t now)
{
	struct daemon_ntp *n = d->ntp;
	struct ntpc_system *sys = &n->sys;
	int prev = sys->selected;
	double phase, slope, applied, slew_ppb = 0;
	int64_t span, threshold = (int64_t)d->conf.step_threshold_ms * NSEC_PER_MSEC, slew_ns;
	struct ntp_timex tx = { 0 };

	ntpc_select(n->peer, n->n, prev, now, sys);
	if (sys->selected < 0) {
		none_selectable(d);
		return;
	}
	if (!first_quorum(d, now))
		return;
	if (sys->selected != prev)
		log_notice("ntp: system peer %s (%s), stratum %u", n->conf[sys->selected].host,
			   n->srv[sys->selected].address, n->peer[sys->selected].stratum);
	if (panic_refused(d, now))
		return;
	if (sys->t <= n->last_t)
		return; /* nothing new from the system peer */
	n->last_t = sys->t;
	clock_note_offset(d, sys->offset, n->peer[sys->selected].chosen.delay);
	if (threshold > 0 && llabs(sys->offset) > threshold &&
	    (d->conf.step_limit < 0 || n->updates < (uint64_t)d->conf.step_limit)) {
		n->updates++;
		n->last_update = now;
		if (step_clock(d, sys->offset) == 0)
			ntp_bound(d, 0, true); /* the samples moved with the step */
		return;
	}
	n->updates++;
	n->last_update = now;
	ntpc_disc_add(&n->disc, sys->t, sys->offset);
	ntpc_disc_fit(&n->disc, now, &phase, &slope, &span);
	slew_ns = shortest_poll(n) / 2;
	if (slew_ns < SLEW_MIN_NS)
		slew_ns = SLEW_MIN_NS;
	if (slew_ns > SLEW_MAX_NS)
		slew_ns = SLEW_MAX_NS;
	applied = phase;
	if (fabs(applied) > SLEW_MAX_PPB * (double)slew_ns / 1e9)
		applied = copysign(SLEW_MAX_PPB * (double)slew_ns / 1e9, applied);
	set_base(n, n->base_ppb + slope);
	if (applied != 0)
		slew_ppb = applied * 1e9 / (double)slew_ns;
	/* Error bounds (us): maxerror is the model's bound at now. */
	ntp_bound(d, (int64_t)llround(applied), false);
	{
		int64_t b = bound_at(&d->bound, now);

		tx.maxerror = b >= NTP_PHASE_LIMIT * 1000 ? NTP_PHASE_LIMIT : (b + 999) / 1000;
	}
	tx.esterror = sys->jitter / 1000 + 1;
	tx.status = sys->leap == 1 ? NTP_STA_INS : sys->leap == 2 ? NTP_STA_DEL : 0;
	set_freq(d, n->base_ppb + slew_ppb, NTP_ADJ_STATUS | NTP_ADJ_MAXERROR | NTP_ADJ_ESTERROR,
		 &tx);
	hrt_cancel(&n->t_slew);
	d->bound_slew_ppb = 0;
	n->slew_ppb = slew_ppb;
	if (slew_ppb != 0) {
		hrt_start(d->q, &n->t_slew, now + slew_ns, 0, HRT_MODE_ABS);
		d->bound_slew_ppb = (uint32_t)ceil(fabs(slew_ppb));
	}
	clock_republish(d); /* the new rate with the slew's growth in the bound */
	ntpc_correct(n->peer, n->n, now, slope, (int64_t)llround(applied));
	ntpc_disc_correct(&n->disc, now, slope, (int64_t)llround(applied));
	if (!n->synced)
		log_notice("ntp: synchronized to %s, offset %+.6f s, frequency %+.3f ppm",
			   n->conf[sys->selected].host, (double)sys->offset / 1e9,
			   n->base_ppb / 1000);
	n->synced = true;
	for (unsigned int i = 0; i < n->n; i++)
		if (n->peer[i].state <= NTPC_CANDIDATE)
			ntpc_adapt_poll(&n->peer[i], sys->offset, sys->jitter);
}

/* --- sockets -------------------------------------------------------------- */

static void close_srv(struct daemon *d, struct ntp_srv *s)
{
	if (s->fd >= 0) {
		if (d->loop)
			evl_del_fd(d->loop, s->fd);
		close(s->fd);
	}
	s->fd = -1;
}

/* A kernel REALTIME timestamp, carried over to our REALTIME through our
 * clock read between two readings of the kernel's (their midpoint: ~50 ns
 * nearer than one reading before ours). -1 when it is not a recent past. */
/* The narrowest of a few brackets (kernel, ours, kernel): one this thread
 * was preempted in would carry the preemption into T1 or T4, and from there
 * into the offset, beyond what the delay bounds. */
#define TS_BRACKETS 3
static int64_t kernel_ts_to_ours(struct daemon *d, const struct timespec *kts, int64_t *width)
{
	int64_t best = INT64_MAX, age = -1, ours = 0;

	for (int i = 0; i < TS_BRACKETS; i++) {
		int64_t k1 = kernel_real(), o = our_real(d), k2 = kernel_real();

		if (k2 >= k1 && k2 - k1 < best) {
			best = k2 - k1;
			ours = o;
			age = k1 + (k2 - k1) / 2 - ts_to_ns(kts);
		}
	}
	*width = best;
	return age >= 0 && age < NSEC_PER_SEC ? ours - age : -1;
}

/* The transmit timestamps waiting on the socket's error queue: the last one
 * is the request just sent (one request is outstanding at a time). */
static void read_tx_timestamps(struct ntp_srv *s)
{
	struct daemon *d = s->d;

	for (int k = 0; k < 8; k++) {
		char cbuf[512];
		struct msghdr mh = { .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c;
		struct scm_timestamping tss;
		bool have = false;
		int64_t t1, w;

		if (recvmsg(s->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING) {
				memcpy(&tss, CMSG_DATA(c), sizeof(tss));
				have = tss.ts[0].tv_sec || tss.ts[0].tv_nsec;
			}
		if (have && (t1 = kernel_ts_to_ours(d, &tss.ts[0], &w)) >= 0) {
			ntpc_transmitted(&d->ntp->peer[s->idx], t1);
			s->t1_width = w;
		}
	}
}

static void on_readable(struct evl *l, int fd, uint32_t revents, void *ctx)
{
	struct ntp_srv *s = ctx;
	struct daemon *d = s->d;
	struct ntpc_peer *p = &d->ntp->peer[s->idx];

	/* First: EPOLLERR stays up while the error queue holds timestamps. */
	read_tx_timestamps(s);
	for (int k = 0; k < 16; k++) {
		uint8_t buf[1024];
		char cbuf[CMSG_SPACE(sizeof(struct timespec))];
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c;
		int64_t t4 = -1, now, w4 = 0;
		ssize_t len = recvmsg(fd, &mh, MSG_DONTWAIT);

		if (len < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				snprintf(p->message, sizeof(p->message), "receive: %s",
					 strerror(errno));
			return;
		}
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec kts;

				memcpy(&kts, CMSG_DATA(c), sizeof(kts));
				t4 = kernel_ts_to_ours(d, &kts, &w4);
			}
		if (t4 < 0)
			t4 = our_real(d);
		now = daemon_now(d);
		/* Where in their brackets T1 and T4 were carried over to our
		 * clock: the sample's dispersion takes it (the error bound). */
		p->ts_unc_ns = (s->t1_width + w4) / 2 + 1;
		switch (ntpc_receive(p, buf, (size_t)len, t4, now)) {
		case NTPC_RX_SAMPLE:
			clock_update(d, now);
			break;
		case NTPC_RX_KOD:
			log_warn("ntp: %s: %s", d->ntp->conf[s->idx].host, p->message);
			if (p->flags & NTPC_F_KOD_DENY)
				hrt_cancel(&s->t_poll);
			clock_update(d, now);
			break;
		case NTPC_RX_UNUSABLE:
			clock_update(d, now);
			break;
		case NTPC_RX_BOGUS:
		case NTPC_RX_NO_SAMPLE:
			break;
		}
	}
}

/* --- names ----------------------------------------------------------------- */

/* The timer of an unresolved server: the lookup's timeout, or the next
 * lookup after a back-off. */
static void srv_schedule(struct daemon *d, struct ntp_srv *s, int64_t at)
{
	hrt_cancel(&s->t_poll);
	hrt_start(d->q, &s->t_poll, at, 0, HRT_MODE_ABS);
}

/* A lookup failed (why): flagged, one log line at the first of a run, the
 * next lookup after the back-off. Other servers go on as they were. */
static void resolve_failed(struct daemon *d, struct ntp_srv *s, int64_t now, const char *why)
{
	const struct conf_ntp_server *c = &d->ntp->conf[s->idx];
	struct ntpc_peer *p = &d->ntp->peer[s->idx];
	int64_t backoff = RESOLVE_BACKOFF_MIN_NS;
	char host[CONF_NTP_HOST_LEN], reason[96];

	if (s->resolve_fails < UINT_MAX)
		s->resolve_fails++;
	for (unsigned int k = 1; k < s->resolve_fails && backoff < RESOLVE_BACKOFF_MAX_NS; k++)
		backoff *= 2;
	if (backoff > RESOLVE_BACKOFF_MAX_NS)
		backoff = RESOLVE_BACKOFF_MAX_NS;
	p->flags |= NTPC_F_RESOLVE_FAILED;
	p->flags &= ~NTPC_F_RESOLVING;
	/* (copied: the compiler cannot tell that c->host and why are not p->message) */
	snprintf(host, sizeof(host), "%s", c->host);
	snprintf(reason, sizeof(reason), "%s", why);
	snprintf(p->message, sizeof(p->message),
		 "%s does not resolve: %s (%u in a row); next lookup in %" PRId64 " s", host,
		 reason, s->resolve_fails, backoff / NSEC_PER_SEC);
	if (s->resolve_fails == 1)
		log_warn("ntp: server %s does not resolve: %s; "
			 "retrying after 1 s, doubling to %" PRId64 " s",
			 c->host, why, RESOLVE_BACKOFF_MAX_NS / NSEC_PER_SEC);
	srv_schedule(d, s, now + backoff);
}

/* A lookup ended with rc (and res when 0): the server's address is the
 * first for which a UDP socket can be opened and connected; then it is
 * polled at once. */
static void resolve_ended(struct daemon *d, struct ntp_srv *s, int64_t now, int rc,
			  struct addrinfo *res)
{
	const struct conf_ntp_server *c = &d->ntp->conf[s->idx];
	struct ntpc_peer *p = &d->ntp->peer[s->idx];
	struct addrinfo *ai;
	char why[160];
	int err = 0;

	rsv_release(s->lookup);
	s->lookup = NULL;
	p->flags &= ~NTPC_F_RESOLVING;
	if (rc != 0) {
		resolve_failed(d, s, now, gai_strerror(rc));
		return;
	}
	s->addrlen = 0;
	for (ai = res; ai && ai->ai_addrlen <= sizeof(s->addr); ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			err = errno;
			if (fd >= 0)
				close(fd);
			continue;
		}
		close(fd);
		memcpy(&s->addr, ai->ai_addr, ai->ai_addrlen);
		s->addrlen = ai->ai_addrlen;
		if (ai->ai_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr,
				  s->address, sizeof(s->address));
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr,
				  s->address, sizeof(s->address));
		break;
	}
	freeaddrinfo(res);
	if (!s->addrlen) {
		snprintf(why, sizeof(why), "no address could be used: %s", strerror(err));
		resolve_failed(d, s, now, why);
		return;
	}
	if (p->flags & NTPC_F_RESOLVE_FAILED)
		log_notice("ntp: server %s resolved to %s after %u failed lookup%s", c->host,
			   s->address, s->resolve_fails, s->resolve_fails == 1 ? "" : "s");
	p->flags &= ~NTPC_F_RESOLVE_FAILED;
	s->resolve_fails = 0;
	p->message[0] = '\0';
	srv_schedule(d, s, now);
}

/* The server's timer while it has no address: start a lookup, or end one
 * that took too long. A lookup glibc cannot cancel (it runs) is left to
 * finish, and no other starts for this server before it has. */
static void resolve_timer(struct daemon *d, struct ntp_srv *s, int64_t now)
{
	const struct conf_ntp_server *c = &d->ntp->conf[s->idx];
	struct ntpc_peer *p = &d->ntp->peer[s->idx];
	struct addrinfo *res;
	char port[8], why[160];
	int r;

	if (s->lookup) {
		r = rsv_done(s->lookup, &res);
		if (!s->late) {
			if (r != EAI_INPROGRESS) { /* ended, its notification not seen yet */
				resolve_ended(d, s, now, r, res);
				return;
			}
			s->late = true;
			snprintf(why, sizeof(why), "no answer within %" PRId64 " s",
				 RESOLVE_TIMEOUT_NS / NSEC_PER_SEC);
			resolve_failed(d, s, now, why);
			return;
		}
		if (r == EAI_INPROGRESS) {
			resolve_failed(d, s, now, "the lookup that timed out still runs");
			return;
		}
		if (res)
			freeaddrinfo(res); /* too late: dropped */
		rsv_release(s->lookup);
		s->lookup = NULL;
		s->late = false;
	}
	snprintf(port, sizeof(port), "%u", c->port);
	r = rsv_start(c->host, port, &s->lookup);
	if (r < 0) {
		snprintf(why, sizeof(why), "cannot start a lookup: %s", strerror(-r));
		resolve_failed(d, s, now, why);
		return;
	}
	p->flags |= NTPC_F_RESOLVING;
	if (!(p->flags & NTPC_F_RESOLVE_FAILED)) {
		snprintf(why, sizeof(why), "%s", c->host);
		snprintf(p->message, sizeof(p->message), "resolving %s", why);
	}
	srv_schedule(d, s, now + RESOLVE_TIMEOUT_NS);
}

/* A lookup ended (rsv's eventfd): whichever it was. */
static void on_resolved(struct evl *l, int fd, uint32_t revents, void *ctx)
{
	struct daemon *d = ctx;
	struct daemon_ntp *n = d->ntp;
	int64_t now = daemon_now(d);

	rsv_drain();
	for (unsigned int i = 0; n && i < n->n; i++) {
		struct ntp_srv *s = &n->srv[i];
		struct addrinfo *res;
		int r;

		if (!s->lookup || (r = rsv_done(s->lookup, &res)) == EAI_INPROGRESS)
			continue;
		if (s->late) { /* its timer has already moved on: just let it go */
			if (res)
				freeaddrinfo(res);
			rsv_release(s->lookup);
			s->lookup = NULL;
			s->late = false;
			continue;
		}
		resolve_ended(d, s, now, r, res);
	}
}

/* A socket for one request (RFC 9109): connected to the server, so the
 * kernel drops datagrams from anyone else, on a new ephemeral port, as
 * chronyd does. A long-lived connected socket also costs: on loopback its
 * replies reached the kernel's receive timestamp ~6 us later than a fresh
 * socket's, a bias of 3 us in every offset (see bench/README.md). */
static int open_request_socket(struct daemon *d, struct ntp_srv *s)
{
	int one = 1, fd;
	/* Software transmit timestamps only, without the packet. */
	int tsflags = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
		      SOF_TIMESTAMPING_OPT_TSONLY;

	fd = socket(s->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&s->addr, s->addrlen) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &tsflags, sizeof(tsflags));
	s->fd = fd;
	return 0;
}

static enum hrt_restart on_poll(struct hrt_timer *t, int64_t now)
{
	struct ntp_srv *s = t->data;
	struct daemon *d = s->d;
	struct ntpc_peer *p = &d->ntp->peer[s->idx];
	uint8_t buf[NTPC_PACKET_LEN];
	uint64_t cookies[2];
	int64_t iv;
	int r;

	if (!s->addrlen) {
		resolve_timer(d, s, now);
		return HRT_NORESTART; /* it set the timer */
	}
	/* A reply to the previous request is too late now: it counts as lost. */
	close_srv(d, s);
	if (getrandom(cookies, sizeof(cookies), GRND_NONBLOCK) != sizeof(cookies)) {
		/* Never without randomness: fall back to the clock's noise. */
		cookies[0] = (uint64_t)kernel_real() * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)now;
		cookies[1] = (uint64_t)kernel_real() * UINT64_C(0xbf58476d1ce4e5b9) ^
			     ~(uint64_t)now;
	}
	s->t1_width = 0;
	ntpc_request(p, cookies[0], cookies[1], our_real(d), buf);
	if ((r = open_request_socket(d, s)) < 0)
		snprintf(p->message, sizeof(p->message), "socket for %s: %s", s->address,
			 strerror(-r));
	else if (send(s->fd, buf, sizeof(buf), 0) < 0)
		snprintf(p->message, sizeof(p->message), "send to %s: %s", s->address,
			 strerror(errno));
	else
		read_tx_timestamps(s); /* usually there already; else with EPOLLERR */
	/* Watched only now: an epoll entry on the socket would make the
	 * kernel's transmit-timestamp report, between T1 and the packet
	 * leaving, wake it. */
	if (s->fd >= 0 && evl_add_fd(d->loop, s->fd, EPOLLIN, on_readable, s) < 0) {
		snprintf(p->message, sizeof(p->message), "cannot watch the socket for %s",
			 s->address);
		close(s->fd);
		s->fd = -1;
	}
	iv = ntpc_poll_interval(p);
	if (iv <= 0)
		return HRT_NORESTART;
	if (p->state == NTPC_UNREACHABLE)
		clock_update(d, now); /* the selection drops it */
	t->softexpires = t->expires = now + iv;
	return HRT_RESTART;
}

/* --- start, stop, reload ------------------------------------------------- */

static void ntp_on_clock(void *ctx, const struct clock_event *ev);

static void ntp_stop(struct daemon *d)
{
	struct daemon_ntp *n = d->ntp;
	unsigned int left;

	if (!n)
		return;
	for (unsigned int i = 0; i < n->n; i++) {
		hrt_cancel(&n->srv[i].t_poll);
		close_srv(d, &n->srv[i]);
		rsv_release(n->srv[i].lookup); /* cancelled, or left to finish */
	}
	if (n->watch_rsv && d->loop)
		evl_del_fd(d->loop, rsv_fd());
	if ((left = rsv_reap()) > 0)
		log_info("ntp: %u name lookup%s still running in glibc, left to finish", left,
			 left == 1 ? "" : "s");
	hrt_cancel(&n->t_slew);
	d->bound_slew_ppb = 0;
	n->slew_ppb = 0;
	set_freq(d, n->base_ppb, 0, NULL);
	clock_unlisten(d, ntp_on_clock, d);
	free(n);
	d->ntp = NULL;
}

static int ntp_start(struct daemon *d)
{
	struct daemon_ntp *n;
	struct ntp_timex tx = { 0 };
	int64_t now = daemon_now(d);
	uint64_t updates = 0, steps = 0;
	int r;

	if (d->ntp) {
		updates = d->ntp->updates;
		steps = d->ntp->steps;
		ntp_stop(d);
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		log_err("ntp: out of memory");
		return -ENOMEM;
	}
	/* Its samples move with every step of the clock; its frequency
	 * follows a rebase (ntp_on_clock()). */
	if (clock_listen(d, CLOCK_EV_STEP | CLOCK_EV_SOURCE, ntp_on_clock, d) < 0) {
		free(n);
		log_err("ntp: cannot follow the clock's steps");
		return -ENOSPC;
	}
	d->ntp = n;
	n->updates = updates;
	n->steps = steps;
	n->n = d->conf.ntp_nservers;
	memcpy(n->conf, d->conf.ntp_servers, sizeof(n->conf));
	n->sys.selected = -1;
	n->last_t = INT64_MIN;
	n->last_update = INT64_MIN;
	bound_lost(&d->bound);
	tkc_adjtimex(&d->tk, &tx);
	n->base_ppb = (double)tx.freq / 65.536;
	hrt_timer_init(&n->t_slew, HRT_BASE_MONOTONIC, on_slew_end, "ntp slew");
	n->t_slew.data = d;
	set_unsync(d);
	/* Lookups end on the loop through rsv's eventfd; without it, each is
	 * still checked when its timeout comes. */
	if ((r = rsv_fd()) < 0 || (r = evl_add_fd(d->loop, r, EPOLLIN, on_resolved, d)) < 0)
		log_warn("ntp: cannot watch name lookups (%s): each is checked at its %" PRId64
			 " s timeout",
			 strerror(-r), RESOLVE_TIMEOUT_NS / NSEC_PER_SEC);
	else
		n->watch_rsv = true;
	n->quorum_until = now + QUORUM_WAIT_NS;
	for (unsigned int i = 0; i < n->n; i++) {
		struct ntp_srv *s = &n->srv[i];
		const struct conf_ntp_server *c = &n->conf[i];

		ntpc_peer_init(&n->peer[i], c->minpoll, c->maxpoll, c->iburst);
		if (c->xleave)
			n->peer[i].flags |= NTPC_F_XLEAVE;
		s->d = d;
		s->idx = i;
		s->fd = -1;
		hrt_timer_init(&s->t_poll, HRT_BASE_MONOTONIC, on_poll, "ntp poll");
		s->t_poll.data = s;
		/* Spread the first requests a little. */
		hrt_start(d->q, &s->t_poll, now + (int64_t)i * 10 * NSEC_PER_MSEC, 0, HRT_MODE_ABS);
	}
	log_notice("ntp: %u server%s, step_threshold_ms %" PRIu64 ", step_limit %" PRId64
		   ", panic_threshold %" PRIu64 " s (allow_panic_step = %s)",
		   n->n, n->n == 1 ? "" : "s", d->conf.step_threshold_ms, d->conf.step_limit,
		   d->conf.panic_threshold, d->conf.allow_panic_step ? "yes" : "no");
	return 0;
}

/*
 * A step (ADJ_SETOFFSET, applied: ev->tx): the samples move with the clock.
 *
 * A rebase. On the same counter with a new calibration (the TSC's quick
 * value refined) the clock would run ev->rate_ppb faster from now on. When
 * the line holds samples, they were taken at the old rate: the frequency
 * takes exactly that much off, so the clock keeps the rate the line is
 * measuring, and the line, its confidence interval, the bound and a
 * holdover stay true (left alone, the line would fit samples of two rates
 * and its interval would not know it). With no samples yet nothing was
 * measured at the old rate, and the frequency (a saved estimate, which
 * belongs to a refined calibration) is left to the new arithmetic. On
 * another counter the rate changes by that counter's own error, which
 * nothing has measured: the line starts again (the clock already grows its
 * bound at the unmeasured rate, daemon_follow_current()).
 */
static void ntp_on_clock(void *ctx, const struct clock_event *ev)
{
	struct daemon *d = ctx;
	const struct ntp_timex *tx = ev->tx;
	struct daemon_ntp *n = d->ntp;
	int64_t delta;

	if (!n)
		return;
	if (ev->kind == CLOCK_EV_SOURCE && ev->switched) {
		ntpc_disc_reset(&n->disc);
		return;
	}
	if (ev->kind == CLOCK_EV_SOURCE) {
		if (n->disc.n == 0 || ev->rate_ppb == 0 || !isfinite(ev->rate_ppb))
			return;
		/* The rate is (1 + frequency) times the arithmetic's. */
		set_base(n, (1e9 + n->base_ppb) / (1 + ev->rate_ppb / 1e9) - 1e9);
		set_freq(d, n->base_ppb + n->slew_ppb, 0, NULL);
		clock_republish(d);
		log_notice("ntp: the counter's new arithmetic changes the clock's rate by "
			   "%+.3f ppm: frequency %+.3f ppm keeps it",
			   ev->rate_ppb / 1000, n->base_ppb / 1000);
		return;
	}
	if (ev->kind != CLOCK_EV_STEP)
		return;
	delta = tx->time_sec * NSEC_PER_SEC +
		((tx->modes & NTP_ADJ_NANO) ? tx->time_frac : tx->time_frac * 1000);
	ntpc_correct(n->peer, n->n, daemon_now(d), 0, delta);
	ntpc_disc_correct(&n->disc, daemon_now(d), 0, delta);
}

/* The frequency estimate without the phase slew it adds for a fraction of
 * a poll (the kernel's freq leaves its phase correction out too). */
static void ntp_report(const struct daemon *d, struct ref_report *r)
{
	if (!d->ntp)
		return;
	r->have_freq = true;
	r->freq_scaled_ppm = (int64_t)llround(d->ntp->base_ppb * 65.536);
}

static int ntp_fill(struct daemon *d, void *out, size_t cap, size_t *len, char *msg)
{
	struct daemon_ntp *n = d->ntp;
	struct tk_ctl_ntp head = { 0 };
	int64_t now = daemon_now(d);
	unsigned char *o = out;

	if (!n) {
		snprintf(msg, TK_CTL_MESSAGE_LEN, "reference is not ntp: no NTP client runs");
		return -ENOENT;
	}
	head.count = n->n;
	if (sizeof(head) + head.count * sizeof(struct tk_ctl_ntp_server) > cap)
		head.count = (uint32_t)((cap - sizeof(head)) / sizeof(struct tk_ctl_ntp_server));
	head.selected = n->sys.selected;
	head.offset_ns = d->last_offset_ns;
	head.root_delay_ns = n->sys.root_delay;
	head.root_dispersion_ns = n->sys.root_disp;
	head.stratum = n->sys.selected >= 0 ? n->sys.stratum : 16;
	head.leap = n->sys.selected >= 0 ? n->sys.leap : 3;
	if (n->sys.selected >= 0) {
		struct in_addr a;

		if (inet_pton(AF_INET, n->srv[n->sys.selected].address, &a) == 1)
			head.refid = a.s_addr;
		else
			memcpy(&head.refid, "IPV6", 4);
	}
	head.poll = n->sys.selected >= 0 ? n->peer[n->sys.selected].poll : 0;
	head.updates = n->updates;
	head.steps = n->steps;
	head.last_update_ago_ns = n->last_update == INT64_MIN ? UINT64_MAX
							      : (uint64_t)(now - n->last_update);
	memcpy(o, &head, sizeof(head));
	for (uint32_t i = 0; i < head.count; i++) {
		const struct ntpc_peer *p = &n->peer[i];
		struct tk_ctl_ntp_server s = { 0 };

		snprintf(s.host, sizeof(s.host), "%s", n->conf[i].host);
		snprintf(s.address, sizeof(s.address), "%s", n->srv[i].address);
		s.port = n->conf[i].port;
		s.asymmetry_pm = (int16_t)lround(p->asymmetry * 1000);
		s.state = (uint32_t)p->state;
		s.flags = p->flags;
		s.stratum = p->stratum;
		s.poll = p->poll;
		s.minpoll = p->minpoll;
		s.maxpoll = p->maxpoll;
		s.reach = p->reach;
		s.leap = p->leap;
		s.refid = p->refid;
		if (p->nfilt) {
			s.offset_ns = p->chosen.offset;
			s.delay_ns = p->chosen.delay;
			s.jitter_ns = p->jitter;
			s.dispersion_ns = p->disp;
		}
		s.root_delay_ns = p->root_delay;
		s.root_dispersion_ns = p->root_disp;
		s.last_offset_ns = p->last_offset;
		s.last_rx_ago_ns = p->last_rx == INT64_MIN ? UINT64_MAX
							   : (uint64_t)(now - p->last_rx);
		s.tx = p->tx;
		s.rx = p->rx;
		s.rejected = p->rejected;
		s.kod = p->kod;
		snprintf(s.message, sizeof(s.message), "%s", p->message);
		memcpy(o + sizeof(head) + i * sizeof(s), &s, sizeof(s));
	}
	*len = sizeof(head) + head.count * sizeof(struct tk_ctl_ntp_server);
	snprintf(msg, TK_CTL_MESSAGE_LEN, "%u servers, system peer %s", head.count,
		 n->sys.selected >= 0 ? n->conf[n->sys.selected].host : "none");
	return 0;
}

const struct ref_ops ref_ntp_ops = {
	.name = "ntp",
	.ctl_ref = TK_CTL_REF_NTP,
	.start = ntp_start,
	.stop = ntp_stop,
	.report = ntp_report,
	.fill_ntp = ntp_fill,
};
