/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtimekeeper internals shared with its unit test and the LD_PRELOAD
 * interposer (libtimekeeper-preload.so): the seqlock snapshot of one page
 * block, the reading with its page. Hidden symbols (the library is built
 * with -fvisibility=hidden), never exported.
 */
#ifndef TK_LIB_TKREAD_H
#define TK_LIB_TKREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "timekeeper/page.h"

/* Copies block blk of page p under its seqlock into out (a consistent copy:
 * tk_page_block_check(out) == out->check for a well-written page), and the
 * status too when st is not NULL and blk is TK_PAGE_BLOCK_HRES. 0, or
 * -EBUSY when the block stayed odd (or kept changing) past the spin bound. */
int tkr_snapshot(const struct tk_page *p, int blk, struct tk_page_clock *out,
		 struct tk_page_status *st);

/* The header checks of tk_open(): 0, or -EPROTO with what was wrong. */
int tkr_check_header(const struct tk_page_header *h, uint64_t file_size);

/* b + elapsed_ns * ppb / 1e9, rounded up; INT64_MAX (no bound) when b is
 * negative or INT64_MAX, or when the sum would not fit. */
int64_t tkr_bound_grow(int64_t b, uint64_t elapsed_ns, uint32_t ppb);

/* *out = t + sign * ns (ns >= 0; sign -1 or +1), saturating at the ends of
 * time_t instead of overflowing. */
void tkr_ts_offset(const struct timespec *t, int64_t ns, int sign, struct timespec *out);

struct timekeeper;

/* tk_gettime(), telling which page answered: *from is the page read, NULL
 * when the kernel did (or on -EINVAL). The LD_PRELOAD interposer
 * (preload.c) uses it to see when readings move between the kernel and a
 * page, or from one page to a daemon's new one. */
int tkr_gettime(struct timekeeper *tk, clockid_t clock, struct timespec *ts,
		const struct tk_page **from);

/* tk_gettime()'s build for an emulated CPU (gettime_flat: fewer loads and
 * branches, which are what a read costs under QEMU's TCG), which the
 * library's IFUNC picks only there; here for the tests, with the handle's
 * ordered TSC read. */
int tkr_gettime_flat(struct timekeeper *tk, clockid_t clock, struct timespec *ts);

/* From now on the handle reads the page only in TSC mode: in KCLOCK mode
 * (the page maps the kernel's CLOCK_MONOTONIC_RAW) its readings come from
 * the kernel, as in mode NONE. Call before the handle is shared. */
void tkr_set_tsc_only(struct timekeeper *tk);

/* The runtime directory tk_open(NULL) uses: $TIMEKEEPER_RUNTIME_DIR unless
 * the process runs with AT_SECURE (secure_getenv), or secure is set (the
 * unit test's stand-in for AT_SECURE); else /run/timekeeper. */
const char *tkr_runtime_dir(bool secure);
/* tkr_runtime_dir() + "/page" into buf: 0 or -ENAMETOOLONG. */
int tkr_page_path(char *buf, size_t cap, bool secure);

#endif
