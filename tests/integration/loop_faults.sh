#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The daemon's own work runs on the kernel's clock, not on the counter it
# judges: with the current source (the simulated TSC) stalled, running 10 %
# fast or stepped back by 100 s while the daemon runs, the watchdog demotes
# it, hpet takes over and the page stays fresh; with timer_margin_us = 10000
# and a stalled TSC, SIGTERM still stops the daemon. Every wait polls a
# condition with a generous deadline; nothing asserts how fast.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
TC="$top_builddir/timectl"
tap_plan 13

# status_until FILTER SECONDS: polls `timectl --json status` until the jq
# filter is true (0) or SECONDS of wall-clock time pass (1); the last reply
# in st.json. Each query is bounded too: a daemon that stopped answering
# must fail the test, not hang it.
status_until() {
	end=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt $end ]; do
		timeout 10 "$TC" --json status >"$tmpdir/st.json" 2>/dev/null && jqt \
			"$tmpdir/st.json" "$1" && return 0
		sleep 0.1
	done
	return 1
}

# gone PID SECONDS: polls until the process has exited
gone() {
	end=$(($(date +%s) + $2))
	while kill -0 "$1" 2>/dev/null && [ "$(date +%s)" -lt $end ]; do
		sleep 0.1
	done
	! kill -0 "$1" 2>/dev/null
}

# fault NAME FAULT: the daemon on hpet, acpi_pm and a TSC with FAULT; the
# TSC must be demoted by the running daemon and the page keep being updated.
fault() {
	rm -rf "$tmpdir/run" # so that tk_start_daemon waits for this daemon's page and socket
	sections="[discipline]\nreference = none\n[sim]\ndevices = hpet,acpi_pm,tsc\n"
	tk_start_daemon "$tmpdir/$1.log" "${sections}tsc_fault = $2\n"
	check "$1: the timekeeper starts on tsc" grep -q 'timekeeper: running on tsc' \
		"$tmpdir/$1.log"
	status_until '.source == "hpet" and .page.liveness == "fresh"' 30
	check \
		"$1: tsc demoted, hpet current, page fresh: $(jq -c \
		'{source, page: .page.liveness}' "$tmpdir/st.json")" \
		jqt "$tmpdir/st.json" '.source == "hpet" and .page.liveness == "fresh"'
	last=$(jq .page.last_update_ns "$tmpdir/st.json")
	status_until \
		".page.last_update_ns > $last and .page.liveness == \"fresh\"
		and .page.source == \"hpet\"" 30
	check \
		"$1: the page keeps being updated on hpet ($(grep -m1 'demoted by the watchdog' \
		"$tmpdir/$1.log"))" \
		jqt "$tmpdir/st.json" \
		".page.last_update_ns > $last and .page.liveness == \"fresh\"
		and .page.source == \"hpet\""
	[ "$1" = stall ] && timeout 10 "$TC" status >"$tmpdir/st.txt"
	kill -TERM "$pid"
	gone "$pid" 30 || kill -KILL "$pid"
	wait "$pid"
}

fault stall 'stall@3s'
check \
	"status --json: the loop's lateness: $(jq -c '{loop_late_recent_ns, loop_late_max_ns}' \
	"$tmpdir/st.json")" \
	jqt "$tmpdir/st.json" \
	'(.loop_late_recent_ns | type) == "number" and .loop_late_recent_ns >= 0
	and .loop_late_max_ns >= .loop_late_recent_ns'
want='^Loop lateness   : [0-9]+\.[0-9]{3} ms worst in the last minute, '
want=$want'[0-9]+\.[0-9]{3} ms since the start$'
check "status: the loop's lateness: $(grep 'Loop lateness' "$tmpdir/st.txt")" \
	grep -Eq "$want" "$tmpdir/st.txt"
fault fast 'drift:100000ppm@3s'
fault stepped-back 'step:-100000000000ns@3s'

# A zero-slack spin that waits on a clock which stands still used to ignore
# SIGTERM: the daemon must exit once asked, whatever the TSC does.
rm -rf "$tmpdir/run"
sections='timer_margin_us = 10000\n[discipline]\nreference = none\n'
sections=$sections'[sim]\ndevices = hpet,acpi_pm,tsc\ntsc_fault = stall@2s\n'
tk_start_daemon "$tmpdir/spin.log" "$sections"
status_until '.source == "hpet"' 10 || diag "tsc not demoted within 10 s: $(cat "$tmpdir/spin.log")"
kill -TERM "$pid"
if gone "$pid" 30; then
	ok "margin 10 ms, stalled tsc: SIGTERM stops the daemon"
else
	not_ok "margin 10 ms, stalled tsc: SIGTERM stops the daemon (still running after 30 s)"
	kill -KILL "$pid"
fi
wait "$pid"
check "margin 10 ms: it stopped cleanly: $(tail -n 1 "$tmpdir/spin.log")" grep -q \
	'signal 15: stopping' "$tmpdir/spin.log"
exit 0
