#!/bin/sh
# The daemon (simulated devices 50 ppm fast, reference = ntp) follows a local
# ntpsec ntpd on 127.0.0.1:123 in orphan mode (stratum 8, serving the host
# clock; tests/integration/ntp_lib.sh starts it with its clock discipline off
# and without CAP_SYS_TIME): selected, offset and page REALTIME vs the host
# clock within 500 us, synchronized, the host clock not touched.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
need_jq
ntp_need_root
ntp_need_ntpsec
tap_plan 10

ntp_host_snapshot
if ntp_start_ntpsec srv; then ok "ntpsec ntpd serving on 127.0.0.1:123"; else not_ok "ntpd did not start: $(cat "$tmpdir/srv.log")"; fi
ntp_start_daemon "$tmpdir/daemon.log" "$(ntp_sim_sections "$(ntp_server_line 123)")"
check "daemon running, page published" [ -s "$tmpdir/run/page" ]
ntp_sync_checks 8 500000
ntp_host_check
diag "daemon log:" "$(cat "$tmpdir/daemon.log")"
exit 0
