/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Time units: the per-second constants and the timespec <-> nanoseconds
 * conversions, in one place. Header-only (static inline, no libtkcore
 * symbols) and needing only libc, so that the daemon, src/core, src/hw,
 * libtimekeeper, timectl, the tests and the benches can all include it as
 * "core/tunit.h". Internal: not installed, not part of the public API.
 *
 * Two flavours on purpose:
 *  - signed (int64_t): NSEC_PER_SEC, ts_to_ns(), ns_to_ts(); offsets,
 *    deadlines and clock readings that may be compared or subtracted;
 *  - unsigned (uint64_t): NSEC_PER_SEC_U, ts_to_ns_u(); readings of clocks
 *    that never go negative (MONOTONIC, MONOTONIC_RAW, ...) used in
 *    cycle-counter style arithmetic, where wrapping is defined and
 *    shifts (NSEC_PER_SEC_U << shift) must not touch a sign bit.
 */
#ifndef TK_CORE_TUNIT_H
#define TK_CORE_TUNIT_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

#define NSEC_PER_SEC INT64_C(1000000000)
#define NSEC_PER_MSEC INT64_C(1000000)
#define NSEC_PER_USEC INT64_C(1000)
#define USEC_PER_SEC INT64_C(1000000)
#define NSEC_PER_SEC_U UINT64_C(1000000000)

/* ts in signed nanoseconds, unchecked: for clock readings and other
 * timespecs whose tv_sec is far (292 years) from int64_t's limits, and whose
 * tv_nsec is in [0, 1 s). */
static inline int64_t ts_to_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * NSEC_PER_SEC + ts->tv_nsec;
}

/* ts in unsigned nanoseconds, unchecked (arithmetic modulo 2^64): for
 * clocks that do not go below zero. */
static inline uint64_t ts_to_ns_u(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * NSEC_PER_SEC_U + (uint64_t)ts->tv_nsec;
}

/* ts in signed nanoseconds, checked, for timespecs from outside (a
 * library caller's): 0, -EINVAL when tv_nsec is outside [0, 1 s), or
 * -ERANGE when the value does not fit in int64_t (then *ns holds garbage).
 * INT64_MIN itself is representable. */
static inline int ts_to_ns_checked(const struct timespec *ts, int64_t *ns)
{
	int64_t sec = (int64_t)ts->tv_sec, nsec = ts->tv_nsec, s;

	if (nsec < 0 || nsec >= NSEC_PER_SEC)
		return -EINVAL;
	if (sec < 0 && nsec > 0) {
		/* So that INT64_MIN itself is representable. */
		sec++;
		nsec -= NSEC_PER_SEC;
	}
	if (__builtin_mul_overflow(sec, NSEC_PER_SEC, &s) || __builtin_add_overflow(s, nsec, ns))
		return -ERANGE;
	return 0;
}

/* ns as a timespec, floored: tv_nsec is in [0, 1 s) for negative ns too
 * (-1 ns is { -1, 999999999 }). Every int64_t is representable. */
static inline void ns_to_ts(int64_t ns, struct timespec *ts)
{
	int64_t s = ns / NSEC_PER_SEC, r = ns % NSEC_PER_SEC;

	if (r < 0) {
		r += NSEC_PER_SEC;
		s--;
	}
	ts->tv_sec = (time_t)s;
	ts->tv_nsec = (long)r;
}

#endif
