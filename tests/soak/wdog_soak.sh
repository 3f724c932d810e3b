#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# make soak: the watchdog on a loaded machine, in real time (not part of
# make check: it is timed, and long). Under `stress-ng --cpu 2` (when it is
# installed; without it the soak says so and runs unloaded):
#  1. `timekeeperd --probe` on simulated hpet, acpi_pm and tsc for
#     SOAK_SECONDS (default 600), every read of the TSC and of the hpet (the
#     watchdog) subject to 200 us spikes: fails if the healthy TSC is
#     demoted;
#  2. a TSC that drifts by 1500 ppm, steps by 5 ms or stalls at 2 s, the
#     hpet's reads still spiking, SOAK_FAULT_RUNS times each (default 3):
#     fails unless each is demoted within 2 s of the fault's onset, both
#     times as the probe reports them (demoted_at_s - fault_onset_s, an upper
#     bound: the onset counts from the probe's start, a little before the
#     device's clock starts).
#  3. the daemon itself (a check a second, 250 ms after a suspicious
#     interval) with the same faults: fails unless each is demoted within
#     2 s of its onset, counted from the daemon's start to the first
#     `timectl status` showing hpet current after the TSC.
# Prints `soak: ...` lines with the numbers; the exit status is 0 when all
# passed. Run by .ci/run for one minute (SOAK_SECONDS=60).
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
TKD="$top_builddir/timekeeperd"
secs=${SOAK_SECONDS:-600}
runs=${SOAK_FAULT_RUNS:-3}
limit=2

command -v jq >/dev/null 2>&1 || {
	echo "soak: jq is not installed: cannot read the probe's report" >&2
	exit 1
}
[ -x "$TKD" ] || {
	echo "soak: $TKD is not built" >&2
	exit 1
}
case $secs in
'' | *[!0-9]*)
	echo "soak: SOAK_SECONDS '$secs' is not a whole number of seconds" >&2
	exit 1
	;;
esac

tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/tk-soak.XXXXXX")
spid=
cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	rm -rf "$tmpdir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The load: two CPU hogs, for the whole soak (a timeout in case we are
# killed before the trap runs).
load="no load"
if command -v stress-ng >/dev/null 2>&1; then
	stress-ng --cpu 2 --timeout $((secs + 120 + runs * 30))s >"$tmpdir/stress.log" 2>&1 &
	spid=$!
	load="stress-ng --cpu 2"
else
	echo "soak: stress-ng is not installed: running with no load of our own"
fi

status=0

# probe NAME SECONDS TSC_FAULT: the probe on the simulated machine, its
# JSON in $tmpdir/NAME.json, its log in $tmpdir/NAME.err
probe() {
	printf '[sim]\ndevices = hpet,acpi_pm,tsc\ntsc_error_ppm = 30\n%s\ntsc_fault = %s\n' \
		'hpet_fault = spikes:200000ns' \
		"$3" >"$tmpdir/$1.conf"
	"$TKD" --probe --json --seconds "$2" -c "$tmpdir/$1.conf" >"$tmpdir/$1.json" \
		2>"$tmpdir/$1.err"
}
tsc() { jq -r ".sources[]|select(.name==\"tsc\")|$2" "$tmpdir/$1.json"; }

# 1. the healthy TSC
probe healthy "$secs" spikes:200000ns
if [ ! -s "$tmpdir/healthy.json" ]; then
	echo "soak: FAIL: the probe wrote no report: $(cat "$tmpdir/healthy.err")"
	status=1
else
	state=$(tsc healthy .state)
	w=$(tsc healthy '.watchdog | "\(.checks) checks, \(.failures) demotions, \(.suspects)"
		+ " suspects (\(.cleared) cleared), \(.skips) skips, \(.retries) retries, max skew"
		+ " \(.max_skew_ns) ns, typical bracket \(.typ_window_ns) ns"')
	fails=$(tsc healthy .watchdog.failures)
	if [ "$state" = current ] && [ "$fails" = 0 ]; then
		verdict=ok
	else
		verdict="FAIL: $state: $(tsc healthy .state_reason)"
		status=1
	fi
	echo "soak: healthy tsc, 200 us spikes on tsc and hpet reads, $secs s under $load:" \
		"$w: $verdict"
fi

# 2. the faults, each SOAK_FAULT_RUNS times
for fault in drift:1500ppm@2s step:5000000ns@2s stall@2s; do
	lat=
	why=
	worst=0
	bad=
	i=0
	while [ "$i" -lt "$runs" ]; do
		i=$((i + 1))
		probe fault "$((2 + limit + 2))" "$fault"
		d=$(tsc fault '.watchdog.demoted_at_s // empty' 2>/dev/null)
		o=$(tsc fault '.fault_onset_s // empty' 2>/dev/null)
		if [ -z "$d" ] || [ -z "$o" ]; then
			lat="$lat not-demoted"
			bad="$bad; run $i not demoted:"
			bad="$bad $(tsc fault '.watchdog.last_reason' 2>/dev/null)"
			continue
		fi
		l=$(awk -v d="$d" -v o="$o" 'BEGIN { printf "%.3f", d - o }')
		lat="$lat $l"
		if awk -v a="$worst" -v b="$l" 'BEGIN { exit !(b > a) }'; then
			worst=$l
			why=$(tsc fault '.watchdog | "\(.checks) checks, \(.suspects) suspects"
				+ " (\(.cleared) cleared), \(.skips) skips, \(.retries) retries;"
				+ " \(.last_reason)"')
		fi
		if awk -v l="$l" -v m="$limit" 'BEGIN { exit !(l > m) }'; then
			bad="$bad; run $i demoted $l s after the onset: $(tsc fault .state_reason)"
		fi
	done
	if [ -z "$bad" ]; then
		verdict=ok
	else
		verdict="FAIL$bad"
		status=1
	fi
	echo "soak: $fault under $load, 200 us hpet spikes: demoted${lat} s after the onset" \
		"(worst $worst s, limit $limit s): $verdict"
	[ -n "$why" ] && echo "soak:   worst run: $why"
done

# 3. the daemon: its watchdog checks once a second (with the page's update)
# and 250 ms after a suspicious interval; the same faults, the hpet's reads
# still spiking, demoted within 2 s of the onset. The onset counts from the
# daemon's start, the demotion is when `timectl status` first shows hpet
# current after the TSC (polled every 50 ms): an upper bound again.
user_line=
if [ "$(id -u)" -eq 0 ] && getent passwd daemon >/dev/null 2>&1; then
	user_line="user = daemon"
	chmod 0755 "$tmpdir"
fi
export TIMEKEEPER_RUNTIME_DIR="$tmpdir/run"
for fault in drift:1500ppm@3.4s step:5000000ns@3.5s stall@3.2s; do
	onset=${fault##*@}
	onset=${onset%s}
	rm -rf "$tmpdir/run" "$tmpdir/state"
	printf '[daemon]\nruntime_dir = %s/run\nstate_dir = %s/state\n%s\n' "$tmpdir" "$tmpdir" \
		"$user_line" >"$tmpdir/d.conf"
	printf '[discipline]\nreference = none\n[sim]\ndevices = hpet,acpi_pm,tsc\n' \
		>>"$tmpdir/d.conf"
	printf 'hpet_fault = spikes:200000ns\ntsc_fault = %s\n' "$fault" >>"$tmpdir/d.conf"
	chmod 644 "$tmpdir/d.conf"
	t0=$(date +%s.%N)
	"$TKD" -f -c "$tmpdir/d.conf" 2>"$tmpdir/d.err" &
	dpid=$!
	l=
	seen=
	while kill -0 "$dpid" 2>/dev/null; do
		t=$(date +%s.%N)
		src=$("$top_builddir/timectl" --json status 2>/dev/null | jq -r .source 2>/dev/null)
		[ "$src" = tsc ] && seen=1 # on the TSC (after its quick calibration)
		if [ -n "$seen" ] && [ "$src" = hpet ]; then
			l=$(awk -v t="$t" -v t0="$t0" -v o="$onset" \
				'BEGIN { printf "%.3f", t - t0 - o }')
			break
		fi
		awk -v t="$t" -v t0="$t0" -v o="$onset" 'BEGIN { exit !(t - t0 > o + 10) }' && break
		sleep 0.05
	done
	kill "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
	why=$(grep -m1 'demoted by the watchdog' "$tmpdir/d.err")
	if [ -z "$seen" ]; then
		verdict="FAIL: the daemon was never seen on the TSC: $(tail -2 "$tmpdir/d.err")"
		status=1
	elif [ -z "$l" ]; then
		verdict="FAIL: not demoted: $(tail -2 "$tmpdir/d.err")"
		status=1
	elif awk -v l="$l" -v m="$limit" 'BEGIN { exit !(l > m) }'; then
		verdict="FAIL: over the limit: $why"
		status=1
	else
		verdict=ok
	fi
	echo "soak: daemon, $fault under $load, 200 us hpet spikes: demoted $l s after the" \
		"onset (limit $limit s): $verdict"
	[ -n "$why" ] && echo "soak:   $why"
done

[ -n "$spid" ] && ! kill -0 "$spid" 2>/dev/null &&
	echo "soak: note: stress-ng ended before the soak did: $(tail -3 "$tmpdir/stress.log")"
[ "$status" -eq 0 ] && echo "soak: passed" || echo "soak: FAILED"
exit $status
