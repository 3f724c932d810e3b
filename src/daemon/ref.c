// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The table of references (ref.h) and the switch between them.
 */
#include "config.h"

#include <string.h>

#include "core/conf.h"
#include "daemon/ref.h"

static const struct ref_ops *const refs[] = {
	&ref_none_ops,
	&ref_system_ops,
	&ref_ntp_ops,
};

const struct ref_ops *ref_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++)
		if (!strcmp(refs[i]->name, name))
			return refs[i];
	return NULL;
}

const char *ref_conf_name(int conf_reference)
{
	switch (conf_reference) {
	case CONF_REF_SYSTEM:
		return "system";
	case CONF_REF_NTP:
		return "ntp";
	default:
		return "none";
	}
}

int ref_apply(struct daemon *d, const struct ref_ops *next)
{
	if (d->ref && d->ref != next)
		d->ref->stop(d);
	d->ref = next;
	return next->start(d);
}

void ref_shutdown(struct daemon *d)
{
	if (d->ref)
		d->ref->stop(d);
	d->ref = NULL;
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++)
		if (refs[i]->release)
			refs[i]->release(d);
}
