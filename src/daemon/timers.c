// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Client timers (control.h "Timers"): the daemon's side of
 * TK_CTL_TIMER_CREATE/ARM/DISARM/DELETE and of the TK_CTL_EV_TIMER events.
 * Every timer is an hrt timer on the daemon's queue, which runs on the
 * timekeeper's clocks (evl_set_clock()), so REALTIME and TAI timers follow
 * the disciplined clocks, their steps and leap seconds.
 *
 * Per connection: a table of its timers (a chained hash on the id, ids
 * counted up from 1 and never reused while the connection lives) and a
 * list of the timers with something to report. An expiry only counts
 * (overruns, last expiry) and puts the timer on that list; after the
 * timer interrupt the lists are sent, one packet per connection per pass
 * (several when more than a packet's worth are due). Flow control as
 * timerfd's: when the connection's socket is full nothing is queued in the
 * daemon beyond one record per timer; the timer keeps its summed overruns,
 * a periodic timer keeps being forwarded once per period, and the records
 * go out when the socket is writable again (EPOLLOUT). No expiry is lost.
 * Arming or disarming a timer drops what it had not yet reported, as
 * timerfd_settime() resets the expiry count.
 *
 * Clock steps: daemon_timers_clock_was_set() (the clock's CLOCK_EV_SET
 * listener, daemon_timers_on_clock()) is called with the offsets
 * before and after; a timer armed with CANCEL_ON_SET on a base whose
 * offset moved (REALTIME on a step or a leap second, TAI on a step) is
 * disarmed and reported CANCELED; the others are re-evaluated by the queue.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "core/ctl.h"
#include "core/log.h"
#include "daemon/clock.h"
#include "daemon/internal.h"
#include "timekeeper/control.h"

#define EV_MAX                                                                                     \
	((TK_CTL_MAX_MSG - sizeof(struct tk_ctl_hdr) - sizeof(struct tk_ctl_timer_events)) /       \
	 sizeof(struct tk_ctl_timer_event))
#define HASH_MIN 16

struct tconn;

struct ctimer {
	struct hrt_timer t; /* t.data = this */
	struct tconn *conn;
	struct ctimer *hnext;	      /* the connection's id hash chain */
	TAILQ_ENTRY(ctimer) due_link; /* the connection's due list, while due */
	LIST_ENTRY(ctimer) cos_link;  /* the cancel-on-set list, while on_cos */
	uint32_t id;
	uint32_t flags;	  /* TK_CTL_TIMER_F_* of the last arm */
	int64_t interval; /* as applied */
	uint64_t slack;
	uint64_t orun;	       /* expiries not yet reported */
	int64_t last_expiry;   /* of them, the last (timer's clock) */
	int64_t last_now;      /* the timer's clock when it last ran */
	int64_t cancel_expiry; /* canceled: the expiry it was armed for */
	int64_t cancel_now;    /* canceled: the timer's clock then */
	bool due, canceled, on_cos;
	char name[TK_CTL_NAME_LEN];
};

struct tconn {
	struct daemon *d;
	struct ctl_client *cl;
	struct ctimer **hash;
	size_t nhash, count;
	uint32_t next_id;
	TAILQ_HEAD(, ctimer) due;
	struct tconn *dirty_next; /* on the service's list of connections to flush */
	bool dirty, blocked;
};

struct daemon_timers {
	struct daemon *d;
	size_t total;
	int64_t min_interval;
	struct tconn *dirty;	 /* connections with records to send */
	LIST_HEAD(, ctimer) cos; /* armed cancel-on-set timers */
	uint64_t sent, deferred;
	/* One TK_CTL_EV_TIMER payload: tk_ctl_timer_events, then the records. */
	_Alignas(8) unsigned char buf[TK_CTL_MAX_MSG - sizeof(struct tk_ctl_hdr)];
};

/* --- small helpers ----------------------------------------------------------- */

static struct daemon_timers *svc(struct daemon *d)
{
	return d->timers;
}

static size_t hslot(const struct tconn *c, uint32_t id)
{
	return id & (c->nhash - 1);
}

static struct ctimer *lookup(const struct tconn *c, uint32_t id)
{
	if (!c->nhash || !id)
		return NULL;
	for (struct ctimer *t = c->hash[hslot(c, id)]; t; t = t->hnext)
		if (t->id == id)
			return t;
	return NULL;
}

static int hash_grow(struct tconn *c)
{
	size_t n = c->nhash ? c->nhash * 2 : HASH_MIN;
	struct ctimer **h = calloc(n, sizeof(*h));

	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < c->nhash; i++) {
		while (c->hash[i]) {
			struct ctimer *t = c->hash[i];

			c->hash[i] = t->hnext;
			t->hnext = h[t->id & (n - 1)];
			h[t->id & (n - 1)] = t;
		}
	}
	free(c->hash);
	c->hash = h;
	c->nhash = n;
	return 0;
}

static void hash_del(struct tconn *c, struct ctimer *t)
{
	for (struct ctimer **p = &c->hash[hslot(c, t->id)]; *p; p = &(*p)->hnext) {
		if (*p == t) {
			*p = t->hnext;
			return;
		}
	}
}

static void due_del(struct tconn *c, struct ctimer *t)
{
	if (!t->due)
		return;
	TAILQ_REMOVE(&c->due, t, due_link);
	t->due = false;
}

static void mark_dirty(struct daemon_timers *s, struct tconn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->dirty_next = s->dirty;
	s->dirty = c;
}

static void due_add(struct daemon_timers *s, struct tconn *c, struct ctimer *t)
{
	if (!t->due) {
		t->due = true;
		TAILQ_INSERT_TAIL(&c->due, t, due_link);
	}
	if (!c->blocked)
		mark_dirty(s, c);
}

static void cos_del(struct ctimer *t)
{
	if (!t->on_cos)
		return;
	LIST_REMOVE(t, cos_link);
	t->on_cos = false;
}

static void cos_add(struct daemon_timers *s, struct ctimer *t)
{
	if (t->on_cos)
		return;
	t->on_cos = true;
	LIST_INSERT_HEAD(&s->cos, t, cos_link);
}

/* A time of the queue's base b as a time of clock `clock`, saturating at
 * the ends of int64_t (a timer near HRT_TIME_SAFE_MAX on another base). */
static int64_t to_clock(const struct hrt_queue *q, unsigned int base, unsigned int clock, int64_t v)
{
	int64_t d, r;

	if (__builtin_sub_overflow(q->offset[clock], q->offset[base], &d))
		d = q->offset[clock] < 0 ? INT64_MIN : INT64_MAX;
	if (__builtin_add_overflow(v, d, &r))
		r = d < 0 ? INT64_MIN : INT64_MAX;
	return r;
}

/* --- expiry ------------------------------------------------------------------- */

static enum hrt_restart on_expiry(struct hrt_timer *ht, int64_t now)
{
	struct ctimer *t = ht->data;
	struct tconn *c = t->conn;
	struct daemon_timers *s = svc(c->d);
	const struct hrt_queue *q = c->d->q;
	int64_t last = t->t.softexpires;
	uint64_t n = 1;

	if (t->interval > 0) {
		int64_t step;

		n = hrt_forward_soft(&t->t, now, t->interval);
		if (!n)
			n = 1; /* not reached: run means now >= soft */
		/* The last expiry on the value + k * interval grid, from before
		 * the forward (after it the soft expiry may have saturated). */
		if (__builtin_mul_overflow((int64_t)(n - 1), t->interval, &step) ||
		    __builtin_add_overflow(last, step, &last))
			last = HRT_TIME_SAFE_MAX;
	}
	t->orun += n;
	t->last_expiry = to_clock(q, ht->base, ht->clock, last);
	t->last_now = to_clock(q, ht->base, ht->clock, now);
	due_add(s, c, t);
	if (t->interval > 0)
		return HRT_RESTART;
	cos_del(t);
	return HRT_NORESTART;
}

/* Sends c's records; false when the socket is full (c stays blocked and
 * watched for EPOLLOUT) or broken (the loop drops it soon). */
static bool flush_conn(struct daemon_timers *s, struct tconn *c)
{
	while (!TAILQ_EMPTY(&c->due)) {
		struct tk_ctl_timer_events *head = (struct tk_ctl_timer_events *)s->buf;
		struct tk_ctl_timer_event *ev = (struct tk_ctl_timer_event *)(s->buf +
									      sizeof(*head));
		uint32_t n = 0;
		struct ctimer *t = TAILQ_FIRST(&c->due);
		int r;

		/* A canceled timer with expiries still to report takes two records. */
		for (; t && n + 2 <= EV_MAX; t = TAILQ_NEXT(t, due_link)) {
			if (t->orun) {
				ev[n] = (struct tk_ctl_timer_event){
					.id = t->id,
					.kind = TK_CTL_TEV_EXPIRED,
					.overruns = t->orun,
					.expires_ns = t->last_expiry,
					.now_ns = t->last_now,
				};
				n++;
			}
			if (t->canceled) {
				ev[n] = (struct tk_ctl_timer_event){
					.id = t->id,
					.kind = TK_CTL_TEV_CANCELED,
					.expires_ns = t->cancel_expiry,
					.now_ns = t->cancel_now,
				};
				n++;
			}
		}
		memset(head, 0, sizeof(*head));
		head->count = n;
		r = ctl_send_event(c->cl, TK_CTL_EV_TIMER, s->buf, sizeof(*head) + n * sizeof(*ev));
		if (r == -EAGAIN) {
			s->deferred++;
			if (!c->blocked) {
				c->blocked = true;
				ctl_client_want_write(c->cl, true);
			}
			return false;
		}
		if (r < 0)
			return false;
		s->sent += n;
		/* Sent: the records up to t are reported. */
		while (TAILQ_FIRST(&c->due) != t) {
			struct ctimer *x = TAILQ_FIRST(&c->due);

			x->orun = 0;
			x->canceled = false;
			due_del(c, x);
		}
	}
	if (c->blocked) {
		c->blocked = false;
		ctl_client_want_write(c->cl, false);
	}
	return true;
}

/* After each timer interrupt: one packet per connection with what fell due. */
static void timers_done(void *ctx)
{
	struct daemon_timers *s = ctx;

	while (s->dirty) {
		struct tconn *c = s->dirty;

		s->dirty = c->dirty_next;
		c->dirty = false;
		c->dirty_next = NULL;
		if (!c->blocked)
			flush_conn(s, c);
	}
}

/* --- requests ----------------------------------------------------------------- */

static struct tconn *conn_of(struct daemon *d, struct ctl_call *cc)
{
	struct tconn *c;

	if (!cc->client)
		return NULL;
	c = ctl_client_data(cc->client);
	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->d = d;
	c->cl = cc->client;
	c->next_id = 1;
	TAILQ_INIT(&c->due);
	ctl_client_set_data(cc->client, c);
	return c;
}

#define MSG(cc, ...) snprintf((cc)->msg, TK_CTL_MESSAGE_LEN, __VA_ARGS__)

static int no_conn(struct ctl_call *cc)
{
	MSG(cc, "timers need a connection of their own (or memory ran out)");
	return cc->client ? -ENOMEM : -ENOTCONN;
}

static const char *const clock_names[] = { "MONOTONIC", "REALTIME", "BOOTTIME", "TAI" };

int daemon_timer_create(void *ctx, struct ctl_call *cc)
{
	struct daemon *d = ctx;
	struct daemon_timers *s = svc(d);
	const struct tk_ctl_timer_create *rq = cc->req;
	struct tk_ctl_timer_id *out = cc->out;
	struct tconn *c;
	struct ctimer *t;

	if (!s || !d->q) {
		MSG(cc, "the timer service is not running yet");
		return -EAGAIN;
	}
	if (rq->clock > TK_CTL_CLOCK_TAI) {
		MSG(cc, "clock %u unknown, expected 0..3 (MONOTONIC, REALTIME, BOOTTIME, TAI)",
		    rq->clock);
		return -EINVAL;
	}
	c = conn_of(d, cc);
	if (!c)
		return no_conn(cc);
	if (c->count >= d->conf.max_timers_per_client) {
		MSG(cc,
		    "this connection has %zu timers, the limit is %llu "
		    "([control] max_timers_per_client)",
		    c->count, (unsigned long long)d->conf.max_timers_per_client);
		return -ENOSPC;
	}
	if (s->total >= d->conf.max_timers) {
		MSG(cc,
		    "the daemon has %zu client timers, the limit is %llu ([control] max_timers)",
		    s->total, (unsigned long long)d->conf.max_timers);
		return -ENOSPC;
	}
	if (c->count + 1 > c->nhash && hash_grow(c) < 0)
		goto nomem;
	t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	/* Ids count up, skip 0, and after a wrap skip those still in use. */
	while (!c->next_id || lookup(c, c->next_id))
		c->next_id++;
	t->id = c->next_id++;
	t->conn = c;
	snprintf(t->name, sizeof(t->name), "%s", rq->name);
	hrt_timer_init(&t->t, rq->clock, on_expiry, t->name[0] ? t->name : "client");
	t->t.data = t;
	t->hnext = c->hash[hslot(c, t->id)];
	c->hash[hslot(c, t->id)] = t;
	c->count++;
	s->total++;
	memset(out, 0, sizeof(*out));
	out->id = t->id;
	cc->out_len = sizeof(*out);
	MSG(cc, "timer %u on %s created", t->id, clock_names[rq->clock]);
	return 0;
nomem:
	MSG(cc, "out of memory");
	return -ENOMEM;
}

static struct ctimer *find(struct daemon *d, struct ctl_call *cc, uint32_t id, int *err)
{
	struct tconn *c = cc->client ? ctl_client_data(cc->client) : NULL;
	struct ctimer *t = c ? lookup(c, id) : NULL;

	*err = 0;
	if (!svc(d) || !d->q) {
		MSG(cc, "the timer service is not running yet");
		*err = -EAGAIN;
	} else if (!t) {
		MSG(cc, "no timer %u on this connection", id);
		*err = -ENOENT;
	}
	return t;
}

/* Stops t and forgets what it had not reported. */
static void stop(struct daemon_timers *s, struct ctimer *t)
{
	hrt_cancel(&t->t);
	cos_del(t);
	due_del(t->conn, t);
	t->orun = 0;
	t->canceled = false;
}

static void fill_armed(const struct ctimer *t, struct tk_ctl_timer_armed *o, bool queued)
{
	memset(o, 0, sizeof(*o));
	o->id = t->id;
	if (!queued)
		return;
	o->base = t->t.base;
	o->soft_expires_ns = t->t.softexpires;
	o->expires_ns = t->t.expires;
	o->interval_ns = t->interval;
}

int daemon_timer_arm(void *ctx, struct ctl_call *cc)
{
	struct daemon *d = ctx;
	struct daemon_timers *s = svc(d);
	const struct tk_ctl_timer_arm *rq = cc->req;
	bool abs = rq->flags & TK_CTL_TIMER_F_ABS;
	int64_t interval = rq->interval_ns;
	struct ctimer *t;
	int err, r;

	t = find(d, cc, rq->id, &err);
	if (!t)
		return err;
	if (rq->flags & ~(TK_CTL_TIMER_F_ABS | TK_CTL_TIMER_F_CANCEL_ON_SET)) {
		MSG(cc, "timer %u: unknown flags 0x%x, expected ABS (0x1) and CANCEL_ON_SET (0x2)",
		    t->id, rq->flags);
		return -EINVAL;
	}
	if ((rq->flags & TK_CTL_TIMER_F_CANCEL_ON_SET) &&
	    (!abs || (t->t.clock != HRT_BASE_REALTIME && t->t.clock != HRT_BASE_TAI))) {
		MSG(cc, "timer %u: CANCEL_ON_SET needs ABS on REALTIME or TAI, the timer is %s %s",
		    t->id, abs ? "absolute" : "relative", clock_names[t->t.clock]);
		return -EINVAL;
	}
	/* As timerfd_settime(): no negative time, delay or interval (an
	 * absolute time before the clock's epoch is not a time of it). Values
	 * past HRT_TIME_SAFE_MAX saturate there (the queue clamps). */
	if (interval < 0 || rq->value_ns < 0) {
		MSG(cc, "timer %u: %s %lld ns, expected >= 0", t->id,
		    interval < 0 ? "interval"
		    : abs	 ? "absolute time"
				 : "delay",
		    (long long)(interval < 0 ? interval : rq->value_ns));
		return -EINVAL;
	}
	if (rq->slack_ns > (uint64_t)HRT_TIME_SAFE_MAX) {
		MSG(cc, "timer %u: slack %llu ns, expected at most %lld", t->id,
		    (unsigned long long)rq->slack_ns, (long long)HRT_TIME_SAFE_MAX);
		return -EINVAL;
	}
	if (interval > 0 && interval < s->min_interval)
		interval = s->min_interval;
	stop(s, t);
	t->flags = rq->flags;
	t->interval = interval;
	t->slack = rq->slack_ns;
	r = hrt_start(d->q, &t->t, rq->value_ns, rq->slack_ns, abs ? HRT_MODE_ABS : HRT_MODE_REL);
	if (r < 0) {
		MSG(cc, "timer %u: out of memory for the queue", t->id);
		return r;
	}
	if (rq->flags & TK_CTL_TIMER_F_CANCEL_ON_SET)
		cos_add(s, t);
	fill_armed(t, cc->out, true);
	cc->out_len = sizeof(struct tk_ctl_timer_armed);
	MSG(cc, "timer %u armed on %s at %lld ns%s", t->id, clock_names[t->t.base],
	    (long long)t->t.softexpires,
	    interval != rq->interval_ns ? " (interval raised to [control] min_timer_interval_us)"
					: "");
	return 0;
}

int daemon_timer_disarm(void *ctx, struct ctl_call *cc)
{
	struct daemon *d = ctx;
	const struct tk_ctl_timer_id *rq = cc->req;
	struct ctimer *t;
	bool queued;
	int err;

	t = find(d, cc, rq->id, &err);
	if (!t)
		return err;
	queued = hrt_is_queued(&t->t);
	fill_armed(t, cc->out, queued);
	cc->out_len = sizeof(struct tk_ctl_timer_armed);
	stop(svc(d), t);
	MSG(cc, "timer %u %s", t->id, queued ? "disarmed" : "was not armed");
	return 0;
}

static void destroy(struct daemon_timers *s, struct tconn *c, struct ctimer *t)
{
	stop(s, t);
	hash_del(c, t);
	c->count--;
	s->total--;
	free(t);
}

int daemon_timer_delete(void *ctx, struct ctl_call *cc)
{
	struct daemon *d = ctx;
	const struct tk_ctl_timer_id *rq = cc->req;
	struct ctimer *t;
	int err;

	t = find(d, cc, rq->id, &err);
	if (!t)
		return err;
	MSG(cc, "timer %u deleted", t->id);
	destroy(svc(d), t->conn, t);
	return 0;
}

/* --- connection hooks --------------------------------------------------------- */

void daemon_timers_writable(void *ctx, struct ctl_client *cl)
{
	struct daemon *d = ctx;
	struct tconn *c = ctl_client_data(cl);

	if (!c || !svc(d)) {
		ctl_client_want_write(cl, false);
		return;
	}
	flush_conn(svc(d), c);
}

void daemon_timers_gone(void *ctx, struct ctl_client *cl)
{
	struct daemon *d = ctx;
	struct daemon_timers *s = svc(d);
	struct tconn *c = ctl_client_data(cl);

	if (!c)
		return;
	ctl_client_set_data(cl, NULL);
	for (size_t i = 0; i < c->nhash; i++)
		while (c->hash[i])
			destroy(s, c, c->hash[i]);
	if (c->dirty) {
		for (struct tconn **p = &s->dirty; *p; p = &(*p)->dirty_next) {
			if (*p == c) {
				*p = c->dirty_next;
				break;
			}
		}
	}
	free(c->hash);
	free(c);
}

/* --- the daemon's hooks --------------------------------------------------------- */

int daemon_timers_init(struct daemon *d)
{
	struct daemon_timers *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	/* Cancel-on-set follows the clock's clock_was_set (tests without the
	 * clock's listeners call daemon_timers_clock_was_set() themselves). */
	if (d->listeners && clock_listen(d, CLOCK_EV_SET, daemon_timers_on_clock, d) < 0) {
		free(s);
		return -ENOMEM;
	}
	s->d = d;
	LIST_INIT(&s->cos);
	s->min_interval = (int64_t)d->conf.min_timer_interval_us * 1000;
	d->timers = s;
	evl_on_timers_done(d->loop, timers_done, s);
	return 0;
}

void daemon_timers_free(struct daemon *d)
{
	/* The connections (and with them the timers) are gone by now. */
	if (d->loop && d->timers)
		evl_on_timers_done(d->loop, NULL, NULL);
	if (d->timers)
		clock_unlisten(d, daemon_timers_on_clock, d);
	free(d->timers);
	d->timers = NULL;
}

void daemon_timers_clock_was_set(struct daemon *d, const int64_t old[HRT_NR_BASES])
{
	struct daemon_timers *s = svc(d);
	struct ctimer *t, *next;
	size_t n = 0;

	if (!s)
		return;
	for (t = LIST_FIRST(&s->cos); t; t = next) {
		unsigned int b = t->t.base;

		next = LIST_NEXT(t, cos_link);
		if (d->q->offset[b] == old[b])
			continue;
		hrt_cancel(&t->t);
		cos_del(t);
		t->canceled = true;
		/* ABS on REALTIME or TAI: the base is the timer's clock. An
		 * expiry not yet reported keeps its own record and times. */
		t->cancel_expiry = t->t.softexpires;
		if (__builtin_add_overflow(evl_clock_now(d->loop), d->q->offset[b], &t->cancel_now))
			t->cancel_now = d->q->offset[b] < 0 ? INT64_MIN : INT64_MAX;
		due_add(s, t->conn, t);
		n++;
	}
	if (n) {
		log_info("timers: the clock was set: %zu cancel-on-set timers canceled", n);
		/* Outside the timer interrupt nobody else sends them. */
		timers_done(s);
	}
}

void daemon_timers_on_clock(void *ctx, const struct clock_event *ev)
{
	if (ev->kind == CLOCK_EV_SET)
		daemon_timers_clock_was_set(ctx, ev->old_offsets);
}

bool daemon_timer_info(const struct hrt_timer *ht, int32_t *pid, int64_t *period)
{
	const struct ctimer *t;

	if (ht->fn != on_expiry)
		return false;
	t = ht->data;
	*pid = ctl_client_peer(t->conn->cl)->pid;
	*period = t->interval;
	return true;
}

void daemon_timers_stats(const struct daemon *d, size_t *total, uint64_t *sent, uint64_t *deferred)
{
	const struct daemon_timers *s = d->timers;

	*total = s ? s->total : 0;
	*sent = s ? s->sent : 0;
	*deferred = s ? s->deferred : 0;
}
