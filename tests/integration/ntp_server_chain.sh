#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# [ntp_server] with reference = ntp, in a chain: a local chronyd (stratum 8,
# the host clock) -> the daemon (simulated devices 50 ppm fast) -> clients of
# the daemon's server on 127.0.0.2:<port> and [::1]:<port6>. Once the daemon
# is synchronized its replies say stratum 9, refid 127.0.0.1 (the system
# peer), and root dispersion + root delay / 2 at least the page's bound; IPv6
# is served alike. No server touches the host clock.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
need_jq
ntp_need_root
ntp_need_chrony
command -v python3 >/dev/null 2>&1 || ntp_unavailable "python3 not found"
Q="python3 $top_srcdir/tests/integration/ntp_query.py"
tap_plan 6

ntp_host_snapshot
sport=$(ntp_free_port)
port=$(ntp_free_port)
port6=$(ntp_free_port)
if ntp_start_chronyd srv "$sport"; then ok "chronyd serving on 127.0.0.1:$sport"; else not_ok \
	"chronyd did not start: $(cat "$tmpdir/srv.log")"; fi
ntp_start_daemon "$tmpdir/daemon.log" "$(ntp_sim_sections "$(ntp_server_line "$sport")")
[ntp_server]
listen = 127.0.0.2:$port
listen = [::1]:$port6
allow = 127.0.0.0/8
allow = ::1
ratelimit_interval = -4
ratelimit_burst = 255"
synced() {
	"$TIMECTL" --json status >"$tmpdir/st.json" 2>&1 &&
		jqt "$tmpdir/st.json" '.synchronized == true'
}
check "the daemon synchronized to chronyd" wait_until 120 synced
# Its replies follow once it serves as synchronized (the first reply may
# still see the daemon between its first updates).
serving() {
	$Q query "$port" 127.0.0.1 127.0.0.2 >"$tmpdir/q.json" && jqt "$tmpdir/q.json" '.leap == 0'
}
wait_until 60 serving
# The bound read before a query with no clock update until after it: the
# bound only grew meanwhile, so the reply must hold at least that one. (An
# update between may move the bound either way: such a sample is taken again.)
# A reply between two looks at the daemon with no clock update between, and
# from a synchronized daemon: a rebase (the refined TSC calibration lands a
# few seconds in) makes it answer unsynchronized for a moment, which is safe
# but not the state this check is about.
quiet_sample() {
	ntp_ctl "$tmpdir/n0.json" ntp
	"$TIMECTL" --json status >"$tmpdir/st0.json"
	$Q query "$port" 127.0.0.1 127.0.0.2 >"$tmpdir/q.json"
	ntp_ctl "$tmpdir/n1.json" ntp
	[ "$(jq .updates "$tmpdir/n0.json")" = "$(jq .updates "$tmpdir/n1.json")" ] &&
		jqt "$tmpdir/q.json" '.leap == 0'
}
wait_until 60 quiet_sample
bound=$(jq .bound.bound_ns "$tmpdir/st0.json")
diag "bound before the query: $(jq -c .bound "$tmpdir/st0.json")"
check "reply: $(cat "$tmpdir/q.json"): stratum 9, refid 127.0.0.1" jqt "$tmpdir/q.json" \
	'.reply and .leap == 0 and .stratum == 9 and .refid == "7f000001" and .origin_ok'
check "root dispersion + root delay / 2 >= the bound before it, ${bound:-?} ns" \
	jqt "$tmpdir/q.json" \
	"${bound:-1e18} > 0 and .root_dispersion_s + .root_delay_s / 2 >= ${bound:-1e18} / 1e9"
serving6() {
	$Q query "$port6" ::1 ::1 >"$tmpdir/q6.json" && jqt "$tmpdir/q6.json" '.leap == 0'
}
wait_until 60 serving6
check "IPv6 reply: $(cat "$tmpdir/q6.json")" jqt "$tmpdir/q6.json" \
	'.reply and .stratum == 9 and .origin_ok'

ntp_host_check
diag "daemon log:" "$(cat "$tmpdir/daemon.log")"
exit 0
