// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Host names resolved off the loop with glibc's getaddrinfo_a (see rsv.h
 * for why this and not c-ares, and its limits).
 *
 * When may a gaicb be freed? glibc's worker thread writes the result
 * (ar_result, then the return code that gai_error() reads) before it takes
 * its request lock, and under that lock starts the notification and drops
 * the request from its list; after that it never touches the gaicb again.
 * gai_cancel() takes the same lock: EAI_ALLDONE means the request is off
 * the list (ended), EAI_CANCELED that it was still queued and now never
 * runs, EAI_NOTCANCELED that a worker holds it. So a lookup is over for
 * glibc only when gai_cancel() says ALLDONE or CANCELED, and that is the
 * only time it is freed. (gai_cancel() on an ended request changes
 * nothing; it is called only once gai_error() says it ended, or to let go.)
 *
 * One eventfd, never closed, is shared by all lookups: the notification
 * thread may run after the owner has stopped caring, and a descriptor that
 * was closed and reused would then receive its write.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/rsv.h"

struct rsv_lookup {
	struct gaicb cb; /* glibc's; ar_name, ar_service, ar_request point below */
	struct addrinfo hints;
	bool ended;		 /* glibc let go of it: result final, free to free */
	struct rsv_lookup *next; /* on the released list */
	char *host, *service;
};

static int event_fd = -1;	    /* written once; read by notification threads */
static struct rsv_lookup *released; /* let go while running: the loop's thread only */

/* glibc's notification thread: wake the loop. */
static void notify(union sigval v)
{
	uint64_t one = 1;
	int fd = __atomic_load_n(&event_fd, __ATOMIC_ACQUIRE);

	(void)v;
	/* EAGAIN (counter saturated) still leaves the descriptor readable. */
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		return;
}

int rsv_fd(void)
{
	if (event_fd < 0) {
		int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

		if (fd < 0)
			return -errno;
		__atomic_store_n(&event_fd, fd, __ATOMIC_RELEASE);
	}
	return event_fd;
}

static void free_lookup(struct rsv_lookup *l)
{
	if (l->ended && l->cb.ar_result && gai_error(&l->cb) == 0)
		freeaddrinfo(l->cb.ar_result);
	free(l->host);
	free(l->service);
	free(l);
}

/* Has glibc let go of l? Only asked of a lookup whose result is written
 * (gai_error() no longer EAI_INPROGRESS), so gai_cancel() cannot cancel it:
 * it only tells whether the worker still holds it. */
static bool ended(struct rsv_lookup *l)
{
	if (!l->ended && gai_error(&l->cb) != EAI_INPROGRESS &&
	    gai_cancel(&l->cb) != EAI_NOTCANCELED)
		l->ended = true;
	return l->ended;
}

unsigned int rsv_reap(void)
{
	struct rsv_lookup **pp = &released, *l;
	unsigned int running = 0;

	while ((l = *pp)) {
		if (ended(l)) {
			*pp = l->next;
			free_lookup(l);
		} else {
			running++;
			pp = &l->next;
		}
	}
	return running;
}

void rsv_drain(void)
{
	uint64_t v;

	if (event_fd >= 0 && read(event_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing new; the lookups are checked anyway. */
	}
	rsv_reap();
}

int rsv_release(struct rsv_lookup *l)
{
	if (!l)
		return 0;
	if (!l->ended) {
		int c = gai_cancel(&l->cb);

		if (c == EAI_NOTCANCELED) {
			l->next = released;
			released = l;
			return 1;
		}
		/* EAI_CANCELED: never ran, no result; EAI_ALLDONE: ended. */
		l->ended = c == EAI_ALLDONE;
		if (c == EAI_CANCELED)
			l->cb.ar_result = NULL;
	}
	free_lookup(l);
	return 0;
}

int rsv_start(const char *host, const char *service, struct rsv_lookup **out)
{
	struct sigevent sev;
	struct gaicb *list[1];
	struct rsv_lookup *l;
	int fd = rsv_fd(), r, e;

	*out = NULL;
	if (fd < 0)
		return fd;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->host = strdup(host);
	l->service = strdup(service);
	if (!l->host || !l->service) {
		free(l->host);
		free(l->service);
		free(l);
		return -ENOMEM;
	}
	l->hints.ai_family = AF_UNSPEC;
	l->hints.ai_socktype = SOCK_DGRAM;
	l->hints.ai_flags = AI_NUMERICSERV;
	l->cb.ar_name = l->host;
	l->cb.ar_service = l->service;
	l->cb.ar_request = &l->hints;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = notify;
	list[0] = &l->cb;
	r = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
	if (r != 0) {
		/* EAI_SYSTEM: not queued. EAI_AGAIN: queued, but glibc had no
		 * memory for the notification: it may run all the same, so
		 * let go of it as of any other. */
		e = r == EAI_SYSTEM && errno ? errno : EAGAIN;
		rsv_release(l);
		return -e;
	}
	*out = l;
	return 0;
}

int rsv_done(struct rsv_lookup *l, struct addrinfo **res)
{
	int rc;

	if (res)
		*res = NULL;
	if (!ended(l))
		return EAI_INPROGRESS;
	rc = gai_error(&l->cb);
	if (rc == 0 && res) {
		*res = l->cb.ar_result;
		l->cb.ar_result = NULL;
	}
	return rc;
}
