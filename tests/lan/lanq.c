// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The delay line's pure part (lanq.h): splitmix64, the delay and loss of
 * each packet, and a binary min-heap on (due, seq).
 */
#include "lanq.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

void lanq_seed(struct lanq_rng *r, uint64_t seed)
{
	r->s = seed;
}

uint64_t lanq_next(struct lanq_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double lanq_unit(struct lanq_rng *r)
{
	return (double)(lanq_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static int64_t spread_ns(const struct lanq_link *l)
{
	return l->dist == LANQ_NORMAL ? 3 * l->jitter_ns : l->jitter_ns;
}

int64_t lanq_min_ns(const struct lanq_link *l)
{
	int64_t m = l->mean_ns - spread_ns(l);

	return m < 0 ? 0 : m;
}

int64_t lanq_max_ns(const struct lanq_link *l)
{
	return l->mean_ns + spread_ns(l);
}

int64_t lanq_delay_ns(struct lanq_rng *r, const struct lanq_link *l)
{
	double u1 = lanq_unit(r), u2 = lanq_unit(r), x;
	int64_t d;

	if (l->dist == LANQ_NORMAL) {
		/* Box-Muller; u1 in (0, 1] so the log is finite. */
		x = sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
		if (x > 3.0)
			x = 3.0;
		if (x < -3.0)
			x = -3.0;
	} else {
		x = 2.0 * u1 - 1.0;
	}
	d = l->mean_ns + (int64_t)llround(x * (double)l->jitter_ns);
	if (d < lanq_min_ns(l))
		d = lanq_min_ns(l);
	if (d > lanq_max_ns(l))
		d = lanq_max_ns(l);
	return d;
}

int lanq_lost(struct lanq_rng *r, const struct lanq_link *l)
{
	return lanq_unit(r) < l->loss;
}

int lanq_heap_init(struct lanq_heap *h, size_t cap)
{
	h->v = calloc(cap ? cap : 1, sizeof(*h->v));
	h->n = 0;
	h->cap = cap;
	return h->v ? 0 : -ENOMEM;
}

void lanq_heap_free(struct lanq_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

static int before(const struct lanq_item *a, const struct lanq_item *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

int lanq_heap_push(struct lanq_heap *h, struct lanq_item it)
{
	size_t i, p;

	if (h->n >= h->cap)
		return -ENOSPC;
	i = h->n++;
	while (i > 0) {
		p = (i - 1) / 2;
		if (!before(&it, &h->v[p]))
			break;
		h->v[i] = h->v[p];
		i = p;
	}
	h->v[i] = it;
	return 0;
}

const struct lanq_item *lanq_heap_top(const struct lanq_heap *h)
{
	return h->n ? &h->v[0] : NULL;
}

void lanq_heap_pop(struct lanq_heap *h)
{
	struct lanq_item last;
	size_t i = 0, c;

	if (!h->n)
		return;
	last = h->v[--h->n];
	for (;;) {
		c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c]))
			c++;
		if (!before(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
}
