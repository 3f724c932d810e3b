// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tk_relay: the emulated LAN's delay line (tests/README.md, "The emulated
 * LAN"), for kernels without sch_netem. It runs in the middle namespace,
 * which routes between the server's namespace and the clients'; an
 * nftables `tproxy` rule there hands it every UDP packet to or from the
 * server (tests/lan/lan_lib.sh), so both ends keep their real addresses and
 * ports. Each packet is held for a delay drawn per direction (mean, jitter,
 * uniform or normal, from a seed), dropped with a seeded probability, then
 * sent on, unchanged but for the wait, through a raw socket with its original
 * source and destination. The wait is a packet heap under one timerfd on
 * CLOCK_MONOTONIC (absolute, 1 ns timer slack), the arrival time is the
 * kernel's receive stamp, so a packet never leaves before its delay and
 * leaves in the order of the delays, not of arrival. The heap is bounded
 * (--queue): a packet that finds it full is dropped and counted. IPv4 only.
 *
 * The counts are written as one JSON line to --stats FILE (and stdout) on
 * SIGUSR1 and at exit (SIGTERM, SIGINT).
 */
#define _GNU_SOURCE
#include "lanq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define PKT_MAX 2048

struct slot {
	struct sockaddr_in src, dst;
	uint16_t len;
	uint8_t up;
	uint8_t data[PKT_MAX];
};

struct dir_stats {
	uint64_t rx, fwd, lost, full, send_err;
	/* How long after its due time a packet left (the relay's own error). */
	int64_t late_max_ns, late_sum_ns;
};

static struct {
	int port;
	struct in_addr server;
	struct lanq_link link[2]; /* [0] down (server -> client), [1] up */
	uint64_t seed;
	size_t queue;
	int rcvbuf;
	int fifo;
	const char *stats;
} opt = { .queue = 4096, .rcvbuf = 4 << 20, .seed = 1 };

static struct dir_stats st[2];
static uint64_t other;

/* The queue: packets in slots, free slots on a stack, waiting ones in the heap. */
static struct lanq_heap heap;
static struct lanq_rng rng;
static struct slot *slots;
static uint32_t *freel;
static size_t nfree;
static uint64_t seq;

static int64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage_fail(const char *what, const char *read, const char *expected)
{
	fprintf(stderr, "tk_relay: %s: read \"%s\", expected %s\n", what, read, expected);
	exit(2);
}

static int64_t parse_us(const char *name, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= 10e6))
		usage_fail(name, s, "microseconds in 0..10000000");
	return (int64_t)llround(v * 1000.0);
}

static long parse_long(const char *name, const char *s, long lo, long hi)
{
	char *end;
	long v;
	char exp[80];

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi) {
		snprintf(exp, sizeof(exp), "an integer in %ld..%ld", lo, hi);
		usage_fail(name, s, exp);
	}
	return v;
}

static void write_stats(void)
{
	char buf[1024], tmp[PATH_MAX];
	FILE *f;
	int i;
	const char *nm[2] = { "down", "up" };
	size_t n = 0;

	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{\"other\":%" PRIu64, other);
	for (i = 0; i < 2; i++)
		n += (size_t)snprintf(
			buf + n, sizeof(buf) - n,
			",\"%s\":{\"rx\":%" PRIu64 ",\"fwd\":%" PRIu64 ",\"lost\":%" PRIu64
			",\"full\":%" PRIu64 ",\"send_err\":%" PRIu64 ",\"late_mean_ns\":%" PRId64
			",\"late_max_ns\":%" PRId64 "}",
			nm[i], st[i].rx, st[i].fwd, st[i].lost, st[i].full, st[i].send_err,
			st[i].fwd ? st[i].late_sum_ns / (int64_t)st[i].fwd : 0, st[i].late_max_ns);
	snprintf(buf + n, sizeof(buf) - n, "}\n");
	fputs(buf, stdout);
	fflush(stdout);
	if (!opt.stats)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", opt.stats);
	f = fopen(tmp, "w");
	if (!f || fputs(buf, f) < 0 || fclose(f) != 0 || rename(tmp, opt.stats) != 0)
		fprintf(stderr, "tk_relay: cannot write %s: %s\n", opt.stats, strerror(errno));
}

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t csum_add(uint32_t s, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)(b[n - 1] << 8);
	return s;
}

/* The packet as it arrived: IPv4 + UDP headers around the payload, from its
 * original source to its original destination. */
static int send_raw(int raw, const struct slot *p)
{
	uint8_t pkt[sizeof(struct iphdr) + sizeof(struct udphdr) + PKT_MAX];
	struct iphdr *ip = (struct iphdr *)pkt;
	struct udphdr *udp = (struct udphdr *)(pkt + sizeof(*ip));
	size_t ulen = sizeof(*udp) + p->len;
	uint32_t s = 0;
	uint16_t proto = htons(IPPROTO_UDP), len16 = htons((uint16_t)ulen), c;

	memset(pkt, 0, sizeof(*ip) + sizeof(*udp));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 63;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = p->src.sin_addr.s_addr;
	ip->daddr = p->dst.sin_addr.s_addr;
	ip->tot_len = htons((uint16_t)(sizeof(*ip) + ulen));
	udp->source = p->src.sin_port;
	udp->dest = p->dst.sin_port;
	udp->len = len16;
	memcpy(pkt + sizeof(*ip) + sizeof(*udp), p->data, p->len);
	s = csum_add(s, &ip->saddr, 4);
	s = csum_add(s, &ip->daddr, 4);
	s = csum_add(s, &proto, 2);
	s = csum_add(s, &len16, 2);
	s = csum_add(s, udp, ulen);
	c = csum_fold(s);
	udp->check = htons(c ? c : 0xffff);
	return sendto(raw, pkt, sizeof(*ip) + ulen, 0, (const struct sockaddr *)&p->dst,
		      sizeof(p->dst)) < 0
		       ? -errno
		       : 0;
}

static void arm(int tfd, const struct lanq_heap *h)
{
	const struct lanq_item *t = lanq_heap_top(h);
	struct itimerspec its = { 0 };

	if (t) {
		its.it_value.tv_sec = t->due_ns / 1000000000;
		its.it_value.tv_nsec = t->due_ns % 1000000000;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void release(int raw, struct lanq_heap *h)
{
	const struct lanq_item *t;
	int64_t now = now_ns(CLOCK_MONOTONIC), late;
	struct slot *p;

	while ((t = lanq_heap_top(h)) && t->due_ns <= now) {
		p = &slots[t->slot];
		late = now - t->due_ns;
		if (late > st[p->up].late_max_ns)
			st[p->up].late_max_ns = late;
		st[p->up].late_sum_ns += late;
		if (send_raw(raw, p) < 0)
			st[p->up].send_err++;
		else
			st[p->up].fwd++;
		freel[nfree++] = t->slot;
		lanq_heap_pop(h);
		now = now_ns(CLOCK_MONOTONIC);
	}
}

/* Reads every packet waiting on the socket: its kernel receive stamp, its
 * original destination, its direction, then its delay and loss, drawn for
 * every packet so that the sequence depends on the seed and the arrivals
 * only; into the heap, or dropped and counted. */
static void drain(int us)
{
	for (;;) {
		struct slot tmp, *p = nfree ? &slots[freel[nfree - 1]] : &tmp;
		struct iovec iov = { .iov_base = p->data, .iov_len = PKT_MAX };
		char cbuf[256];
		struct msghdr mh = {
			.msg_name = &p->src,
			.msg_namelen = sizeof(p->src),
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf,
			.msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *c;
		struct timespec ts;
		int64_t rx_real = 0, off, d;
		ssize_t len = recvmsg(us, &mh, 0);
		int have_dst = 0, up;

		if (len < 0)
			return;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR) {
				memcpy(&p->dst, CMSG_DATA(c), sizeof(p->dst));
				have_dst = 1;
			} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				rx_real = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
			}
		}
		if (!have_dst || (size_t)len > PKT_MAX) {
			other++;
			continue;
		}
		if (p->dst.sin_addr.s_addr == opt.server.s_addr) {
			up = 1;
		} else if (p->src.sin_addr.s_addr == opt.server.s_addr) {
			up = 0;
		} else {
			other++;
			continue;
		}
		st[up].rx++;
		d = lanq_delay_ns(&rng, &opt.link[up]);
		if (lanq_lost(&rng, &opt.link[up])) {
			st[up].lost++;
			continue;
		}
		if (!nfree) {
			st[up].full++;
			continue;
		}
		/* REALTIME read first: the offset errs small, the due time late. */
		off = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC);
		if (!rx_real)
			rx_real = now_ns(CLOCK_REALTIME);
		p->len = (uint16_t)len;
		p->up = (uint8_t)up;
		lanq_heap_push(&heap, (struct lanq_item){
					      .due_ns = rx_real - off + d,
					      .seq = seq++,
					      .slot = freel[--nfree],
				      });
	}
}

static void parse_args(int argc, char **argv)
{
	int i, have_server = 0, have_port = 0;
	char *v;
	int64_t jit = 0;
	enum lanq_dist dist = LANQ_UNIFORM;
	char *end;

	for (i = 1; i < argc; i += 2) {
		if (i + 1 >= argc)
			usage_fail("option without a value", argv[i],
				   "--port P --server A [--up-delay US] [--down-delay US] "
				   "[--jitter US] [--dist uniform|normal] [--loss P] [--seed N] "
				   "[--queue N] [--rcvbuf BYTES] [--fifo 0|1] [--stats FILE]");
		v = argv[i + 1];
		if (!strcmp(argv[i], "--port")) {
			opt.port = (int)parse_long("--port", v, 1, 65535);
			have_port = 1;
		} else if (!strcmp(argv[i], "--server")) {
			if (inet_pton(AF_INET, v, &opt.server) != 1)
				usage_fail("--server", v, "an IPv4 address");
			have_server = 1;
		} else if (!strcmp(argv[i], "--up-delay")) {
			opt.link[1].mean_ns = parse_us("--up-delay", v);
		} else if (!strcmp(argv[i], "--down-delay")) {
			opt.link[0].mean_ns = parse_us("--down-delay", v);
		} else if (!strcmp(argv[i], "--jitter")) {
			jit = parse_us("--jitter", v);
		} else if (!strcmp(argv[i], "--dist")) {
			if (!strcmp(v, "uniform"))
				dist = LANQ_UNIFORM;
			else if (!strcmp(v, "normal"))
				dist = LANQ_NORMAL;
			else
				usage_fail("--dist", v, "uniform or normal");
		} else if (!strcmp(argv[i], "--loss")) {
			double l;

			errno = 0;
			l = strtod(v, &end);
			if (errno || end == v || *end || !(l >= 0 && l <= 1))
				usage_fail("--loss", v, "a probability in 0..1");
			opt.link[0].loss = opt.link[1].loss = l;
		} else if (!strcmp(argv[i], "--seed")) {
			errno = 0;
			opt.seed = strtoull(v, &end, 0);
			if (errno || end == v || *end || *v == '-')
				usage_fail("--seed", v, "an unsigned integer");
		} else if (!strcmp(argv[i], "--queue")) {
			opt.queue = (size_t)parse_long("--queue", v, 1, 1 << 20);
		} else if (!strcmp(argv[i], "--rcvbuf")) {
			opt.rcvbuf = (int)parse_long("--rcvbuf", v, 4096, 1 << 30);
		} else if (!strcmp(argv[i], "--fifo")) {
			opt.fifo = (int)parse_long("--fifo", v, 0, 1);
		} else if (!strcmp(argv[i], "--stats")) {
			opt.stats = v;
		} else {
			usage_fail("unknown option", argv[i],
				   "--port, --server, --up-delay, --down-delay, --jitter, --dist, "
				   "--loss, --seed, --queue, --rcvbuf, --fifo or --stats");
		}
	}
	if (!have_port || !have_server)
		usage_fail("missing option", have_port ? "--server" : "--port",
			   "both --port and --server");
	for (i = 0; i < 2; i++) {
		opt.link[i].jitter_ns = jit;
		opt.link[i].dist = dist;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	size_t i;
	int one = 1, us, raw, tfd, sfd, ep;
	sigset_t ss;
	struct epoll_event ev[4];

	parse_args(argc, argv);
	lanq_seed(&rng, opt.seed);
	slots = calloc(opt.queue, sizeof(*slots));
	freel = calloc(opt.queue, sizeof(*freel));
	if (!slots || !freel || lanq_heap_init(&heap, opt.queue) < 0) {
		fprintf(stderr, "tk_relay: out of memory for a queue of %zu\n", opt.queue);
		return 1;
	}
	for (i = 0; i < opt.queue; i++)
		freel[i] = (uint32_t)(opt.queue - 1 - i);
	nfree = opt.queue;

	us = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (us < 0 || raw < 0) {
		perror("tk_relay: socket");
		return 1;
	}
	/* SO_RCVBUFFORCE passes net.core.rmem_max (root); SO_RCVBUF otherwise. */
	if (setsockopt(us, SOL_SOCKET, SO_RCVBUFFORCE, &opt.rcvbuf, sizeof(opt.rcvbuf)) < 0)
		setsockopt(us, SOL_SOCKET, SO_RCVBUF, &opt.rcvbuf, sizeof(opt.rcvbuf));
	setsockopt(raw, SOL_SOCKET, SO_SNDBUFFORCE, &opt.rcvbuf, sizeof(opt.rcvbuf));
	if (setsockopt(us, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0 ||
	    setsockopt(us, SOL_IP, IP_RECVORIGDSTADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(us, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ||
	    setsockopt(us, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		perror("tk_relay: setsockopt (IP_TRANSPARENT needs CAP_NET_ADMIN)");
		return 1;
	}
	sa.sin_port = htons((uint16_t)opt.port);
	if (bind(us, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "tk_relay: bind to port %d: %s\n", opt.port, strerror(errno));
		return 1;
	}
	/* The timer fires when asked, not up to 50 us later. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	if (opt.fifo) {
		struct sched_param sp = { .sched_priority = 10 };

		if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
			fprintf(stderr, "tk_relay: SCHED_FIFO: %s (running without)\n",
				strerror(errno));
	}
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGUSR1);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (tfd < 0 || sfd < 0 || ep < 0) {
		perror("tk_relay: timerfd/signalfd/epoll");
		return 1;
	}
	ev[0] = (struct epoll_event){ .events = EPOLLIN, .data.fd = us };
	epoll_ctl(ep, EPOLL_CTL_ADD, us, &ev[0]);
	ev[0] = (struct epoll_event){ .events = EPOLLIN, .data.fd = tfd };
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev[0]);
	ev[0] = (struct epoll_event){ .events = EPOLLIN, .data.fd = sfd };
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev[0]);
	printf("tk_relay: ready on port %d\n", opt.port);
	fflush(stdout);

	for (;;) {
		int n = epoll_wait(ep, ev, 4, -1), k;

		if (n < 0 && errno != EINTR) {
			perror("tk_relay: epoll_wait");
			return 1;
		}
		for (k = 0; k < n; k++) {
			if (ev[k].data.fd == sfd) {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					write_stats();
					if (si.ssi_signo != SIGUSR1)
						return 0;
				}
			} else if (ev[k].data.fd == tfd) {
				uint64_t exp;

				if (read(tfd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
					perror("tk_relay: timerfd");
			} else {
				drain(us);
			}
		}
		release(raw, &heap);
		arm(tfd, &heap);
	}
}
