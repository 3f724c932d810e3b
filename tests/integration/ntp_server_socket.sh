#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# [ntp_server] on port 123 by socket activation, as systemd/timekeeperd.socket
# does it: systemd-socket-activate binds [::]:123 (IPv4 and IPv6 on one
# socket, like the unit's ListenDatagram=123 with BindIPv6Only=both) in a
# network namespace of its own, and on the first datagram execs the daemon
# with the socket in LISTEN_FDS and without CAP_NET_BIND_SERVICE in its
# bounding set (setpriv). The daemon then
#  - serves IPv4 (a v4-mapped sender, matched by the IPv4 allow line) and
#    IPv6 clients on the socket it was given;
#  - cannot bind port 123 itself: its own listen line on 127.0.0.2:123 is
#    refused with one line naming the capability, and it keeps running;
#  - counts the socket in `timectl ntp-server`, and asks the kernel for no
#    transmit timestamp, its clients being in basic mode.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
need_jq
ntp_need_root
command -v python3 >/dev/null 2>&1 || ntp_unavailable "python3 not found"
command -v ip >/dev/null 2>&1 || ntp_unavailable "ip (iproute2) not found"
command -v setpriv >/dev/null 2>&1 || ntp_unavailable "setpriv (util-linux) not found"
SSA=$(command -v systemd-socket-activate) ||
	ntp_unavailable "systemd-socket-activate (systemd) not found"
Q="python3 $top_srcdir/tests/integration/ntp_query.py"
tap_plan 8

ns=tknsock$$
ssa_pid=
sock_cleanup() {
	[ -z "$ssa_pid" ] || kill -KILL "$ssa_pid" 2>/dev/null
	ntp_cleanup
	ip netns del "$ns" 2>/dev/null
}
trap sock_cleanup EXIT
ip netns add "$ns" && ip netns exec "$ns" ip link set lo up ||
	ntp_unavailable "cannot make a network namespace"
in_ns() { ip netns exec "$ns" "$@"; }
v6=0
in_ns sh -c 'ip -6 addr show dev lo | grep -q "::1/128"' && v6=1

printf '%s\n' '[daemon]' "runtime_dir = $tmpdir/run" "state_dir = $tmpdir/state" \
	"$TK_USER_LINE" '[discipline]' 'reference = system' '[ntp_server]' \
	'listen = 127.0.0.2:123' 'allow = 127.0.0.0/8' 'allow = ::1/128' \
	'ratelimit_interval = -4' '[sim]' 'devices = hpet,acpi_pm,tsc' \
	'host_adjtimex = synced' 'host_maxerror_us = 1000' >"$tmpdir/d.conf"
chmod 644 "$tmpdir/d.conf"
export TIMEKEEPER_RUNTIME_DIR="$tmpdir/run"

# ip netns exec, systemd-socket-activate and setpriv each exec the next: $!
# is the daemon's pid once it runs.
ip netns exec "$ns" "$SSA" --datagram -l 123 setpriv --bounding-set -net_bind_service \
	"$TKD" -f -c "$tmpdir/d.conf" >"$tmpdir/ssa.out" 2>"$tmpdir/daemon.log" &
ssa_pid=$!
bound() { in_ns ss -Hunl 2>/dev/null | grep -q ':123 '; }
check "systemd-socket-activate holds port 123" wait_until 60 bound

# The first datagram starts the daemon; it may or may not be answered before
# the page is up, so it is not judged.
in_ns $Q query 123 127.0.0.1 >"$tmpdir/wake.json" 2>&1
page_up() { [ -s "$tmpdir/run/page" ] && [ -S "$tmpdir/run/control" ]; }
check "the first datagram started the daemon (its page and control socket)" \
	wait_until 60 page_up

# The same process (exec, not fork) got the socket, then dropped to its user
# with nothing left; that it never had CAP_NET_BIND_SERVICE shows below.
capeff=$(awk '$1 == "CapEff:" { print $2 }' "/proc/$ssa_pid/status" 2>/dev/null)
comm=$(cat "/proc/$ssa_pid/comm" 2>/dev/null)
check "the process that held the socket is the daemon (comm ${comm:-?}, CapEff ${capeff:-?})" \
	[ "$comm/$capeff" = timekeeperd/0000000000000000 ]

served() {
	in_ns $Q query 123 "$1" "$2" >"$tmpdir/q.json" 2>&1 &&
		jq -e '.reply and .mode == 4 and .stratum >= 1 and .stratum <= 15 and
			.leap != 3 and .origin_ok' "$tmpdir/q.json" >/dev/null
}
if wait_until 60 served 127.0.0.1 127.0.0.1; then
	ok "an IPv4 client is served on the passed socket: $(cat "$tmpdir/q.json")"
else
	not_ok "an IPv4 client is served on the passed socket (last: $(cat "$tmpdir/q.json"))"
	diag "$(tail -n 20 "$tmpdir/daemon.log")"
fi
if [ $v6 = 1 ]; then
	if served ::1 ::1; then
		ok "an IPv6 client is served on the same socket: $(cat "$tmpdir/q.json")"
	else
		not_ok "an IPv6 client is served on the same socket (got $(cat "$tmpdir/q.json"))"
	fi
else
	ok "# SKIP no ::1 in the namespace"
fi

line=$(grep -m1 '127.0.0.2:123' "$tmpdir/daemon.log")
check "its own bind of 127.0.0.2:123 is refused in one line naming the capability: $line" \
	sh -c 'echo "$1" | grep -q CAP_NET_BIND_SERVICE' sh "$line"
"$top_builddir/timectl" --json ntp-server >"$tmpdir/srv.json" 2>&1
# Basic clients only: no reply asked the kernel for its transmit time.
check "timectl ntp-server: 1 socket, replies, no TX stamps: $(cat "$tmpdir/srv.json")" \
	jqt "$tmpdir/srv.json" \
	'.enabled and .sockets == 1 and .replies >= 2 and .tx_timestamps == 0'
check "the daemon still runs" kill -0 "$ssa_pid"
