#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Client timers end to end, through libtimekeeper only
# (tk_timerload.c): 1000 connections (TK_LOAD_CLIENTS) x 10 periodic timers on all four
# clocks run 10 s against the daemon on simulated devices with reference =
# system, and no expiry is lost (overruns add up, expiries on the value +
# k * interval grid, cross-checked against kernel CLOCK_MONOTONIC; the
# tolerance is in tk_timerload.c). During the load `timectl timers` lists
# them with the driver's pid and name, `timectl status` answers, and closing
# one connection removes its 10 timers and nothing else. The per-client
# limit gives -ENOSPC. Then, on a daemon with reference = none, a 10 s step
# of REALTIME moves an absolute REALTIME timer and not a MONOTONIC one, and
# cancels a cancel-on-set timer.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
TC="$top_builddir/timectl"
DRV="$top_builddir/tests/integration/tk_timerload"
# TK_LOAD_CLIENTS: fewer connections where each costs more (.ci/run's
# ThreadSanitizer build, several times slower, looks for races, not scale).
CLIENTS=${TK_LOAD_CLIENTS:-1000}
tap_plan 22

# results FILE N: one TAP line per `result` line of the driver; a missing one fails.
results() {
	n=0
	while read -r word verdict text; do
		[ "$word" = result ] || continue
		n=$((n + 1))
		if [ "$verdict" = pass ]; then ok "$text"; else not_ok "$text"; fi
	done <"$1"
	while [ $n -lt "$2" ]; do
		not_ok "driver result $((n + 1)) of $2 missing (driver died?)"
		n=$((n + 1))
	done
	grep '^diag ' "$1" | sed 's/^diag /# /'
}

# wait_line FILE PATTERN SECONDS
wait_line() { wait_until "$3" grep -q "$2" "$1" 2>/dev/null; }
# The clients' timers in a listing: the queues' total less the daemon's own
# (owner pid 0, listed first and whole). Those come and go by themselves (a
# watch armed after the host's clock changed, a slew's end), so the total
# alone is not a count of what the clients hold.
CT='(.total - ([.timers[] | select(.owner_pid == 0)] | length))'
# clients_hold N: the clients hold N timers (into $tmpdir/t2.json)
clients_hold() {
	"$TC" --json timers >"$tmpdir/t2.json" 2>>"$tmpdir/t1.err" && jqt "$tmpdir/t2.json" \
		"$CT == $1"
}

sections="[discipline]\nreference = system\n[sim]\ndevices = hpet,acpi_pm,tsc\n[control]\n"
sections="${sections}max_clients = $((CLIENTS + 50))\nmax_clients_per_uid = $((CLIENTS + 50))\n"
sections="${sections}rate_limit = 1000000\nrate_burst = 1000000\nmax_timers_per_client = 12\n"
tk_start_daemon "$tmpdir/daemon.log" "$sections"
diag "daemon pid $pid"

# --- load
mkfifo "$tmpdir/in"
"$DRV" load $CLIENTS 10 <"$tmpdir/in" >"$tmpdir/load.out" 2>"$tmpdir/load.err" &
dpid=$!
exec 3>"$tmpdir/in"
wait_line "$tmpdir/load.out" '^armed' 120
check \
	"load: $((CLIENTS * 10)) timers armed on $CLIENTS connections ($(grep -E '^(armed|result)' \
	"$tmpdir/load.out" | head -1))" \
	grep -q "^armed $((CLIENTS * 10)) timers" "$tmpdir/load.out"

# The listing comes in pages over a queue whose periodic timers move while
# it is read: a timer can be listed twice or not at all, so exact counts come
# from the reply's `total` (the queue's size), the listing only says who owns
# what.
"$TC" --json timers >"$tmpdir/t1.json" 2>"$tmpdir/t1.err"
total1=$(jq .total "$tmpdir/t1.json")
held1=$(jq "$CT" "$tmpdir/t1.json")
mine=$(jq "[.timers[] | select(.owner_pid == $dpid)] | length" "$tmpdir/t1.json")
diag \
	"timers --json during the load: total $total1, $mine listed of pid $dpid, $(jq \
	'[.timers[] | select(.owner_pid == 0)] | length' "$tmpdir/t1.json") of the daemon"
desc="timers --json: total >= $((CLIENTS * 10)), the driver's timers with its pid $dpid,"
check "$desc named c<client>t<k>, client true" jqt "$tmpdir/t1.json" \
	"(.total >= $((CLIENTS * 10))) and ([.timers[] | select(.owner_pid == $dpid)]
	| length >= $((CLIENTS * 10 * 99 / 100))) and ([.timers[] | select(.owner_pid == $dpid)
	| (.name | test(\"^c[0-9]+t[0-9]\$\")) and .client] | all) and ([.timers[]
	| select(.owner_pid != 0 and .owner_pid != $dpid)] | length == 0) and ([.timers[]
	| select(.owner_pid == $dpid) | .period_ns >= 20000000 and .period_ns <= 200000000] | all)"
"$TC" timers >"$tmpdir/t1.txt" 2>&1
n_txt=$(grep -c ': c[0-9]*t[0-9], S:01, owner pid '"$dpid"' (a client), period ' "$tmpdir/t1.txt")
check "timers (text): client timers listed with name and owner pid $dpid ($n_txt lines)" \
	[ "$n_txt" -ge $((CLIENTS * 10 * 99 / 100)) ]
"$TC" status >"$tmpdir/st.txt" 2>&1
check "status answers during the load (exit $?)" grep -q "^Daemon *: pid $pid," "$tmpdir/st.txt"

echo close >&3
wait_line "$tmpdir/load.out" '^closed' 60
# the daemon sees the hang-up on a later loop pass
wait_until 30 clients_hold $((held1 - 10)) || "$TC" --json \
	timers >"$tmpdir/t2.json" 2>>"$tmpdir/t1.err"
diag \
	"after closing client 0: total $(jq .total "$tmpdir/t2.json"), clients' $(jq "$CT" \
	"$tmpdir/t2.json"), $(jq \
	"[.timers[] | select(.owner_pid == $dpid)] | length" "$tmpdir/t2.json") of the driver"
check \
	"closing one connection removes its 10 timers and nothing else (clients' $held1 -> $(jq \
	"$CT" "$tmpdir/t2.json"))" jqt "$tmpdir/t2.json" \
	"($CT == $held1 - 10) and ([.timers[] | select(.name | test(\"^c0t\"))] | length == 0)
	and ([.timers[] | select(.owner_pid == $dpid)]
	| length >= $(((CLIENTS - 1) * 10 * 99 / 100)))"
exec 3>&-
wait $dpid
rc=$?
diag "driver exit $rc; stderr: $(head -3 "$tmpdir/load.err")"
results "$tmpdir/load.out" 8

# --- limits
"$DRV" limits 12 >"$tmpdir/lim.out" 2>&1
results "$tmpdir/lim.out" 2
check \
	"daemon still running after the load ($(grep -ci 'error' \
	"$tmpdir/daemon.log") error lines in its log)" kill -0 $pid

# --- steps: reference none, so nothing steers REALTIME back
kill -TERM $pid
wait $pid
rm -rf "$tmpdir/run" # so that tk_start_daemon waits for the new daemon's socket
tk_start_daemon "$tmpdir/daemon2.log" \
	'[discipline]\nreference = none\n[sim]\ndevices = hpet,acpi_pm,tsc\n'
"$DRV" step >"$tmpdir/step.out" 2>&1 &
spid=$!
wait_line "$tmpdir/step.out" '^armed' 60
"$TC" adjtime --step 10 >"$tmpdir/adj.out" 2>&1
arc=$?
check "adjtime --step 10 (exit $arc: $(head -1 "$tmpdir/adj.out"))" [ $arc -eq 0 ]
wait $spid
results "$tmpdir/step.out" 5
exit 0
