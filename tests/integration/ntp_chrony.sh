#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The daemon (simulated devices 50 ppm fast, reference = ntp) follows a local
# chronyd serving the host clock on 127.0.0.1 (tests/integration/ntp_lib.sh
# starts it so it cannot touch the host clock): the server is selected, the
# offset and the page's REALTIME against the host clock stay within 500 us,
# timectl status says synchronized, and the host clock was not touched.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
need_jq
ntp_need_root
ntp_need_chrony
tap_plan 10

ntp_host_snapshot
port=$(ntp_free_port)
if ntp_start_chronyd srv "$port"; then ok "chronyd serving on 127.0.0.1:$port"; else not_ok \
	"chronyd did not start: $(cat "$tmpdir/srv.log")"; fi
ntp_start_daemon "$tmpdir/daemon.log" "$(ntp_sim_sections "$(ntp_server_line "$port")")"
check "daemon running, page published" [ -s "$tmpdir/run/page" ]
ntp_sync_checks 8 500000
ntp_host_check
diag "daemon log:" "$(cat "$tmpdir/daemon.log")"
exit 0
