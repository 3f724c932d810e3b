// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * reference = none: the clock free-runs on its last frequency estimate,
 * and its error bound grows from the last good anchor, if any.
 */
#include "config.h"

#include "core/bound.h"
#include "daemon/ref.h"

static int none_start(struct daemon *d)
{
	bound_lost(&d->bound); /* free-running from the last good bound, if any */
	return 0;
}

static void none_stop(struct daemon *d)
{
	(void)d;
}

const struct ref_ops ref_none_ops = {
	.name = "none",
	.ctl_ref = TK_CTL_REF_NONE,
	.start = none_start,
	.stop = none_stop,
};
