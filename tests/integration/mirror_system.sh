#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The kernel-mirror contract of reference = system across steps and slews of
# the host clock. The test machine's clock must not be set, so the host
# clock is simulated: [sim] host_clock names a state file that moves the
# kernel's clocks as the daemon sees them (tk_mirror writes it, and audits
# the page's REALTIME, MONOTONIC, BOOTTIME and TAI against the same moved
# clocks). With a synchronized host of maxerror 1 ms, in one 16 s audit:
# REALTIME steps by +30 ms, the clock runs 100 ppm fast, then at its rate
# again and steps back. The page follows each step (its disruption counter
# moves; the samples before are not judged: no reader can know of a step
# before the daemon does), and no judged sample of any of the four clocks
# is outside the bound. Before the page mirrored steps at once, a 30 ms step
# (under the 128 ms step threshold) went to the PLL and the page stayed
# ~30 ms off for seconds. Then, in a second 16 s audit, the host's rate
# alone changes by 400 ppm and back while the daemon is idle: its look at
# the host has backed off to once a second, and the bound must cover what
# a change unseen until the next look does. Waits poll with deadlines.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
MIRROR="$top_builddir/tests/integration/tk_mirror"
TIMECTL="$top_builddir/timectl"
tap_plan 7

host="$tmpdir/host"
printf '0 0 0 0\n' >"$host"
chmod 644 "$host"
sim="devices = hpet,acpi_pm,tsc\noscillator_error_ppm = 50\nhost_adjtimex = synced"
sim="$sim\nhost_maxerror_us = 1000\nhost_clock = $host\n"
tk_start_daemon "$tmpdir/daemon.log" "[discipline]\nreference = system\n[sim]\n$sim"
synced() {
	"$TIMECTL" --json status >"$tmpdir/st.json" 2>/dev/null &&
		jqt "$tmpdir/st.json" '.bound.status == "synchronized"'
}
check "the page is synchronized to the simulated host clock (within 90 s)" wait_until 90 synced
"$MIRROR" audit "$tmpdir/run/page" 16 "$host" 30000000 100000 \
	>"$tmpdir/a.json" 2>"$tmpdir/a.err"
diag "audit: $(cat "$tmpdir/a.json")"
diag "$(cat "$tmpdir/a.err")"
check "the audit judged samples of the four clocks" jqt "$tmpdir/a.json" '.judged >= 400'
check "the page followed both steps of the host clock" \
	jqt "$tmpdir/a.json" '.steps == 2 and .followed == 2'
check "0 samples outside the bound across the steps and the slew" \
	jqt "$tmpdir/a.json" '.outside == 0'
n=$(grep -c 'the host clock was set: REALTIME follows by [-+]0.03' "$tmpdir/daemon.log")
check "the daemon says it followed the host clock's two steps ($n lines)" [ "$n" -ge 2 ]
# Quiet since the last step (4 s ago), the host clock runs 400 ppm fast 8 s
# into the audit: the daemon's looks are 1 s apart by then.
"$MIRROR" audit "$tmpdir/run/page" 16 "$host" 0 400000 >"$tmpdir/r.json" 2>"$tmpdir/r.err"
diag "rate audit: $(cat "$tmpdir/r.json")"
diag "$(cat "$tmpdir/r.err")"
check "the rate audit judged samples of the four clocks" jqt "$tmpdir/r.json" '.judged >= 400'
check "0 samples outside the bound across two 400 ppm changes of the host's rate" \
	jqt "$tmpdir/r.json" '.outside == 0'
kill -TERM "$pid"
wait "$pid" 2>/dev/null
exit 0
