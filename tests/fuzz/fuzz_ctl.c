// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_ctl: ctl_handle() on arbitrary packets from arbitrary peers. The
 * first input byte chooses the peer's credentials and whether the packet
 * claims to be longer than what was read (recv with MSG_TRUNC); the rest is
 * the packet. Stub handlers check what the server promises them (exact
 * payload, NUL-terminated names, changes only from peers that may change),
 * and every reply is checked for a consistent header, a bounded length and
 * a NUL-terminated message. Built with libFuzzer (--enable-fuzzing, `make
 * fuzz`) and, over the committed corpus, by replay.c in `make check`.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>

#include "core/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR sizeof(struct tk_ctl_hdr)
#define RES sizeof(struct tk_ctl_result)

static void must(int cond)
{
	if (!cond)
		abort();
}

static int stub(void *ctx, struct ctl_call *c)
{
	const struct ctl_peer *p = c->peer;
	long want = ctl_request_size(c->type);

	must(want >= 0);
	must((want == 0) == (c->req == NULL));
	if (TK_CTL_T_IS_CHANGE(c->type))
		must(p->may_change);
	if (c->type == TK_CTL_SWITCH || c->type == TK_CTL_UNBIND || c->type == TK_CTL_READMIT)
		must(strnlen(((const struct tk_ctl_name *)c->req)->name, TK_CTL_NAME_LEN) <
		     TK_CTL_NAME_LEN);
	if (c->type == TK_CTL_TIMER_CREATE)
		must(strnlen(((const struct tk_ctl_timer_create *)c->req)->name, TK_CTL_NAME_LEN) <
		     TK_CTL_NAME_LEN);
	must(c->client == NULL); /* no connection behind ctl_handle() */
	if (c->type == TK_CTL_ADJTIME) {
		const struct tk_ctl_timex *tx = c->req;

		must(tx->modes == 0 || tx->modes == ADJ_OFFSET_SS_READ || p->may_change);
	}
	must(c->msg[0] == '\0' || c->type == TK_CTL_HELLO);
	must(((uintptr_t)c->out & 7) == 0); /* handlers write structs there */
	/* A handler that overruns its message or asks for too much output. */
	memset(c->msg, 'm', TK_CTL_MESSAGE_LEN);
	if (c->type == TK_CTL_TIMERS) {
		uint32_t off = ((const struct tk_ctl_timers_req *)c->req)->offset;

		c->out_len = off % (c->out_cap + 64);
		memset(c->out, 0x11, c->out_len < c->out_cap ? c->out_len : c->out_cap);
	}
	return c->type == TK_CTL_RECALIBRATE ? -16 : (c->type == TK_CTL_STATUS ? 5 : 0);
}

static const struct ctl_ops ops = {
	.hello = stub,
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
};

static struct ctl_server *server(void)
{
	static struct ctl_server *s;
	struct ctl_conf cc = { .path = "/nonexistent/fuzz/control",
			       .group = "fuzzgroup",
			       .max_clients = 4,
			       .max_clients_per_uid = 2,
			       .rate_limit = 10,
			       .rate_burst = 10,
			       .version = "fuzz" };

	if (!s) {
		if (ctl_new(&s, &cc, &ops, NULL) < 0)
			abort();
		ctl_set_identity(s, 4242, 777);
	}
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char msg[TK_CTL_MAX_MSG];
	static _Alignas(16) unsigned char reply[TK_CTL_MAX_MSG];
	struct ctl_server *s = server();
	struct ctl_peer p = { 0 };
	struct tk_ctl_hdr h;
	size_t len, rlen = 0;
	uint8_t sel;
	int verdict;

	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	if (size > TK_CTL_MAX_MSG)
		size = TK_CTL_MAX_MSG;
	p.uid = sel & 1 ? 0 : 1000 + (sel & 0x0e);
	p.gid = sel & 0x10 ? 777 : 1000;
	p.pid = 1234;
	p.ngroups = (sel >> 5) & 3;
	for (uint32_t i = 0; i < p.ngroups; i++)
		p.groups[i] = i == 2 ? 777 : 100 + i;
	ctl_peer_decide(s, &p);
	memset(msg, 0, sizeof(msg));
	memcpy(msg, data, size);
	len = sel & 0x80 ? TK_CTL_MAX_MSG + 1 + size : size; /* a truncated oversized packet */

	verdict = ctl_handle(s, &p, msg, len, reply, &rlen);
	must(verdict == CTL_KEEP || verdict == CTL_CLOSE);
	must(rlen >= HDR + RES && rlen <= TK_CTL_MAX_MSG);
	memcpy(&h, reply, HDR);
	must(h.magic == TK_CTL_MAGIC && h.version == TK_CTL_VERSION && h.flags == TK_CTL_F_REPLY);
	must(h.length == rlen);
	must(memchr(reply + HDR + offsetof(struct tk_ctl_result, message), '\0',
		    TK_CTL_MESSAGE_LEN) != NULL);
	if (len > TK_CTL_MAX_MSG || len < HDR)
		must(verdict == CTL_CLOSE);
	return 0;
}
