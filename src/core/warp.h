/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cross-CPU TSC warp test (the kernel's check_tsc_warp): two threads
 * pinned to two CPUs take turns under one spinlock reading the counter and
 * storing it as the shared "last" value. If a thread ever reads a value
 * smaller than the last one stored by either thread, the counters of the two
 * CPUs disagree (a warp): time would run backwards for a task that migrates.
 * The first online CPU is tested against every other one, 20 ms per pair.
 *
 * Unlike the rest of the core this runs in real time (it must: it measures
 * the machine). The counter is the caller's: the daemon passes the read
 * function of the clocksource under test (the probe's ordered TSC read),
 * tests pass a fake one.
 */
#ifndef TK_CORE_WARP_H
#define TK_CORE_WARP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/clocksource.h"

#define WARP_DURATION_NS UINT64_C(20000000) /* per pair, like loop_timeout */

struct warp_conf {
	/* The counter; required. Called under the lock. */
	uint64_t (*read)(void *ctx);
	void *ctx;
	uint64_t duration_ns; /* per pair; 0 = WARP_DURATION_NS */
	int cpu_a, cpu_b;     /* a given pair (may be equal, for tests); -1, -1 = all pairs */
};

struct warp_result {
	bool run;		    /* false: not run, see note */
	unsigned int pairs;	    /* CPU pairs tested */
	uint64_t nr_warps;	    /* backward steps seen */
	uint64_t max_warp_cycles;   /* largest backward step, counter cycles */
	uint64_t loops;		    /* reads made, both threads, all pairs */
	int warp_cpu_a, warp_cpu_b; /* the pair of the largest warp; -1 when none */
	char note[CS_REASON_LEN];   /* "not run: 1 CPU", an error, or a summary */
};

/* conf->read is required. Returns 0 (also when not run on a 1-CPU machine;
 * res->run says), -EINVAL without a read function, or -errno when threads
 * cannot be created or pinned (res->note says which). */
int warp_run(const struct warp_conf *conf, struct warp_result *res);

/* When res saw a warp, marks the registry's `name` source (the one tested)
 * unstable with the reason. Returns true when it did. */
bool warp_apply(struct cs_registry *r, const char *name, const struct warp_result *res);

#endif
