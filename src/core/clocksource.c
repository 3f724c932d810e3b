// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Small helpers shared by every driver for filling struct clocksource.
 */
#include "config.h"

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
