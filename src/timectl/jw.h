/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * jw: the minimal JSON writer of timectl. It writes one document to a
 * stdio stream, keeps track of commas and nesting, and escapes strings
 * completely: quotes, backslashes and control characters, and any byte
 * sequence that is not valid UTF-8 (written as U+FFFD), so that what the
 * daemon sends can never break the document. Strings are taken with a
 * bound (the daemon's fixed-size arrays need not be NUL-terminated).
 */
#ifndef TIMECTL_JW_H
#define TIMECTL_JW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JW_MAX_DEPTH 16 /* timectl's documents nest 3 deep */

struct jw {
	FILE *f;
	int depth;
	bool need_comma[JW_MAX_DEPTH];
	char closer[JW_MAX_DEPTH]; /* '}' or ']' by depth */
	int schema;
};

/* schema > 0 is written as the first member ("schema") of the top-level
 * object, so that every document says which layout it follows. */
void jw_init(struct jw *w, FILE *f, int schema);
/* key is NULL inside arrays and for the top-level value. */
void jw_object(struct jw *w, const char *key);
void jw_array(struct jw *w, const char *key);
void jw_end(struct jw *w); /* closes the innermost object or array */
void jw_strn(struct jw *w, const char *key, const char *s, size_t max);
void jw_str(struct jw *w, const char *key, const char *s); /* s NULL: null */
void jw_int(struct jw *w, const char *key, int64_t v);
void jw_uint(struct jw *w, const char *key, uint64_t v);
void jw_double(struct jw *w, const char *key, double v, int decimals); /* non-finite: null */
void jw_bool(struct jw *w, const char *key, bool v);
void jw_null(struct jw *w, const char *key);
/* Ends the document with a newline. */
void jw_finish(struct jw *w);

#endif
