/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The page writer: creates the page (include/timekeeper/page.h) in a sealed
 * memfd, holds its only writable mapping, mirrors it to <dir>/page, and
 * publishes the timekeeper's view (struct tkv) in it under the seqlock on
 * every update, the way the kernel's
 * update_vsyscall() fills the vDSO data page.
 *
 * Clock mode of the page:
 *   TSC    the source is client-readable with RDTSC (tkv cs_client_readable
 *          and cs_page_tsc: the TSC): the bases are the timekeeper's own;
 *   KCLOCK the source is derived from the kernel's clock (cs_kernel_clock:
 *          kclock; bases used as they are, the counter is the kernel's
 *          CLOCK_MONOTONIC_RAW), or a counter clients cannot read
 *          (HPET, PM timer): the page then publishes a mapping from the
 *          kernel's CLOCK_MONOTONIC_RAW to the timekeeper, rebuilt on every
 *          update from a sample (source counter, kernel raw ns before and
 *          after). That mapping is continuous by construction and its rate is
 *          steered so that it meets the timekeeper at the next update;
 *   NONE   no sample function: clients fall back to the kernel.
 * A change of mode never moves the published MONOTONIC backwards: into
 * KCLOCK the new base sits at a kernel time taken after the counter; out of
 * KCLOCK the switch waits until the mapping is not ahead of the timekeeper.
 */
#ifndef TK_CORE_PAGEW_H
#define TK_CORE_PAGEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/tkview.h"
#include "timekeeper/page.h"

struct pagew;

/* One bracketed reading: the kernel's CLOCK_MONOTONIC_RAW (ns) before and
 * after the source counter. */
struct pagew_sample {
	uint64_t kraw_before;
	uint64_t cycles;
	uint64_t kraw_after;
};

/* Takes a sample. Called inside the write section, after both blocks are
 * odd and before the tkv is read, so a caller may also bring the tkv it
 * passed up to date with the counter value it sampled (readers holding the
 * old data then all read their counter before this one). Returns 0 or
 * -errno (the update then publishes mode NONE). */
typedef int (*pagew_sample_fn)(void *ctx, struct pagew_sample *s);

/* Creates the page in a sealed memfd that the daemon maps (pagew_share_fd()),
 * and its mirror <dir>/page for readers that map the path (4096 bytes, mode
 * 0644, created with O_EXCL|O_NOFOLLOW as page.new and renamed, so a reader
 * never sees a half-written header; written with pwrite() on every update,
 * never mapped by the daemon), in mode NONE.
 * Returns 0 or -errno with a one-line reason in err. */
int pagew_open(const char *dir, struct pagew **out, char *err, size_t errlen);

/* Marks the page stale (mode NONE, valid_until 0) so readers fall back to
 * the kernel at once, unmaps it, and unlinks it when remove is set. */
void pagew_close(struct pagew *pw, bool remove);

/* Forces a clock mode (TK_PAGE_MODE_*), or -1 (default) for the automatic
 * choice above. TSC is honoured only when the source is client-readable with
 * RDTSC (CS_F_CLIENT_READ and CS_F_PAGE_TSC), KCLOCK only with a sample
 * function or a source derived from the kernel's clock (CS_F_KERNEL_CLOCK).
 * For tests and operators. */
void pagew_set_mode(struct pagew *pw, int mode);

/* The writer's update period (ns): a KCLOCK mapping aims to meet the
 * timekeeper at the next update, at least this far away (a republish between
 * updates does not make it steer harder). 0 (default): as far as the last
 * publish was. */
void pagew_set_period(struct pagew *pw, uint64_t period_ns);

/* True while the KCLOCK mapping's rate is not yet measured over 0.5 s (at
 * the start, on another source): the writer should update often (every
 * few ms), since until then only frequent steering keeps the mapping on the
 * timekeeper. */
bool pagew_settling(const struct pagew *pw);

/* Publishes one update: v is read after sample() returned (see above);
 * now_ns is the kernel's CLOCK_MONOTONIC at the update and valid_for_ns how
 * long the data may be used (clients fall back after it). sample may be NULL
 * when the source is client-readable. Returns the mode published. */
int pagew_publish(struct pagew *pw, const struct tkv *v, uint64_t now_ns, uint64_t valid_for_ns,
		  pagew_sample_fn sample, void *ctx);

/* The mapping, read-only, for tests and the control server. */
const struct tk_page *pagew_page(const struct pagew *pw);

/* The page's path. */
const char *pagew_path(const struct pagew *pw);

/* A read-only descriptor of the sealed memfd that holds the page (it can
 * neither shrink nor grow, and nobody but the daemon can write it), for
 * clients (TK_CTL_PAGE_FD); -1 when this kernel cannot seal it against
 * writes. Owned by the pagew: the caller passes it on, never closes it. */
int pagew_share_fd(const struct pagew *pw);

#endif
