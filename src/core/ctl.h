/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ctl: the server side of the control protocol (<timekeeper/control.h>),
 * generic over what it controls. It owns the listening Unix SOCK_SEQPACKET
 * socket and its clients, reads each peer's credentials, enforces the
 * connection limits and a token bucket per client, checks every message's
 * framing and exact size, decides who may change things (root, the
 * daemon's own euid, members of the control group) and hands valid
 * requests to the owner's callbacks (struct ctl_ops). A client that breaks
 * the framing or a limit gets one reply with the reason and is dropped;
 * nothing a client sends reaches the owner unchecked. The owner may also
 * send events (TK_CTL_F_EVENT) on a connection its handler saw
 * (ctl_send_event(), never blocking: -EAGAIN when the socket is full, then
 * the writable hook), attach data to it, and is told when it goes.
 *
 * ctl_handle() is the pure core (no I/O): the socket path, the unit tests
 * and the fuzzer all go through it. Library code: returns -errno, does
 * not print; the owner logs.
 */
#ifndef TK_CORE_CTL_H
#define TK_CORE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "timekeeper/control.h"

struct evl;
struct ctl_server;
struct ctl_client; /* one connection, opaque to the owner */

#define CTL_MAX_GROUPS 64 /* supplementary groups kept per peer */
/* Connections root may open beyond max_clients (and it has no per-uid limit). */
#define CTL_ROOT_RESERVED 4
/* A connection that sent nothing for this long and holds no timers (no
 * owner data) is closed when its slot is needed for a new connection. */
#define CTL_IDLE_NS (30LL * 1000000000)

/* ctl_handle()'s verdict on the connection. */
#define CTL_KEEP 0
#define CTL_CLOSE 1

/* Who is on the other end (SO_PEERCRED, SO_PEERGROUPS). */
struct ctl_peer {
	uint32_t uid, gid;
	int32_t pid;
	uint32_t ngroups; /* of groups[] (the rest are not kept) */
	uint32_t groups[CTL_MAX_GROUPS];
	bool may_change; /* set by ctl_peer_decide() */
};

/* One request, already checked, as a handler sees it. */
struct ctl_call {
	const struct ctl_peer *peer;
	uint16_t type;	 /* TK_CTL_* */
	const void *req; /* the payload, of exactly the type's size (NULL for none) */
	void *out;	 /* the reply payload, after struct tk_ctl_result */
	size_t out_cap;	 /* bytes available at out */
	size_t out_len;	 /* set by the handler: bytes of out used (only sent when status is 0) */
	char *msg;	 /* the result's message, TK_CTL_MESSAGE_LEN bytes, "" on entry */
	struct ctl_client *client; /* the connection; NULL from ctl_handle() (no socket) */
	int out_fd; /* -1 on entry; a descriptor the handler lends to be passed with a
		     * successful reply (SCM_RIGHTS; not sent by ctl_handle()) */
};

/* Returns 0 or -errno (the reply's status); writes one line into c->msg. */
typedef int (*ctl_fn)(void *ctx, struct ctl_call *c);

/* The owner's handlers. NULL: the type answers -EOPNOTSUPP. HELLO is answered
 * by the server itself; `hello` may add to it (c->out is a filled
 * struct tk_ctl_hello). Name payloads are NUL-terminated when a handler
 * sees them; ADJTIME sees changes only from peers that may change. */
struct ctl_ops {
	ctl_fn hello, status, sources, timers, adjtime;
	ctl_fn switch_source, unbind, readmit, recalibrate;
	ctl_fn ntp;	   /* TK_CTL_NTP */
	ctl_fn page_fd;	   /* TK_CTL_PAGE_FD: sets c->out_fd */
	ctl_fn ntp_server; /* TK_CTL_NTP_SERVER */
	/* Client timers: the handlers get c->client (NULL without a socket). */
	ctl_fn timer_create, timer_arm, timer_disarm, timer_delete;
	/* The connection asked for with ctl_client_want_write() can take more. */
	void (*writable)(void *ctx, struct ctl_client *c);
	/* The connection is closing: forget what is attached to it (its data).
	 * Called once, before the client is freed; sending is no longer possible. */
	void (*gone)(void *ctx, struct ctl_client *c);
};

struct ctl_conf {
	const char *path;	  /* the socket file */
	const char *group;	  /* control group name; NULL or "" = none */
	unsigned int max_clients; /* connections at once */
	unsigned int max_clients_per_uid;
	uint64_t rate_limit; /* messages per second per client */
	uint64_t rate_burst; /* bucket size */
	const char *version; /* for HELLO (PACKAGE_VERSION) */
};

/* A token bucket: rate tokens per second, at most burst. */
struct ctl_bucket {
	double tokens;
	int64_t last_ns;
};

/* Makes a server (no socket yet). Resolves the group's gid (getgrnam): see
 * ctl_group_found(). Returns 0, -EINVAL or -ENOMEM. The strings in conf
 * are copied. */
int ctl_new(struct ctl_server **out, const struct ctl_conf *conf, const struct ctl_ops *ops,
	    void *ctx);
/* Closes every client and the socket; unlinks the socket file if it is still
 * the one ctl_open() bound. NULL is ok. */
void ctl_free(struct ctl_server *s);

/* False when the configured group does not exist (it then grants nothing). */
bool ctl_group_found(const struct ctl_server *s);

/* Tests: who counts as the server itself (default: geteuid() at each
 * decision) and which gid is the control group ((gid_t)-1: none). */
void ctl_set_identity(struct ctl_server *s, uid_t own_uid, gid_t group_gid);

/* Tests: the idle time after which a connection may be closed for a new
 * one (default CTL_IDLE_NS; 0 or less: never). */
void ctl_set_idle_timeout(struct ctl_server *s, int64_t idle_ns);

/* Sets p->may_change: root, the server's euid, or group membership
 * (primary or supplementary). */
void ctl_peer_decide(const struct ctl_server *s, struct ctl_peer *p);

/*
 * Before opening: connects to path. 0 when nothing answers (no file, or a
 * stale one: ECONNREFUSED); -EADDRINUSE when a server answers, with its pid
 * in *other_pid (from its HELLO reply, else SO_PEERCRED; 0 if unknown);
 * another -errno when path cannot be checked (e.g. -EACCES).
 */
int ctl_precheck(const char *path, pid_t *other_pid);

/* Unlinks a stale socket at the path, binds (the file is created 0666 by
 * bind() itself, never changed by path afterwards), listens. 0 or -errno;
 * -EADDRINUSE when a live server answers there. */
int ctl_open(struct ctl_server *s);
/* The listening fd (-1 before ctl_open()). */
int ctl_fd(const struct ctl_server *s);
/* Watches the socket and its clients from l. 0 or -errno. */
int ctl_attach(struct ctl_server *s, struct evl *l);
/* Clients connected now. */
unsigned int ctl_clients(const struct ctl_server *s);

/*
 * The pure core: one received packet. msg holds min(len, TK_CTL_MAX_MSG)
 * bytes; len is the packet's real size (recv with MSG_TRUNC). Fills reply (8-byte aligned,
 * TK_CTL_MAX_MSG bytes) with header, result and payload, sets *reply_len
 * (always a full reply, at least header + result), and returns CTL_KEEP or
 * CTL_CLOSE (unusable header, unsupported version: drop after the reply).
 */
int ctl_handle(struct ctl_server *s, const struct ctl_peer *peer, const void *msg, size_t len,
	       void *reply, size_t *reply_len);

/* ctl_handle() for a request that arrived on the connection c (handlers see
 * it in ctl_call.client). */
int ctl_handle_client(struct ctl_server *s, struct ctl_client *c, const void *msg, size_t len,
		      void *reply, size_t *reply_len);

/* What the owner attaches to a connection (NULL at first). */
void ctl_client_set_data(struct ctl_client *c, void *data);
void *ctl_client_data(const struct ctl_client *c);
const struct ctl_peer *ctl_client_peer(const struct ctl_client *c);

/*
 * Sends one event (hdr.flags TK_CTL_F_EVENT, seq 0) of the given type and
 * payload on c, without blocking. 0 when sent; -EAGAIN when the socket is
 * full or a reply is waiting to be sent (nothing was sent: retry from the
 * writable hook after ctl_client_want_write()); -EMSGSIZE for a payload
 * over TK_CTL_MAX_MSG; -EPIPE or another -errno when the connection is
 * broken (it is then dropped from the loop soon, and `gone` is called).
 */
int ctl_send_event(struct ctl_client *c, uint16_t type, const void *payload, size_t len);

/* Watch c for EPOLLOUT (on) and call ops->writable when it can take more;
 * the watch stays until turned off. 0 or -errno. */
int ctl_client_want_write(struct ctl_client *c, bool on);

/* Fills an unsolicited reply (type 0, seq 0) with status and message: the
 * refusals sent when a limit is hit. Returns its length. */
size_t ctl_refusal(void *reply, int status, const char *message);

/* Token bucket: true when a message at now_ns is within rate/burst (and
 * takes a token). A fresh bucket (zeroed) is full. */
bool ctl_bucket_take(struct ctl_bucket *b, int64_t now_ns, uint64_t rate, uint64_t burst);

/* The request payload size of a type, -1 for an unknown type. */
long ctl_request_size(unsigned int type);

#endif
