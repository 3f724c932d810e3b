#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# [ntp_server]: the daemon (reference = system, simulated devices) serves its
# clock on 127.0.0.1 to real clients, none of which touches the host clock:
#  1. on an unsynchronized host with local_stratum = 8: a reply at stratum 8
#     with the version echoed; a chronyd -x client selects it, its offset
#     within the root distance; a chronyd -x client with xleave gets
#     interleaved replies (its ntpdata and our counters); a denied address
#     gets no reply; a burst gets KoD RATE; a flood leaves the page fresh;
#  2. on a synchronized host (maxerror 1 ms): stratum 2, and root
#     dispersion + root delay / 2 holds the host's 1 ms;
#  3. on an unsynchronized host without local_stratum: LI 3, stratum 16, and
#     chronyd does not select it.
# Every wait polls a condition with a generous deadline.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
need_jq
ntp_need_root
ntp_need_chrony
command -v python3 >/dev/null 2>&1 || ntp_unavailable "python3 not found"
Q="python3 $top_srcdir/tests/integration/ntp_query.py"
tap_plan 17

ntp_host_snapshot
port=$(ntp_free_port)

# daemon_sections HOST_ADJTIMEX LOCAL_STRATUM
daemon_sections() {
	printf '%s\n' '[discipline]' 'reference = system' '[ntp_server]' \
		"listen = 127.0.0.1:$port" 'allow = 127.0.0.0/8' 'deny = 127.0.0.5' \
		'ratelimit_interval = -4' 'ratelimit_burst = 8' 'ratelimit_leak = 2' \
		"local_stratum = $2" '[sim]' 'devices = hpet,acpi_pm,tsc' "host_adjtimex = $1" \
		'host_maxerror_us = 1000'
}

# client NAME SRC [OPTIONS]: a chronyd -x client of the daemon, polling
# 4 times a second from SRC; its command socket is $tmpdir/sock/NAME.sock (a
# Unix socket, in a directory only root may enter, as chronyd wants: ntpdata
# is refused over UDP).
mkdir -m 700 "$tmpdir/sock"
client() {
	cat >"$tmpdir/$1.conf" <<EOC
server 127.0.0.1 port $port iburst minpoll -2 maxpoll -2 $3
bindacqaddress $2
port 0
cmdport 0
bindcmdaddress $tmpdir/sock/$1.sock
pidfile $tmpdir/$1.pid
driftfile $tmpdir/$1.drift
EOC
	ntp_chronyd "$1"
}

# chronyc NAME ARGS...
chronyc_of() {
	_n=$1
	shift
	"$CHRONYC" -h "$tmpdir/sock/$_n.sock" -n "$@" 2>&1
}
selected() { chronyc_of "$1" sources | grep -q '^\^\*'; }
# ntpdata_field NAME FIELD: the number in chronyc ntpdata's line FIELD.
ntpdata_field() {
	chronyc_of "$1" ntpdata 127.0.0.1 | awk -F': ' -v f="$2" \
		'$1 ~ "^"f" *$" { split($2, a, " "); print a[1] + 0 }'
}
counters() { "$TIMECTL" --json ntp-server >"$tmpdir/srv.json" 2>&1; }
counter_at_least() { counters && jqt "$tmpdir/srv.json" ".$1 >= $2"; }
stop_daemon() {
	kill -TERM "$pid"
	wait_until 30 sh -c '! kill -0 "$1" 2>/dev/null' sh "$pid"
}

# --- 1. unsynchronized host, local_stratum = 8 --------------------------------
ntp_start_daemon "$tmpdir/daemon.log" "$(daemon_sections unsynced 8)"
wait_until 30 ntp_port_taken "$port"
$Q query "$port" 127.0.0.1 >"$tmpdir/q1.json"
check "reply: $(cat "$tmpdir/q1.json")" jqt "$tmpdir/q1.json" \
	'.reply and .mode == 4 and .version == 4 and .origin_ok and .leap == 0 and
	.stratum == 8 and .refid == "7f7f0101" and .precision < 0'
client cli 127.0.0.1
client xl 127.0.0.3 xleave
if wait_until 90 selected cli; then ok "chronyd selects the daemon: $(chronyc_of cli \
	sources | grep '^\^')"; else not_ok \
	"chronyd did not select it: $(chronyc_of cli sources)"; fi
chronyc_of cli ntpdata 127.0.0.1 >"$tmpdir/nd.txt"
diag "$(cat "$tmpdir/nd.txt")"
off=$(ntpdata_field cli Offset)
rdel=$(ntpdata_field cli 'Root delay')
rdisp=$(ntpdata_field cli 'Root dispersion')
pdel=$(ntpdata_field cli 'Peer delay')
check "chronyd: offset $off s within root distance $rdisp + ($rdel + $pdel) / 2 s" \
	awk -v o="$off" -v a="$rdisp" -v b="$rdel" -v c="$pdel" \
	'BEGIN { if (o < 0) o = -o; exit !(o <= a + (b + c) / 2) }'
check "stratum 8 seen by chronyd" sh -c "grep -q '^Stratum *: 8$' '$tmpdir/nd.txt'"
xleave_seen() { chronyc_of xl ntpdata 127.0.0.1 | grep -q '^Interleaved *: Yes'; }
if wait_until 60 xleave_seen; then ok "chronyd xleave: interleaved replies"; else not_ok \
	"chronyd xleave: no interleaved reply: $(chronyc_of xl ntpdata 127.0.0.1)"; fi
check "counters: interleaved replies and kernel TX timestamps kept: $(counters && cat \
	"$tmpdir/srv.json")" jqt "$tmpdir/srv.json" '.interleaved > 0 and .tx_timestamps > 0'
check "chronyd xleave selects it too" wait_until 60 selected xl

# A denied address: dropped and counted, no reply.
counters
acl0=$(jq .dropped_acl "$tmpdir/srv.json")
$Q query "$port" 127.0.0.5 >"$tmpdir/q5.json" &
qpid=$!
check "deny = 127.0.0.5: counted" wait_until 30 counter_at_least dropped_acl $((acl0 + 1))
wait "$qpid"
check "deny = 127.0.0.5: no reply: $(cat "$tmpdir/q5.json")" jqt "$tmpdir/q5.json" \
	'.reply == false'

# 40 requests at once from one address: 8 answered (the burst), 1 in 4 of
# the 32 limited a KoD RATE.
counters
rx0=$(jq .received "$tmpdir/srv.json")
mkfifo "$tmpdir/go"
$Q send "$port" 127.0.0.4 40 <"$tmpdir/go" >"$tmpdir/burst.json" &
bpid=$!
exec 3>"$tmpdir/go"
wait_until 30 counter_at_least received $((rx0 + 40))
echo >&3
exec 3>&-
wait "$bpid"
check "burst of 40: $(tail -n 1 "$tmpdir/burst.json") (8 replies, 8 KoD RATE)" \
	sh -c "tail -n 1 '$tmpdir/burst.json' | jq -e '.replies == 8 and .kod == 8' >/dev/null"

# A flood while the page is read: it stays fresh.
$Q flood "$port" 127.0.0.6 "$tmpdir/stop" >"$tmpdir/flood.json" &
fpid=$!
fresh=0
stale=""
for i in 1 2 3 4 5; do
	counters
	n0=$(jq .received "$tmpdir/srv.json")
	wait_until 30 counter_at_least received $((n0 + 2000))
	"$TIMECTL" --json status >"$tmpdir/st.json" 2>&1
	if jqt "$tmpdir/st.json" '.page.liveness == "fresh"'; then fresh=$((fresh + 1)); else
		stale="$stale $(jq -c .page "$tmpdir/st.json")"; fi
done
touch "$tmpdir/stop"
wait "$fpid"
counters
check "flood ($(cat "$tmpdir/flood.json"), counters $(cat "$tmpdir/srv.json")): page fresh \
in $fresh of 5 samples$stale" [ "$fresh" -eq 5 ]
diag "daemon log:" "$(cat "$tmpdir/daemon.log")"
kill "$cli_pid" "$xl_pid"
stop_daemon

# --- 2. synchronized host (maxerror 1 ms) ---------------------------------------
ntp_start_daemon "$tmpdir/daemon2.log" "$(daemon_sections synced 8)"
wait_until 30 ntp_port_taken "$port"
synced() {
	"$TIMECTL" --json status >"$tmpdir/st2.json" 2>&1 &&
		jqt "$tmpdir/st2.json" '.synchronized == true'
}
check "synchronized host: the daemon synchronized" wait_until 60 synced
$Q query "$port" 127.0.0.1 >"$tmpdir/q2.json"
check "reply: $(cat "$tmpdir/q2.json"): stratum 2, root distance holds the host's 1 ms" \
	jqt "$tmpdir/q2.json" '.reply and .leap == 0 and .stratum == 2 and
	.root_dispersion_s + .root_delay_s / 2 >= 0.001'
stop_daemon

# --- 3. unsynchronized host, no local_stratum ------------------------------------
ntp_start_daemon "$tmpdir/daemon3.log" "$(daemon_sections unsynced 0)"
wait_until 30 ntp_port_taken "$port"
$Q query "$port" 127.0.0.1 >"$tmpdir/q3.json"
check "reply: $(cat "$tmpdir/q3.json"): LI 3, stratum 16, INIT" jqt "$tmpdir/q3.json" \
	'.reply and .leap == 3 and .stratum == 16 and .refid_text == "INIT"'
client un 127.0.0.7
answered() { [ "$(ntpdata_field un 'Total RX')" -ge 8 ] 2>/dev/null; }
check "chronyd got 8 replies" wait_until 90 answered
not_selected() { ! chronyc_of un sources | grep -q '^\^[*+]'; }
check "chronyd does not select it: $(chronyc_of un sources | grep '^\^')" not_selected
ntp_host_check
exit 0
