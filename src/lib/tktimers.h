/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtimekeeper internals of the timer API (timers.c) shared with its unit
 * test: a handle over an already connected socket, the reply timeout, and
 * the unit conversions. Hidden symbols (the library is built with
 * -fvisibility=hidden), never exported.
 */
#ifndef TK_LIB_TKTIMERS_H
#define TK_LIB_TKTIMERS_H

#include <stdint.h>
#include <time.h>

#include "timekeeper.h"

#define TKT_TIMEOUT_MS 5000 /* a reply that does not come within this is -ETIMEDOUT */

/* A handle over fd (a connected SOCK_SEQPACKET socket, owned from then on). */
int tkt_from_fd(int fd, struct tk_timers **out);
void tkt_set_timeout(struct tk_timers *tt, int ms);

/* clockid_t -> TK_CTL_CLOCK_*, or -EINVAL. */
int tkt_clock_to_ctl(clockid_t clock);
/* A timespec as ns: -EINVAL for tv_nsec outside [0, 1e9), -ERANGE when it
 * does not fit an int64_t. */
int tkt_ts_to_ns(const struct timespec *ts, int64_t *ns);
/* ns as a timespec, tv_nsec in [0, 1e9) also for negative ns. */
void tkt_ns_to_ts(int64_t ns, struct timespec *ts);

#endif
