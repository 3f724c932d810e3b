/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * prom: a small HTTP server for the Prometheus text format (version 0.0.4),
 * run from the event loop (core/evl.h), and the writer of that format.
 *
 * Pure halves, for the unit test and the fuzzer: the text writer (a bounded
 * growing buffer, HELP and TYPE lines, label values escaped as the format
 * wants: backslash, double quote and newline) and the request parser
 * (prom_parse_request(): a status for a request head, or "incomplete").
 *
 * The socket half (like core/ctl.c's, an exception to the core's purity): a
 * non-blocking TCP listener bound by prom_listen() (as root, before the
 * privilege drop) and watched by prom_attach(). It serves GET /metrics
 * only: 404 for another path, 405 for another method, 400 for anything
 * that is not an HTTP/1.x request head, 431 for a head longer than
 * PROM_REQ_MAX bytes, always one response and then close (HTTP/1.0 style,
 * Connection: close). A client gets at most PROM_DEADLINE_NS from its
 * accept to its close, whatever it sends or reads; PROM_MAX_CONNS are
 * served at once. When all are taken, the oldest one still sending its
 * request is closed for the newcomer (a scraper sends its request at once,
 * an idle or slow client does not); when every one is already being
 * answered, the newcomer is closed at once. The page is rendered into a
 * buffer by the owner's callback only once the request is complete, and
 * written without blocking: the loop never waits on a client.
 */
#ifndef TK_CORE_PROM_H
#define TK_CORE_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/evl.h"

#define PROM_MAX_CONNS 8			   /* served at once */
#define PROM_DEADLINE_NS (INT64_C(5) * 1000000000) /* accept to close, at most */
#define PROM_REQ_MAX 4096			   /* bytes of a request head */
#define PROM_BODY_MAX (4u * 1024 * 1024)	   /* the rendered page, at most */
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* --- the text writer ---------------------------------------------------- */

struct prom_buf {
	char *p;
	size_t len, cap;
	bool overflow; /* a write did not fit PROM_BODY_MAX or memory: the page is unusable */
};

void prom_buf_init(struct prom_buf *b);
void prom_buf_free(struct prom_buf *b);
void prom_printf(struct prom_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "# HELP name help\n# TYPE name type\n"; type: gauge, counter, info is
 * written as gauge (the 0.0.4 text format has no info type). */
void prom_family(struct prom_buf *b, const char *name, const char *type, const char *help);

/* One label: name="value", the value escaped. */
struct prom_label {
	const char *name;
	const char *value;
};

/* name{labels} value: nl labels (0: no braces); the value as the format
 * spells it (+Inf, -Inf, NaN, else the shortest exact decimal). */
void prom_sample(struct prom_buf *b, const char *name, const struct prom_label *labels, size_t nl,
		 double value);
/* The same with an integer value, written exactly (counters). */
void prom_sample_u64(struct prom_buf *b, const char *name, const struct prom_label *labels,
		     size_t nl, uint64_t value);

/* --- requests ----------------------------------------------------------- */

#define PROM_REQ_INCOMPLETE 0

/* The status to answer a request head with (buf holds the len bytes read so
 * far): 200 for GET /metrics (a query string is ignored), 404, 405, 400, 431
 * (no end of the head within PROM_REQ_MAX bytes), or PROM_REQ_INCOMPLETE
 * while the head may still be valid and has not ended. */
int prom_parse_request(const char *buf, size_t len);

/* The status line's reason phrase for the statuses above ("" for others). */
const char *prom_reason(int status);

/* --- the server ---------------------------------------------------------- */

struct prom_server;

/* Renders the page into b (called once per complete GET /metrics). */
typedef void (*prom_render_fn)(void *ctx, struct prom_buf *b);

/* Creates a TCP socket for addr, SO_REUSEADDR, binds and listens (no loop
 * yet: bind before the privilege drop). 0, or -errno (nothing left open). */
int prom_listen(struct prom_server **out, const struct sockaddr *addr, socklen_t addrlen,
		prom_render_fn render, void *ctx);
/* Watches the listener from the loop; deadlines run on evl_ktimers(). */
int prom_attach(struct prom_server *s, struct evl *l);
/* Closes every connection and the listener. NULL is ok. */
void prom_free(struct prom_server *s);

/* Counters, for the page itself and the tests. */
struct prom_stats {
	uint64_t accepted;  /* connections accepted */
	uint64_t refused;   /* closed at once: every slot was answering */
	uint64_t evicted;   /* closed for a newcomer while still sending their request */
	uint64_t timed_out; /* closed at the deadline */
	uint64_t scrapes;   /* 200 responses started */
	uint64_t errors;    /* 4xx and 5xx responses started */
	unsigned int open;  /* connections open now */
};
void prom_get_stats(const struct prom_server *s, struct prom_stats *st);

#endif
