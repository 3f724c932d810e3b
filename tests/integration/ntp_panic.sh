#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The panic threshold. A chronyd serving a time 10^6 s ahead (libfaketime)
# as the only server: with the defaults (panic_threshold = 1000,
# allow_panic_step = no) its offset is refused: the server is flagged
# "panic", the log says why, the clock is never stepped and the page keeps
# the host clock's time. Then two such servers with allow_panic_step = yes:
# they agree, and the clock is stepped 10^6 s ahead. (The old code stepped
# by any offset, from one server.)
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
need_jq
ntp_need_root
ntp_need_chrony
ntp_need_faketime
tap_plan 10

ahead=1000000
ntp_host_snapshot
up=0
p1=$(ntp_free_port)
ntp_start_chronyd far1 "$p1" "+${ahead}s" || up=1
p2=$(ntp_free_port)
ntp_start_chronyd far2 "$p2" "+${ahead}s" || up=1
check "two chronyd serving 10^6 s ahead on 127.0.0.1:$p1 and :$p2" [ "$up" -eq 0 ]

ntp_start_daemon "$tmpdir/daemon.log" "$(ntp_sim_sections "$(ntp_server_line "$p1")")"
if ntp_wait_jq 60 'any(.servers[0].flags[]; . == "panic")'; then
	ok \
		"one server 10^6 s ahead is refused: $(jq -c \
		'.servers[0] | {state, flags, offset_ns, message}' "$tmpdir/ntp.json")"
else
	not_ok "not refused within 60 s: $(jq -c '.servers[0]' "$tmpdir/ntp.json" 2>&1)"
fi
check "its message names the threshold: $(jq -r '.servers[0].message' "$tmpdir/ntp.json")" \
	jqt "$tmpdir/ntp.json" \
	'.servers[0].message | test("beyond panic_threshold 1000 s: not applied")'
# A few more polls (0.25 to 1 s apart): still never applied.
sleep 5
ntp_ctl "$tmpdir/ntp.json" ntp
check \
	"never stepped: steps $(jq .steps "$tmpdir/ntp.json"), updates $(jq .updates \
	"$tmpdir/ntp.json")" \
	jqt "$tmpdir/ntp.json" '.steps == 0 and .updates == 0'
check \
	"one log line with the offset, the server and the limit: $(grep -c \
	'beyond panic_threshold' "$tmpdir/daemon.log")" \
	sh -c "[ \$(grep -c 'beyond panic_threshold 1000 s: not applied' '$tmpdir/daemon.log') \
		-eq 1 ] &&
		grep -q '127.0.0.1' '$tmpdir/daemon.log'"
"$top_builddir/tests/integration/tk_offset" "$tmpdir/run/page" 2 >"$tmpdir/off.json"
check \
	"the page keeps the host's time: max $(jq .max_ns \
	"$tmpdir/off.json") ns from the host clock" \
	jqt "$tmpdir/off.json" '.max_ns < 1000000000'
ntp_ctl "$tmpdir/status.json" status
check "timectl status: not synchronized" jqt "$tmpdir/status.json" '.synchronized == false'

# Allowed, and two servers agree: stepped.
kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
ntp_start_daemon "$tmpdir/daemon2.log" "$(ntp_sim_sections "$(ntp_server_line "$p1")
$(ntp_server_line "$p2")
allow_panic_step = yes")"
if ntp_wait_jq 60 '.steps >= 1'; then
	ok "allowed, two servers agree: stepped ($(jq -c '{steps, offset_ns}' "$tmpdir/ntp.json"))"
else
	not_ok "not stepped within 60 s: $(jq -c . "$tmpdir/ntp.json" 2>&1)"
fi
"$top_builddir/tests/integration/tk_offset" "$tmpdir/run/page" 2 >"$tmpdir/off2.json"
# The median, not the mean: a reading the reader took from the kernel while
# the page was not fresh (a legal, visible fallback) is 10^6 s off the page.
check \
	"the page is now 10^6 s ahead of the host: median |host - page| $(jq .p50_ns \
	"$tmpdir/off2.json") ns, mean $(jq .mean_ns "$tmpdir/off2.json") ns, $(jq .from_page \
	"$tmpdir/off2.json") of $(jq .samples "$tmpdir/off2.json") samples from a fresh page" \
	jqt "$tmpdir/off2.json" "(.p50_ns - $ahead * 1000000000 | fabs) < 1000000000"
ntp_host_check
diag "daemon logs:" "$(cat "$tmpdir/daemon.log" "$tmpdir/daemon2.log")"
exit 0
