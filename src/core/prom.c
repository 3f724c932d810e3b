// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * prom: the Prometheus text format and the small HTTP server that serves it
 * from the daemon's loop (prom.h has the rules it enforces). The server
 * holds at most PROM_MAX_CONNS connections in a fixed table, one deadline
 * timer for all of them on the loop's kernel queue, and never blocks: it
 * reads what is there, answers once the request head is complete (or
 * wrong), writes what the socket takes and waits for EPOLLOUT for the rest.
 * After its response a connection is shut down for writing and drained
 * (at most PROM_DRAIN_MAX bytes) until the client closes, so that closing
 * it with unread bytes does not reset the connection before the client has
 * read the response.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/prom.h"

/* --- the text writer ---------------------------------------------------- */

void prom_buf_init(struct prom_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void prom_buf_free(struct prom_buf *b)
{
	free(b->p);
	prom_buf_init(b);
}

static bool reserve(struct prom_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->overflow)
		return false;
	if (more > PROM_BODY_MAX || b->len + more > PROM_BODY_MAX) {
		b->overflow = true;
		return false;
	}
	if (b->len + more + 1 <= b->cap)
		return true;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->overflow = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void put(struct prom_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct prom_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

void prom_printf(struct prom_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void prom_family(struct prom_buf *b, const char *name, const char *type, const char *help)
{
	prom_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		    strcmp(type, "info") == 0 ? "gauge" : type);
}

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void put_escaped(struct prom_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			put(b, "\\\\", 2);
		else if (*v == '"')
			put(b, "\\\"", 2);
		else if (*v == '\n')
			put(b, "\\n", 2);
		else
			put(b, v, 1);
	}
}

static void put_name_labels(struct prom_buf *b, const char *name, const struct prom_label *labels,
			    size_t nl)
{
	puts_(b, name);
	if (!nl)
		return;
	put(b, "{", 1);
	for (size_t i = 0; i < nl; i++) {
		prom_printf(b, "%s%s=\"", i ? "," : "", labels[i].name);
		put_escaped(b, labels[i].value ? labels[i].value : "");
		put(b, "\"", 1);
	}
	put(b, "}", 1);
}

void prom_sample(struct prom_buf *b, const char *name, const struct prom_label *labels, size_t nl,
		 double value)
{
	char num[40];

	put_name_labels(b, name, labels, nl);
	if (isnan(value))
		snprintf(num, sizeof(num), "NaN");
	else if (isinf(value))
		snprintf(num, sizeof(num), "%s", value > 0 ? "+Inf" : "-Inf");
	else {
		/* The shortest of %.15g and %.17g that reads back exactly. */
		snprintf(num, sizeof(num), "%.15g", value);
		if (strtod(num, NULL) != value)
			snprintf(num, sizeof(num), "%.17g", value);
	}
	prom_printf(b, " %s\n", num);
}

void prom_sample_u64(struct prom_buf *b, const char *name, const struct prom_label *labels,
		     size_t nl, uint64_t value)
{
	put_name_labels(b, name, labels, nl);
	prom_printf(b, " %" PRIu64 "\n", value);
}

/* --- requests ----------------------------------------------------------- */

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The request line (without its line end): 0 when valid and for us, else
 * the status. */
static int parse_request_line(const char *p, size_t n)
{
	size_t i = 0, m, t0, tn;

	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	m = i;
	if (m == 0 || m > 32 || i >= n || p[i] != ' ')
		return 400;
	t0 = ++i;
	while (i < n && p[i] > ' ' && p[i] < 0x7f)
		i++;
	tn = i - t0;
	if (tn == 0 || i >= n || p[i] != ' ')
		return 400;
	i++;
	if (n - i != 8 || memcmp(p + i, "HTTP/1.", 7) != 0 || p[i + 7] < '0' || p[i + 7] > '9')
		return 400;
	if (m != 3 || memcmp(p, "GET", 3) != 0)
		return 405;
	if ((tn == 8 && !memcmp(p + t0, "/metrics", 8)) ||
	    (tn > 8 && !memcmp(p + t0, "/metrics?", 9)))
		return 0;
	return 404;
}

/* A header line (without its line end): name ":" value. */
static bool header_ok(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	return i > 0 && i < n && p[i] == ':';
}

int prom_parse_request(const char *buf, size_t len)
{
	size_t line = 0, start = 0;

	if (len > PROM_REQ_MAX)
		len = PROM_REQ_MAX;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		size_t end;
		int r;

		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
			return 400;
		if (c == '\r' && i + 1 < len && buf[i + 1] != '\n')
			return 400; /* a bare CR */
		if (c != '\n')
			continue;
		end = i > start && buf[i - 1] == '\r' ? i - 1 : i;
		if (line == 0) {
			r = parse_request_line(buf + start, end - start);
			if (r)
				return r;
		} else if (end == start) {
			return 200; /* the empty line: the head is complete */
		} else if (!header_ok(buf + start, end - start)) {
			return 400;
		}
		line++;
		start = i + 1;
	}
	return len >= PROM_REQ_MAX ? 431 : PROM_REQ_INCOMPLETE;
}

const char *prom_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "";
	}
}

/* --- the server ---------------------------------------------------------- */

#define PROM_DRAIN_MAX (64 * 1024)    /* bytes read and dropped after the response */
#define PROM_ACCEPT_BATCH 32	      /* accepts per wake-up: other sources get their turn */
#define PROM_PAUSE_NS (100 * 1000000) /* out of descriptors: accept again after this */
#define PROM_TIMER_SLACK_NS (20 * 1000000)

enum conn_state { CONN_FREE, CONN_READING, CONN_WRITING, CONN_DRAINING };

struct prom_conn {
	struct prom_server *s;
	int fd;
	enum conn_state state;
	int64_t accepted_ns, deadline_ns;
	size_t in_len, drained;
	char *out;
	size_t out_len, out_off;
	char in[PROM_REQ_MAX];
};

struct prom_server {
	int fd;
	struct evl *loop;
	struct hrt_timer t_deadline;
	prom_render_fn render;
	void *ctx;
	bool paused; /* accept stopped (EMFILE) until resume_ns */
	int64_t resume_ns;
	struct prom_stats st;
	struct prom_conn conn[PROM_MAX_CONNS];
};

static void arm_timer(struct prom_server *s)
{
	int64_t next = s->paused ? s->resume_ns : HRT_TIME_MAX;

	if (!s->loop)
		return;
	for (int i = 0; i < PROM_MAX_CONNS; i++)
		if (s->conn[i].state != CONN_FREE && s->conn[i].deadline_ns < next)
			next = s->conn[i].deadline_ns;
	if (next == HRT_TIME_MAX) {
		hrt_cancel(&s->t_deadline);
		return;
	}
	if (hrt_is_queued(&s->t_deadline) && s->t_deadline.softexpires == next)
		return;
	hrt_start(evl_ktimers(s->loop), &s->t_deadline, next, PROM_TIMER_SLACK_NS, HRT_MODE_ABS);
}

static void conn_close(struct prom_conn *c)
{
	if (c->state == CONN_FREE)
		return;
	if (c->s->loop)
		evl_del_fd(c->s->loop, c->fd);
	close(c->fd);
	free(c->out);
	c->out = NULL;
	c->fd = -1;
	c->state = CONN_FREE;
	c->s->st.open--;
}

/* Sends what the socket takes; at the end, shut down and drain. */
static void conn_write(struct prom_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			evl_mod_fd(c->s->loop, c->fd, EPOLLOUT);
			return;
		}
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	shutdown(c->fd, SHUT_WR);
	c->state = CONN_DRAINING;
	evl_mod_fd(c->s->loop, c->fd, EPOLLIN);
}

static void respond(struct prom_conn *c, int status)
{
	struct prom_server *s = c->s;
	struct prom_buf body, head;

	prom_buf_init(&body);
	prom_buf_init(&head);
	if (status == 200) {
		s->render(s->ctx, &body);
		if (body.overflow) {
			prom_buf_free(&body);
			status = 500;
		}
	}
	if (status != 200)
		prom_printf(&body, "%d %s\n", status, prom_reason(status));
	prom_printf(&head,
		    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
		    "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
		    status, prom_reason(status),
		    status == 200 ? PROM_CONTENT_TYPE : "text/plain; charset=utf-8", body.len,
		    status == 405 ? "Allow: GET\r\n" : "");
	if (status == 200)
		s->st.scrapes++;
	else
		s->st.errors++;
	put(&head, body.p ? body.p : "", body.len);
	prom_buf_free(&body);
	if (head.overflow) {
		prom_buf_free(&head);
		conn_close(c);
		return;
	}
	c->out = head.p; /* the buffer is handed over */
	c->out_len = head.len;
	c->out_off = 0;
	c->state = CONN_WRITING;
	conn_write(c);
}

static void conn_read(struct prom_conn *c)
{
	char scratch[4096];
	ssize_t n;
	int status;

	if (c->state == CONN_DRAINING) {
		n = recv(c->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		c->drained += n > 0 ? (size_t)n : 0;
		if (n <= 0 || c->drained > PROM_DRAIN_MAX)
			conn_close(c);
		return;
	}
	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) { /* gone before a complete request: nothing to answer */
		conn_close(c);
		return;
	}
	c->in_len += (size_t)n;
	status = prom_parse_request(c->in, c->in_len);
	if (status != PROM_REQ_INCOMPLETE)
		respond(c, status);
}

static void on_conn(struct evl *l, int fd, uint32_t revents, void *ctx)
{
	struct prom_conn *c = ctx;

	(void)l;
	if (c->state == CONN_FREE || c->fd != fd)
		return; /* a stale event of a slot closed in the same batch */
	if (c->state == CONN_WRITING) {
		if (revents & (EPOLLERR | EPOLLHUP))
			conn_close(c);
		else if (revents & EPOLLOUT)
			conn_write(c);
	} else {
		conn_read(c);
	}
	arm_timer(c->s);
}

/* A slot for a newcomer: a free one, else the oldest still reading its
 * request (closed), else NULL. */
static struct prom_conn *take_slot(struct prom_server *s)
{
	struct prom_conn *oldest = NULL;

	for (int i = 0; i < PROM_MAX_CONNS; i++) {
		struct prom_conn *c = &s->conn[i];

		if (c->state == CONN_FREE)
			return c;
		if (c->state == CONN_READING && (!oldest || c->accepted_ns < oldest->accepted_ns))
			oldest = c;
	}
	if (oldest) {
		conn_close(oldest);
		s->st.evicted++;
	}
	return oldest;
}

static void on_listen(struct evl *l, int fd, uint32_t revents, void *ctx)
{
	struct prom_server *s = ctx;

	(void)revents;
	for (int k = 0; k < PROM_ACCEPT_BATCH; k++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct prom_conn *c;
		int64_t now;

		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The listener stays readable: stop watching it for a
				 * while rather than spin. */
				s->paused = true;
				s->resume_ns = evl_now() + PROM_PAUSE_NS;
				evl_mod_fd(l, s->fd, 0);
			}
			break; /* EAGAIN, or an error of one connection (ECONNABORTED, ...) */
		}
		s->st.accepted++;
		c = take_slot(s);
		if (!c) {
			close(cfd);
			s->st.refused++;
			continue;
		}
		now = evl_now();
		memset(c, 0, offsetof(struct prom_conn, in));
		c->s = s;
		c->fd = cfd;
		c->accepted_ns = now;
		c->deadline_ns = now + PROM_DEADLINE_NS;
		if (evl_add_fd(l, cfd, EPOLLIN, on_conn, c) < 0) {
			close(cfd);
			c->fd = -1;
			continue;
		}
		c->state = CONN_READING;
		s->st.open++;
	}
	arm_timer(s);
}

static enum hrt_restart on_deadline(struct hrt_timer *t, int64_t now)
{
	struct prom_server *s = t->data;

	for (int i = 0; i < PROM_MAX_CONNS; i++) {
		struct prom_conn *c = &s->conn[i];

		if (c->state != CONN_FREE && c->deadline_ns <= now) {
			conn_close(c);
			s->st.timed_out++;
		}
	}
	if (s->paused && s->resume_ns <= now) {
		s->paused = false;
		evl_mod_fd(s->loop, s->fd, EPOLLIN);
	}
	arm_timer(s);
	return HRT_NORESTART;
}

int prom_listen(struct prom_server **out, const struct sockaddr *addr, socklen_t addrlen,
		prom_render_fn render, void *ctx)
{
	struct prom_server *s;
	int one = 1, r;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		r = -errno;
		free(s);
		return r;
	}
	if (setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s->fd, addr, addrlen) < 0 || listen(s->fd, 64) < 0) {
		r = -errno;
		close(s->fd);
		free(s);
		return r;
	}
	for (int i = 0; i < PROM_MAX_CONNS; i++)
		s->conn[i].fd = -1;
	s->render = render;
	s->ctx = ctx;
	hrt_timer_init(&s->t_deadline, HRT_BASE_MONOTONIC, on_deadline, "metrics deadline");
	s->t_deadline.data = s;
	*out = s;
	return 0;
}

int prom_attach(struct prom_server *s, struct evl *l)
{
	int r = evl_add_fd(l, s->fd, EPOLLIN, on_listen, s);

	if (r == 0)
		s->loop = l;
	return r;
}

void prom_free(struct prom_server *s)
{
	if (!s)
		return;
	for (int i = 0; i < PROM_MAX_CONNS; i++)
		conn_close(&s->conn[i]);
	hrt_cancel(&s->t_deadline);
	if (s->loop)
		evl_del_fd(s->loop, s->fd);
	close(s->fd);
	free(s);
}

void prom_get_stats(const struct prom_server *s, struct prom_stats *st)
{
	*st = s->st;
}
