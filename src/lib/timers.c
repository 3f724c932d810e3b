// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libtimekeeper: client timers (timekeeper.h, libtimekeeper(3) TIMERS) over
 * timekeeperd's control socket (timekeeper/control.h, "Timers").
 *
 * One SOCK_SEQPACKET connection per handle. A call sends one request with a
 * fresh seq and waits, up to a deadline, for the reply with that seq;
 * TK_CTL_EV_TIMER events that arrive meanwhile are converted and kept in a
 * FIFO inside the handle, which tk_timers_read() drains before it reads the
 * socket without blocking. Every packet is checked, with the framing shared
 * with the server and timectl (proto/ctlwire.h), before anything of it is
 * used: the whole packet arrived, its length field matches, magic, version,
 * reply/event flag, echoed type and seq, result status, exact payload size,
 * and for events the count against the length and each record's kind and
 * id. A packet of another protocol version is -EPROTONOSUPPORT (what the
 * daemon answers a request of another version), any other that fails is
 * -EPROTO, and none of it is kept. A reply that
 * comes after its call gave up (-ETIMEDOUT) is recognised by its older seq
 * and dropped. Library-style: 0 or -errno, nothing printed.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/tunit.h"
#include "proto/ctlwire.h"
#include "timekeeper.h"
#include "timekeeper/control.h"
#include "lib/tktimers.h"

#define TK_EXPORT __attribute__((visibility("default")))
#define DEFAULT_CONTROL "/run/timekeeper/control"
#define EVQ_MAX (1u << 22) /* events kept in the handle before the calls give -ENOBUFS */

struct tk_timers {
	int fd;
	int timeout_ms;
	uint32_t seq;		    /* of the last request sent */
	uint32_t abandoned;	    /* requests given up on (their replies may still come) */
	int dead;		    /* 0, or -ECONNRESET once the daemon closed */
	struct tk_timer_event *evq; /* FIFO: evq[head .. head + n) */
	size_t head, n, cap;
	uint8_t buf[CTLW_RX_LEN];
};

int tkt_clock_to_ctl(clockid_t clock)
{
	switch (clock) {
	case CLOCK_MONOTONIC:
		return TK_CTL_CLOCK_MONOTONIC;
	case CLOCK_REALTIME:
		return TK_CTL_CLOCK_REALTIME;
	case CLOCK_BOOTTIME:
		return TK_CTL_CLOCK_BOOTTIME;
	case CLOCK_TAI:
		return TK_CTL_CLOCK_TAI;
	default:
		return -EINVAL;
	}
}

int tkt_ts_to_ns(const struct timespec *ts, int64_t *ns)
{
	return ts_to_ns_checked(ts, ns);
}

void tkt_ns_to_ts(int64_t ns, struct timespec *ts)
{
	ns_to_ts(ns, ts);
}

int tkt_from_fd(int fd, struct tk_timers **out)
{
	struct tk_timers *tt = calloc(1, sizeof(*tt));

	if (!tt)
		return -ENOMEM;
	tt->fd = fd;
	tt->timeout_ms = TKT_TIMEOUT_MS;
	tt->seq = (uint32_t)getpid() << 12;
	*out = tt;
	return 0;
}

void tkt_set_timeout(struct tk_timers *tt, int ms)
{
	tt->timeout_ms = ms;
}

TK_EXPORT int tk_timers_open(const char *path, struct tk_timers **out)
{
	char def[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd, r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!path) {
		/* secure_getenv, like tk_open(): a setuid program must not be
		 * pointed at a daemon of its caller's choosing. */
		const char *dir = secure_getenv("TIMEKEEPER_RUNTIME_DIR");
		size_t n = dir ? strlen(dir) : 0;

		if (n + sizeof("/" TK_CTL_SOCKET_NAME) > sizeof(def))
			return -ENAMETOOLONG;
		if (n) {
			memcpy(def, dir, n);
			memcpy(def + n, "/" TK_CTL_SOCKET_NAME, sizeof("/" TK_CTL_SOCKET_NAME));
		} else {
			memcpy(def, DEFAULT_CONTROL, sizeof(DEFAULT_CONTROL));
		}
		path = def;
	}
	/* -ENAMETOOLONG for a path that does not fit a socket address. */
	fd = ctlw_connect(path, 0);
	if (fd < 0)
		return fd;
	r = tkt_from_fd(fd, out);
	if (r < 0)
		close(fd);
	return r;
}

TK_EXPORT void tk_timers_close(struct tk_timers *tt)
{
	if (!tt)
		return;
	if (tt->fd >= 0)
		close(tt->fd);
	free(tt->evq);
	free(tt);
}

TK_EXPORT int tk_timers_fd(const struct tk_timers *tt)
{
	return tt ? tt->fd : -EINVAL;
}

TK_EXPORT size_t tk_timers_pending(const struct tk_timers *tt)
{
	return tt ? tt->n : 0;
}

/* Room for add more events at the FIFO's tail. */
static int evq_reserve(struct tk_timers *tt, size_t add)
{
	size_t ncap;
	struct tk_timer_event *q;

	if (tt->head && tt->head + tt->n + add > tt->cap) {
		memmove(tt->evq, tt->evq + tt->head, tt->n * sizeof(*tt->evq));
		tt->head = 0;
	}
	if (tt->n + add <= tt->cap)
		return 0;
	if (tt->n + add > EVQ_MAX)
		return -ENOBUFS;
	ncap = tt->cap ? tt->cap : 64;
	while (ncap < tt->n + add)
		ncap *= 2;
	q = realloc(tt->evq, ncap * sizeof(*q));
	if (!q)
		return -ENOMEM;
	tt->evq = q;
	tt->cap = ncap;
	return 0;
}

/* Checks a received TK_CTL_EV_TIMER packet (header already checked) and
 * then, and only then, appends its events to the FIFO. */
static int take_events(struct tk_timers *tt, size_t n)
{
	const size_t head = CTLW_HDR_LEN + sizeof(struct tk_ctl_timer_events);
	struct tk_ctl_timer_events evs;
	struct tk_ctl_timer_event e;
	int r;

	r = ctlw_check_payload(tt->buf + CTLW_HDR_LEN, n - CTLW_HDR_LEN, sizeof(evs), sizeof(e),
			       offsetof(struct tk_ctl_timer_events, count), &evs.count, NULL, 0);
	if (r < 0 || evs.count == 0)
		return -EPROTO;
	for (uint32_t i = 0; i < evs.count; i++) {
		memcpy(&e, tt->buf + head + i * sizeof(e), sizeof(e));
		if (e.id == 0)
			return -EPROTO;
		if (e.kind == TK_CTL_TEV_EXPIRED ? e.overruns == 0 : e.kind != TK_CTL_TEV_CANCELED)
			return -EPROTO;
	}
	r = evq_reserve(tt, evs.count);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < evs.count; i++) {
		struct tk_timer_event *o = &tt->evq[tt->head + tt->n++];

		memcpy(&e, tt->buf + head + i * sizeof(e), sizeof(e));
		memset(o, 0, sizeof(*o));
		o->id = e.id;
		o->kind = e.kind == TK_CTL_TEV_EXPIRED ? TK_TIMER_EXPIRED : TK_TIMER_CANCELED;
		o->overruns = e.kind == TK_CTL_TEV_EXPIRED ? e.overruns : 0;
		tkt_ns_to_ts(e.expires_ns, &o->expiry);
		tkt_ns_to_ts(e.now_ns, &o->ran);
	}
	return 0;
}

/* What one received packet was. */
enum pkt { PKT_NONE, PKT_EVENT, PKT_REPLY, PKT_STALE };

/*
 * Receives one packet (flags: 0 or MSG_DONTWAIT) and checks its header.
 * Events are taken into the FIFO. A reply is left in tt->buf with its
 * length in *len, for the caller to check against its request; a reply to
 * an abandoned request is dropped (PKT_STALE). PKT_NONE: nothing to read.
 */
static int recv_one(struct tk_timers *tt, int flags, size_t *len)
{
	struct tk_ctl_hdr h;
	ssize_t n;
	int r;

	if (tt->dead)
		return tt->dead;
	n = ctlw_recv(tt->fd, tt->buf, sizeof(tt->buf), flags, NULL);
	if (n == -EAGAIN)
		return PKT_NONE;
	if (n == -ECONNRESET)
		return tt->dead = -ECONNRESET;
	if (n < 0)
		return (int)n;
	/* -EPROTONOSUPPORT for another version, -EPROTO for the rest. */
	r = ctlw_check_hdr(tt->buf, (size_t)n, &h, NULL, 0);
	if (r < 0)
		return ctlw_client_err(r);
	if (h.flags & TK_CTL_F_EVENT) {
		if (h.flags & TK_CTL_F_REPLY)
			return -EPROTO;
		if (h.type != TK_CTL_EV_TIMER)
			return PKT_STALE; /* an event type of a later protocol addition */
		r = take_events(tt, (size_t)n);
		return r < 0 ? r : PKT_EVENT;
	}
	if (!(h.flags & TK_CTL_F_REPLY))
		return -EPROTO;
	if (h.seq != tt->seq) {
		/* A late reply to a request given up on carries an older seq. */
		if (tt->abandoned && (int32_t)(tt->seq - h.seq) > 0)
			return PKT_STALE;
		return -EPROTO;
	}
	*len = (size_t)n;
	return PKT_REPLY;
}

static int64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ts_to_ns(&t) / NSEC_PER_MSEC;
}

/*
 * Sends type with req and waits for its reply, whose payload after the
 * result must be exactly out_len bytes when the status is 0 (copied to
 * out). Returns the daemon's status (0 or -errno) or the call's error.
 */
static int call(struct tk_timers *tt, uint16_t type, const void *req, size_t req_len, void *out,
		size_t out_len)
{
	struct tk_ctl_hdr h;
	struct tk_ctl_result res;
	int64_t deadline;
	size_t len = 0;
	int r;

	if (tt->dead)
		return tt->dead;
	if (++tt->seq == 0)
		tt->seq = 1;
	r = ctlw_send(tt->fd, type, 0, tt->seq, req, req_len);
	if (r == -ECONNRESET)
		return tt->dead = -ECONNRESET;
	if (r < 0)
		return r;

	deadline = mono_ms() + tt->timeout_ms;
	for (;;) {
		int64_t left = deadline - mono_ms();

		r = ctlw_wait(tt->fd, left < 0 ? 0 : (int)left);
		if (r < 0)
			return r;
		if (r == 0) {
			tt->abandoned++;
			return -ETIMEDOUT;
		}
		r = recv_one(tt, MSG_DONTWAIT, &len);
		if (r < 0) {
			/* The reply may still come after a bad packet: drop it then. */
			if (r == -EPROTO || r == -EPROTONOSUPPORT)
				tt->abandoned++;
			return r;
		}
		if (r == PKT_REPLY)
			break;
	}
	memcpy(&h, tt->buf, sizeof(h));
	r = ctlw_check_reply(tt->buf, len, &h, type, tt->seq, &res, NULL, 0);
	if (r < 0)
		return ctlw_client_err(r);
	if (res.status < 0)
		return res.status;
	r = ctlw_check_payload(tt->buf + CTLW_REPLY_MIN, len - CTLW_REPLY_MIN, out_len, 0, 0, NULL,
			       NULL, 0);
	if (r < 0)
		return ctlw_client_err(r);
	if (out_len)
		memcpy(out, tt->buf + CTLW_REPLY_MIN, out_len);
	return 0;
}

TK_EXPORT int tk_timer_create(struct tk_timers *tt, clockid_t clock, const char *name, uint32_t *id)
{
	struct tk_ctl_timer_create req;
	struct tk_ctl_timer_id rep;
	int c, r;

	if (!tt || !id)
		return -EINVAL;
	c = tkt_clock_to_ctl(clock);
	if (c < 0)
		return c;
	memset(&req, 0, sizeof(req));
	req.clock = (uint32_t)c;
	if (name) {
		size_t n = strlen(name);

		if (n >= sizeof(req.name))
			return -ENAMETOOLONG;
		memcpy(req.name, name, n);
	}
	r = call(tt, TK_CTL_TIMER_CREATE, &req, sizeof(req), &rep, sizeof(rep));
	if (r < 0)
		return r;
	if (rep.id == 0)
		return -EPROTO;
	*id = rep.id;
	return 0;
}

TK_EXPORT int tk_timer_arm(struct tk_timers *tt, uint32_t id, int flags,
			   const struct timespec *value, const struct timespec *interval,
			   uint64_t slack_ns)
{
	struct tk_ctl_timer_arm req;
	struct tk_ctl_timer_armed rep;
	int r;

	if (!tt || !value || id == 0 || (flags & ~(TK_TIMER_ABSTIME | TK_TIMER_CANCEL_ON_SET)))
		return -EINVAL;
	if ((flags & TK_TIMER_CANCEL_ON_SET) && !(flags & TK_TIMER_ABSTIME))
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.id = id;
	req.flags = (flags & TK_TIMER_ABSTIME ? TK_CTL_TIMER_F_ABS : 0) |
		    (flags & TK_TIMER_CANCEL_ON_SET ? TK_CTL_TIMER_F_CANCEL_ON_SET : 0);
	r = tkt_ts_to_ns(value, &req.value_ns);
	if (r < 0)
		return r;
	if (!(flags & TK_TIMER_ABSTIME) && req.value_ns < 0)
		return -EINVAL;
	if (interval) {
		r = tkt_ts_to_ns(interval, &req.interval_ns);
		if (r < 0)
			return r;
		if (req.interval_ns < 0)
			return -EINVAL;
	}
	if (slack_ns > INT64_MAX)
		return -ERANGE;
	req.slack_ns = slack_ns;
	r = call(tt, TK_CTL_TIMER_ARM, &req, sizeof(req), &rep, sizeof(rep));
	if (r == 0 && rep.id != id)
		return -EPROTO;
	return r;
}

TK_EXPORT int tk_timer_disarm(struct tk_timers *tt, uint32_t id)
{
	struct tk_ctl_timer_id req = { .id = id };
	struct tk_ctl_timer_armed rep;
	int r;

	if (!tt || id == 0)
		return -EINVAL;
	r = call(tt, TK_CTL_TIMER_DISARM, &req, sizeof(req), &rep, sizeof(rep));
	if (r == 0 && rep.id != id)
		return -EPROTO;
	return r;
}

TK_EXPORT int tk_timer_delete(struct tk_timers *tt, uint32_t id)
{
	struct tk_ctl_timer_id req = { .id = id };

	if (!tt || id == 0)
		return -EINVAL;
	return call(tt, TK_CTL_TIMER_DELETE, &req, sizeof(req), NULL, 0);
}

TK_EXPORT int tk_timers_read(struct tk_timers *tt, struct tk_timer_event *ev, size_t cap)
{
	size_t got = 0, k, len;
	int r;

	if (!tt || (!ev && cap))
		return -EINVAL;
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	for (;;) {
		k = tt->n < cap - got ? tt->n : cap - got;
		if (k)
			memcpy(ev + got, tt->evq + tt->head, k * sizeof(*ev));
		got += k;
		tt->head += k;
		tt->n -= k;
		if (!tt->n)
			tt->head = 0;
		if (got == cap)
			return (int)got;
		r = recv_one(tt, MSG_DONTWAIT, &len);
		if (r == PKT_NONE)
			return (int)got;
		if (r < 0)
			return got ? (int)got : r; /* -ECONNRESET stays; the next call sees it */
		if (r == PKT_REPLY)
			return got ? (int)got : -EPROTO; /* no request is outstanding */
	}
}
