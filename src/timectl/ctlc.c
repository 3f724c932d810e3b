// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ctlc: the control protocol client of timectl (see ctlc.h), on the shared
 * framing of proto/ctlwire.h. One request is outstanding at a time; a
 * reply whose seq is not ours is a protocol error, not something to skip,
 * since the server answers in order.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timectl/ctlc.h"

int ctlc_open(struct ctlc *c, const char *path)
{
	c->fd = -1;
	c->seq = (uint32_t)getpid() << 8;
	c->buf = malloc(CTLW_RX_LEN);
	if (!c->buf)
		return -ENOMEM;
	c->fd = ctlw_connect(path, 0);
	if (c->fd < 0) {
		int err = c->fd;

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

static int fail(struct ctlc_reply *r, int err, const char *what)
{
	snprintf(r->error, sizeof(r->error), "%s", what);
	return err;
}

int ctlc_call(struct ctlc *c, uint16_t type, const void *req, size_t req_len, size_t fixed_len,
	      size_t elem_len, size_t count_off, struct ctlc_reply *r)
{
	struct tk_ctl_hdr hdr;
	struct tk_ctl_result res;
	ssize_t n;
	int err;

	memset(r, 0, sizeof(*r));
	err = ctlw_send(c->fd, type, 0, ++c->seq, req, req_len);
	if (err == -EMSGSIZE)
		return fail(r, err, "request too large");
	if (err == -EPROTO)
		return fail(r, err, "request sent only in part");
	if (err < 0)
		return fail(r, err, "send failed");
	err = ctlw_wait(c->fd, CTLC_TIMEOUT_MS);
	if (err < 0)
		return fail(r, err, "poll failed");
	if (err == 0)
		return fail(r, -ETIMEDOUT, "no reply");
	n = ctlw_recv(c->fd, c->buf, CTLW_RX_LEN, 0, NULL);
	if (n == -ECONNRESET)
		return fail(r, -ECONNRESET, "the daemon closed the connection");
	if (n < 0)
		return fail(r, (int)n, "recv failed");
	err = ctlw_check_hdr(c->buf, (size_t)n, &hdr, r->error, sizeof(r->error));
	r->server_version = hdr.version;
	if (err == -EPROTONOSUPPORT) {
		/* The daemon answers another version with a refusal in its own:
		 * keep its message when the packet is one that can be read. */
		if ((size_t)n >= CTLW_REPLY_MIN && (size_t)n <= TK_CTL_MAX_MSG) {
			memcpy(&res, c->buf + CTLW_HDR_LEN, sizeof(res));
			r->status = res.status;
			ctlw_copy_str(r->message, sizeof(r->message), res.message,
				      sizeof(res.message));
		}
		snprintf(r->error, sizeof(r->error),
			 "the daemon speaks control protocol version %u, timectl speaks %u",
			 hdr.version, TK_CTL_VERSION);
	}
	if (err < 0)
		return ctlw_client_err(err);
	err = ctlw_check_reply(c->buf, (size_t)n, &hdr, type, c->seq, &res, r->error,
			       sizeof(r->error));
	if (err < 0)
		return ctlw_client_err(err);
	r->status = res.status;
	ctlw_copy_str(r->message, sizeof(r->message), res.message, sizeof(res.message));
	if (res.status == -EPROTONOSUPPORT) {
		snprintf(r->error, sizeof(r->error),
			 "the daemon does not speak control protocol version %u", TK_CTL_VERSION);
		return -EPROTONOSUPPORT;
	}
	r->payload = c->buf + CTLW_REPLY_MIN;
	r->payload_len = (size_t)n - CTLW_REPLY_MIN;
	if (res.status != 0)
		return 0; /* a refusal carries no payload we use */
	err = ctlw_check_payload(r->payload, r->payload_len, fixed_len, elem_len, count_off, NULL,
				 r->error, sizeof(r->error));
	return err < 0 ? ctlw_client_err(err) : 0;
}
