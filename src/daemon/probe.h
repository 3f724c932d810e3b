/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `timekeeperd --probe`: discover every counter, read each for a while
 * against the best other reference, and report what was found.
 */
#ifndef TK_PROBE_H
#define TK_PROBE_H

#include <stdbool.h>
#include <stdio.h>

#include "core/conf.h"

struct probe_opts {
	double seconds; /* how long to measure */
	bool json;
};

/* Returns 0 when at least one source is usable, 1 when none is. */
int probe_run(const struct tk_conf *conf, const struct probe_opts *opts, FILE *out);

#endif
