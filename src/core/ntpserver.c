// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The NTP server's core: access list, client log, rate limiter, the
 * request's checks and the reply in basic and interleaved mode, and the
 * header that carries the error bound. Pure: see ntpserver.h.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "core/ntpclient.h"
#include "core/ntpserver.h"
#include "core/tunit.h"

/* --- addresses and the access list ------------------------------------- */

int ntps_addr_from_sockaddr(const struct sockaddr *sa, struct ntps_addr *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		a->family = 4;
		memcpy(a->a, &s4->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		if (memcmp(s6->sin6_addr.s6_addr, mapped, sizeof(mapped)) == 0) {
			a->family = 4;
			memcpy(a->a, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			a->family = 6;
			memcpy(a->a, s6->sin6_addr.s6_addr, 16);
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned int bits)
{
	unsigned int whole = bits / 8, rest = bits % 8;

	if (memcmp(a, net, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ net[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

int ntps_parse_rule(const char *text, bool allow, struct ntps_acl_rule *r, char *err, size_t errlen)
{
	static const char expected[] = "expected 'all', an address, or ADDRESS/LENGTH with a "
				       "numeric IPv4 (0..32) or IPv6 (0..128) address";
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
	struct in6_addr a6;
	unsigned long len;
	unsigned int max;
	char *end;

	memset(r, 0, sizeof(*r));
	r->allow = allow;
	if (strcmp(text, "all") == 0)
		return 0;
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(err, errlen, "'%s': %s", text, expected);
		return -EINVAL;
	}
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, r->net.a) == 1) {
		r->net.family = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, host, &a6) == 1) {
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		if (memcmp(a6.s6_addr, mapped, sizeof(mapped)) == 0) { /* the IPv4 address */
			r->net.family = 4;
			memcpy(r->net.a, a6.s6_addr + 12, 4);
			max = 32;
		} else {
			r->net.family = 6;
			memcpy(r->net.a, a6.s6_addr, 16);
			max = 128;
		}
	} else {
		snprintf(err, errlen, "'%s' is not a numeric address (no names are looked up): %s",
			 host, expected);
		return -EINVAL;
	}
	len = max;
	if (slash) {
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		bool mapped6 = max == 32 && strchr(host, ':');
		unsigned int lim = mapped6 ? 128 : max;

		if (!slash[1] || slash[1] == '-' || slash[1] == '+' || *end || errno || len > lim) {
			snprintf(err, errlen, "'%s': prefix length '%s' out of range 0..%u for %s",
				 text, slash + 1, lim, lim == 32 ? "IPv4" : "IPv6");
			return -EINVAL;
		}
		/* An IPv4-mapped subnet written in IPv6: its length counts the
		 * 96 bits of the mapping. */
		if (mapped6) {
			if (len < 96) {
				snprintf(err, errlen,
					 "'%s': an IPv4-mapped subnet needs a length 96..128",
					 text);
				return -EINVAL;
			}
			len -= 96;
		}
	}
	r->prefix = (uint8_t)len;
	for (unsigned int b = (unsigned int)len; b < 128; b++) /* clear the host bits */
		r->net.a[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
	return 0;
}

bool ntps_acl_allows(const struct ntps_acl_rule *rules, size_t n, const struct ntps_addr *a)
{
	int best = -1;
	bool allow = false;

	for (size_t i = 0; i < n; i++) {
		const struct ntps_acl_rule *r = &rules[i];

		if (r->net.family != 0 &&
		    (r->net.family != a->family || !prefix_match(a->a, r->net.a, r->prefix)))
			continue;
		if ((int)r->prefix > best || ((int)r->prefix == best && !r->allow)) {
			best = r->prefix;
			allow = r->allow;
		}
	}
	return allow;
}

/* --- the rate limiter ---------------------------------------------------- */

static int64_t period_ns(const struct ntps_rate_conf *c)
{
	return (int64_t)ldexp((double)NSEC_PER_SEC, c->interval);
}

static int64_t capacity_ns(const struct ntps_rate_conf *c)
{
	return period_ns(c) * (int64_t)(c->burst ? c->burst : 1);
}

void ntps_bucket_init(struct ntps_bucket *b, const struct ntps_rate_conf *c, int64_t now)
{
	b->credit_ns = capacity_ns(c);
	b->last = now;
	b->limited = 0;
}

bool ntps_bucket_take(struct ntps_bucket *b, const struct ntps_rate_conf *c, int64_t now)
{
	int64_t cap = capacity_ns(c), per = period_ns(c);

	if (now > b->last) {
		/* The difference of two int64 is exact as uint64. */
		uint64_t dt = (uint64_t)now - (uint64_t)b->last;
		uint64_t room = (uint64_t)(cap - b->credit_ns);

		b->credit_ns = dt >= room ? cap : b->credit_ns + (int64_t)dt;
		b->last = now;
	}
	if (b->credit_ns >= per) {
		b->credit_ns -= per;
		return true;
	}
	return false;
}

/* --- the header ------------------------------------------------------------ */

/* ns to NTP short format, rounded up, saturated. */
static uint32_t short_ceil(int64_t ns)
{
	uint64_t v;

	if (ns <= 0)
		return 0;
	if ((uint64_t)ns > (UINT64_MAX >> 16))
		return UINT32_MAX;
	v = (((uint64_t)ns << 16) + NSEC_PER_SEC_U - 1) / NSEC_PER_SEC_U;
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* The smallest root dispersion (short format) with dispersion + delay / 2
 * >= bound_ns, both as a client decodes them (value / 65536 s). */
static uint32_t dispersion_for(int64_t bound_ns, uint32_t root_delay)
{
	uint64_t need; /* units of 2^-17 s */

	if (bound_ns <= 0)
		return 0;
	if ((uint64_t)bound_ns > (UINT64_MAX >> 17))
		return UINT32_MAX;
	need = (((uint64_t)bound_ns << 17) + NSEC_PER_SEC_U - 1) / NSEC_PER_SEC_U;
	if (need <= root_delay)
		return 0;
	need = (need - root_delay + 1) / 2;
	return need > UINT32_MAX ? UINT32_MAX : (uint32_t)need;
}

void ntps_header(const struct ntps_clock *c, struct ntps_header *h)
{
	memset(h, 0, sizeof(*h));
	h->precision = c->precision;
	h->reference = c->ref_time_ns > 0 ? ntpc_ts_from_ns(c->ref_time_ns) : 0;
	/* Synchronized without a bound would promise nothing: not synchronized. */
	if (c->synchronized && c->bound_ns >= 0) {
		h->leap = (uint8_t)(c->leap & 3);
		if (c->from_ntp) {
			h->stratum = c->up_stratum > 15 ? 15 : c->up_stratum;
			h->refid = c->up_refid;
			h->root_delay = ntpc_short_from_ns(c->up_root_delay_ns);
		} else {
			h->stratum = 2;
			h->refid = htonl(NTPS_REFID_LOCAL);
		}
		if (h->stratum == 0)
			h->stratum = 2;
		h->root_dispersion = dispersion_for(c->bound_ns, h->root_delay);
		return;
	}
	if (c->local_stratum > 0 && c->local_stratum < 16) {
		h->leap = (uint8_t)(c->leap & 3);
		if (h->leap == 3)
			h->leap = 0;
		h->stratum = (uint8_t)c->local_stratum;
		h->refid = htonl(NTPS_REFID_LOCAL);
		if (c->bound_ns >= 0 && c->bound_ns < NSEC_PER_SEC)
			h->root_dispersion = dispersion_for(c->bound_ns, 0);
		else
			h->root_dispersion = short_ceil(
				(int64_t)ldexp((double)NSEC_PER_SEC, c->precision));
		return;
	}
	h->leap = 3;
	h->stratum = 16;
	h->refid = htonl(NTPS_REFID_INIT);
	h->root_dispersion = dispersion_for(c->bound_ns >= 0 ? c->bound_ns : 16 * NSEC_PER_SEC, 0);
}

/* --- the client log ---------------------------------------------------------- */

int ntps_init(struct ntps_server *s, const struct ntps_conf *c, const uint64_t seed[2])
{
	memset(s, 0, sizeof(*s));
	s->conf = *c;
	if (s->conf.log_size < 1)
		s->conf.log_size = 1;
	s->nbuckets = 1;
	while (s->nbuckets < s->conf.log_size && s->nbuckets < (UINT32_C(1) << 30))
		s->nbuckets <<= 1;
	s->clients = calloc(s->conf.log_size, sizeof(*s->clients));
	s->buckets = malloc(s->nbuckets * sizeof(*s->buckets));
	if (!s->clients || !s->buckets) {
		ntps_free(s);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->nbuckets; i++)
		s->buckets[i] = -1;
	s->newest = s->oldest = -1;
	s->seed[0] = seed[0];
	s->seed[1] = seed[1];
	return 0;
}

void ntps_free(struct ntps_server *s)
{
	free(s->clients);
	free(s->buckets);
	s->clients = NULL;
	s->buckets = NULL;
	s->used = 0;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* A keyed hash: a sender cannot choose addresses that share a chain. */
static uint32_t hash_addr(const struct ntps_server *s, const struct ntps_addr *a)
{
	uint64_t w0, w1;

	memcpy(&w0, a->a, 8);
	memcpy(&w1, a->a + 8, 8);
	return (uint32_t)mix(mix(w0 ^ s->seed[0] ^ a->family) ^ w1 ^ s->seed[1]) &
	       (s->nbuckets - 1);
}

static bool addr_eq(const struct ntps_addr *x, const struct ntps_addr *y)
{
	return x->family == y->family && memcmp(x->a, y->a, x->family == 4 ? 4 : 16) == 0;
}

int32_t ntps_client_find(const struct ntps_server *s, const struct ntps_addr *a)
{
	for (int32_t i = s->buckets[hash_addr(s, a)]; i >= 0; i = s->clients[i].hnext)
		if (addr_eq(&s->clients[i].addr, a))
			return i;
	return -1;
}

static void age_unlink(struct ntps_server *s, int32_t i)
{
	struct ntps_client *c = &s->clients[i];

	if (c->older >= 0)
		s->clients[c->older].newer = c->newer;
	else
		s->oldest = c->newer;
	if (c->newer >= 0)
		s->clients[c->newer].older = c->older;
	else
		s->newest = c->older;
}

static void age_push(struct ntps_server *s, int32_t i)
{
	struct ntps_client *c = &s->clients[i];

	c->older = s->newest;
	c->newer = -1;
	if (s->newest >= 0)
		s->clients[s->newest].newer = i;
	else
		s->oldest = i;
	s->newest = i;
}

static void hash_unlink(struct ntps_server *s, int32_t i)
{
	int32_t *pp = &s->buckets[hash_addr(s, &s->clients[i].addr)];

	while (*pp >= 0 && *pp != i)
		pp = &s->clients[*pp].hnext;
	if (*pp == i)
		*pp = s->clients[i].hnext;
}

int32_t ntps_client_get(struct ntps_server *s, const struct ntps_addr *a, int64_t now)
{
	int32_t i = ntps_client_find(s, a);
	uint32_t h;

	if (i >= 0) {
		age_unlink(s, i);
		age_push(s, i);
		s->clients[i].last_seen = now;
		return i;
	}
	if (s->used < s->conf.log_size) {
		i = (int32_t)s->used++;
	} else { /* full: forget the client seen least recently */
		i = s->oldest;
		hash_unlink(s, i);
		age_unlink(s, i);
	}
	memset(&s->clients[i], 0, sizeof(s->clients[i]));
	s->clients[i].addr = *a;
	s->clients[i].last_seen = now;
	ntps_bucket_init(&s->clients[i].bucket, &s->conf.rate, now);
	h = hash_addr(s, a);
	s->clients[i].hnext = s->buckets[h];
	s->buckets[h] = i;
	age_push(s, i);
	return i;
}

/* --- requests -------------------------------------------------------------- */

enum ntps_verdict ntps_request(struct ntps_server *s, const struct ntps_addr *a, const uint8_t *buf,
			       size_t len, int64_t rx_ns, int64_t now, const struct ntps_header *h,
			       uint8_t out[NTPS_PACKET_LEN], struct ntps_pending *p)
{
	struct ntpc_packet q, r;
	struct ntps_client *c;
	uint64_t rx;
	bool xleave;
	int poll;

	*p = (struct ntps_pending){ .slot = -1 };
	s->n.received++;
	if (ntpc_decode(buf, len, &q) < 0 || q.version < 1 || q.version > 4) {
		s->n.drop_bad++;
		return NTPS_DROP_BAD;
	}
	if (q.mode != 3) {
		s->n.drop_mode++;
		return NTPS_DROP_MODE;
	}
	if (!ntps_acl_allows(s->conf.acl, s->conf.nacl, a)) {
		s->n.drop_acl++;
		return NTPS_DROP_ACL;
	}
	s->n.requests++;
	p->slot = ntps_client_get(s, a, now);
	c = &s->clients[p->slot];
	c->requests++;
	/* Ask for a longer poll when the client's is under the limiter's. */
	poll = !s->conf.rate.off && q.poll < s->conf.rate.interval ? s->conf.rate.interval : q.poll;
	r = (struct ntpc_packet){ .leap = h->leap,
				  .version = q.version,
				  .mode = 4,
				  .stratum = h->stratum,
				  .poll = (int8_t)poll,
				  .precision = h->precision,
				  .root_delay = h->root_delay,
				  .root_dispersion = h->root_dispersion,
				  .refid = h->refid,
				  .reference = h->reference,
				  .origin = q.transmit };
	rx = ntpc_ts_from_ns(rx_ns);
	if (!s->conf.rate.off && !ntps_bucket_take(&c->bucket, &s->conf.rate, now)) {
		uint32_t k = c->bucket.limited++;

		if (k & ((UINT32_C(1) << s->conf.rate.leak) - 1)) {
			s->n.drop_rate++;
			p->slot = -1;
			return NTPS_DROP_RATE;
		}
		r.leap = 3;
		r.stratum = 0;
		r.refid = htonl(NTPS_REFID_RATE);
		r.receive = rx;
		ntpc_encode(&r, out);
		s->n.kod++;
		p->slot = -1; /* the log's timestamps stay those of the last reply */
		return NTPS_KOD;
	}
	/* Interleaved mode (RFC 9769), as chronyd serves it: a request whose
	 * origin is the receive timestamp of our last reply to this client,
	 * and whose receive and transmit differ (an interleaved client's
	 * two cookies), asks for that reply's transmit time. Only then is the
	 * reply's own transmit time kept; the first such request finds none
	 * kept and is answered in basic mode, so the third reply to a new
	 * client is the first interleaved one. */
	xleave = c->rx != 0 && q.origin == c->rx && q.receive != q.transmit;
	/* A receive timestamp never equal to the origin or the last one, so
	 * that a client cannot mistake one exchange for another. */
	while (rx == c->rx || rx == q.origin || rx == 0)
		rx++;
	r.receive = rx;
	p->rx = rx;
	p->keep_tx = xleave;
	if (xleave && c->tx != 0) {
		r.origin = q.receive;
		r.transmit = c->tx;
		p->interleaved = true;
		s->n.interleaved++;
	}
	c->rx = rx;
	c->tx = 0;
	ntpc_encode(&r, out);
	s->n.replies++;
	return p->interleaved ? NTPS_REPLY_XLEAVE : NTPS_REPLY;
}

void ntps_finish(struct ntps_server *s, const struct ntps_pending *p, int64_t tx_ns,
		 uint8_t out[NTPS_PACKET_LEN])
{
	uint64_t tx = ntpc_ts_from_ns(tx_ns);

	if (!p->interleaved) {
		for (int i = 0; i < 8; i++)
			out[40 + i] = (uint8_t)(tx >> (56 - 8 * i));
	}
	if (p->slot >= 0 && p->keep_tx && s->clients[p->slot].rx == p->rx)
		s->clients[p->slot].tx = tx;
}

void ntps_transmitted(struct ntps_server *s, int32_t slot, uint64_t rx, int64_t tx_ns)
{
	struct ntps_client *c;

	if (slot < 0 || (uint32_t)slot >= s->used)
		return;
	c = &s->clients[slot];
	if (c->rx != rx || c->tx == 0) /* another reply since, or not kept */
		return;
	c->tx = ntpc_ts_from_ns(tx_ns);
	s->n.tx_stamps++;
}

/* --- refid of an IPv6 address ---------------------------------------------- */

static uint32_t rotl(uint32_t x, unsigned int n)
{
	return x << n | x >> (32 - n);
}

void ntps_md5(const uint8_t *msg, size_t len, uint8_t digest[16])
{
	static const uint8_t sh[16] = { 7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21 };
	uint32_t h[4] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 };
	uint8_t blk[64];
	uint64_t bits = (uint64_t)len * 8;
	size_t off = 0;
	bool padded = false, lenned = false;

	while (!lenned) {
		uint32_t m[16], a = h[0], b = h[1], c = h[2], d = h[3];
		size_t take = len - off < 64 ? len - off : 64;

		memset(blk, 0, sizeof(blk));
		memcpy(blk, msg + off, take);
		off += take;
		if (take < 64 && !padded) {
			blk[take] = 0x80;
			padded = true;
		}
		if (padded && take < 56) {
			for (int i = 0; i < 8; i++)
				blk[56 + i] = (uint8_t)(bits >> (8 * i));
			lenned = true;
		}
		for (int i = 0; i < 16; i++)
			m[i] = (uint32_t)blk[4 * i] | (uint32_t)blk[4 * i + 1] << 8 |
			       (uint32_t)blk[4 * i + 2] << 16 | (uint32_t)blk[4 * i + 3] << 24;
		for (unsigned int i = 0; i < 64; i++) {
			uint32_t f, k = (uint32_t)floor(fabs(sin((double)i + 1)) * 4294967296.0);
			unsigned int g;

			if (i < 16) {
				f = (b & c) | (~b & d);
				g = i;
			} else if (i < 32) {
				f = (d & b) | (~d & c);
				g = (5 * i + 1) % 16;
			} else if (i < 48) {
				f = b ^ c ^ d;
				g = (3 * i + 5) % 16;
			} else {
				f = c ^ (b | ~d);
				g = (7 * i) % 16;
			}
			f += a + k + m[g];
			a = d;
			d = c;
			c = b;
			b += rotl(f, sh[(i / 16) * 4 + i % 4]);
		}
		h[0] += a;
		h[1] += b;
		h[2] += c;
		h[3] += d;
	}
	for (int i = 0; i < 16; i++)
		digest[i] = (uint8_t)(h[i / 4] >> (8 * (i % 4)));
}

uint32_t ntps_refid(const struct ntps_addr *a)
{
	uint8_t dg[16];
	uint32_t r;

	if (a->family == 4) {
		memcpy(&r, a->a, 4);
		return r;
	}
	/* RFC 5905: the first four octets of the MD5 hash of the address. */
	ntps_md5(a->a, 16, dg);
	memcpy(&r, dg, 4);
	return r;
}
