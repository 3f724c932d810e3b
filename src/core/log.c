/*
 * Logging to stderr with a syslog-style "<N>" prefix when stderr is the
 * journal (systemd sets JOURNAL_STREAM), plain "ident: " otherwise.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"

static enum log_level max_level = LOG_LVL_NOTICE;
static const char *log_ident = "timekeeperd";

void log_set_level(enum log_level level)
{
	max_level = level;
}

void log_set_ident(const char *ident)
{
	log_ident = ident;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (getenv("JOURNAL_STREAM"))
		fprintf(stderr, "<%d>%s\n", (int)level, line);
	else
		fprintf(stderr, "%s: %s\n", log_ident, line);
}
