/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging: one line per event, to stderr, or to the journal when stderr is
 * the journal's stream (systemd sets JOURNAL_STREAM to its device:inode):
 * then each entry goes with sd_journal_sendv() as PRIORITY=, MESSAGE= and
 * the caller's structured fields (TK_SOURCE=, TK_VERDICT=, ...), so that
 * `journalctl TK_SOURCE=hpet` finds them. Without the journal the line is
 * "ident: message" as before. Library code in src/core and src/hw returns
 * errors; callers log them once.
 */
#ifndef TK_CORE_LOG_H
#define TK_CORE_LOG_H

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7
};

/* A structured journal field: key in upper case (A-Z, 0-9, _), as the
 * journal requires; value as text. Arrays of them end with { NULL, NULL }. */
struct log_field {
	const char *key;
	const char *value;
};

#define LOG_FIELDS_MAX 8

void log_set_level(enum log_level level);
void log_set_ident(const char *ident);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* log_msg() with up to LOG_FIELDS_MAX structured fields for the journal;
 * without the journal they are dropped and the line is log_msg()'s. */
void log_fields(enum log_level level, const struct log_field *fields, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 0: plain stderr lines; 1: entries go to the journal's socket (stderr is
 * JOURNAL_STREAM); 2: stderr is JOURNAL_STREAM but the socket is missing,
 * "<N>message" lines on stderr. */
int log_to_journal(void);

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
