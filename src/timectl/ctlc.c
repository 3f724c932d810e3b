// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ctlc: the control protocol client of timectl (see ctlc.h). One request
 * is outstanding at a time; a reply whose seq is not ours is a protocol
 * error, not something to skip, since the server answers in order.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "timectl/ctlc.h"

int ctlc_open(struct ctlc *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int err;

	c->fd = -1;
	c->seq = (uint32_t)getpid() << 8;
	c->buf = malloc(TK_CTL_MAX_MSG + 1);
	if (!c->buf)
		return -ENOMEM;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		ctlc_close(c);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = -errno;
		ctlc_close(c);
		return err;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		ctlc_close(c);
		return err;
	}
	return 0;
}

void ctlc_close(struct ctlc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

void ctlc_copy_str(char *dst, size_t dst_len, const char *src, size_t src_len)
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

static int fail(struct ctlc_reply *r, int err, const char *what)
{
	snprintf(r->error, sizeof(r->error), "%s", what);
	return err;
}

int ctlc_call(struct ctlc *c, uint16_t type, const void *req, size_t req_len, size_t fixed_len,
	      size_t elem_len, size_t count_off, struct ctlc_reply *r)
{
	const size_t min = sizeof(struct tk_ctl_hdr) + sizeof(struct tk_ctl_result);
	struct tk_ctl_hdr hdr;
	struct tk_ctl_result res;
	struct pollfd pfd;
	ssize_t n;
	size_t len = sizeof(hdr) + req_len, want;
	int pr;

	memset(r, 0, sizeof(*r));
	if (len > TK_CTL_MAX_MSG)
		return fail(r, -EMSGSIZE, "request too large");
	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = TK_CTL_MAGIC;
	hdr.version = TK_CTL_VERSION;
	hdr.type = type;
	hdr.length = (uint32_t)len;
	hdr.seq = ++c->seq;
	memcpy(c->buf, &hdr, sizeof(hdr));
	if (req_len)
		memcpy(c->buf + sizeof(hdr), req, req_len);
	n = send(c->fd, c->buf, len, MSG_NOSIGNAL);
	if (n < 0)
		return fail(r, errno == EPIPE ? -ECONNRESET : -errno, "send failed");
	if ((size_t)n != len)
		return fail(r, -EPROTO, "request sent only in part");

	pfd.fd = c->fd;
	pfd.events = POLLIN;
	do
		pr = poll(&pfd, 1, CTLC_TIMEOUT_MS);
	while (pr < 0 && errno == EINTR);
	if (pr < 0)
		return fail(r, -errno, "poll failed");
	if (pr == 0)
		return fail(r, -ETIMEDOUT, "no reply");
	/* MSG_TRUNC: n is the packet's real length even when it did not fit. */
	n = recv(c->fd, c->buf, TK_CTL_MAX_MSG + 1, MSG_TRUNC);
	if (n < 0)
		return fail(r, -errno, "recv failed");
	if (n == 0)
		return fail(r, -ECONNRESET, "the daemon closed the connection");
	if ((size_t)n > TK_CTL_MAX_MSG) {
		snprintf(r->error, sizeof(r->error), "reply of %zd bytes exceeds the %u-byte maximum",
			 n, TK_CTL_MAX_MSG);
		return -EPROTO;
	}
	if ((size_t)n < min) {
		snprintf(r->error, sizeof(r->error),
			 "reply of %zd bytes, shorter than header and result (%zu)", n, min);
		return -EPROTO;
	}
	memcpy(&hdr, c->buf, sizeof(hdr));
	memcpy(&res, c->buf + sizeof(hdr), sizeof(res));
	if (hdr.magic != TK_CTL_MAGIC) {
		snprintf(r->error, sizeof(r->error), "reply magic 0x%04x, expected 0x%04x", hdr.magic,
			 TK_CTL_MAGIC);
		return -EPROTO;
	}
	if (hdr.length != (size_t)n) {
		snprintf(r->error, sizeof(r->error), "reply header says %u bytes, packet has %zd",
			 hdr.length, n);
		return -EPROTO;
	}
	r->server_version = hdr.version;
	r->status = res.status;
	ctlc_copy_str(r->message, sizeof(r->message), res.message, sizeof(res.message));
	if (hdr.version != TK_CTL_VERSION) {
		snprintf(r->error, sizeof(r->error),
			 "the daemon speaks control protocol version %u, timectl version %u",
			 hdr.version, TK_CTL_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (!(hdr.flags & TK_CTL_F_REPLY)) {
		snprintf(r->error, sizeof(r->error), "message 0x%x without the reply flag", hdr.type);
		return -EPROTO;
	}
	if (hdr.seq != c->seq || hdr.type != type) {
		snprintf(r->error, sizeof(r->error),
			 "reply to type 0x%x seq %u, expected type 0x%x seq %u", hdr.type, hdr.seq,
			 type, c->seq);
		return -EPROTO;
	}
	if (res.status > 0) {
		snprintf(r->error, sizeof(r->error), "reply status %d, expected 0 or -errno",
			 res.status);
		return -EPROTO;
	}
	r->payload = c->buf + min;
	r->payload_len = (size_t)n - min;
	if (res.status != 0)
		return 0; /* a refusal carries no payload we use */
	want = fixed_len;
	if (elem_len) {
		uint32_t count;

		if (r->payload_len < fixed_len) {
			snprintf(r->error, sizeof(r->error),
				 "reply payload of %zu bytes, shorter than its %zu-byte head",
				 r->payload_len, fixed_len);
			return -EPROTO;
		}
		memcpy(&count, r->payload + count_off, sizeof(count));
		if (count > (TK_CTL_MAX_MSG - min - fixed_len) / elem_len) {
			snprintf(r->error, sizeof(r->error), "reply claims %u records, too many",
				 count);
			return -EPROTO;
		}
		want = fixed_len + (size_t)count * elem_len;
	}
	if (r->payload_len != want) {
		snprintf(r->error, sizeof(r->error), "reply payload of %zu bytes, expected %zu",
			 r->payload_len, want);
		return -EPROTO;
	}
	return 0;
}
