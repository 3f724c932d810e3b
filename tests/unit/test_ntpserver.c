// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The NTP server's core: the reply's fields and the version echo, short,
 * garbage and non-client packets, interleaved mode (against the daemon's
 * own client core, as chronyd serves it), the rate limiter's bucket at the
 * int64 extremes and its KoD leak, the access list (IPv4, IPv6,
 * IPv4-mapped, /0, /32, /128, deny against allow), the header's bound
 * rule, the client log's eviction when full, and the IPv6 refid's MD5.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "core/ntpclient.h"
#include "core/ntpserver.h"
#include "tk_check.h"

#define S INT64_C(1000000000)
#define T0 (INT64_C(1700000000) * S)

static struct ntps_addr v4(const char *s)
{
	struct ntps_addr a = { .family = 4 };

	ck_assert_int_eq(inet_pton(AF_INET, s, a.a), 1);
	return a;
}

static struct ntps_addr v6(const char *s)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	struct ntps_addr a;

	ck_assert_int_eq(inet_pton(AF_INET6, s, &sa.sin6_addr), 1);
	ck_assert_int_eq(ntps_addr_from_sockaddr((struct sockaddr *)&sa, &a), 0);
	return a;
}

static void rule(struct ntps_conf *c, const char *text, bool allow)
{
	char err[256];

	ck_assert_msg(ntps_parse_rule(text, allow, &c->acl[c->nacl++], err, sizeof(err)) == 0,
		      "%s: %s", text, err);
}

static void server(struct ntps_server *s, unsigned int log_size)
{
	struct ntps_conf c = { .rate = { .interval = 3, .burst = 8, .leak = 2 },
			       .log_size = log_size };
	uint64_t seed[2] = { 1, 2 };

	rule(&c, "all", true);
	ck_assert_int_eq(ntps_init(s, &c, seed), 0);
}

static const struct ntps_header hdr = { .leap = 0,
					.stratum = 3,
					.precision = -24,
					.root_delay = 0x100,
					.root_dispersion = 0x200,
					.refid = 0x04030201,
					.reference = UINT64_C(0xe000000000000000) };

static void request(uint8_t buf[48], int version, int mode, uint64_t org, uint64_t rec,
		    uint64_t xmt)
{
	struct ntpc_packet q = { .version = (uint8_t)version,
				 .mode = (uint8_t)mode,
				 .poll = 6,
				 .origin = org,
				 .receive = rec,
				 .transmit = xmt };

	ntpc_encode(&q, buf);
}

START_TEST(reply_fields_and_version_echo)
{
	struct ntps_server s;
	struct ntps_addr a = v4("192.0.2.1");
	struct ntps_pending p;
	struct ntpc_packet r;
	uint8_t q[48], out[48];

	server(&s, 16);
	for (int v = 1; v <= 4; v++) {
		request(q, v, 3, 0, 0, UINT64_C(0x1122334455667788) + (uint64_t)v);
		ck_assert_int_eq(ntps_request(&s, &a, q, 48, T0 + v * S, v * S, &hdr, out, &p),
				 NTPS_REPLY);
		ntps_finish(&s, &p, T0 + v * S + 5000, out);
		ck_assert_int_eq(ntpc_decode(out, 48, &r), 0);
		ck_assert_uint_eq(r.version, (unsigned)v);
		ck_assert_uint_eq(r.mode, 4);
		ck_assert_uint_eq(r.leap, 0);
		ck_assert_uint_eq(r.stratum, 3);
		ck_assert_int_eq(r.poll, 6);
		ck_assert_int_eq(r.precision, -24);
		ck_assert_uint_eq(r.root_delay, 0x100);
		ck_assert_uint_eq(r.root_dispersion, 0x200);
		ck_assert_uint_eq(r.refid, 0x04030201);
		ck_assert_uint_eq(r.reference, hdr.reference);
		ck_assert_uint_eq(r.origin, UINT64_C(0x1122334455667788) + (uint64_t)v);
		ck_assert_uint_eq(r.receive, ntpc_ts_from_ns(T0 + v * S));
		ck_assert_uint_eq(r.transmit, ntpc_ts_from_ns(T0 + v * S + 5000));
	}
	/* A poll under the limiter's interval is answered with its interval. */
	request(q, 4, 3, 0, 0, 99);
	q[2] = (uint8_t)-6;
	ck_assert_int_eq(ntps_request(&s, &a, q, 60, T0 + 9 * S, 9 * S, &hdr, out, &p), NTPS_REPLY);
	ck_assert_int_eq((int8_t)out[2], 3);
	ck_assert_uint_eq(s.n.requests, 5);
	ck_assert_uint_eq(s.n.replies, 5);
	ntps_free(&s);
}
END_TEST

START_TEST(short_garbage_and_modes)
{
	struct ntps_server s;
	struct ntps_addr a = v4("192.0.2.1");
	struct ntps_pending p;
	uint8_t q[48], out[48];

	server(&s, 16);
	request(q, 4, 3, 0, 0, 1);
	ck_assert_int_eq(ntps_request(&s, &a, q, 47, T0, 0, &hdr, out, &p), NTPS_DROP_BAD);
	ck_assert_int_eq(ntps_request(&s, &a, q, 0, T0, 0, &hdr, out, &p), NTPS_DROP_BAD);
	request(q, 0, 3, 0, 0, 1);
	ck_assert_int_eq(ntps_request(&s, &a, q, 48, T0, 0, &hdr, out, &p), NTPS_DROP_BAD);
	request(q, 5, 3, 0, 0, 1);
	ck_assert_int_eq(ntps_request(&s, &a, q, 48, T0, 0, &hdr, out, &p), NTPS_DROP_BAD);
	request(q, 7, 3, 0, 0, 1);
	ck_assert_int_eq(ntps_request(&s, &a, q, 48, T0, 0, &hdr, out, &p), NTPS_DROP_BAD);
	for (int m = 0; m < 8; m++) {
		if (m == 3)
			continue;
		request(q, 4, m, 0, 0, 1);
		ck_assert_int_eq(ntps_request(&s, &a, q, 48, T0, 0, &hdr, out, &p), NTPS_DROP_MODE);
	}
	ck_assert_uint_eq(s.n.drop_bad, 5);
	ck_assert_uint_eq(s.n.drop_mode, 7);
	ck_assert_uint_eq(s.n.received, 12);
	ck_assert_uint_eq(s.n.requests, 0);
	ck_assert_uint_eq(s.used, 0); /* nothing logged for garbage */
	ntps_free(&s);
}
END_TEST

/* The daemon's own client in interleaved mode against the server core:
 * the first reply basic, the second basic (no transmit time kept yet), the
 * third and on interleaved, with the kernel's transmit time of the
 * previous reply as the transmit timestamp. */
START_TEST(interleaved_with_our_client)
{
	struct ntps_server s;
	struct ntps_addr a = v4("198.51.100.7");
	struct ntpc_peer peer;
	struct ntps_pending p;
	struct ntpc_packet r;
	uint8_t q[48], out[48];
	int64_t t = T0, kernel_tx = 0;
	uint64_t prev_rx = 0;

	server(&s, 16);
	ntpc_peer_init(&peer, 4, 4, false);
	peer.flags |= NTPC_F_XLEAVE;
	for (int i = 0; i < 6; i++) {
		enum ntps_verdict v;
		enum ntpc_rx rxv;

		ntpc_request(&peer, UINT64_C(0x1000) + (uint64_t)i, UINT64_C(0x2000) + (uint64_t)i,
			     t, q);
		v = ntps_request(&s, &a, q, 48, t + 100000, 16 * S * i, &hdr, out, &p);
		ntps_finish(&s, &p, t + 150000, out);
		ck_assert_int_eq(ntpc_decode(out, 48, &r), 0);
		if (i < 2) {
			ck_assert_int_eq(v, NTPS_REPLY);
			ck_assert_uint_eq(r.origin, UINT64_C(0x1000) + (uint64_t)i);
		} else {
			ck_assert_int_eq(v, NTPS_REPLY_XLEAVE);
			ck_assert_uint_eq(r.origin, UINT64_C(0x2000) + (uint64_t)i);
			ck_assert_uint_eq(r.transmit, ntpc_ts_from_ns(kernel_tx));
			ck_assert_uint_ne(r.receive, prev_rx);
		}
		prev_rx = r.receive;
		/* The kernel's transmit time, 20 us after the user-space one. */
		kernel_tx = t + 170000;
		ntps_transmitted(&s, p.slot, p.rx, kernel_tx);
		if (i == 0)
			kernel_tx = 0; /* a basic client's: not kept */
		rxv = ntpc_receive(&peer, out, 48, t + 300000, 16 * S * i);
		ck_assert_msg(rxv == NTPC_RX_SAMPLE || rxv == NTPC_RX_NO_SAMPLE, "%d: %d %s", i,
			      rxv, peer.message);
		/* The first interleaved reply completes an exchange that gave
		 * its basic sample already; the next ones give samples. */
		if (i >= 3)
			ck_assert_msg(peer.flags & NTPC_F_INTERLEAVED, "%d: %s", i, peer.message);
		t += 16 * S;
	}
	ck_assert_uint_eq(s.n.interleaved, 4);
	ck_assert_uint_eq(s.n.tx_stamps, 5); /* every reply after the first kept its TX */
	/* A kernel timestamp for a reply that is no longer the last is ignored. */
	ntps_transmitted(&s, p.slot, p.rx - 1, T0);
	ck_assert_uint_eq(s.clients[p.slot].tx, ntpc_ts_from_ns(kernel_tx));
	/* A basic request (receive == transmit... 0 and 0 differ from the
	 * transmit): a request with origin == our rx but receive == transmit
	 * is basic. */
	request(q, 4, 3, s.clients[p.slot].rx, 77, 77);
	ck_assert_int_eq(ntps_request(&s, &a, q, 48, t, 16 * S * 7, &hdr, out, &p), NTPS_REPLY);
	ck_assert_uint_eq(s.clients[p.slot].tx, 0);
	ntps_free(&s);
}
END_TEST

START_TEST(rate_limit_kod_and_leak)
{
	struct ntps_server s;
	struct ntps_addr a = v4("203.0.113.9");
	struct ntps_pending p;
	struct ntpc_packet r;
	uint8_t q[48], out[48];
	unsigned int served = 0, kod = 0, dropped = 0;

	server(&s, 16);
	/* 8 in a burst, then 1 per 8 s; limited: 1 in 4 gets a KoD. */
	for (int i = 0; i < 40; i++) {
		request(q, 4, 3, 0, 0, (uint64_t)i + 1);
		switch (ntps_request(&s, &a, q, 48, T0, S, &hdr, out, &p)) {
		case NTPS_REPLY:
			served++;
			break;
		case NTPS_KOD:
			kod++;
			ck_assert_int_eq(ntpc_decode(out, 48, &r), 0);
			ck_assert_uint_eq(r.stratum, 0);
			ck_assert_uint_eq(r.leap, 3);
			ck_assert_uint_eq(r.mode, 4);
			ck_assert_mem_eq(&r.refid, "RATE", 4);
			ck_assert_uint_eq(r.origin, (uint64_t)i + 1);
			break;
		case NTPS_DROP_RATE:
			dropped++;
			break;
		default:
			ck_abort();
		}
	}
	ck_assert_uint_eq(served, 8);
	ck_assert_uint_eq(kod, 8);
	ck_assert_uint_eq(dropped, 24);
	ck_assert_uint_eq(s.n.kod, 8);
	ck_assert_uint_eq(s.n.drop_rate, 24);
	/* 8 s later one more. */
	request(q, 4, 3, 0, 0, 1);
	ck_assert_int_eq(ntps_request(&s, &a, q, 48, T0, 9 * S, &hdr, out, &p), NTPS_REPLY);
	ntps_free(&s);
}
END_TEST

/* ratelimit = no: a client's 1000 requests in one instant are all served,
 * and the poll asked for is the client's own. */
START_TEST(rate_limit_off)
{
	struct ntps_server s;
	struct ntps_conf c = { .rate = { .off = true, .interval = 3, .burst = 8, .leak = 2 },
			       .log_size = 4 };
	struct ntps_addr a = v4("203.0.113.9");
	struct ntps_pending p;
	struct ntpc_packet r;
	uint64_t seed[2] = { 1, 2 };
	uint8_t q[48], out[48];

	rule(&c, "all", true);
	ck_assert_int_eq(ntps_init(&s, &c, seed), 0);
	for (int i = 0; i < 1000; i++) {
		request(q, 4, 3, 0, 0, (uint64_t)i + 1);
		q[2] = (uint8_t)-2; /* poll -2: under the limiter's 3 */
		ck_assert_int_eq(ntps_request(&s, &a, q, 48, T0, S, &hdr, out, &p), NTPS_REPLY);
	}
	ck_assert_int_eq(ntpc_decode(out, 48, &r), 0);
	ck_assert_int_eq(r.poll, -2);
	ck_assert_uint_eq(s.n.kod + s.n.drop_rate, 0);
	ntps_free(&s);
}
END_TEST

START_TEST(bucket_extremes)
{
	struct ntps_rate_conf c = { .interval = 12, .burst = 255, .leak = 0 };
	struct ntps_rate_conf fast = { .interval = -4, .burst = 1, .leak = 0 };
	struct ntps_bucket b;

	ntps_bucket_init(&b, &c, INT64_MIN);
	for (int i = 0; i < 255; i++)
		ck_assert(ntps_bucket_take(&b, &c, INT64_MIN));
	ck_assert(!ntps_bucket_take(&b, &c, INT64_MIN));
	/* The whole range at once: full again, no overflow. */
	for (int i = 0; i < 255; i++)
		ck_assert(ntps_bucket_take(&b, &c, INT64_MAX));
	ck_assert(!ntps_bucket_take(&b, &c, INT64_MAX));
	/* Time going back adds nothing. */
	ck_assert(!ntps_bucket_take(&b, &c, INT64_MIN));
	ck_assert(!ntps_bucket_take(&b, &c, 0));
	ck_assert_int_ge(b.credit_ns, 0);
	ck_assert_int_eq(b.last, INT64_MAX);

	ntps_bucket_init(&b, &fast, -1);
	ck_assert(ntps_bucket_take(&b, &fast, 0));
	ck_assert(!ntps_bucket_take(&b, &fast, 0));
	ck_assert(!ntps_bucket_take(&b, &fast, S / 16 - 1));
	ck_assert(ntps_bucket_take(&b, &fast, S / 16));
	ck_assert(ntps_bucket_take(&b, &fast, INT64_MAX));
	ck_assert(!ntps_bucket_take(&b, &fast, INT64_MAX));
}
END_TEST

START_TEST(acl_rules)
{
	struct ntps_conf c = { 0 };
	struct ntps_addr a;
	char err[256];
	struct ntps_acl_rule r;

	/* Nothing configured: nobody. */
	a = v4("10.1.2.3");
	ck_assert(!ntps_acl_allows(c.acl, c.nacl, &a));
	rule(&c, "10.0.0.0/8", true);
	rule(&c, "10.1.0.0/16", false);
	rule(&c, "10.1.2.0/24", true);
	rule(&c, "10.1.2.3/32", false);
	rule(&c, "10.9.0.0/16", true);
	rule(&c, "10.9.0.0/16", false); /* equal prefix: deny wins */
	ck_assert(ntps_acl_allows(c.acl, c.nacl, (a = v4("10.200.0.1"), &a)));
	ck_assert(!ntps_acl_allows(c.acl, c.nacl, (a = v4("10.1.9.9"), &a)));
	ck_assert(ntps_acl_allows(c.acl, c.nacl, (a = v4("10.1.2.4"), &a)));
	ck_assert(!ntps_acl_allows(c.acl, c.nacl, (a = v4("10.1.2.3"), &a)));
	ck_assert(!ntps_acl_allows(c.acl, c.nacl, (a = v4("10.9.1.1"), &a)));
	ck_assert(!ntps_acl_allows(c.acl, c.nacl, (a = v4("11.0.0.1"), &a)));
	/* An IPv4-mapped IPv6 address is its IPv4 address. */
	ck_assert(ntps_acl_allows(c.acl, c.nacl, (a = v6("::ffff:10.1.2.4"), &a)));
	ck_assert(!ntps_acl_allows(c.acl, c.nacl, (a = v6("::ffff:10.1.2.3"), &a)));
	/* IPv4 rules say nothing of IPv6. */
	ck_assert(!ntps_acl_allows(c.acl, c.nacl, (a = v6("2001:db8::1"), &a)));
	rule(&c, "2001:db8::/32", true);
	rule(&c, "2001:db8::1/128", false);
	ck_assert(ntps_acl_allows(c.acl, c.nacl, (a = v6("2001:db8::2"), &a)));
	ck_assert(!ntps_acl_allows(c.acl, c.nacl, (a = v6("2001:db8::1"), &a)));
	ck_assert(!ntps_acl_allows(c.acl, c.nacl, (a = v6("2001:db9::1"), &a)));
	/* /0 of a family: that family only; "all": everything, least specific. */
	rule(&c, "::/0", true);
	ck_assert(ntps_acl_allows(c.acl, c.nacl, (a = v6("2001:db9::1"), &a)));
	ck_assert(!ntps_acl_allows(c.acl, c.nacl, (a = v4("11.0.0.1"), &a)));
	rule(&c, "0.0.0.0/0", true);
	ck_assert(ntps_acl_allows(c.acl, c.nacl, (a = v4("11.0.0.1"), &a)));
	rule(&c, "all", false); /* prefix 0, a deny: ties with the /0s and wins */
	ck_assert(!ntps_acl_allows(c.acl, c.nacl, (a = v4("11.0.0.1"), &a)));
	ck_assert(ntps_acl_allows(c.acl, c.nacl, (a = v4("10.200.0.1"), &a)));
	/* Parsing: host bits cleared, a mapped subnet, a host alone. */
	ck_assert_int_eq(ntps_parse_rule("192.168.1.77/24", true, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.net.a[3], 0);
	ck_assert_uint_eq(r.prefix, 24);
	ck_assert_int_eq(ntps_parse_rule("::ffff:10.0.0.0/104", true, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.net.family, 4);
	ck_assert_uint_eq(r.prefix, 8);
	ck_assert_int_eq(ntps_parse_rule("192.0.2.1", true, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.prefix, 32);
	ck_assert_int_eq(ntps_parse_rule("10.0.0.0/33", true, &r, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "'10.0.0.0/33'") && strstr(err, "0..32"), "%s", err);
	ck_assert_int_eq(ntps_parse_rule("::/129", true, &r, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(ntps_parse_rule("10.0.0.0/", true, &r, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(ntps_parse_rule("10.0.0.0/-1", true, &r, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(ntps_parse_rule("host.example", true, &r, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(ntps_parse_rule("", true, &r, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(acl_drops_in_request)
{
	struct ntps_server s;
	struct ntps_conf c = { .rate = { .interval = 3, .burst = 8, .leak = 2 }, .log_size = 4 };
	uint64_t seed[2] = { 3, 4 };
	struct ntps_addr a = v4("192.0.2.1"), b = v4("192.0.2.2");
	struct ntps_pending p;
	uint8_t q[48], out[48];

	rule(&c, "192.0.2.0/24", true);
	rule(&c, "192.0.2.2", false);
	ck_assert_int_eq(ntps_init(&s, &c, seed), 0);
	request(q, 4, 3, 0, 0, 1);
	ck_assert_int_eq(ntps_request(&s, &a, q, 48, T0, 0, &hdr, out, &p), NTPS_REPLY);
	ck_assert_int_eq(ntps_request(&s, &b, q, 48, T0, 0, &hdr, out, &p), NTPS_DROP_ACL);
	ck_assert_uint_eq(s.n.drop_acl, 1);
	ck_assert_uint_eq(s.used, 1);
	ntps_free(&s);
}
END_TEST

START_TEST(client_log_evicts_oldest)
{
	struct ntps_server s;
	struct ntps_addr a;
	char name[32];
	int32_t slot;

	server(&s, 8);
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "10.0.0.%d", i);
		a = v4(name);
		ck_assert_int_eq(ntps_client_get(&s, &a, i), i);
	}
	ck_assert_uint_eq(s.used, 8);
	/* 10.0.0.0 seen again: 10.0.0.1 is now the oldest. */
	a = v4("10.0.0.0");
	ck_assert_int_eq(ntps_client_get(&s, &a, 100), 0);
	a = v4("10.0.1.0");
	slot = ntps_client_get(&s, &a, 101);
	ck_assert_int_eq(slot, 1);
	ck_assert_uint_eq(s.used, 8);
	a = v4("10.0.0.1");
	ck_assert_int_eq(ntps_client_find(&s, &a), -1);
	for (int i = 0; i < 8; i++) {
		if (i == 1)
			continue;
		snprintf(name, sizeof(name), "10.0.0.%d", i);
		a = v4(name);
		ck_assert_int_eq(ntps_client_find(&s, &a), i);
	}
	/* Many more than fit: the table stays bounded and consistent. */
	for (int i = 0; i < 1000; i++) {
		struct ntps_addr x = { .family = 6 };

		x.a[0] = 0x20;
		x.a[14] = (uint8_t)(i >> 8);
		x.a[15] = (uint8_t)i;
		ck_assert_int_lt(ntps_client_get(&s, &x, 200 + i), 8);
		ck_assert_int_eq(ntps_client_find(&s, &x), ntps_client_get(&s, &x, 200 + i));
	}
	ck_assert_uint_eq(s.used, 8);
	ntps_free(&s);
}
END_TEST

static double decoded_s(uint32_t v)
{
	return (double)v / 65536.0;
}

START_TEST(header_carries_the_bound)
{
	struct ntps_clock c = { .synchronized = true,
				.from_ntp = true,
				.up_stratum = 3,
				.up_refid = 0x0100007f,
				.up_root_delay_ns = 1234567,
				.leap = 1,
				.bound_ns = 987654,
				.ref_time_ns = T0,
				.precision = -23 };
	struct ntps_header h;

	for (int64_t b = 0; b < 20 * S; b = b * 3 + 7) {
		for (int64_t d = 0; d < 3 * S; d = d * 5 + 11) {
			c.bound_ns = b;
			c.up_root_delay_ns = d;
			ntps_header(&c, &h);
			ck_assert_msg(decoded_s(h.root_dispersion) + decoded_s(h.root_delay) / 2 >=
					      (double)b / 1e9,
				      "bound %lld delay %lld", (long long)b, (long long)d);
			/* and not more than one unit above */
			if (decoded_s(h.root_delay) / 2 < (double)b / 1e9)
				ck_assert(decoded_s(h.root_dispersion - 1) +
						  decoded_s(h.root_delay) / 2 <
					  (double)b / 1e9);
		}
	}
	ck_assert_uint_eq(h.leap, 1);
	ck_assert_uint_eq(h.stratum, 3);
	ck_assert_uint_eq(h.refid, 0x0100007f);
	ck_assert_uint_eq(h.reference, ntpc_ts_from_ns(T0));
	ck_assert_int_eq(h.precision, -23);
	/* reference = system, synchronized. */
	c.from_ntp = false;
	c.bound_ns = 5000;
	ntps_header(&c, &h);
	ck_assert_uint_eq(h.stratum, 2);
	ck_assert_uint_eq(h.root_delay, 0);
	ck_assert_uint_eq(h.refid, htonl(NTPS_REFID_LOCAL));
	ck_assert(decoded_s(h.root_dispersion) >= 5e-6);
	/* Synchronized but without a bound: treated as not synchronized. */
	c.bound_ns = -1;
	ntps_header(&c, &h);
	ck_assert_uint_eq(h.leap, 3);
	ck_assert_uint_eq(h.stratum, 16);
	/* Not synchronized: LI 3, stratum 16, INIT. */
	c.synchronized = false;
	c.bound_ns = -1;
	ntps_header(&c, &h);
	ck_assert_uint_eq(h.leap, 3);
	ck_assert_uint_eq(h.stratum, 16);
	ck_assert_mem_eq(&h.refid, "INIT", 4);
	ck_assert(decoded_s(h.root_dispersion) >= 16.0);
	/* local_stratum: served at that stratum. */
	c.local_stratum = 8;
	c.leap = 0;
	ntps_header(&c, &h);
	ck_assert_uint_eq(h.leap, 0);
	ck_assert_uint_eq(h.stratum, 8);
	ck_assert_uint_eq(h.refid, htonl(NTPS_REFID_LOCAL));
	ck_assert_uint_eq(h.root_dispersion, 1); /* 2^-23 s, rounded up to 1/65536 s */
	c.bound_ns = 300000;
	ntps_header(&c, &h);
	ck_assert(decoded_s(h.root_dispersion) >= 300e-6);
}
END_TEST

START_TEST(refid_md5)
{
	static const uint8_t empty[16] = { 0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04,
					   0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e };
	static const uint8_t abc[16] = { 0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
					 0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72 };
	static const uint8_t digits[16] = { 0x57, 0xed, 0xf4, 0xa2, 0x2b, 0xe3, 0xc9, 0x55,
					    0xac, 0x49, 0xda, 0x2e, 0x21, 0x07, 0xb6, 0x7a };
	const char *d80 = "1234567890123456789012345678901234567890"
			  "1234567890123456789012345678901234567890";
	uint8_t dg[16];
	struct ntps_addr a = v4("192.0.2.1");
	uint32_t r;

	ntps_md5((const uint8_t *)"", 0, dg);
	ck_assert_mem_eq(dg, empty, 16);
	ntps_md5((const uint8_t *)"abc", 3, dg);
	ck_assert_mem_eq(dg, abc, 16);
	ntps_md5((const uint8_t *)d80, 80, dg);
	ck_assert_mem_eq(dg, digits, 16);
	r = ntps_refid(&a);
	ck_assert_mem_eq(&r, a.a, 4);
	a = v6("2001:db8::1");
	ntps_md5(a.a, 16, dg);
	r = ntps_refid(&a);
	ck_assert_mem_eq(&r, dg, 4);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ntpserver");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, reply_fields_and_version_echo);
	tcase_add_test(tc, short_garbage_and_modes);
	tcase_add_test(tc, interleaved_with_our_client);
	tcase_add_test(tc, rate_limit_kod_and_leak);
	tcase_add_test(tc, rate_limit_off);
	tcase_add_test(tc, bucket_extremes);
	tcase_add_test(tc, acl_rules);
	tcase_add_test(tc, acl_drops_in_request);
	tcase_add_test(tc, client_log_evicts_oldest);
	tcase_add_test(tc, header_carries_the_bound);
	tcase_add_test(tc, refid_md5);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
