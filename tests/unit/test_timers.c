// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libtimekeeper's timer API (src/lib/timers.c) against a scripted server:
 * a socketpair whose other end a thread plays, answering each request as
 * the test says. Checks the requests the library sends (types, clock
 * mapping, ns conversions, flags), events that arrive during a call kept in
 * the handle and read back converted, every kind of malformed reply or
 * event refused with -EPROTO without anything of it used, a refusal passed
 * through, the daemon going away (-ECONNRESET), a reply that never comes
 * (-ETIMEDOUT) and its late arrival dropped, and argument checks that send
 * nothing.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/tktimers.h"
#include "timekeeper.h"
#include "timekeeper/control.h"
#include "tk_check.h"

#define NS 1000000000ll
#define HDR sizeof(struct tk_ctl_hdr)

struct req {
	struct tk_ctl_hdr h;
	uint8_t payload[256];
	size_t len;
};

/* What the server does with one request. */
typedef void (*script_fn)(int fd, const struct req *rq);

static int srv = -1;
static struct tk_timers *tt;
static pthread_t thr;
static script_fn script;
static struct req last;
static volatile int nreq;

static void pkt_send(int fd, uint16_t type, uint16_t flags, uint32_t seq, const void *p, size_t len)
{
	uint8_t b[4096];
	struct tk_ctl_hdr h = { .magic = TK_CTL_MAGIC,
				.version = TK_CTL_VERSION,
				.type = type,
				.flags = flags,
				.length = (uint32_t)(HDR + len),
				.seq = seq };

	memcpy(b, &h, HDR);
	if (len)
		memcpy(b + HDR, p, len);
	ck_assert_int_eq(send(fd, b, HDR + len, MSG_NOSIGNAL), (ssize_t)(HDR + len));
}

static void reply(int fd, const struct req *rq, int32_t status, const void *p, size_t len)
{
	uint8_t b[2048];
	struct tk_ctl_result res = { .status = status };

	memcpy(b, &res, sizeof(res));
	if (len)
		memcpy(b + sizeof(res), p, len);
	pkt_send(fd, rq->h.type, TK_CTL_F_REPLY, rq->h.seq, b, sizeof(res) + len);
}

static void send_events(int fd, const struct tk_ctl_timer_event *e, uint32_t n)
{
	uint8_t b[2048];
	struct tk_ctl_timer_events head = { .count = n };

	memcpy(b, &head, sizeof(head));
	memcpy(b + sizeof(head), e, n * sizeof(*e));
	pkt_send(fd, TK_CTL_EV_TIMER, TK_CTL_F_EVENT, 0, b, sizeof(head) + n * sizeof(*e));
}

/* The normal answer to every request type. */
static void answer(int fd, const struct req *rq)
{
	struct tk_ctl_timer_id id = { .id = 7 };
	struct tk_ctl_timer_armed a = { 0 };

	switch (rq->h.type) {
	case TK_CTL_TIMER_CREATE:
		reply(fd, rq, 0, &id, sizeof(id));
		break;
	case TK_CTL_TIMER_ARM:
	case TK_CTL_TIMER_DISARM:
		memcpy(&a.id, rq->payload, 4);
		reply(fd, rq, 0, &a, sizeof(a));
		break;
	default:
		reply(fd, rq, 0, NULL, 0);
	}
}

static void *server(void *arg)
{
	struct req rq;
	uint8_t b[4096];
	ssize_t n;

	(void)arg;
	for (;;) {
		n = recv(srv, b, sizeof(b), 0);
		if (n <= 0)
			return NULL;
		memset(&rq, 0, sizeof(rq));
		memcpy(&rq.h, b, HDR);
		rq.len = (size_t)n - HDR;
		memcpy(rq.payload, b + HDR, rq.len);
		last = rq;
		nreq++;
		script(srv, &rq);
	}
}

static void setup(void)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	srv = sv[0];
	ck_assert_int_eq(tkt_from_fd(sv[1], &tt), 0);
	tkt_set_timeout(tt, 2000);
	script = answer;
	nreq = 0;
	ck_assert_int_eq(pthread_create(&thr, NULL, server, NULL), 0);
}

static void teardown(void)
{
	tk_timers_close(tt); /* the server's recv returns 0 */
	pthread_join(thr, NULL);
	if (srv >= 0)
		close(srv);
	srv = -1;
}

static bool readable(void)
{
	struct pollfd p = { .fd = tk_timers_fd(tt), .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

START_TEST(test_requests)
{
	struct timespec v = { .tv_sec = 3, .tv_nsec = 5 },
			iv = { .tv_sec = 0, .tv_nsec = 20000000 };
	struct tk_ctl_timer_create c;
	struct tk_ctl_timer_arm a;
	uint32_t id = 0;

	ck_assert_int_eq(tk_timer_create(tt, CLOCK_REALTIME, "abc", &id), 0);
	ck_assert_uint_eq(id, 7);
	ck_assert_uint_eq(last.h.type, TK_CTL_TIMER_CREATE);
	ck_assert_uint_eq(last.h.length, HDR + sizeof(c));
	ck_assert_uint_eq(last.len, sizeof(c));
	memcpy(&c, last.payload, sizeof(c));
	ck_assert_uint_eq(c.clock, TK_CTL_CLOCK_REALTIME);
	ck_assert_str_eq(c.name, "abc");
	ck_assert_uint_eq(c.reserved, 0);

	ck_assert_int_eq(tk_timer_create(tt, CLOCK_TAI, NULL, &id), 0);
	memcpy(&c, last.payload, sizeof(c));
	ck_assert_uint_eq(c.clock, TK_CTL_CLOCK_TAI);
	ck_assert_int_eq(tk_timer_create(tt, CLOCK_BOOTTIME, "", &id), 0);
	memcpy(&c, last.payload, sizeof(c));
	ck_assert_uint_eq(c.clock, TK_CTL_CLOCK_BOOTTIME);
	ck_assert_int_eq(tk_timer_create(tt, CLOCK_MONOTONIC, "", &id), 0);
	memcpy(&c, last.payload, sizeof(c));
	ck_assert_uint_eq(c.clock, TK_CTL_CLOCK_MONOTONIC);

	ck_assert_int_eq(
		tk_timer_arm(tt, 7, TK_TIMER_ABSTIME | TK_TIMER_CANCEL_ON_SET, &v, &iv, 99), 0);
	ck_assert_uint_eq(last.h.type, TK_CTL_TIMER_ARM);
	ck_assert_uint_eq(last.len, sizeof(a));
	memcpy(&a, last.payload, sizeof(a));
	ck_assert_uint_eq(a.id, 7);
	ck_assert_uint_eq(a.flags, TK_CTL_TIMER_F_ABS | TK_CTL_TIMER_F_CANCEL_ON_SET);
	ck_assert_int_eq(a.value_ns, 3 * NS + 5);
	ck_assert_int_eq(a.interval_ns, 20000000);
	ck_assert_uint_eq(a.slack_ns, 99);
	ck_assert_int_eq(tk_timer_arm(tt, 7, 0, &v, NULL, 0), 0);
	memcpy(&a, last.payload, sizeof(a));
	ck_assert_uint_eq(a.flags, 0);
	ck_assert_int_eq(a.interval_ns, 0);

	ck_assert_int_eq(tk_timer_disarm(tt, 7), 0);
	ck_assert_uint_eq(last.h.type, TK_CTL_TIMER_DISARM);
	ck_assert_uint_eq(last.len, sizeof(struct tk_ctl_timer_id));
	ck_assert_int_eq(tk_timer_delete(tt, 7), 0);
	ck_assert_uint_eq(last.h.type, TK_CTL_TIMER_DELETE);
	ck_assert_int_eq(nreq, 8);
}
END_TEST

/* Two events arrive before the reply to a disarm. */
static void events_then_answer(int fd, const struct req *rq)
{
	struct tk_ctl_timer_event e[2] = {
		{ .id = 7,
		  .kind = TK_CTL_TEV_EXPIRED,
		  .overruns = 3,
		  .expires_ns = -NS / 2,
		  .now_ns = 5 * NS + 1 },
		{ .id = 8,
		  .kind = TK_CTL_TEV_CANCELED,
		  .overruns = 0,
		  .expires_ns = 2 * NS,
		  .now_ns = 2 * NS + 10 },
	};

	send_events(fd, e, 2);
	answer(fd, rq);
}

START_TEST(test_events_during_call)
{
	struct tk_timer_event ev[4];

	script = events_then_answer;
	ck_assert_int_eq(tk_timer_disarm(tt, 7), 0);
	ck_assert_uint_eq(tk_timers_pending(tt), 2);
	ck_assert(!readable()); /* documented: the fd does not show buffered events */
	ck_assert_int_eq(tk_timers_read(tt, ev, 1), 1);
	ck_assert_uint_eq(ev[0].id, 7);
	ck_assert_uint_eq(ev[0].kind, TK_TIMER_EXPIRED);
	ck_assert_uint_eq(ev[0].overruns, 3);
	ck_assert_int_eq(ev[0].expiry.tv_sec, -1);
	ck_assert_int_eq(ev[0].expiry.tv_nsec, 500000000);
	ck_assert_int_eq(ev[0].ran.tv_sec, 5);
	ck_assert_int_eq(ev[0].ran.tv_nsec, 1);
	ck_assert_uint_eq(tk_timers_pending(tt), 1);
	ck_assert_int_eq(tk_timers_read(tt, ev, 4), 1);
	ck_assert_uint_eq(ev[0].id, 8);
	ck_assert_uint_eq(ev[0].kind, TK_TIMER_CANCELED);
	ck_assert_uint_eq(ev[0].overruns, 0);
	ck_assert_int_eq(ev[0].expiry.tv_sec, 2);
	ck_assert_int_eq(tk_timers_read(tt, ev, 4), 0);
	ck_assert_int_eq(tk_timers_read(tt, NULL, 0), 0);
}
END_TEST

/* Unsolicited events read from the socket, the buffer first, in order. */
START_TEST(test_read_order)
{
	struct tk_ctl_timer_event e = { .id = 1, .kind = TK_CTL_TEV_EXPIRED, .overruns = 1 };
	struct tk_timer_event ev[8];
	uint8_t junk[16] = { 0 };

	ck_assert_int_eq(tk_timers_read(tt, ev, 8), 0); /* nothing: does not block */
	script = events_then_answer;
	ck_assert_int_eq(tk_timer_disarm(tt, 7), 0);
	e.id = 9;
	send_events(srv, &e, 1);
	/* An event type of a later protocol version is skipped. */
	pkt_send(srv, 0x81, TK_CTL_F_EVENT, 0, junk, sizeof(junk));
	e.id = 10;
	send_events(srv, &e, 1);
	ck_assert(readable());
	ck_assert_int_eq(tk_timers_read(tt, ev, 8), 4);
	ck_assert_uint_eq(ev[0].id, 7);
	ck_assert_uint_eq(ev[1].id, 8);
	ck_assert_uint_eq(ev[2].id, 9);
	ck_assert_uint_eq(ev[3].id, 10);
	ck_assert(!readable());
}
END_TEST

/* Malformed replies: each variant is -EPROTO, except a reply of another
 * protocol version (variant 1): -EPROTONOSUPPORT, the error the daemon
 * answers a request of another version with, as timectl reports it. */
static int bad_variant;

static void bad_reply(int fd, const struct req *rq)
{
	struct tk_ctl_result res = { .status = 0 };
	struct tk_ctl_timer_armed a = { .id = 7 };
	uint8_t b[HDR + sizeof(res) + sizeof(a) + 8];
	struct tk_ctl_hdr h = { .magic = TK_CTL_MAGIC,
				.version = TK_CTL_VERSION,
				.type = rq->h.type,
				.flags = TK_CTL_F_REPLY,
				.seq = rq->h.seq };
	size_t len = HDR + sizeof(res) + sizeof(a);

	switch (bad_variant) {
	case 0:
		h.magic = 0x4b55;
		break;
	case 1:
		h.version = 2;
		break;
	case 2:
		h.length = 1;
		break;
	case 3:
		len -= 4;
		break; /* payload short */
	case 4:
		len += 8;
		break; /* payload long */
	case 5:
		res.status = 5;
		break; /* status > 0 */
	case 6:
		h.type = TK_CTL_TIMER_DELETE;
		break;
	case 7:
		h.seq++;
		break;
	case 8:
		h.flags = 0;
		break;
	case 9:
		h.flags = TK_CTL_F_REPLY | TK_CTL_F_EVENT;
		break;
	case 10:
		len = HDR - 2;
		break; /* shorter than a header */
	case 11:
		len = HDR + 4;
		break; /* no room for the result */
	case 12:
		a.id = 8;
		break; /* answers another timer */
	}
	if (!h.length)
		h.length = (uint32_t)len;
	memset(b, 0, sizeof(b));
	memcpy(b, &h, HDR);
	memcpy(b + HDR, &res, sizeof(res));
	memcpy(b + HDR + sizeof(res), &a, sizeof(a));
	ck_assert_int_eq(send(fd, b, len, MSG_NOSIGNAL), (ssize_t)len);
}

START_TEST(test_bad_reply)
{
	struct tk_timer_event ev[2];

	bad_variant = _i;
	script = bad_reply;
	ck_assert_msg(tk_timer_disarm(tt, 7) == (_i == 1 ? -EPROTONOSUPPORT : -EPROTO),
		      "variant %d accepted", _i);
	ck_assert_uint_eq(tk_timers_pending(tt), 0);
	ck_assert_int_eq(tk_timers_read(tt, ev, 2), 0);
	/* The handle goes on: the next call is answered properly. */
	script = answer;
	ck_assert_int_eq(tk_timer_disarm(tt, 7), 0);
}
END_TEST

/* Malformed events: -EPROTO from the read, nothing of them buffered. */
START_TEST(test_bad_event)
{
	struct tk_ctl_timer_event e[2] = {
		{ .id = 1, .kind = TK_CTL_TEV_EXPIRED, .overruns = 1 },
		{ .id = 2, .kind = TK_CTL_TEV_EXPIRED, .overruns = 1 },
	};
	struct tk_ctl_timer_events head = { .count = 2 };
	struct tk_timer_event ev[4];
	uint8_t b[HDR + sizeof(head) + sizeof(e) + 8];
	struct tk_ctl_hdr h = { .magic = TK_CTL_MAGIC,
				.version = TK_CTL_VERSION,
				.type = TK_CTL_EV_TIMER,
				.flags = TK_CTL_F_EVENT };
	size_t len = HDR + sizeof(head) + sizeof(e);

	switch (_i) {
	case 0:
		head.count = 3;
		break; /* count beyond the packet */
	case 1:
		head.count = 1;
		break; /* bytes beyond count */
	case 2:
		head.count = 0;
		break;
	case 3:
		e[1].kind = 3;
		break;
	case 4:
		e[1].id = 0;
		break;
	case 5:
		e[1].overruns = 0;
		break; /* an expiry stands for >= 1 */
	case 6:
		head.count = 0x40000000;
		break; /* count * size overflows 32 bits */
	case 7:
		len = HDR + 4;
		break; /* no room for the count */
	case 8:
		h.magic = 0;
		break;
	case 9:
		h.length = (uint32_t)len + 8;
		break;
	}
	if (!h.length)
		h.length = (uint32_t)len;
	memset(b, 0, sizeof(b));
	memcpy(b, &h, HDR);
	memcpy(b + HDR, &head, sizeof(head));
	memcpy(b + HDR + sizeof(head), e, sizeof(e));
	ck_assert_int_eq(send(srv, b, len, MSG_NOSIGNAL), (ssize_t)len);
	e[0].id = 5;
	send_events(srv, e, 1);
	ck_assert_msg(tk_timers_read(tt, ev, 4) == -EPROTO, "variant %d accepted", _i);
	ck_assert_uint_eq(tk_timers_pending(tt), 0);
	/* The next, good packet is read and only it. */
	ck_assert_int_eq(tk_timers_read(tt, ev, 4), 1);
	ck_assert_uint_eq(ev[0].id, 5);
}
END_TEST

static void refuse(int fd, const struct req *rq)
{
	reply(fd, rq, -ENOSPC, NULL, 0);
}

START_TEST(test_refused)
{
	uint32_t id = 0;

	script = refuse;
	ck_assert_int_eq(tk_timer_create(tt, CLOCK_MONOTONIC, "x", &id), -ENOSPC);
	ck_assert_uint_eq(id, 0);
}
END_TEST

static void hang_up(int fd, const struct req *rq)
{
	(void)rq;
	shutdown(fd, SHUT_RDWR);
}

START_TEST(test_daemon_gone)
{
	struct tk_timer_event ev[2];

	script = hang_up;
	ck_assert_int_eq(tk_timer_delete(tt, 3), -ECONNRESET);
	ck_assert_int_eq(tk_timers_read(tt, ev, 2), -ECONNRESET);
	ck_assert_int_eq(tk_timer_delete(tt, 3), -ECONNRESET);
}
END_TEST

/* No answer to the first request; the second gets the late reply to the
 * first before its own. */
static struct req held;

static void late(int fd, const struct req *rq)
{
	if (nreq == 1) {
		held = *rq;
		return;
	}
	answer(fd, &held);
	answer(fd, rq);
}

START_TEST(test_timeout)
{
	uint32_t id = 0;

	script = late;
	tkt_set_timeout(tt, 100);
	ck_assert_int_eq(tk_timer_disarm(tt, 7), -ETIMEDOUT);
	tkt_set_timeout(tt, 2000);
	ck_assert_int_eq(tk_timer_create(tt, CLOCK_MONOTONIC, NULL, &id), 0);
	ck_assert_uint_eq(id, 7);
	ck_assert_uint_eq(last.h.type, TK_CTL_TIMER_CREATE);
}
END_TEST

START_TEST(test_args)
{
	struct timespec v = { 1, 0 }, bad_ns = { 1, NS }, neg = { -1, 0 },
			huge = { INT64_MAX / 2, 0 };
	char longname[40];
	uint32_t id;

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(tk_timer_create(tt, CLOCK_MONOTONIC_RAW, NULL, &id), -EINVAL);
	ck_assert_int_eq(tk_timer_create(tt, CLOCK_PROCESS_CPUTIME_ID, NULL, &id), -EINVAL);
	ck_assert_int_eq(tk_timer_create(tt, CLOCK_MONOTONIC, longname, &id), -ENAMETOOLONG);
	ck_assert_int_eq(tk_timer_create(tt, CLOCK_MONOTONIC, NULL, NULL), -EINVAL);
	ck_assert_int_eq(tk_timer_arm(tt, 7, 0, &bad_ns, NULL, 0), -EINVAL);
	ck_assert_int_eq(tk_timer_arm(tt, 7, 0, &v, &bad_ns, 0), -EINVAL);
	ck_assert_int_eq(tk_timer_arm(tt, 7, 0, &neg, NULL, 0), -EINVAL);
	ck_assert_int_eq(tk_timer_arm(tt, 7, 0, &v, &neg, 0), -EINVAL);
	ck_assert_int_eq(tk_timer_arm(tt, 7, TK_TIMER_ABSTIME, &huge, NULL, 0), -ERANGE);
	ck_assert_int_eq(tk_timer_arm(tt, 7, 0, &v, &huge, 0), -ERANGE);
	ck_assert_int_eq(tk_timer_arm(tt, 7, 0, &v, NULL, UINT64_MAX), -ERANGE);
	ck_assert_int_eq(tk_timer_arm(tt, 7, TK_TIMER_CANCEL_ON_SET, &v, NULL, 0), -EINVAL);
	ck_assert_int_eq(tk_timer_arm(tt, 7, 0x10, &v, NULL, 0), -EINVAL);
	ck_assert_int_eq(tk_timer_arm(tt, 0, 0, &v, NULL, 0), -EINVAL);
	ck_assert_int_eq(tk_timer_arm(tt, 7, 0, NULL, NULL, 0), -EINVAL);
	ck_assert_int_eq(tk_timer_disarm(tt, 0), -EINVAL);
	ck_assert_int_eq(tk_timer_delete(NULL, 1), -EINVAL);
	ck_assert_int_eq(tk_timers_read(tt, NULL, 1), -EINVAL);
	/* An absolute time may be before the epoch. */
	ck_assert_int_eq(tk_timer_arm(tt, 7, TK_TIMER_ABSTIME, &neg, NULL, 0), 0);
	ck_assert_int_eq(nreq, 1);
}
END_TEST

START_TEST(test_convert)
{
	struct timespec ts;
	int64_t ns;

	tkt_ns_to_ts(-1, &ts);
	ck_assert_int_eq(ts.tv_sec, -1);
	ck_assert_int_eq(ts.tv_nsec, 999999999);
	tkt_ns_to_ts(INT64_MAX, &ts);
	ck_assert_int_eq(ts.tv_sec, INT64_MAX / NS);
	ck_assert_int_eq(ts.tv_nsec, INT64_MAX % NS);
	ck_assert_int_eq(tkt_ts_to_ns(&ts, &ns), 0);
	ck_assert_int_eq(ns, INT64_MAX);
	tkt_ns_to_ts(INT64_MIN, &ts);
	ck_assert_int_eq(tkt_ts_to_ns(&ts, &ns), 0);
	ck_assert_int_eq(ns, INT64_MIN);
	ts.tv_nsec = 999999999; /* one past INT64_MAX */
	ts.tv_sec = INT64_MAX / NS;
	ck_assert_int_eq(tkt_ts_to_ns(&ts, &ns), -ERANGE);
	ts.tv_nsec = -1;
	ck_assert_int_eq(tkt_ts_to_ns(&ts, &ns), -EINVAL);
	ck_assert_int_eq(tkt_clock_to_ctl(CLOCK_MONOTONIC), TK_CTL_CLOCK_MONOTONIC);
	ck_assert_int_eq(tkt_clock_to_ctl(CLOCK_REALTIME), TK_CTL_CLOCK_REALTIME);
	ck_assert_int_eq(tkt_clock_to_ctl(CLOCK_BOOTTIME), TK_CTL_CLOCK_BOOTTIME);
	ck_assert_int_eq(tkt_clock_to_ctl(CLOCK_TAI), TK_CTL_CLOCK_TAI);
	ck_assert_int_eq(tkt_clock_to_ctl(CLOCK_REALTIME_COARSE), -EINVAL);
}
END_TEST

START_TEST(test_open)
{
	struct tk_timers *t = (struct tk_timers *)1;
	char dir[200];

	ck_assert_int_eq(tk_timers_open("/nonexistent/tk/control", &t), -ENOENT);
	ck_assert_ptr_null(t);
	memset(dir, 'd', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	setenv("TIMEKEEPER_RUNTIME_DIR", dir, 1);
	ck_assert_int_eq(tk_timers_open(NULL, &t), -ENAMETOOLONG);
	setenv("TIMEKEEPER_RUNTIME_DIR", "/nonexistent/tk", 1);
	ck_assert_int_eq(tk_timers_open(NULL, &t), -ENOENT);
	ck_assert_int_eq(tk_timers_open(NULL, NULL), -EINVAL);
	tk_timers_close(NULL);
}
END_TEST

static Suite *timers_suite(void)
{
	Suite *s = suite_create("timers");
	TCase *tc = tcase_create("client");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_requests);
	tcase_add_test(tc, test_events_during_call);
	tcase_add_test(tc, test_read_order);
	tcase_add_loop_test(tc, test_bad_reply, 0, 13);
	tcase_add_loop_test(tc, test_bad_event, 0, 10);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_daemon_gone);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_args);
	suite_add_tcase(s, tc);
	tc = tcase_create("convert");
	tcase_add_test(tc, test_convert);
	tcase_add_test(tc, test_open);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(timers_suite());
}
