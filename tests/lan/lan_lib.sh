# SPDX-License-Identifier: GPL-2.0-or-later
# The emulated LAN (tests/README.md, "The emulated LAN"), sourced after
# tests/integration/lib.sh: network namespaces joined by veth pairs, one for
# the server, one in the middle that routes, and N clients (1..9):
#
#   server 10.77.0.2 --- 10.77.0.1 [middle] 10.77.i.1 --- 10.77.i.2 client i
#
# All of them share the kernel's clock, so a client's true error is exact.
# The middle namespace holds the delay line. Where the kernel has sch_netem,
# lan_up can use it (LAN_MODE=netem: a netem qdisc on each of the middle's
# egress ports); this kernel has none, so by default (LAN_MODE=relay) an
# nftables `tproxy` rule in the middle hands every UDP packet to or from the
# server to tests/lan/tk_relay, which sends it on after its delay with its
# own source and destination: the server sees each client's real address
# and port. Only namespaces named tklan<PID>-* are created (in parallel runs
# they do not collide; the addresses live inside them), the host's own
# interfaces, addresses and routes are never touched, and lan_down (the EXIT
# trap lan_up sets, after the caller's ntp_cleanup when there is one) stops
# what ran in them by pid and deletes them.

LAN_NS=tklan$$
LAN_SERVER=10.77.0.2
LAN_RELAY_PORT=9
LAN_RELAY="$top_builddir/tests/lan/tk_relay"
LAN_N=0
lan_pids=""
lan_relay_pid=

# lan_ns NAME: the namespace's full name (s, m, c1..c9).
lan_ns() { echo "$LAN_NS-$1"; }
# lan_exec NAME CMD...: CMD inside namespace NAME.
lan_exec() {
	_n=$1
	shift
	ip netns exec "$LAN_NS-$_n" "$@"
}
# lan_client_addr I: client I's address.
lan_client_addr() { echo "10.77.$1.2"; }

# lan_need: skips (or, as ntp_required, fails) the test when the LAN cannot
# be built here: not root, no ip/nft, no veth.
lan_need() {
	[ "$(id -u)" -eq 0 ] || ntp_unavailable "needs root: it creates network namespaces"
	command -v ip >/dev/null 2>&1 || ntp_unavailable "ip (iproute2) not found"
	command -v nft >/dev/null 2>&1 || ntp_unavailable "nft (nftables) not found"
	[ -x "$LAN_RELAY" ] || ntp_unavailable "$LAN_RELAY not built"
}

# lan_netem_works: the kernel has sch_netem (tried on a throwaway namespace).
lan_netem_works() {
	ip netns add "$LAN_NS-probe" 2>/dev/null || return 1
	ip -n "$LAN_NS-probe" link set lo up
	tc -n "$LAN_NS-probe" qdisc add dev lo root netem delay 1ms >/dev/null 2>&1
	_rc=$?
	ip netns del "$LAN_NS-probe"
	return $_rc
}

lan_down() {
	for _p in $lan_pids; do
		kill -TERM "$_p" 2>/dev/null
	done
	for _p in $lan_pids; do
		_i=0
		while kill -0 "$_p" 2>/dev/null && [ $_i -lt 30 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		kill -KILL "$_p" 2>/dev/null
	done
	lan_pids=""
	_all=$(ip netns list 2>/dev/null | awk -v p="$LAN_NS-" 'index($1, p) == 1 { print $1 }')
	for _n in $_all; do
		ip netns del "$_n" 2>/dev/null
	done
}

lan_exit() {
	lan_down
	if command -v ntp_cleanup >/dev/null 2>&1; then
		ntp_cleanup
	else
		rm -rf "$tmpdir"
	fi
}

# lan_bg NAME LOG CMD...: CMD in the background inside namespace NAME, its
# stdout in LOG, its stderr in LOG.err; its pid in lan_last (stopped by
# lan_down).
lan_bg() {
	_n=$1
	_log=$2
	shift 2
	# Emptied here, not only by the background job's redirections: a caller
	# that waits for a line in LOG.err ("ready") must not find the one a
	# previous process left there before the new one has even started (a
	# SIGUSR1 sent then kills a sink that has not blocked it yet).
	: >"$_log"
	: >"$_log.err"
	ip netns exec "$LAN_NS-$_n" "$@" >"$_log" 2>"$_log.err" &
	lan_last=$!
	lan_pids="$lan_pids $lan_last"
}

# lan_up N: the namespaces, links, addresses and routes for N clients, and
# the interception of the server's UDP traffic in the middle (LAN_MODE
# relay) or nothing yet (netem: lan_netem sets the delays). Sets the EXIT
# trap. Non-zero, saying why on stderr, if a step failed.
lan_up() {
	LAN_N=$1
	trap lan_exit EXIT
	for _n in s m $(seq -f 'c%g' 1 "$LAN_N"); do
		ip netns add "$LAN_NS-$_n" || return 1
		ip -n "$LAN_NS-$_n" link set lo up || return 1
	done
	_m=$LAN_NS-m
	ip -n "$_m" link add s0 type veth peer name eth0 netns "$LAN_NS-s" || return 1
	ip -n "$_m" addr add 10.77.0.1/24 dev s0
	ip -n "$_m" link set s0 up
	ip -n "$LAN_NS-s" addr add "$LAN_SERVER/24" dev eth0
	ip -n "$LAN_NS-s" link set eth0 up
	ip -n "$LAN_NS-s" route add default via 10.77.0.1
	for _i in $(seq 1 "$LAN_N"); do
		ip -n "$_m" link add "c$_i" type veth peer name eth0 netns "$LAN_NS-c$_i" ||
			return 1
		ip -n "$_m" addr add "10.77.$_i.1/24" dev "c$_i"
		ip -n "$_m" link set "c$_i" up
		ip -n "$LAN_NS-c$_i" addr add "10.77.$_i.2/24" dev eth0
		ip -n "$LAN_NS-c$_i" link set eth0 up
		ip -n "$LAN_NS-c$_i" route add default via "10.77.$_i.1"
	done
	lan_exec m sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 || return 1
	[ "${LAN_MODE:-relay}" = netem ] && return 0
	# TPROXY: UDP to or from the server, but for the middle's own
	# addresses (10.77.0.0/24: a load generator there talks to the server
	# directly), is delivered to the relay's socket on port 9 unchanged.
	ip -n "$_m" rule add fwmark 1 lookup 100 || return 1
	ip -n "$_m" route add local 0.0.0.0/0 dev lo table 100 || return 1
	lan_exec m nft -f - <<EOF || return 1
table ip tklan {
	chain pre {
		type filter hook prerouting priority mangle; policy accept;
		meta l4proto udp ip daddr $LAN_SERVER ip saddr != 10.77.0.0/24 \
			tproxy to :$LAN_RELAY_PORT meta mark set 1 accept
		meta l4proto udp ip saddr $LAN_SERVER ip daddr != 10.77.0.0/24 \
			tproxy to :$LAN_RELAY_PORT meta mark set 1 accept
	}
}
EOF
}

# lan_relay LOG ARGS...: tk_relay in the middle (--port and --server given
# here, the rest from ARGS); lan_relay_stats fetches its counts. Waits (30 s)
# for it to be ready; non-zero if it did not start.
lan_relay() {
	_log=$1
	shift
	lan_bg m "$_log" "$LAN_RELAY" --port "$LAN_RELAY_PORT" --server "$LAN_SERVER" \
		--stats "$tmpdir/relay.json" "$@"
	lan_relay_pid=$lan_last
	wait_until 30 grep -q 'tk_relay: ready' "$_log"
}

# lan_relay_stats: the relay's counts now, in $tmpdir/relay.json.
lan_relay_stats() {
	rm -f "$tmpdir/relay.json"
	kill -USR1 "$lan_relay_pid" 2>/dev/null || return 1
	wait_until 30 test -s "$tmpdir/relay.json"
}

# lan_netem UP_US DOWN_US JITTER_US LOSS_PCT: the same link with sch_netem
# (LAN_MODE=netem, where the kernel has it): the middle's port to the server
# delays the way up, each port to a client the way down.
lan_netem() {
	tc -n "$LAN_NS-m" qdisc add dev s0 root netem delay "${1}us" "${3}us" \
		loss "$4%" || return 1
	for _i in $(seq 1 "$LAN_N"); do
		tc -n "$LAN_NS-m" qdisc add dev "c$_i" root netem delay "${2}us" "${3}us" \
			loss "$4%" || return 1
	done
}

# lan_start LOG UP_US DOWN_US JITTER_US LOSS(0..1) [RELAY ARGS...]: the delay
# line with that programme, by netem or the relay as LAN_MODE says.
lan_start() {
	if [ "${LAN_MODE:-relay}" = netem ]; then
		lan_netem "$2" "$3" "$4" "$(awk -v l="$5" 'BEGIN { print l * 100 }')"
		return
	fi
	_log=$1
	_up=$2
	_down=$3
	_jit=$4
	_loss=$5
	shift 5
	lan_relay "$_log" --up-delay "$_up" --down-delay "$_down" --jitter "$_jit" \
		--loss "$_loss" "$@"
}

# lan_chronyd NS NAME CONF-LINES: chronyd -x inside namespace NS on
# $tmpdir/NAME.conf (CONF-LINES, then its command port 323 on 127.0.0.1 of
# that namespace and its Unix command socket $tmpdir/NAME.d/sock, since
# the file system is shared, and pid and drift files in $tmpdir),
# CAP_SYS_TIME dropped from its bounding set as in ntp_lib.sh; log in
# $tmpdir/NAME.log. Sets ${NAME}_pid.
lan_chronyd() {
	mkdir -m 0700 "$tmpdir/$2.d"
	printf '%s\ncmdport 323\nbindcmdaddress 127.0.0.1\nbindcmdaddress %s\n' "$3" \
		"$tmpdir/$2.d/sock" >"$tmpdir/$2.conf"
	printf 'pidfile %s/%s.pid\ndriftfile %s/%s.drift\n' "$tmpdir" "$2" "$tmpdir" "$2" \
		>>"$tmpdir/$2.conf"
	lan_bg "$1" "$tmpdir/$2.out" setpriv --bounding-set -sys_time \
		"$CHRONYD" -n -x -u root -f "$tmpdir/$2.conf" -l "$tmpdir/$2.log"
	eval "${2}_pid=$lan_last"
}

# lan_chronyc NS ARGS...: chronyc against the chronyd of namespace NS. Always
# -n: the namespaces have no resolver, and chronyc's reverse lookup of an
# address (the reference ID of `tracking`) waits 5 s for nothing.
lan_chronyc() {
	_n=$1
	shift
	lan_exec "$_n" "$CHRONYC" -n -h 127.0.0.1 -p 323 "$@"
}

# lan_chronyc_sock NAME ARGS...: chronyc on chronyd NAME's Unix socket (the
# commands that need it, e.g. clients), -n as above.
lan_chronyc_sock() {
	_n=$1
	shift
	"$CHRONYC" -n -h "$tmpdir/$_n.d/sock" "$@"
}

# lan_chrony_server NAME: a chronyd server in the server namespace on port
# 123, `local stratum 1` (the host clock is unsynchronized: it serves it
# anyway), allowing the LAN; ${NAME}_pid. Waits (30 s) for it to listen.
lan_chrony_server() {
	lan_chronyd s "$1" "$(printf 'port 123\nbindaddress %s\nallow 10.77.0.0/16\n%s' \
		"$LAN_SERVER" 'local stratum 1')"
	wait_until 30 lan_listens s 123
}

# lan_listens NS PORT: something listens on UDP PORT in namespace NS.
lan_listens() {
	[ -n "$(lan_exec "$1" ss -Hunl "sport = :$2" 2>/dev/null)" ]
}
