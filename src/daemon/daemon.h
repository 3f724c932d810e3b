/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The running daemon: the clock sources found at start, the clocksource
 * framework, the timekeeper, its discipline and the shared page, all driven
 * by one event loop.
 */
#ifndef TK_DAEMON_H
#define TK_DAEMON_H

#include "core/conf.h"

/* Runs until SIGTERM or SIGINT. conf_path is re-read on SIGHUP (NULL: no
 * reload). Returns the process exit status. */
int daemon_run(const struct tk_conf *conf, const char *conf_path);

#endif
