// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * jw: the minimal JSON writer of timectl (see jw.h). Escaping follows
 * RFC 8259: '"' and '\\' escaped, U+0000..U+001F and U+007F as \u00XX (or
 * the short forms), well-formed UTF-8 passed through, anything else
 * (overlong forms, surrogates, stray continuation bytes, truncated
 * sequences) replaced by U+FFFD.
 */
#include "config.h"

#include <math.h>
#include <string.h>
#include <inttypes.h>

#include "timectl/jw.h"

void jw_init(struct jw *w, FILE *f, int schema)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->schema = schema;
}

/* The length of the well-formed UTF-8 sequence at s (at most n bytes), 0 if
 * there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void put_string(FILE *f, const char *str, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strnlen(str, max), i = 0, len;

	fputc('"', f);
	while (i < n) {
		unsigned char c = s[i];

		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				fprintf(f, "\\u%04x", c);
			} else if (c < 0x80) {
				fputc(c, f);
			} else {
				len = utf8_len(s + i, n - i);
				if (!len) {
					fputs("\\ufffd", f);
					break;
				}
				fwrite(s + i, 1, len, f);
				i += len;
				continue;
			}
		}
		i++;
	}
	fputc('"', f);
}

static void member(struct jw *w, const char *key)
{
	if (w->depth > 0) {
		if (w->need_comma[w->depth])
			fputc(',', w->f);
		w->need_comma[w->depth] = true;
	}
	if (key) {
		put_string(w->f, key, SIZE_MAX);
		fputc(':', w->f);
	}
}

static void open_(struct jw *w, const char *key, char c, char closer)
{
	member(w, key);
	fputc(c, w->f);
	if (w->depth < JW_MAX_DEPTH - 1)
		w->depth++;
	w->need_comma[w->depth] = false;
	w->closer[w->depth] = closer;
}

void jw_object(struct jw *w, const char *key)
{
	open_(w, key, '{', '}');
	if (w->depth == 1 && w->schema > 0)
		jw_int(w, "schema", w->schema);
}

void jw_array(struct jw *w, const char *key)
{
	open_(w, key, '[', ']');
}

void jw_end(struct jw *w)
{
	if (w->depth > 0) {
		fputc(w->closer[w->depth], w->f);
		w->depth--;
	}
}

void jw_strn(struct jw *w, const char *key, const char *s, size_t max)
{
	member(w, key);
	put_string(w->f, s, max);
}

void jw_str(struct jw *w, const char *key, const char *s)
{
	if (!s) {
		jw_null(w, key);
		return;
	}
	jw_strn(w, key, s, SIZE_MAX);
}

void jw_int(struct jw *w, const char *key, int64_t v)
{
	member(w, key);
	fprintf(w->f, "%" PRId64, v);
}

void jw_uint(struct jw *w, const char *key, uint64_t v)
{
	member(w, key);
	fprintf(w->f, "%" PRIu64, v);
}

void jw_double(struct jw *w, const char *key, double v, int decimals)
{
	member(w, key);
	if (!isfinite(v))
		fputs("null", w->f);
	else
		fprintf(w->f, "%.*f", decimals, v);
}

void jw_bool(struct jw *w, const char *key, bool v)
{
	member(w, key);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct jw *w, const char *key)
{
	member(w, key);
	fputs("null", w->f);
}

void jw_finish(struct jw *w)
{
	while (w->depth > 0)
		jw_end(w);
	fputc('\n', w->f);
}
