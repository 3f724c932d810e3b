// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test helper: a UDP "server" that never answers, as a resolver whose
 * replies are lost. Binds ADDR:PORT, creates READY once bound, then appends
 * one line to COUNT for every datagram it swallows, until killed.
 *
 *   udp_sink ADDR PORT READY COUNT
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd, out, ready;
	char buf[2048];

	if (argc != 5 || inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1) {
		fprintf(stderr, "usage: udp_sink IPV4-ADDR PORT READY-FILE COUNT-FILE\n");
		return 2;
	}
	sin.sin_port = htons((unsigned short)atoi(argv[2]));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		fprintf(stderr, "udp_sink: %s:%s: %s\n", argv[1], argv[2], strerror(errno));
		return 1;
	}
	out = open(argv[4], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ready = open(argv[3], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (out < 0 || ready < 0) {
		fprintf(stderr, "udp_sink: cannot create %s or %s: %s\n", argv[4], argv[3],
			strerror(errno));
		return 1;
	}
	close(ready);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && errno != EINTR)
			return 1;
		if (n >= 0 && write(out, "q\n", 2) != 2)
			return 1;
	}
}
