#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Two good chronyd servers and a third one serving a time 2 s ahead (chronyd
# under libfaketime, FAKETIME=+2s), all on 127.0.0.1: the daemon marks the
# third a falseticker, keeps following the two good ones (its offset and the
# page's REALTIME against the host clock within 500 us) and is never stepped.
# The good two are stopped (SIGSTOP) when the daemon starts, so the +2 s
# one answers alone first: the first update waits for a majority (the log
# says so; no step, no bound) and the good ones are resumed at once. Once
# it follows them, the second good one is stopped again: when it turns
# unreachable the two left disagree with no majority, so the bound is
# disrupted, not left free running on one of them; resumed, it is claimed
# again.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
need_jq
ntp_need_root
ntp_need_chrony
ntp_need_faketime
tap_plan 15

ntp_host_snapshot
up=0
p1=$(ntp_free_port)
ntp_start_chronyd good1 "$p1" || up=1
p2=$(ntp_free_port)
ntp_start_chronyd good2 "$p2" || up=1
p3=$(ntp_free_port)
ntp_start_chronyd bad "$p3" +2s || up=1
check "three chronyd serving on 127.0.0.1:$p1, :$p2 and :$p3 (+2 s)" [ "$up" -eq 0 ]
ntp_stop "$good1_pid"
ntp_stop "$good2_pid"
ntp_start_daemon "$tmpdir/daemon.log" "$(ntp_sim_sections "$(ntp_server_line "$p1")
$(ntp_server_line "$p2")
$(ntp_server_line "$p3")")"
check "daemon running, page published" [ -s "$tmpdir/run/page" ]

# The +2 s server alone: the first update waits (at most 8 s, the length
# of an initial burst: the good ones are resumed as soon as the line shows).
waiting() { grep -q 'servers agree so far: the first update waits' "$tmpdir/daemon.log"; }
if wait_until 30 waiting; then
	ok "the +2 s server alone: $(grep -m 1 'servers agree so far' "$tmpdir/daemon.log")"
else
	not_ok "no wait for a majority: $(cat "$tmpdir/daemon.log")"
fi
ntp_ctl "$tmpdir/ntp0.json" ntp
kill -CONT "$good1_pid" "$good2_pid"
check "meanwhile no update: $(jq -c '{steps, updates}' "$tmpdir/ntp0.json")" \
	jqt "$tmpdir/ntp0.json" '.steps == 0 and .updates == 0'

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

# One good server and the +2 s one left: no majority, no bound.
kill -STOP "$good2_pid"
bound_is() {
	"$TIMECTL" --json status >"$tmpdir/st.json" 2>&1 &&
		jqt "$tmpdir/st.json" ".bound.status == \"$1\""
}
split() { ntp_ctl "$tmpdir/ntp.json" ntp && jqt "$tmpdir/ntp.json" \
	'.servers[1].state == "unreachable" and .selected < 0'; }
if wait_until 60 split && wait_until 30 bound_is disrupted; then
	ok "servers split 1:1, no majority: bound $(jq -c .bound "$tmpdir/st.json")"
else
	not_ok "no majority, yet: $(jq -c '[.servers[] | .state]' "$tmpdir/ntp.json") \
$(jq -c .bound "$tmpdir/st.json")"
fi
check "the log says why: $(grep -m 1 'no majority' "$tmpdir/daemon.log")" \
	grep -q 'bound: disrupted .*no majority agrees' "$tmpdir/daemon.log"
kill -CONT "$good2_pid"
check "resumed, the majority back: bound claimed again" wait_until 60 bound_is synchronized
ntp_ctl "$tmpdir/ntp3.json" ntp
check "on a good server: selected $(jq .selected "$tmpdir/ntp3.json"), offset $(jq .offset_ns \
	"$tmpdir/ntp3.json") ns" jqt "$tmpdir/ntp3.json" \
	'.selected >= 0 and .selected != 2 and (.offset_ns | fabs) <= 500000'
ntp_host_check
diag "daemon log:" "$(cat "$tmpdir/daemon.log")"
exit 0
