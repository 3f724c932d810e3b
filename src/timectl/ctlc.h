/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ctlc: timectl's side of the control protocol (timekeeper/control.h).
 * It connects to the daemon's SOCK_SEQPACKET socket, sends one request at
 * a time and checks every reply with the shared framing (proto/ctlwire.h)
 * before anything reads it: the whole packet arrived (not truncated),
 * length matches it, magic, version, the reply flag, the echoed type and
 * seq, the result block, and the payload size the caller expects. The
 * daemon's message is copied out NUL-terminated and with non-printable
 * bytes replaced (ctlw_copy_str(), which timectl also uses for the
 * payloads' strings), whatever the daemon put in the array.
 * Library-style: returns 0 or -errno and leaves printing to the caller,
 * with a description of what was wrong in ctlc_reply.error.
 */
#ifndef TIMECTL_CTLC_H
#define TIMECTL_CTLC_H

#include <stddef.h>
#include <stdint.h>

#include "proto/ctlwire.h"
#include "timekeeper/control.h"

#define CTLC_TIMEOUT_MS 5000 /* a daemon that does not answer within this is reported */

struct ctlc_reply {
	int32_t status;			  /* the daemon's: 0 or -errno */
	char message[TK_CTL_MESSAGE_LEN]; /* the daemon's, NUL-terminated, printable */
	const uint8_t *payload;		  /* after tk_ctl_result; valid until the next call */
	size_t payload_len;
	uint16_t server_version; /* of the reply header */
	char error[160];	 /* when ctlc_call fails: what was wrong */
};

struct ctlc {
	int fd;
	uint32_t seq;
	uint8_t *buf; /* TK_CTL_MAX_MSG + 1 */
};

/* -errno of socket()/connect(); the path is <runtime_dir>/control. */
int ctlc_open(struct ctlc *c, const char *path);
void ctlc_close(struct ctlc *c);

/*
 * Sends type with req (req_len bytes) and waits for the reply. On 0 the
 * reply is well-formed; r->status says what the daemon did. When status is
 * 0 the payload length is checked: exactly fixed_len, or, with elem_len
 * non-zero, fixed_len + count * elem_len where count is the uint32_t at
 * count_off of the payload. Errors: -ETIMEDOUT (no reply), -ECONNRESET
 * (the daemon closed), -EPROTO (a malformed reply, r->error says how),
 * -EPROTONOSUPPORT (the daemon speaks another protocol version: r->error
 * says which, r->message holds the daemon's refusal when it could be
 * read), or the errno of send/recv.
 */
int ctlc_call(struct ctlc *c, uint16_t type, const void *req, size_t req_len, size_t fixed_len,
	      size_t elem_len, size_t count_off, struct ctlc_reply *r);

#endif
