#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# libtimekeeper-preload.so never lets CLOCK_MONOTONIC (nor MONOTONIC_RAW,
# BOOTTIME) go back while its source moves between the daemon's page and
# the kernel: tk_preload_torture reads them through the preload's
# clock_gettime() on every CPU while this script stops the daemon (the page
# goes stale) and continues it, kills it with SIGKILL and with SIGTERM and
# starts a new one, three rounds. Each phase waits, with a deadline, until
# the preload's counters show that readings took the path the phase is
# about (2000 more from the page, or from the kernel), so both paths and
# every switch between them are exercised, whatever the machine's speed.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
TT="$top_builddir/tests/integration/tk_preload_torture"
PL=$(tk_preload)
conf='[discipline]\nreference = none\n'
tt=

cleanup() {
	kill -KILL $tt $pid 2>/dev/null
	rm -rf "$tmpdir"
}
start() {
	tk_start_daemon "$tmpdir/d$1.log" "$conf"
	trap cleanup EXIT
}

start 0
tk_need_tsc
tap_plan 9

ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD="$PL" TIMEKEEPER_PRELOAD_STATS=1 \
	"$TT" "$tmpdir/tt.state" >"$tmpdir/tt.json" 2>"$tmpdir/tt.err" &
tt=$!
wait_until 30 grep -q 'reading' "$tmpdir/tt.err"
wait_until 30 test -s "$tmpdir/tt.state"

# field NAME: the counter NAME of the reader's last state line
field() { sed -n "s/\(^\|.* \)$1=\([0-9]*\).*/\2/p" "$tmpdir/tt.state"; }
at_least() { [ "$(field "$1")" -ge "$2" ] 2>/dev/null; }
phases=0
missed=
# phase WHAT COUNTER: waits until COUNTER has grown by 2000 readings
phase() {
	_from=$(field "$2")
	phases=$((phases + 1))
	if wait_until 60 at_least "$2" $((_from + 2000)); then
		diag "$1: $(cat "$tmpdir/tt.state")"
	else
		missed="$missed; $1 ($2 stayed at $(field "$2") from $_from)"
	fi
}

for round in 1 2 3; do
	phase "round $round: daemon $pid live, readings from its page" page
	kill -STOP "$pid"
	phase "round $round: daemon stopped, page stale, readings from the kernel" kernel
	kill -CONT "$pid"
	phase "round $round: daemon continued, readings from the page again" page
	if [ "$round" -eq 3 ]; then
		kill -TERM "$pid"
	else
		kill -KILL "$pid"
	fi
	wait "$pid" 2>/dev/null
	phase "round $round: daemon gone, readings from the kernel" kernel
	start "$round"
done
phase "new daemon $pid live, readings from its page" page
kill -TERM "$tt"
wait "$tt"
rc=$?
diag "readers: $(cat "$tmpdir/tt.json")"
j="$tmpdir/tt.json"
check "the readers ran and ended cleanly (rc $rc: $(head -c 300 "$tmpdir/tt.err"))" \
	sh -c '[ "$0" -eq 0 ] && [ -s "$1" ]' "$rc" "$j"
check "every one of $phases phases reached its path${missed:+: missed$missed}" [ -z "$missed" ]
check "$(jq .reads "$j") readings on $(jq .threads "$j") threads, none failed" \
	jqt "$j" '.reads > 10000 and .errors == 0'
check "no backward step of CLOCK_MONOTONIC within a thread" jqt "$j" '.backward_within == 0'
check "no backward step across threads (max step back $(jq .max_backward_ns "$j") ns)" \
	jqt "$j" '.backward_across == 0'
check "no backward step of MONOTONIC_RAW or BOOTTIME" \
	jqt "$j" '.backward_raw == 0 and .backward_boot == 0'
check "REALTIME and BOOTTIME - MONOTONIC within 1 s of the kernel's ($(jq -r .insane_first "$j"))" \
	jqt "$j" '.insane == 0'
check "both paths served: $(jq .page "$j") from the page, $(jq .kernel "$j") from the kernel" \
	jqt "$j" '.page >= 8000 and .kernel >= 8000'
check "the source switched at least 13 times ($(jq .switches "$j"); \
$(jq .clamped "$j") readings held at a floor)" \
	jqt "$j" '.switches >= 13'
kill -TERM "$pid"
wait "$pid"
exit 0
