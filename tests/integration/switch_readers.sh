#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Switching the clocksource while clients read the page never shows
# CLOCK_MONOTONIC going back: tk_monocheck reads it through libtimekeeper on
# every CPU (within-thread and cross-thread checks) while timectl switches
# between the simulated hpet, acpi_pm and tsc, kclock and back to the rating
# many times. The page's disruption counter counts the switches.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
TC="$top_builddir/timectl"
MC="$top_builddir/tests/integration/tk_monocheck"
tap_plan 5

tk_start_daemon "$tmpdir/daemon.log" \
	'[discipline]\nreference = none\n[sim]\ndevices = hpet,acpi_pm,tsc\n'

# The readers run until the switches are done (SIGTERM), at most 300 s.
"$MC" "$tmpdir/run/page" 300 >"$tmpdir/mc.json" 2>"$tmpdir/mc.err" &
mc=$!
wait_until 30 grep -q 'reading' "$tmpdir/mc.err"
fails=0
n=0
for round in 1 2 3 4 5 6 7 8 9 10; do
	for s in hpet acpi_pm tsc kclock hpet --auto; do
		"$TC" switch "$s" >/dev/null 2>>"$tmpdir/err" || fails=$((fails + 1))
		n=$((n + 1))
		sleep 0.1
	done
done
"$TC" --json status >"$tmpdir/st.json"
kill -TERM $mc
wait $mc
diag "readers: $(cat "$tmpdir/mc.json")"
check "$n switches, all accepted ($fails failed: $(head -c 300 "$tmpdir/err"))" [ "$fails" -eq 0 ]
check "readers on every CPU read $(jq .reads "$tmpdir/mc.json") times from the page without error" \
	jqt "$tmpdir/mc.json" \
	".threads == $(getconf _NPROCESSORS_ONLN) and .reads > 1000 and .errors == 0
	and .stale_start == 0 and .stale_end == 0"
check "no backward step of CLOCK_MONOTONIC within a thread" jqt "$tmpdir/mc.json" \
	'.backward_within == 0'
check \
	"no backward step across threads (max step back $(jq .max_backward_ns \
	"$tmpdir/mc.json") ns)" jqt "$tmpdir/mc.json" '.backward_across == 0'
check \
	"the page's disruption counter went up by >= 40: $(jq -c \
	'[.disruption_start, .disruption_end]' "$tmpdir/mc.json")" \
	jqt "$tmpdir/mc.json" '.disruption_end - .disruption_start >= 40'
kill -TERM $pid
wait $pid
exit 0
