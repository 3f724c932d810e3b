# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/sd_check.sh: the checks of the systemd end-to-end test, run as root inside the
# QEMU guest by the oneshot tk-e2e.service once the system reached multi-user.target
# (installed there by tests/vm/lib.sh, vm_sd_overlay, as /tk/check.sh; run by /bin/sh).
# The project is installed in the image as `make install` puts it. The checks drive the
# daemon through systemctl and timectl, as a user would: start (Type=notify readiness),
# sources, switch to hpet and to acpi_pm (the page follows; the PM timer's port still
# answers after the privilege drop), the daemon's identity and capabilities, the NTP server on
# port 123 from timekeeperd.socket (no capability for the bind), a clean stop,
# the journal, and systemd-analyze security's score (printed, not judged).
#
# Output: tests/vm/guest_lib.sh, as /tk/lib.sh.

# shellcheck source=guest_lib.sh
. /tk/lib.sh
UNIT=timekeeperd
PAGE=/run/timekeeper/page
W=/tmp/tk-e2e
mkdir -p "$W"

# The page's view: clock mode of the high-resolution block (int32 at 68), the daemon's
# clocksource (char[32] at 624) (page.h offsets).
page_mode() { od -An -t d4 -j 68 -N 4 "$PAGE" 2>/dev/null | tr -d ' '; }
page_source() { dd if="$PAGE" bs=1 skip=624 count=32 2>/dev/null | tr -d '\000'; }
page_view() { echo "source=$(page_source) mode=$(page_mode)"; }

# wait_page SOURCE SECONDS: until the page names SOURCE.
wait_page()
{
	_i=0
	while [ "$(page_source)" != "$1" ] && [ $_i -lt $(($2 * 5)) ]; do
		sleep 0.2
		_i=$((_i + 1))
	done
	[ "$(page_source)" = "$1" ]
}

# One source's object in `timectl --json sources` (whatever nests it), compacted.
source_json() { jq -c --arg n "$1" 'first(.. | objects | select(.name? == $n))' \
	"$W/$2.out" 2>/dev/null; }

note "guest: up ${T0}s when the test started (kernel + systemd to multi-user.target)"
# This unit is part of the boot transaction, so systemd-analyze would say "not finished":
# the time multi-user.target was reached says the same.
run boot 20 systemctl show -p ActiveEnterTimestampMonotonic multi-user.target
note "guest: multi-user.target reached $(sed -n 's/^ActiveEnterTimestampMonotonic=//p' \
	"$W/boot.out" | awk '{ printf "%.1f", $1 / 1e6 }')s after the kernel started"
run failed 10 systemctl --failed --no-legend --plain
run installed 5 sh -c 'command -v timekeeperd timectl; ls -l /lib/systemd/system/timekeeperd*'
# libtimekeeper went to the build's libdir (/usr/local/lib by default): the loader's cache
# learns it as it would after any `make install` of a shared library.
run ldconfig 30 ldconfig

# --- start: Type=notify means `systemctl start` returns once the daemon said READY=1 ---------
t=$(cut -d' ' -f1 /proc/uptime)
run start 120 systemctl start "$UNIT"
rc=$?
check "systemctl start $UNIT exits 0 (got $rc, in $(since "$t")s)" [ $rc -eq 0 ]
state=$(systemctl is-active "$UNIT" 2>/dev/null)
check "systemctl is-active $UNIT is active (got $state)" [ "$state" = active ]
run show 10 systemctl show -p Type -p MainPID -p StatusText -p NRestarts -p User "$UNIT"
type=$(sed -n 's/^Type=//p' "$W/show.out")
check "the unit is Type=notify (got ${type:-nothing})" [ "$type" = notify ]
status=$(sed -n 's/^StatusText=//p' "$W/show.out")
check "the daemon reports a STATUS= line (${status:-none})" [ -n "$status" ]
pid=$(sed -n 's/^MainPID=//p' "$W/show.out")

# --- sources -----------------------------------------------------------------------------
if ! command -v timectl >/dev/null 2>&1; then
	for s in hpet acpi_pm tsc kclock; do not_ok \
		"timectl sources lists $s: timectl not installed"; done
else
	run sources 20 timectl --json sources
	rc=$?
	run sources_text 20 timectl sources
	names=$(jq -r '[.. | objects | .name? | strings] | unique | join(" ")' \
		"$W/sources.out" 2>/dev/null)
	note "timectl --json sources (exit $rc) names: ${names:-none}"
	for s in hpet acpi_pm tsc kclock; do
		case " $names " in
		*" $s "*) ok "timectl --json sources lists $s" ;;
		*) not_ok "timectl --json sources lists $s (names: ${names:-none}, exit $rc)" ;;
		esac
	done
	check "timectl sources (text) exits 0 and names hpet" grep -q hpet "$W/sources_text.out"
fi

# --- switch: the page follows the daemon's clocksource -----------------------------------
before=$(page_view)
note "page before switching: $before"
run switch_hpet 20 timectl switch hpet
rc=$?
check "timectl switch hpet exits 0 (got $rc)" [ $rc -eq 0 ]
if [ $rc -eq 0 ] && wait_page hpet 60; then
	ok "the page names hpet after the switch ($(page_view))"
else
	not_ok "the page names hpet after the switch (before: $before, now: $(page_view))"
fi
mode=$(page_mode)
# hpet has no user-space-readable cycles a reader could use: the page goes KCLOCK (2).
check "the page's clock mode is KCLOCK (2) under hpet (before: $before, now: mode ${mode:-?})" \
	[ "$mode" = 2 ]
run status_hpet 10 timectl --json status

# acpi_pm: its port permission came from ioperm before the drop and must still work.
run switch_acpi 20 timectl switch acpi_pm
rc=$?
check "timectl switch acpi_pm exits 0 (got $rc)" [ $rc -eq 0 ]
if [ $rc -eq 0 ] && wait_page acpi_pm 60; then
	ok "the page names acpi_pm after the switch ($(page_view))"
else
	not_ok "the page names acpi_pm after the switch (now: $(page_view))"
fi
# Time read through the page (timectl read: the library, from the page) advances with the
# kernel's over 3 s while acpi_pm is the source: the counter is read, port I/O still works.
run read_acpi1 10 timectl --json read
rc1=$?
sleep 3
run read_acpi2 10 timectl --json read
rc2=$?
mono='first(.clocks[]? | select(.clock == "monotonic"))
	| "\(.page_sec) \(.page_nsec) \(.kernel_sec) \(.kernel_nsec)"'
r1=$(jq -r "$mono" "$W/read_acpi1.out" 2>/dev/null)
r2=$(jq -r "$mono" "$W/read_acpi2.out" 2>/dev/null)
from=$(jq -r '"\(.from_page) \(.liveness) \(.source)"' "$W/read_acpi2.out" 2>/dev/null)
adv=$(echo "$r1 $r2" | awk 'NF == 8 { p = ($5 - $1) * 1e9 + ($6 - $2)
	k = ($7 - $3) * 1e9 + ($8 - $4)
	printf "%.0f %.0f %.0f", p / 1e6, k / 1e6, (p - k) / 1e6 }')
# shellcheck disable=SC2086 # three numbers, split on purpose
set -- $adv
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ "$from" = "true fresh acpi_pm" ] && [ $# -eq 3 ] &&
	[ "$1" -gt 2000 ] && [ "${3#-}" -le 100 ]; then
	ok "MONOTONIC from the page on acpi_pm advances ${1} ms while the kernel's ${2} ms"
else
	not_ok "MONOTONIC from the page on acpi_pm advances with the kernel's over 3 s" \
		"(timectl read exits $rc1/$rc2, from_page liveness source: ${from:-?}," \
		"page/kernel ms, difference: ${adv:-?})"
fi
run sources_acpi 20 timectl --json sources
obj=$(source_json acpi_pm sources_acpi)
note "acpi_pm 3 s later: ${obj:-not found}"
st=$(echo "$obj" | jq -r '"\(.state) \(.watchdog.failures)"' 2>/dev/null)
check "acpi_pm stays current with no watchdog failures (state, failures: ${st:-?})" \
	[ "$st" = "current 0" ]
run switch_auto 20 timectl switch --auto

# --- identity: the daemon dropped to its user with nothing left ---------------------------
if [ -n "$pid" ] && [ "$pid" != 0 ] && [ -r "/proc/$pid/status" ]; then
	cp "/proc/$pid/status" "$W/status"
	logfile proc_status "$W/status"
	want=$(id -u timekeeper 2>/dev/null)
	uids=$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "$W/status")
	check "the daemon runs as timekeeper (uid ${want:-none}): Uid $uids" \
		[ "$uids" = "${want:-none} ${want:-none} ${want:-none} ${want:-none}" ]
	for cap in CapEff CapPrm CapInh CapAmb; do
		v=$(awk -v k="$cap:" '$1 == k { print $2 }' "$W/status")
		check "the daemon's $cap is 0 (got $v)" [ "$v" = 0000000000000000 ]
	done
	v=$(awk '$1 == "NoNewPrivs:" { print $2 }' "$W/status")
	check "the daemon's NoNewPrivs is 1 (got $v)" [ "$v" = 1 ]
else
	not_ok "the daemon's /proc/PID/status: no main pid (MainPID=${pid:-none})"
fi

# --- NTP server on port 123 from timekeeperd.socket: systemd binds, no capability ---------
# As README.Debian tells an administrator: allow lines (and, on this unsynchronized guest, a
# local stratum), the daemon stopped (systemd refuses to start a socket whose service already
# runs), the socket started, the daemon started.
conf=$(timekeeperd --help 2>&1 | sed -n 's/.*(default \(.*\.conf\)).*/\1/p')
sed -i -e 's|^;allow = 192.168.0.0/16$|allow = 127.0.0.0/8|' \
	-e 's/^local_stratum = 0$/local_stratum = 10/' "${conf:-/nonexistent}"
run ntp_conf 5 grep -n '^allow\|^local_stratum' "${conf:-/nonexistent}"
run sock_stop_daemon 60 systemctl stop "$UNIT"
run sock_start 30 systemctl start timekeeperd.socket
rc=$?
check "systemctl start timekeeperd.socket exits 0 (got $rc)" [ $rc -eq 0 ]
run sock_restart 120 systemctl start "$UNIT"
# One request from bash's /dev/udp (a connected UDP socket); the reply's bytes in decimal.
ntp_ask() {
	bash -c 'exec 3<>/dev/udp/127.0.0.1/123 || exit 2
	{ printf "\043"; head -c 47 /dev/zero; } | dd bs=48 count=1 iflag=fullblock status=none >&3
	timeout 5 dd bs=48 count=1 status=none <&3' 2>/dev/null | od -An -tu1 -v | tr -s ' \n' '  '
}
reply=
for _try in 1 2 3; do
	reply=$(ntp_ask)
	[ -z "$reply" ] || break
done
# shellcheck disable=SC2086 # the reply's bytes, split on purpose
set -- $reply
got="$# bytes, mode $((${1:-0} & 7)), stratum ${2:-none}"
check "a request to 127.0.0.1:123 gets a server reply at local_stratum 10 ($got)" \
	[ "$got" = "48 bytes, mode 4, stratum 10" ]
run ntp_server 10 timectl --json ntp-server
srv=$(jq -r '"\(.sockets) \(.replies)"' "$W/ntp_server.out" 2>/dev/null)
# shellcheck disable=SC2086 # two numbers
set -- $srv
check "timectl ntp-server: the socket from systemd, replies counted (sockets replies: $srv)" \
	sh -c '[ "$1" = 1 ] && [ "$2" -ge 1 ]' sh "${1:-0}" "${2:-0}"
run ntp_caps 10 systemctl show -p CapabilityBoundingSet "$UNIT"
check "the unit's bounding set has no CAP_NET_BIND_SERVICE" \
	sh -c '! grep -qi net_bind_service "$1"' sh "$W/ntp_caps.out"
run sock_stop 30 systemctl stop timekeeperd.socket

# --- journal -----------------------------------------------------------------------------
journalctl --sync 2>/dev/null
run journal 20 journalctl -u "$UNIT" --no-pager -o json
n=$(jq -r 'select(._COMM? == "timekeeperd") | .MESSAGE' "$W/journal.out" 2>/dev/null | grep -c .)
check "journalctl -u $UNIT holds the daemon's own lines ($n)" [ "$n" -gt 0 ]
jq -r 'select(._COMM? == "timekeeperd") | .MESSAGE' "$W/journal.out" 2>/dev/null | head -n 5 |
	while IFS= read -r l; do note "journal: $l"; done
fields=$(jq -r 'select(._COMM? == "timekeeperd") | keys[] | select(startswith("TK_"))' \
	"$W/journal.out" 2>/dev/null | sort -u | paste -sd' ' -)
if [ -n "$fields" ]; then
	ok "the daemon's journal entries carry structured fields: $fields"
	jq -c 'with_entries(select(.key == "MESSAGE" or (.key | startswith("TK_")))) |
		select(length > 1)' \
		"$W/journal.out" 2>/dev/null | head -n 3 | while IFS= read -r l; do note \
		"  $l"; done
else
	skip "structured TK_* fields in the journal" "none in the daemon's entries"
fi

# --- stop ----------------------------------------------------------------------------------
run stop 60 systemctl stop "$UNIT"
rc=$?
check "systemctl stop $UNIT exits 0 (got $rc)" [ $rc -eq 0 ]
state=$(systemctl is-active "$UNIT" 2>/dev/null)
check "after stop $UNIT is inactive, not failed (got $state)" [ "$state" = inactive ]
run show_stop 10 systemctl show -p Result -p ExecMainCode -p ExecMainStatus \
	-p ExecMainExitTimestampMonotonic "$UNIT"
res=$(sed -n 's/^Result=//p' "$W/show_stop.out")
st=$(sed -n 's/^ExecMainStatus=//p' "$W/show_stop.out")
code=$(sed -n 's/^ExecMainCode=//p' "$W/show_stop.out")
# ExecMainCode 1 is CLD_EXITED: the daemon exited by itself on SIGTERM, with status 0.
check "the daemon exited 0 on stop (Result=$res ExecMainCode=$code ExecMainStatus=$st)" \
	[ "$res/$code/$st" = success/1/0 ]

# --- hardening score (reported, not judged) ----------------------------------------------
run security 60 systemd-analyze security --no-pager "$UNIT"
score=$(grep -i 'overall exposure level' "$W/security.out" | tail -n 1)
note "systemd-analyze security: ${score:-no score (see the log)}"
log "score: ${score:-none}"

run journal_text 20 journalctl -u "$UNIT" --no-pager -o short-monotonic
note "guest: checks took $(since "$T0")s"
printf '@@TK-%s DONE@@\n' "$TK_NONCE"
