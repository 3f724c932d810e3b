/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The emulated LAN's delay line, its pure part (tests/lan/tk_relay.c is the
 * I/O around it): a seeded generator, the delay and loss drawn from it for
 * each packet, and the packet heap ordered by release time. Nothing here
 * reads a clock or a socket, so tests/unit/test_lanq.c checks it exactly.
 */
#ifndef TK_LANQ_H
#define TK_LANQ_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64: one 64-bit state, the same sequence for the same seed everywhere. */
struct lanq_rng {
	uint64_t s;
};

enum lanq_dist {
	LANQ_UNIFORM, /* mean +- jitter, flat */
	LANQ_NORMAL,  /* mean, standard deviation jitter, cut at +- 3 jitter */
};

/* One direction of the link. All in ns; loss is a probability in [0, 1]. */
struct lanq_link {
	int64_t mean_ns;
	int64_t jitter_ns;
	enum lanq_dist dist;
	double loss;
};

void lanq_seed(struct lanq_rng *r, uint64_t seed);
uint64_t lanq_next(struct lanq_rng *r);
/* Uniform in [0, 1). */
double lanq_unit(struct lanq_rng *r);
/* The smallest delay lanq_delay_ns() can return for this link (>= 0). */
int64_t lanq_min_ns(const struct lanq_link *l);
int64_t lanq_max_ns(const struct lanq_link *l);
/* One packet's delay, in [lanq_min_ns, lanq_max_ns]. */
int64_t lanq_delay_ns(struct lanq_rng *r, const struct lanq_link *l);
/* 1 when this packet is lost. Draws once whatever the loss, so the delays
 * that follow do not depend on the loss setting. */
int lanq_lost(struct lanq_rng *r, const struct lanq_link *l);

/* A packet waiting in the heap: released at due_ns (CLOCK_MONOTONIC);
 * seq breaks ties in arrival order, so equal delays keep the order. */
struct lanq_item {
	int64_t due_ns;
	uint64_t seq;
	uint32_t slot; /* the caller's buffer index */
};

struct lanq_heap {
	struct lanq_item *v;
	size_t n, cap;
};

/* cap items at most; 0 or -ENOMEM. */
int lanq_heap_init(struct lanq_heap *h, size_t cap);
void lanq_heap_free(struct lanq_heap *h);
/* 0, or -ENOSPC when full (the caller drops and counts). */
int lanq_heap_push(struct lanq_heap *h, struct lanq_item it);
/* The earliest item (smallest due, then seq), or NULL when empty. */
const struct lanq_item *lanq_heap_top(const struct lanq_heap *h);
void lanq_heap_pop(struct lanq_heap *h);

#endif
