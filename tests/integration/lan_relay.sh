#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The emulated LAN's delay line, tests/lan/tk_relay (tests/README.md, "The
# emulated LAN"), measured from its ends with tests/lan/tk_lanprobe: the
# namespaces share the kernel's clock, so each one-way delay is exact. Per
# direction: no packet earlier than the programmed minimum, none duplicated,
# the loss within a wide binomial bound, every packet accounted for; a full
# queue drops and counts; equal delays keep the order; bad command lines are
# refused with one line. Lower bounds and counts only: the machine may be
# loaded, so nothing here has an upper time limit.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
. "$top_srcdir/tests/lan/lan_lib.sh"
need_jq
PROBE="$top_builddir/tests/lan/tk_lanprobe"

# Bad values: exit 2 and one line naming the option and what was read.
bad() {
	"$LAN_RELAY" --port 9 --server 10.77.0.2 "$@" >"$tmpdir/bad.out" 2>"$tmpdir/bad.err"
	rc=$?
	[ $rc -eq 2 ] && [ "$(wc -l <"$tmpdir/bad.err")" -eq 1 ] &&
		grep -q -- "$1" "$tmpdir/bad.err" && grep -q -- "\"$2\"" "$tmpdir/bad.err"
}
tap_plan 23
for args in "--loss 1.5" "--up-delay -3" "--jitter abc" "--dist pareto" "--queue 0" \
	"--seed -1" "--server 10.77.0" "--rcvbuf 12"; do
	# shellcheck disable=SC2086
	if bad $args; then
		ok "tk_relay $args refused: $(cat "$tmpdir/bad.err")"
	else
		not_ok "tk_relay $args: exit $rc, stderr: $(cat "$tmpdir/bad.err")"
	fi
done

lan_need
lan_up 1 || ntp_unavailable "could not build the namespaces (veth, nftables tproxy)"

N=5000
both() { jqt "$1" "$2" && jqt "$3" "$4"; }
# relay_drained DIR: the relay read all N packets of that direction and
# none is waiting.
relay_drained() {
	lan_relay_stats &&
		jqt "$tmpdir/relay.json" ".$1.rx == $N and .$1.fwd + .$1.lost + .$1.full == .$1.rx"
}
sink_has() {
	kill -USR1 "$sink_pid" && wait_until 10 grep -q received "$tmpdir/sink.json" &&
		[ "$(tail -n 1 "$tmpdir/sink.json" | jq .received)" -ge "$1" ]
}
# one_way DIR FROM TO TO_ADDR MIN_NS: N probes FROM -> TO through the relay,
# then 4 TAP lines on that direction.
one_way() {
	rm -f "$tmpdir/sink.json"
	lan_bg "$3" "$tmpdir/sink.json" "$PROBE" sink 5000 "$N"
	sink_pid=$lan_last
	wait_until 30 grep -q ready "$tmpdir/sink.json.err"
	lan_exec "$2" "$PROBE" send "$4" 5000 $N 100
	wait_until 60 relay_drained "$1"
	diag "relay: $(jq -c ".$1" "$tmpdir/relay.json")"
	fwd=$(jq ".$1.fwd" "$tmpdir/relay.json")
	lost=$(jq ".$1.lost" "$tmpdir/relay.json")
	wait_until 30 sink_has "$fwd"
	tail -n 1 "$tmpdir/sink.json" >"$tmpdir/s.json"
	diag "sink: $(cat "$tmpdir/s.json")"
	check "$1: the relay read all $N ($(jq ".$1.rx" "$tmpdir/relay.json")), forwarded $fwd,\
 the sink got them all once: distinct $(jq .distinct "$tmpdir/s.json"),\
 dups $(jq .dups "$tmpdir/s.json")" \
		both "$tmpdir/s.json" ".distinct == $fwd and .received == $fwd and .dups == 0" \
		"$tmpdir/relay.json" ".$1.rx == $N"
	check "$1: no packet earlier than the programmed minimum: min $(jq .min_ns \
		"$tmpdir/s.json") ns >= $5 ns" jqt "$tmpdir/s.json" ".min_ns >= $5"
	# Binomial(5000, 0.1): mean 500, sd 21.2; 6 sd either side.
	check "$1: loss $lost of $N within 500 +- 127 (p = 0.1)" \
		test "$lost" -ge 373 -a "$lost" -le 627
	check "$1: no queue overflow at this rate ($(jq ".$1.full" "$tmpdir/relay.json")),\
 no send error ($(jq ".$1.send_err" "$tmpdir/relay.json"))" \
		jqt "$tmpdir/relay.json" ".$1.full == 0 and .$1.send_err == 0"
	# Gone before the next sink binds its port: an ASan build's exit (the
	# leak check) can hold the socket for seconds on a loaded machine, and
	# the next sink's bind then fails.
	kill -TERM "$sink_pid"
	wait "$sink_pid" 2>/dev/null
}

# Asymmetric: 300 us up, 100 us down, +-50 us uniform, 10 % loss each way.
lan_start "$tmpdir/relay.log" 300 100 50 0.1 --seed 7 ||
	ntp_unavailable "tk_relay did not start: $(cat "$tmpdir/relay.log")"
one_way up c1 s "$LAN_SERVER" 250000
one_way down s c1 "$(lan_client_addr 1)" 50000
kill -TERM "$lan_relay_pid"
wait "$lan_relay_pid"

# A normal law, 500 us +- 100 us (cut at 3 sd): nothing under 200 us.
lan_start "$tmpdir/relay2.log" 500 500 100 0.1 --seed 11 --dist normal ||
	ntp_unavailable "tk_relay did not start: $(cat "$tmpdir/relay2.log")"
one_way up c1 s "$LAN_SERVER" 200000
kill -TERM "$lan_relay_pid"
wait "$lan_relay_pid"

# A queue of 8 under a burst of 200 held 1 s each: drops counted as full,
# every packet accounted for, no reordering (equal delays keep the order).
lan_start "$tmpdir/relay3.log" 1000000 0 0 0 --queue 8 ||
	ntp_unavailable "tk_relay did not start: $(cat "$tmpdir/relay3.log")"
lan_bg s "$tmpdir/sink.json" "$PROBE" sink 5000 200
sink_pid=$lan_last
wait_until 30 grep -q ready "$tmpdir/sink.json.err"
lan_exec c1 "$PROBE" send "$LAN_SERVER" 5000 200 0
N=200
# rx may fall short of 200 if the socket overflowed first; wait for the
# queue to drain whatever arrived.
drained_any() {
	lan_relay_stats && jqt "$tmpdir/relay.json" \
		".up.rx > 0 and .up.fwd + .up.lost + .up.full == .up.rx"
}
wait_until 60 drained_any
wait_until 10 sink_has 1
lan_relay_stats
diag "relay: $(jq -c .up "$tmpdir/relay.json")"
fwd=$(jq .up.fwd "$tmpdir/relay.json")
wait_until 30 sink_has "$fwd"
tail -n 1 "$tmpdir/sink.json" >"$tmpdir/s.json"
diag "sink: $(cat "$tmpdir/s.json")" "sink's stderr: $(cat "$tmpdir/sink.json.err")"
check "queue full: $(jq .up.full "$tmpdir/relay.json") dropped and counted, rx = fwd + full" \
	jqt "$tmpdir/relay.json" '.up.full > 0 and .up.fwd + .up.full == .up.rx'
check "queue full: the sink got exactly the $fwd forwarded, in order (reordered $(jq \
	.reordered "$tmpdir/s.json"))" \
	jqt "$tmpdir/s.json" ".distinct == $fwd and .dups == 0 and .reordered == 0"
check "queue full: nothing earlier than 1 s (min $(jq .min_ns "$tmpdir/s.json") ns)" \
	jqt "$tmpdir/s.json" '.min_ns >= 1000000000'
[ $tap_failed -eq 0 ]
