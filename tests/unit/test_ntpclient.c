// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The NTP client's core: the packet codec and its eras, the offset/delay
 * formula, the anti-spoof and sanity checks, the clock filter, reach and
 * unreachable, kiss-o'-death, selection (a server 2 s off among two good
 * ones is a falseticker), the discipline's line fit, and interleaved mode
 * against a server that keeps its kernel transmit times as chronyd does,
 * and the delay asymmetry estimate.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ntpclient.h"
#include "tk_check.h"

#define S INT64_C(1000000000)
#define T0 (INT64_C(1700000000) * S) /* our REALTIME at the start of the tests */

START_TEST(codec_round_trip)
{
	struct ntpc_packet p = { .leap = 1,
				 .version = 4,
				 .mode = 4,
				 .stratum = 2,
				 .poll = -3,
				 .precision = -20,
				 .root_delay = 0x00012345,
				 .root_dispersion = 7,
				 .reference = 1,
				 .origin = UINT64_C(0x0123456789abcdef),
				 .receive = UINT64_C(0xfedcba9876543210),
				 .transmit = 42 };
	struct ntpc_packet q;
	uint8_t buf[NTPC_PACKET_LEN];

	memcpy(&p.refid, "GPS\0", 4);
	ntpc_encode(&p, buf);
	ck_assert_uint_eq(buf[0], (1u << 6) | (4u << 3) | 4u);
	ck_assert_uint_eq(buf[2], 0xfd);
	ck_assert_uint_eq(buf[24], 0x01); /* origin, big-endian */
	ck_assert_uint_eq(buf[31], 0xef);
	ck_assert_int_eq(ntpc_decode(buf, sizeof(buf), &q), 0);
	ck_assert_uint_eq(q.leap, 1);
	ck_assert_uint_eq(q.version, 4);
	ck_assert_uint_eq(q.mode, 4);
	ck_assert_uint_eq(q.stratum, 2);
	ck_assert_int_eq(q.poll, -3);
	ck_assert_int_eq(q.precision, -20);
	ck_assert_uint_eq(q.root_delay, p.root_delay);
	ck_assert_uint_eq(q.root_dispersion, p.root_dispersion);
	ck_assert_mem_eq(&q.refid, "GPS\0", 4);
	ck_assert_uint_eq(q.reference, p.reference);
	ck_assert_uint_eq(q.origin, p.origin);
	ck_assert_uint_eq(q.receive, p.receive);
	ck_assert_uint_eq(q.transmit, p.transmit);
	ck_assert_int_eq(ntpc_decode(buf, 47, &q), -EBADMSG);
}
END_TEST

/* Timestamps across the 2036 era rollover, and before 1970. */
static const struct {
	int64_t unix_ns;
	uint32_t ntp_sec;
} ts_table[] = {
	{ 0, 2208988800u },
	{ INT64_C(1700000000) * S + 500000000, 3908988800u },
	{ INT64_C(2085978495) * S, 4294967295u }, /* the last second of era 0 */
	{ INT64_C(2085978496) * S, 0u },	  /* 2036-02-07T06:28:16Z: era 1 */
	{ INT64_C(2085978496) * S + 250000000, 0u },
	{ INT64_C(2100000000) * S, 14021504u },
	{ -INT64_C(2208988800) * S, 0u }, /* 1900 */
};

START_TEST(timestamps_and_eras)
{
	int64_t v = ts_table[_i].unix_ns;
	uint64_t ts = ntpc_ts_from_ns(v);

	ck_assert_uint_eq(ts >> 32, ts_table[_i].ntp_sec);
	/* Back, with a reference up to 60 years away on either side. */
	ck_assert_int_eq(ntpc_ts_to_ns(ts, v), v);
	ck_assert_int_eq(ntpc_ts_to_ns(ts, v + INT64_C(60) * 365 * 86400 * S), v);
	ck_assert_int_eq(ntpc_ts_to_ns(ts, v - INT64_C(60) * 365 * 86400 * S), v);
}
END_TEST

START_TEST(timestamp_fraction)
{
	/* 0.5 s is 0x80000000; the conversion rounds to the ns. */
	ck_assert_uint_eq(ntpc_ts_from_ns(T0 + S / 2) & 0xffffffffu, 0x80000000u);
	for (int64_t ns = 0; ns < S; ns += 123456789)
		ck_assert_int_eq(ntpc_ts_to_ns(ntpc_ts_from_ns(T0 + ns), T0), T0 + ns);
	ck_assert_int_eq(ntpc_short_to_ns(0x00010000), S);
	ck_assert_int_eq(ntpc_short_to_ns(0x00008000), S / 2);
	ck_assert_uint_eq(ntpc_short_from_ns(S / 4), 0x4000);
	ck_assert_uint_eq(ntpc_short_from_ns(-5), 0);
	ck_assert_uint_eq(ntpc_short_from_ns(INT64_C(70000) * S), UINT32_MAX);
}
END_TEST

START_TEST(offset_delay_formula)
{
	int64_t off, del;

	/* Server 1 s ahead, 10 ms each way, 1 ms in the server. */
	ntpc_offset_delay(T0, T0 + S + 10000000, T0 + S + 11000000, T0 + 21000000, &off, &del);
	ck_assert_int_eq(off, S);
	ck_assert_int_eq(del, 20000000);
	/* Asymmetric: 2 ms out, 8 ms back, server in sync: offset -3 ms. */
	ntpc_offset_delay(T0, T0 + 2000000, T0 + 2000000, T0 + 10000000, &off, &del);
	ck_assert_int_eq(off, -3000000);
	ck_assert_int_eq(del, 10000000);
}
END_TEST

/* A server answering our last request: offset `off`, one-way delay `owd`. */
static void reply(const struct ntpc_peer *p, uint8_t buf[NTPC_PACKET_LEN], int64_t off, int64_t owd)
{
	struct ntpc_packet r = { .leap = 0,
				 .version = 4,
				 .mode = 4,
				 .stratum = 2,
				 .poll = 6,
				 .precision = -20,
				 .root_delay = 0x100,
				 .root_dispersion = 0x100 };

	memcpy(&r.refid, "\x7f\x00\x00\x01", 4);
	r.origin = p->xmt_cookie;
	r.receive = ntpc_ts_from_ns(p->t1 + owd + off);
	r.transmit = ntpc_ts_from_ns(p->t1 + owd + off + 1000);
	r.reference = r.receive;
	ntpc_encode(&r, buf);
}

/* One exchange: request at mono `now` (our REALTIME T0 + now), answered. */
static enum ntpc_rx exchange(struct ntpc_peer *p, int64_t now, int64_t off, int64_t owd,
			     uint64_t cookie)
{
	uint8_t q[NTPC_PACKET_LEN], r[NTPC_PACKET_LEN];

	ntpc_request(p, cookie, 0, T0 + now, q);
	reply(p, r, off, owd);
	return ntpc_receive(p, r, sizeof(r), T0 + now + 2 * owd + 1000, now + 2 * owd + 1000);
}

START_TEST(request_and_anti_spoof)
{
	struct ntpc_peer p;
	struct ntpc_packet q;
	uint8_t buf[NTPC_PACKET_LEN], r[NTPC_PACKET_LEN];

	ntpc_peer_init(&p, 4, 10, false);
	ntpc_request(&p, UINT64_C(0x1122334455667788), 0, T0, buf);
	ck_assert_int_eq(ntpc_decode(buf, sizeof(buf), &q), 0);
	ck_assert_uint_eq(q.mode, 3);
	ck_assert_uint_eq(q.version, 4);
	/* Our real T1 is never on the wire: the transmit field is the cookie. */
	ck_assert_uint_eq(q.transmit, UINT64_C(0x1122334455667788));
	ck_assert_uint_eq(q.origin, 0);

	/* A reply whose origin is not our cookie is rejected and counted. */
	reply(&p, r, 0, 1000);
	r[31] ^= 1;
	ck_assert_int_eq(ntpc_receive(&p, r, sizeof(r), T0 + 3000, 3000), NTPC_RX_BOGUS);
	ck_assert_uint_eq(p.rejected, 1);
	ck_assert_uint_eq(p.reach, 0);
	/* The genuine one is accepted; the same packet again is a duplicate. */
	reply(&p, r, 0, 1000);
	ck_assert_int_eq(ntpc_receive(&p, r, sizeof(r), T0 + 3000, 3000), NTPC_RX_SAMPLE);
	ck_assert_uint_eq(p.reach, 1);
	ck_assert_int_eq(ntpc_receive(&p, r, sizeof(r), T0 + 3000, 3000), NTPC_RX_BOGUS);
	ck_assert_uint_eq(p.rejected, 2);
	ck_assert_uint_eq(p.rx, 1);
	/* Not a server reply (mode 3), and a short packet. */
	ntpc_request(&p, 99, 0, T0 + S, buf);
	ck_assert_int_eq(ntpc_receive(&p, buf, sizeof(buf), T0 + S + 10, S + 10), NTPC_RX_BOGUS);
	ck_assert_int_eq(ntpc_receive(&p, buf, 20, T0 + S + 10, S + 10), NTPC_RX_BOGUS);
}
END_TEST

START_TEST(sanity_tests)
{
	struct ntpc_peer p;
	uint8_t q[NTPC_PACKET_LEN], r[NTPC_PACKET_LEN];

	ntpc_peer_init(&p, 4, 10, false);
	/* LI 3: unsynchronized. */
	ntpc_request(&p, 1, 0, T0, q);
	reply(&p, r, 0, 1000);
	r[0] |= 0xc0;
	ck_assert_int_eq(ntpc_receive(&p, r, sizeof(r), T0 + 3000, 3000), NTPC_RX_UNUSABLE);
	ck_assert_int_eq(p.state, NTPC_UNUSABLE);
	ck_assert_uint_eq(p.nfilt, 0);
	/* Stratum 16. */
	ntpc_request(&p, 2, 0, T0 + S, q);
	reply(&p, r, 0, 1000);
	r[1] = 16;
	ck_assert_int_eq(ntpc_receive(&p, r, sizeof(r), T0 + S + 3000, S + 3000), NTPC_RX_UNUSABLE);
	/* Root distance beyond 1.5 s (root dispersion 2 s). */
	ntpc_request(&p, 3, 0, T0 + 2 * S, q);
	reply(&p, r, 0, 1000);
	r[8] = 0, r[9] = 2, r[10] = 0, r[11] = 0;
	ck_assert_int_eq(ntpc_receive(&p, r, sizeof(r), T0 + 2 * S + 3000, 2 * S + 3000),
			 NTPC_RX_UNUSABLE);
	ck_assert_ptr_nonnull(strstr(p.message, "root distance"));
	/* Zero transmit timestamp. */
	ntpc_request(&p, 4, 0, T0 + 3 * S, q);
	reply(&p, r, 0, 1000);
	memset(r + 40, 0, 8);
	ck_assert_int_eq(ntpc_receive(&p, r, sizeof(r), T0 + 3 * S + 3000, 3 * S + 3000),
			 NTPC_RX_BOGUS);
	/* A good one makes it usable again. */
	ck_assert_int_eq(exchange(&p, 4 * S, 5000, 1000, 5), NTPC_RX_SAMPLE);
	ck_assert_int_eq(p.state, NTPC_CANDIDATE);
}
END_TEST

START_TEST(filter_picks_lowest_delay)
{
	struct ntpc_peer p;
	/* delay (one way) and offset of 8 exchanges: the third has the lowest delay. */
	static const int64_t owd[8] = { 50000, 40000, 5000, 30000, 60000, 45000, 20000, 70000 };
	static const int64_t off[8] = { 900, 800, 123, 700, 1500, -400, 300, 2000 };

	ntpc_peer_init(&p, 4, 10, false);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(exchange(&p, i * 16 * S, off[i] * 1000, owd[i], 100 + i),
				 NTPC_RX_SAMPLE);
	ck_assert_uint_eq(p.nfilt, 8);
	ck_assert_int_eq(p.chosen.offset, 123000);
	ck_assert_int_eq(p.chosen.delay, 2 * 5000);
	ck_assert_int_eq(p.last_offset, 2000000);
	ck_assert_int_gt(p.jitter, 100000); /* the spread of the others about it */
	/* One more of the highest delay pushes nothing better out. */
	ck_assert_int_eq(exchange(&p, 8 * 16 * S, 0, 90000, 200), NTPC_RX_SAMPLE);
	ck_assert_int_eq(p.chosen.offset, 123000);
}
END_TEST

START_TEST(reach_and_unreachable)
{
	struct ntpc_peer p;
	uint8_t q[NTPC_PACKET_LEN];

	ntpc_peer_init(&p, 4, 10, false);
	ck_assert_int_eq(exchange(&p, 0, 0, 1000, 1), NTPC_RX_SAMPLE);
	ck_assert_int_eq(exchange(&p, 16 * S, 0, 1000, 2), NTPC_RX_SAMPLE);
	ck_assert_uint_eq(p.reach, 3);
	for (int i = 0; i < 7; i++) {
		ntpc_request(&p, 10 + i, 0, T0 + (2 + i) * 16 * S, q);
		ck_assert_int_ne(p.state, NTPC_UNREACHABLE);
	}
	ck_assert_uint_eq(p.reach, 0200); /* 011 shifted 7 times */
	ntpc_request(&p, 20, 0, T0 + 9 * 16 * S, q);
	ntpc_request(&p, 21, 0, T0 + 10 * 16 * S, q);
	ck_assert_uint_eq(p.reach, 0);
	ck_assert_int_eq(p.state, NTPC_UNREACHABLE);
	ck_assert_ptr_nonnull(strstr(p.message, "no reply"));
	/* It answers again. */
	ck_assert_int_eq(exchange(&p, 11 * 16 * S, 0, 1000, 30), NTPC_RX_SAMPLE);
	ck_assert_uint_eq(p.reach, 1);
	ck_assert_int_eq(p.state, NTPC_CANDIDATE);
}
END_TEST

START_TEST(iburst_and_poll)
{
	struct ntpc_peer p;
	uint8_t q[NTPC_PACKET_LEN];

	ntpc_peer_init(&p, 6, 10, true);
	for (int i = 0; i < 3; i++) {
		ntpc_request(&p, 1 + i, 0, T0, q);
		ck_assert_int_eq(ntpc_poll_interval(&p), 2 * S);
	}
	ntpc_request(&p, 9, 0, T0, q);
	ck_assert_int_eq(ntpc_poll_interval(&p), 64 * S);
	ntpc_peer_init(&p, -2, 0, false);
	ck_assert_int_eq(ntpc_poll_interval(&p), S / 4);
	/* Offsets well inside the jitter raise the poll, up to maxpoll. */
	for (int i = 0; i < 200; i++)
		ntpc_adapt_poll(&p, 10, 1000);
	ck_assert_int_eq(p.poll, 0);
	for (int i = 0; i < 200; i++)
		ntpc_adapt_poll(&p, 100000, 1000);
	ck_assert_int_eq(p.poll, -2);
}
END_TEST

START_TEST(kiss_of_death)
{
	struct ntpc_peer p;
	uint8_t q[NTPC_PACKET_LEN], r[NTPC_PACKET_LEN];

	ntpc_peer_init(&p, 4, 10, true);
	ntpc_request(&p, 7, 0, T0, q);
	reply(&p, r, 0, 1000);
	r[0] |= 0xc0, r[1] = 0, memcpy(r + 12, "RATE", 4);
	ck_assert_int_eq(ntpc_receive(&p, r, sizeof(r), T0 + 3000, 3000), NTPC_RX_KOD);
	ck_assert_uint_ne(p.flags & NTPC_F_KOD_RATE, 0);
	ck_assert_int_eq(p.poll, 5);
	ck_assert_uint_eq(p.burst, 0);
	ck_assert_uint_eq(p.kod, 1);
	/* A forged kiss (wrong origin) does nothing. */
	ntpc_request(&p, 8, 0, T0 + S, q);
	reply(&p, r, 0, 1000);
	r[0] |= 0xc0, r[1] = 0, memcpy(r + 12, "DENY", 4), r[31] ^= 0xff;
	ck_assert_int_eq(ntpc_receive(&p, r, sizeof(r), T0 + S + 3000, S + 3000), NTPC_RX_BOGUS);
	ck_assert_uint_eq(p.flags & NTPC_F_KOD_DENY, 0);
	ck_assert_int_gt(ntpc_poll_interval(&p), 0);
	/* The real DENY stops the polling. */
	r[31] ^= 0xff;
	ck_assert_int_eq(ntpc_receive(&p, r, sizeof(r), T0 + S + 3000, S + 3000), NTPC_RX_KOD);
	ck_assert_uint_ne(p.flags & NTPC_F_KOD_DENY, 0);
	ck_assert_int_eq(p.state, NTPC_UNUSABLE);
	ck_assert_int_eq(ntpc_poll_interval(&p), 0);
	ck_assert_ptr_nonnull(strstr(p.message, "DENY"));
}
END_TEST

/* n peers with a few samples each at the given offsets (ns). */
static void peers_at(struct ntpc_peer *p, int n, const int64_t *off)
{
	for (int i = 0; i < n; i++) {
		ntpc_peer_init(&p[i], 4, 10, false);
		for (int k = 0; k < 4; k++)
			ck_assert_int_eq(exchange(&p[i], k * 16 * S, off[i] + (k % 2) * 2000, 20000,
						  (uint64_t)(1 + 10 * i + k)),
					 NTPC_RX_SAMPLE);
	}
}

START_TEST(falseticker_two_seconds_off)
{
	struct ntpc_peer p[3];
	struct ntpc_system sys;
	static const int64_t off[3] = { 100000, 2 * S, 130000 };

	peers_at(p, 3, off);
	ntpc_select(p, 3, -1, 4 * 16 * S, &sys);
	ck_assert_int_eq(p[1].state, NTPC_FALSETICKER);
	ck_assert_ptr_nonnull(strstr(p[1].message, "intersection"));
	ck_assert_int_ge(sys.selected, 0);
	ck_assert_int_ne(sys.selected, 1);
	ck_assert_int_eq(sys.nsurvivors, 2);
	ck_assert_int_lt(llabs(sys.offset - 115000), 20000);
	ck_assert_uint_eq(sys.stratum, 3);
	ck_assert_uint_eq(sys.leap, 0);
	/* The previous system peer is kept while it survives. */
	ntpc_select(p, 3, 2, 4 * 16 * S, &sys);
	ck_assert_int_eq(sys.selected, 2);
	ck_assert_int_eq(p[2].state, NTPC_SELECTED);
	ck_assert_int_eq(p[0].state, NTPC_CANDIDATE);
}
END_TEST

START_TEST(no_majority_and_unreachable_excluded)
{
	struct ntpc_peer p[2];
	struct ntpc_system sys;
	static const int64_t off[2] = { 0, 2 * S };

	peers_at(p, 2, off);
	ntpc_select(p, 2, -1, 4 * 16 * S, &sys);
	ck_assert_int_eq(sys.selected, -1);
	ck_assert_int_eq(p[0].state, NTPC_FALSETICKER);
	/* The other one unreachable: one server left, it is selected. */
	p[1].state = NTPC_UNREACHABLE;
	ntpc_select(p, 2, -1, 4 * 16 * S, &sys);
	ck_assert_int_eq(sys.selected, 0);
	ck_assert_int_eq(p[1].state, NTPC_UNREACHABLE);
}
END_TEST

/* One server 10^6 s off, selected alone: its offset is beyond the panic
 * threshold and is refused, allowed or not (one server never agrees with
 * itself enough); no threshold, or one above the offset: nothing to say. */
START_TEST(panic_one_server_refused)
{
	struct ntpc_peer p[1];
	struct ntpc_system sys;
	static const int64_t off[1] = { 1000000 * S };
	unsigned int agree, voters;

	peers_at(p, 1, off);
	ntpc_select(p, 1, -1, 4 * 16 * S, &sys);
	ck_assert_int_eq(sys.selected, 0);
	ck_assert_int_lt(llabs(sys.offset - 1000000 * S), S);
	ck_assert_int_eq(ntpc_panic_check(p, 1, &sys, 1000 * S, false, &agree, &voters),
			 NTPC_PANIC_NOT_ALLOWED);
	ck_assert_int_eq(ntpc_panic_check(p, 1, &sys, 1000 * S, true, &agree, &voters),
			 NTPC_PANIC_TOO_FEW);
	ck_assert_uint_eq(agree, 1);
	ck_assert_uint_eq(voters, 1);
	ck_assert_int_eq(ntpc_panic_check(p, 1, &sys, 0, false, NULL, NULL), NTPC_PANIC_NONE);
	ck_assert_int_eq(ntpc_panic_check(p, 1, &sys, 2000000 * S, false, NULL, NULL),
			 NTPC_PANIC_NONE);
}
END_TEST

/* Three servers agreeing on 10^6 s ahead (or behind): applied only when
 * allowed. Two of them against one good one: they are the majority, and
 * are applied when allowed. A good offset is never a panic. */
START_TEST(panic_agreeing_servers)
{
	struct ntpc_peer p[3];
	struct ntpc_system sys;
	static const int64_t ahead[3] = { 1000000 * S, 1000000 * S + 30000, 1000000 * S - 20000 };
	static const int64_t behind[3] = { -1000000 * S, -1000000 * S + 30000,
					   -1000000 * S - 20000 };
	static const int64_t two_of_three[3] = { 1000000 * S, 100000, 1000000 * S + 30000 };
	static const int64_t good[3] = { 100000, 130000, 90000 };
	unsigned int agree, voters;

	peers_at(p, 3, ahead);
	ntpc_select(p, 3, -1, 4 * 16 * S, &sys);
	ck_assert_int_ge(sys.selected, 0);
	ck_assert_int_eq(ntpc_panic_check(p, 3, &sys, 1000 * S, false, &agree, &voters),
			 NTPC_PANIC_NOT_ALLOWED);
	ck_assert_int_eq(ntpc_panic_check(p, 3, &sys, 1000 * S, true, &agree, &voters),
			 NTPC_PANIC_ALLOWED);
	ck_assert_uint_eq(agree, 3);
	ck_assert_uint_eq(voters, 3);

	peers_at(p, 3, behind);
	ntpc_select(p, 3, -1, 4 * 16 * S, &sys);
	ck_assert_int_lt(sys.offset, -999000 * S);
	ck_assert_int_eq(ntpc_panic_check(p, 3, &sys, 1000 * S, true, &agree, &voters),
			 NTPC_PANIC_ALLOWED);

	peers_at(p, 3, two_of_three);
	ntpc_select(p, 3, -1, 4 * 16 * S, &sys);
	ck_assert_int_eq(p[1].state, NTPC_FALSETICKER);
	ck_assert_int_eq(ntpc_panic_check(p, 3, &sys, 1000 * S, true, &agree, &voters),
			 NTPC_PANIC_ALLOWED);
	ck_assert_uint_eq(agree, 2);
	ck_assert_uint_eq(voters, 3);

	peers_at(p, 3, good);
	ntpc_select(p, 3, -1, 4 * 16 * S, &sys);
	ck_assert_int_eq(ntpc_panic_check(p, 3, &sys, 1000 * S, false, &agree, NULL),
			 NTPC_PANIC_NONE);
	ck_assert_uint_eq(agree, 0);
}
END_TEST

/* Two servers 10^6 s off beside an unreachable third, and the same with
 * one of the two unreachable: the two still agree; one alone does not. */
START_TEST(panic_unreachable_do_not_vote)
{
	struct ntpc_peer p[3];
	struct ntpc_system sys;
	static const int64_t off[3] = { 1000000 * S, 1000000 * S + 30000, 100000 };
	unsigned int agree, voters;

	peers_at(p, 3, off);
	p[2].state = NTPC_UNREACHABLE;
	ntpc_select(p, 3, -1, 4 * 16 * S, &sys);
	ck_assert_int_eq(ntpc_panic_check(p, 3, &sys, 1000 * S, true, &agree, &voters),
			 NTPC_PANIC_ALLOWED);
	ck_assert_uint_eq(voters, 2);
	p[1].state = NTPC_UNREACHABLE;
	ntpc_select(p, 3, -1, 4 * 16 * S, &sys);
	ck_assert_int_eq(ntpc_panic_check(p, 3, &sys, 1000 * S, true, &agree, &voters),
			 NTPC_PANIC_TOO_FEW);
}
END_TEST

START_TEST(clustering_drops_outlier)
{
	struct ntpc_peer p[5];
	struct ntpc_system sys;
	/* All within each other's distance, one far from the rest. */
	static const int64_t off[5] = { 0, 1000, -1000, 500, 60000 };

	peers_at(p, 5, off);
	ntpc_select(p, 5, -1, 4 * 16 * S, &sys);
	ck_assert_int_eq(p[4].state, NTPC_OUTLIER);
	ck_assert_int_ge(sys.nsurvivors, NTPC_NMIN);
	ck_assert_int_lt(llabs(sys.offset), 3000);
}
END_TEST

START_TEST(leap_vote)
{
	struct ntpc_peer p[3];
	struct ntpc_system sys;
	static const int64_t off[3] = { 0, 1000, 2000 };

	peers_at(p, 3, off);
	p[0].leap = p[1].leap = 1;
	ntpc_select(p, 3, -1, 4 * 16 * S, &sys);
	ck_assert_uint_eq(sys.leap, 1);
	p[1].leap = 0;
	ntpc_select(p, 3, -1, 4 * 16 * S, &sys);
	ck_assert_uint_eq(sys.leap, 0);
}
END_TEST

START_TEST(correct_moves_samples)
{
	struct ntpc_peer p;
	struct ntpc_disc d;
	double phase, slope;
	int64_t span;

	ntpc_peer_init(&p, 4, 10, false);
	ck_assert_int_eq(exchange(&p, 0, 100000, 1000, 1), NTPC_RX_SAMPLE);
	/* Phase +100 us applied: the stored offset drops by it. */
	ntpc_correct(&p, 1, p.chosen.t, 0, 100000);
	ck_assert_int_eq(p.chosen.offset, 0);
	ck_assert_int_eq(p.filt[0].offset, 0);
	/* A line: 50 ppm slow (offset grows 50 us/s) from +10 us. */
	ntpc_disc_reset(&d);
	for (int i = 0; i < 8; i++)
		ntpc_disc_add(&d, i * S, 10000 + 50000 * i);
	ck_assert_uint_eq(ntpc_disc_fit(&d, 7 * S, &phase, &slope, &span), 8);
	ck_assert_double_eq_tol(slope, 50000, 1e-6);
	ck_assert_double_eq_tol(phase, 10000 + 350000, 1e-3);
	ck_assert_int_eq(span, 7 * S);
	/* Two points 1 s apart give no slope (phase: the newest offset); a
	 * third, 0.5 s on, makes a line. */
	ntpc_disc_reset(&d);
	ntpc_disc_add(&d, 0, 1000);
	ntpc_disc_add(&d, S, 51000);
	ck_assert_uint_eq(ntpc_disc_fit(&d, S, &phase, &slope, &span), 2);
	ck_assert_double_eq(slope, 0);
	ck_assert_double_eq(phase, 51000);
	ntpc_disc_add(&d, S + S / 2, 76000);
	ntpc_disc_fit(&d, S + S / 2, &phase, &slope, &span);
	ck_assert_double_eq_tol(slope, 50000, 1e-6);
	ck_assert_double_eq_tol(phase, 76000, 1e-3);
	/* Back to the 8-point line. */
	ntpc_disc_reset(&d);
	for (int i = 0; i < 8; i++)
		ntpc_disc_add(&d, i * S, 10000 + 50000 * i);
	ntpc_disc_fit(&d, 7 * S, &phase, &slope, &span);
	/* Corrected by what the fit said, the line is flat at zero. */
	ntpc_disc_correct(&d, 7 * S, slope, 360000);
	ntpc_disc_fit(&d, 7 * S, &phase, &slope, &span);
	ck_assert_double_eq_tol(slope, 0, 1e-6);
	ck_assert_double_eq_tol(phase, 0, 1e-3);
}
END_TEST

/* A server that knows interleaved mode as chronyd does (RFC 9769): its
 * basic transmit timestamp is read `sendcost` before the reply leaves, the
 * kernel's transmit timestamp when it leaves; it keeps the last exchange
 * (receive as sent, with the low bit set, and the kernel transmit time). */
struct xsrv {
	int64_t off, owd, proc, sendcost; /* server - true; one way; inside; send */
	bool interleave;		  /* false: answers every request in basic mode */
	uint64_t last_rx;
	int64_t last_tx;
};

/* The server answers request q sent at true time `sent` (true time is
 * T0 + `sent` on REALTIME); returns the true time the reply reaches us. */
static int64_t xsrv_answer(struct xsrv *v, const uint8_t q[NTPC_PACKET_LEN], int64_t sent,
			   uint8_t r[NTPC_PACKET_LEN])
{
	struct ntpc_packet in, out = { .version = 4,
				       .mode = 4,
				       .stratum = 2,
				       .poll = 0,
				       .precision = -20,
				       .root_delay = 0x10,
				       .root_dispersion = 0x10 };
	int64_t t2 = T0 + sent + v->owd + v->off, t3 = t2 + v->proc, t3k = t3 + v->sendcost;

	ck_assert_int_eq(ntpc_decode(q, NTPC_PACKET_LEN, &in), 0);
	memcpy(&out.refid, "\x7f\x00\x00\x01", 4);
	out.receive = ntpc_ts_from_ns(t2) | 1;
	if (v->interleave && v->last_rx && in.origin == v->last_rx && in.receive != in.transmit) {
		out.origin = in.receive;
		out.transmit = ntpc_ts_from_ns(v->last_tx) & ~UINT64_C(1);
	} else {
		out.origin = in.transmit;
		out.transmit = ntpc_ts_from_ns(t3) & ~UINT64_C(1);
	}
	out.reference = out.receive;
	v->last_rx = out.receive;
	v->last_tx = t3k;
	ntpc_encode(&out, r);
	return t3k - T0 - v->off + v->owd;
}

/* One poll at true time `at`; our REALTIME is T0 + true + err, MONOTONIC
 * the true time. Returns what ntpc_receive() said; *q gets the request. */
static enum ntpc_rx xexchange(struct ntpc_peer *p, struct xsrv *v, int64_t at, int64_t err,
			      uint64_t cookie, struct ntpc_packet *q)
{
	uint8_t qb[NTPC_PACKET_LEN], rb[NTPC_PACKET_LEN];
	int64_t back;

	ntpc_request(p, cookie, cookie * 7 + 3, T0 + at + err, qb);
	ck_assert_int_eq(ntpc_decode(qb, sizeof(qb), q), 0);
	back = xsrv_answer(v, qb, at, rb);
	return ntpc_receive(p, rb, sizeof(rb), T0 + back + err, back);
}

START_TEST(interleaved_mode)
{
	struct ntpc_peer p;
	struct ntpc_packet q;
	/* Server 3 us ahead of true time, 20 us each way, 50 us inside, and
	 * 6 us between its basic transmit timestamp and the packet leaving:
	 * basic mode reads 3 us too little. */
	struct xsrv v = {
		.off = 3000, .owd = 20000, .proc = 50000, .sendcost = 6000, .interleave = true
	};
	uint64_t first_rx;
	uint8_t qb[NTPC_PACKET_LEN], rb[NTPC_PACKET_LEN];

	ntpc_peer_init(&p, 0, 0, false);
	p.flags |= NTPC_F_XLEAVE;
	/* 1: nothing to complete yet, a basic request and a basic sample. */
	ck_assert_int_eq(xexchange(&p, &v, 0, 0, 11, &q), NTPC_RX_SAMPLE);
	ck_assert_uint_eq(q.origin, 0);
	ck_assert_uint_eq(q.receive, 0);
	ck_assert_int_le(llabs(p.filt[0].delay - (2 * v.owd + v.sendcost)), 2);
	ck_assert_int_le(llabs(p.filt[0].offset - (v.off - v.sendcost / 2)), 2);
	ck_assert_uint_eq(p.flags & NTPC_F_INTERLEAVED, 0);
	first_rx = v.last_rx;
	/* 2: interleaved request (origin: the server's receive timestamp bit
	 * for bit; receive: a second cookie). The reply completes exchange 1,
	 * which already gave its basic sample: nothing new. */
	ck_assert_int_eq(xexchange(&p, &v, S, 0, 12, &q), NTPC_RX_NO_SAMPLE);
	ck_assert_uint_eq(q.origin, first_rx);
	ck_assert_uint_eq(q.receive, 12 * 7 + 3);
	ck_assert_uint_ne(q.receive, q.transmit);
	ck_assert_uint_eq(p.nfilt, 1);
	/* 3: completes exchange 2 with the kernel's transmit time: exact. */
	ck_assert_int_eq(xexchange(&p, &v, 2 * S, 0, 13, &q), NTPC_RX_SAMPLE);
	ck_assert_uint_eq(p.nfilt, 2);
	ck_assert_int_le(llabs(p.filt[0].offset - v.off), 2);
	ck_assert_int_le(llabs(p.filt[0].delay - 2 * v.owd), 2);
	ck_assert_int_eq(p.filt[0].t, S + 2 * v.owd + v.proc + v.sendcost); /* exchange 2's reply */
	ck_assert_uint_ne(p.flags & NTPC_F_INTERLEAVED, 0);
	/* Our clock corrected by +500 ns between exchanges: the waiting
	 * exchange moves with it, the next sample reads 500 ns less. */
	ntpc_correct(&p, 1, 3 * S - 1000, 0, 500);
	ck_assert_int_eq(xexchange(&p, &v, 3 * S, 500, 14, &q), NTPC_RX_SAMPLE);
	ck_assert_int_le(llabs(p.filt[0].offset - (v.off - 500)), 2);
	/* Anti-spoof: an interleaved reply must carry our receive cookie. */
	ntpc_request(&p, 15, 15 * 7 + 3, T0 + 4 * S + 500, qb);
	xsrv_answer(&v, qb, 4 * S, rb);
	rb[31] ^= 0x10;
	ck_assert_int_eq(ntpc_receive(&p, rb, sizeof(rb), T0 + 4 * S + 500, 4 * S), NTPC_RX_BOGUS);
	/* A server without interleaved mode (ntpsec): basic samples go on. */
	v.interleave = false;
	v.last_rx = 0;
	ck_assert_int_eq(xexchange(&p, &v, 5 * S, 500, 16, &q), NTPC_RX_SAMPLE);
	ck_assert_uint_ne(q.origin, 0); /* still asks */
	ck_assert_int_le(llabs(p.filt[0].offset - (v.off - 500 - v.sendcost / 2)), 2);
	ck_assert_uint_eq(p.flags & NTPC_F_INTERLEAVED, 0);
	/* After NTPC_XLEAVE_MAX_MISSED unanswered polls requests turn basic. */
	for (int i = 0; i < NTPC_XLEAVE_MAX_MISSED; i++)
		ntpc_request(&p, 20 + (uint64_t)i, 1, T0 + (6 + i) * S, qb);
	ntpc_request(&p, 30, 31, T0 + 10 * S, qb);
	ck_assert_int_eq(ntpc_decode(qb, sizeof(qb), &q), 0);
	ck_assert_uint_eq(q.origin, 0);
	ck_assert_uint_eq(q.receive, 0);
	/* Without xleave a request is always basic. */
	ntpc_peer_init(&p, 0, 0, false);
	v.interleave = true;
	ck_assert_int_eq(xexchange(&p, &v, 0, 0, 40, &q), NTPC_RX_SAMPLE);
	ck_assert_int_eq(xexchange(&p, &v, S, 0, 41, &q), NTPC_RX_SAMPLE);
	ck_assert_uint_eq(q.origin, 0);
}
END_TEST

/* An interleaved reply whose transmit time is before the receive it
 * completes is refused, with a message. */
START_TEST(interleaved_bad_transmit)
{
	struct ntpc_peer p;
	struct ntpc_packet q;
	struct xsrv v = {
		.off = 0, .owd = 20000, .proc = 50000, .sendcost = 6000, .interleave = true
	};

	ntpc_peer_init(&p, 0, 0, false);
	p.flags |= NTPC_F_XLEAVE;
	ck_assert_int_eq(xexchange(&p, &v, 0, 0, 11, &q), NTPC_RX_SAMPLE);
	ck_assert_int_eq(xexchange(&p, &v, S, 0, 12, &q), NTPC_RX_NO_SAMPLE);
	v.last_tx -= S / 2; /* the kernel time of reply 2 goes wrong */
	ck_assert_int_eq(xexchange(&p, &v, 2 * S, 0, 13, &q), NTPC_RX_NO_SAMPLE);
	ck_assert_ptr_nonnull(strstr(p.message, "interleaved reply"));
	ck_assert_uint_eq(p.nfilt, 1);
	/* The next one completes exchange 3 and is good again. */
	ck_assert_int_eq(xexchange(&p, &v, 3 * S, 0, 14, &q), NTPC_RX_SAMPLE);
	ck_assert_int_le(llabs(p.filt[0].offset), 2);
}
END_TEST

/* One exchange whose legs take `fwd` and `back` ns; the server's clock is
 * `off` ahead. Returns what ntpc_receive() said. */
static enum ntpc_rx legs(struct ntpc_peer *p, int64_t now, int64_t fwd, int64_t back, int64_t off,
			 uint64_t cookie)
{
	struct ntpc_packet r = { .version = 4,
				 .mode = 4,
				 .stratum = 2,
				 .precision = -20,
				 .root_delay = 0x10,
				 .root_dispersion = 0x10 };
	uint8_t q[NTPC_PACKET_LEN], rb[NTPC_PACKET_LEN];
	int64_t t1 = T0 + now;

	ntpc_request(p, cookie, 0, t1, q);
	memcpy(&r.refid, "\x7f\x00\x00\x01", 4);
	r.origin = cookie;
	r.receive = ntpc_ts_from_ns(t1 + fwd + off);
	r.transmit = ntpc_ts_from_ns(t1 + fwd + off + 1000);
	r.reference = r.receive;
	ntpc_encode(&r, rb);
	return ntpc_receive(p, rb, sizeof(rb), t1 + fwd + 1000 + back, now + fwd + 1000 + back);
}

/* Extra delays 0..20 us in an order unrelated to time. */
static int64_t jit(int k)
{
	static const int t[21] = { 5, 17, 2, 11, 20, 8, 14, 0, 19, 3, 12,
				   7, 16, 1, 10, 18, 6, 13, 4, 15, 9 };

	return t[k % 21] * INT64_C(1000);
}

/* Jitter only on the way back (as on loopback): offsets fall by half the
 * extra delay. After NTPC_ASYM_MIN samples the fit runs; after
 * NTPC_ASYM_RUN significant ones in a row the asymmetry is -0.5 and the
 * steering sample reads as at the lowest delay. */
START_TEST(asymmetry_one_way_jitter)
{
	struct ntpc_peer p;
	int k;

	ntpc_peer_init(&p, 0, 0, false);
	for (k = 1; k <= NTPC_ASYM_MIN + NTPC_ASYM_RUN - 2; k++) {
		int64_t j = jit(k);

		ck_assert_int_eq(legs(&p, k * S, 10000, 10000 + j, 0, (uint64_t)k), NTPC_RX_SAMPLE);
		ck_assert_double_eq(p.asymmetry, 0);
	}
	for (; k <= 40; k++) {
		int64_t j = jit(k), jmin = INT64_MAX;

		for (int i = k > NTPC_ASYM_MAX ? k - NTPC_ASYM_MAX + 1 : 1; i <= k; i++)
			if (jit(i) < jmin)
				jmin = jit(i);
		ck_assert_int_eq(legs(&p, k * S, 10000, 10000 + j, 0, (uint64_t)k), NTPC_RX_SAMPLE);
		ck_assert_double_eq_tol(p.asymmetry, -0.5, 1e-6);
		ck_assert_int_le(llabs(p.last_offset + j / 2), 1);
		/* The steering sample reads as the lowest delay of the history. */
		ck_assert_int_le(llabs(p.recent.offset + jmin / 2), 1);
	}
	/* A correction of our clock moves the history with the samples. */
	ntpc_correct(&p, 1, 41 * S, 2000, 3000);
	ck_assert_int_eq(legs(&p, 41 * S, 10000, 10000 + 6000, -3000, 41), NTPC_RX_SAMPLE);
	ck_assert_double_eq_tol(p.asymmetry, -0.5, 1e-3);
}
END_TEST

/* Jitter shared by both legs gives no asymmetry; a slope steeper than a
 * one-way path can explain is clamped to 0.5. */
START_TEST(asymmetry_symmetric_and_clamped)
{
	struct ntpc_peer p;

	ntpc_peer_init(&p, 0, 0, false);
	for (int k = 1; k <= 40; k++) {
		int64_t j = jit(k);
		int64_t noise = (k % 3 - 1) * 100;

		ck_assert_int_eq(legs(&p, k * S, 10000 + j / 2 + noise, 10000 + j / 2, 0,
				      (uint64_t)k),
				 NTPC_RX_SAMPLE);
		ck_assert_double_le(fabs(p.asymmetry), 0.05);
	}
	ntpc_peer_init(&p, 0, 0, false);
	for (int k = 1; k <= 40; k++) {
		int64_t j = jit(k);

		/* offset -0.5 j from the path and -0.3 j more from the server */
		legs(&p, k * S, 10000, 10000 + j, -3 * j / 10, (uint64_t)k);
	}
	ck_assert_double_eq_tol(p.asymmetry, -0.5, 1e-9);
}
END_TEST

/* A spread of delays well under a microsecond is still a spread: one-way
 * jitter of 0..500 ns establishes the asymmetry. A quiet stretch after it,
 * every delay the same, fits nothing and keeps the estimate. */
START_TEST(asymmetry_small_spread_then_quiet)
{
	struct ntpc_peer p;
	int k;

	ntpc_peer_init(&p, 0, 0, false);
	for (k = 1; k <= NTPC_ASYM_MIN + NTPC_ASYM_RUN - 1; k++)
		ck_assert_int_eq(legs(&p, k * S, 10000, 10000 + jit(k) / 40, 0, (uint64_t)k),
				 NTPC_RX_SAMPLE);
	ck_assert_double_eq_tol(p.asymmetry, -0.5, 0.01); /* offsets are whole ns */
	for (; k <= NTPC_ASYM_MIN + NTPC_ASYM_RUN - 1 + 2 * NTPC_ASYM_MAX; k++)
		ck_assert_int_eq(legs(&p, k * S, 10000, 10000, 0, (uint64_t)k), NTPC_RX_SAMPLE);
	ck_assert_double_eq_tol(p.asymmetry, -0.5, 0.01); /* offsets are whole ns */
	ck_assert_int_le(llabs(p.recent.offset), 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ntpc");
	TCase *tc = tcase_create("ntpc");

	tcase_add_test(tc, codec_round_trip);
	tcase_add_loop_test(tc, timestamps_and_eras, 0, sizeof(ts_table) / sizeof(ts_table[0]));
	tcase_add_test(tc, timestamp_fraction);
	tcase_add_test(tc, offset_delay_formula);
	tcase_add_test(tc, request_and_anti_spoof);
	tcase_add_test(tc, sanity_tests);
	tcase_add_test(tc, filter_picks_lowest_delay);
	tcase_add_test(tc, reach_and_unreachable);
	tcase_add_test(tc, iburst_and_poll);
	tcase_add_test(tc, kiss_of_death);
	tcase_add_test(tc, falseticker_two_seconds_off);
	tcase_add_test(tc, no_majority_and_unreachable_excluded);
	tcase_add_test(tc, panic_one_server_refused);
	tcase_add_test(tc, panic_agreeing_servers);
	tcase_add_test(tc, panic_unreachable_do_not_vote);
	tcase_add_test(tc, clustering_drops_outlier);
	tcase_add_test(tc, leap_vote);
	tcase_add_test(tc, correct_moves_samples);
	tcase_add_test(tc, interleaved_mode);
	tcase_add_test(tc, interleaved_bad_transmit);
	tcase_add_test(tc, asymmetry_one_way_jitter);
	tcase_add_test(tc, asymmetry_symmetric_and_clamped);
	tcase_add_test(tc, asymmetry_small_spread_then_quiet);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
