/*
 * libtimekeeper internals shared with its unit test: the seqlock snapshot of
 * one page block. Hidden symbols (the library is built with
 * -fvisibility=hidden), never exported.
 */
#ifndef TK_LIB_TKREAD_H
#define TK_LIB_TKREAD_H

#include "timekeeper/page.h"

/* Copies block blk of page p under its seqlock into out (a consistent copy:
 * tk_page_block_check(out) == out->check for a well-written page), and the
 * status too when st is not NULL and blk is TK_PAGE_BLOCK_HRES. */
void tkr_snapshot(const struct tk_page *p, int blk, struct tk_page_clock *out,
		  struct tk_page_status *st);

/* The header checks of tk_open(): 0, or -EPROTO with what was wrong. */
int tkr_check_header(const struct tk_page_header *h, uint64_t file_size);

#endif
