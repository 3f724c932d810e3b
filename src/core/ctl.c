// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ctl: the control socket's server (see ctl.h). Two halves: ctl_handle(),
 * which turns one received packet into one reply without touching any
 * file descriptor, and the socket half (listen, accept with credentials and
 * limits, a token bucket per client, send, drop) driven by the event loop.
 * Every byte from a client is treated as hostile: lengths are compared
 * before anything is read, payloads are copied into aligned storage, names
 * are checked for their NUL, and a client that cannot be understood is
 * disconnected without affecting anyone else.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/ctl.h"
#include "core/evl.h"
#include "core/tunit.h"
#include "proto/ctlwire.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

#define HDR_LEN CTLW_HDR_LEN
#define RES_LEN CTLW_RES_LEN
#define PRECHECK_TIMEOUT_MS 1000
#define ACCEPT_BATCH 64 /* connections accepted per wake-up */
#define DRAIN_MAX 1024	/* unread packets discarded before a close */
#define SOCK_UMASK 0111 /* bind() makes the socket file 0777 & ~umask: 0666 */

struct ctl_client {
	struct ctl_client *next;
	struct ctl_server *s;
	int fd;
	struct ctl_peer peer;
	struct ctl_bucket bucket;
	void *data;		/* the owner's */
	bool want_write;	/* the owner watches EPOLLOUT */
	uint32_t events;	/* what the loop watches now */
	unsigned char *pending; /* a reply the socket had no room for */
	size_t pending_len;
	int64_t last_ns; /* CLOCK_MONOTONIC of the accept or the last request */
};

struct ctl_server {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char group[64];
	char version[32];
	unsigned int max_clients, max_clients_per_uid;
	uint64_t rate_limit, rate_burst;
	struct ctl_ops ops;
	void *ctx;
	bool has_group;
	gid_t group_gid;
	bool own_uid_set;
	uid_t own_uid;
	int fd;
	bool bound;
	dev_t bound_dev;
	ino_t bound_ino;
	struct evl *loop;
	struct ctl_client *clients;
	unsigned int nclients;
	int64_t idle_ns; /* an idle connection may be closed for a new one after this */
	_Alignas(16) unsigned char rx[TK_CTL_MAX_MSG];
	_Alignas(16) unsigned char tx[TK_CTL_MAX_MSG]; /* handlers write structs here */
	int tx_fd; /* a descriptor to pass with the reply in tx (borrowed), or -1 */
};

/* Request payloads, copied here so that handlers see aligned structs. */
union ctl_payload {
	struct tk_ctl_timers_req timers;
	struct tk_ctl_timex tx;
	struct tk_ctl_name name;
	struct tk_ctl_timer_create tcreate;
	struct tk_ctl_timer_arm tarm;
	struct tk_ctl_timer_id tid;
};

/* The handler in struct ctl_ops of every request type the server knows
 * (names and sizes are the protocol's, in proto/ctlwire.c). */
#define T(type, fn)                                                                                \
	{                                                                                          \
		type, offsetof(struct ctl_ops, fn)                                                 \
	}
static const struct ctl_type {
	uint16_t type;
	size_t handler; /* offset of a ctl_fn in struct ctl_ops */
} ctl_types[] = {
	T(TK_CTL_HELLO, hello),
	T(TK_CTL_STATUS, status),
	T(TK_CTL_SOURCES, sources),
	T(TK_CTL_TIMERS, timers),
	T(TK_CTL_ADJTIME, adjtime),
	T(TK_CTL_NTP, ntp),
	T(TK_CTL_PAGE_FD, page_fd),
	T(TK_CTL_NTP_SERVER, ntp_server),
	T(TK_CTL_TIMER_CREATE, timer_create),
	T(TK_CTL_TIMER_ARM, timer_arm),
	T(TK_CTL_TIMER_DISARM, timer_disarm),
	T(TK_CTL_TIMER_DELETE, timer_delete),
	T(TK_CTL_SWITCH, switch_source),
	T(TK_CTL_UNBIND, unbind),
	T(TK_CTL_READMIT, readmit),
	T(TK_CTL_RECALIBRATE, recalibrate),
};
#undef T

static const struct ctl_type *type_of(unsigned int type)
{
	for (size_t i = 0; i < sizeof(ctl_types) / sizeof(ctl_types[0]); i++)
		if (ctl_types[i].type == type)
			return &ctl_types[i];
	return NULL;
}

long ctl_request_size(unsigned int type)
{
	return ctlw_request_size(type);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

int ctl_new(struct ctl_server **out, const struct ctl_conf *conf, const struct ctl_ops *ops,
	    void *ctx)
{
	struct ctl_server *s;

	*out = NULL;
	if (!conf || !conf->path || strlen(conf->path) >= sizeof(s->path) || !conf->max_clients ||
	    !conf->max_clients_per_uid || !conf->rate_limit || !conf->rate_burst)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	copy_str(s->path, sizeof(s->path), conf->path);
	copy_str(s->group, sizeof(s->group), conf->group);
	copy_str(s->version, sizeof(s->version), conf->version);
	s->max_clients = conf->max_clients;
	s->max_clients_per_uid = conf->max_clients_per_uid;
	s->rate_limit = conf->rate_limit;
	s->rate_burst = conf->rate_burst;
	if (ops)
		s->ops = *ops;
	s->ctx = ctx;
	s->fd = -1;
	s->tx_fd = -1;
	s->idle_ns = CTL_IDLE_NS;
	if (s->group[0]) {
		struct group *g = getgrnam(s->group);

		if (g) {
			s->has_group = true;
			s->group_gid = g->gr_gid;
		}
	}
	*out = s;
	return 0;
}

bool ctl_group_found(const struct ctl_server *s)
{
	return s->has_group;
}

void ctl_set_identity(struct ctl_server *s, uid_t own_uid, gid_t group_gid)
{
	s->own_uid_set = true;
	s->own_uid = own_uid;
	s->has_group = group_gid != (gid_t)-1;
	s->group_gid = group_gid;
}

void ctl_set_idle_timeout(struct ctl_server *s, int64_t idle_ns)
{
	s->idle_ns = idle_ns;
}

void ctl_peer_decide(const struct ctl_server *s, struct ctl_peer *p)
{
	uid_t own = s->own_uid_set ? s->own_uid : geteuid();
	uint32_t n = p->ngroups < CTL_MAX_GROUPS ? p->ngroups : CTL_MAX_GROUPS;

	p->may_change = false;
	if (p->uid == 0 || p->uid == (uint32_t)own) {
		p->may_change = true;
		return;
	}
	if (!s->has_group)
		return;
	if (p->gid == (uint32_t)s->group_gid) {
		p->may_change = true;
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		if (p->groups[i] == (uint32_t)s->group_gid)
			p->may_change = true;
}

/* --- the pure core ---------------------------------------------------------- */

size_t ctl_refusal(void *reply, int status, const char *message)
{
	return ctlw_build_result(reply, 0, 0, status, message);
}

static ctl_fn handler_of(const struct ctl_ops *ops, unsigned int type)
{
	const struct ctl_type *t = type_of(type);

	return t ? *(const ctl_fn *)((const char *)ops + t->handler) : NULL;
}

static void fill_hello(const struct ctl_server *s, const struct ctl_peer *peer,
		       struct tk_ctl_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->version_min = TK_CTL_VERSION;
	h->version_max = TK_CTL_VERSION;
	h->pid = (int32_t)getpid();
	h->may_change = peer->may_change;
	h->peer_uid = peer->uid;
	h->peer_gid = peer->gid;
	h->peer_pid = peer->pid;
	copy_str(h->version, sizeof(h->version), s->version);
}

static int handle(struct ctl_server *s, const struct ctl_peer *peer, struct ctl_client *client,
		  const void *msg, size_t len, void *reply, size_t *reply_len)
{
	struct tk_ctl_hdr h;
	struct tk_ctl_hdr *rh = reply;
	struct tk_ctl_result *res = (struct tk_ctl_result *)(rh + 1);
	unsigned char *out = (unsigned char *)(res + 1);
	union ctl_payload p;
	struct ctl_call c = { 0 };
	long want;
	int close_after = CTL_KEEP;
	int status;
	ctl_fn fn;

	*reply_len = ctlw_build_result(reply, 0, 0, 0, NULL);
	memset(&p, 0, sizeof(p));
	s->tx_fd = -1;

#define FAIL(st, cl, ...)                                                                          \
	do {                                                                                       \
		status = (st);                                                                     \
		close_after = (cl);                                                                \
		snprintf(res->message, sizeof(res->message), __VA_ARGS__);                         \
		goto done;                                                                         \
	} while (0)

	/* An unusable header (short, magic, version, size, length) closes the
	 * connection; a request the header frames but that is wrong does not. */
	status = ctlw_check_hdr(msg, len, &h, res->message, sizeof(res->message));
	rh->type = h.type;
	rh->seq = h.seq;
	if (status == -EPROTONOSUPPORT)
		snprintf(res->message, sizeof(res->message),
			 "protocol version %u not supported, this server speaks %u..%u", h.version,
			 TK_CTL_VERSION, TK_CTL_VERSION);
	if (status < 0) {
		close_after = CTL_CLOSE;
		goto done;
	}
	status = ctlw_check_request(msg, len, &h, res->message, sizeof(res->message));
	if (status < 0)
		goto done;
	want = ctlw_request_size(h.type);
	if (want)
		memcpy(&p, (const unsigned char *)msg + HDR_LEN, (size_t)want);
	if (ctlw_is_change(h.type, &p, (size_t)want) && !peer->may_change)
		FAIL(-EPERM, CTL_KEEP,
		     "permission denied: uid %u is not root and not in group %s%s", peer->uid,
		     s->group[0] ? s->group : "(none)",
		     s->group[0] && !s->has_group ? " (no such group)" : "");

	c.peer = peer;
	c.client = client;
	c.type = h.type;
	c.req = want ? &p : NULL;
	c.out = out;
	c.out_cap = TK_CTL_MAX_MSG - HDR_LEN - RES_LEN;
	c.msg = res->message;
	c.out_fd = -1;
	fn = handler_of(&s->ops, h.type);
	if (h.type == TK_CTL_HELLO) {
		fill_hello(s, peer, (struct tk_ctl_hello *)out);
		c.out_len = sizeof(struct tk_ctl_hello);
		snprintf(res->message, sizeof(res->message), "timekeeperd %s, protocol %u",
			 s->version, TK_CTL_VERSION);
		status = fn ? fn(s->ctx, &c) : 0;
	} else if (!fn) {
		FAIL(-EOPNOTSUPP, CTL_KEEP, "%s is not supported by this server",
		     ctlw_type_name(h.type));
	} else {
		status = fn(s->ctx, &c);
	}
	res->message[sizeof(res->message) - 1] = '\0';
	if (status > 0)
		status = 0;
	if (status == 0) {
		if (c.out_len > c.out_cap)
			c.out_len = c.out_cap;
		*reply_len += c.out_len;
		s->tx_fd = c.out_fd;
	}
#undef FAIL
done:
	res->status = status;
	rh->length = (uint32_t)*reply_len;
	return close_after;
}

int ctl_handle(struct ctl_server *s, const struct ctl_peer *peer, const void *msg, size_t len,
	       void *reply, size_t *reply_len)
{
	return handle(s, peer, NULL, msg, len, reply, reply_len);
}

int ctl_handle_client(struct ctl_server *s, struct ctl_client *c, const void *msg, size_t len,
		      void *reply, size_t *reply_len)
{
	return handle(s, &c->peer, c, msg, len, reply, reply_len);
}

void ctl_client_set_data(struct ctl_client *c, void *data)
{
	c->data = data;
}

void *ctl_client_data(const struct ctl_client *c)
{
	return c->data;
}

const struct ctl_peer *ctl_client_peer(const struct ctl_client *c)
{
	return &c->peer;
}

/* --- token bucket ------------------------------------------------------------ */

bool ctl_bucket_take(struct ctl_bucket *b, int64_t now_ns, uint64_t rate, uint64_t burst)
{
	if (b->last_ns == 0 && b->tokens == 0) {
		b->tokens = (double)burst;
	} else if (now_ns > b->last_ns) {
		b->tokens += (double)(now_ns - b->last_ns) * (double)rate / 1e9;
		if (b->tokens > (double)burst)
			b->tokens = (double)burst;
	}
	b->last_ns = now_ns;
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

/* --- sockets ----------------------------------------------------------------- */

static int make_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

int ctl_precheck(const char *path, pid_t *other_pid)
{
	_Alignas(8) unsigned char buf[CTLW_REPLY_MIN + sizeof(struct tk_ctl_hello)];
	struct tk_ctl_hdr rh;
	struct tk_ctl_result res;
	struct tk_ctl_hello hl;
	pid_t pid;
	ssize_t n;
	int fd;

	*other_pid = 0;
	fd = ctlw_connect(path, 0);
	if (fd < 0)
		return fd == -ENOENT || fd == -ECONNREFUSED ? 0 : fd;
	if (ctlw_peer_cred(fd, NULL, NULL, &pid) == 0)
		*other_pid = pid;
	if (ctlw_send(fd, TK_CTL_HELLO, 0, 1, NULL, 0) == 0 &&
	    ctlw_wait(fd, PRECHECK_TIMEOUT_MS) == 1) {
		n = ctlw_recv(fd, buf, sizeof(buf), MSG_DONTWAIT, NULL);
		if (n == (ssize_t)sizeof(buf) &&
		    ctlw_check_hdr(buf, (size_t)n, &rh, NULL, 0) == 0 &&
		    ctlw_check_reply(buf, (size_t)n, &rh, TK_CTL_HELLO, 1, &res, NULL, 0) == 0 &&
		    res.status == 0) {
			memcpy(&hl, buf + CTLW_REPLY_MIN, sizeof(hl));
			if (hl.pid > 0)
				*other_pid = hl.pid;
		}
	}
	close(fd);
	return -EADDRINUSE;
}

/* The socket file gets its mode from bind() itself: under a umask of 0111
 * the kernel creates it 0666, so no chmod() by path follows, which a
 * writer of the directory could have pointed at another file between the
 * two calls. bind() never follows a symbolic link at the path (EADDRINUSE).
 * The umask is process-wide; it is changed only around the one call, and
 * the daemon opens the socket before anything else runs (no other thread
 * exists yet). The file is then compared by fstat() of the bound socket's
 * name: what is at the path must be our socket. */
static int bind_0666(int fd, const struct sockaddr_un *sa)
{
	mode_t old = umask(SOCK_UMASK);
	int r = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int err = errno;

	umask(old);
	errno = err;
	return r;
}

int ctl_open(struct ctl_server *s)
{
	struct sockaddr_un sa;
	struct stat st;
	pid_t other;
	int r, fd;

	r = make_addr(&sa, s->path);
	if (r < 0)
		return r;
	if (lstat(s->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		r = ctl_precheck(s->path, &other);
		if (r < 0)
			return r;
		if (unlink(s->path) < 0 && errno != ENOENT)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind_0666(fd, &sa) < 0)
		goto fail;
	/* lstat: a name that is no longer our socket is not unlinked later. */
	if (lstat(s->path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		r = -EEXIST;
		close(fd);
		return r;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		unlink(s->path);
		close(fd);
		return r;
	}
	s->fd = fd;
	s->bound = true;
	s->bound_dev = st.st_dev;
	s->bound_ino = st.st_ino;
	return 0;
fail:
	r = -errno;
	close(fd);
	return r;
}

int ctl_fd(const struct ctl_server *s)
{
	return s->fd;
}

unsigned int ctl_clients(const struct ctl_server *s)
{
	return s->nclients;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts_to_ns(&ts);
}

/* Closing with unread packets queued resets the connection (the peer's next
 * recv fails with ECONNRESET before it reads our last reply). So: shut our
 * receiving side first, after which the peer's sends fail with EPIPE and
 * nothing more can arrive, discard what is queued, then close. */
static void close_fd(int fd)
{
	shutdown(fd, SHUT_RD);
	for (int i = 0; i < DRAIN_MAX; i++)
		if (recv(fd, NULL, 0, MSG_DONTWAIT | MSG_TRUNC) <= 0)
			break;
	close(fd);
}

static void drop_client(struct ctl_server *s, struct ctl_client *c)
{
	struct ctl_client **pp;

	for (pp = &s->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (s->ops.gone)
		s->ops.gone(s->ctx, c);
	if (s->loop)
		evl_del_fd(s->loop, c->fd);
	close_fd(c->fd);
	s->nclients--;
	free(c->pending);
	free(c);
}

static void refuse(int fd, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void refuse(int fd, int status, const char *fmt, ...)
{
	unsigned char buf[HDR_LEN + RES_LEN];
	char msg[TK_CTL_MESSAGE_LEN];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = ctl_refusal(buf, status, msg);
	(void)!send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	close_fd(fd);
}

/* Credentials of a new connection; the control group is kept among the
 * first CTL_MAX_GROUPS even when the peer has more groups. */
static int read_peer(const struct ctl_server *s, int fd, struct ctl_peer *p)
{
	gid_t small[CTL_MAX_GROUPS];
	gid_t *g = small;
	socklen_t glen = sizeof(small);
	pid_t pid;
	size_t n;
	int r;

	memset(p, 0, sizeof(*p));
	r = ctlw_peer_cred(fd, &p->uid, &p->gid, &pid);
	if (r < 0)
		return r;
	p->pid = (int32_t)pid;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &glen) < 0) {
		if (errno != ERANGE)
			glen = 0;
		else if (!(g = malloc(glen)) ||
			 getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &glen) < 0)
			glen = 0;
	}
	n = glen / sizeof(gid_t);
	for (size_t i = 0; i < n; i++) {
		if (p->ngroups < CTL_MAX_GROUPS)
			p->groups[p->ngroups++] = g[i];
		else if (s->has_group && g[i] == s->group_gid)
			p->groups[CTL_MAX_GROUPS - 1] = g[i];
	}
	if (g != small)
		free(g);
	ctl_peer_decide(s, p);
	return 0;
}

/* What the loop watches on c: requests unless a reply waits for room,
 * writability while a reply waits or the owner asked for it. */
static void update_events(struct ctl_client *c)
{
	uint32_t ev = (c->pending ? 0 : EPOLLIN) | (c->pending || c->want_write ? EPOLLOUT : 0);

	if (ev == c->events)
		return;
	if (c->s->loop && evl_mod_fd(c->s->loop, c->fd, ev) < 0)
		return;
	c->events = ev;
}

/* Sends a reply; when the socket is full (the client has not read its
 * events yet) the reply is kept and the client is not read from until it
 * went out, so a client never loses a reply to the events queued before it.
 * false: the connection is broken. */
static bool send_reply(struct ctl_client *c, const void *buf, size_t len)
{
	ssize_t n = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n == (ssize_t)len)
		return true;
	if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		return false;
	c->pending = malloc(len);
	if (!c->pending)
		return false;
	memcpy(c->pending, buf, len);
	c->pending_len = len;
	update_events(c);
	return true;
}

/* A reply with a descriptor (SCM_RIGHTS). It is not kept when the socket
 * is full: false then, and the client, dropped, falls back as documented. */
static bool send_reply_fd(struct ctl_client *c, const void *buf, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);

	memset(&cm, 0, sizeof(cm));
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(ch), &fd, sizeof(int));
	return !c->pending && sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len;
}

/* The kept reply, once there is room. false: the connection is broken. */
static bool flush_pending(struct ctl_client *c)
{
	ssize_t n;

	if (!c->pending)
		return true;
	n = send(c->fd, c->pending, c->pending_len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return true;
	if (n != (ssize_t)c->pending_len)
		return false;
	free(c->pending);
	c->pending = NULL;
	c->pending_len = 0;
	update_events(c);
	return true;
}

int ctl_send_event(struct ctl_client *c, uint16_t type, const void *payload, size_t len)
{
	struct tk_ctl_hdr h;
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	ssize_t n;

	if (len > TK_CTL_MAX_MSG - HDR_LEN)
		return -EMSGSIZE;
	if (c->pending)
		return -EAGAIN;
	ctlw_hdr_init(&h, type, TK_CTL_F_EVENT, 0, len);
	n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == (ssize_t)h.length)
		return 0;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -EAGAIN;
	return n < 0 ? -errno : -EPIPE;
}

int ctl_client_want_write(struct ctl_client *c, bool on)
{
	c->want_write = on;
	update_events(c);
	return 0;
}

static void on_client(struct evl *l, int fd, uint32_t revents, void *ctx)
{
	struct ctl_client *c = ctx;
	struct ctl_server *s = c->s;
	struct tk_ctl_hdr h = { 0 };
	size_t out_len;
	ssize_t n;
	int verdict;

	if (revents & EPOLLOUT) {
		if (!flush_pending(c)) {
			drop_client(s, c);
			return;
		}
		if (!c->pending && c->want_write && s->ops.writable)
			s->ops.writable(s->ctx, c);
	}
	if (!(revents & EPOLLIN) || c->pending) {
		if ((revents & (EPOLLERR | EPOLLHUP)) && !(revents & EPOLLIN))
			drop_client(s, c);
		return;
	}
	n = recv(fd, s->rx, sizeof(s->rx), MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* EOF (or an empty packet, which no request is), or an error */
		drop_client(s, c);
		return;
	}
	c->last_ns = mono_ns();
	if (!ctl_bucket_take(&c->bucket, mono_ns(), s->rate_limit, s->rate_burst)) {
		char msg[TK_CTL_MESSAGE_LEN];

		snprintf(msg, sizeof(msg),
			 "rate limit: more than %llu messages/s (burst %llu) on this connection; "
			 "disconnected",
			 (unsigned long long)s->rate_limit, (unsigned long long)s->rate_burst);
		if ((size_t)n >= sizeof(h))
			memcpy(&h, s->rx, sizeof(h));
		out_len = ctlw_build_result(s->tx, h.type, h.seq, -ENOBUFS, msg);
		(void)!send(fd, s->tx, out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		drop_client(s, c);
		return;
	}
	verdict = ctl_handle_client(s, c, s->rx, (size_t)n, s->tx, &out_len);
	if (s->tx_fd >= 0) {
		if (!send_reply_fd(c, s->tx, out_len, s->tx_fd))
			drop_client(s, c);
		return;
	}
	if (!send_reply(c, s->tx, out_len) || verdict == CTL_CLOSE)
		drop_client(s, c);
}

/* A connection that sent nothing for the idle time and holds nothing of
 * the owner's (no data attached: no timers) is closed with a reason, to
 * make room for a new one. Oldest first; uid (uint32_t)-1: any uid.
 * true when one was closed. */
static bool close_idle(struct ctl_server *s, uint32_t uid)
{
	struct ctl_client *c, *old = NULL;
	int64_t now = mono_ns();

	if (s->idle_ns <= 0)
		return false;
	for (c = s->clients; c; c = c->next) {
		if (c->data || c->pending || (uid != (uint32_t)-1 && c->peer.uid != uid))
			continue;
		if (now - c->last_ns < s->idle_ns)
			continue;
		if (!old || c->last_ns < old->last_ns)
			old = c;
	}
	if (!old)
		return false;
	ctl_refusal(s->tx, -ETIMEDOUT,
		    "idle connection without timers closed to make room for another");
	(void)!send(old->fd, s->tx, HDR_LEN + RES_LEN, MSG_DONTWAIT | MSG_NOSIGNAL);
	drop_client(s, old);
	return true;
}

static unsigned int count_uid(const struct ctl_server *s, uint32_t uid)
{
	unsigned int same = 0;

	for (const struct ctl_client *c = s->clients; c; c = c->next)
		same += c->peer.uid == uid;
	return same;
}

/* Limits: max_clients connections of users other than root; root has
 * CTL_ROOT_RESERVED more of its own, so no number of other users' idle
 * connections can lock it out; max_clients_per_uid applies to every uid
 * but root's. When a limit is reached, an idle connection of the same
 * kind (the same uid for the per-uid limit) makes room first. */
static void accept_one(struct ctl_server *s, int fd)
{
	struct ctl_client *c;
	struct ctl_peer p;
	unsigned int same, cap;

	if (read_peer(s, fd, &p) < 0) {
		close(fd);
		return;
	}
	cap = s->max_clients + (p.uid == 0 ? CTL_ROOT_RESERVED : 0);
	if (s->nclients >= cap)
		close_idle(s, (uint32_t)-1);
	if (s->nclients >= cap) {
		refuse(fd, -EMFILE,
		       "server busy: %u connections, the limit is %u ([control] max_clients)",
		       s->nclients, s->max_clients);
		return;
	}
	same = count_uid(s, p.uid);
	if (p.uid != 0 && same >= s->max_clients_per_uid && close_idle(s, p.uid))
		same--;
	if (p.uid != 0 && same >= s->max_clients_per_uid) {
		refuse(fd, -EUSERS,
		       "uid %u has %u connections, the limit is %u ([control] max_clients_per_uid)",
		       p.uid, same, s->max_clients_per_uid);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		refuse(fd, -ENOMEM, "out of memory");
		return;
	}
	c->s = s;
	c->fd = fd;
	c->peer = p;
	c->events = EPOLLIN;
	c->last_ns = mono_ns();
	if (s->loop && evl_add_fd(s->loop, fd, EPOLLIN, on_client, c) < 0) {
		free(c);
		refuse(fd, -ENOMEM, "cannot watch the connection");
		return;
	}
	c->next = s->clients;
	s->clients = c;
	s->nclients++;
}

static void on_listen(struct evl *l, int fd, uint32_t revents, void *ctx)
{
	struct ctl_server *s = ctx;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0)
			return; /* EAGAIN, or out of fds: the backlog waits */
		accept_one(s, cfd);
	}
}

int ctl_attach(struct ctl_server *s, struct evl *l)
{
	int r;

	if (s->fd < 0)
		return -EBADF;
	r = evl_add_fd(l, s->fd, EPOLLIN, on_listen, s);
	if (r < 0)
		return r;
	s->loop = l;
	return 0;
}

void ctl_free(struct ctl_server *s)
{
	struct stat st;

	if (!s)
		return;
	while (s->clients)
		drop_client(s, s->clients);
	if (s->fd >= 0) {
		if (s->loop)
			evl_del_fd(s->loop, s->fd);
		close(s->fd);
	}
	if (s->bound && stat(s->path, &st) == 0 && st.st_dev == s->bound_dev &&
	    st.st_ino == s->bound_ino)
		unlink(s->path);
	free(s);
}
