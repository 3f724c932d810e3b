// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tk_http: a tiny HTTP/1.0 client for the metrics tests (metrics.sh,
 * prometheus.sh), friendly and hostile, on 127.0.0.1 only.
 *
 *   tk_http get PORT PATH          GET PATH; the whole response on stdout;
 *                                  exit 0 for a 200, 1 otherwise
 *   tk_http raw PORT TEXT          sends TEXT (\r \n escapes expanded) and prints
 *                                  the status line (or "closed" when none came)
 *   tk_http idle PORT N SECONDS    opens N connections, sends nothing, holds them
 *                                  for SECONDS (or until the daemon closes them);
 *                                  prints how many the daemon closed
 *   tk_http slow PORT MS           sends a GET /metrics one byte every MS ms and
 *                                  prints the status line it gets
 *   tk_http big PORT BYTES         a GET /metrics with a header of BYTES bytes;
 *                                  prints the status line or "closed"
 *   tk_http time PORT N            N GETs of /metrics one after another; prints
 *                                  "scrape: min MIN_US max MAX_US us"
 *
 * Every socket has a 20 s receive and send timeout: a stuck daemon fails
 * the test instead of hanging it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int port;

static int dial(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { 20, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads until EOF (or an error) into a malloc'd buffer. */
static char *read_all(int fd, size_t *len)
{
	size_t cap = 65536;
	char *b = malloc(cap + 1);

	*len = 0;
	if (!b)
		return NULL;
	for (;;) {
		ssize_t n;

		if (*len == cap) {
			char *nb = realloc(b, cap * 2 + 1);

			if (!nb)
				break;
			b = nb;
			cap *= 2;
		}
		n = recv(fd, b + *len, cap - *len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	b[*len] = '\0';
	return b;
}

static void print_status(int fd)
{
	size_t len;
	char *r = read_all(fd, &len);
	char *eol = r ? strstr(r, "\r\n") : NULL;

	if (!r || !len || !eol)
		printf("closed\n");
	else
		printf("%.*s\n", (int)(eol - r), r);
	free(r);
}

static char *unescape(const char *s)
{
	char *o = malloc(strlen(s) + 1), *p = o;

	for (; o && *s; s++) {
		if (s[0] == '\\' && s[1] == 'r') {
			*p++ = '\r';
			s++;
		} else if (s[0] == '\\' && s[1] == 'n') {
			*p++ = '\n';
			s++;
		} else {
			*p++ = *s;
		}
	}
	if (o)
		*p = '\0';
	return o;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int get(const char *path, int quiet)
{
	char req[2048];
	size_t len;
	char *r;
	int fd = dial(), ok;

	if (fd < 0) {
		perror("connect");
		return 1;
	}
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: tk_http\r\n\r\n", path);
	if (send_all(fd, req, strlen(req)) < 0) {
		close(fd);
		return 1;
	}
	r = read_all(fd, &len);
	close(fd);
	ok = r && (!strncmp(r, "HTTP/1.1 200 ", 13) || !strncmp(r, "HTTP/1.0 200 ", 13));
	if (r && !quiet)
		fwrite(r, 1, len, stdout);
	free(r);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: tk_http get|raw|idle|slow|big|time PORT ...\n");
		return 2;
	}
	port = atoi(argv[2]);
	if (!strcmp(argv[1], "get") && argc == 4)
		return get(argv[3], 0);
	if (!strcmp(argv[1], "raw") && argc == 4) {
		char *t = unescape(argv[3]);
		int fd = dial();

		if (fd < 0 || !t || send_all(fd, t, strlen(t)) < 0) {
			printf("closed\n");
			return 0;
		}
		print_status(fd);
		close(fd);
		free(t);
		return 0;
	}
	if (!strcmp(argv[1], "idle") && argc == 5) {
		int n = atoi(argv[3]), closed = 0;
		int64_t end = now_us() + (int64_t)atoi(argv[4]) * 1000000;
		struct pollfd *p = calloc((size_t)n, sizeof(*p));

		for (int i = 0; p && i < n; i++) {
			p[i].fd = dial();
			p[i].events = POLLIN;
		}
		while (p && closed < n && now_us() < end) {
			int r = poll(p, (nfds_t)n, 100);

			for (int i = 0; r > 0 && i < n; i++) {
				char c;

				if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
				    recv(p[i].fd, &c, 1, MSG_DONTWAIT) <= 0) {
					close(p[i].fd);
					p[i].fd = -1;
					closed++;
				}
			}
		}
		printf("%d of %d closed by the daemon\n", closed, n);
		for (int i = 0; p && i < n; i++)
			if (p[i].fd >= 0)
				close(p[i].fd);
		free(p);
		return 0;
	}
	if (!strcmp(argv[1], "slow") && argc == 4) {
		const char *req = "GET /metrics HTTP/1.0\r\nUser-Agent: slow\r\n\r\n";
		struct timespec d = { 0, atoi(argv[3]) * 1000000L };
		int fd = dial();

		if (fd < 0)
			return 1;
		for (const char *c = req; *c; c++) {
			if (send_all(fd, c, 1) < 0)
				break;
			nanosleep(&d, NULL);
		}
		print_status(fd);
		close(fd);
		return 0;
	}
	if (!strcmp(argv[1], "big") && argc == 4) {
		size_t n = strtoul(argv[3], NULL, 10);
		char *b = malloc(n + 64);
		int fd = dial();

		if (fd < 0 || !b)
			return 1;
		strcpy(b, "GET /metrics HTTP/1.0\r\nX-Big: ");
		memset(b + strlen(b), 'a', n);
		memcpy(b + 30 + n, "\r\n\r\n", 5);
		send_all(fd, b, n + 34); /* the daemon may close before the end */
		print_status(fd);
		close(fd);
		free(b);
		return 0;
	}
	if (!strcmp(argv[1], "time") && argc == 4) {
		int n = atoi(argv[3]);
		int64_t lo = INT64_MAX, hi = 0;

		for (int i = 0; i < n; i++) {
			int64_t t0 = now_us(), dt;

			if (get("/metrics", 1) != 0)
				return 1;
			dt = now_us() - t0;
			lo = dt < lo ? dt : lo;
			hi = dt > hi ? dt : hi;
		}
		printf("scrape: min %lld max %lld us\n", (long long)lo, (long long)hi);
		return 0;
	}
	fprintf(stderr, "tk_http: unknown command or arguments\n");
	return 2;
}
