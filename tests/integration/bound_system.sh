#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# reference = system and the host clock's own state, which [sim]
# host_adjtimex stands in for (the test machine's real kernel clock cannot
# be made unsynchronized safely). An unsynchronized host (TIME_ERROR,
# STA_UNSYNC, maxerror 16 s): the page never claims a bound, however well
# the daemon tracks the host (the defect: synchronized with 1-2 us after the
# frequency was measured). A synchronized host with maxerror M: the bound is
# never below M and holds (tk_boundaudit: no sample outside). An unreadable
# adjtimex (seccomp): no bound. Waits poll the daemon's log with deadlines.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
AUDIT="$top_builddir/tests/integration/tk_boundaudit"
TIMECTL="$top_builddir/timectl"
tap_plan 10

# run HOST MAXERROR_US: the daemon on simulated devices 50 ppm fast,
# following the host clock as the sim says it is; returns once the
# frequency was measured (the discipline's PLL runs from there), up to 60 s.
run() {
	[ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmpdir/run" "$tmpdir/state"
	sections="[discipline]\nreference = system\n[sim]\ndevices = hpet,acpi_pm,tsc\n"
	tk_start_daemon "$tmpdir/daemon-$1.log" \
		"${sections}oscillator_error_ppm = 50\nhost_adjtimex = $1\nhost_maxerror_us = $2\n"
	i=0
	while ! grep -q 'discipline: frequency' "$tmpdir/daemon-$1.log" && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

run unsynced 0
"$AUDIT" "$tmpdir/run/page" 5 >"$tmpdir/un.json"
diag "unsynchronized host: $(cat "$tmpdir/un.json")"
check "unsynchronized host: no sample with a bound, none synchronized" \
	jqt "$tmpdir/un.json" \
	'.samples > 0 and .unbounded + .torn == .samples and .synchronized == 0 and .judged == 0'
"$TIMECTL" --json status >"$tmpdir/un-st.json"
diag "status: $(jq -c '{synchronized, maxerror_us, bound, ntp_status_flags}' "$tmpdir/un-st.json")"
check "timectl status: not synchronized, bound unknown and none, maxerror 16 s" \
	jqt "$tmpdir/un-st.json" \
	'.synchronized == false and .bound.status == "unknown" and .bound.bound_ns == null
	and .maxerror_us == 16000000'
check "the daemon says why, once" [ \
	"$(grep -c 'host clock is unsynchronized' "$tmpdir/daemon-unsynced.log")" -eq 1 ]
"$TIMECTL" status >"$tmpdir/un-st.txt" 2>&1
check "timectl status text: $(grep 'Error bound' "$tmpdir/un-st.txt")" grep -q \
	'Error bound     : none (unknown)' "$tmpdir/un-st.txt"

run synced 5000
# The bound is claimed from the first discipline round in the PLL: poll
# timectl until it is (up to 30 s).
i=0
while [ $i -lt 300 ]; do
	"$TIMECTL" --json status >"$tmpdir/sy-st.json" 2>/dev/null
	jqt "$tmpdir/sy-st.json" '.bound.status == "synchronized"' && break
	sleep 0.1
	i=$((i + 1))
done
diag "status: $(jq -c '{synchronized, maxerror_us, bound}' "$tmpdir/sy-st.json")"
check "synchronized host, maxerror 5000 us: synchronized, bound >= 5 ms, drift >= 1 ppm" \
	jqt "$tmpdir/sy-st.json" \
	'.synchronized == true and .bound.bound_ns >= 5000000 and .bound.drift_ppb >= 1000
	and .maxerror_us >= 5000'
"$AUDIT" "$tmpdir/run/page" 5 >"$tmpdir/sy.json"
diag "synchronized host: $(cat "$tmpdir/sy.json")"
check "synchronized host: every judged sample's bound >= 5 ms (2 x width >= 10 ms)" \
	jqt "$tmpdir/sy.json" '.judged > 0 and .min_width_ns >= 10000000'
check "synchronized host: 0 samples outside the bound" jqt "$tmpdir/sy.json" '.outside == 0'
check "synchronized host: the page says synchronized" jqt "$tmpdir/sy.json" '.synchronized > 0'

run unreadable 0
"$AUDIT" "$tmpdir/run/page" 2 >"$tmpdir/ur.json"
diag "unreadable adjtimex: $(cat "$tmpdir/ur.json")"
check "unreadable host adjtimex: no bound" jqt "$tmpdir/ur.json" \
	'.unbounded + .torn == .samples and .synchronized == 0'
check "the daemon says why" grep -q "adjtimex() cannot be read" "$tmpdir/daemon-unreadable.log"
kill -TERM "$pid"
wait "$pid" 2>/dev/null
exit 0
