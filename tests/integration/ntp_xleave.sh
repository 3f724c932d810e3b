#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Interleaved mode (RFC 9769, `xleave`) against a local chronyd serving the
# host clock on 127.0.0.1: the daemon (simulated devices 50 ppm fast) syncs
# as in ntp_chrony.sh and its newest sample came in interleaved mode: the
# server echoed the request's receive cookie as the origin, which only a
# server that found the previous exchange does. The host clock is not
# touched. (chronyc serverstats would count the server's interleaved
# replies, but it needs chronyd's Unix socket under /run/chrony.)
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
need_jq
ntp_need_root
ntp_need_chrony
tap_plan 11

ntp_host_snapshot
port=$(ntp_free_port)
if ntp_start_chronyd srv "$port"; then ok "chronyd serving on 127.0.0.1:$port"; else not_ok \
	"chronyd did not start: $(cat "$tmpdir/srv.log")"; fi
ntp_start_daemon "$tmpdir/daemon.log" "$(ntp_sim_sections "$(ntp_server_line "$port") xleave")"
check "daemon running, page published" [ -s "$tmpdir/run/page" ]
ntp_sync_checks 8 500000
ntp_ctl "$tmpdir/x.json" ntp
check \
	"flags $(jq -c '.servers[0].flags' \
	"$tmpdir/x.json"): xleave asked, the newest sample interleaved; delay $(jq \
	'.servers[0].delay_ns' "$tmpdir/x.json") ns" \
	jqt "$tmpdir/x.json" \
	'.servers[0].flags | index("xleave") != null and index("interleaved") != null'
ntp_host_check
diag "daemon log:" "$(cat "$tmpdir/daemon.log")"
exit 0
