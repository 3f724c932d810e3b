/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NTP server's core ([ntp_server]), pure: no sockets and no clock of
 * its own, every time is passed in. It holds
 *  - the access list: allow/deny rules by subnet, IPv4 and IPv6 (an
 *    IPv4-mapped IPv6 address is its IPv4 address); the longest matching
 *    prefix decides, a deny beats an allow of the same length, and an
 *    address no rule matches is refused;
 *  - the client log: a fixed table of clients allocated at start, found by
 *    a keyed hash of the address; when it is full the client seen least
 *    recently is forgotten. Per client: the rate limiter's token bucket and
 *    the timestamps of the last reply that interleaved mode needs;
 *  - the request's checks and the reply: mode 3 in, mode 4 out, the
 *    version echoed (1..4), basic or interleaved mode as chronyd serves
 *    them, kiss-o'-death RATE for a limited client;
 *  - the header the clock's state gives (ntps_header()): leap, stratum,
 *    refid, and root delay and dispersion that carry the error bound.
 *
 * Times: rx_ns and tx_ns are the daemon's REALTIME in Unix ns; `now` is
 * any monotonic ns (the daemon's MONOTONIC), used by the rate limiter and
 * the log's age order only.
 */
#ifndef TK_CORE_NTPSERVER_H
#define TK_CORE_NTPSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NTPS_PACKET_LEN 48
#define NTPS_MAX_LISTEN 8
#define NTPS_MAX_ACL 64
#define NTPS_REFID_LOCAL UINT32_C(0x7f7f0101) /* 127.127.1.1: the local clock */
#define NTPS_REFID_INIT UINT32_C(0x494e4954)  /* "INIT" */
#define NTPS_REFID_RATE UINT32_C(0x52415445)  /* "RATE" */

/* An address: IPv4 in a[0..3] (family 4), IPv6 in a[0..15] (family 6). */
struct ntps_addr {
	uint8_t family; /* 4 or 6 */
	uint8_t a[16];
};

/* Fills *a from a sockaddr_in or sockaddr_in6 (an IPv4-mapped one becomes
 * IPv4). -EAFNOSUPPORT for any other family. */
struct sockaddr;
int ntps_addr_from_sockaddr(const struct sockaddr *sa, struct ntps_addr *a);

/* One allow or deny line. family 0: "all" (every address). */
struct ntps_acl_rule {
	struct ntps_addr net;
	uint8_t prefix; /* bits, 0..32 (IPv4) or 0..128 (IPv6) */
	bool allow;
};

/* Parses "all", "ADDR" (a host) or "ADDR/LEN": 0, or -EINVAL with one
 * line in err (what was read, what was expected). Host bits under the
 * prefix are cleared. */
int ntps_parse_rule(const char *text, bool allow, struct ntps_acl_rule *r, char *err,
		    size_t errlen);
/* The rules' verdict for a: the matching rule with the longest prefix
 * ("all" counts as 0), a deny winning a tie; no match: refused. */
bool ntps_acl_allows(const struct ntps_acl_rule *rules, size_t n, const struct ntps_addr *a);

/* The rate limiter (chronyd's ratelimit): a bucket of `burst` requests
 * refilled with one every 2^interval s; a request finding it empty is
 * limited, and 1 in 2^leak of the limited ones gets a KoD RATE, the others
 * are dropped. */
struct ntps_rate_conf {
	bool off;	    /* no limit: every request is served */
	int interval;	    /* log2 s, -4..12 */
	unsigned int burst; /* 1..255 */
	unsigned int leak;  /* 0..4 */
};

struct ntps_bucket {
	int64_t credit_ns; /* 0..burst * period */
	int64_t last;	   /* `now` of the last request */
	uint32_t limited;  /* limited requests so far, for the leak */
};

/* Starts full at now. */
void ntps_bucket_init(struct ntps_bucket *b, const struct ntps_rate_conf *c, int64_t now);
/* One request at now: true = serve, false = limited. No overflow for any
 * int64 `now`, in any order (time going back adds nothing). */
bool ntps_bucket_take(struct ntps_bucket *b, const struct ntps_rate_conf *c, int64_t now);

/* The clock's state for a reply (the daemon fills it once per batch). */
struct ntps_clock {
	bool synchronized;	    /* the daemon's clock is synchronized to its reference */
	bool from_ntp;		    /* reference = ntp: the fields up_* are valid */
	uint8_t up_stratum;	    /* the system peer's stratum */
	uint32_t up_refid;	    /* refid for it (its IPv4 address or the hash), network order */
	int64_t up_root_delay_ns;   /* ours: its root delay plus our delay to it */
	unsigned int leap;	    /* 0 none, 1 insert, 2 delete pending */
	int64_t bound_ns;	    /* the daemon's error bound at the reply, < 0 unknown */
	int64_t ref_time_ns;	    /* REALTIME of the last update from the reference, 0 none */
	int8_t precision;	    /* log2 s */
	unsigned int local_stratum; /* [ntp_server] local_stratum, 0 off */
};

/* The reply's header fields from the clock (values on the wire, refid in
 * network order). */
struct ntps_header {
	uint8_t leap, stratum;
	int8_t precision;
	uint32_t root_delay, root_dispersion; /* NTP short format */
	uint32_t refid;
	uint64_t reference; /* NTP timestamp */
};

/* The rules (see timekeeperd.conf(5), [ntp_server]):
 *  - synchronized: LI the pending leap; stratum the system peer's + 1
 *    (reference = ntp) or 2 (reference = system, the host's clock in
 *    sync: its own source is at least stratum 1), refid the system peer's
 *    or 127.127.1.1; root delay the path's (ntp) or 0, and root dispersion
 *    so that dispersion + delay / 2 >= bound_ns as the client decodes them:
 *    its root distance holds the true time;
 *  - not synchronized, local_stratum N: LI the pending leap, stratum N,
 *    refid 127.127.1.1, root delay 0 and dispersion the bound when it is
 *    under 1 s, else 2^precision (declared a reference, as chronyd's
 *    `local stratum N`);
 *  - not synchronized (or no bound, bound_ns < 0): LI 3, stratum 16, refid
 *    "INIT", root dispersion the bound (16 s when unknown): no client
 *    follows it. */
void ntps_header(const struct ntps_clock *c, struct ntps_header *h);

/* Per-client state in the log. */
struct ntps_client {
	struct ntps_addr addr;
	int32_t hnext;	      /* hash chain, -1 end */
	int32_t older, newer; /* age order, -1 ends */
	int64_t last_seen;    /* `now` of its last request */
	struct ntps_bucket bucket;
	uint64_t rx; /* receive timestamp of our last reply to it (wire), 0 none */
	uint64_t tx; /* transmit time of that reply (wire; the kernel's when
				   * known), 0 none or not kept */
	uint64_t requests;
};

struct ntps_counters {
	uint64_t received;    /* every datagram read */
	uint64_t requests;    /* valid mode 3 requests */
	uint64_t replies;     /* mode 4 replies built (basic and interleaved) */
	uint64_t interleaved; /* of them, in interleaved mode */
	uint64_t kod;	      /* KoD RATE sent */
	uint64_t drop_rate;   /* limited and dropped */
	uint64_t drop_acl;    /* refused by allow/deny */
	uint64_t drop_bad;    /* short, bad version, garbage */
	uint64_t drop_mode;   /* valid but not a client request (ignored) */
	uint64_t tx_stamps;   /* kernel transmit timestamps kept */
};

struct ntps_conf {
	struct ntps_acl_rule acl[NTPS_MAX_ACL];
	unsigned int nacl;
	struct ntps_rate_conf rate;
	unsigned int log_size; /* clients remembered, >= 1 */
};

struct ntps_server {
	struct ntps_conf conf;
	struct ntps_client *clients; /* log_size */
	int32_t *buckets;	     /* nbuckets heads, -1 empty */
	uint32_t nbuckets;	     /* a power of two */
	uint32_t used;		     /* clients in the log */
	int32_t newest, oldest;	     /* age order ends, -1 empty */
	uint64_t seed[2];	     /* the hash key */
	struct ntps_counters n;
};

/* Allocates the log. seed: 16 random bytes for the hash key. 0 or -ENOMEM. */
int ntps_init(struct ntps_server *s, const struct ntps_conf *c, const uint64_t seed[2]);
void ntps_free(struct ntps_server *s);

/* The client's slot, added (evicting the oldest when full) when absent.
 * Moves it to the newest. */
int32_t ntps_client_get(struct ntps_server *s, const struct ntps_addr *a, int64_t now);
/* Its slot, -1 when not in the log (no change). */
int32_t ntps_client_find(const struct ntps_server *s, const struct ntps_addr *a);

enum ntps_verdict {
	NTPS_REPLY = 0,	   /* a reply in basic mode: send it */
	NTPS_REPLY_XLEAVE, /* a reply in interleaved mode: send it */
	NTPS_KOD,	   /* a KoD RATE: send it */
	NTPS_DROP_BAD,	   /* short, version 0 or > 4, garbage */
	NTPS_DROP_MODE,	   /* not a client request */
	NTPS_DROP_ACL,	   /* refused by the access list */
	NTPS_DROP_RATE,	   /* limited, dropped */
};

/* What the caller needs after ntps_request(): the client's slot and the
 * reply's receive timestamp identify the reply when its transmit time
 * comes (ntps_transmitted()). */
struct ntps_pending {
	int32_t slot;	  /* -1: no client kept */
	uint64_t rx;	  /* the reply's receive timestamp (wire) */
	bool keep_tx;	  /* the client uses interleaved mode: keep its TX */
	bool interleaved; /* the reply's transmit timestamp is set already */
};

/* One datagram from a at now, received at rx_ns (our REALTIME). On a
 * verdict that sends, out holds the reply; in basic mode (and a KoD) its
 * transmit timestamp is to be set with ntps_finish() just before it is
 * sent. Counts every outcome in s->n. */
enum ntps_verdict ntps_request(struct ntps_server *s, const struct ntps_addr *a, const uint8_t *buf,
			       size_t len, int64_t rx_ns, int64_t now, const struct ntps_header *h,
			       uint8_t out[NTPS_PACKET_LEN], struct ntps_pending *p);
/* Sets the transmit timestamp of a basic reply (tx_ns, as late as the
 * caller can) and keeps it as the client's TX until the kernel's comes. */
void ntps_finish(struct ntps_server *s, const struct ntps_pending *p, int64_t tx_ns,
		 uint8_t out[NTPS_PACKET_LEN]);
/* The kernel's transmit time of the reply p: kept when the client's last
 * reply is still that one (the same receive timestamp). */
void ntps_transmitted(struct ntps_server *s, int32_t slot, uint64_t rx, int64_t tx_ns);

/* The refid naming a server at a (RFC 5905): its IPv4 address, or the
 * first four octets of the MD5 hash of its IPv6 address; network order. */
uint32_t ntps_refid(const struct ntps_addr *a);
/* MD5 (RFC 1321), for the refid only. */
void ntps_md5(const uint8_t *msg, size_t len, uint8_t digest[16]);

#endif
