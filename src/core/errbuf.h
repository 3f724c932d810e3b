/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Error buffers: the one-line messages library code hands back to its
 * caller (what was wrong, what was read, what was expected) instead of
 * printing them.
 */
#ifndef TK_CORE_ERRBUF_H
#define TK_CORE_ERRBUF_H

#include <stddef.h>

/* Formats into err (errlen bytes); does nothing when err is NULL or errlen 0. */
void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
