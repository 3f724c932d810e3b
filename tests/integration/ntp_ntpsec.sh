#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The daemon (simulated devices 50 ppm fast, reference = ntp) follows a local
# ntpsec ntpd on 127.0.0.1:123 in orphan mode (stratum 8, serving the host
# clock; tests/integration/ntp_lib.sh starts it with its clock discipline off
# and without CAP_SYS_TIME): selected, offset and page REALTIME vs the host
# clock within 500 us, synchronized, the host clock not touched. The server
# line asks for interleaved mode (xleave), which ntpsec does not have: its
# basic replies to interleaved-form requests must serve as well.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
need_jq
ntp_need_root
ntp_need_ntpsec
tap_plan 11

ntp_host_snapshot
if ntp_start_ntpsec srv; then ok "ntpsec ntpd serving on 127.0.0.1:123"; else not_ok \
	"ntpd did not start: $(cat "$tmpdir/srv.log")"; fi
ntp_start_daemon "$tmpdir/daemon.log" "$(ntp_sim_sections "$(ntp_server_line 123) xleave")"
check "daemon running, page published" [ -s "$tmpdir/run/page" ]
ntp_sync_checks 8 500000
ntp_ctl "$tmpdir/x.json" ntp
desc="flags $(jq -c '.servers[0].flags' "$tmpdir/x.json"): xleave asked, samples basic"
check "$desc (ntpsec has no interleaved client/server mode)" \
	jqt "$tmpdir/x.json" \
	'.servers[0].flags | index("xleave") != null and index("interleaved") == null'
ntp_host_check
diag "daemon log:" "$(cat "$tmpdir/daemon.log")"
exit 0
