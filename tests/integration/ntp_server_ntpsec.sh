#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# [ntp_server] against ntpsec's ntpd as a client. ntpd can only talk from and
# to port 123 and refuses loopback addresses but 127.0.0.1 as a server, so it
# runs in a network namespace of its own, joined to this one by a veth pair
# (169.254.213.1 here, .2 there): the daemon (reference = system, a
# synchronized simulated host) serves on 169.254.213.1:123, and ntpd, its
# clock discipline off and without CAP_SYS_TIME, selects it: its peerstats
# show the daemon as sys.peer (ntpq, which would say so too, needs ntpsec's
# Python module, which is not unpacked).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
need_jq
ntp_need_root
ntp_need_ntpsec
command -v ip >/dev/null 2>&1 || ntp_unavailable "ip (iproute2) not found"
tap_plan 4

ns=tkntps$$
va=tkv$$a
vb=tkv$$b
netns_cleanup() {
	ntp_cleanup
	ip netns del "$ns" 2>/dev/null
	ip link del "$va" 2>/dev/null
}
trap netns_cleanup EXIT
ip netns add "$ns" && ip link add "$va" type veth peer name "$vb" &&
	ip link set "$vb" netns "$ns" && ip addr add 169.254.213.1/30 dev "$va" &&
	ip link set "$va" up && ip netns exec "$ns" ip addr add 169.254.213.2/30 dev "$vb" &&
	ip netns exec "$ns" ip link set "$vb" up && ip netns exec "$ns" ip link set lo up ||
	ntp_unavailable "cannot make a network namespace and a veth pair"

ntp_host_snapshot
ntp_start_daemon "$tmpdir/daemon.log" "[discipline]
reference = system
[ntp_server]
listen = 169.254.213.1:123
allow = 169.254.213.0/30
ratelimit_interval = 0
[sim]
devices = hpet,acpi_pm,tsc
host_adjtimex = synced
host_maxerror_us = 1000"
trap netns_cleanup EXIT
check "daemon serving on 169.254.213.1:123" wait_until 30 ntp_port_taken 123

mkdir -p "$tmpdir/cli.stats"
cat >"$tmpdir/cli.conf" <<EOC
server 169.254.213.1 iburst minpoll 3 maxpoll 3
disable ntp kernel
driftfile $tmpdir/cli.drift
statsdir $tmpdir/cli.stats/
statistics peerstats
filegen peerstats file peerstats type none enable
EOC
ip netns exec "$ns" setpriv --bounding-set -sys_time "$NTPD" -n -c "$tmpdir/cli.conf" \
	-p "$tmpdir/cli.pid" -l "$tmpdir/cli.log" >"$tmpdir/cli.out" 2>&1 &
ntp_pids="$ntp_pids $!"
# peerstats: MJD SECONDS SOURCE STATUS(hex) OFFSET DELAY DISPERSION JITTER;
# the status word's select field (its second hex digit) 6 is sys.peer.
sys_peer() {
	awk '$3 == "169.254.213.1" && substr($4, 2, 1) == "6" { f = 1 } END { exit !f }' \
		"$tmpdir/cli.stats/peerstats" 2>/dev/null
}
if wait_until 120 sys_peer; then ok "ntpsec ntpd selects the daemon: $(awk \
	'$3 == "169.254.213.1"' "$tmpdir/cli.stats/peerstats" | tail -n 1)"; else not_ok \
	"ntpsec ntpd did not select it: $(tail -n 3 "$tmpdir/cli.stats/peerstats" 2>&1) \
$(tail -n 5 "$tmpdir/cli.log")"; fi
"$TIMECTL" --json ntp-server >"$tmpdir/srv.json"
check "counters: replies to ntpd, none dropped: $(cat "$tmpdir/srv.json")" \
	jqt "$tmpdir/srv.json" '.replies > 0 and .dropped_rate == 0 and .kod_rate == 0'
ntp_host_check
diag "ntpd log:" "$(tail -n 20 "$tmpdir/cli.log")"
exit 0
