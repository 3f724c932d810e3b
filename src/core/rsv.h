/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rsv: host names resolved off the event loop. A lookup runs in glibc's
 * getaddrinfo_a() (GAI_NOWAIT); when it ends, glibc starts a notification
 * thread (SIGEV_THREAD) that writes to one eventfd, which the owner watches
 * on its loop (rsv_fd()) and then asks each of its lookups whether it is
 * done (rsv_done()). Nothing here blocks: the owner enforces its own
 * timeout and, when a lookup takes too long or is no longer wanted, lets go
 * of it (rsv_release()): one still queued is cancelled; one that glibc is
 * running cannot be, so it is left to finish and freed later (by
 * rsv_reap(), which rsv_drain() calls), never while glibc's thread may still
 * write it.
 *
 * Why getaddrinfo_a and not c-ares: it is glibc's own facility, so no new
 * dependency, and it goes through NSS exactly as getaddrinfo() does
 * (/etc/hosts, nsswitch.conf, resolv.conf and its options). Its limits:
 * glibc runs each lookup on a thread of its own (at most 20 at once; more
 * wait in its queue) plus one short thread per notification, and a lookup
 * that is running cannot be stopped, only abandoned: a server whose
 * resolver never answers holds one thread until glibc's own resolver
 * timeouts (resolv.conf `timeout` x `attempts`) end it.
 */
#ifndef TK_CORE_RSV_H
#define TK_CORE_RSV_H

#include <netdb.h>

struct rsv_lookup;

/* The eventfd that becomes readable when a lookup has ended. Made on first
 * use and kept open for the life of the process, so a late notification
 * never writes to a closed or reused descriptor. -errno when it cannot be
 * made. */
int rsv_fd(void);

/* When rsv_fd() is readable: clears it and reaps released lookups that
 * have ended. Then check every lookup of the owner with rsv_done(). */
void rsv_drain(void);

/* Starts resolving host:service (datagram sockets, any family, numeric
 * service). 0 with *out, or -errno (-ENOMEM, -EAGAIN when glibc cannot
 * queue it). */
int rsv_start(const char *host, const char *service, struct rsv_lookup **out);

/* EAI_INPROGRESS while the lookup runs (or until glibc has let go of it);
 * then its getaddrinfo() result: 0 with *res (the caller's, to be freed
 * with freeaddrinfo(); given once, NULL after), or an EAI_* code. */
int rsv_done(struct rsv_lookup *l, struct addrinfo **res);

/* The caller is done with l (NULL is fine): freed now when glibc no longer
 * holds it (ended, or cancelled while still queued), else kept on a list
 * until it ends. The result, if any, is dropped. Returns 1 when the lookup
 * was still running and had to be left to finish, else 0. */
int rsv_release(struct rsv_lookup *l);

/* Frees the released lookups that have ended; returns how many are still
 * running. */
unsigned int rsv_reap(void);

#endif
