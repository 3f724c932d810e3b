// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_ntp: the NTP client's packet decoder and everything a reply reaches
 * (core/ntpclient.c): ntpc_decode() and ntpc_encode() round-trip the 48 bytes
 * exactly; ntpc_receive() on a peer with a request in flight; then
 * selection, the panic rule, poll adaptation and a clock correction over
 * that peer and two well-behaved ones. The input is a series of records:
 *   byte 0      control: bit 0 put our transmit cookie in the origin (else
 *               the packet's own origin, nearly always rejected as
 *               spoofed), bit 1 put the interleaved cookie there instead,
 *               bit 2 ask for interleaved mode, bit 3 report a kernel
 *               transmit timestamp, bits 4-7 the packet's length past 48
 *   bytes 1-4   our receive time after the request, ns (big-endian)
 *   then        the packet, 48 to 63 bytes
 * A server's times may be anything: the decoder puts them in the NTP era
 * nearest our clock. Checked:
 * the peer's state and counts stay in range, its message is a string, the
 * selection's survivors are counted right.
 * The same packet, with the control byte's low bits choosing one of 4
 * client addresses and its origin sometimes the receive timestamp of that
 * client's last reply, goes to the NTP server's core (core/ntpserver.c) as
 * a request, in a client log of 2 so that clients are evicted: every
 * datagram is counted once, a reply is 48 bytes of mode 4 with the version
 * echoed, and the log stays within its size. Built with libFuzzer
 * (--enable-fuzzing, `make fuzz`) and, over the committed corpus, by
 * replay.c in `make check`.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ntpclient.h"
#include "core/ntpserver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S INT64_C(1000000000)
#define T0 (INT64_C(1700000000) * S) /* our REALTIME at the start */

static void must(int cond)
{
	if (!cond)
		abort();
}

static void put64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* A good server's reply to p's request: offset off, symmetric delay. */
static void good_reply(struct ntpc_peer *p, int64_t now, int64_t off, uint64_t cookie)
{
	struct ntpc_packet r = { .version = 4,
				 .mode = 4,
				 .stratum = 2,
				 .poll = 6,
				 .precision = -20,
				 .root_delay = 0x100,
				 .root_dispersion = 0x100 };
	uint8_t q[NTPC_PACKET_LEN], b[NTPC_PACKET_LEN];

	ntpc_request(p, cookie, 0, T0 + now, q);
	r.origin = cookie;
	r.receive = ntpc_ts_from_ns(T0 + now + 20000 + off);
	r.transmit = ntpc_ts_from_ns(T0 + now + 21000 + off);
	r.reference = r.receive;
	ntpc_encode(&r, b);
	ntpc_receive(p, b, sizeof(b), T0 + now + 41000, now + 41000);
}

static void check_peer(const struct ntpc_peer *p)
{
	must(p->state >= NTPC_SELECTED && p->state <= NTPC_INIT);
	must(p->nfilt <= NTPC_FILTER);
	must(p->nhist <= NTPC_ASYM_MAX);
	must(memchr(p->message, '\0', sizeof(p->message)) != NULL);
	must(p->asymmetry >= -NTPC_ASYM_LIMIT && p->asymmetry <= NTPC_ASYM_LIMIT);
	must(p->poll >= p->minpoll - 1 && p->poll <= 17 + 1);
	for (unsigned int i = 0; i < p->nfilt; i++)
		must(p->filt[i].delay >= NTPC_PRECISION_NS && p->filt[i].disp >= 0);
	must(p->rx + p->kod <= p->tx); /* each answers one request in flight */
}

/* The server's core on one request: the counts add up, a reply is sane. */
static void serve(struct ntps_server *s, uint8_t ctl, const uint8_t *data, size_t len, int64_t now)
{
	uint8_t buf[64];
	static const struct ntps_header h = { .stratum = 2, .precision = -20 };
	struct ntps_addr a = { .family = (ctl & 0x20) ? 6 : 4 };
	struct ntps_pending p;
	uint8_t out[NTPS_PACKET_LEN];
	const struct ntps_counters *n = &s->n;
	enum ntps_verdict v;
	int32_t slot;

	memcpy(buf, data, len);
	a.a[3] = ctl & 3;
	slot = ntps_client_find(s, &a);
	if (slot >= 0 && (ctl & 0x40))
		put64(buf + 24, s->clients[slot].rx);
	v = ntps_request(s, &a, buf, len, T0 + now, now, &h, out, &p);
	must(n->received == n->requests + n->drop_acl + n->drop_bad + n->drop_mode);
	must(n->requests == n->replies + n->kod + n->drop_rate);
	must(n->interleaved <= n->replies);
	must(s->used <= s->conf.log_size);
	if (v == NTPS_REPLY || v == NTPS_REPLY_XLEAVE || v == NTPS_KOD) {
		ntps_finish(s, &p, T0 + now + 1000, out);
		must((out[0] & 7) == 4);
		must(((out[0] >> 3) & 7) == ((buf[0] >> 3) & 7));
		ntps_transmitted(s, p.slot, p.rx, T0 + now + 2000);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ntps_conf sc = { .rate = { .interval = 0, .burst = 2, .leak = 1 }, .log_size = 2 };
	struct ntps_server srv;
	uint64_t seed[2] = { 1, 2 };
	struct ntpc_peer peers[3];
	struct ntpc_system sys;
	int64_t now = 0;
	uint64_t cookie = 0x0123456789abcdefu;
	size_t off = 0;

	ntpc_peer_init(&peers[0], -2, 10, true);
	for (int i = 1; i < 3; i++) {
		ntpc_peer_init(&peers[i], 4, 10, false);
		for (int k = 0; k < 3; k++)
			good_reply(&peers[i], k * 16 * S, 100000 * i,
				   (uint64_t)(1000 + 10 * i + k));
	}
	sc.acl[0].allow = true; /* "all" */
	sc.acl[1] = (struct ntps_acl_rule){ .net = { .family = 4, .a = { 0, 0, 0, 3 } },
					    .prefix = 32 }; /* deny 0.0.0.3 */
	sc.nacl = 2;
	if (ntps_init(&srv, &sc, seed) < 0)
		return 0;
	while (size - off >= 5 + NTPC_PACKET_LEN) {
		uint8_t ctl = data[off], buf[NTPC_PACKET_LEN + 15], q[NTPC_PACKET_LEN];
		size_t len = NTPC_PACKET_LEN + (ctl >> 4);
		int64_t rtt = (int64_t)((uint32_t)data[off + 1] << 24 |
					(uint32_t)data[off + 2] << 16 |
					(uint32_t)data[off + 3] << 8 | data[off + 4]);
		struct ntpc_packet d;
		uint8_t again[NTPC_PACKET_LEN];

		off += 5;
		if (len > size - off)
			len = size - off;
		memcpy(buf, data + off, len);
		off += len;

		/* The codec: 48 bytes in, the same 48 out. */
		must(ntpc_decode(buf, len, &d) == 0);
		ntpc_encode(&d, again);
		must(memcmp(again, buf, NTPC_PACKET_LEN) == 0);
		must(ntpc_decode(buf, NTPC_PACKET_LEN - 1, &d) < 0);
		serve(&srv, ctl, buf, (ctl & 0x80) ? NTPC_PACKET_LEN - 1 : len, now);

		now += 2 * S;
		if (ctl & 4)
			peers[0].flags |= NTPC_F_XLEAVE;
		ntpc_request(&peers[0], cookie, cookie ^ 0x5555, T0 + now, q);
		cookie = cookie * 6364136223846793005u + 1442695040888963407u;
		if (ctl & 8)
			ntpc_transmitted(&peers[0], peers[0].t1 + 500);
		if (ctl & 1)
			put64(buf + 24, peers[0].xmt_cookie);
		else if (ctl & 2)
			put64(buf + 24, peers[0].rcv_cookie);
		ntpc_receive(&peers[0], buf, len, peers[0].t1 + rtt, now + rtt);
		check_peer(&peers[0]);
		now += rtt;

		ntpc_select(peers, 3, -1, now, &sys);
		must(sys.selected >= -1 && sys.selected < 3);
		must(sys.nsurvivors >= 0 && sys.nsurvivors <= 3);
		if (sys.selected >= 0) {
			unsigned int agree, voters;

			must(peers[sys.selected].state == NTPC_SELECTED);
			ntpc_panic_check(peers, 3, &sys, 1000 * S, true, &agree, &voters);
			must(agree <= voters && voters <= 3);
			ntpc_adapt_poll(&peers[0], sys.offset, sys.jitter);
			ntpc_correct(peers, 3, now, 10.0, sys.offset / 2);
		}
		for (int i = 0; i < 3; i++)
			check_peer(&peers[i]);
		(void)ntpc_root_distance(&peers[0], now);
	}
	ntps_free(&srv);
	return 0;
}
