// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ctl_vserver: a stand-in daemon of another control protocol version, for
 * the clients' side of a version mismatch. It listens on SOCKET and answers
 * every request of every connection with a refusal -EPROTONOSUPPORT, then
 * closes the connection, as timekeeperd answers a client of another
 * version. Framed by hand from <timekeeper/control.h> alone, so that it
 * checks the clients independently of their shared framing.
 *
 *   ctl_vserver SOCKET MODE N   MODE "version": the reply's header carries
 *                               version TK_CTL_VERSION + 1; "status": our
 *                               version with status -EPROTONOSUPPORT.
 *                               Serves N connections, then exits 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "timekeeper/control.h"

#define HDR sizeof(struct tk_ctl_hdr)
#define RES sizeof(struct tk_ctl_result)

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static unsigned char buf[TK_CTL_MAX_MSG];
	int lfd, other;
	long n;

	if (argc != 4 || (strcmp(argv[2], "version") && strcmp(argv[2], "status"))) {
		fprintf(stderr, "usage: ctl_vserver SOCKET version|status N\n");
		return 2;
	}
	other = !strcmp(argv[2], "version");
	n = strtol(argv[3], NULL, 10);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0) {
		fprintf(stderr, "ctl_vserver: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	for (long i = 0; i < n; i++) {
		int fd = accept(lfd, NULL, NULL);
		struct tk_ctl_hdr h;
		struct tk_ctl_result r = { .status = -EPROTONOSUPPORT };
		ssize_t got;

		if (fd < 0)
			return 2;
		got = recv(fd, buf, sizeof(buf), 0);
		if (got >= (ssize_t)HDR) {
			memcpy(&h, buf, HDR);
			h.version = (uint16_t)(other ? TK_CTL_VERSION + 1 : TK_CTL_VERSION);
			h.flags = TK_CTL_F_REPLY;
			h.length = (uint32_t)(HDR + RES);
			snprintf(r.message, sizeof(r.message),
				 "protocol version %u not supported, this server speaks %u..%u",
				 TK_CTL_VERSION, TK_CTL_VERSION + 1, TK_CTL_VERSION + 1);
			memcpy(buf, &h, HDR);
			memcpy(buf + HDR, &r, RES);
			(void)!send(fd, buf, HDR + RES, MSG_NOSIGNAL);
		}
		close(fd);
	}
	close(lfd);
	unlink(argv[1]);
	return 0;
}
