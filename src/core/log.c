// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Logging to stderr, or to the journal with structured fields when stderr
 * is the journal's stream. systemd passes JOURNAL_STREAM=<dev>:<inode> of
 * the stream it connected; it is inherited by children whose stderr may be
 * elsewhere, so the variable alone proves nothing: it must match stderr.
 * If the journal's socket is missing or sd_journal_sendv() fails, the line
 * goes to stderr with a syslog-style "<N>" prefix, which the journal's
 * stream reader parses.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
/* The call site would always be this file's sd_journal_sendv(): none. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "core/log.h"

static enum log_level max_level = LOG_LVL_NOTICE;
static const char *log_ident = "timekeeperd";
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* -1 unknown until the first entry, 0 plain stderr, 1 the journal's socket,
 * 2 stderr is the journal's stream but its socket is missing. */
static int journal = -1;

void log_set_level(enum log_level level)
{
	max_level = level;
}

void log_set_ident(const char *ident)
{
	log_ident = ident;
}

int log_to_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (journal >= 0)
		return journal;
	journal = env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
		  (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
	/* sd_journal_sendv() reports success when the socket is missing
	 * (journald not running): then "<N>" lines on the stream instead. */
	if (journal && access(JOURNAL_SOCKET, F_OK) < 0)
		journal = 2;
	return journal;
}

/* The callers' format strings are checked at their call sites (log.h);
 * the attribute lets the compiler pass fmt on to vsnprintf() unwarned. */
static void vlog(enum log_level level, const struct log_field *fields, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void vlog(enum log_level level, const struct log_field *fields, const char *fmt, va_list ap)
{
	/* Each iovec is one "KEY=value" field; the line is formatted after
	 * "MESSAGE=" so that the journal gets it without a copy. */
	char msg[8 + 1024], prio[16], ident[80], kv[LOG_FIELDS_MAX][192];
	char *line = msg + 8;
	struct iovec iov[3 + LOG_FIELDS_MAX];
	int n = 0;

	if (level > max_level)
		return;
	memcpy(msg, "MESSAGE=", 8);
	vsnprintf(line, sizeof(msg) - 8, fmt, ap);
	switch (log_to_journal()) {
	case 0:
		fprintf(stderr, "%s: %s\n", log_ident, line);
		return;
	case 2:
		fprintf(stderr, "<%d>%s\n", (int)level, line);
		return;
	}
	snprintf(prio, sizeof(prio), "PRIORITY=%d", (int)level);
	snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", log_ident);
	iov[n++] = (struct iovec){ prio, strlen(prio) };
	iov[n++] = (struct iovec){ ident, strlen(ident) };
	for (int i = 0; fields && i < LOG_FIELDS_MAX && fields[i].key; i++) {
		snprintf(kv[i], sizeof(kv[i]), "%s=%s", fields[i].key,
			 fields[i].value ? fields[i].value : "");
		iov[n++] = (struct iovec){ kv[i], strlen(kv[i]) };
	}
	iov[n++] = (struct iovec){ msg, strlen(msg) };
	if (sd_journal_sendv(iov, n) >= 0)
		return;
	fprintf(stderr, "<%d>%s\n", (int)level, line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, NULL, fmt, ap);
	va_end(ap);
}

void log_fields(enum log_level level, const struct log_field *fields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fields, fmt, ap);
	va_end(ap);
}
