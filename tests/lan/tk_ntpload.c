// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tk_ntpload: an NTP load generator for make bench-fleet (bench/README.md).
 * It sends mode-3 requests at a given rate from many sockets (each its own
 * source port, spread over one or more source addresses) for a duration,
 * counts the replies and checks what they serve: the server's transmit
 * timestamp against the midpoint of this machine's CLOCK_REALTIME at the
 * send and the kernel's receive stamp. Client and server share the kernel's
 * clock (the emulated LAN), so that difference is the served time's error
 * plus half the path's asymmetry; a transmit time outside [send, receive]
 * (1 us of slack for the server's random low bits) breaks causality and is
 * counted. With --step F the rate is multiplied by F after each run until the
 * loss reaches 1 % (or --max-rate): the highest rate served with less than
 * 1 % loss is the capacity. With --tries N a rate has N runs to stay under
 * 1 % before the search ends (on a shared machine one run can lose its
 * packets to a neighbour's burst).
 *
 *   tk_ntpload --server ADDR [--port P] [--sockets N] [--src A --nsrc K]
 *              [--rate R] [--seconds S] [--step F] [--max-rate R] [--tries N]
 *
 * One JSON line per run, then {"capacity_rate": R, ...} for the best run.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NTP_EPOCH_OFFSET 2208988800ULL

struct ntp_pkt {
	uint8_t li_vn_mode, stratum;
	int8_t poll, precision;
	uint32_t root_delay, root_disp, ref_id;
	uint64_t ref_ts, orig_ts, rx_ts, tx_ts;
};

struct run {
	double rate, achieved; /* asked, and sent / time taken to send */
	uint64_t sent, replies, causality;
	double loss_pct;
	int64_t p50_ns, p99_ns, rtt_p50_ns;
};

static struct {
	struct sockaddr_in server;
	int nsock;
	struct in_addr src;
	int nsrc;
	int tries;
	double rate, step, max_rate, seconds;
} opt = { .nsock = 64, .tries = 1, .rate = 1000, .step = 0, .max_rate = 1e6, .seconds = 5 };

static int *socks;
static int ep;
static int64_t *t1; /* per sequence: the send time, 0 once answered */
static int64_t *errs, *rtts;
static uint64_t nerr;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fail(const char *what, const char *read, const char *expected)
{
	fprintf(stderr, "tk_ntpload: %s: read \"%s\", expected %s\n", what, read, expected);
	exit(2);
}

static double arg_num(const char *name, const char *s, double lo, double hi)
{
	char *end, exp[80];
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		snprintf(exp, sizeof(exp), "a number in %g..%g", lo, hi);
		fail(name, s, exp);
	}
	return v;
}

static uint64_t ntp_to_ns(uint64_t be)
{
	uint64_t v = be64toh(be);
	uint64_t sec = (v >> 32) - NTP_EPOCH_OFFSET;

	return sec * 1000000000ULL + (((v & 0xffffffffULL) * 1000000000ULL) >> 32);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void receive(uint64_t base, uint64_t n, int timeout_ms, struct run *r)
{
	struct epoll_event ev[64];
	int k, m = epoll_wait(ep, ev, 64, timeout_ms);

	for (k = 0; k < m; k++) {
		for (;;) {
			struct ntp_pkt p;
			char cbuf[128];
			struct iovec iov = { .iov_base = &p, .iov_len = sizeof(p) };
			struct msghdr mh = { .msg_iov = &iov,
					     .msg_iovlen = 1,
					     .msg_control = cbuf,
					     .msg_controllen = sizeof(cbuf) };
			struct cmsghdr *c;
			int64_t t4 = 0, t3, mid;
			uint64_t s;

			if (recvmsg(ev[k].data.fd, &mh, MSG_DONTWAIT) < (ssize_t)sizeof(p))
				break;
			for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
				if (c->cmsg_level == SOL_SOCKET &&
				    c->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;

					memcpy(&ts, CMSG_DATA(c), sizeof(ts));
					t4 = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
				}
			if (!t4)
				t4 = now_ns();
			/* Our transmit field carried the sequence; the origin echoes it. */
			s = be64toh(p.orig_ts) & 0xffffffffULL;
			if ((p.li_vn_mode & 7) != 4 || s < base || s >= base + n || !t1[s - base])
				continue;
			t3 = (int64_t)ntp_to_ns(p.tx_ts);
			mid = t1[s - base] + (t4 - t1[s - base]) / 2;
			if (t3 < t1[s - base] - 1000 || t3 > t4 + 1000)
				r->causality++;
			errs[nerr] = t3 - mid;
			rtts[nerr++] = t4 - t1[s - base];
			t1[s - base] = 0;
			r->replies++;
		}
	}
}

static void one_run(double rate, uint64_t base, struct run *r)
{
	uint64_t n = (uint64_t)ceil(rate * opt.seconds), i;
	int64_t start = now_ns(), end = start + (int64_t)(opt.seconds * 1e9), now;
	uint64_t k;

	memset(r, 0, sizeof(*r));
	r->rate = rate;
	nerr = 0;
	memset(t1, 0, n * sizeof(*t1));
	for (i = 0; i < n;) {
		now = now_ns();
		/* Every request due by now, then replies until the next 100 us. */
		k = (uint64_t)((double)(now - start) * rate / 1e9) + 1;
		for (; i < n && i < k; i++) {
			struct ntp_pkt p = { .li_vn_mode = (4 << 3) | 3 };
			uint64_t tx = ((uint64_t)(now / 1000000000 + (int64_t)NTP_EPOCH_OFFSET)
				       << 32) |
				      ((base + i) & 0xffffffffULL);

			p.tx_ts = htobe64(tx);
			t1[i] = now_ns();
			if (send(socks[i % (uint64_t)opt.nsock], &p, sizeof(p), 0) < 0)
				t1[i] = 0;
			else
				r->sent++;
		}
		receive(base, n, 0, r);
		if (i < n && now_ns() < end) {
			struct timespec d = { .tv_nsec = 100000 };

			nanosleep(&d, NULL);
		}
	}
	now = now_ns();
	r->achieved = now > start ? (double)r->sent * 1e9 / (double)(now - start) : 0;
	/* Late replies: up to 1 s after the last request. */
	end = now + 1000000000;
	while (r->replies < r->sent && now_ns() < end)
		receive(base, n, 10, r);
	r->loss_pct = r->sent ? 100.0 * (double)(r->sent - r->replies) / (double)r->sent : 100;
	if (nerr) {
		int64_t *a = malloc(nerr * sizeof(*a));
		uint64_t j;

		for (j = 0; j < nerr; j++)
			a[j] = errs[j] < 0 ? -errs[j] : errs[j];
		qsort(a, nerr, sizeof(*a), cmp64);
		r->p99_ns = a[(nerr * 99) / 100];
		qsort(errs, nerr, sizeof(*errs), cmp64);
		r->p50_ns = errs[nerr / 2];
		qsort(rtts, nerr, sizeof(*rtts), cmp64);
		r->rtt_p50_ns = rtts[nerr / 2];
		free(a);
	}
}

static void print_run(const char *key, const struct run *r)
{
	printf("{\"%s\":%.0f,\"achieved_rate\":%.0f,\"sent\":%" PRIu64 ",\"replies\":%" PRIu64
	       ",\"loss_pct\":%.3f,\"err_p50_ns\":%" PRId64 ",\"err_abs_p99_ns\":%" PRId64
	       ",\"rtt_p50_ns\":%" PRId64 ",\"causality\":%" PRIu64 "}\n",
	       key, r->rate, r->achieved, r->sent, r->replies, r->loss_pct, r->p50_ns, r->p99_ns,
	       r->rtt_p50_ns, r->causality);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int i, big = 4 << 20, one = 1, tried;
	double rate, maxn;
	struct run r, best = { 0 };
	uint64_t base = 1;
	int have_server = 0;

	opt.server.sin_family = AF_INET;
	opt.server.sin_port = htons(123);
	for (i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : "";

		if (i + 1 >= argc)
			fail("option without a value", argv[i], "--option VALUE");
		if (!strcmp(argv[i], "--server")) {
			if (inet_pton(AF_INET, v, &opt.server.sin_addr) != 1)
				fail("--server", v, "an IPv4 address");
			have_server = 1;
		} else if (!strcmp(argv[i], "--port")) {
			opt.server.sin_port = htons((uint16_t)arg_num("--port", v, 1, 65535));
		} else if (!strcmp(argv[i], "--sockets")) {
			opt.nsock = (int)arg_num("--sockets", v, 1, 4096);
		} else if (!strcmp(argv[i], "--src")) {
			if (inet_pton(AF_INET, v, &opt.src) != 1)
				fail("--src", v, "an IPv4 address");
			if (!opt.nsrc)
				opt.nsrc = 1;
		} else if (!strcmp(argv[i], "--nsrc")) {
			opt.nsrc = (int)arg_num("--nsrc", v, 1, 4096);
		} else if (!strcmp(argv[i], "--rate")) {
			opt.rate = arg_num("--rate", v, 1, 1e7);
		} else if (!strcmp(argv[i], "--seconds")) {
			opt.seconds = arg_num("--seconds", v, 0.1, 3600);
		} else if (!strcmp(argv[i], "--step")) {
			opt.step = arg_num("--step", v, 1.01, 100);
		} else if (!strcmp(argv[i], "--max-rate")) {
			opt.max_rate = arg_num("--max-rate", v, 1, 1e7);
		} else if (!strcmp(argv[i], "--tries")) {
			opt.tries = (int)arg_num("--tries", v, 1, 10);
		} else {
			fail("unknown option", argv[i],
			     "--server, --port, --sockets, --src, --nsrc, --rate, --seconds, "
			     "--step, --max-rate or --tries");
		}
	}
	if (!have_server)
		fail("missing option", "", "--server ADDR");
	socks = calloc((size_t)opt.nsock, sizeof(*socks));
	ep = epoll_create1(EPOLL_CLOEXEC);
	for (i = 0; i < opt.nsock; i++) {
		struct sockaddr_in me = { .sin_family = AF_INET };
		struct epoll_event ev = { .events = EPOLLIN };

		socks[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (socks[i] < 0) {
			perror("tk_ntpload: socket");
			return 1;
		}
		setsockopt(socks[i], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
		setsockopt(socks[i], SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
		if (opt.nsrc) {
			me.sin_addr.s_addr = htonl(ntohl(opt.src.s_addr) +
						   (uint32_t)(i % opt.nsrc));
			if (bind(socks[i], (struct sockaddr *)&me, sizeof(me)) < 0) {
				fprintf(stderr, "tk_ntpload: bind to %s: %s\n",
					inet_ntoa(me.sin_addr), strerror(errno));
				return 1;
			}
		}
		if (connect(socks[i], (struct sockaddr *)&opt.server, sizeof(opt.server)) < 0) {
			perror("tk_ntpload: connect");
			return 1;
		}
		ev.data.fd = socks[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, socks[i], &ev);
	}
	maxn = ceil((opt.step ? opt.max_rate : opt.rate) * opt.seconds) + 1;
	t1 = calloc((size_t)maxn, sizeof(*t1));
	errs = calloc((size_t)maxn, sizeof(*errs));
	rtts = calloc((size_t)maxn, sizeof(*rtts));
	if (!t1 || !errs || !rtts) {
		fprintf(stderr, "tk_ntpload: out of memory for %.0f requests\n", maxn);
		return 1;
	}
	for (rate = opt.rate, tried = 0;;) {
		one_run(rate, base, &r);
		base += (uint64_t)ceil(rate * opt.seconds) + 1;
		print_run("rate", &r);
		if (r.loss_pct < 1.0 && r.rate > best.rate)
			best = r;
		if (r.loss_pct >= 1.0 && opt.step && ++tried < opt.tries)
			continue; /* the same rate once more */
		tried = 0;
		if (!opt.step || r.loss_pct >= 1.0 || rate >= opt.max_rate)
			break;
		rate = fmin(rate * opt.step, opt.max_rate);
	}
	print_run("capacity_rate", &best);
	return 0;
}
