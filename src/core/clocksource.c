// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The clocksource module (see clocksource.h): the helpers every driver uses
 * to fill struct clocksource, then the registry: rating-ordered list,
 * mult/shift arithmetic, selection with override and unbind, the watchdog
 * choice, demotion and re-admission. The registry's rules are the kernel's
 * (kernel/time/clocksource.c: mult/shift, demotion, watchdog choice,
 * selection, deltas); the code is our own.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/clocksource.h"

void cs_init(struct clocksource *cs, const char *name)
{
	memset(cs, 0, sizeof(*cs));
	snprintf(cs->name, sizeof(cs->name), "%s", name);
}

void cs_set_unusable(struct clocksource *cs, const char *fmt, ...)
{
	va_list ap;

	cs->usable = false;
	cs->read = NULL;
	va_start(ap, fmt);
	vsnprintf(cs->reason, sizeof(cs->reason), fmt, ap);
	va_end(ap);
}

static struct cs_attr *attr_slot(struct clocksource *cs, const char *key)
{
	for (unsigned int i = 0; i < cs->nattrs; i++)
		if (strcmp(cs->attrs[i].key, key) == 0)
			return &cs->attrs[i];
	if (cs->nattrs == CS_MAX_ATTRS)
		return NULL;
	cs->attrs[cs->nattrs].key = key;
	return &cs->attrs[cs->nattrs++];
}

void cs_attr_str(struct clocksource *cs, const char *key, const char *fmt, ...)
{
	struct cs_attr *a = attr_slot(cs, key);
	va_list ap;

	if (!a)
		return;
	a->kind = CS_ATTR_STR;
	va_start(ap, fmt);
	vsnprintf(a->v.s, sizeof(a->v.s), fmt, ap);
	va_end(ap);
}

void cs_attr_u64(struct clocksource *cs, const char *key, uint64_t v)
{
	struct cs_attr *a = attr_slot(cs, key);

	if (a) {
		a->kind = CS_ATTR_U64;
		a->v.u = v;
	}
}

void cs_attr_hex(struct clocksource *cs, const char *key, uint64_t v)
{
	struct cs_attr *a = attr_slot(cs, key);

	if (a) {
		a->kind = CS_ATTR_HEX;
		a->v.u = v;
	}
}

void cs_attr_bool(struct clocksource *cs, const char *key, bool v)
{
	struct cs_attr *a = attr_slot(cs, key);

	if (a) {
		a->kind = CS_ATTR_BOOL;
		a->v.b = v;
	}
}

const struct cs_attr *cs_attr_get(const struct clocksource *cs, const char *key)
{
	for (unsigned int i = 0; i < cs->nattrs; i++)
		if (strcmp(cs->attrs[i].key, key) == 0)
			return &cs->attrs[i];
	return NULL;
}

void cs_release(struct clocksource *cs)
{
	if (cs->release)
		cs->release(cs);
	cs->release = NULL;
	cs->read = NULL;
	cs->priv = NULL;
}

/* --- the registry --------------------------------------------------------- */

void cs_calc_mult_shift(uint32_t *mult, uint32_t *shift, uint32_t from, uint32_t to,
			uint32_t maxsec)
{
	uint64_t tmp;
	uint32_t sft, sftacc = 32;

	/* How many bits of mult we can afford so that maxsec seconds' worth
	 * of cycles times mult still fits 64 bits. */
	tmp = ((uint64_t)maxsec * from) >> 32;
	while (tmp) {
		tmp >>= 1;
		sftacc--;
	}

	/* The largest shift (best precision) whose mult fits those bits. */
	for (sft = 32; sft > 0; sft--) {
		tmp = (uint64_t)to << sft;
		tmp += from / 2;
		tmp /= from;
		if ((tmp >> sftacc) == 0)
			break;
	}
	*mult = (uint32_t)tmp;
	*shift = sft;
}

uint64_t cs_calc_max_nsecs(uint32_t mult, uint32_t shift, uint32_t maxadj, uint64_t mask,
			   uint64_t *max_cycles)
{
	uint64_t maxc = UINT64_MAX / (uint64_t)(mult + maxadj);
	uint64_t ns;

	if (maxc > mask)
		maxc = mask;
	/* The slowest the mult may be steered to, and a 50 % safety margin. */
	ns = (uint64_t)(((unsigned __int128)maxc * (mult - maxadj)) >> shift);
	if (max_cycles)
		*max_cycles = maxc;
	return ns / 2;
}

static uint32_t max_adjustment(uint32_t mult)
{
	return (uint32_t)((uint64_t)mult * 11 / 100);
}

int cs_arith_compute(struct cs_arith *a, uint64_t mask, uint64_t freq, uint32_t scale,
		     uint64_t margin_ns)
{
	uint64_t sec;

	memset(a, 0, sizeof(*a));
	if (!freq || !scale || freq > UINT32_MAX || (scale != 1 && scale != 1000) || !mask)
		return -EINVAL;

	/* As the kernel's registration: maxsec from the counter's wrap, at least 1 s, capped at
	 * 600 s only for counters wider than 32 bits. */
	sec = mask / freq / scale;
	if (!sec)
		sec = 1;
	else if (sec > CS_MAXSEC_CAP && mask > UINT32_MAX)
		sec = CS_MAXSEC_CAP;
	if (sec * scale > UINT32_MAX)
		sec = UINT32_MAX / scale;
	cs_calc_mult_shift(&a->mult, &a->shift, (uint32_t)freq, (uint32_t)(NSEC_PER_SEC_U / scale),
			   (uint32_t)(sec * scale));

	if (margin_ns) {
		a->uncertainty_ns = margin_ns;
	} else {
		/* One period, floored at 2 * WATCHDOG_MAX_SKEW. */
		a->uncertainty_ns = NSEC_PER_SEC_U / (scale * freq);
		if (a->uncertainty_ns < 2 * CS_WATCHDOG_MAX_SKEW_NS)
			a->uncertainty_ns = 2 * CS_WATCHDOG_MAX_SKEW_NS;
	}

	/* 11 % headroom for NTP steering: mult +- maxadj must stay in 32 bits. */
	a->maxadj = max_adjustment(a->mult);
	while (a->mult + a->maxadj < a->mult || a->mult - a->maxadj > a->mult) {
		a->mult >>= 1;
		a->shift--;
		a->maxadj = max_adjustment(a->mult);
	}

	a->max_idle_ns = cs_calc_max_nsecs(a->mult, a->shift, a->maxadj, mask, &a->max_cycles);
	a->max_raw_delta = (mask >> 1) + (mask >> 2) + (mask >> 3);
	a->freq = freq;
	a->scale = scale;
	return 0;
}

uint64_t cs_delta(const struct cs_entry *e, uint64_t now, uint64_t last)
{
	uint64_t mask = e->cs->mask;
	uint64_t d = (now - last) & mask;

	return d > (mask >> 1) + (mask >> 2) + (mask >> 3) ? 0 : d;
}

uint64_t cs_cyc2ns(const struct cs_entry *e, uint64_t cycles)
{
	if (!e->have_arith)
		return 0;
	if (cycles > e->ar.max_cycles)
		return (uint64_t)(((unsigned __int128)cycles * e->ar.mult) >> e->ar.shift);
	return (cycles * e->ar.mult) >> e->ar.shift;
}

const char *cs_verdict_name(enum cs_verdict v)
{
	switch (v) {
	case CS_VERDICT_NONE:
		return "none";
	case CS_VERDICT_BASELINE:
		return "baseline";
	case CS_VERDICT_OK:
		return "ok";
	case CS_VERDICT_SKIP:
		return "skip";
	case CS_VERDICT_UNSTABLE:
		return "unstable";
	case CS_VERDICT_SUSPECT:
		return "suspect";
	}
	return "?";
}

const char *cs_state_name(enum cs_state s)
{
	switch (s) {
	case CS_STATE_CURRENT:
		return "current";
	case CS_STATE_OK:
		return "ok";
	case CS_STATE_UNSTABLE:
		return "unstable";
	case CS_STATE_UNBOUND:
		return "unbound";
	case CS_STATE_UNUSABLE:
		return "unusable";
	}
	return "?";
}

void cs_registry_init(struct cs_registry *r)
{
	memset(r, 0, sizeof(*r));
}

static bool driver_ok(const struct cs_entry *e)
{
	return e->cs->usable && e->cs->read;
}

/* Can be the current source. */
static bool selectable(const struct cs_entry *e)
{
	return driver_ok(e) && e->have_arith && !e->unstable && !e->unbound;
}

/* Can be the watchdog: selectable and need not be verified itself. */
static bool can_watch(const struct cs_entry *e)
{
	return selectable(e) && !(e->cs->flags & CS_F_MUST_VERIFY);
}

static void list_remove(struct cs_registry *r, struct cs_entry *e)
{
	unsigned int i, j;

	for (i = 0; i < r->n; i++)
		if (r->list[i] == e)
			break;
	for (j = i; j + 1 < r->n; j++)
		r->list[j] = r->list[j + 1];
	if (i < r->n)
		r->n--;
}

/* After every entry of equal or higher rating, as clocksource_enqueue(). */
static void list_insert(struct cs_registry *r, struct cs_entry *e)
{
	unsigned int i, j;

	for (i = 0; i < r->n; i++)
		if (r->list[i]->rating < e->rating)
			break;
	for (j = r->n; j > i; j--)
		r->list[j] = r->list[j - 1];
	r->list[i] = e;
	r->n++;
}

static void set_rating(struct cs_registry *r, struct cs_entry *e, int rating)
{
	list_remove(r, e);
	e->rating = rating;
	list_insert(r, e);
}

void cs_reset_baselines(struct cs_registry *r)
{
	for (unsigned int i = 0; i < r->n; i++)
		r->list[i]->wd.have_base = false;
}

/* The best watcher, skipping `skip` (the fallback path of unbind). */
static struct cs_entry *best_watchdog(struct cs_registry *r, const struct cs_entry *skip)
{
	for (unsigned int i = 0; i < r->n; i++)
		if (r->list[i] != skip && can_watch(r->list[i]))
			return r->list[i];
	return NULL;
}

static void select_watchdog(struct cs_registry *r)
{
	struct cs_entry *wd = best_watchdog(r, NULL);

	if (wd != r->watchdog) {
		r->watchdog = wd;
		/* Intervals measured against the old watchdog mean nothing now. */
		cs_reset_baselines(r);
	}
}

static struct cs_entry *find_any(struct cs_registry *r, const char *name)
{
	for (unsigned int i = 0; i < r->n; i++)
		if (strcmp(r->list[i]->cs->name, name) == 0)
			return r->list[i];
	return NULL;
}

struct cs_entry *cs_find(struct cs_registry *r, const char *name)
{
	return find_any(r, name);
}

enum cs_state cs_entry_state(const struct cs_registry *r, const struct cs_entry *e)
{
	if (e->unbound)
		return CS_STATE_UNBOUND;
	if (!driver_ok(e))
		return CS_STATE_UNUSABLE;
	if (e->unstable)
		return CS_STATE_UNSTABLE;
	if (r->current == e)
		return CS_STATE_CURRENT;
	if (!e->have_arith)
		return CS_STATE_UNUSABLE;
	return CS_STATE_OK;
}

/* The best source (skipping `skip`), honouring a usable override. */
static struct cs_entry *pick(struct cs_registry *r, const struct cs_entry *skip)
{
	struct cs_entry *best = NULL, *o;

	for (unsigned int i = 0; i < r->n; i++) {
		if (r->list[i] != skip && selectable(r->list[i])) {
			best = r->list[i];
			break;
		}
	}
	if (!r->override[0])
		return best;
	o = find_any(r, r->override);
	if (!o || o->unbound || o == skip)
		return best;
	if (o->unstable || !driver_ok(o)) {
		snprintf(r->event, sizeof(r->event),
			 "override clocksource %s is %s; override cleared", o->cs->name,
			 o->unstable ? "unstable" : "unusable");
		r->override[0] = '\0';
		return best;
	}
	return o->have_arith ? o : best;
}

struct cs_entry *cs_select(struct cs_registry *r)
{
	struct cs_entry *best = pick(r, NULL);

	if (best && best != r->current) {
		snprintf(r->event, sizeof(r->event), "switched to clocksource %s%s%s",
			 best->cs->name, r->current ? " from " : "",
			 r->current ? r->current->cs->name : "");
		r->current = best;
	}
	return r->current;
}

static void reselect(struct cs_registry *r)
{
	select_watchdog(r);
	cs_select(r);
}

static void compute_arith(struct cs_entry *e)
{
	struct clocksource *cs = e->cs;
	uint64_t freq = e->hz;
	uint32_t scale = 1;

	e->have_arith = false;
	if (!e->hz)
		return;
	/* The kernel registers the TSC (64 bits) in kHz, hpet/acpi_pm in Hz. */
	if (cs->mask > UINT32_MAX) {
		scale = 1000;
		freq = (e->hz + 500) / 1000;
	}
	e->have_arith = cs_arith_compute(&e->ar, cs->mask, freq, scale, cs->uncertainty_ns) == 0;
}

struct cs_entry *cs_register(struct cs_registry *r, struct clocksource *cs)
{
	struct cs_entry *e = NULL;

	if (find_any(r, cs->name) || r->n == CS_MAX_SOURCES)
		return NULL;
	for (unsigned int i = 0; i < CS_MAX_SOURCES; i++) {
		if (!r->slot[i].cs) {
			e = &r->slot[i];
			break;
		}
	}
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->cs = cs;
	e->rating = cs->rating;
	e->hz = cs->nominal_hz;
	compute_arith(e);
	if (!e->have_arith) {
		/* A source without frequency gets WATCHDOG_THRESHOLD, as in the kernel. */
		e->ar.uncertainty_ns = cs->uncertainty_ns ? cs->uncertainty_ns
							  : CS_WATCHDOG_THRESHOLD_NS;
		e->ar.max_raw_delta = (cs->mask >> 1) + (cs->mask >> 2) + (cs->mask >> 3);
	}
	if (!driver_ok(e))
		snprintf(e->reason, sizeof(e->reason), "%s", cs->reason);
	else if (!e->have_arith)
		snprintf(e->reason, sizeof(e->reason), "%s: no frequency known yet", cs->name);
	list_insert(r, e);
	reselect(r);
	return e;
}

int cs_set_freq(struct cs_registry *r, struct cs_entry *e, uint64_t hz)
{
	uint64_t old = e->hz;
	bool had = e->have_arith;

	if (!hz)
		return -EINVAL;
	if (hz == old && had)
		return 0;
	e->hz = hz;
	compute_arith(e);
	if (!e->have_arith) {
		e->hz = old;
		compute_arith(e);
		return -EINVAL;
	}
	if (driver_ok(e) && !e->unstable)
		e->reason[0] = '\0';
	/* Watchdog baselines are raw counts, converted at comparison time:
	 * a refined frequency does not invalidate them, so continuous
	 * calibration can update this as often as it likes. */
	if (!had)
		reselect(r);
	return 0;
}

static void say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

int cs_override(struct cs_registry *r, const char *name, char *why, size_t whylen)
{
	char buf[CS_NAME_LEN];
	size_t len = strlen(name);
	struct cs_entry *e;

	/* sysfs_get_uname: one trailing newline is stripped; 31 chars max. */
	if (len && name[len - 1] == '\n')
		len--;
	if (len >= CS_NAME_LEN) {
		say(why, whylen, "clocksource name of %zu chars, expected at most %d", len,
		    CS_NAME_LEN - 1);
		return -EINVAL;
	}
	memcpy(buf, name, len);
	buf[len] = '\0';

	if (!buf[0]) {
		r->override[0] = '\0';
		cs_select(r);
		say(why, whylen, "override cleared; current %s",
		    r->current ? r->current->cs->name : "none");
		return 0;
	}
	e = find_any(r, buf);
	if (e && !e->unbound && (e->unstable || !driver_ok(e))) {
		r->override[0] = '\0';
		say(why, whylen, "override %s refused: source is %s (%s); override cleared", buf,
		    e->unstable ? "unstable" : "unusable", e->reason);
		cs_select(r);
		return -EBUSY;
	}
	memcpy(r->override, buf, len + 1);
	cs_select(r);
	if (e && r->current == e)
		say(why, whylen, "current clocksource %s", buf);
	else
		say(why, whylen, "no usable source named %s yet: override remembered", buf);
	return 0;
}

int cs_unbind(struct cs_registry *r, const char *name, char *why, size_t whylen)
{
	struct cs_entry *e = find_any(r, name);
	bool was_wd, was_cur;

	if (!e || e->unbound) {
		say(why, whylen, "unbind %s: no such clocksource", name);
		return -ENODEV;
	}
	was_wd = r->watchdog == e;
	was_cur = r->current == e;
	/* Check both fallbacks before changing anything. */
	if (was_wd && !best_watchdog(r, e)) {
		say(why, whylen, "unbind %s: it is the watchdog and no other source can watch",
		    name);
		return -EBUSY;
	}
	if (was_cur && !pick(r, e)) {
		say(why, whylen, "unbind %s: it is current and no other source is usable", name);
		return -EBUSY;
	}
	e->unbound = true;
	e->wd.have_base = false;
	if (was_wd)
		select_watchdog(r);
	if (was_cur)
		cs_select(r);
	say(why, whylen, "unbound %s; current %s, watchdog %s", name,
	    r->current ? r->current->cs->name : "none",
	    r->watchdog ? r->watchdog->cs->name : "none");
	return 0;
}

void cs_mark_unstable(struct cs_registry *r, struct cs_entry *e, const char *fmt, ...)
{
	va_list ap;

	if (e->unstable)
		return;
	e->unstable = true;
	e->wd.have_base = false;
	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
	/* Demote, do not delete: rating 0, still listed. */
	set_rating(r, e, 0);
	reselect(r);
}

int cs_readmit(struct cs_registry *r, const char *name, char *why, size_t whylen)
{
	struct cs_entry *e = find_any(r, name);

	if (!e) {
		say(why, whylen, "readmit %s: no such clocksource", name);
		return -ENODEV;
	}
	if (!driver_ok(e)) {
		say(why, whylen, "readmit %s: the driver found it unusable (%s)", name,
		    e->cs->reason);
		return -EINVAL;
	}
	if (!e->unstable && !e->unbound) {
		say(why, whylen, "readmit %s: not demoted, nothing to do", name);
		return 0;
	}
	e->unstable = false;
	e->unbound = false;
	e->reason[0] = '\0';
	set_rating(r, e, e->cs->rating);
	cs_reset_baselines(r);
	reselect(r);
	say(why, whylen, "readmitted %s at rating %d; current %s", name, e->rating,
	    r->current ? r->current->cs->name : "none");
	return 0;
}
