#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Two good chronyd servers and a third one serving a time 2 s ahead (chronyd
# under libfaketime, FAKETIME=+2s), all on 127.0.0.1: the daemon marks the
# third a falseticker, keeps following the two good ones (its offset and the
# page's REALTIME against the host clock within 500 us) and is never stepped.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
need_jq
ntp_need_root
ntp_need_chrony
ntp_need_faketime
tap_plan 9

ntp_host_snapshot
up=0
p1=$(ntp_free_port)
ntp_start_chronyd good1 "$p1" || up=1
p2=$(ntp_free_port)
ntp_start_chronyd good2 "$p2" || up=1
p3=$(ntp_free_port)
ntp_start_chronyd bad "$p3" +2s || up=1
check "three chronyd serving on 127.0.0.1:$p1, :$p2 and :$p3 (+2 s)" [ "$up" -eq 0 ]
ntp_start_daemon "$tmpdir/daemon.log" "$(ntp_sim_sections "$(ntp_server_line "$p1")
$(ntp_server_line "$p2")
$(ntp_server_line "$p3")")"
check "daemon running, page published" [ -s "$tmpdir/run/page" ]

good='(.servers[0].state == "selected" or .servers[0].state == "candidate") and
	(.servers[1].state == "selected" or .servers[1].state == "candidate")'
if ntp_wait_jq 60 "$good and .servers[2].state == \"falseticker\""; then
	ok "within 60 s: $(jq -c '[.servers[] | {port, state, offset_ns}]' "$tmpdir/ntp.json")"
else
	not_ok \
		"no falseticker within 60 s: $(jq -c '[.servers[] | {port, state, offset_ns}]' \
		"$tmpdir/ntp.json" 2>&1)"
fi
sleep 20
ntp_ctl "$tmpdir/ntp.json" ntp
diag "$("$TIMECTL" ntp 2>&1)"
check "after 20 s more: the +2 s server is still a falseticker, the good ones followed" \
	jqt "$tmpdir/ntp.json" "$good and .servers[2].state == \"falseticker\" and .selected != 2"
check \
	"the falseticker's offset is seen: $(jq '.servers[2].offset_ns' \
	"$tmpdir/ntp.json") ns ~ +2 s" \
	jqt "$tmpdir/ntp.json" '(.servers[2].offset_ns - 2000000000 | fabs) < 1000000'
check "combined offset $(jq '.offset_ns' "$tmpdir/ntp.json") ns within 500 us" \
	jqt "$tmpdir/ntp.json" '(.offset_ns | fabs) <= 500000'
"$top_builddir/tests/integration/tk_offset" "$tmpdir/run/page" 10 >"$tmpdir/off.json"
diag "page vs host clock over 10 s: $(cat "$tmpdir/off.json")"
check \
	"page REALTIME vs host: p99 $(jq .p99_ns "$tmpdir/off.json") ns, max $(jq .max_ns \
	"$tmpdir/off.json") ns <= 500 us" \
	jqt "$tmpdir/off.json" '.max_ns <= 500000 and .from_page == .samples and .synchronized == 1'
ntp_ctl "$tmpdir/ntp2.json" ntp
check "never stepped: steps $(jq .steps "$tmpdir/ntp2.json")" jqt "$tmpdir/ntp2.json" '.steps == 0'
ntp_host_check
diag "daemon log:" "$(cat "$tmpdir/daemon.log")"
exit 0
