#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# A server whose name lookup is never answered, beside a good one, blocks
# nothing. The daemon runs in a mount namespace of its own whose
# /etc/resolv.conf names a local UDP sink that swallows every query
# (udp_sink; glibc waits 15 s for it, longer than the daemon's 10 s lookup
# timeout) and whose nsswitch.conf says `hosts: files dns`; its servers are
# that name and a local chronyd. Then: queries reach the sink (the scenario
# happened), the good server is selected, the page stays fresh (every
# reading of tk_offset from the page), timectl status answers, the
# swallowed name is flagged with its timeout and retried after a back-off
# (new queries reach the sink), and SIGTERM stops the daemon. On the old
# code getaddrinfo() ran on the loop: the page went stale and the good
# server was not selected.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
need_jq
ntp_need_root
ntp_need_chrony
SINK="$top_builddir/tests/integration/udp_sink"
[ -x "$SINK" ] || ntp_unavailable "$SINK not built"
command -v unshare >/dev/null 2>&1 && command -v mount >/dev/null 2>&1 ||
	ntp_unavailable "unshare or mount (util-linux) not found"
unshare -m --propagation private true 2>/dev/null ||
	ntp_unavailable "cannot make a mount namespace (unshare -m) here"
[ -e /etc/nsswitch.conf ] || ntp_unavailable "/etc/nsswitch.conf missing: nothing to bind over"
tap_plan 10

ntp_host_snapshot
port=$(ntp_free_port)
if ntp_start_chronyd srv "$port"; then ok "chronyd serving on 127.0.0.1:$port"; else not_ok \
	"chronyd did not start: $(cat "$tmpdir/srv.log")"; fi

# The sink, on a loopback address of its own (port 53: resolv.conf has no port).
dns=127.$(($(od -An -N1 -tu1 /dev/urandom) % 200 + 20))
dns=$dns.$(($(od -An -N1 -tu1 /dev/urandom) % 250 + 1))
dns=$dns.$(($(od -An -N1 -tu1 /dev/urandom) % 250 + 2))
"$SINK" "$dns" 53 "$tmpdir/sink.ready" "$tmpdir/sink.count" 2>"$tmpdir/sink.err" &
ntp_pids="$ntp_pids $!"
i=0
while [ ! -e "$tmpdir/sink.ready" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "UDP sink swallowing on $dns:53 $(cat "$tmpdir/sink.err")" [ -e "$tmpdir/sink.ready" ]

printf 'nameserver %s\noptions timeout:15 attempts:1\n' "$dns" >"$tmpdir/resolv.conf"
printf 'hosts: files dns\n' >"$tmpdir/nsswitch.conf"
cat >"$tmpdir/tkd-ns" <<EOS
#!/bin/sh
exec unshare -m --propagation private sh -c 'mount --bind "$tmpdir/resolv.conf" /etc/resolv.conf &&
	mount --bind "$tmpdir/nsswitch.conf" /etc/nsswitch.conf && exec "\$0" "\$@"' "$TKD" "\$@"
EOS
chmod 755 "$tmpdir/tkd-ns" "$tmpdir/resolv.conf" "$tmpdir/nsswitch.conf"
TKD="$tmpdir/tkd-ns"
name=tk-swallowed.test
ntp_start_daemon "$tmpdir/daemon.log" "$(ntp_sim_sections \
	"server = $name port $port iburst minpoll -2 maxpoll 0
$(ntp_server_line "$port")")"

i=0
while [ "$(wc -l <"$tmpdir/sink.count" 2>/dev/null || echo 0)" -lt 1 ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "the name's queries reach the sink: $(wc -l <"$tmpdir/sink.count" 2>/dev/null || echo 0)" \
	[ -s "$tmpdir/sink.count" ]

if ntp_wait_jq 60 '.servers[1].state == "selected"'; then
	ok \
		"the good server is selected: $(jq -c '.servers[1] | {state, reach, offset_ns}' \
		"$tmpdir/ntp.json")"
else
	not_ok \
		"the good server is not selected within 60 s: $(jq -c . \
		"$tmpdir/ntp.json" 2>&1) $(cat "$tmpdir/ntp.json.err")"
fi
if ntp_wait_jq 60 'any(.servers[0].flags[]; . == "resolve_failed")'; then
	ok \
		"the swallowed name is flagged: $(jq -c '.servers[0] | {state, flags, message}' \
		"$tmpdir/ntp.json")"
else
	not_ok \
		"the swallowed name is not flagged within 60 s: $(jq -c '.servers[0]' \
		"$tmpdir/ntp.json" 2>&1)"
fi
check "its message gives the timeout and the back-off" \
	jqt "$tmpdir/ntp.json" \
	'.servers[0].state == "init" and (.servers[0].message
	| test("no answer within 10 s|still runs")) and (.servers[0].message
	| test("next lookup in"))'
"$top_builddir/tests/integration/tk_offset" "$tmpdir/run/page" 10 >"$tmpdir/off.json"
diag "page vs host clock over 10 s: $(cat "$tmpdir/off.json")"
check \
	"the page stays fresh: $(jq .from_page "$tmpdir/off.json") of $(jq .samples \
	"$tmpdir/off.json") readings from the page" \
	jqt "$tmpdir/off.json" '.samples > 0 and .from_page == .samples'
"$TIMECTL" --json status >"$tmpdir/status.json" 2>&1
check "timectl status answers: $(jq -c '{reference, synchronized}' "$tmpdir/status.json" 2>&1)" \
	jqt "$tmpdir/status.json" '.reference == "ntp"'

# A new lookup after the back-off: more queries reach the sink (glibc sends
# A and AAAA: 2 per lookup) within 90 s.
i=0
while [ "$(wc -l <"$tmpdir/sink.count")" -lt 4 ] && [ $i -lt 900 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "retried after the back-off: $(wc -l <"$tmpdir/sink.count") queries reached the sink" \
	[ "$(wc -l <"$tmpdir/sink.count")" -ge 4 ]

kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "SIGTERM stops the daemon (waited $((i / 10)).$((i % 10)) s)" sh -c \
	"! kill -0 $pid 2>/dev/null"
diag "daemon log:" "$(cat "$tmpdir/daemon.log")"
exit 0
