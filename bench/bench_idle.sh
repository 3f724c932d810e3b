#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# What an idle daemon costs, beside chronyd -x measured the same way in the
# same run (timing lives here, not in `make check`). `make bench-idle` runs
# it; BENCH_IDLE_SETTLE (default 20 s) is how long both run after the page
# is synchronized before the measurement, BENCH_IDLE_SECONDS (default 60 s)
# how long it measures.
#
# The daemon: reference = system on simulated devices (50 ppm fast) and a
# synchronized simulated host (maxerror 1 ms), no client timers. chronyd:
# from the unpacked peers (tests/integration/ntp_lib.sh), -x (it never
# touches the clock), serving its local clock on 127.0.0.1 with no source
# to reach, its own pid file, drift file and command socket in the
# temporary directory. For each, over the same window: wake-ups, the
# voluntary plus nonvoluntary context switches of all its threads
# (/proc/PID/task/*/status) per second of the kernel's clock, and CPU, its
# utime + stime (/proc/PID/stat) as a percentage of one CPU. Results
# (`bench: <name> <value> <unit>`):
#   idle_wakeups_per_s, idle_cpu_percent: the daemon;
#   chronyd_idle_wakeups_per_s, chronyd_idle_cpu_percent: chronyd;
#   idle_wakeups_ratio: the daemon's wake-ups / chronyd's, chronyd's taken as
#     at least 1 (with nothing to do it may not wake in the window at all:
#     then the ratio is a lower bound; bench/README.md).
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
tap_skip_all() {
	echo "bench-idle: skipped: $*"
	exit 0
}
ntp_unavailable() { tap_skip_all "$*"; }
command -v jq >/dev/null 2>&1 || tap_skip_all "jq is not installed"
[ "$(id -u)" -eq 0 ] || tap_skip_all "chronyd -x needs root"
[ -n "$CHRONYD" ] || tap_skip_all "chronyd not found (./dev.sh ensure_peers unpacks it)"
settle=${BENCH_IDLE_SETTLE:-20}
secs=${BENCH_IDLE_SECONDS:-60}

sim="devices = hpet,acpi_pm,tsc\noscillator_error_ppm = 50\nhost_adjtimex = synced"
sim="$sim\nhost_maxerror_us = 1000\n"
tk_start_daemon "$tmpdir/daemon.log" "[discipline]\nreference = system\n[sim]\n$sim"
[ -s "$tmpdir/run/page" ] || {
	echo "bench-idle: the daemon did not start: $(cat "$tmpdir/daemon.log")" >&2
	exit 1
}
port=$(ntp_free_port)
mkdir -p "$tmpdir/chrony"
chmod 700 "$tmpdir/chrony"
cat >"$tmpdir/idle.conf" <<EOF
port $port
bindaddress 127.0.0.1
cmdport 0
bindcmdaddress $tmpdir/chrony/chronyd.sock
allow 127.0.0.1
local stratum 8
pidfile $tmpdir/chrony/chronyd.pid
driftfile $tmpdir/chrony/chronyd.drift
EOF
ntp_chronyd idle
trap 'kill -TERM $idle_pid $pid 2>/dev/null; rm -rf "$tmpdir"' EXIT
synced() {
	"$top_builddir/timectl" --json status 2>/dev/null |
		jq -e '.bound.status == "synchronized"' >/dev/null
}
wait_until 120 synced || {
	echo "bench-idle: the page was not synchronized within 120 s" >&2
	exit 1
}
wait_until 30 kill -0 "$idle_pid" || {
	echo "bench-idle: chronyd did not run: $(cat "$tmpdir/idle.log")" >&2
	exit 1
}
sleep "$settle" # both settle this long before the window

# switches PID: voluntary + nonvoluntary context switches of all its threads.
switches() {
	cat /proc/"$1"/task/*/status 2>/dev/null |
		awk '/^(non)?voluntary_ctxt_switches/ { n += $2 } END { print n + 0 }'
}
# ticks PID: utime + stime, clock ticks.
ticks() {
	sed 's/^.*) //' /proc/"$1"/stat | awk '{ print $12 + $13 }'
}
uptime_cs() {
	read -r _up _ </proc/uptime
	echo "${_up%.*}${_up#*.}" | sed 's/^0*//'
}
a0=$(switches "$pid")
b0=$(switches "$idle_pid")
at0=$(ticks "$pid")
bt0=$(ticks "$idle_pid")
t0=$(uptime_cs)
sleep "$secs"
a1=$(switches "$pid")
b1=$(switches "$idle_pid")
at1=$(ticks "$pid")
bt1=$(ticks "$idle_pid")
t1=$(uptime_cs)
hz=$(getconf CLK_TCK)
awk -v a="$((a1 - a0))" -v b="$((b1 - b0))" -v at="$((at1 - at0))" -v bt="$((bt1 - bt0))" \
	-v dt="$((t1 - t0))" -v hz="$hz" 'BEGIN {
	s = dt / 100
	printf "bench: idle_wakeups_per_s %.2f per_s\n", a / s
	printf "bench: idle_cpu_percent %.3f percent\n", at / hz / s * 100
	printf "bench: chronyd_idle_wakeups_per_s %.2f per_s\n", b / s
	printf "bench: chronyd_idle_cpu_percent %.3f percent\n", bt / hz / s * 100
	# chronyd with nothing to do may not wake at all in the window: its
	# count is taken as at least 1, so the ratio is then a lower bound.
	printf "bench: idle_wakeups_ratio %.2f x\n", a / (b > 1 ? b : 1)
	printf "bench: idle_window %.2f s\n", s
	printf "bench: idle_switches %d ours, %d of chronyd\n", a, b
}'
kill -TERM "$idle_pid" "$pid" 2>/dev/null
wait "$idle_pid" "$pid" 2>/dev/null
exit 0
