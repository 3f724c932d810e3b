#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# A chronyd client syncs to a chronyd server over the emulated LAN
# (tests/lan/lan_lib.sh): 200 us +- 50 us each way, 20 us more on the way
# up, 1 % loss, through tk_relay. The client selects the server ('*') and its
# offset is sane (within 1 ms: both share the kernel's clock, so what it
# reports is its true error); the host clock is untouched. This proves the LAN
# carries NTP with real client addresses; how close a client gets is
# make bench-fleet's (bench/README.md).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
. "$top_srcdir/tests/lan/lan_lib.sh"
need_jq
ntp_need_root
ntp_need_chrony
lan_need
ntp_host_snapshot
lan_up 1 || ntp_unavailable "could not build the namespaces (veth, nftables tproxy)"
tap_plan 7
lan_start "$tmpdir/relay.log" 220 200 50 0.01 --seed 3 ||
	ntp_unavailable "tk_relay did not start: $(cat "$tmpdir/relay.log")"
lan_chrony_server srv || ntp_unavailable "the chronyd server did not start: $(cat \
	"$tmpdir/srv.log" "$tmpdir/srv.out.err")"
lan_chronyd c1 cli "server $LAN_SERVER iburst minpoll -2 maxpoll 0
port 0"

selected() {
	lan_chronyc c1 sources >"$tmpdir/sources" 2>&1 && grep -q "^\^\* *$LAN_SERVER" \
		"$tmpdir/sources"
}
if wait_until 90 selected; then
	ok "the client selected the server over the relay: $(grep "$LAN_SERVER" "$tmpdir/sources")"
else
	not_ok "not selected within 90 s: $(cat "$tmpdir/sources" "$tmpdir/cli.log")"
fi
# Eight samples in its statistics, then its own view and the server's.
samples() {
	lan_chronyc c1 sourcestats 2>/dev/null | awk -v s="$LAN_SERVER" '$1 == s { print $2 }'
}
enough_samples() {
	_np=$(samples)
	[ "${_np:-0}" -ge 8 ]
}
wait_until 120 enough_samples
lan_chronyc c1 tracking >"$tmpdir/tracking" 2>&1
diag "$(cat "$tmpdir/tracking")"
check "tracking: stratum 2, reference $LAN_SERVER" \
	grep -q "^Reference ID .*($LAN_SERVER)" "$tmpdir/tracking"
off=$(awk '/^System time/ { printf "%.0f", $4 * 1e9 }' "$tmpdir/tracking")
check "its offset from the shared clock, ${off:-?} ns, within 1 ms" \
	test "${off:-1000000000}" -lt 1000000
lan_chronyc_sock srv clients >"$tmpdir/clients" 2>&1
diag "$(cat "$tmpdir/clients")"
check "the server saw the client's own address, $(lan_client_addr 1)" \
	grep -q "^$(lan_client_addr 1) " "$tmpdir/clients"
# The load generator through the relay: replies, and every served transmit
# time between its request's send and its reply's receipt (one clock).
lan_exec c1 "$top_builddir/tests/lan/tk_ntpload" --server "$LAN_SERVER" --rate 200 \
	--seconds 1 --sockets 8 >"$tmpdir/load.json" 2>&1
diag "tk_ntpload: $(head -n 1 "$tmpdir/load.json")"
check "tk_ntpload: $(jq -s '.[0].replies' "$tmpdir/load.json") replies of $(jq -s \
	'.[0].sent' "$tmpdir/load.json"), no served time outside its request's round trip" \
	jqt "$tmpdir/load.json" 'select(.rate) | .replies > 0 and .causality == 0'
lan_relay_stats
diag "relay: $(cat "$tmpdir/relay.json")"
check "the requests went through the relay and were answered: $(jq -c \
	'{up: .up.fwd, down: .down.fwd}' "$tmpdir/relay.json")" \
	jqt "$tmpdir/relay.json" '.up.fwd > 0 and .down.fwd > 0 and .other == 0'
ntp_host_check
[ $tap_failed -eq 0 ]
