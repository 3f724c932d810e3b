/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ctlwire: the framing of the control protocol (timekeeper/control.h), in
 * one place for its three speakers: the server (core/ctl.c), timectl
 * (timectl/ctlc.c) and libtimekeeper (lib/timers.c, and tk_open()'s
 * TK_CTL_PAGE_FD request). It builds headers and results, checks a
 * received packet's header (size bounds, magic, version, length against
 * the packet), a request's exact payload size and NUL-terminated names, a
 * reply against its request and a payload against its declared record
 * count, and does the socket steps every client needs (connect, send one
 * message, wait, receive one message with an optional descriptor, the
 * peer's credentials).
 *
 * Errors. The checks return the status the server puts on the wire:
 * -EBADMSG (malformed), -EMSGSIZE (oversized), -EPROTONOSUPPORT (another
 * protocol version), -EOPNOTSUPP (unknown type). A client turns every one
 * of them into -EPROTO except -EPROTONOSUPPORT, which is the one error for
 * a version mismatch on both sides (ctlw_client_err()). Each check writes
 * one line saying what was wrong into a caller's buffer (may be NULL).
 *
 * Library code compiled into libtimekeeper: hidden symbols, nothing
 * printed, no allocation, libc only.
 */
#ifndef TK_PROTO_CTLWIRE_H
#define TK_PROTO_CTLWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "timekeeper/control.h"

#define CTLW_HDR_LEN sizeof(struct tk_ctl_hdr)
#define CTLW_RES_LEN sizeof(struct tk_ctl_result)
#define CTLW_REPLY_MIN (CTLW_HDR_LEN + CTLW_RES_LEN) /* header + result */
#define CTLW_RX_LEN (TK_CTL_MAX_MSG + 1) /* a receive buffer that tells an oversized packet */
#define CTLW_ERR_LEN 160		 /* enough for every check's text */

/* The largest status magnitude a reply may carry (Linux's errno range). */
#define CTLW_MAX_ERRNO 4095

/* --- building ---------------------------------------------------------------- */

/* A header of our version for a message of payload_len bytes after it. */
void ctlw_hdr_init(struct tk_ctl_hdr *h, uint16_t type, uint16_t flags, uint32_t seq,
		   size_t payload_len);

/* Header and result (a reply carrying only status and message; message may
 * be NULL) into buf, which has at least CTLW_REPLY_MIN bytes. Returns
 * CTLW_REPLY_MIN. */
size_t ctlw_build_result(void *buf, uint16_t type, uint32_t seq, int status, const char *message);

/* --- the request table --------------------------------------------------------- */

/* The exact request payload size of a type, -1 for a type the protocol does
 * not define (events, replies' own types, anything unknown). */
long ctlw_request_size(unsigned int type);
/* "HELLO", "TIMER_ARM", ...; "unknown" for anything else. */
const char *ctlw_type_name(unsigned int type);
/* The names timectl and the metrics page give a status's values: a page
 * clock mode ("none", "tsc", "kclock") and a reference ("none", "system",
 * "ntp"); "unknown" for anything else. */
const char *ctlw_mode_name(int32_t mode);
const char *ctlw_ref_name(uint32_t ref);
/* Whether a request changes the daemon: the TK_CTL_T_IS_CHANGE types, and
 * ADJTIME with modes other than 0 or ADJ_OFFSET_SS_READ. req is the
 * request payload (req_len bytes; NULL when there is none). */
bool ctlw_is_change(unsigned int type, const void *req, size_t req_len);

/* --- checking ------------------------------------------------------------------ */

/*
 * The header of a received packet. len is the packet's real length (recv
 * with MSG_TRUNC), msg holds min(len, TK_CTL_MAX_MSG) of it. In this
 * order: -EBADMSG shorter than a header, -EBADMSG bad magic,
 * -EPROTONOSUPPORT another version, -EMSGSIZE over TK_CTL_MAX_MSG,
 * -EBADMSG length field not the packet's length. *h is filled whenever
 * len >= the header (also on failure), so a refusal can echo type and seq.
 */
int ctlw_check_hdr(const void *msg, size_t len, struct tk_ctl_hdr *h, char *why, size_t why_len);

/*
 * A request whose header passed ctlw_check_hdr(): flags 0 (-EBADMSG), a
 * known type (-EOPNOTSUPP), a payload of exactly its size (-EBADMSG), and
 * name fields NUL-terminated within their arrays (-EBADMSG).
 */
int ctlw_check_request(const void *msg, size_t len, const struct tk_ctl_hdr *h, char *why,
		       size_t why_len);

/*
 * A reply whose header passed ctlw_check_hdr(), to the request (type, seq):
 * TK_CTL_F_REPLY without TK_CTL_F_EVENT, room for the result, the echoed
 * type and seq, a status of 0 or -errno. Copies the result into *res.
 * -EBADMSG when anything is wrong.
 */
int ctlw_check_reply(const void *msg, size_t len, const struct tk_ctl_hdr *h, uint16_t type,
		     uint32_t seq, struct tk_ctl_result *res, char *why, size_t why_len);

/*
 * A payload of len bytes against its shape: exactly fixed_len bytes, or,
 * with elem_len non-zero, fixed_len + count * elem_len where count is the
 * uint32_t at count_off of the payload (count_off + 4 <= fixed_len). The
 * count is checked against TK_CTL_MAX_MSG before any multiplication.
 * Sets *count (may be NULL; 0 without elem_len). 0 or -EBADMSG.
 */
int ctlw_check_payload(const void *payload, size_t len, size_t fixed_len, size_t elem_len,
		       size_t count_off, uint32_t *count, char *why, size_t why_len);

/* What a client returns for a failed check: -EPROTONOSUPPORT stays (a
 * version mismatch), everything else is -EPROTO (a malformed message). */
int ctlw_client_err(int check);

/* A reply's status for display: a status outside [-CTLW_MAX_ERRNO, 0] never
 * passes ctlw_check_reply(). One line for the protocol-level statuses
 * (-EPROTONOSUPPORT, -EBADMSG, -EMSGSIZE, -EOPNOTSUPP), strerror() for
 * the rest. */
const char *ctlw_strerror(int status);

/*
 * Copies a fixed-size string field of the peer into dst (dst_len bytes),
 * stopping at the first NUL or at the array's end, replacing bytes that
 * are not printable ASCII with '?'; always NUL-terminates (dst_len > 0).
 */
void ctlw_copy_str(char *dst, size_t dst_len, const char *src, size_t src_len);

/* --- the socket steps of a client ---------------------------------------------- */

/* A SOCK_SEQPACKET socket connected to path; flags: extra socket() type
 * flags (SOCK_NONBLOCK). The fd (close-on-exec) or -errno
 * (-ENAMETOOLONG for a path that does not fit sun_path). */
int ctlw_connect(const char *path, int flags);

/* Sends one message (header of our version, then req_len bytes of req)
 * with one sendmsg(), retried on EINTR. 0, -ECONNRESET when the peer is
 * gone (EPIPE), -EMSGSIZE past TK_CTL_MAX_MSG, -EPROTO when sent only in
 * part, or another -errno. */
int ctlw_send(int fd, uint16_t type, uint16_t flags, uint32_t seq, const void *req, size_t req_len);

/* Waits up to timeout_ms (-1: forever) for fd to be readable, retrying on
 * EINTR with the time left. 1 readable, 0 timed out, or -errno. */
int ctlw_wait(int fd, int timeout_ms);

/*
 * Receives one packet into buf (cap bytes; CTLW_RX_LEN to tell an oversized
 * one) with MSG_TRUNC, retried on EINTR; rflags: 0 or MSG_DONTWAIT.
 * Returns the packet's real length (which may exceed cap), -ECONNRESET
 * when the peer closed (EOF, ECONNRESET, EPIPE), -EAGAIN when nothing is
 * there, or another -errno. With fd_out, a descriptor passed along
 * (SCM_RIGHTS) lands there (close-on-exec; extra ones are closed; -1 when
 * none or when the control data was truncated).
 */
ssize_t ctlw_recv(int fd, void *buf, size_t cap, int rflags, int *fd_out);

/* The peer's uid, gid and pid (SO_PEERCRED). 0 or -errno. */
int ctlw_peer_cred(int fd, uint32_t *uid, uint32_t *gid, pid_t *pid);

#endif
