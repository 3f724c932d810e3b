// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cross-CPU warp test (see warp.h). The lock and the last value share
 * one cache line on purpose: the line bounces between the two CPUs, so each
 * read is ordered after the other CPU's store, and a counter behind the
 * other CPU's shows up as prev > now.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/tunit.h"
#include "core/warp.h"

struct shared {
	_Alignas(64) atomic_flag lock;
	uint64_t last;
	uint64_t nr_warps;
	uint64_t max_warp;
	uint64_t loops;
	atomic_int ready;
	atomic_int go;
	uint64_t end_ns;
	uint64_t (*read)(void *ctx);
	void *ctx;
};

struct worker {
	struct shared *sh;
	int cpu;
	int err;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts_to_ns_u(&ts);
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *loop(void *arg)
{
	struct worker *wk = arg;
	struct shared *sh = wk->sh;
	uint64_t i = 0;

	wk->err = pin(wk->cpu);
	atomic_fetch_add(&sh->ready, 1);
	while (!atomic_load(&sh->go))
		;
	if (wk->err)
		return NULL;
	for (;;) {
		uint64_t prev, now;

		while (atomic_flag_test_and_set_explicit(&sh->lock, memory_order_acquire))
			;
		prev = sh->last;
		now = sh->read(sh->ctx);
		sh->last = now;
		sh->loops++;
		if (prev > now) {
			sh->nr_warps++;
			if (prev - now > sh->max_warp)
				sh->max_warp = prev - now;
		}
		atomic_flag_clear_explicit(&sh->lock, memory_order_release);
		/* Like the kernel, look at the clock only every 8th loop. */
		if ((++i & 7) == 0 && mono_ns() > sh->end_ns)
			break;
	}
	return NULL;
}

static int run_pair(const struct warp_conf *conf, int a, int b, struct warp_result *res)
{
	struct shared sh;
	struct worker w[2] = { { &sh, a, 0 }, { &sh, b, 0 } };
	pthread_t th[2];
	uint64_t dur = conf->duration_ns ? conf->duration_ns : WARP_DURATION_NS;
	int err;

	memset(&sh, 0, sizeof(sh));
	atomic_flag_clear(&sh.lock);
	sh.read = conf->read;
	sh.ctx = conf->ctx;
	sh.end_ns = UINT64_MAX;
	for (int i = 0; i < 2; i++) {
		err = pthread_create(&th[i], NULL, loop, &w[i]);
		if (err) {
			snprintf(res->note, sizeof(res->note), "warp: pthread_create: %s",
				 strerror(err));
			atomic_store(&sh.go, 1);
			if (i)
				pthread_join(th[0], NULL);
			return -err;
		}
	}
	while (atomic_load(&sh.ready) < 2)
		;
	sh.end_ns = mono_ns() + dur;
	atomic_store(&sh.go, 1);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	for (int i = 0; i < 2; i++) {
		if (w[i].err) {
			snprintf(res->note, sizeof(res->note), "warp: pinning to CPU %d: %s",
				 w[i].cpu, strerror(w[i].err));
			return -w[i].err;
		}
	}
	res->pairs++;
	res->loops += sh.loops;
	res->nr_warps += sh.nr_warps;
	if (sh.max_warp > res->max_warp_cycles) {
		res->max_warp_cycles = sh.max_warp;
		res->warp_cpu_a = a;
		res->warp_cpu_b = b;
	}
	return 0;
}

int warp_run(const struct warp_conf *conf, struct warp_result *res)
{
	cpu_set_t set;
	int first = -1, n = 0, err;

	memset(res, 0, sizeof(*res));
	res->warp_cpu_a = res->warp_cpu_b = -1;
	if (!conf || !conf->read) {
		snprintf(res->note, sizeof(res->note), "warp: no counter to read");
		return -EINVAL;
	}
	if (conf->cpu_a >= 0 && conf->cpu_b >= 0) {
		err = run_pair(conf, conf->cpu_a, conf->cpu_b, res);
		goto out;
	}
	if (sched_getaffinity(0, sizeof(set), &set) != 0) {
		err = -errno;
		snprintf(res->note, sizeof(res->note), "warp: sched_getaffinity: %s",
			 strerror(errno));
		return err;
	}
	n = CPU_COUNT(&set);
	if (n < 2) {
		snprintf(res->note, sizeof(res->note), "not run: 1 CPU");
		return 0;
	}
	err = 0;
	for (int cpu = 0; cpu < CPU_SETSIZE && !err; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (first < 0) {
			first = cpu;
			continue;
		}
		err = run_pair(conf, first, cpu, res);
	}
out:
	if (err)
		return err;
	res->run = true;
	if (res->nr_warps)
		snprintf(res->note, sizeof(res->note),
			 "%" PRIu64 " warps, largest %" PRIu64 " cycles between CPU %d and CPU %d",
			 res->nr_warps, res->max_warp_cycles, res->warp_cpu_a, res->warp_cpu_b);
	else
		snprintf(res->note, sizeof(res->note), "no warp in %u pairs, %" PRIu64 " reads",
			 res->pairs, res->loops);
	return 0;
}

bool warp_apply(struct cs_registry *r, const char *name, const struct warp_result *res)
{
	struct cs_entry *e = cs_find(r, name);

	if (!e || !res->run || !res->nr_warps)
		return false;
	cs_mark_unstable(r, e, "warp test: %s", res->note);
	return true;
}
