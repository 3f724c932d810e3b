// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tk_lanprobe: measures the emulated LAN's delay line (tests/lan/tk_relay.c)
 * from its ends. All namespaces share the kernel's clock, so a packet's
 * one-way delay is exact: the sender stamps CLOCK_REALTIME into the payload
 * just before sendto(), the sink takes the kernel's receive stamp.
 *
 *   tk_lanprobe send ADDR PORT COUNT INTERVAL_US
 *       COUNT packets (sequence 0..COUNT-1), one every INTERVAL_US
 *       (absolute deadlines on CLOCK_MONOTONIC; 0: back to back).
 *   tk_lanprobe sink PORT COUNT
 *       receives until SIGTERM; on SIGUSR1 and at exit prints one JSON line:
 *       received, distinct (sequences < COUNT seen), dups, reordered
 *       (a sequence below one seen before), min/p50/max one-way delay (ns).
 *       "tk_lanprobe: ready" on stderr once bound.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x746b6c616e707231ULL /* "tklanpr1" */

struct probe {
	uint64_t magic, seq;
	int64_t tx_ns;
	uint8_t pad[24];
};

static long arg_long(const char *name, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "tk_lanprobe: %s: read \"%s\", expected an integer in %ld..%ld\n",
			name, s, lo, hi);
		exit(2);
	}
	return v;
}

static int64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int do_send(char **a)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	long count = arg_long("COUNT", a[2], 1, 100000000);
	long ivl = arg_long("INTERVAL_US", a[3], 0, 10000000);
	struct probe p = { .magic = MAGIC };
	struct timespec next;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	long i;

	if (inet_pton(AF_INET, a[0], &to.sin_addr) != 1) {
		fprintf(stderr, "tk_lanprobe: ADDR: read \"%s\", expected an IPv4 address\n", a[0]);
		return 2;
	}
	to.sin_port = htons((uint16_t)arg_long("PORT", a[1], 1, 65535));
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (i = 0; i < count; i++) {
		if (ivl) {
			next.tv_nsec += ivl * 1000;
			while (next.tv_nsec >= 1000000000) {
				next.tv_nsec -= 1000000000;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		}
		p.seq = (uint64_t)i;
		p.tx_ns = now_ns(CLOCK_REALTIME);
		if (sendto(s, &p, sizeof(p), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
			perror("tk_lanprobe: sendto");
			return 1;
		}
	}
	return 0;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(uint64_t received, uint64_t distinct, uint64_t dups, uint64_t reord, int64_t *d,
		   size_t nd)
{
	int64_t *s = malloc((nd ? nd : 1) * sizeof(*s));

	if (!s)
		return;
	memcpy(s, d, nd * sizeof(*s));
	qsort(s, nd, sizeof(*s), cmp64);
	printf("{\"received\":%" PRIu64 ",\"distinct\":%" PRIu64 ",\"dups\":%" PRIu64
	       ",\"reordered\":%" PRIu64 ",\"min_ns\":%" PRId64 ",\"p50_ns\":%" PRId64
	       ",\"max_ns\":%" PRId64 "}\n",
	       received, distinct, dups, reord, nd ? s[0] : -1, nd ? s[nd / 2] : -1,
	       nd ? s[nd - 1] : -1);
	fflush(stdout);
	free(s);
}

static int do_sink(char **a)
{
	struct sockaddr_in me = { .sin_family = AF_INET };
	long count = arg_long("COUNT", a[1], 1, 100000000);
	uint8_t *seen = calloc((size_t)count, 1);
	int64_t *d = calloc((size_t)count, sizeof(*d));
	uint64_t received = 0, distinct = 0, dups = 0, reord = 0, maxseq = 0;
	int one = 1, big = 64 << 20, s = socket(AF_INET, SOCK_DGRAM, 0), sfd;
	size_t nd = 0;
	sigset_t ss;
	struct pollfd pf[2];

	me.sin_port = htons((uint16_t)arg_long("PORT", a[0], 1, 65535));
	if (!seen || !d || s < 0)
		return 1;
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(s, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&me, sizeof(me)) < 0) {
		perror("tk_lanprobe: bind");
		return 1;
	}
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGUSR1);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	sfd = signalfd(-1, &ss, 0);
	fprintf(stderr, "tk_lanprobe: ready\n");
	pf[0] = (struct pollfd){ .fd = s, .events = POLLIN };
	pf[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		struct probe p;
		char cbuf[128];
		struct iovec iov = { .iov_base = &p, .iov_len = sizeof(p) };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c;
		int64_t rx = 0;
		ssize_t n;

		if (poll(pf, 2, -1) < 0)
			continue;
		if (pf[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				report(received, distinct, dups, reord, d, nd);
				if (si.ssi_signo == SIGTERM)
					return 0;
			}
		}
		if (!pf[0].revents)
			continue;
		n = recvmsg(s, &mh, 0);
		if (n != (ssize_t)sizeof(p) || p.magic != MAGIC)
			continue;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				rx = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
			}
		if (!rx)
			rx = now_ns(CLOCK_REALTIME);
		received++;
		if (p.seq >= (uint64_t)count)
			continue;
		if (seen[p.seq]) {
			dups++;
			continue;
		}
		seen[p.seq] = 1;
		distinct++;
		if (distinct > 1 && p.seq < maxseq)
			reord++;
		if (p.seq > maxseq)
			maxseq = p.seq;
		d[nd++] = rx - p.tx_ns;
	}
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "send"))
		return do_send(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "sink"))
		return do_sink(argv + 2);
	fprintf(stderr,
		"tk_lanprobe: usage: read %d arguments, expected "
		"send ADDR PORT COUNT INTERVAL_US or sink PORT COUNT\n",
		argc - 1);
	return 2;
}
