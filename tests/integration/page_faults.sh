#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The page's faults never stop a reader or the daemon:
# - a libtimekeeper handle opened before the daemon starts takes up its page
#   once it exists, and follows a restarted daemon to its new page;
# - a reader that got the daemon's sealed memfd over the control socket, and
#   the daemon, keep running and reading when the page file is truncated;
# - a daemon killed mid-update (stopped, both seqs of its page file made odd
#   as its odd stores leave them, then SIGKILLed): a new reader returns at once
#   with a kernel reading that says so; a new daemon's page is read again.
# Every wait polls a condition with a generous deadline.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
TC="$top_builddir/timectl"
TF="$top_builddir/tests/integration/tk_follow"
tap_plan 9

pids=
cleanup() {
	for p in $pids $pid; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$tmpdir"
}
export TIMEKEEPER_RUNTIME_DIR="$tmpdir/run"

# wait_for SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds.
wait_for() {
	n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
state_has() { grep -q "$2" "$1" 2>/dev/null; }
page_reads() { sed -n 's/.*page_reads=\([0-9]*\).*/\1/p' "$1" 2>/dev/null; }
more_page_reads() { [ "$(page_reads "$1")" -gt "$2" ] 2>/dev/null; }
conf='[discipline]\nreference = none\n[sim]\ndevices = hpet,acpi_pm,tsc\n'

# --- late attach and restart --------------------------------------------------
"$TF" "$tmpdir/a.state" "$tmpdir/a.stop" &
a=$!
pids="$a"
trap cleanup EXIT
check "a handle opened before the daemon reads the kernel (no page)" \
	wait_for 20 state_has "$tmpdir/a.state" 'kind=1 '
tk_start_daemon "$tmpdir/d1.log" "$conf"
trap cleanup EXIT
pid1=$pid
check "it takes up the page of the daemon started after it (pid $pid1)" \
	wait_for 30 state_has "$tmpdir/a.state" "kind=0 pid=$pid1 "
kill -KILL "$pid1"
wait "$pid1" 2>/dev/null
tk_start_daemon "$tmpdir/d2.log" "$conf"
trap cleanup EXIT
pid2=$pid
check "it follows the restarted daemon (pid $pid2) to its new page" \
	wait_for 30 state_has "$tmpdir/a.state" "kind=0 pid=$pid2 "
diag "handle A: $(cat "$tmpdir/a.state")"
touch "$tmpdir/a.stop"
wait "$a"

# --- truncation -----------------------------------------------------------------
wait_for 30 sh -c '"$0" --json read realtime | jq -e ".clocks[0].from_page" >/dev/null' "$TC"
"$TF" "$tmpdir/b.state" "$tmpdir/b.stop" &
b=$!
pids="$pids $b"
wait_for 20 state_has "$tmpdir/b.state" "kind=0 pid=$pid2 "
check "a reader opened with the daemon up maps its sealed memfd" \
	grep -q 'memfd:timekeeper-page' "/proc/$b/maps"
truncate -s 0 "$tmpdir/run/page"
before=$(page_reads "$tmpdir/b.state")
wait_for 30 sh -c '[ "$(stat -c %s "$0")" -eq 4096 ]' "$tmpdir/run/page"
check "after truncate -s 0 of the page the daemon runs and rewrites it whole" \
	sh -c 'kill -0 "$0" && [ "$(stat -c %s "$1")" -eq 4096 ]' "$pid2" "$tmpdir/run/page"
check "and the memfd reader keeps reading from the page" \
	wait_for 30 more_page_reads "$tmpdir/b.state" "$((before + 20))"
touch "$tmpdir/b.stop"
wait "$b"
check "the memfd reader ended cleanly" [ $? -eq 0 ]

# --- killed mid-update ----------------------------------------------------------
kill -STOP "$pid2"
printf '\001' | dd of="$tmpdir/run/page" bs=1 seek=64 conv=notrunc 2>/dev/null
printf '\001' | dd of="$tmpdir/run/page" bs=1 seek=320 conv=notrunc 2>/dev/null
kill -KILL "$pid2"
wait "$pid2" 2>/dev/null
timeout 30 "$TC" --json read realtime >"$tmpdir/odd.json"
rc=$?
diag \
	"read of the odd page (rc $rc): $(jq -c '.clocks[0] | {source, from_page, status}' \
	"$tmpdir/odd.json" 2>&1)"
check "a new reader of a page left odd returns with a kernel reading that says so" \
	sh -c '[ "$0" -eq 0 ] && jq -e ".clocks[0].from_page == false and
		(.clocks[0].source | test(\"busy|stale\"))" "$1" >/dev/null' \
	"$rc" "$tmpdir/odd.json"
tk_start_daemon "$tmpdir/d3.log" "$conf"
trap cleanup EXIT
check "a new daemon's page is read again" \
	wait_for 30 sh -c \
	'"$0" --json read realtime | jq -e ".clocks[0].from_page" >/dev/null' "$TC"
kill -TERM "$pid"
wait "$pid"
exit 0
