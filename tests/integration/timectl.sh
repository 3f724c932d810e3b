#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# timectl against the daemon on simulated devices in a temporary runtime
# dir: every command in text and JSON (values checked with jq), a switch to
# the TSC after the watchdog demoted it refused with the reason, switch
# --auto, unbind/readmit, adjtime written and read back (and a step seen
# through the page), a client that is neither root nor in the control group
# served for queries but refused for changes (exit 4), and the exit codes
# for usage errors and a missing daemon.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
TC="$top_builddir/timectl"
tap_plan 47

# As root the daemon drops to $TK_USER_LINE's user (lib.sh), never the
# client's uid below. [control] group root: a group that exists and that the
# unprivileged client is not in.
sections='[discipline]\nreference = none\n[sim]\ndevices = hpet,acpi_pm,tsc\n'
sections=$sections'tsc_fault = drift:1500ppm@1s\n[control]\ngroup = root\n'
tk_start_daemon "$tmpdir/daemon.log" "$sections"
# The watchdog demotes the drifting TSC about 1.5 s in.
tsc_unstable() {
	"$TC" --json sources >"$tmpdir/src.json" 2>/dev/null &&
		jqt "$tmpdir/src.json" '.sources[] | select(.name == "tsc") | .state == "unstable"'
}
wait_until 60 tsc_unstable
diag "daemon pid $pid; $(grep -c . "$tmpdir/daemon.log") log lines"

# --- status
"$TC" status >"$tmpdir/st.txt" 2>"$tmpdir/err"
check "status: exit 0, hpet current by rating" grep -q '^Source *: hpet (by rating)' \
	"$tmpdir/st.txt"
check "status: text has every line ($(wc -l <"$tmpdir/st.txt") lines)" sh -c \
	"for k in 'Frequency' 'Last offset' 'Max error' 'Est error' 'Sync state' 'Leap status' \
		'TAI offset' 'Update interval' 'TSC calibration' 'Page  ' 'Daemon'; do
		grep -q \"^\$k\" '$tmpdir/st.txt' || exit 1; done"
check "status: page fresh, daemon pid $pid" sh -c \
	"grep -q '^Page *: fresh, updated' '$tmpdir/st.txt' &&
	grep -q '^Daemon *: pid $pid,' '$tmpdir/st.txt'"
# The page is updated every 10 ms until its mapping's rate is measured over
# 0.5 s, then once a second.
page_1s() {
	"$TC" --json status 2>/dev/null | jq -e '.update_interval_ns == 1000000000' >/dev/null
}
wait_until 30 page_1s
"$TC" --json status >"$tmpdir/st.json"
diag \
	"status: $(jq -c '{source,clock_mode,reference,synchronized,leap,page:.page.liveness}' \
	"$tmpdir/st.json")"
check "status --json: source hpet, no override, reference none, the page every 1 s" jqt \
	"$tmpdir/st.json" \
	'.source == "hpet" and .override == null and .reference == "none"
	and .update_interval_ns == 1000000000'
check "status --json: daemon pid, protocol 1, root may change" jqt "$tmpdir/st.json" \
	".daemon.pid == $pid and .daemon.protocol == 1 and .daemon.may_change == true
	and .daemon.uptime_ns > 0"
check "status --json: unsynchronized (reference none): leap, state, flags agree" jqt \
	"$tmpdir/st.json" \
	'.synchronized == false and .leap == "unsynchronized" and .time_state == "TIME_ERROR"
	and (.ntp_status_flags | index("UNSYNC")) != null'
check "status --json: page fresh, written by the daemon, same mode, age < valid" jqt \
	"$tmpdir/st.json" \
	".page.liveness == \"fresh\" and .page.writer_pid == $pid
	and .page.clock_mode == .clock_mode and .page.source == \"hpet\" and .page.age_ns >= 0
	and .page.valid_for_ns > 0 and .page.disruption >= 1"
check "status --json: TSC calibrated near 2.4 GHz" jqt "$tmpdir/st.json" \
	'.tsc.calibrated_hz > 2390000000 and .tsc.calibrated_hz < 2410000000'

# --- sources
"$TC" sources >"$tmpdir/src.txt"
check "sources: '*' on hpet, tsc unstable with the watchdog's reason" sh -c \
	"grep -q '^\* hpet  *250/250 ' '$tmpdir/src.txt' &&
	grep -q '^  tsc  *0/300 .* unstable ' '$tmpdir/src.txt' &&
	grep -q '^ *unstable: watchdog: skew' '$tmpdir/src.txt'"
"$TC" --json sources >"$tmpdir/src.json"
diag "sources: $(jq -c '[.sources[] | {name,state,effective_rating}]' "$tmpdir/src.json")"
check "sources --json: current hpet; in rating order hpet, acpi_pm, kclock before unstable tsc" \
	jqt "$tmpdir/src.json" \
	'.current == "hpet" and ([.sources[].name] == ["hpet","acpi_pm","kclock","tsc"])
	and ([.sources[] | select(.current)] | length == 1)'
check "sources --json: tsc unstable, rating 0/300, reason, 1 failure, skew > 500 us" jqt \
	"$tmpdir/src.json" \
	'.sources[] | select(.name == "tsc") | .state == "unstable" and .effective_rating == 0
	and .rating == 300 and (.reason | test("skew")) and .watchdog.failures == 1
	and .watchdog.max_skew_ns > 500000 and .watchdog.verdict == "unstable"'
check "sources --json: hpet 14318180 Hz 32 bits, acpi_pm 3579545 Hz 24 bits, simulated" jqt \
	"$tmpdir/src.json" \
	'(.sources[0] | .hz == 14318180 and .bits == 32 and (.flags | index("simulated")) != null)
	and (.sources[1] | .hz == 3579545 and .bits == 24)'

# --- switch
"$TC" switch tsc >"$tmpdir/out" 2>"$tmpdir/err"
rc=$?
diag "switch tsc: $(cat "$tmpdir/err")"
check "switch to the unstable tsc: refused, exit 1, with the reason" sh -c \
	"[ $rc -eq 1 ] && grep -q '^timectl: switch tsc: refused: .*unstable.*skew' '$tmpdir/err'"
"$TC" --json switch tsc >"$tmpdir/sw.json" 2>/dev/null
check "switch tsc --json: status -16 (EBUSY) and the reason" jqt "$tmpdir/sw.json" \
	'.status == -16 and .error == "EBUSY" and (.message | test("unstable"))'
check "after the refusal: hpet still current" sh -c \
	"'$TC' --json status | jq -e '.source == \"hpet\"' >/dev/null"
"$TC" --json switch acpi_pm >"$tmpdir/sw.json"
check "switch acpi_pm --json: status 0 and a message" jqt "$tmpdir/sw.json" \
	'.status == 0 and (.message | length > 0)'
"$TC" --json status >"$tmpdir/st.json"
check "after switch acpi_pm: current and override acpi_pm, page source acpi_pm" jqt \
	"$tmpdir/st.json" \
	'.source == "acpi_pm" and .override == "acpi_pm" and .page.source == "acpi_pm"'
"$TC" switch --auto >"$tmpdir/out"
check "switch --auto: exit 0, prints the daemon's message ($(cat "$tmpdir/out"))" [ -s \
	"$tmpdir/out" ]
"$TC" --json status >"$tmpdir/st.json"
check "after switch --auto: hpet by rating, no override" jqt "$tmpdir/st.json" \
	'.source == "hpet" and .override == null'

# --- unbind, readmit
"$TC" unbind acpi_pm >/dev/null
"$TC" --json sources >"$tmpdir/src.json"
check "unbind acpi_pm: state unbound" jqt "$tmpdir/src.json" \
	'.sources[] | select(.name == "acpi_pm") | .state == "unbound"'
"$TC" --json readmit acpi_pm >"$tmpdir/rd.json"
"$TC" --json sources >"$tmpdir/src.json"
check "readmit acpi_pm: status 0, state ok again" sh -c \
	"jq -e '.status == 0' '$tmpdir/rd.json' >/dev/null &&
	jq -e '.sources[] | select(.name == \"acpi_pm\") | .state == \"ok\"' '$tmpdir/src.json' \
		>/dev/null"

# --- recalibrate
"$TC" --json recalibrate >"$tmpdir/rc.json"
check "recalibrate --json: status 0 ($(jq -r .message "$tmpdir/rc.json"))" jqt "$tmpdir/rc.json" \
	'.status == 0'

# --- timers (after the switches above, the page settles on 1 s again)
wait_until 30 page_1s
"$TC" timers >"$tmpdir/tm.txt"
check "timers: /proc/timer_list-like, update and watchdog on CLOCK_MONOTONIC" sh -c \
	"grep -q '^  .base:       CLOCK_MONOTONIC' '$tmpdir/tm.txt' &&
	grep -q '^ #[0-9]*: update, S:01, owner pid 0' '$tmpdir/tm.txt' &&
	grep -q '^ # expires at [0-9]*-[0-9]* nsecs \[in ' '$tmpdir/tm.txt' &&
	grep -q ': watchdog, ' '$tmpdir/tm.txt'"
"$TC" --json timers >"$tmpdir/tm.json"
diag "timers: $(jq -c '[.timers[] | {name,period_ns}]' "$tmpdir/tm.json")"
check "timers --json: all listed; update every 1 s due within 1 s; watchdog every 1 s" jqt \
	"$tmpdir/tm.json" \
	'.total == (.timers | length) and (.timers[] | select(.name == "update")
	| .period_ns == 1000000000 and .left_ns <= 1000000000 and .base == "monotonic"
	and .owner_pid == 0) and (.timers[] | select(.name == "watchdog")
	| .period_ns == 1000000000)'
check "timers --json: next event is the earliest expiry, REALTIME base offset ~ wall clock" jqt \
	"$tmpdir/tm.json" \
	"(.next_event_ns == ([.timers[].expires_ns] | min))
	and ((.bases[1].offset_ns / 1e9 + .now_mono_ns / 1e9 - $(date +%s)) | fabs) < 5"

# --- adjtime
"$TC" adjtime >"$tmpdir/adj.txt"
check "adjtime: adjtimex -p-like read" sh -c \
	"grep -q '^         tick: 10000 us' '$tmpdir/adj.txt' &&
	grep -q '^ return value = 5 (TIME_ERROR)' '$tmpdir/adj.txt'"
"$TC" adjtime --freq 12.5 --maxerror 200000 --esterror 1500 --constant 4 --json >"$tmpdir/aw.json"
"$TC" adjtime --tai 37 >/dev/null
"$TC" adjtime --tai 1 --constant 3 2>/dev/null
check "adjtime --tai with --constant: a usage error (adjtimex takes both from constant)" \
	[ $? -eq 2 ]
check "adjtime write --json: status 0, read-back in the reply" jqt "$tmpdir/aw.json" \
	'.status == 0 and .adjtime.freq == 819200 and .adjtime.esterror_us == 1500'
"$TC" --json adjtime >"$tmpdir/ar.json"
diag \
	"adjtime read back: $(jq -c '{freq,frequency_ppm,maxerror_us,esterror_us,constant,tai_s}' \
	"$tmpdir/ar.json")"
desc="adjtime read back: freq 12.5 ppm, maxerror ~200000 us, esterror 1500,"
check "$desc constant 4 (+4 in us mode, as adjtimex), tai 37" jqt "$tmpdir/ar.json" \
	'.frequency_ppm == 12.5 and .maxerror_us >= 200000 and .maxerror_us < 210000
	and .esterror_us == 1500 and .constant == 8 and .tai_s == 37 and .modes == 0'
"$TC" --json status >"$tmpdir/st.json"
check "status after adjtime: frequency 12.5 ppm, TAI offset 37" jqt "$tmpdir/st.json" \
	'.frequency_ppm == 12.5 and .tai_offset_s == 37'
# Where adjtimex would clamp, the daemon refuses: exit 1, one line naming
# the field and the value, and nothing changes.
rc=0
"$TC" adjtime --freq 1000 --maxerror 1000 >/dev/null 2>"$tmpdir/err" || rc=$?
diag "adjtime --freq 1000: exit $rc: $(cat "$tmpdir/err")"
check "adjtime --freq 1000: refused (exit 1), the line names freq and 1000 ppm" sh -c \
	"[ $rc -eq 1 ] &&
	grep -q 'freq 65536000 (1000.000 ppm) is outside -500..500 ppm' '$tmpdir/err'"
rc=0
"$TC" adjtime --constant 11 >/dev/null 2>"$tmpdir/err" || rc=$?
check "adjtime --constant 11: refused (exit 1): $(cat "$tmpdir/err")" sh -c \
	"[ $rc -eq 1 ] && grep -q 'constant 11 is outside 0..10 (the kernel' '$tmpdir/err'"
"$TC" --json adjtime >"$tmpdir/ar2.json"
check "after the refusals: frequency still 12.5 ppm, maxerror not 1000 us, constant 8" \
	jqt "$tmpdir/ar2.json" '.frequency_ppm == 12.5 and .maxerror_us != 1000 and .constant == 8'
"$TC" status >"$tmpdir/st.txt"
want='Frequency       : +12.500 ppm (the counter alone runs 12.500 ppm slow)'
check "status text: the correction with its sign, then the counter's own rate" \
	grep -q "$want" "$tmpdir/st.txt"
"$TC" --json switch no-such-source >"$tmpdir/sw.json" 2>/dev/null
"$TC" --json sources >"$tmpdir/so.json"
check "every --json document begins with its schema, 1 (status, sources, adjtime, an error)" \
	sh -c "for f in st so ar aw sw; do
		grep -q '^{\"schema\":1,' '$tmpdir/'\$f.json || exit 1
	done"
"$TC" adjtime --step 0.5 >/dev/null
"$TC" --json read >"$tmpdir/rd.json"
diag "after --step 0.5: $(jq -c '[.clocks[] | {clock,diff_ns}]' "$tmpdir/rd.json")"
desc="adjtime --step 0.5: the page's REALTIME is 0.5 s ahead (kernel minus page -0.5 s;"
check "$desc TAI too, in whole seconds), MONOTONIC is not" jqt "$tmpdir/rd.json" \
	'(.clocks[] | select(.clock == "realtime") | (.diff_ns + 500000000 | fabs) < 10000000)
	and ([.clocks[] | select(.clock == "tai" or .clock == "realtime") | .diff_ns]
	| (.[1] - .[0]) % 1000000000 | fabs | (. < 1000000 or . > 999000000)) and (.clocks[]
	| select(.clock == "monotonic") | (.diff_ns | fabs) < 10000000)'
"$TC" adjtime --step -0.5 >/dev/null
"$TC" --json read realtime >"$tmpdir/rd.json"
desc="adjtime --step -0.5: back within 10 ms (the drifting TSC left ~0.8 ms);"
check "$desc read CLOCK lists one clock" jqt "$tmpdir/rd.json" \
	'(.clocks | length) == 1 and (.clocks[0].diff_ns | fabs) < 10000000 and .liveness == "fresh"
	and .from_page == true'

# --- read
"$TC" read >"$tmpdir/rd.txt"
check "read: the page's seven clocks beside the kernel's" sh -c \
	"[ \$(grep -cE \
	'^(realtime|monotonic|monotonic_raw|boottime|tai|realtime_coarse|monotonic_coarse) ' \
		'$tmpdir/rd.txt') -eq 7 ] && grep -q '^page .*: fresh' '$tmpdir/rd.txt'"
"$TC" --json read >"$tmpdir/rd.json"
check "read --json: from the page, 7 clocks, MONOTONIC within 10 ms, REALTIME in the right second" \
	jqt "$tmpdir/rd.json" \
	".from_page == true and (.clocks | length) == 7 and (.clocks[]
	| select(.clock == \"monotonic\") | (.diff_ns | fabs) < 10000000)
	and (.clocks[0].page_sec - $(date +%s) | fabs) < 5"

# --- a client that is neither root nor in the control group
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1; then
	for t in 1 2 3 4 5; do ok \
		"# SKIP unprivileged client: needs root and setpriv to run as nobody"; done
else
	NB="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	$NB "$TC" --json status >"$tmpdir/nb.json" 2>"$tmpdir/err"
	check "nobody: status served, may_change false" jqt "$tmpdir/nb.json" \
		".daemon.may_change == false and .source == \"hpet\" and .daemon.pid == $pid"
	$NB "$TC" --json sources >"$tmpdir/nb.json" && $NB "$TC" --json timers >/dev/null &&
		$NB "$TC" --json adjtime >/dev/null
	check "nobody: sources, timers and adjtime (read) served" jqt "$tmpdir/nb.json" \
		'.current == "hpet"'
	$NB "$TC" switch acpi_pm >/dev/null 2>"$tmpdir/err"
	rc=$?
	diag "nobody: switch: $(cat "$tmpdir/err")"
	check "nobody: switch refused with 'permission denied', exit 4" sh -c \
		"[ $rc -eq 4 ] &&
		grep -q '^timectl: switch acpi_pm: permission denied' '$tmpdir/err'"
	$NB "$TC" adjtime --freq 1 >/dev/null 2>"$tmpdir/err"
	rc=$?
	$NB "$TC" unbind kclock >/dev/null 2>&1
	rc2=$?
	check "nobody: adjtime write and unbind refused, exit 4 ($rc, $rc2)" sh -c \
		"[ $rc -eq 4 ] && [ $rc2 -eq 4 ] && grep -q 'permission denied' '$tmpdir/err'"
	"$TC" --json status >"$tmpdir/st.json"
	"$TC" --json sources >"$tmpdir/src.json"
	check "nobody: nothing changed (hpet current, freq 12.5 ppm, kclock not unbound)" sh -c \
		"jq -e '.source == \"hpet\" and .frequency_ppm == 12.5' '$tmpdir/st.json' \
			>/dev/null &&
		jq -e '.sources[] | select(.name == \"kclock\") | .state == \"ok\"' \
			'$tmpdir/src.json' >/dev/null"
fi

# --- usage and a missing daemon
"$TC" frobnicate 2>"$tmpdir/err"
rc=$?
"$TC" switch 2>/dev/null
rc2=$?
"$TC" read jiffies 2>/dev/null
rc3=$?
check "usage errors exit 2 ($rc, $rc2, $rc3): $(cat "$tmpdir/err")" sh -c \
	"[ $rc -eq 2 ] && [ $rc2 -eq 2 ] && [ $rc3 -eq 2 ]"
kill -TERM $pid
wait $pid
"$TC" -r "$tmpdir/run" status 2>"$tmpdir/err"
rc=$?
check "no daemon: exit 3, says so ($(cat "$tmpdir/err"))" sh -c \
	"[ $rc -eq 3 ] &&
	grep -q '^timectl: cannot connect to $tmpdir/run/control: .*(is timekeeperd running?)' \
		'$tmpdir/err'"
"$TC" --json read monotonic >"$tmpdir/rd.json"
check "no daemon: read falls back to the kernel (liveness $(jq -r .liveness "$tmpdir/rd.json"))" \
	jqt "$tmpdir/rd.json" \
	'.from_page == false and (.liveness == "stale" or .liveness == "gone"
	or .liveness == "missing")'
exit 0
