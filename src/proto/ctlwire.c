// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ctlwire: the control protocol's framing (see ctlwire.h). Every packet is
 * hostile until checked: lengths are compared before anything past them is
 * read, and fields are copied out with memcpy (a packet buffer need not be
 * aligned for the structs).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/tunit.h"
#include "proto/ctlwire.h"
#include "timekeeper/page.h"

static void say(char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !why_len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

/* --- building ---------------------------------------------------------------- */

void ctlw_hdr_init(struct tk_ctl_hdr *h, uint16_t type, uint16_t flags, uint32_t seq,
		   size_t payload_len)
{
	memset(h, 0, sizeof(*h));
	h->magic = TK_CTL_MAGIC;
	h->version = TK_CTL_VERSION;
	h->type = type;
	h->flags = flags;
	h->length = (uint32_t)(CTLW_HDR_LEN + payload_len);
	h->seq = seq;
}

size_t ctlw_build_result(void *buf, uint16_t type, uint32_t seq, int status, const char *message)
{
	struct tk_ctl_hdr h;
	struct tk_ctl_result r;

	ctlw_hdr_init(&h, type, TK_CTL_F_REPLY, seq, CTLW_RES_LEN);
	memset(&r, 0, sizeof(r));
	r.status = status;
	snprintf(r.message, sizeof(r.message), "%s", message ? message : "");
	memcpy(buf, &h, CTLW_HDR_LEN);
	memcpy((unsigned char *)buf + CTLW_HDR_LEN, &r, CTLW_RES_LEN);
	return CTLW_REPLY_MIN;
}

/* --- the request table --------------------------------------------------------- */

/* Every request type: its name for messages, the exact size of its payload,
 * and where a name field sits in it (NAME_NONE: no name). */
#define NAME_NONE ((size_t)-1)
static const struct ctlw_type {
	uint16_t type;
	const char *name;
	size_t req_size;
	size_t name_off;
} ctlw_types[] = {
	{ TK_CTL_HELLO, "HELLO", 0, NAME_NONE },
	{ TK_CTL_STATUS, "STATUS", 0, NAME_NONE },
	{ TK_CTL_SOURCES, "SOURCES", 0, NAME_NONE },
	{ TK_CTL_TIMERS, "TIMERS", sizeof(struct tk_ctl_timers_req), NAME_NONE },
	{ TK_CTL_ADJTIME, "ADJTIME", sizeof(struct tk_ctl_timex), NAME_NONE },
	{ TK_CTL_NTP, "NTP", 0, NAME_NONE },
	{ TK_CTL_PAGE_FD, "PAGE_FD", 0, NAME_NONE },
	{ TK_CTL_NTP_SERVER, "NTP_SERVER", 0, NAME_NONE },
	{ TK_CTL_TIMER_CREATE, "TIMER_CREATE", sizeof(struct tk_ctl_timer_create),
	  offsetof(struct tk_ctl_timer_create, name) },
	{ TK_CTL_TIMER_ARM, "TIMER_ARM", sizeof(struct tk_ctl_timer_arm), NAME_NONE },
	{ TK_CTL_TIMER_DISARM, "TIMER_DISARM", sizeof(struct tk_ctl_timer_id), NAME_NONE },
	{ TK_CTL_TIMER_DELETE, "TIMER_DELETE", sizeof(struct tk_ctl_timer_id), NAME_NONE },
	{ TK_CTL_SWITCH, "SWITCH", sizeof(struct tk_ctl_name), offsetof(struct tk_ctl_name, name) },
	{ TK_CTL_UNBIND, "UNBIND", sizeof(struct tk_ctl_name), offsetof(struct tk_ctl_name, name) },
	{ TK_CTL_READMIT, "READMIT", sizeof(struct tk_ctl_name),
	  offsetof(struct tk_ctl_name, name) },
	{ TK_CTL_RECALIBRATE, "RECALIBRATE", 0, NAME_NONE },
};

static const struct ctlw_type *type_of(unsigned int type)
{
	for (size_t i = 0; i < sizeof(ctlw_types) / sizeof(ctlw_types[0]); i++)
		if (ctlw_types[i].type == type)
			return &ctlw_types[i];
	return NULL;
}

long ctlw_request_size(unsigned int type)
{
	const struct ctlw_type *t = type_of(type);

	return t ? (long)t->req_size : -1;
}

const char *ctlw_type_name(unsigned int type)
{
	const struct ctlw_type *t = type_of(type);

	return t ? t->name : "unknown";
}

const char *ctlw_mode_name(int32_t mode)
{
	switch (mode) {
	case TK_PAGE_MODE_NONE:
		return "none";
	case TK_PAGE_MODE_TSC:
		return "tsc";
	case TK_PAGE_MODE_KCLOCK:
		return "kclock";
	default:
		return "unknown";
	}
}

const char *ctlw_ref_name(uint32_t ref)
{
	switch (ref) {
	case TK_CTL_REF_NONE:
		return "none";
	case TK_CTL_REF_SYSTEM:
		return "system";
	case TK_CTL_REF_NTP:
		return "ntp";
	default:
		return "unknown";
	}
}

bool ctlw_is_change(unsigned int type, const void *req, size_t req_len)
{
	struct tk_ctl_timex tx;

	if (TK_CTL_T_IS_CHANGE(type))
		return true;
	if (type != TK_CTL_ADJTIME || !req || req_len < sizeof(tx))
		return false;
	memcpy(&tx, req, sizeof(tx));
	return tx.modes != 0 && tx.modes != ADJ_OFFSET_SS_READ;
}

/* --- checking ------------------------------------------------------------------ */

int ctlw_check_hdr(const void *msg, size_t len, struct tk_ctl_hdr *h, char *why, size_t why_len)
{
	memset(h, 0, sizeof(*h));
	if (len < CTLW_HDR_LEN) {
		say(why, why_len, "message of %zu bytes, shorter than the %zu-byte header", len,
		    CTLW_HDR_LEN);
		return -EBADMSG;
	}
	memcpy(h, msg, CTLW_HDR_LEN);
	if (h->magic != TK_CTL_MAGIC) {
		say(why, why_len, "bad magic 0x%04x, expected 0x%04x", h->magic, TK_CTL_MAGIC);
		return -EBADMSG;
	}
	if (h->version != TK_CTL_VERSION) {
		say(why, why_len, "protocol version %u not supported, expected %u", h->version,
		    TK_CTL_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (len > TK_CTL_MAX_MSG) {
		say(why, why_len, "message of %zu bytes, larger than the %u-byte maximum", len,
		    TK_CTL_MAX_MSG);
		return -EMSGSIZE;
	}
	if (h->length != len) {
		say(why, why_len, "header length %u, but the packet has %zu bytes", h->length, len);
		return -EBADMSG;
	}
	return 0;
}

int ctlw_check_request(const void *msg, size_t len, const struct tk_ctl_hdr *h, char *why,
		       size_t why_len)
{
	const struct ctlw_type *t;
	const unsigned char *p = (const unsigned char *)msg + CTLW_HDR_LEN;

	if (h->flags != 0) {
		say(why, why_len, "flags 0x%04x in a request, expected 0", h->flags);
		return -EBADMSG;
	}
	t = type_of(h->type);
	if (!t) {
		say(why, why_len, "unknown message type 0x%x", h->type);
		return -EOPNOTSUPP;
	}
	if (len < CTLW_HDR_LEN || len - CTLW_HDR_LEN != t->req_size) {
		say(why, why_len, "%s request with %zu payload bytes, expected %zu", t->name,
		    len < CTLW_HDR_LEN ? 0 : len - CTLW_HDR_LEN, t->req_size);
		return -EBADMSG;
	}
	if (t->name_off != NAME_NONE && !memchr(p + t->name_off, '\0', TK_CTL_NAME_LEN)) {
		say(why, why_len, "%s: name not NUL-terminated within its %d bytes", t->name,
		    TK_CTL_NAME_LEN);
		return -EBADMSG;
	}
	return 0;
}

int ctlw_check_reply(const void *msg, size_t len, const struct tk_ctl_hdr *h, uint16_t type,
		     uint32_t seq, struct tk_ctl_result *res, char *why, size_t why_len)
{
	memset(res, 0, sizeof(*res));
	if (!(h->flags & TK_CTL_F_REPLY) || (h->flags & TK_CTL_F_EVENT)) {
		say(why, why_len, "message 0x%x with flags 0x%04x, expected a reply", h->type,
		    h->flags);
		return -EBADMSG;
	}
	if (len < CTLW_REPLY_MIN) {
		say(why, why_len, "reply of %zu bytes, shorter than header and result (%zu)", len,
		    CTLW_REPLY_MIN);
		return -EBADMSG;
	}
	if (h->type != type || h->seq != seq) {
		say(why, why_len, "reply to type 0x%x seq %u, expected type 0x%x seq %u", h->type,
		    h->seq, type, seq);
		return -EBADMSG;
	}
	memcpy(res, (const unsigned char *)msg + CTLW_HDR_LEN, CTLW_RES_LEN);
	if (res->status > 0 || res->status < -CTLW_MAX_ERRNO) {
		say(why, why_len, "reply status %d, expected 0 or -errno", res->status);
		return -EBADMSG;
	}
	return 0;
}

int ctlw_check_payload(const void *payload, size_t len, size_t fixed_len, size_t elem_len,
		       size_t count_off, uint32_t *count, char *why, size_t why_len)
{
	uint32_t n = 0;
	size_t want = fixed_len;

	if (count)
		*count = 0;
	if (elem_len) {
		if (len < fixed_len || count_off + sizeof(n) > fixed_len) {
			say(why, why_len, "payload of %zu bytes, shorter than its %zu-byte head",
			    len, fixed_len);
			return -EBADMSG;
		}
		memcpy(&n, (const unsigned char *)payload + count_off, sizeof(n));
		if (fixed_len > TK_CTL_MAX_MSG || n > (TK_CTL_MAX_MSG - fixed_len) / elem_len) {
			say(why, why_len, "payload claims %u records, too many", n);
			return -EBADMSG;
		}
		want = fixed_len + (size_t)n * elem_len;
	}
	if (len != want) {
		say(why, why_len, "payload of %zu bytes, expected %zu", len, want);
		return -EBADMSG;
	}
	if (count)
		*count = n;
	return 0;
}

int ctlw_client_err(int check)
{
	return check == -EPROTONOSUPPORT ? -EPROTONOSUPPORT : -EPROTO;
}

const char *ctlw_strerror(int status)
{
	switch (status) {
	case 0:
		return "success";
	case -EPROTONOSUPPORT:
		return "control protocol version not supported by the other side";
	case -EBADMSG:
		return "malformed control message";
	case -EMSGSIZE:
		return "control message too large";
	case -EOPNOTSUPP:
		return "request not supported by this daemon";
	default:
		return status < 0 && status >= -CTLW_MAX_ERRNO ? strerror(-status)
							       : "invalid status";
	}
}

void ctlw_copy_str(char *dst, size_t dst_len, const char *src, size_t src_len)
{
	size_t i;

	if (!dst_len)
		return;
	for (i = 0; i < src_len && i + 1 < dst_len && src[i]; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	dst[i] = '\0';
}

/* --- the socket steps of a client ---------------------------------------------- */

int ctlw_connect(const char *path, int flags)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	int fd, r;

	if (n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, n + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | flags, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int ctlw_send(int fd, uint16_t type, uint16_t flags, uint32_t seq, const void *req, size_t req_len)
{
	struct tk_ctl_hdr h;
	struct iovec iov[2];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = req_len ? 2 : 1 };
	ssize_t n;

	if (req_len > TK_CTL_MAX_MSG - CTLW_HDR_LEN)
		return -EMSGSIZE;
	ctlw_hdr_init(&h, type, flags, seq, req_len);
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)req;
	iov[1].iov_len = req_len;
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EPIPE || errno == ECONNRESET ? -ECONNRESET : -errno;
	if ((size_t)n != h.length)
		return -EPROTO;
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts_to_ns(&ts) / NSEC_PER_MSEC;
}

int ctlw_wait(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t deadline = timeout_ms < 0 ? 0 : mono_ms() + timeout_ms;
	int left = timeout_ms, r;

	for (;;) {
		r = poll(&pfd, 1, left);
		if (r >= 0)
			return r > 0;
		if (errno != EINTR)
			return -errno;
		if (timeout_ms >= 0) {
			int64_t l = deadline - mono_ms();

			left = l < 0 ? 0 : (int)l;
		}
	}
}

ssize_t ctlw_recv(int fd, void *buf, size_t cap, int rflags, int *fd_out)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { buf, cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *ch;
	ssize_t n;

	if (fd_out) {
		*fd_out = -1;
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
	}
	do
		n = recvmsg(fd, &mh, rflags | MSG_TRUNC | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EWOULDBLOCK)
			return -EAGAIN;
		return errno == ECONNRESET || errno == EPIPE ? -ECONNRESET : -errno;
	}
	for (ch = fd_out ? CMSG_FIRSTHDR(&mh) : NULL; ch; ch = CMSG_NXTHDR(&mh, ch)) {
		if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int got;

			memcpy(&got, CMSG_DATA(ch) + i * sizeof(int), sizeof(int));
			if (*fd_out < 0)
				*fd_out = got;
			else
				close(got); /* one was asked for */
		}
	}
	if (fd_out && *fd_out >= 0 && (mh.msg_flags & MSG_CTRUNC)) {
		close(*fd_out);
		*fd_out = -1;
	}
	if (n == 0) {
		if (fd_out && *fd_out >= 0) {
			close(*fd_out);
			*fd_out = -1;
		}
		return -ECONNRESET;
	}
	return n;
}

int ctlw_peer_cred(int fd, uint32_t *uid, uint32_t *gid, pid_t *pid)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	if (uid)
		*uid = uc.uid;
	if (gid)
		*gid = uc.gid;
	if (pid)
		*pid = uc.pid;
	return 0;
}
