#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The client-timer service of the daemon (server side), spoken raw
# by timers_srv.c: limits, disconnects, the minimum period, periodic
# expiries and flow control, the REALTIME rules, and (as root, who may
# change the clock) cancel-on-set and re-evaluation across a step. The
# daemon runs on simulated counters 50 ppm off, so its clocks are not the
# kernel's.
. "$top_srcdir/tests/integration/lib.sh"
SRV="$top_builddir/tests/integration/timers_srv"

sections='[discipline]\nreference = none\n[sim]\ndevices = hpet,acpi_pm,tsc\n'
sections=$sections'oscillator_error_ppm = 50\n'
sections=$sections'[control]\ngroup = root\nmax_timers_per_client = 8\nmax_timers = 12\n'
tk_start_daemon "$tmpdir/daemon.log" "$sections"'min_timer_interval_us = 1000\n'
if [ ! -S "$tmpdir/run/control" ]; then
	echo "1..1"
	not_ok "the daemon did not start: $(tail -3 "$tmpdir/daemon.log")"
	exit 1
fi
mode=
[ "$(id -u)" -eq 0 ] && mode=step
"$SRV" "$tmpdir/run/control" $mode
rc=$?
kill -TERM "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
sed 's/^/# daemon: /' "$tmpdir/daemon.log" | tail -5
exit $rc
