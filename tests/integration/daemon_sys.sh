#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The daemon's privileges and service-manager protocol, without booting
# systemd (the QEMU test tests/vm does that): sd_notify against a datagram
# socket of our own (READY=1 with STATUS=, STATUS= refreshed, WATCHDOG=1 at
# half of WATCHDOG_USEC, STOPPING=1); as root, the drop to [daemon] user as
# the kernel reports it in /proc/PID/status, the state directory handed over
# and written after the drop, SIGHUP still able to re-read the config; a
# missing user is one clear error; unprivileged, one notice saying so;
# stderr lines in journal form only when stderr is JOURNAL_STREAM.
. "$top_srcdir/tests/integration/lib.sh"
tap_plan 14

conf() { # USER_LINE RUNDIR STATEDIR
	fmt='[daemon]\nruntime_dir = %s\nstate_dir = %s\n%s\n'
	printf "$fmt"'[discipline]\nreference = system\n[sim]\ndevices = hpet,acpi_pm,tsc\n' \
		"$2" "$3" "$1" >"$tmpdir/d.conf"
}
start() { # LOG [env...]: starts the daemon in the background, waits for the page
	log=$1
	shift
	rm -f "$rundir/page"
	env "$@" "$TKD" -f -c "$tmpdir/d.conf" 2>"$log" &
	pid=$!
	wait_until 30 grep -q 'running: page' "$log"
}
# uptime_cs: centiseconds since boot
uptime_cs() {
	read -r _up _ </proc/uptime
	echo "${_up%.*}${_up#*.}" | sed 's/^0*//; s/^$/0/'
}
pings() { grep -c '^WATCHDOG=1$' "$tmpdir/notify.log"; }
stop() {
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
}
rundir=$tmpdir/run
statedir=$tmpdir/state

# --- sd_notify ------------------------------------------------------------
if command -v python3 >/dev/null 2>&1; then
	python3 - "$tmpdir/notify" "$tmpdir/notify.log" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
with open(sys.argv[2], "w") as out:
    while True:
        m = s.recv(4096).decode()
        out.write(m.replace("\n", "|") + "\n")
        out.flush()
PY
	nfy=$!
	wait_until 30 test -S "$tmpdir/notify"
	conf "$TK_USER_LINE" "$rundir" "$statedir"
	t0=$(uptime_cs)
	start "$tmpdir/notify-daemon.log" NOTIFY_SOCKET="$tmpdir/notify" WATCHDOG_USEC=1000000
	# Ten pings come in ~5 s; on a loaded machine later, never more often.
	wait_until 60 sh -c "[ \$(grep -c '^WATCHDOG=1\$' '$tmpdir/notify.log') -ge 10 ]"
	n=$(pings)
	cs=$(($(uptime_cs) - t0))
	wait_until 30 grep -q '^STATUS=tsc, .*offset [-+][0-9]* ns' "$tmpdir/notify.log"
	stop
	wait_until 10 sh -c "tail -n 1 '$tmpdir/notify.log' | grep -q '^STOPPING=1'"
	kill "$nfy"
	wait "$nfy" 2>/dev/null
	diag "$(cat "$tmpdir/notify.log")"
	check "READY=1 with a STATUS= line naming the source: $(head -n 1 "$tmpdir/notify.log")" \
		grep -q '^READY=1|STATUS=tsc, ' "$tmpdir/notify.log"
	check \
		"STATUS= refreshed from the loop: $(grep '^STATUS=' "$tmpdir/notify.log" | tail -n \
		1)" \
		grep -q '^STATUS=tsc, .*offset [-+][0-9]* ns' "$tmpdir/notify.log"
	desc="WATCHDOG=1 every 0.5 s for WATCHDOG_USEC=1 s:"
	check "$desc $n pings in $cs cs, at most one per 50 cs" \
		sh -c "[ $n -ge 10 ] && [ $n -le $((cs / 50 + 1)) ]"
	check "STOPPING=1 at SIGTERM, clean exit (rc=$rc)" sh -c \
		"tail -n 1 '$tmpdir/notify.log' | grep -q '^STOPPING=1' && [ $rc -eq 0 ]"
else
	for t in 1 2 3 4; do ok "# SKIP python3 is missing: no notify socket to listen on"; done
fi

# --- the drop, as root --------------------------------------------------------
if [ -n "$TK_DROP_USER" ]; then
	rm -rf "$statedir"
	conf "$TK_USER_LINE" "$rundir" "$statedir"
	start "$tmpdir/drop.log"
	st=/proc/$pid/status
	diag "$(grep -E '^(Uid|Gid|Groups|Cap|NoNewPrivs)' "$st")"
	uid=$(id -u "$TK_DROP_USER")
	check "running as $TK_DROP_USER: Uid all $uid" \
		sh -c "grep -q \"^Uid:\\s*$uid\\s*$uid\\s*$uid\\s*$uid\$\" '$st'"
	check "CapInh/CapPrm/CapEff/CapBnd/CapAmb all zero, NoNewPrivs 1" sh -c \
		"[ \$(grep -cE '^Cap(Inh|Prm|Eff|Bnd|Amb):\\s*0+\$' '$st') -eq 5 ] &&
		grep -qE '^NoNewPrivs:\\s*1\$' '$st'"
	check "the log says so: $(grep 'privileges:' "$tmpdir/drop.log")" \
		grep -q "privileges: running as $TK_DROP_USER (uid $uid" "$tmpdir/drop.log"
	check "state directory handed to $TK_DROP_USER ($(stat -c %U "$statedir"))" \
		[ "$(stat -c %U "$statedir")" = "$TK_DROP_USER" ]
	kill -HUP "$pid"
	wait_until 30 grep -q 'reload:' "$tmpdir/drop.log"
	check "SIGHUP after the drop re-reads the config: $(grep 'reload' "$tmpdir/drop.log")" \
		sh -c \
		"grep -q 'reload: .* re-read' '$tmpdir/drop.log' &&
		! grep -q 'reload: .*keeping' '$tmpdir/drop.log'"
	stop
	check \
		"after the drop: clean exit (rc=$rc), frequency saved by $TK_DROP_USER ($(stat -c \
		%U "$statedir/frequency" 2>&1))" \
		sh -c \
		"[ $rc -eq 0 ] && [ \"\$(stat -c %U '$statedir/frequency')\" = '$TK_DROP_USER' ] &&
		! grep -q 'state:' '$tmpdir/drop.log'"

	conf "user = tk-no-such-user" "$rundir" "$statedir"
	"$TKD" -f -c "$tmpdir/d.conf" 2>"$tmpdir/nouser.log"
	rc=$?
	diag "$(grep 'tk-no-such-user' "$tmpdir/nouser.log")"
	want='user = tk-no-such-user: no such user; create it with .systemd-sysusers'
	check "a missing user: exit $rc, one line naming it and how to create it" sh -c \
		"[ $rc -ne 0 ] && [ \$(grep -c 'tk-no-such-user' '$tmpdir/nouser.log') -eq 1 ] &&
		grep -q '$want' '$tmpdir/nouser.log'"
else
	for t in 1 2 3 4 5 6 7; do ok "# SKIP not root: no privilege drop to test"; done
fi

# --- unprivileged ------------------------------------------------------------
nb=$tmpdir/nb
mkdir -p "$nb"
chmod 0777 "$nb"
conf "$TK_USER_LINE" "$nb/run" "$nb/state"
run_as=""
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null 2>&1 &&
		run_as="setpriv --reuid=nobody --regid=nogroup --clear-groups"
fi
if [ "$(id -u)" -ne 0 ] || [ -n "$run_as" ]; then
	rundir=$nb/run
	rm -f "$rundir/page"
	$run_as "$TKD" -f -c "$tmpdir/d.conf" 2>"$tmpdir/unpriv.log" &
	pid=$!
	wait_until 30 grep -q 'running: page' "$tmpdir/unpriv.log"
	stop
	check \
		"unprivileged: one notice ($(grep 'privileges' \
		"$tmpdir/unpriv.log")), clean exit (rc=$rc)" \
		sh -c \
		"[ $rc -eq 0 ] &&
		grep -q 'privileges: running as uid [0-9]* without privileges' '$tmpdir/unpriv.log'"
else
	ok "# SKIP root without setpriv: cannot run the daemon unprivileged"
fi
rundir=$tmpdir/run

# --- journal form only when stderr is the journal stream ----------------------
conf "$TK_USER_LINE" "$rundir" "$statedir"
start "$tmpdir/plain.log" JOURNAL_STREAM=1:1
stop
check "JOURNAL_STREAM not matching stderr: plain 'timekeeperd: ' lines" sh -c \
	"grep -q '^timekeeperd: running: page' '$tmpdir/plain.log' &&
	! grep -q '^<[0-9]>' '$tmpdir/plain.log'"
if [ -S /run/systemd/journal/socket ]; then
	ok "# SKIP a journal runs here: entries would go to it, not to the file"
else
	: >"$tmpdir/j.log"
	start "$tmpdir/j.log" JOURNAL_STREAM="$(stat -c '%d:%i' "$tmpdir/j.log")"
	stop
	check \
		"JOURNAL_STREAM matching stderr, no journal socket: '<5>' lines ($(grep -m 1 \
		running "$tmpdir/j.log"))" \
		grep -q '^<5>running: page' "$tmpdir/j.log"
fi
exit 0
