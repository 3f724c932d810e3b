// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * [ntp_server]: the daemon serves its own timekeeper's REALTIME (the clock
 * it publishes in its page) to NTP clients. core/ntpserver.c decides every
 * reply; this file owns the sockets, the timestamps and the loop hookup.
 *
 * Sockets: each `listen` address is bound here before the privilege drop
 * (so a port under 1024 needs no capability afterwards), plus any datagram
 * socket systemd passes (socket activation). IPv6 sockets are IPv6 only.
 * A listener that cannot be bound is logged in one line and skipped.
 *
 * Timestamps: the request's receive time is the kernel's (SO_TIMESTAMPNS,
 * the kernel's CLOCK_REALTIME when the datagram arrived); it is carried to
 * the timekeeper's REALTIME through the offset between the two clocks,
 * measured after the batch was read as the timekeeper's reading between
 * two readings of the kernel's (the narrowest of three such brackets,
 * their midpoint): rx = kernel stamp + (ours - kernel). The only error
 * beyond half the bracket is the clocks' rate difference over the stamp's
 * age (1 ns per ms at 1 ppm). A basic reply's transmit time is the
 * timekeeper's REALTIME read just before sendmsg(); the kernel's transmit
 * timestamp of each reply (SO_TIMESTAMPING, software, read from the error
 * queue and matched to its reply by SOF_TIMESTAMPING_OPT_ID) is carried
 * over the same way and kept for a client in interleaved mode, whose next
 * reply carries it.
 *
 * The loop: a wakeup reads at most BATCH datagrams with recvmmsg() and
 * returns; more waiting wake it again after the timers due meanwhile (the
 * page's update among them) have run.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/ntpserver.h"
#include "daemon/clock.h"
#include "daemon/internal.h"
#include "daemon/ref.h"
#include "timekeeper/control.h"

#define BATCH 64
#define RING 256		       /* replies whose kernel TX stamp may still come */
#define HEADER_MARGIN_NS NSEC_PER_MSEC /* the bound is taken this far ahead of the reply */
#define UPSTREAM_REFRESH_NS NSEC_PER_SEC
#define TS_BRACKETS 3

struct sent {
	uint32_t id;
	int32_t slot;
	uint64_t rx;
};

struct listener {
	int fd;
	int family;
	bool tx;	  /* the socket reports transmit timestamps (OPT_ID) */
	uint32_t next_id; /* OPT_ID of the next datagram sent that asks for one */
	struct sent ring[RING];
};

struct daemon_ntps {
	struct ntps_server core;
	struct listener l[NTPS_MAX_LISTEN];
	unsigned int n;
	int8_t precision;
	/* The system peer's part of the header (reference = ntp), refreshed
	 * once a second. */
	int64_t upstream_t;
	bool up_valid;
	uint8_t up_stratum;
	uint32_t up_refid;
	int64_t up_root_delay_ns;
	uint64_t batches, send_errors;
};

static int64_t kernel_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts_to_ns(&ts);
}

static int64_t our_real(struct daemon *d)
{
	struct timespec ts;

	tkc_get(&d->tk, CLOCK_REALTIME, &ts);
	return ts_to_ns(&ts);
}

/* ours - the kernel's REALTIME now, from the narrowest bracket. */
static int64_t kernel_to_ours(struct daemon *d)
{
	int64_t best = INT64_MAX, off = 0;

	for (int i = 0; i < TS_BRACKETS; i++) {
		int64_t k1 = kernel_real(), o = our_real(d), k2 = kernel_real();

		if (k2 >= k1 && k2 - k1 < best) {
			best = k2 - k1;
			off = o - (k1 + (k2 - k1) / 2);
		}
	}
	return off;
}

/* A kernel stamp on our REALTIME; -1 when it is not a recent past (the
 * kernel's clock was stepped meanwhile, or no stamp). */
static int64_t carry(const struct timespec *kts, int64_t know, int64_t off)
{
	int64_t k = ts_to_ns(kts), age = know - k;

	if (k <= 0 || age < 0 || age >= NSEC_PER_SEC)
		return -1;
	return k + off;
}

/* --- the header ------------------------------------------------------------ */

static void refresh_upstream(struct daemon *d, int64_t now)
{
	struct daemon_ntps *s = d->ntps;
	static char buf[sizeof(struct tk_ctl_ntp) +
			CONF_NTP_MAX_SERVERS * sizeof(struct tk_ctl_ntp_server)];
	struct tk_ctl_ntp head;
	struct tk_ctl_ntp_server srv;
	char msg[TK_CTL_MESSAGE_LEN];
	struct sockaddr_storage ss = { 0 };
	struct ntps_addr a;
	size_t len;

	if (s->upstream_t != INT64_MIN && now - s->upstream_t < UPSTREAM_REFRESH_NS)
		return;
	s->upstream_t = now;
	s->up_valid = false;
	if (d->conf.reference != CONF_REF_NTP || ref_fill_ntp(d, buf, sizeof(buf), &len, msg) < 0 ||
	    len < sizeof(head))
		return;
	memcpy(&head, buf, sizeof(head));
	if (head.selected < 0 || (uint32_t)head.selected >= head.count ||
	    sizeof(head) + ((size_t)head.selected + 1) * sizeof(srv) > len)
		return;
	memcpy(&srv, buf + sizeof(head) + (size_t)head.selected * sizeof(srv), sizeof(srv));
	s->up_stratum = (uint8_t)(head.stratum > 15 ? 15 : head.stratum);
	s->up_root_delay_ns = head.root_delay_ns;
	s->up_refid = 0;
	if (inet_pton(AF_INET, srv.address, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, srv.address, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	if (ss.ss_family && ntps_addr_from_sockaddr((struct sockaddr *)&ss, &a) == 0)
		s->up_refid = ntps_refid(&a);
	s->up_valid = true;
}

/* The clock's state for a batch; the bound is filled per reply (set_bound()). */
static void batch_clock(struct daemon *d, int64_t now, int64_t real, struct ntps_clock *cp)
{
	struct daemon_ntps *s = d->ntps;
	struct clock_report r;
	struct ntps_clock c = { .precision = s->precision,
				.local_stratum = (unsigned int)d->conf.ntps_local_stratum };

	clock_report(d, &r);
	refresh_upstream(d, now);
	c.synchronized = r.synchronized;
	if (d->conf.reference == CONF_REF_NTP) {
		/* Synchronized to NTP only through a system peer. */
		c.synchronized = c.synchronized && s->up_valid;
		c.from_ntp = true;
		c.up_stratum = s->up_stratum;
		c.up_refid = s->up_refid;
		c.up_root_delay_ns = s->up_root_delay_ns;
	}
	c.leap = (r.ntp_status & NTP_STA_INS) ? 1 : (r.ntp_status & NTP_STA_DEL) ? 2 : 0;
	if (d->bound.have && now >= d->bound.t)
		c.ref_time_ns = real - (now - d->bound.t);
	*cp = c;
}

/* The header of one reply: the bound a little ahead of now, so it holds when
 * the reply leaves (the bound only grows until the next clock update, which
 * cannot run before this batch is done). */
static void reply_header(struct daemon *d, struct ntps_clock *c, struct ntps_header *h)
{
	int64_t b = bound_at(&d->bound, daemon_now(d) + HEADER_MARGIN_NS);

	c->bound_ns = b == BOUND_NONE ? -1 : b;
	ntps_header(c, h);
}

/* --- transmit timestamps ------------------------------------------------------ */

static void read_tx_stamps(struct daemon *d, struct listener *l)
{
	struct daemon_ntps *s = d->ntps;
	int64_t off = 0, know = 0;
	bool measured = false;

	for (int k = 0; k < BATCH; k++) {
		char cbuf[512];
		struct msghdr mh = { .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct scm_timestamping tss = { 0 };
		struct sock_extended_err ee = { 0 };
		bool have_ts = false, have_id = false;
		int64_t tx;

		if (recvmsg(l->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING) {
				memcpy(&tss, CMSG_DATA(c), sizeof(tss));
				have_ts = tss.ts[0].tv_sec || tss.ts[0].tv_nsec;
			} else if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
				   (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
				memcpy(&ee, CMSG_DATA(c), sizeof(ee));
				have_id = ee.ee_errno == ENOMSG &&
					  ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING;
			}
		}
		if (!have_ts || !have_id)
			continue;
		if (!measured) {
			know = kernel_real();
			off = kernel_to_ours(d);
			measured = true;
		}
		tx = carry(&tss.ts[0], know, off);
		if (tx >= 0 && l->ring[ee.ee_data % RING].id == ee.ee_data)
			ntps_transmitted(&s->core, l->ring[ee.ee_data % RING].slot,
					 l->ring[ee.ee_data % RING].rx, tx);
	}
}

/* --- requests ------------------------------------------------------------------ */

union ctlbuf {
	char buf[CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(struct in6_pktinfo)) +
		 CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(uint32_t)) + 64];
	struct cmsghdr align;
};

static void send_reply(struct daemon *d, struct listener *l, struct mmsghdr *m,
		       const struct ntps_pending *p, uint8_t out[NTPS_PACKET_LEN])
{
	struct daemon_ntps *s = d->ntps;
	union ctlbuf cb;
	struct iovec iov = { out, NTPS_PACKET_LEN };
	struct msghdr mh = { .msg_name = m->msg_hdr.msg_name,
			     .msg_namelen = m->msg_hdr.msg_namelen,
			     .msg_iov = &iov,
			     .msg_iovlen = 1 };
	size_t clen = 0;

	/* From the address the request came to (a wildcard listener). */
	memset(&cb, 0, sizeof(cb));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m->msg_hdr); c; c = CMSG_NXTHDR(&m->msg_hdr, c)) {
		struct cmsghdr *o = (struct cmsghdr *)(cb.buf + clen);

		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			pi.ipi_spec_dst = pi.ipi_addr;
			pi.ipi_ifindex = 0;
			o->cmsg_level = IPPROTO_IP;
			o->cmsg_type = IP_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(o), &pi, sizeof(pi));
			clen += CMSG_SPACE(sizeof(pi));
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			o->cmsg_level = IPPROTO_IPV6;
			o->cmsg_type = IPV6_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(o), &pi, sizeof(pi));
			clen += CMSG_SPACE(sizeof(pi));
		}
	}
	/* The kernel's transmit timestamp only for a client in interleaved
	 * mode, the one reply whose transmit time is kept: a basic client's
	 * reply costs no clone on the error queue and no read of it. The
	 * kernel numbers (OPT_ID) only the datagrams that ask. */
	if (p->keep_tx && l->tx) {
		struct cmsghdr *o = (struct cmsghdr *)(cb.buf + clen);
		uint32_t f = SOF_TIMESTAMPING_TX_SOFTWARE;

		o->cmsg_level = SOL_SOCKET;
		o->cmsg_type = SO_TIMESTAMPING;
		o->cmsg_len = CMSG_LEN(sizeof(f));
		memcpy(CMSG_DATA(o), &f, sizeof(f));
		clen += CMSG_SPACE(sizeof(f));
	}
	if (clen) {
		mh.msg_control = cb.buf;
		mh.msg_controllen = clen;
	}
	/* As late as possible: the transmit timestamp, then the send. */
	ntps_finish(&s->core, p, our_real(d), out);
	if (sendmsg(l->fd, &mh, MSG_DONTWAIT) < 0) {
		s->send_errors++;
		return;
	}
	if (p->keep_tx && l->tx) {
		l->ring[l->next_id % RING] = (struct sent){ l->next_id, p->slot, p->rx };
		l->next_id++;
	}
}

static void on_readable(struct evl *loop, int fd, uint32_t revents, void *ctx)
{
	struct daemon *d = ctx;
	struct daemon_ntps *s = d->ntps;
	struct listener *l = NULL;
	static uint8_t bufs[BATCH][NTPS_PACKET_LEN + 16];
	static struct sockaddr_storage names[BATCH];
	static union ctlbuf cbufs[BATCH];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	struct ntps_clock clk;
	int64_t now, know, off;
	int got;

	(void)loop;
	for (unsigned int i = 0; i < s->n; i++)
		if (s->l[i].fd == fd)
			l = &s->l[i];
	if (!l)
		return;
	/* A transmit timestamp waiting on the error queue is EPOLLERR. */
	if (revents & EPOLLERR)
		read_tx_stamps(d, l);
	memset(m, 0, sizeof(m));
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		m[i].msg_hdr = (struct msghdr){ .msg_name = &names[i],
						.msg_namelen = sizeof(names[i]),
						.msg_iov = &iov[i],
						.msg_iovlen = 1,
						.msg_control = cbufs[i].buf,
						.msg_controllen = sizeof(cbufs[i].buf) };
	}
	got = recvmmsg(fd, m, BATCH, MSG_DONTWAIT, NULL);
	if (got <= 0)
		return;
	s->batches++;
	know = kernel_real();
	off = kernel_to_ours(d);
	now = daemon_now(d);
	batch_clock(d, now, know + off, &clk);
	for (int i = 0; i < got; i++) {
		struct ntps_addr a;
		struct ntps_pending p;
		struct ntps_header h;
		uint8_t out[NTPS_PACKET_LEN];
		int64_t rx = -1;

		if (ntps_addr_from_sockaddr((struct sockaddr *)&names[i], &a) < 0)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m[i].msg_hdr); c;
		     c = CMSG_NXTHDR(&m[i].msg_hdr, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec kts;

				memcpy(&kts, CMSG_DATA(c), sizeof(kts));
				rx = carry(&kts, know, off);
			}
		if (rx < 0)
			rx = our_real(d);
		reply_header(d, &clk, &h);
		switch (ntps_request(&s->core, &a, bufs[i], m[i].msg_len, rx, now, &h, out, &p)) {
		case NTPS_REPLY:
		case NTPS_REPLY_XLEAVE:
		case NTPS_KOD:
			send_reply(d, l, &m[i], &p, out);
			break;
		default:
			break;
		}
	}
}

/* --- start and stop ----------------------------------------------------------------- */

static int setup_socket(int fd, int family)
{
	int one = 1;
	/* Reporting only: each reply that wants its transmit time asks for it
	 * (send_reply()). */
	int tsflags = SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_TSONLY |
		      SOF_TIMESTAMPING_OPT_ID;

	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)
		return -errno;
	/* Without transmit stamps interleaved replies carry the user-space
	 * transmit time: still correct, less exact. */
	(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &tsflags, sizeof(tsflags));
	if (family == AF_INET)
		(void)setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	else
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	return 0;
}

/* Whether fd reports transmit timestamps numbered by OPT_ID (setup_socket()
 * may have been refused that part). */
static bool tx_capable(int fd)
{
	int f = 0;
	socklen_t len = sizeof(f);

	return getsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &f, &len) == 0 &&
	       (f & SOF_TIMESTAMPING_OPT_ID) && (f & SOF_TIMESTAMPING_SOFTWARE);
}

static int open_listener(const char *text, int *out)
{
	struct sockaddr_storage ss;
	unsigned int len;
	char err[300];
	int fd, one = 1, r;

	if (conf_parse_ntp_listen(text, &ss, &len, NULL, 0, err, sizeof(err)) < 0) {
		log_err("ntp_server: listen = %s: %s", text, err);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		log_err("ntp_server: listen = %s: socket: %s", text, strerror(-r));
		return r;
	}
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || setup_socket(fd, ss.ss_family) < 0) {
		r = -errno;
		log_err("ntp_server: listen = %s: cannot bind: %s%s; not serving there", text,
			strerror(-r),
			r == -EACCES
				? " (a port below 1024 needs CAP_NET_BIND_SERVICE at the start, or "
				  "the socket from timekeeperd.socket; timekeeperd(8), SYSTEMD)"
				: "");
		close(fd);
		return r;
	}
	*out = fd;
	return ss.ss_family;
}

static int8_t measure_precision(struct daemon *d)
{
	int64_t best = INT64_MAX, prev = our_real(d);

	/* The shortest step between two readings: the clock's resolution as
	 * a reader sees it, read cost included. */
	for (int i = 0; i < 100; i++) {
		int64_t t = our_real(d);

		if (t > prev && t - prev < best)
			best = t - prev;
		prev = t;
	}
	if (best == INT64_MAX)
		best = 1;
	return (int8_t)fmax(-30, fmin(0, ceil(log2((double)best / 1e9))));
}

int daemon_ntps_open(struct daemon *d)
{
	struct daemon_ntps *s;
	struct ntps_conf c = { 0 };
	uint64_t seed[2];
	int nsd = sd_listen_fds(1);

	if (d->conf.ntps_nlisten == 0 && nsd <= 0)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s) {
		log_err("ntp_server: out of memory");
		return -ENOMEM;
	}
	memcpy(c.acl, d->conf.ntps_acl, sizeof(c.acl));
	c.nacl = d->conf.ntps_nacl;
	c.rate.off = !d->conf.ntps_ratelimit;
	c.rate.interval = (int)d->conf.ntps_rate_interval;
	c.rate.burst = (unsigned int)d->conf.ntps_rate_burst;
	c.rate.leak = (unsigned int)d->conf.ntps_rate_leak;
	c.log_size = (unsigned int)d->conf.ntps_log_size;
	if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed)) {
		seed[0] = (uint64_t)kernel_real() * UINT64_C(0x9e3779b97f4a7c15);
		seed[1] = (uint64_t)getpid() * UINT64_C(0xbf58476d1ce4e5b9);
	}
	if (ntps_init(&s->core, &c, seed) < 0) {
		log_err("ntp_server: out of memory for %u clients (client_log_size)", c.log_size);
		free(s);
		return -ENOMEM;
	}
	s->upstream_t = INT64_MIN;
	d->ntps = s;
	for (int i = 0; i < nsd && s->n < NTPS_MAX_LISTEN; i++) {
		int fd = SD_LISTEN_FDS_START + i, fam;

		if (sd_is_socket(fd, AF_INET, SOCK_DGRAM, -1) > 0)
			fam = AF_INET;
		else if (sd_is_socket(fd, AF_INET6, SOCK_DGRAM, -1) > 0)
			fam = AF_INET6;
		else {
			log_warn("ntp_server: descriptor %d from systemd is not an IPv4 or IPv6 "
				 "datagram socket; not serving on it",
				 fd);
			continue;
		}
		if (setup_socket(fd, fam) < 0)
			continue;
		s->l[s->n++] = (struct listener){ .fd = fd, .family = fam, .tx = tx_capable(fd) };
	}
	for (unsigned int i = 0; i < d->conf.ntps_nlisten && s->n < NTPS_MAX_LISTEN; i++) {
		int fd = -1, fam = open_listener(d->conf.ntps_listen[i], &fd);

		if (fam > 0)
			s->l[s->n++] =
				(struct listener){ .fd = fd, .family = fam, .tx = tx_capable(fd) };
	}
	if (c.nacl == 0)
		log_warn("ntp_server: no allow line: every request is refused");
	return 0;
}

int daemon_ntps_attach(struct daemon *d)
{
	struct daemon_ntps *s = d->ntps;

	if (!s)
		return 0;
	s->precision = measure_precision(d);
	for (unsigned int i = 0; i < s->n; i++)
		if (evl_add_fd(d->loop, s->l[i].fd, EPOLLIN, on_readable, d) < 0) {
			log_err("ntp_server: cannot watch a socket: %s", strerror(errno));
			return -1;
		}
	log_notice("ntp_server: serving on %u socket%s, precision 2^%d s, %u clients logged", s->n,
		   s->n == 1 ? "" : "s", s->precision, s->core.conf.log_size);
	return 0;
}

void daemon_ntps_close(struct daemon *d)
{
	struct daemon_ntps *s = d->ntps;

	if (!s)
		return;
	for (unsigned int i = 0; i < s->n; i++) {
		if (d->loop)
			evl_del_fd(d->loop, s->l[i].fd);
		close(s->l[i].fd);
	}
	ntps_free(&s->core);
	free(s);
	d->ntps = NULL;
}

bool daemon_ntps_report(const struct daemon *d, struct daemon_ntps_report *r)
{
	const struct daemon_ntps *s = d->ntps;

	memset(r, 0, sizeof(*r));
	if (!s)
		return false;
	r->n = s->core.n;
	r->clients = s->core.used;
	r->client_log_size = s->core.conf.log_size;
	r->sockets = s->n;
	r->send_errors = s->send_errors;
	return true;
}
