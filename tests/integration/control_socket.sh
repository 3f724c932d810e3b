#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The control socket against the running daemon (unprivileged where it can
# be, on simulated devices, in a temporary runtime dir): a second daemon
# refuses to start while the first answers; malformed packets get their
# errors and the daemon goes on serving; a flooding client is dropped while
# another is served; a switch to an unstable source is refused with the
# reason; changes from a non-root, non-group peer are refused but its
# queries served; the socket file goes away with the daemon.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
RAW="$top_builddir/tests/integration/ctl_raw"
TC="$top_builddir/timectl"
tap_plan 12

chmod 755 "$tmpdir"
fmt='[daemon]\nruntime_dir = %s/run\nstate_dir = %s/state\nuser =\n[discipline]\nreference = none\n'
fmt=$fmt'[control]\ngroup = tk-no-such-group\nrate_limit = 20\nrate_burst = 10\n'
fmt=$fmt'[sim]\ndevices = hpet,acpi_pm,tsc\ntsc_fault = step:5000000ns@1s\n'
printf "$fmt" \
	"$tmpdir" "$tmpdir" >"$tmpdir/d.conf"
"$TKD" -f -c "$tmpdir/d.conf" 2>"$tmpdir/d.log" &
pid=$!
sock="$tmpdir/run/control"
wait_until 30 test -S "$sock"
# The TSC steps at 1 s and the watchdog demotes it.
demoted() {
	TIMEKEEPER_RUNTIME_DIR="$tmpdir/run" "$TC" --json sources >"$tmpdir/src.json" 2>/dev/null &&
		jqt "$tmpdir/src.json" '.sources[] | select(.name == "tsc") | .state == "unstable"'
}

out=$("$RAW" "$sock" hello)
check "hello: $out" sh -c "echo '$out' | grep -q 'status=0 pid=$pid '"
check "socket is srwxrw-rw- ($(stat -c %A "$sock"))" [ "$(stat -c %a "$sock")" = 666 ]

"$TKD" -f -c "$tmpdir/d.conf" 2>"$tmpdir/d2.log"
rc=$?
want="another timekeeperd (pid $pid) holds $tmpdir/run/lock: not starting"
check "second daemon refused (rc=$rc): $(cat "$tmpdir/d2.log")" \
	sh -c "[ $rc -ne 0 ] && grep -q '$want' '$tmpdir/d2.log'"
check "the first still answers, its socket still there" "$RAW" "$sock" hello

"$RAW" "$sock" malformed >"$tmpdir/mal.out"
rc=$?
diag "$(cat "$tmpdir/mal.out")"
check "malformed packets: every one answered with its error (rc=$rc)" [ "$rc" -eq 0 ]
check "daemon alive after the malformed packets and serves the next client" \
	sh -c "kill -0 $pid && '$RAW' '$sock' status >/dev/null"

"$RAW" "$sock" flood 500 >"$tmpdir/flood.out" &
fpid=$!
out=$("$RAW" "$sock" status)
wait $fpid
# How many are served first depends on how long the daemon took over them
# (20 a second after the burst of 10): not all of them, then the refusal.
check "a flooding client is dropped: $(cat "$tmpdir/flood.out")" sh -c \
	"grep -Eq 'ok=[0-9]+ refused=-105 closed=1' '$tmpdir/flood.out' &&
	awk -F'[ =]' '{ exit !(\$4 < \$2) }' '$tmpdir/flood.out'"
check "another client is served meanwhile: $out" sh -c "echo '$out' | grep -q '^status=0'"

wait_until 60 demoted
out=$("$RAW" "$sock" switch tsc)
check "switch to the unstable tsc refused with the reason: $out" \
	sh -c \
	"echo '$out' |
	grep -q '^status=-16 message=override tsc refused: source is unstable (.*[a-z])'"

if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	nob() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
	out=$(nob "$RAW" "$sock" switch hpet)
	want='^status=-1 message=permission denied: uid [0-9]* is not root and not in group'
	check "nobody: switch refused: $out" \
		sh -c "echo '$out' | grep -q '$want tk-no-such-group'"
	out=$(nob "$RAW" "$sock" status)
	check "nobody: status served, nothing changed: $out" sh -c \
		"echo '$out' | grep -q '^status=0 source=hpet override=\$'"
else
	ok "# SKIP not root: cannot run a client as nobody"
	ok "# SKIP not root: cannot run a client as nobody"
fi

kill -TERM "$pid"
wait "$pid"
check "stopped: the socket file is gone" [ ! -e "$sock" ]
exit 0
