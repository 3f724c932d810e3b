#!/bin/sh
# The daemon as in the README, unprivileged, on simulated devices whose
# shared crystal runs 50 ppm fast, in a temporary runtime and state dir.
# reference = system: after 60 s the page's CLOCK_REALTIME stays within
# 10 us (p99) of the kernel's. reference = none: it drifts at the crystal's
# +50 ppm. Stopping the daemon makes readers report stale and fall back.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
OFF="$top_builddir/tests/integration/tk_offset"
tap_plan 12

run_daemon() { # REFERENCE
	printf '[daemon]\nruntime_dir = %s/run\nstate_dir = %s/state\n%s\n[discipline]\nreference = %s\n[sim]\ndevices = hpet,acpi_pm,tsc\noscillator_error_ppm = 50\nhost_adjtimex = synced\nhost_maxerror_us = 100\n' \
		"$tmpdir" "$tmpdir" "$TK_USER_LINE" "$1" >"$tmpdir/d.conf"
	rm -f "$tmpdir/run/page"
	"$TKD" -f -c "$tmpdir/d.conf" 2>"$tmpdir/daemon-$1.log" &
	pid=$!
	i=0
	while [ ! -s "$tmpdir/run/page" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}

run_daemon system
sleep 60
"$OFF" "$tmpdir/run/page" 10 >"$tmpdir/sys.json"
diag "reference=system, 60..70 s: $(cat "$tmpdir/sys.json")"
check "system: every reading from the page, source tsc" jqt "$tmpdir/sys.json" '.from_page == .samples and .source == "tsc" and .stale == 0'
check "system: p99 |offset| $(jq .p99_ns "$tmpdir/sys.json") ns <= 10000 ns after 60 s" jqt "$tmpdir/sys.json" '.p99_ns <= 10000'
check "system: synchronized, maxerror $(jq .maxerror_ns "$tmpdir/sys.json") ns" jqt "$tmpdir/sys.json" '.synchronized == 1 and .maxerror_ns < 1000000'
check "system: frequency found near -50 ppm ($(grep -o 'frequency [-+0-9.]* ppm' "$tmpdir/daemon-system.log"))" \
	sh -c "grep -o 'frequency [-+0-9.]* ppm' '$tmpdir/daemon-system.log' | awk '{ f = \$2 + 0; exit !(f > -52 && f < -48) }'"

kill -TERM "$pid"
wait "$pid"
rc=$?
check "SIGTERM: clean exit (rc=$rc)" [ "$rc" -eq 0 ]
"$OFF" "$tmpdir/run/page" 0.2 >"$tmpdir/stop.json"
check "after stop: readers report stale and fall back ($(cat "$tmpdir/stop.json"))" jqt "$tmpdir/stop.json" '.stale == 1 and .from_page == 0'
check "frequency estimate saved: $(cat "$tmpdir/state/frequency" 2>/dev/null) (ppm << 16)" \
	sh -c "awk '{ exit !(\$1 / 65536 > -52 && \$1 / 65536 < -48) }' '$tmpdir/state/frequency'"

# reference = none, starting without a saved estimate: free-runs at +50 ppm.
rm -f "$tmpdir/state/frequency"
run_daemon none
"$OFF" "$tmpdir/run/page" 8 >"$tmpdir/none.json"
diag "reference=none: $(cat "$tmpdir/none.json")"
check "none: drifts as the crystal predicts: slope $(jq .slope_ppm "$tmpdir/none.json") ppm (kernel - page), expected -50" \
	jqt "$tmpdir/none.json" '(.slope_ppm + 50 | fabs) < 2'
check "none: not synchronized" jqt "$tmpdir/none.json" '.synchronized == 0'

# A daemon that dies without cleaning up: readers fall back once valid-until passes.
kill -KILL "$pid"
wait "$pid" 2>/dev/null
sleep 0.5
"$OFF" "$tmpdir/run/page" 0.2 >"$tmpdir/dead.json"
check "after SIGKILL + 0.5 s: stale, from the kernel ($(cat "$tmpdir/dead.json"))" jqt "$tmpdir/dead.json" '.stale == 1 and .from_page == 0'

# Restart reuses the saved frequency.
printf '%s\n' -3276800 >"$tmpdir/state/frequency"
run_daemon none
sleep 0.5
kill -TERM "$pid"
wait "$pid"
check "restart: the saved frequency is used ($(grep -o 'starting with frequency.*' "$tmpdir/daemon-none.log"))" \
	grep -q 'starting with frequency -50.000 ppm' "$tmpdir/daemon-none.log"
printf 'garbage\n' >"$tmpdir/state/frequency"
run_daemon none
sleep 0.5
kill -TERM "$pid"
wait "$pid"
check "a corrupt state file is reported and ignored ($(grep 'state:' "$tmpdir/daemon-none.log"))" \
	grep -q "holds 'garbage" "$tmpdir/daemon-none.log"
exit 0
