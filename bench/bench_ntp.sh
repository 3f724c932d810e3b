#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# NTP convergence, timekeeperd against chronyd, side by side in the same run
# (doc/architecture.md, section 11). `make bench-ntp` (or `make bench`) runs it as root;
# BENCH_NTP_SECONDS (default 180) sets the length, BENCH_NTP_MINPOLL and
# BENCH_NTP_MAXPOLL (default -2 and 0: polls every 0.25..1 s) the polling;
# BENCH_NTP_XLEAVE=1 puts both clients in interleaved mode (`xleave`);
# BENCH_NTP_SERVER=ntpsec serves from ntpsec's ntpd instead of chronyd (a
# server that is neither client; basic mode only, port 123);
# BENCH_NTP_PIN=A,B (an experiment, not a default) pins both clients to CPU
# A and the server to CPU B.
#
# One chronyd server on 127.0.0.1 (tests/integration/ntp_lib.sh: -x, no
# CAP_SYS_TIME, `local stratum 8`), run from a private copy of the chronyd
# binary (see below), serves the host clock. Two clients of it
# start together, with the same minpoll/maxpoll and iburst:
#   ours    timekeeperd, simulated devices whose crystal is 50 ppm fast,
#           [discipline] reference = ntp, no saved frequency: its clock
#           starts 50 ppm fast.
#   chronyd chronyd -x as a client (its own port and cmdport, no
#           CAP_SYS_TIME), its drift file seeded at +50 ppm: it believes the
#           host clock 50 ppm fast and corrects it by -50 ppm, so its clock
#           (its estimate of true time) starts 50 ppm slow. Same magnitude of
#           initial frequency error, same server, same polls, same machine.
# Once a second both are sampled:
#   ours_true     the host clock minus the page's CLOCK_REALTIME (mean of
#                 tk_offset over 0.1 s; the host clock is what the server
#                 serves, so this is the client's true error).
#   ours_meas     `timectl --json ntp` .offset_ns: the offset the daemon last
#                 measured to its servers (what it believes its error is).
#   chronyd_true  chronyc tracking "System time": how far chronyd's estimate
#                 of true time is from the system clock. With -x chronyd
#                 never changes the system clock, which is the host clock the
#                 server serves, so this is chronyd's true error, the same
#                 quantity as ours_true.
#   chronyd_meas  chronyc tracking "Last offset": the offset chronyd last
#                 measured, the same quantity as ours_meas.
# Results (`bench: <name> <value> <unit>`), from the true errors:
#   ntp_{ours,chronyd}_t10us / _t1us: seconds from the start to the first
#     sample after which every sample stays within 10 us / 1 us ("inf": the
#     last 10 samples are not all inside);
#   ntp_{ours,chronyd}_rms: RMS of the true error over the second half of the
#     run (the same window for both), and _meas_rms for the measured one;
#   ntp_{ours,chronyd}_mean: the mean true error over the same window (a
#     bias: host clock minus the client's clock, ns);
#   ntp_t10us_ratio, ntp_t1us_ratio, ntp_rms_ratio: ours / chronyd (< 1:
#     ours is faster or tighter). The goal is ratios <= 1.
# The samples are kept in $BENCH_NTP_KEEP (a file) when set.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
tap_skip_all() {
	echo "bench-ntp: skipped: $*"
	exit 0
}
command -v jq >/dev/null 2>&1 || tap_skip_all "jq is not installed"
ntp_need_root
ntp_need_chrony

secs=${BENCH_NTP_SECONDS:-180}
minpoll=${BENCH_NTP_MINPOLL:--2}
maxpoll=${BENCH_NTP_MAXPOLL:-0}
xleave=
[ "${BENCH_NTP_XLEAVE:-0}" = 0 ] || xleave=" xleave"
OFF="$top_builddir/tests/integration/tk_offset"

ntp_host_snapshot
server=${BENCH_NTP_SERVER:-chronyd}
case $server in
chronyd)
	port=$(ntp_free_port)
	ntp_start_chronyd_copy srv "$port" ||
		tap_skip_all "the chronyd server did not start: $(cat "$tmpdir/srv.log")"
	;;
ntpsec)
	ntp_need_ntpsec
	port=123
	ntp_start_ntpsec srv || tap_skip_all \
		"the ntpsec server did not start: $(cat "$tmpdir/srv.log")"
	;;
*)
	echo "bench-ntp: BENCH_NTP_SERVER must be chronyd or ntpsec, read \"$server\"" >&2
	exit 2
	;;
esac

t0=$(date +%s.%N)
ntp_start_pair "$port" "iburst$xleave minpoll $minpoll maxpoll $maxpoll" ||
	tap_skip_all "the daemon did not start: $(cat "$tmpdir/daemon.log")"
if [ -n "${BENCH_NTP_PIN:-}" ]; then
	# Experiment: the server on one CPU, both clients on the other.
	taskset -apc "${BENCH_NTP_PIN#*,}" "$srv_pid" >/dev/null
	taskset -apc "${BENCH_NTP_PIN%,*}" "$cli_pid" >/dev/null
	taskset -apc "${BENCH_NTP_PIN%,*}" "$pid" >/dev/null
fi

echo "bench-ntp: $secs s, $server server on 127.0.0.1:$port," \
	"minpoll $minpoll maxpoll $maxpoll${xleave:+, both clients}$xleave"
: >"$tmpdir/samples"
i=1
while [ $i -le "$secs" ]; do
	# Sample at t0 + i seconds.
	now=$(date +%s.%N)
	sleep "$(echo "$t0 $i $now" | awk '{ d = $1 + $2 - $3; print (d > 0 ? d : 0) }')"
	t=$(date +%s.%N)
	ot=$("$OFF" "$tmpdir/run/page" 0.1 | jq '.mean_ns // "nan"')
	om=$("$TIMECTL" --json ntp 2>/dev/null | jq '.offset_ns // "nan"')
	"$CHRONYC" -h 127.0.0.1 -p "$clicmd" tracking >"$tmpdir/tracking" 2>&1
	ct=$(awk '/^System time/ { v = $4 * 1e9; if ($6 == "slow") v = -v; printf "%.0f", v }' \
		"$tmpdir/tracking")
	cm=$(awk '/^Last offset/ { printf "%.0f", $4 * 1e9 }' "$tmpdir/tracking")
	echo "$t0 $t ${ot:-nan} ${om:-nan} ${ct:-nan} ${cm:-nan}" |
		awk '{ printf "%.1f %s %s %s %s\n", $2 - $1, $3, $4, $5, $6 }' >>"$tmpdir/samples"
	i=$((i + 1))
done
[ -z "${BENCH_NTP_KEEP:-}" ] || cp "$tmpdir/samples" "$BENCH_NTP_KEEP"
"$TIMECTL" ntp 2>&1 | sed 's/^/bench-ntp: /'
echo \
	"bench-ntp: ours: delay asymmetry in use $("$TIMECTL" --json ntp 2>/dev/null | jq \
	'.servers[0].asymmetry')"
sed -n '/^Reference/,/^Leap/p' "$tmpdir/tracking" | sed 's/^/bench-ntp: chronyd: /'

# Columns: t ours_true ours_meas chronyd_true chronyd_meas (ns).
awk -v n="$(wc -l <"$tmpdir/samples")" -f "$top_srcdir/bench/offset_stats.awk" \
	-f /dev/stdin "$tmpdir/samples" <<'EOF'
{ t[NR] = $1; for (c = 2; c <= 5; c++) v[NR, c] = $c }
END {
	o10 = within(2, 10000); c10 = within(4, 10000)
	o1 = within(2, 1000); c1 = within(4, 1000)
	orms = rms(2); crms = rms(4)
	printf "bench: ntp_ours_t10us %s s\n", o10
	printf "bench: ntp_chronyd_t10us %s s\n", c10
	printf "bench: ntp_t10us_ratio %s ratio\n", ratio(o10, c10)
	printf "bench: ntp_ours_t1us %s s\n", o1
	printf "bench: ntp_chronyd_t1us %s s\n", c1
	printf "bench: ntp_t1us_ratio %s ratio\n", ratio(o1, c1)
	printf "bench: ntp_ours_rms %.0f ns\n", orms
	printf "bench: ntp_chronyd_rms %.0f ns\n", crms
	printf "bench: ntp_rms_ratio %s ratio\n", ratio(orms, crms)
	printf "bench: ntp_ours_mean %.0f ns\n", mean(2)
	printf "bench: ntp_chronyd_mean %.0f ns\n", mean(4)
	printf "bench: ntp_ours_meas_rms %.0f ns\n", rms(3)
	printf "bench: ntp_chronyd_meas_rms %.0f ns\n", rms(5)
}
EOF

"$HOSTCLOCK" >"$tmpdir/host1.json"
jq -s -r 'if .[0].freq == .[1].freq and .[0].tick == .[1].tick and
	((.[1].realtime_minus_monotonic_ns - .[0].realtime_minus_monotonic_ns) | fabs) < 1000000
	then "bench-ntp: host clock untouched"
	else "bench-ntp: WARNING: the host clock changed during the run" end' \
	"$tmpdir/host0.json" "$tmpdir/host1.json"
