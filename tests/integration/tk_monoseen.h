/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The backward-step check of the MONOTONIC torture programs (tk_monocheck,
 * tk_preload_torture, bench_vm): each reader compares a reading with its own
 * last one (within a thread) and with the largest any thread had published
 * before the reading began (across threads; published with release, read
 * with acquire), then publishes its reading. Header-only: the preload's
 * torture program links nothing of ours.
 */
#ifndef TK_TESTS_TK_MONOSEEN_H
#define TK_TESTS_TK_MONOSEEN_H

#include <stdatomic.h>
#include <stdint.h>

struct mono_seen {
	int64_t last;	      /* this thread's last reading; start at INT64_MIN */
	uint64_t back_within; /* below this thread's last reading */
	uint64_t back_across; /* below what another thread had seen first */
	int64_t max_back_ns;
};

/* Before the reading: what every thread had seen so far. */
static inline int64_t mono_seen_before(_Atomic int64_t *global_max)
{
	return atomic_load_explicit(global_max, memory_order_acquire);
}

/* After it: counts a step back from either and publishes v. */
static inline void mono_seen_note(struct mono_seen *s, _Atomic int64_t *global_max, int64_t seen,
				  int64_t v)
{
	int64_t m;

	if (v < s->last) {
		s->back_within++;
		if (s->last - v > s->max_back_ns)
			s->max_back_ns = s->last - v;
	}
	if (v < seen) {
		s->back_across++;
		if (seen - v > s->max_back_ns)
			s->max_back_ns = seen - v;
	}
	s->last = v;
	m = atomic_load_explicit(global_max, memory_order_relaxed);
	while (v > m && !atomic_compare_exchange_weak_explicit(
				global_max, &m, v, memory_order_release, memory_order_relaxed))
		;
}

#endif
