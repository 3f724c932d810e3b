#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Serving a fleet, and our client judged, over the emulated LAN
# (tests/lan/lan_lib.sh; bench/README.md, "A fleet over an emulated LAN").
# `make bench-fleet` runs it as root. One LAN for the whole run: a server
# namespace, the middle one with the delay line (tk_relay by default,
# LAN_MODE=netem where the kernel has sch_netem), 8 client namespaces; each
# way 200 us +- 50 us (uniform), 20 us more on the way up, 1 % loss, a fixed
# seed (BENCH_FLEET_DELAY_US, _JITTER_US, _ASYM_US, _LOSS, _SEED). All the
# namespaces share the kernel's clock: every error below is a true error.
#
# 1. Client accuracy (BENCH_FLEET_CLIENT_SECONDS, default 180): one chronyd
#    server (`local stratum 1`, from its own copy of the binary as in
#    bench_ntp.sh), and side by side, same polling (BENCH_FLEET_POLL, default
#    "iburst minpoll -2 maxpoll 0"):
#      ours     timekeeperd in client 1, simulated devices 50 ppm fast,
#               reference = ntp; its error is the page's REALTIME against the
#               kernel's (tk_offset, mean of 0.1 s at 100 Hz, each second);
#      chronyd  chronyd -x in client 2, drift file seeded at +50 ppm; it never
#               steers the clock it reads, which is the clock the server
#               serves, so its own estimate of the system clock's error
#               (chronyc tracking "System time") is its true error.
#    bench: fleet_{ours,chronyd}_rms (second half), fleet_client_rms_ratio
#    (ours / chronyd), fleet_{ours,chronyd}_t10us (seconds until within 10 us
#    for good: 10 samples or more to the end; "inf" if not) and their ratio.
# 2. Server capacity: tk_ntpload in the middle namespace, 64 sockets over 32
#    addresses of its own, straight to the server (not through the relay:
#    the server is measured, not the relay), the rate stepped by x1.5 from
#    BENCH_FLEET_LOAD_RATE (2000/s) for BENCH_FLEET_LOAD_SECONDS (2 s) a step
#    up to 1 % loss (a rate that loses more gets a second run before the
#    search ends); against chronyd, then timekeeperd's [ntp_server]
#    (reference = system, local_stratum = 1, allow = all, ratelimit = no as
#    chronyd without a ratelimit line;
#    BENCH_FLEET_TKD_SERVER_EXTRA adds lines to that section).
#    bench: fleet_{chronyd,ours}_capacity (req/s under 1 % loss),
#    _capacity_p99 (|served time - midpoint of the request's send and
#    receive| p99 at that rate, ns), fleet_server_capacity_ratio (ours /
#    chronyd: > 1 serves more).
# 3. Served accuracy (BENCH_FLEET_SERVED_SECONDS, default 120 each): 8
#    chronyd -x clients, one per client namespace, served by timekeeperd
#    (as in 2) then by chronyd (`local stratum 1`); each client's "System
#    time" once a second. bench: fleet_served_{ours,chronyd}_rms (all
#    clients, second half), fleet_served_rms_ratio (ours / chronyd).
# Parts 2 and 3 for timekeeperd need its NTP server: when the daemon rejects
# [ntp_server] the script says "timekeeperd has no [ntp_server]" and prints
# chronyd's numbers alone. Ratios < 1 are better for RMS, > 1 for capacity.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
. "$top_srcdir/tests/lan/lan_lib.sh"
tap_skip_all() {
	echo "bench-fleet: skipped: $*"
	exit 0
}
command -v jq >/dev/null 2>&1 || tap_skip_all "jq is not installed"
ntp_need_root
ntp_need_chrony
lan_need

csecs=${BENCH_FLEET_CLIENT_SECONDS:-180}
ssecs=${BENCH_FLEET_SERVED_SECONDS:-120}
poll=${BENCH_FLEET_POLL:-iburst minpoll -2 maxpoll 0}
delay=${BENCH_FLEET_DELAY_US:-200}
jitter=${BENCH_FLEET_JITTER_US:-50}
asym=${BENCH_FLEET_ASYM_US:-20}
loss=${BENCH_FLEET_LOSS:-0.01}
seed=${BENCH_FLEET_SEED:-1}
OFF="$top_builddir/tests/integration/tk_offset"
LOAD="$top_builddir/tests/lan/tk_ntpload"
NCLI=8

ntp_host_snapshot
lan_up $NCLI || tap_skip_all "could not build the namespaces (veth, nftables tproxy)"
# The relay under SCHED_FIFO: it sleeps between packets and never spins, and
# the clients' load must not make it late.
lan_start "$tmpdir/relay.log" $((delay + asym)) "$delay" "$jitter" "$loss" --seed "$seed" \
	--fifo "${BENCH_FLEET_RELAY_FIFO:-1}" ||
	tap_skip_all "the delay line did not start: $(cat "$tmpdir/relay.log"*)"
echo "bench-fleet: LAN ${LAN_MODE:-relay}: ${delay} us +- ${jitter} us each way," \
	"+${asym} us up, loss $loss, seed $seed; $NCLI clients; polling \"$poll\""

# stop PID: ends one process this script started, waiting for it.
stop() {
	kill -TERM "$1" 2>/dev/null
	wait_until 10 sh -c '! kill -0 "$1" 2>/dev/null' sh "$1" || kill -KILL "$1" 2>/dev/null
}

# A private copy of chronyd serves (bench_ntp.sh says why).
cp "$CHRONYD" "$tmpdir/chronyd-srv"
chrony_server() {
	_cli=$CHRONYD
	CHRONYD=$tmpdir/chronyd-srv
	lan_chrony_server "$1"
	_rc=$?
	CHRONYD=$_cli
	return $_rc
}

# tkd NS NAME SECTIONS: timekeeperd in namespace NS, runtime dir
# $tmpdir/NAME.run, state $tmpdir/NAME.state, log $tmpdir/NAME.log; pid in
# ${NAME}_pid. Non-zero unless its page appears within 30 s.
tkd() {
	printf '[daemon]\nruntime_dir = %s/%s.run\nstate_dir = %s/%s.state\n%s\n%b' \
		"$tmpdir" "$2" "$tmpdir" "$2" "$TK_USER_LINE" "$3" >"$tmpdir/$2.conf"
	chmod 644 "$tmpdir/$2.conf"
	lan_bg "$1" "$tmpdir/$2.log" "$TKD" -f -c "$tmpdir/$2.conf"
	eval "${2}_pid=$lan_last"
	wait_until 30 test -s "$tmpdir/$2.run/page"
}

srv_sections="[discipline]\nreference = system\n[ntp_server]\nlisten = $LAN_SERVER\n"
srv_sections="${srv_sections}allow = all\nratelimit = no\nlocal_stratum = 1\n"
srv_sections="${srv_sections}${BENCH_FLEET_TKD_SERVER_EXTRA:-}\n"
printf "$srv_sections" | sed "1i [daemon]\nruntime_dir = $tmpdir/probe.run" >"$tmpdir/probe.conf"
if "$TKD" --dump-config -c "$tmpdir/probe.conf" >/dev/null 2>"$tmpdir/probe.err"; then
	have_server=1
else
	have_server=0
	echo "bench-fleet: timekeeperd has no [ntp_server]: its server parts are skipped" \
		"($(head -n 1 "$tmpdir/probe.err"))"
fi

# system_time NS: chronyd's "System time" in namespace NS, ns (+: fast).
system_time() {
	lan_chronyc "$1" tracking 2>/dev/null |
		awk '/^System time/ { v = $4 * 1e9; if ($6 == "slow") v = -v; printf "%.0f", v }'
}

# tick T0 I: sleeps until T0 + I seconds.
tick() {
	sleep "$(echo "$1 $2 $(date +%s.%N)" | awk '{ d = $1 + $2 - $3; print (d > 0 ? d : 0) }')"
}

# ---- 1. client accuracy -----------------------------------------------------
chrony_server srv || tap_skip_all "the chronyd server did not start: $(cat "$tmpdir/srv.log")"
printf '50.000 0.100\n' >"$tmpdir/cli.drift"
t0=$(date +%s.%N)
tkd c1 ours "$(ntp_sim_sections "server = $LAN_SERVER $poll")" ||
	tap_skip_all "the daemon did not start: $(cat "$tmpdir/ours.log"*)"
lan_chronyd c2 cli "server $LAN_SERVER $poll
port 0"
echo "bench-fleet: client accuracy, $csecs s: timekeeperd in client 1, chronyd -x in client 2"
: >"$tmpdir/samples"
i=1
while [ $i -le "$csecs" ]; do
	tick "$t0" $i
	t=$(date +%s.%N)
	ot=$("$OFF" "$tmpdir/ours.run/page" 0.1 | jq '.mean_ns // "nan"')
	ct=$(system_time c2)
	echo "$t0 $t ${ot:-nan} ${ct:-nan}" |
		awk '{ printf "%.1f %s %s\n", $2 - $1, $3, $4 }' >>"$tmpdir/samples"
	i=$((i + 1))
done
[ -z "${BENCH_FLEET_KEEP:-}" ] || cp "$tmpdir/samples" "$BENCH_FLEET_KEEP.client"
TIMEKEEPER_RUNTIME_DIR=$tmpdir/ours.run "$TIMECTL" ntp 2>&1 | sed 's/^/bench-fleet: ours: /'
lan_chronyc c2 tracking 2>&1 | sed -n '/^Reference/,/^Leap/p' | sed 's/^/bench-fleet: chronyd: /'
# The path's asymmetry puts any NTP client off by half of it: with more delay
# up, a client's clock ends ahead, which these samples (the kernel's clock
# minus the client's) show as -asym/2. The RMS is that bias and the client's
# own scatter: the mean and standard deviation tell them apart.
awk -v n="$(wc -l <"$tmpdir/samples")" -v bias="$((-asym * 500))" \
	-f "$top_srcdir/bench/offset_stats.awk" -f /dev/stdin "$tmpdir/samples" <<'EOF'
{ t[NR] = $1; v[NR, 2] = $2; v[NR, 3] = $3 }
END {
	o = rms(2); c = rms(3); o10 = within(2, 10000); c10 = within(3, 10000)
	om = mean(2); cm = mean(3)
	printf "bench: fleet_ours_rms %.0f ns\n", o
	printf "bench: fleet_chronyd_rms %.0f ns\n", c
	printf "bench: fleet_client_rms_ratio %s ratio\n", ratio(o, c)
	printf "bench: fleet_ours_mean %.0f ns (the path alone: %d)\n", om, bias
	printf "bench: fleet_chronyd_mean %.0f ns\n", cm
	printf "bench: fleet_ours_sd %.0f ns\n", sqrt(o * o - om * om)
	printf "bench: fleet_chronyd_sd %.0f ns\n", sqrt(c * c - cm * cm)
	printf "bench: fleet_ours_t10us %s s\n", o10
	printf "bench: fleet_chronyd_t10us %s s\n", c10
	printf "bench: fleet_t10us_ratio %s ratio\n", ratio(o10, c10)
}
EOF
stop "$ours_pid"
stop "$cli_pid"

# ---- 2. server capacity -----------------------------------------------------
for k in $(seq 100 131); do
	ip -n "$(lan_ns m)" addr add "10.77.0.$k/24" dev s0
done
# capacity NAME: tk_ntpload against whatever serves on the server now;
# prints the runs, keeps the last line in $tmpdir/NAME.cap.
capacity() {
	lan_exec m "$LOAD" --server "$LAN_SERVER" --sockets 64 --src 10.77.0.100 --nsrc 32 \
		--rate "${BENCH_FLEET_LOAD_RATE:-2000}" --seconds "${BENCH_FLEET_LOAD_SECONDS:-2}" \
		--step 1.5 --max-rate 1000000 --tries 2 >"$tmpdir/$1.load" 2>&1
	sed "s/^/bench-fleet: $1 load: /" "$tmpdir/$1.load"
	tail -n 1 "$tmpdir/$1.load" >"$tmpdir/$1.cap"
	printf 'bench: fleet_%s_capacity %s req/s\n' "$1" \
		"$(jq '.capacity_rate // "nan"' "$tmpdir/$1.cap")"
	printf 'bench: fleet_%s_capacity_p99 %s ns\n' "$1" \
		"$(jq '.err_abs_p99_ns // "nan"' "$tmpdir/$1.cap")"
}
capacity chronyd
stop "$srv_pid"
if [ $have_server = 1 ]; then
	if tkd s tsrv "$srv_sections" && wait_until 30 lan_listens s 123; then
		capacity ours
		jq -rs '"bench: fleet_server_capacity_ratio " + (if .[1].capacity_rate > 0 then
			(.[0].capacity_rate / .[1].capacity_rate * 100 | round / 100 | tostring)
			else "nan" end) + " ratio"' "$tmpdir/ours.cap" "$tmpdir/chronyd.cap"
	else
		echo "bench-fleet: timekeeperd's server did not start: $(cat "$tmpdir/tsrv.log"*)"
		have_server=0
	fi
	stop "$tsrv_pid"
fi
for k in $(seq 100 131); do
	ip -n "$(lan_ns m)" addr del "10.77.0.$k/24" dev s0
done

# ---- 3. served accuracy -----------------------------------------------------
# served NAME: $NCLI chronyd -x clients of whatever serves now, for $ssecs s;
# one line per second of their "System time"s into $tmpdir/NAME.served.
served() {
	_pids=
	for c in $(seq 1 $NCLI); do
		lan_chronyd "c$c" "$1c$c" "server $LAN_SERVER $poll
port 0"
		_pids="$_pids $lan_last"
	done
	t0=$(date +%s.%N)
	: >"$tmpdir/$1.served"
	i=1
	while [ $i -le "$ssecs" ]; do
		tick "$t0" $i
		_l=
		for c in $(seq 1 $NCLI); do
			_v=$(system_time "c$c")
			_l="$_l ${_v:-nan}"
		done
		echo "$_l" >>"$tmpdir/$1.served"
		i=$((i + 1))
	done
	[ -z "${BENCH_FLEET_KEEP:-}" ] || cp "$tmpdir/$1.served" "$BENCH_FLEET_KEEP.$1"
	for p in $_pids; do
		stop "$p"
	done
	awk -v name="$1" '{ r[NR] = $0 } END {
		for (k = int(NR / 2) + 1; k <= NR; k++) {
			nf = split(r[k], f, " ")
			for (j = 1; j <= nf; j++)
				if (f[j] != "nan") { s += f[j] * f[j]; m++ }
		}
		v = m ? sprintf("%.0f", sqrt(s / m)) : "nan"
		printf "bench: fleet_served_%s_rms %s ns\n", name, v
	}' "$tmpdir/$1.served" | tee "$tmpdir/$1.rms"
}
if [ $have_server = 1 ]; then
	echo "bench-fleet: served accuracy, $ssecs s: $NCLI chronyd -x clients of timekeeperd"
	if tkd s tsrv2 "$srv_sections" && wait_until 30 lan_listens s 123; then
		served ours
	else
		echo "bench-fleet: timekeeperd's server did not start: $(cat "$tmpdir/tsrv2.log"*)"
		have_server=0
	fi
	stop "$tsrv2_pid"
fi
echo "bench-fleet: served accuracy, $ssecs s: $NCLI chronyd -x clients of chronyd"
chrony_server srv2 || tap_skip_all "the chronyd server did not start: $(cat "$tmpdir/srv2.log")"
served chronyd
stop "$srv2_pid"
if [ $have_server = 1 ]; then
	awk '{ v[FILENAME] = $3 } END {
		o = v[ARGV[1]]; c = v[ARGV[2]]
		printf "bench: fleet_served_rms_ratio %s ratio\n",
			(o != "nan" && c != "nan" && c > 0) ? sprintf("%.2f", o / c) : "nan"
	}' "$tmpdir/ours.rms" "$tmpdir/chronyd.rms"
fi

lan_relay_stats 2>/dev/null && echo "bench-fleet: relay: $(cat "$tmpdir/relay.json")"
"$HOSTCLOCK" >"$tmpdir/host1.json"
jq -s -r 'if .[0].freq == .[1].freq and .[0].tick == .[1].tick and
	((.[1].realtime_minus_monotonic_ns - .[0].realtime_minus_monotonic_ns) | fabs) < 1000000
	then "bench-fleet: host clock untouched"
	else "bench-fleet: WARNING: the host clock changed during the run" end' \
	"$tmpdir/host0.json" "$tmpdir/host1.json"
