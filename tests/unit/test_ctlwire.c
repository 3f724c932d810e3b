// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ctlwire: the control protocol's shared framing. Round trips of every
 * request type over a socketpair, then each check against truncated,
 * oversized, other-version, wrong-type and hostile packets (INT64_MIN
 * fields, INT32_MIN statuses, record counts that overflow), the client's
 * error mapping, and the socket steps (descriptor passing, EOF, timeouts).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timex.h>
#include <unistd.h>

#include "proto/ctlwire.h"
#include "tk_check.h"

#define HDR CTLW_HDR_LEN
#define MIN CTLW_REPLY_MIN

static int sv[2] = { -1, -1 };
static unsigned char *buf;

static void setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	buf = calloc(1, CTLW_RX_LEN + 64);
	ck_assert_ptr_nonnull(buf);
}

static void teardown(void)
{
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	sv[0] = sv[1] = -1;
	free(buf);
	buf = NULL;
}

/* A packet in buf: header (length as given, or the packet's) + payload. */
static size_t packet(uint16_t magic, uint16_t version, uint16_t type, uint16_t flags, uint32_t seq,
		     const void *payload, size_t plen, long length)
{
	struct tk_ctl_hdr h = {
		magic, version, type, flags, (uint32_t)(length >= 0 ? (size_t)length : HDR + plen),
		seq
	};

	memcpy(buf, &h, HDR);
	if (plen)
		memcpy(buf + HDR, payload, plen);
	return HDR + plen;
}

/* A reply in buf: header, result with status, payload. */
static size_t reply(uint16_t type, uint16_t flags, uint32_t seq, int32_t status,
		    const void *payload, size_t plen)
{
	struct tk_ctl_result r = { .status = status };

	memcpy(buf + HDR, &r, sizeof(r));
	if (plen)
		memcpy(buf + MIN, payload, plen);
	return packet(TK_CTL_MAGIC, TK_CTL_VERSION, type, flags, seq, buf + HDR, sizeof(r) + plen,
		      -1);
}

static const uint16_t types[] = {
	TK_CTL_HELLO,	  TK_CTL_STATUS,       TK_CTL_SOURCES,	    TK_CTL_TIMERS,
	TK_CTL_ADJTIME,	  TK_CTL_NTP,	       TK_CTL_PAGE_FD,	    TK_CTL_TIMER_CREATE,
	TK_CTL_TIMER_ARM, TK_CTL_TIMER_DISARM, TK_CTL_TIMER_DELETE, TK_CTL_SWITCH,
	TK_CTL_UNBIND,	  TK_CTL_READMIT,      TK_CTL_RECALIBRATE,  TK_CTL_NTP_SERVER,
};

/* Every request type, sent with ctlw_send() and received with ctlw_recv(),
 * passes both checks and arrives byte for byte, hostile values included. */
START_TEST(test_round_trip)
{
	uint16_t type = types[_i];
	long size = ctlw_request_size(type);
	unsigned char req[512];
	struct tk_ctl_hdr h;
	ssize_t n;

	ck_assert_int_ge(size, 0);
	ck_assert_uint_le((size_t)size, sizeof(req));
	ck_assert_str_ne(ctlw_type_name(type), "unknown");
	/* 0x80 everywhere: every int64_t field is INT64_MIN, every int32_t
	 * INT32_MIN; then a NUL for the name a type carries. */
	memset(req, 0x80, sizeof(req));
	if (type == TK_CTL_TIMER_CREATE)
		req[offsetof(struct tk_ctl_timer_create, name) + TK_CTL_NAME_LEN - 1] = 0;
	if (type == TK_CTL_SWITCH || type == TK_CTL_UNBIND || type == TK_CTL_READMIT)
		req[TK_CTL_NAME_LEN - 1] = 0;
	ck_assert_int_eq(ctlw_send(sv[0], type, 0, 0xdeadbeef, req, (size_t)size), 0);
	n = ctlw_recv(sv[1], buf, CTLW_RX_LEN, MSG_DONTWAIT, NULL);
	ck_assert_int_eq(n, (ssize_t)(HDR + (size_t)size));
	ck_assert_int_eq(ctlw_check_hdr(buf, (size_t)n, &h, NULL, 0), 0);
	ck_assert_uint_eq(h.type, type);
	ck_assert_uint_eq(h.seq, 0xdeadbeef);
	ck_assert_uint_eq(h.flags, 0);
	ck_assert_uint_eq(h.version, TK_CTL_VERSION);
	ck_assert_int_eq(ctlw_check_request(buf, (size_t)n, &h, NULL, 0), 0);
	ck_assert_mem_eq(buf + HDR, req, (size_t)size);
	/* One byte more or less is refused, and not with the version error. */
	if (size) {
		packet(TK_CTL_MAGIC, TK_CTL_VERSION, type, 0, 1, req, (size_t)size - 1, -1);
		ck_assert_int_eq(ctlw_check_request(buf, HDR + (size_t)size - 1, &h, NULL, 0),
				 -EBADMSG);
	}
	packet(TK_CTL_MAGIC, TK_CTL_VERSION, type, 0, 1, req, (size_t)size + 1, -1);
	ck_assert_int_eq(ctlw_check_hdr(buf, HDR + (size_t)size + 1, &h, NULL, 0), 0);
	ck_assert_int_eq(ctlw_check_request(buf, HDR + (size_t)size + 1, &h, NULL, 0), -EBADMSG);
}
END_TEST

START_TEST(test_timer_arm_int64_min)
{
	struct tk_ctl_timer_arm a = { .id = 1,
				      .flags = TK_CTL_TIMER_F_ABS,
				      .value_ns = INT64_MIN,
				      .interval_ns = INT64_MIN,
				      .slack_ns = UINT64_MAX };
	struct tk_ctl_timer_arm b;
	struct tk_ctl_hdr h;
	ssize_t n;

	ck_assert_int_eq(ctlw_send(sv[0], TK_CTL_TIMER_ARM, 0, 5, &a, sizeof(a)), 0);
	n = ctlw_recv(sv[1], buf, CTLW_RX_LEN, 0, NULL);
	ck_assert_int_eq(ctlw_check_hdr(buf, (size_t)n, &h, NULL, 0), 0);
	ck_assert_int_eq(ctlw_check_request(buf, (size_t)n, &h, NULL, 0), 0);
	memcpy(&b, buf + HDR, sizeof(b));
	ck_assert(b.value_ns == INT64_MIN);
	ck_assert(b.interval_ns == INT64_MIN);
	ck_assert(b.slack_ns == UINT64_MAX);
	ck_assert(!ctlw_is_change(TK_CTL_TIMER_ARM, &a, sizeof(a)));
}
END_TEST

/* Every length shorter than a header, and a header whose length field is
 * not the packet's, are -EBADMSG; *h is still filled when it can be. */
START_TEST(test_truncated)
{
	struct tk_ctl_hdr h;
	char why[CTLW_ERR_LEN];

	packet(TK_CTL_MAGIC, TK_CTL_VERSION, TK_CTL_HELLO, 0, 3, NULL, 0, -1);
	for (size_t len = 0; len < HDR; len++) {
		ck_assert_int_eq(ctlw_check_hdr(buf, len, &h, why, sizeof(why)), -EBADMSG);
		ck_assert_ptr_nonnull(strstr(why, "shorter than the 16-byte header"));
	}
	packet(TK_CTL_MAGIC, TK_CTL_VERSION, TK_CTL_HELLO, 0, 3, "abcd", 4, HDR);
	ck_assert_int_eq(ctlw_check_hdr(buf, HDR + 4, &h, why, sizeof(why)), -EBADMSG);
	ck_assert_str_eq(why, "header length 16, but the packet has 20 bytes");
	ck_assert_uint_eq(h.seq, 3); /* a refusal can echo it */
	packet(TK_CTL_MAGIC, TK_CTL_VERSION, TK_CTL_HELLO, 0, 3, NULL, 0, UINT32_MAX);
	ck_assert_int_eq(ctlw_check_hdr(buf, HDR, &h, NULL, 0), -EBADMSG);
	/* A reply without room for its result. */
	packet(TK_CTL_MAGIC, TK_CTL_VERSION, TK_CTL_STATUS, TK_CTL_F_REPLY, 9, "abcd", 4, -1);
	ck_assert_int_eq(ctlw_check_hdr(buf, HDR + 4, &h, NULL, 0), 0);
	{
		struct tk_ctl_result res;

		ck_assert_int_eq(ctlw_check_reply(buf, HDR + 4, &h, TK_CTL_STATUS, 9, &res, why,
						  sizeof(why)),
				 -EBADMSG);
		ck_assert_ptr_nonnull(strstr(why, "shorter than header and result"));
	}
	/* A truncated packet passes nothing even without a why buffer. */
	ck_assert_int_eq(ctlw_check_hdr(buf, 3, &h, NULL, 0), -EBADMSG);
	ck_assert_int_eq(ctlw_client_err(-EBADMSG), -EPROTO);
}
END_TEST

/* A packet over TK_CTL_MAX_MSG: ctlw_recv() reports its real size and the
 * check says -EMSGSIZE (after magic and version). */
START_TEST(test_oversized)
{
	size_t big = TK_CTL_MAX_MSG + 16;
	unsigned char *out = calloc(1, big);
	struct tk_ctl_hdr h = { TK_CTL_MAGIC,	TK_CTL_VERSION, TK_CTL_STATUS,
				TK_CTL_F_REPLY, (uint32_t)big,	1 };
	int sz = (int)(4 * big);
	ssize_t n;

	ck_assert_ptr_nonnull(out);
	memcpy(out, &h, HDR);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	ck_assert_int_eq(send(sv[0], out, big, 0), (ssize_t)big);
	n = ctlw_recv(sv[1], buf, CTLW_RX_LEN, 0, NULL);
	ck_assert_int_eq(n, (ssize_t)big);
	ck_assert_int_eq(ctlw_check_hdr(buf, (size_t)n, &h, NULL, 0), -EMSGSIZE);
	ck_assert_int_eq(ctlw_client_err(-EMSGSIZE), -EPROTO);
	/* The sender's side refuses to build one. */
	ck_assert_int_eq(ctlw_send(sv[0], TK_CTL_STATUS, 0, 1, out, TK_CTL_MAX_MSG), -EMSGSIZE);
	free(out);
}
END_TEST

/* Another version is -EPROTONOSUPPORT, checked before the size and length
 * (a later version may frame differently), and stays that for a client. */
START_TEST(test_wrong_version)
{
	static const uint16_t versions[] = { 0, TK_CTL_VERSION + 1, UINT16_MAX };
	struct tk_ctl_hdr h;
	char why[CTLW_ERR_LEN];

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		packet(TK_CTL_MAGIC, versions[i], TK_CTL_HELLO, 0, 1, NULL, 0, 12345);
		ck_assert_int_eq(ctlw_check_hdr(buf, HDR, &h, why, sizeof(why)), -EPROTONOSUPPORT);
		ck_assert_uint_eq(h.version, versions[i]);
		ck_assert_ptr_nonnull(strstr(why, "not supported"));
		ck_assert_int_eq(ctlw_check_hdr(buf, TK_CTL_MAX_MSG + 1, &h, NULL, 0),
				 -EPROTONOSUPPORT);
	}
	ck_assert_int_eq(ctlw_client_err(-EPROTONOSUPPORT), -EPROTONOSUPPORT);
	ck_assert_ptr_nonnull(strstr(ctlw_strerror(-EPROTONOSUPPORT), "version"));
	/* Bad magic comes first: it is not our protocol at all. */
	packet(0x1234, TK_CTL_VERSION + 1, TK_CTL_HELLO, 0, 1, NULL, 0, -1);
	ck_assert_int_eq(ctlw_check_hdr(buf, HDR, &h, why, sizeof(why)), -EBADMSG);
	ck_assert_str_eq(why, "bad magic 0x1234, expected 0x4b54");
}
END_TEST

/* Unknown request types, request flags, and replies that answer another
 * request or are not replies. */
START_TEST(test_wrong_type)
{
	static const uint16_t unknown[] = {
		0, 0x09, 0x14, TK_CTL_EV_TIMER, 0xff, 0x104, UINT16_MAX
	};
	struct tk_ctl_result res;
	struct tk_ctl_hdr h;
	char why[CTLW_ERR_LEN];
	size_t n;

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		ck_assert_int_eq(ctlw_request_size(unknown[i]), -1);
		ck_assert_str_eq(ctlw_type_name(unknown[i]), "unknown");
		n = packet(TK_CTL_MAGIC, TK_CTL_VERSION, unknown[i], 0, 1, NULL, 0, -1);
		ck_assert_int_eq(ctlw_check_hdr(buf, n, &h, NULL, 0), 0);
		ck_assert_int_eq(ctlw_check_request(buf, n, &h, NULL, 0), -EOPNOTSUPP);
	}
	n = packet(TK_CTL_MAGIC, TK_CTL_VERSION, TK_CTL_HELLO, TK_CTL_F_REPLY, 1, NULL, 0, -1);
	ck_assert_int_eq(ctlw_check_hdr(buf, n, &h, NULL, 0), 0);
	ck_assert_int_eq(ctlw_check_request(buf, n, &h, why, sizeof(why)), -EBADMSG);
	ck_assert_str_eq(why, "flags 0x0001 in a request, expected 0");

	n = reply(TK_CTL_STATUS, TK_CTL_F_REPLY, 7, 0, NULL, 0);
	ck_assert_int_eq(ctlw_check_hdr(buf, n, &h, NULL, 0), 0);
	ck_assert_int_eq(ctlw_check_reply(buf, n, &h, TK_CTL_STATUS, 7, &res, NULL, 0), 0);
	ck_assert_int_eq(ctlw_check_reply(buf, n, &h, TK_CTL_SOURCES, 7, &res, NULL, 0), -EBADMSG);
	ck_assert_int_eq(ctlw_check_reply(buf, n, &h, TK_CTL_STATUS, 8, &res, NULL, 0), -EBADMSG);
	h.flags = 0;
	ck_assert_int_eq(ctlw_check_reply(buf, n, &h, TK_CTL_STATUS, 7, &res, NULL, 0), -EBADMSG);
	h.flags = TK_CTL_F_REPLY | TK_CTL_F_EVENT;
	ck_assert_int_eq(ctlw_check_reply(buf, n, &h, TK_CTL_STATUS, 7, &res, NULL, 0), -EBADMSG);
}
END_TEST

/* Statuses outside [-4095, 0], counts that overflow, unterminated names. */
START_TEST(test_hostile_values)
{
	static const int32_t bad[] = { INT32_MIN, -CTLW_MAX_ERRNO - 1, 1, INT32_MAX };
	struct tk_ctl_timers t = { .now_mono_ns = UINT64_MAX, .next_event_ns = INT64_MIN };
	const size_t fixed = sizeof(t), elem = sizeof(struct tk_ctl_timer);
	const size_t off = offsetof(struct tk_ctl_timers, count);
	unsigned char p[sizeof(t) + 3 * sizeof(struct tk_ctl_timer)];
	struct tk_ctl_result res;
	struct tk_ctl_hdr h;
	struct tk_ctl_name nm;
	uint32_t count;
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = reply(TK_CTL_STATUS, TK_CTL_F_REPLY, 1, bad[i], NULL, 0);
		ck_assert_int_eq(ctlw_check_hdr(buf, n, &h, NULL, 0), 0);
		ck_assert_int_eq(ctlw_check_reply(buf, n, &h, TK_CTL_STATUS, 1, &res, NULL, 0),
				 -EBADMSG);
		ck_assert_str_eq(ctlw_strerror(bad[i]), "invalid status");
	}
	n = reply(TK_CTL_STATUS, TK_CTL_F_REPLY, 1, -CTLW_MAX_ERRNO, NULL, 0);
	ck_assert_int_eq(ctlw_check_hdr(buf, n, &h, NULL, 0), 0);
	ck_assert_int_eq(ctlw_check_reply(buf, n, &h, TK_CTL_STATUS, 1, &res, NULL, 0), 0);
	ck_assert_int_eq(res.status, -CTLW_MAX_ERRNO);

	/* Record counts: UINT32_MAX and one that overflows 32 bits when
	 * multiplied; the exact count; one record short or long. */
	memset(p, 0, sizeof(p));
	t.count = UINT32_MAX;
	memcpy(p, &t, sizeof(t));
	ck_assert_int_eq(ctlw_check_payload(p, sizeof(p), fixed, elem, off, &count, NULL, 0),
			 -EBADMSG);
	t.count = (uint32_t)(UINT64_C(0x100000000) / elem);
	memcpy(p, &t, sizeof(t));
	ck_assert_int_eq(ctlw_check_payload(p, sizeof(p), fixed, elem, off, &count, NULL, 0),
			 -EBADMSG);
	t.count = 3;
	memcpy(p, &t, sizeof(t));
	ck_assert_int_eq(ctlw_check_payload(p, sizeof(p), fixed, elem, off, &count, NULL, 0), 0);
	ck_assert_uint_eq(count, 3);
	ck_assert_int_eq(ctlw_check_payload(p, sizeof(p) - 1, fixed, elem, off, NULL, NULL, 0),
			 -EBADMSG);
	t.count = 2;
	memcpy(p, &t, sizeof(t));
	ck_assert_int_eq(ctlw_check_payload(p, sizeof(p), fixed, elem, off, &count, NULL, 0),
			 -EBADMSG);
	ck_assert_int_eq(ctlw_check_payload(p, fixed - 1, fixed, elem, off, NULL, NULL, 0),
			 -EBADMSG);
	ck_assert_int_eq(ctlw_check_payload(p, fixed, fixed, 0, 0, NULL, NULL, 0), 0);
	ck_assert_int_eq(ctlw_check_payload(p, fixed + 1, fixed, 0, 0, NULL, NULL, 0), -EBADMSG);

	/* A name without its NUL. */
	memset(&nm, 'a', sizeof(nm));
	n = packet(TK_CTL_MAGIC, TK_CTL_VERSION, TK_CTL_SWITCH, 0, 1, &nm, sizeof(nm), -1);
	ck_assert_int_eq(ctlw_check_hdr(buf, n, &h, NULL, 0), 0);
	ck_assert_int_eq(ctlw_check_request(buf, n, &h, NULL, 0), -EBADMSG);
	{
		struct tk_ctl_timer_create tc;

		memset(&tc, 0xff, sizeof(tc));
		n = packet(TK_CTL_MAGIC, TK_CTL_VERSION, TK_CTL_TIMER_CREATE, 0, 1, &tc, sizeof(tc),
			   -1);
		ck_assert_int_eq(ctlw_check_hdr(buf, n, &h, NULL, 0), 0);
		ck_assert_int_eq(ctlw_check_request(buf, n, &h, NULL, 0), -EBADMSG);
	}
}
END_TEST

START_TEST(test_is_change_and_strings)
{
	struct tk_ctl_timex tx = { 0 };
	char out[8];

	ck_assert(!ctlw_is_change(TK_CTL_ADJTIME, &tx, sizeof(tx)));
	tx.modes = ADJ_OFFSET_SS_READ;
	ck_assert(!ctlw_is_change(TK_CTL_ADJTIME, &tx, sizeof(tx)));
	tx.modes = ADJ_FREQUENCY;
	ck_assert(ctlw_is_change(TK_CTL_ADJTIME, &tx, sizeof(tx)));
	ck_assert(!ctlw_is_change(TK_CTL_ADJTIME, &tx, sizeof(tx) - 1)); /* not an ADJTIME */
	ck_assert(ctlw_is_change(TK_CTL_SWITCH, NULL, 0));
	ck_assert(ctlw_is_change(TK_CTL_RECALIBRATE, NULL, 0));
	ck_assert(!ctlw_is_change(TK_CTL_STATUS, NULL, 0));

	ctlw_copy_str(out, sizeof(out),
		      "a\x01\x7f\xff"
		      "bcdefgh",
		      12);
	ck_assert_str_eq(out, "a???bcd");
	ctlw_copy_str(out, sizeof(out), "xyz", 2); /* no NUL within the array */
	ck_assert_str_eq(out, "xy");
}
END_TEST

/* A result-only reply: what the server refuses with. */
START_TEST(test_build_result)
{
	struct tk_ctl_result res;
	struct tk_ctl_hdr h;
	char longmsg[TK_CTL_MESSAGE_LEN * 2];
	size_t n;

	memset(longmsg, 'x', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = 0;
	n = ctlw_build_result(buf, TK_CTL_UNBIND, 42, -EPERM, longmsg);
	ck_assert_uint_eq(n, MIN);
	ck_assert_int_eq(ctlw_check_hdr(buf, n, &h, NULL, 0), 0);
	ck_assert_int_eq(ctlw_check_reply(buf, n, &h, TK_CTL_UNBIND, 42, &res, NULL, 0), 0);
	ck_assert_int_eq(res.status, -EPERM);
	ck_assert_uint_eq(strnlen(res.message, sizeof(res.message)), TK_CTL_MESSAGE_LEN - 1);
	n = ctlw_build_result(buf, 0, 0, -EMFILE, NULL);
	memcpy(&res, buf + HDR, sizeof(res));
	ck_assert_str_eq(res.message, "");
}
END_TEST

/* ctlw_recv(): a passed descriptor (close-on-exec), extra ones closed, EOF,
 * nothing there; ctlw_wait() timing out; connect errors; credentials. */
START_TEST(test_socket_steps)
{
	int p[2], q[2], fds[2], got;
	union {
		char b[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	struct cmsghdr *ch;
	size_t n = ctlw_build_result(buf, TK_CTL_PAGE_FD, 1, 0, "");
	uint32_t uid, gid;
	pid_t pid;

	ck_assert_int_eq(ctlw_wait(sv[1], 0), 0);
	ck_assert_int_eq(ctlw_recv(sv[1], buf + 4096, 4096, MSG_DONTWAIT, &got), -EAGAIN);
	ck_assert_int_eq(got, -1);

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pipe(q), 0);
	fds[0] = p[0];
	fds[1] = q[0];
	memset(&cm, 0, sizeof(cm));
	ch = CMSG_FIRSTHDR(&mh);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(ch), fds, sizeof(fds));
	iov.iov_base = buf;
	iov.iov_len = n;
	ck_assert_int_eq(sendmsg(sv[0], &mh, 0), (ssize_t)n);
	close(q[0]);
	ck_assert_int_eq(ctlw_wait(sv[1], 1000), 1);
	ck_assert_int_eq(ctlw_recv(sv[1], buf + 4096, 4096, 0, &got), (ssize_t)n);
	ck_assert_int_ge(got, 0);
	ck_assert_int_ne(fcntl(got, F_GETFD) & FD_CLOEXEC, 0);
	/* The received one is p's read end: what p[1] writes arrives. */
	ck_assert_int_eq(write(p[1], "k", 1), 1);
	ck_assert_int_eq(read(got, buf, 1), 1);
	ck_assert_int_eq(buf[0], 'k');
	close(got);
	/* The extra one was closed: q's write end sees no reader. */
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(write(q[1], "k", 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	close(p[0]);
	close(p[1]);
	close(q[1]);

	ck_assert_int_eq(ctlw_peer_cred(sv[1], &uid, &gid, &pid), 0);
	ck_assert_uint_eq(uid, (uint32_t)geteuid());
	ck_assert_int_eq(pid, getpid());

	close(sv[0]);
	sv[0] = -1;
	ck_assert_int_eq(ctlw_recv(sv[1], buf, CTLW_RX_LEN, 0, NULL), -ECONNRESET);
	ck_assert_int_eq(ctlw_send(sv[1], TK_CTL_HELLO, 0, 1, NULL, 0), -ECONNRESET);

	memset(buf, 'a', 200);
	buf[200] = 0;
	ck_assert_int_eq(ctlw_connect((const char *)buf, 0), -ENAMETOOLONG);
	ck_assert_int_eq(ctlw_connect("/nonexistent/timekeeper-test/control", 0), -ENOENT);
}
END_TEST

static Suite *ctlwire_suite(void)
{
	Suite *s = suite_create("ctlwire");
	TCase *tc = tcase_create("framing");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_round_trip, 0, sizeof(types) / sizeof(types[0]));
	tcase_add_test(tc, test_timer_arm_int64_min);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_oversized);
	tcase_add_test(tc, test_wrong_version);
	tcase_add_test(tc, test_wrong_type);
	tcase_add_test(tc, test_hostile_values);
	tcase_add_test(tc, test_is_change_and_strings);
	tcase_add_test(tc, test_build_result);
	tcase_add_test(tc, test_socket_steps);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(ctlwire_suite());
}
