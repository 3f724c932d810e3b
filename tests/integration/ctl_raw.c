// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ctl_raw: a test client speaking the control protocol byte by byte, for
 * what timectl never sends: malformed packets, floods, and the plain
 * requests needed around them. Uses only <timekeeper/control.h>.
 *
 *   ctl_raw SOCKET hello             "status=S pid=P may_change=M"
 *   ctl_raw SOCKET status            "status=S source=NAME override=NAME"
 *   ctl_raw SOCKET switch|unbind|readmit NAME
 *                                    "status=S message=..." (exit 0 if S == 0)
 *   ctl_raw SOCKET malformed         one line per malformed case, exit 0 when every
 *                                    case got the expected status (and close)
 *   ctl_raw SOCKET flood N           sends N HELLOs without reading, then reads:
 *                                    "ok=R refused=STATUS closed=C"
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "timekeeper/control.h"

#define HDR sizeof(struct tk_ctl_hdr)
#define RES sizeof(struct tk_ctl_result)

static const char *sock;
static unsigned char rbuf[TK_CTL_MAX_MSG];

static int conn(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ctl_raw: %s: %s\n", sock, strerror(errno));
		exit(2);
	}
	return fd;
}

static size_t msg(void *buf, uint16_t type, const void *payload, size_t plen)
{
	struct tk_ctl_hdr h = { TK_CTL_MAGIC, TK_CTL_VERSION, type, 0, (uint32_t)(HDR + plen), 1 };

	memcpy(buf, &h, HDR);
	if (payload && plen)
		memcpy((unsigned char *)buf + HDR, payload, plen);
	return HDR + plen;
}

/* Waits up to 2 s for a reply: its length, 0 on EOF, -1 on timeout/error. */
static ssize_t get(int fd, struct tk_ctl_result *r)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, 2000) != 1)
		return -1;
	n = recv(fd, rbuf, sizeof(rbuf), 0);
	if (n >= (ssize_t)(HDR + RES))
		memcpy(r, rbuf + HDR, RES);
	else if (n > 0)
		return -1;
	return n;
}

static int request(uint16_t type, const void *payload, size_t plen, struct tk_ctl_result *r)
{
	static unsigned char m[512];
	int fd = conn();
	ssize_t n;

	if (send(fd, m, msg(m, type, payload, plen), MSG_NOSIGNAL) < 0)
		return -1;
	n = get(fd, r);
	close(fd);
	return n > 0 ? (int)n : -1;
}

struct bad_case {
	const char *name;
	int status; /* expected */
	int closed; /* expected to be disconnected after the reply */
	size_t len;
	unsigned char data[TK_CTL_MAX_MSG + 64];
};

static struct bad_case c;

static int run_case(void)
{
	struct tk_ctl_result r = { 0 };
	int fd = conn(), good = 1;
	ssize_t n;

	if (send(fd, c.data, c.len, MSG_NOSIGNAL) != (ssize_t)c.len) {
		printf("case %s: send failed: %s\n", c.name, strerror(errno));
		close(fd);
		return 0;
	}
	n = get(fd, &r);
	if (n <= 0) {
		printf("case %s: no reply\n", c.name);
		close(fd);
		return 0;
	}
	r.message[sizeof(r.message) - 1] = '\0';
	good = r.status == c.status;
	if (c.closed) {
		struct tk_ctl_result more;

		good = good && get(fd, &more) == 0;
	}
	printf("case %s: status %d (expected %d)%s: %s -> %s\n", c.name, r.status, c.status,
	       c.closed ? ", closed" : "", r.message, good ? "ok" : "WRONG");
	close(fd);
	return good;
}

static void set_case(const char *name, int status, int closed, uint16_t magic, uint16_t version,
		     uint16_t type, uint16_t flags, int32_t len_delta, size_t plen)
{
	uint32_t len = (uint32_t)(HDR + plen + len_delta);
	struct tk_ctl_hdr h = { magic, version, type, flags, len, 9 };

	c.name = name;
	c.status = status;
	c.closed = closed;
	memset(c.data, 0, sizeof(c.data));
	memcpy(c.data, &h, HDR);
	c.len = HDR + plen;
}

static int malformed(void)
{
	int good = 1;

	set_case("bad-magic", -EBADMSG, 1, 0xdead, 1, TK_CTL_HELLO, 0, 0, 0);
	good &= run_case();
	set_case("version-2", -EPROTONOSUPPORT, 1, TK_CTL_MAGIC, 2, TK_CTL_HELLO, 0, 0, 0);
	good &= run_case();
	set_case("length-mismatch", -EBADMSG, 1, TK_CTL_MAGIC, 1, TK_CTL_HELLO, 0, 8, 0);
	good &= run_case();
	set_case("oversized", -EMSGSIZE, 1, TK_CTL_MAGIC, 1, TK_CTL_HELLO, 0, 0, TK_CTL_MAX_MSG);
	good &= run_case();
	set_case("short-header", -EBADMSG, 1, TK_CTL_MAGIC, 1, TK_CTL_HELLO, 0, 0, 0);
	c.len = 5;
	good &= run_case();
	set_case("reply-flag", -EBADMSG, 0, TK_CTL_MAGIC, 1, TK_CTL_HELLO, TK_CTL_F_REPLY, 0, 0);
	good &= run_case();
	set_case("unknown-type", -EOPNOTSUPP, 0, TK_CTL_MAGIC, 1, 0x7777, 0, 0, 0);
	good &= run_case();
	set_case("status-with-payload", -EBADMSG, 0, TK_CTL_MAGIC, 1, TK_CTL_STATUS, 0, 0, 4);
	good &= run_case();
	set_case("adjtime-short", -EBADMSG, 0, TK_CTL_MAGIC, 1, TK_CTL_ADJTIME, 0, 0,
		 sizeof(struct tk_ctl_timex) - 8);
	good &= run_case();
	set_case("switch-no-nul", -EBADMSG, 0, TK_CTL_MAGIC, 1, TK_CTL_SWITCH, 0, 0,
		 sizeof(struct tk_ctl_name));
	memset(c.data + HDR, 'x', sizeof(struct tk_ctl_name));
	good &= run_case();
	set_case("timers-huge-offset", 0, 0, TK_CTL_MAGIC, 1, TK_CTL_TIMERS, 0, 0,
		 sizeof(struct tk_ctl_timers_req));
	memset(c.data + HDR, 0xff, 4);
	good &= run_case();
	/* random junk on one connection each: a reply, never a dead daemon */
	srand(42);
	for (int i = 0; i < 50; i++) {
		struct tk_ctl_result r;
		int fd = conn();
		size_t len = 1 + (size_t)rand() % 400;

		for (size_t k = 0; k < len; k++)
			c.data[k] = (unsigned char)rand();
		if (i & 1) /* a plausible header (queries only) in front of the junk */
			msg(c.data, (uint16_t)(rand() % 5), NULL, len > HDR ? len - HDR : 0);
		if (send(fd, c.data, len, MSG_NOSIGNAL) < 0 || get(fd, &r) <= 0) {
			printf("case junk-%d: no reply\n", i);
			good = 0;
		}
		close(fd);
	}
	printf("case junk: 50 random packets answered\n");
	return good ? 0 : 1;
}

static int flood(long n)
{
	unsigned char m[HDR];
	struct tk_ctl_result r;
	int fd = conn(), ok = 0, refused = 0, closed = 0;
	long sent = 0;
	ssize_t got;

	msg(m, TK_CTL_HELLO, NULL, 0);
	for (; sent < n; sent++)
		if (send(fd, m, HDR, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			break;
	while ((got = get(fd, &r)) > 0) {
		if (r.status == 0)
			ok++;
		else
			refused = r.status;
	}
	closed = got == 0 || (got < 0 && errno == ECONNRESET);
	printf("sent=%ld ok=%d refused=%d closed=%d\n", sent, ok, refused, closed);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct tk_ctl_result r = { 0 };
	const char *op;

	if (argc < 3) {
		fprintf(stderr, "usage: ctl_raw SOCKET hello|status|switch NAME|unbind NAME|"
				"readmit NAME|malformed|flood N|timer-abs CLOCK VALUE_NS\n");
		return 2;
	}
	sock = argv[1];
	op = argv[2];
	if (!strcmp(op, "hello")) {
		struct tk_ctl_hello h;

		if (request(TK_CTL_HELLO, NULL, 0, &r) < (int)(HDR + RES + sizeof(h)))
			return 1;
		memcpy(&h, rbuf + HDR + RES, sizeof(h));
		printf("status=%d pid=%d may_change=%u\n", r.status, h.pid, h.may_change);
		return r.status ? 1 : 0;
	}
	if (!strcmp(op, "status")) {
		struct tk_ctl_status st;

		if (request(TK_CTL_STATUS, NULL, 0, &r) < (int)(HDR + RES + sizeof(st)))
			return 1;
		memcpy(&st, rbuf + HDR + RES, sizeof(st));
		printf("status=%d source=%s override=%s\n", r.status, st.source, st.override);
		return r.status ? 1 : 0;
	}
	/* One connection: a timer on CLOCK, armed absolute at VALUE_NS. */
	if (argc >= 5 && !strcmp(op, "timer-abs")) {
		static unsigned char m[512];
		struct tk_ctl_timer_create tc = { .clock = (uint32_t)strtoul(argv[3], NULL, 0) };
		struct tk_ctl_timer_arm ta = { .flags = TK_CTL_TIMER_F_ABS,
					       .value_ns = strtoll(argv[4], NULL, 0) };
		struct tk_ctl_timer_id id;
		int fd = conn(), created;

		if (send(fd, m, msg(m, TK_CTL_TIMER_CREATE, &tc, sizeof(tc)), MSG_NOSIGNAL) < 0 ||
		    get(fd, &r) < (ssize_t)(HDR + RES + sizeof(id)))
			return 2;
		created = r.status;
		memcpy(&id, rbuf + HDR + RES, sizeof(id));
		ta.id = id.id;
		if (send(fd, m, msg(m, TK_CTL_TIMER_ARM, &ta, sizeof(ta)), MSG_NOSIGNAL) < 0 ||
		    get(fd, &r) <= 0)
			return 2;
		r.message[sizeof(r.message) - 1] = '\0';
		printf("create=%d arm=%d message=%s\n", created, r.status, r.message);
		close(fd);
		return r.status ? 1 : 0;
	}
	if (argc == 4 &&
	    (!strcmp(op, "switch") || !strcmp(op, "unbind") || !strcmp(op, "readmit"))) {
		struct tk_ctl_name nm = { 0 };
		uint16_t t = !strcmp(op, "switch")   ? TK_CTL_SWITCH
			     : !strcmp(op, "unbind") ? TK_CTL_UNBIND
						     : TK_CTL_READMIT;

		snprintf(nm.name, sizeof(nm.name), "%s", argv[3]);
		if (request(t, &nm, sizeof(nm), &r) < 0)
			return 2;
		r.message[sizeof(r.message) - 1] = '\0';
		printf("status=%d message=%s\n", r.status, r.message);
		return r.status ? 1 : 0;
	}
	if (!strcmp(op, "malformed"))
		return malformed();
	if (argc == 4 && !strcmp(op, "flood"))
		return flood(strtol(argv[3], NULL, 0));
	fprintf(stderr, "ctl_raw: unknown operation %s\n", op);
	return 2;
}
