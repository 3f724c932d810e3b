// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ctl: the control socket's server. ctl_handle() against every framing
 * error, the exact payload sizes, the version rule, NUL-terminated names
 * and the permission rule with injected credentials; then real sockets in a
 * temporary directory: connection limits, the token bucket, the precheck
 * that finds a live server, and a stale socket file being replaced.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/ctl.h"
#include "core/evl.h"
#include "tk_check.h"

#define HDR sizeof(struct tk_ctl_hdr)
#define RES sizeof(struct tk_ctl_result)

static unsigned int calls[0x200];
static char last_name[TK_CTL_NAME_LEN];
static struct ctl_client *last_client, *gone_client;
static int writable_calls;

static int stub(void *ctx, struct ctl_call *c)
{
	calls[c->type & 0x1ff]++;
	last_client = c->client;
	if (c->type == TK_CTL_SWITCH)
		memcpy(last_name, ((const struct tk_ctl_name *)c->req)->name, TK_CTL_NAME_LEN);
	if (c->type == TK_CTL_STATUS) {
		memset(c->out, 0x5a, sizeof(struct tk_ctl_status));
		c->out_len = sizeof(struct tk_ctl_status);
	}
	snprintf(c->msg, TK_CTL_MESSAGE_LEN, "stub %#x", c->type);
	return 0;
}

static void on_writable(void *ctx, struct ctl_client *c)
{
	(void)ctx;
	writable_calls++;
	ctl_client_want_write(c, false);
}

static void on_gone(void *ctx, struct ctl_client *c)
{
	(void)ctx;
	gone_client = c;
}

static const struct ctl_ops stub_ops = {
	.status = stub,
	.sources = stub,
	.timers = stub,
	.adjtime = stub,
	.switch_source = stub,
	.unbind = stub,
	.readmit = stub,
	.recalibrate = stub,
	.timer_create = stub,
	.timer_arm = stub,
	.timer_disarm = stub,
	.timer_delete = stub,
	.writable = on_writable,
	.gone = on_gone,
};

static char tmpdir[64];
static char sockpath[96];

static struct ctl_server *server(unsigned int max, unsigned int per_uid, uint64_t rate,
				 uint64_t burst)
{
	struct ctl_conf cc = { .path = sockpath,
			       .group = "tkgroup",
			       .max_clients = max,
			       .max_clients_per_uid = per_uid,
			       .rate_limit = rate,
			       .rate_burst = burst,
			       .version = "test" };
	struct ctl_server *s;

	ck_assert_int_eq(ctl_new(&s, &cc, &stub_ops, NULL), 0);
	ctl_set_identity(s, 4242, 777);
	return s;
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tk-ctl.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_int_eq(chmod(tmpdir, 0711), 0); /* as root, other uids connect too */
	snprintf(sockpath, sizeof(sockpath), "%s/control", tmpdir);
	memset(calls, 0, sizeof(calls));
	last_client = gone_client = NULL;
	writable_calls = 0;
}

static void teardown(void)
{
	unlink(sockpath);
	rmdir(tmpdir);
}

static size_t build(void *buf, uint16_t magic, uint16_t version, uint16_t type, uint16_t flags,
		    const void *payload, size_t plen)
{
	struct tk_ctl_hdr h = { magic, version, type, flags, (uint32_t)(HDR + plen), 77 };

	memcpy(buf, &h, HDR);
	if (plen)
		memcpy((unsigned char *)buf + HDR, payload, plen);
	return HDR + plen;
}

static struct ctl_peer peer_of(uint32_t uid, uint32_t gid)
{
	struct ctl_peer p = { .uid = uid, .gid = gid, .pid = 99 };

	return p;
}

struct answer {
	int verdict;
	size_t len;
	struct tk_ctl_hdr h;
	struct tk_ctl_result r;
	unsigned char payload[TK_CTL_MAX_MSG];
};

static struct answer ask(struct ctl_server *s, const struct ctl_peer *p, const void *msg,
			 size_t len)
{
	static _Alignas(16) unsigned char reply[TK_CTL_MAX_MSG];
	struct answer a;

	memset(reply, 0xee, sizeof(reply));
	a.verdict = ctl_handle(s, p, msg, len, reply, &a.len);
	ck_assert_uint_ge(a.len, HDR + RES);
	ck_assert_uint_le(a.len, TK_CTL_MAX_MSG);
	memcpy(&a.h, reply, HDR);
	memcpy(&a.r, reply + HDR, RES);
	memcpy(a.payload, reply + HDR + RES, a.len - HDR - RES);
	ck_assert_uint_eq(a.h.magic, TK_CTL_MAGIC);
	ck_assert_uint_eq(a.h.version, TK_CTL_VERSION);
	ck_assert_uint_eq(a.h.flags, TK_CTL_F_REPLY);
	ck_assert_uint_eq(a.h.length, a.len);
	ck_assert_ptr_nonnull(memchr(a.r.message, '\0', sizeof(a.r.message)));
	return a;
}

START_TEST(test_header_errors)
{
	struct ctl_server *s = server(4, 4, 10, 10);
	struct ctl_peer p = peer_of(0, 0);
	unsigned char m[TK_CTL_MAX_MSG + 64];
	struct answer a;
	size_t n;

	memset(m, 0, sizeof(m));
	/* shorter than the header: every length 0..15 */
	for (size_t len = 0; len < HDR; len++) {
		a = ask(s, &p, m, len);
		ck_assert_int_eq(a.r.status, -EBADMSG);
		ck_assert_int_eq(a.verdict, CTL_CLOSE);
		ck_assert_ptr_nonnull(strstr(a.r.message, "shorter than the 16-byte header"));
	}
	n = build(m, 0x1234, 1, TK_CTL_HELLO, 0, NULL, 0);
	a = ask(s, &p, m, n);
	ck_assert_int_eq(a.r.status, -EBADMSG);
	ck_assert_int_eq(a.verdict, CTL_CLOSE);
	ck_assert_str_eq(a.r.message, "bad magic 0x1234, expected 0x4b54");
	ck_assert_uint_eq(a.h.seq, 77);

	n = build(m, TK_CTL_MAGIC, 2, TK_CTL_HELLO, 0, NULL, 0);
	a = ask(s, &p, m, n);
	ck_assert_int_eq(a.r.status, -EPROTONOSUPPORT);
	ck_assert_int_eq(a.verdict, CTL_CLOSE);
	ck_assert_uint_eq(a.h.version, TK_CTL_VERSION); /* a reply of its own version */
	ck_assert_ptr_nonnull(strstr(a.r.message, "version 2 not supported"));

	/* length field and packet disagree, both ways */
	n = build(m, TK_CTL_MAGIC, 1, TK_CTL_HELLO, 0, NULL, 0);
	a = ask(s, &p, m, n + 4);
	ck_assert_int_eq(a.r.status, -EBADMSG);
	ck_assert_int_eq(a.verdict, CTL_CLOSE);
	ck_assert_str_eq(a.r.message, "header length 16, but the packet has 20 bytes");
	((struct tk_ctl_hdr *)m)->length = 1000;
	a = ask(s, &p, m, n);
	ck_assert_int_eq(a.r.status, -EBADMSG);
	ck_assert_int_eq(a.verdict, CTL_CLOSE);

	/* oversized (recv with MSG_TRUNC reports the real size) */
	((struct tk_ctl_hdr *)m)->length = TK_CTL_MAX_MSG + 1;
	a = ask(s, &p, m, TK_CTL_MAX_MSG + 1);
	ck_assert_int_eq(a.r.status, -EMSGSIZE);
	ck_assert_int_eq(a.verdict, CTL_CLOSE);

	/* flags in a request: refused, connection kept */
	n = build(m, TK_CTL_MAGIC, 1, TK_CTL_HELLO, TK_CTL_F_REPLY, NULL, 0);
	a = ask(s, &p, m, n);
	ck_assert_int_eq(a.r.status, -EBADMSG);
	ck_assert_int_eq(a.verdict, CTL_KEEP);
	ck_assert_str_eq(a.r.message, "flags 0x0001 in a request, expected 0");

	/* unknown types */
	for (unsigned int t = 0; t < 0x200; t += 7) {
		if (ctl_request_size(t) >= 0)
			continue;
		n = build(m, TK_CTL_MAGIC, 1, (uint16_t)t, 0, NULL, 0);
		a = ask(s, &p, m, n);
		ck_assert_int_eq(a.r.status, -EOPNOTSUPP);
		ck_assert_int_eq(a.verdict, CTL_KEEP);
		ck_assert_uint_eq(a.h.type, t);
	}
	for (unsigned int i = 0; i < 0x200; i++)
		ck_assert_uint_eq(calls[i], 0);
	ctl_free(s);
}
END_TEST

static const unsigned int types[] = { TK_CTL_HELLO,	   TK_CTL_STATUS,    TK_CTL_SOURCES,
				      TK_CTL_TIMERS,	   TK_CTL_ADJTIME,   TK_CTL_SWITCH,
				      TK_CTL_UNBIND,	   TK_CTL_READMIT,   TK_CTL_RECALIBRATE,
				      TK_CTL_TIMER_CREATE, TK_CTL_TIMER_ARM, TK_CTL_TIMER_DISARM,
				      TK_CTL_TIMER_DELETE };

START_TEST(test_exact_sizes)
{
	struct ctl_server *s = server(4, 4, 10, 10);
	struct ctl_peer p = peer_of(0, 0);
	static unsigned char m[TK_CTL_MAX_MSG], zero[512];
	unsigned int t = types[_i];
	long want = ctl_request_size(t);
	struct answer a;
	size_t n;

	ctl_peer_decide(s, &p);
	ck_assert_int_ge(want, 0);
	/* one byte short, one byte long, far too long: refused, nothing called */
	for (long delta = -1; delta <= 300; delta += delta == 1 ? 299 : 2) {
		if (want + delta < 0)
			continue;
		n = build(m, TK_CTL_MAGIC, 1, (uint16_t)t, 0, zero, (size_t)(want + delta));
		a = ask(s, &p, m, n);
		ck_assert_int_eq(a.r.status, -EBADMSG);
		ck_assert_int_eq(a.verdict, CTL_KEEP);
		ck_assert_ptr_nonnull(strstr(a.r.message, "payload bytes, expected"));
		ck_assert_uint_eq(calls[t], 0);
	}
	/* exact: served */
	n = build(m, TK_CTL_MAGIC, 1, (uint16_t)t, 0, zero, (size_t)want);
	a = ask(s, &p, m, n);
	ck_assert_msg(a.r.status == 0, "type %#x: %d %s", t, a.r.status, a.r.message);
	ck_assert_int_eq(a.verdict, CTL_KEEP);
	ck_assert_uint_eq(a.h.type, t);
	ck_assert_uint_eq(a.h.seq, 77);
	if (t == TK_CTL_HELLO) {
		struct tk_ctl_hello h;

		ck_assert_uint_eq(a.len, HDR + RES + sizeof(h));
		memcpy(&h, a.payload, sizeof(h));
		ck_assert_int_eq(h.pid, getpid());
		ck_assert_uint_eq(h.version_min, TK_CTL_VERSION);
		ck_assert_uint_eq(h.may_change, 1); /* root */
		ck_assert_uint_eq(h.peer_uid, 0);
		ck_assert_int_eq(h.peer_pid, 99);
		ck_assert_str_eq(h.version, "test");
	} else {
		ck_assert_uint_eq(calls[t], 1);
		ck_assert_ptr_nonnull(strstr(a.r.message, "stub"));
	}
	if (t == TK_CTL_STATUS)
		ck_assert_uint_eq(a.len, HDR + RES + sizeof(struct tk_ctl_status));
	ctl_free(s);
}
END_TEST

START_TEST(test_names_nul)
{
	struct ctl_server *s = server(4, 4, 10, 10);
	struct ctl_peer p = peer_of(0, 0);
	unsigned char m[256];
	struct tk_ctl_name nm;
	struct answer a;
	size_t n;

	ctl_peer_decide(s, &p);
	for (unsigned int t = TK_CTL_SWITCH; t <= TK_CTL_READMIT; t++) {
		memset(&nm, 'A', sizeof(nm));
		n = build(m, TK_CTL_MAGIC, 1, (uint16_t)t, 0, &nm, sizeof(nm));
		a = ask(s, &p, m, n);
		ck_assert_int_eq(a.r.status, -EBADMSG);
		ck_assert_ptr_nonnull(
			strstr(a.r.message, "not NUL-terminated within its 32 bytes"));
		ck_assert_uint_eq(calls[t], 0);
		nm.name[31] = '\0'; /* the last byte suffices */
		n = build(m, TK_CTL_MAGIC, 1, (uint16_t)t, 0, &nm, sizeof(nm));
		a = ask(s, &p, m, n);
		ck_assert_int_eq(a.r.status, 0);
		ck_assert_uint_eq(calls[t], 1);
	}
	ck_assert_uint_eq(strlen(last_name), 31);
	ctl_free(s);
}
END_TEST

/* TIMER_CREATE's name is checked like a source name; without a socket the
 * handler sees no connection. Events and the client timers are for
 * everyone (queries, not changes). */
START_TEST(test_timer_create_name)
{
	struct ctl_server *s = server(4, 4, 10, 10);
	struct ctl_peer p = peer_of(1000, 1000);
	struct tk_ctl_timer_create tc;
	unsigned char m[256];
	struct answer a;
	size_t n;

	ctl_peer_decide(s, &p);
	ck_assert(!p.may_change);
	memset(&tc, 0, sizeof(tc));
	memset(tc.name, 'x', sizeof(tc.name));
	n = build(m, TK_CTL_MAGIC, 1, TK_CTL_TIMER_CREATE, 0, &tc, sizeof(tc));
	a = ask(s, &p, m, n);
	ck_assert_int_eq(a.r.status, -EBADMSG);
	ck_assert_ptr_nonnull(strstr(a.r.message, "TIMER_CREATE: name not NUL-terminated"));
	ck_assert_uint_eq(calls[TK_CTL_TIMER_CREATE], 0);
	tc.name[31] = '\0';
	n = build(m, TK_CTL_MAGIC, 1, TK_CTL_TIMER_CREATE, 0, &tc, sizeof(tc));
	last_client = (struct ctl_client *)&a; /* must be overwritten with NULL */
	a = ask(s, &p, m, n);
	ck_assert_int_eq(a.r.status, 0);
	ck_assert_uint_eq(calls[TK_CTL_TIMER_CREATE], 1);
	ck_assert_ptr_null(last_client);
	ctl_free(s);
}
END_TEST

START_TEST(test_permissions)
{
	struct ctl_server *s = server(4, 4, 10, 10);
	struct ctl_peer stranger = peer_of(1000, 1000), member = peer_of(1001, 1001),
			primary = peer_of(1002, 777), root = peer_of(0, 0), self = peer_of(4242, 5);
	unsigned char m[256];
	struct tk_ctl_name nm = { "hpet" };
	struct tk_ctl_timex tx = { 0 };
	struct answer a;
	size_t n;

	stranger.ngroups = 2;
	stranger.groups[0] = 24;
	stranger.groups[1] = 1000;
	member.ngroups = 3;
	member.groups[2] = 777;
	ctl_peer_decide(s, &stranger);
	ctl_peer_decide(s, &member);
	ctl_peer_decide(s, &primary);
	ctl_peer_decide(s, &root);
	ctl_peer_decide(s, &self);
	ck_assert(!stranger.may_change);
	ck_assert(member.may_change);
	ck_assert(primary.may_change);
	ck_assert(root.may_change);
	ck_assert(self.may_change);

	/* every change from the stranger: -EPERM, nothing called */
	for (unsigned int t = TK_CTL_SWITCH; t <= TK_CTL_RECALIBRATE; t++) {
		n = build(m, TK_CTL_MAGIC, 1, (uint16_t)t, 0, &nm,
			  t == TK_CTL_RECALIBRATE ? 0 : sizeof(nm));
		a = ask(s, &stranger, m, n);
		ck_assert_int_eq(a.r.status, -EPERM);
		ck_assert_str_eq(
			a.r.message,
			"permission denied: uid 1000 is not root and not in group tkgroup");
		ck_assert_uint_eq(calls[t], 0);
		a = ask(s, &member, m, n);
		ck_assert_int_eq(a.r.status, 0);
		ck_assert_uint_eq(calls[t], 1);
	}
	/* queries are for everyone, also adjtime reads (modes 0 and ADJ_OFFSET_SS_READ) */
	n = build(m, TK_CTL_MAGIC, 1, TK_CTL_STATUS, 0, NULL, 0);
	ck_assert_int_eq(ask(s, &stranger, m, n).r.status, 0);
	n = build(m, TK_CTL_MAGIC, 1, TK_CTL_ADJTIME, 0, &tx, sizeof(tx));
	ck_assert_int_eq(ask(s, &stranger, m, n).r.status, 0);
	tx.modes = ADJ_OFFSET_SS_READ;
	n = build(m, TK_CTL_MAGIC, 1, TK_CTL_ADJTIME, 0, &tx, sizeof(tx));
	ck_assert_int_eq(ask(s, &stranger, m, n).r.status, 0);
	ck_assert_uint_eq(calls[TK_CTL_ADJTIME], 2);
	tx.modes = ADJ_FREQUENCY;
	n = build(m, TK_CTL_MAGIC, 1, TK_CTL_ADJTIME, 0, &tx, sizeof(tx));
	ck_assert_int_eq(ask(s, &stranger, m, n).r.status, -EPERM);
	ck_assert_uint_eq(calls[TK_CTL_ADJTIME], 2);
	ck_assert_int_eq(ask(s, &self, m, n).r.status, 0);
	ck_assert_uint_eq(calls[TK_CTL_ADJTIME], 3);

	/* no control group: only root and the server's own uid */
	ctl_set_identity(s, 4242, (gid_t)-1);
	ctl_peer_decide(s, &member);
	ck_assert(!member.may_change);
	ctl_free(s);
}
END_TEST

START_TEST(test_bucket)
{
	struct ctl_bucket b = { 0 };
	int64_t t = 1000000000;
	int n = 0;

	while (ctl_bucket_take(&b, t, 10, 5))
		n++;
	ck_assert_int_eq(n, 5);				      /* a full bucket of burst */
	ck_assert(!ctl_bucket_take(&b, t + 50000000, 10, 5)); /* half a token */
	ck_assert(ctl_bucket_take(&b, t + 100000000, 10, 5)); /* 1/rate s later: one more */
	ck_assert(!ctl_bucket_take(&b, t + 100000000, 10, 5));
	/* a long pause refills to burst, not beyond */
	n = 0;
	while (ctl_bucket_take(&b, t + 3600 * INT64_C(1000000000), 10, 5))
		n++;
	ck_assert_int_eq(n, 5);
}
END_TEST

/* --- real sockets ------------------------------------------------------------ */

static int connect_to(const char path[96])
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* An unprivileged uid for the limit tests when they run as root (root has
 * reserved connections and no per-uid limit). */
#define TEST_UID 60100

/* connect_to() as an unprivileged user: as root, a child drops to
 * TEST_UID, connects (the credentials are taken at connect()) and hands
 * the connection back over SCM_RIGHTS. */
static int connect_user(const char path[96])
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	char z = 0;
	struct iovec iov = { &z, 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)
	};
	int sp[2], fd, status;
	pid_t pid;

	if (geteuid() != 0)
		return connect_to(path);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setresgid(TEST_UID, TEST_UID, TEST_UID) < 0 ||
		    setresuid(TEST_UID, TEST_UID, TEST_UID) < 0)
			_exit(2);
		fd = connect_to(path);
		mh.msg_controllen = CMSG_SPACE(sizeof(int));
		CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &fd, sizeof(int));
		_exit(sendmsg(sp[1], &mh, 0) == 1 ? 0 : 3);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(recvmsg(sp[0], &mh, 0), 1);
	ck_assert_ptr_nonnull(CMSG_FIRSTHDR(&mh));
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	close(sp[0]);
	close(sp[1]);
	return fd;
}

static uid_t user_uid(void)
{
	return geteuid() == 0 ? TEST_UID : geteuid();
}

static void spin(struct evl *l, int rounds)
{
	for (int i = 0; i < rounds; i++)
		evl_run_once(l, 20);
}

/* Receives one reply (non-blocking): its status, or 1 for EOF, 2 for nothing yet. */
static int reply_status(int fd, char *msg, size_t msglen)
{
	unsigned char buf[TK_CTL_MAX_MSG];
	struct tk_ctl_result r;
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n == 0)
		return 1;
	if (n < 0)
		return errno == EAGAIN ? 2 : 3;
	ck_assert_int_ge(n, (ssize_t)(HDR + RES));
	memcpy(&r, buf + HDR, RES);
	if (msg)
		snprintf(msg, msglen, "%s", r.message);
	return r.status;
}

static void send_hello(int fd)
{
	unsigned char m[HDR];

	build(m, TK_CTL_MAGIC, 1, TK_CTL_HELLO, 0, NULL, 0);
	ck_assert_int_eq(send(fd, m, HDR, MSG_NOSIGNAL), (ssize_t)HDR);
}

/* Events over a real connection: framing, back-pressure (-EAGAIN, a reply
 * kept until there is room, in order after the events), the writable hook,
 * and the gone hook on close. */
START_TEST(test_events_backpressure)
{
	struct ctl_server *s = server(4, 4, 1000, 1000);
	static unsigned char buf[TK_CTL_MAX_MSG];
	struct tk_ctl_timer_create tc = { 0 };
	struct tk_ctl_timer_events ev = { .count = 7 };
	struct tk_ctl_hdr h;
	struct ctl_client *cl;
	unsigned char m[256];
	struct evl *l;
	int fd, r = 0, sent = 0, got = 0, replies = 0;
	ssize_t n;

	ck_assert_int_eq(ctl_open(s), 0);
	ck_assert_int_eq(evl_new(&l), 0);
	ck_assert_int_eq(ctl_attach(s, l), 0);
	fd = connect_to(sockpath);
	spin(l, 2);
	build(m, TK_CTL_MAGIC, 1, TK_CTL_TIMER_CREATE, 0, &tc, sizeof(tc));
	ck_assert_int_eq(send(fd, m, HDR + sizeof(tc), 0), (ssize_t)(HDR + sizeof(tc)));
	spin(l, 2);
	ck_assert_int_eq(reply_status(fd, NULL, 0), 0);
	cl = last_client;
	ck_assert_ptr_nonnull(cl);
	ck_assert_int_eq(ctl_client_peer(cl)->pid, getpid());
	ck_assert_ptr_null(ctl_client_data(cl));
	ctl_client_set_data(cl, &ev);
	ck_assert_ptr_eq(ctl_client_data(cl), &ev);

	/* one event: the header says what it is */
	ck_assert_int_eq(ctl_send_event(cl, TK_CTL_EV_TIMER, &ev, sizeof(ev)), 0);
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	ck_assert_int_eq(n, (ssize_t)(HDR + sizeof(ev)));
	memcpy(&h, buf, HDR);
	ck_assert_uint_eq(h.type, TK_CTL_EV_TIMER);
	ck_assert_uint_eq(h.flags, TK_CTL_F_EVENT);
	ck_assert_uint_eq(h.seq, 0);
	ck_assert_uint_eq(h.length, n);
	ck_assert_int_eq(ctl_send_event(cl, TK_CTL_EV_TIMER, buf, TK_CTL_MAX_MSG), -EMSGSIZE);

	/* fill the socket: it ends in -EAGAIN, nothing blocks */
	for (int i = 0; i < 1000000; i++) {
		r = ctl_send_event(cl, TK_CTL_EV_TIMER, buf, 4096);
		if (r)
			break;
		sent++;
	}
	ck_assert_int_eq(r, -EAGAIN);
	ck_assert_int_gt(sent, 0);
	/* a request now: its reply has no room, is kept, and the client stays */
	send_hello(fd);
	spin(l, 3);
	ck_assert_uint_eq(ctl_clients(s), 1);
	ck_assert_int_eq(ctl_send_event(cl, TK_CTL_EV_TIMER, buf, 8), -EAGAIN);
	ck_assert_int_eq(ctl_client_want_write(cl, true), 0);
	/* the client reads everything: the events, then the reply */
	for (int i = 0; i < 200 && !replies; i++) {
		while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			memcpy(&h, buf, HDR);
			if (h.flags & TK_CTL_F_EVENT) {
				ck_assert_int_eq(replies, 0); /* no event after the reply */
				got++;
			} else {
				ck_assert_uint_eq(h.type, TK_CTL_HELLO);
				replies++;
			}
		}
		spin(l, 1);
	}
	ck_assert_int_eq(got, sent);
	ck_assert_int_eq(replies, 1);
	spin(l, 2);
	ck_assert_int_ge(writable_calls, 1);
	ck_assert_int_eq(ctl_send_event(cl, TK_CTL_EV_TIMER, &ev, sizeof(ev)), 0);

	/* gone: called with the connection when it closes */
	close(fd);
	spin(l, 3);
	ck_assert_uint_eq(ctl_clients(s), 0);
	ck_assert_ptr_eq(gone_client, cl);
	ctl_free(s);
	evl_free(l);
}
END_TEST

START_TEST(test_connection_limits)
{
	struct ctl_server *s = server(2, 16, 1000, 1000);
	struct evl *l;
	char msg[TK_CTL_MESSAGE_LEN];
	struct stat st;
	int a, b, c;

	ck_assert_int_eq(ctl_open(s), 0);
	ck_assert_int_eq(stat(sockpath, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0666);
	ck_assert_int_eq(evl_new(&l), 0);
	ck_assert_int_eq(ctl_attach(s, l), 0);
	a = connect_user(sockpath);
	b = connect_user(sockpath);
	spin(l, 3);
	ck_assert_uint_eq(ctl_clients(s), 2);
	c = connect_user(sockpath);
	spin(l, 3);
	ck_assert_uint_eq(ctl_clients(s), 2);
	ck_assert_int_eq(reply_status(c, msg, sizeof(msg)), -EMFILE);
	ck_assert_str_eq(msg, "server busy: 2 connections, the limit is 2 ([control] max_clients)");
	ck_assert_int_eq(reply_status(c, NULL, 0), 1); /* then closed */
	close(c);
	/* the others are still served */
	send_hello(a);
	spin(l, 2);
	ck_assert_int_eq(reply_status(a, NULL, 0), 0);
	close(a);
	close(b);
	spin(l, 3);
	ck_assert_uint_eq(ctl_clients(s), 0);
	ctl_free(s);
	ck_assert_int_ne(stat(sockpath, &st), 0); /* unlinked */
	evl_free(l);
}
END_TEST

START_TEST(test_per_uid_limit)
{
	struct ctl_server *s = server(8, 1, 1000, 1000);
	struct evl *l;
	char msg[TK_CTL_MESSAGE_LEN], want[TK_CTL_MESSAGE_LEN];
	int a, b;

	ck_assert_int_eq(ctl_open(s), 0);
	ck_assert_int_eq(evl_new(&l), 0);
	ck_assert_int_eq(ctl_attach(s, l), 0);
	a = connect_user(sockpath);
	spin(l, 2);
	b = connect_user(sockpath);
	spin(l, 2);
	ck_assert_int_eq(reply_status(b, msg, sizeof(msg)), -EUSERS);
	snprintf(want, sizeof(want),
		 "uid %u has 1 connections, the limit is 1 ([control] max_clients_per_uid)",
		 (unsigned int)user_uid());
	ck_assert_str_eq(msg, want);
	ck_assert_uint_eq(ctl_clients(s), 1);
	close(a);
	close(b);
	ctl_free(s);
	evl_free(l);
}
END_TEST

START_TEST(test_rate_limit_drops)
{
	struct ctl_server *s = server(8, 8, 1, 3);
	struct evl *l;
	char msg[TK_CTL_MESSAGE_LEN];
	int a, b, ok = 0, st;

	ck_assert_int_eq(ctl_open(s), 0);
	ck_assert_int_eq(evl_new(&l), 0);
	ck_assert_int_eq(ctl_attach(s, l), 0);
	a = connect_to(sockpath);
	b = connect_to(sockpath);
	for (int i = 0; i < 6; i++)
		send_hello(a);
	spin(l, 10);
	while ((st = reply_status(a, msg, sizeof(msg))) == 0)
		ok++;
	ck_assert_int_eq(ok, 3); /* the burst */
	ck_assert_int_eq(st, -ENOBUFS);
	ck_assert_ptr_nonnull(strstr(msg, "rate limit: more than 1 messages/s (burst 3)"));
	ck_assert_int_eq(reply_status(a, NULL, 0), 1);
	/* the other client is unaffected */
	send_hello(b);
	spin(l, 2);
	ck_assert_int_eq(reply_status(b, NULL, 0), 0);
	ck_assert_uint_eq(ctl_clients(s), 1);
	close(a);
	close(b);
	ctl_free(s);
	evl_free(l);
}
END_TEST

/* Garbage on a real connection: a reply, then a close; the server goes on. */
START_TEST(test_socket_bad_header_dropped)
{
	struct ctl_server *s = server(8, 8, 1000, 1000);
	struct evl *l;
	unsigned char junk[7] = "garbage";
	int a, b;

	ck_assert_int_eq(ctl_open(s), 0);
	ck_assert_int_eq(evl_new(&l), 0);
	ck_assert_int_eq(ctl_attach(s, l), 0);
	a = connect_to(sockpath);
	ck_assert_int_eq(send(a, junk, sizeof(junk), 0), 7);
	spin(l, 3);
	ck_assert_int_eq(reply_status(a, NULL, 0), -EBADMSG);
	ck_assert_int_eq(reply_status(a, NULL, 0), 1);
	b = connect_to(sockpath);
	send_hello(b);
	spin(l, 3);
	ck_assert_int_eq(reply_status(b, NULL, 0), 0);
	close(a);
	close(b);
	ctl_free(s);
	evl_free(l);
}
END_TEST

/* A server in a child, which says on a pipe once ctl_open() returned (the
 * socket listens by then) and serves until it is killed (or we die). */
static pid_t serve_in_child(void)
{
	struct pollfd pfd;
	int p[2];
	char c = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct ctl_server *s = server(8, 8, 1000, 1000);
		struct evl *l;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		if (ctl_open(s) < 0 || evl_new(&l) < 0 || ctl_attach(s, l) < 0)
			_exit(1);
		if (write(p[1], "l", 1) != 1)
			_exit(1);
		for (;;)
			evl_run_once(l, 1000);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	/* A generous deadline: only a broken child takes this long. */
	ck_assert_int_eq(poll(&pfd, 1, 60000), 1);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert_int_eq(c, 'l');
	close(p[0]);
	return pid;
}

START_TEST(test_precheck_live)
{
	pid_t other = -1, child;
	struct ctl_server *s;

	ck_assert_int_eq(ctl_precheck(sockpath, &other), 0); /* nothing there */
	child = serve_in_child();
	ck_assert_int_eq(ctl_precheck(sockpath, &other), -EADDRINUSE);
	ck_assert_int_eq(other, child);
	/* and open refuses to take the live server's place */
	s = server(8, 8, 1000, 1000);
	ck_assert_int_eq(ctl_open(s), -EADDRINUSE);
	ctl_free(s);
	ck_assert_int_eq(access(sockpath, F_OK), 0); /* not unlinked by the loser */
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* the dead server's file is stale now */
	ck_assert_int_eq(ctl_precheck(sockpath, &other), 0);
}
END_TEST

START_TEST(test_stale_socket_replaced)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_server *s;
	struct evl *l;
	pid_t other;
	int fd, c;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sockpath);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd); /* leaves the file behind, nobody listening */
	ck_assert_int_eq(ctl_precheck(sockpath, &other), 0);
	s = server(8, 8, 1000, 1000);
	ck_assert_int_eq(ctl_open(s), 0);
	ck_assert_int_eq(evl_new(&l), 0);
	ck_assert_int_eq(ctl_attach(s, l), 0);
	c = connect_to(sockpath);
	send_hello(c);
	spin(l, 2);
	ck_assert_int_eq(reply_status(c, NULL, 0), 0);
	close(c);
	ctl_free(s);
	evl_free(l);

	/* a regular file is not ours to remove */
	fd = open(sockpath, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	s = server(8, 8, 1000, 1000);
	ck_assert_int_eq(ctl_open(s), -EEXIST);
	ctl_free(s);
	ck_assert_int_eq(access(sockpath, F_OK), 0);
}
END_TEST

/* The socket file has its mode from bind() itself: 0666 under any umask
 * of ours, and no attribute change by path afterwards (which a writer of
 * the directory could have redirected): inotify sees the file created and
 * never an IN_ATTRIB on it. */
START_TEST(test_socket_mode_at_bind)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct ctl_server *s = server(8, 8, 1000, 1000);
	bool created = false, attrib = false;
	struct stat st;
	mode_t old = umask(077);
	ssize_t n;
	int in;

	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	ck_assert_int_ge(in, 0);
	ck_assert_int_ge(inotify_add_watch(in, tmpdir, IN_CREATE | IN_ATTRIB), 0);
	ck_assert_int_eq(ctl_open(s), 0);
	ck_assert_uint_eq(umask(old), 077); /* restored after the bind */
	ck_assert_int_eq(lstat(sockpath, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0666);
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;

			if (e->len && !strcmp(e->name, "control")) {
				created |= (e->mask & IN_CREATE) != 0;
				attrib |= (e->mask & IN_ATTRIB) != 0;
			}
			p += sizeof(*e) + e->len;
		}
	}
	ck_assert(created);
	ck_assert_msg(!attrib, "the socket's attributes were changed by path after bind()");
	close(in);
	ctl_free(s);
}
END_TEST

/* Polls the loop until the server has n clients (a generous deadline). */
static void wait_clients(struct ctl_server *s, struct evl *l, unsigned int n)
{
	for (int i = 0; i < 6000 && ctl_clients(s) != n; i++)
		evl_run_once(l, 10);
	ck_assert_uint_eq(ctl_clients(s), n);
}

/* Waits (polling the loop) for one reply on fd: its status. */
static int wait_reply(struct evl *l, int fd, char *msg, size_t len)
{
	int st = 2;

	for (int i = 0; i < 6000 && (st = reply_status(fd, msg, len)) == 2; i++)
		evl_run_once(l, 10);
	return st;
}

/* Idle connections without timers make room: with the server full, a new
 * connection closes the longest idle one (with a reason); a connection
 * holding something of the owner's (timers) is never closed. */
START_TEST(test_idle_make_room)
{
	struct ctl_server *s = server(2, 16, 1000, 1000);
	unsigned char m[HDR + sizeof(struct tk_ctl_timer_create)];
	struct tk_ctl_timer_create tc = { 0 };
	char msg[TK_CTL_MESSAGE_LEN];
	struct evl *l;
	int a, b, c, e;

	ck_assert_int_eq(ctl_open(s), 0);
	ck_assert_int_eq(evl_new(&l), 0);
	ck_assert_int_eq(ctl_attach(s, l), 0);
	ctl_set_idle_timeout(s, 1); /* 1 ns: every connection is idle at once */
	b = connect_user(sockpath);
	wait_clients(s, l, 1);
	build(m, TK_CTL_MAGIC, 1, TK_CTL_TIMER_CREATE, 0, &tc, sizeof(tc));
	ck_assert_int_eq(send(b, m, sizeof(m), MSG_NOSIGNAL), (ssize_t)sizeof(m));
	ck_assert_int_eq(wait_reply(l, b, NULL, 0), 0);
	ck_assert_ptr_nonnull(last_client);
	ctl_client_set_data(last_client, &calls); /* b holds timers now */
	a = connect_user(sockpath);
	wait_clients(s, l, 2);
	c = connect_user(sockpath); /* full: a goes, b stays */
	ck_assert_int_eq(wait_reply(l, a, msg, sizeof(msg)), -ETIMEDOUT);
	ck_assert_ptr_nonnull(strstr(msg, "idle connection without timers closed"));
	ck_assert_int_eq(wait_reply(l, a, NULL, 0), 1);
	wait_clients(s, l, 2);
	send_hello(c);
	ck_assert_int_eq(wait_reply(l, c, NULL, 0), 0);
	send_hello(b);
	ck_assert_int_eq(wait_reply(l, b, NULL, 0), 0);
	/* Without an idle timeout, a full server refuses as before. */
	ctl_set_idle_timeout(s, 0);
	e = connect_user(sockpath);
	ck_assert_int_eq(wait_reply(l, e, msg, sizeof(msg)), -EMFILE);
	close(a);
	close(b);
	close(c);
	close(e);
	ctl_free(s);
	evl_free(l);
}
END_TEST

/* Root is never locked out: four other uids hold 16 idle connections each,
 * the whole of max_clients = 64 (no idle timeout, so nothing makes room);
 * a fifth uid is refused, root still gets CTL_ROOT_RESERVED connections
 * and is served. Needs root (to connect as other uids). */
START_TEST(test_root_reserved)
{
	struct ctl_server *s = server(64, 16, 1000, 1000);
	char msg[TK_CTL_MESSAGE_LEN];
	int ready[2], done[2], r[CTL_ROOT_RESERVED + 1], x;
	pid_t kids[5];
	struct evl *l;

	ck_assert_int_eq(ctl_open(s), 0);
	ck_assert_int_eq(evl_new(&l), 0);
	ck_assert_int_eq(ctl_attach(s, l), 0);
	ctl_set_idle_timeout(s, 0);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(done), 0);
	for (int k = 0; k < 4; k++) {
		kids[k] = fork();
		ck_assert_int_ge(kids[k], 0);
		if (kids[k] == 0) {
			uid_t uid = 60001 + (uid_t)k;
			char z;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(done[1]); /* the parent's close is the signal to go */
			close(ready[0]);
			if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
				_exit(2);
			for (int i = 0; i < 16; i++)
				connect_to(sockpath); /* credentials are taken at connect() */
			if (write(ready[1], "r", 1) != 1)
				_exit(3);
			(void)!read(done[0], &z, 1); /* hold them until the parent is done */
			_exit(0);
		}
	}
	for (int k = 0; k < 4; k++) {
		char z;
		struct pollfd pfd = { .fd = ready[0], .events = POLLIN };

		ck_assert_int_eq(poll(&pfd, 1, 60000), 1);
		ck_assert_int_eq(read(ready[0], &z, 1), 1);
	}
	wait_clients(s, l, 64);
	/* A fifth unprivileged uid: refused, the server is full. */
	kids[4] = fork();
	ck_assert_int_ge(kids[4], 0);
	if (kids[4] == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (setresgid(60009, 60009, 60009) < 0 || setresuid(60009, 60009, 60009) < 0)
			_exit(2);
		x = connect_to(sockpath);
		for (int i = 0; i < 6000; i++) {
			int st = reply_status(x, NULL, 0);

			if (st != 2)
				_exit(st == -EMFILE ? 0 : 4);
			usleep(10000);
		}
		_exit(5);
	}
	{
		int status = -1;

		for (int i = 0; i < 6000 && waitpid(kids[4], &status, WNOHANG) == 0; i++)
			evl_run_once(l, 10);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	/* Root: served, CTL_ROOT_RESERVED times, then refused too. */
	for (int i = 0; i < CTL_ROOT_RESERVED; i++) {
		r[i] = connect_to(sockpath);
		wait_clients(s, l, 64 + (unsigned int)i + 1);
		send_hello(r[i]);
		ck_assert_int_eq(wait_reply(l, r[i], msg, sizeof(msg)), 0);
	}
	r[CTL_ROOT_RESERVED] = connect_to(sockpath);
	ck_assert_int_eq(wait_reply(l, r[CTL_ROOT_RESERVED], msg, sizeof(msg)), -EMFILE);
	for (int i = 0; i <= CTL_ROOT_RESERVED; i++)
		close(r[i]);
	close(done[1]);
	for (int k = 0; k < 4; k++) {
		int status;

		ck_assert_int_eq(waitpid(kids[k], &status, 0), kids[k]);
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	ctl_free(s);
	evl_free(l);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("handle");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_header_errors);
	tcase_add_loop_test(tc, test_exact_sizes, 0, sizeof(types) / sizeof(types[0]));
	tcase_add_test(tc, test_names_nul);
	tcase_add_test(tc, test_timer_create_name);
	tcase_add_test(tc, test_permissions);
	tcase_add_test(tc, test_bucket);
	suite_add_tcase(s, tc);

	tc = tcase_create("socket");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_connection_limits);
	tcase_add_test(tc, test_events_backpressure);
	tcase_add_test(tc, test_per_uid_limit);
	tcase_add_test(tc, test_rate_limit_drops);
	tcase_add_test(tc, test_socket_bad_header_dropped);
	tcase_add_test(tc, test_precheck_live);
	tcase_add_test(tc, test_stale_socket_replaced);
	tcase_add_test(tc, test_socket_mode_at_bind);
	tcase_add_test(tc, test_idle_make_room);
	if (geteuid() == 0)
		tcase_add_test(tc, test_root_reserved);
	else
		printf("# test_root_reserved skipped: not root (it connects as other uids)\n");
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
