#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Hostile directories, files and values, against the daemon on simulated
# devices: a runtime or state directory others can write, or owned by
# another user (nobody, as root), is refused with one line (path, owner,
# mode, what was expected); a state file that is a symbolic link to a
# root-only file is not followed and its content never reaches the log;
# a FIFO there does not hang the start; two daemons started at once on
# one runtime directory: exactly one runs, the other says who holds the
# lock, and the socket answers the one that runs; an absolute timer at
# INT64_MIN gets an error reply and the daemon goes on.
. "$top_srcdir/tests/integration/lib.sh"
RAW="$top_builddir/tests/integration/ctl_raw"
tap_plan 16

SIM='[discipline]\nreference = none\n[sim]\ndevices = hpet,acpi_pm,tsc\n'

# conf NAME RUNTIME STATE: a config in $tmpdir/NAME.conf
conf() {
	printf "[daemon]\nruntime_dir = %s\nstate_dir = %s\n%s\n$SIM" "$2" "$3" "$TK_USER_LINE" \
		>"$tmpdir/$1.conf"
	chmod 644 "$tmpdir/$1.conf"
}

# wait_for COND...: polls COND every 0.1 s for up to 30 s (a generous deadline)
wait_for() {
	i=0
	while ! "$@" && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	"$@"
}

# refused NAME: runs the daemon on NAME.conf (bounded by timeout) and
# expects it to exit non-zero at once; the log in NAME.log.
refused() {
	timeout 30 "$TKD" -f -c "$tmpdir/$1.conf" 2>"$tmpdir/$1.log"
	rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 124 ]
}

# a runtime directory others can write.
mkdir -p "$tmpdir/open" "$tmpdir/st1"
chmod 0777 "$tmpdir/open"
conf open "$tmpdir/open" "$tmpdir/st1"
refused open
check "runtime_dir mode 0777: refused (rc=$rc)" sh -c "[ $rc -ne 0 ] && [ $rc -ne 124 ]"
want="runtime_dir $tmpdir/open: owned by uid $(id -u).*, mode 0777:"
want="$want expected a directory owned by root.* and not writable by group or others"
check "one line with path, owner, mode and what was expected: $(cat "$tmpdir/open.log")" \
	grep -q "$want" "$tmpdir/open.log"
check "nothing created in it" [ -z "$(ls -A "$tmpdir/open")" ]

# a state directory others can write (group-writable counts too).
mkdir -p "$tmpdir/r2" "$tmpdir/gst"
chmod 0775 "$tmpdir/gst"
conf gst "$tmpdir/r2" "$tmpdir/gst"
refused gst
check "state_dir mode 0775: refused (rc=$rc): $(cat "$tmpdir/gst.log")" \
	grep -q "state_dir $tmpdir/gst: owned by .*, mode 0775: expected" "$tmpdir/gst.log"

# a runtime directory owned by another user (needs root to make one).
if [ "$(id -u)" -eq 0 ] && getent passwd nobody >/dev/null; then
	mkdir -p "$tmpdir/theirs"
	chown nobody "$tmpdir/theirs"
	chmod 0755 "$tmpdir/theirs"
	conf theirs "$tmpdir/theirs" "$tmpdir/st1"
	refused theirs
	check "runtime_dir owned by nobody: refused (rc=$rc): $(cat "$tmpdir/theirs.log")" \
		grep -q \
		"runtime_dir $tmpdir/theirs: owned by uid $(id -u \
		nobody) (nobody), mode 0755: expected" \
		"$tmpdir/theirs.log"
else
	ok "# SKIP runtime_dir owned by nobody: needs root to make such a directory"
fi

# a runtime directory that is a symbolic link is not followed.
mkdir -p "$tmpdir/real"
ln -s "$tmpdir/real" "$tmpdir/link"
conf link "$tmpdir/link" "$tmpdir/st1"
refused link
check "runtime_dir a symbolic link: refused: $(cat "$tmpdir/link.log")" \
	grep -q "runtime_dir $tmpdir/link: not a directory (a symbolic link is not followed)" \
	"$tmpdir/link.log"

# the state file a link to a root-only (here: private) file.
mkdir -p "$tmpdir/run3" "$tmpdir/st3"
printf 'TOPSECRET-1234567890\n' >"$tmpdir/secret"
chmod 0600 "$tmpdir/secret"
ln -s "$tmpdir/secret" "$tmpdir/st3/frequency"
conf st3 "$tmpdir/run3" "$tmpdir/st3"
"$TKD" -f -c "$tmpdir/st3.conf" 2>"$tmpdir/st3.log" &
p3=$!
trap 'kill -KILL $p3 2>/dev/null; rm -rf "$tmpdir"' EXIT
wait_for test -S "$tmpdir/run3/control"
check "state file a symbolic link: the daemon starts" "$RAW" "$tmpdir/run3/control" hello
check "not followed, said so: $(grep state: "$tmpdir/st3.log")" \
	grep -q "state: $tmpdir/st3/frequency is a symbolic link: not followed" "$tmpdir/st3.log"
kill -TERM $p3
wait $p3
check "the target's content is not in the log, and the target is untouched" \
	sh -c \
	"! grep -q TOPSECRET '$tmpdir/st3.log' &&
	[ \"\$(cat '$tmpdir/secret')\" = TOPSECRET-1234567890 ]"

# the state file a FIFO: the start does not hang.
mkdir -p "$tmpdir/run4" "$tmpdir/st4"
mkfifo "$tmpdir/st4/frequency"
conf st4 "$tmpdir/run4" "$tmpdir/st4"
timeout 60 "$TKD" -f -c "$tmpdir/st4.conf" 2>"$tmpdir/st4.log" &
p4=$!
trap 'kill -KILL $p3 $p4 2>/dev/null; rm -rf "$tmpdir"' EXIT
wait_for test -S "$tmpdir/run4/control"
check "state file a FIFO: the daemon starts and answers" "$RAW" "$tmpdir/run4/control" hello
check "refused with one line: $(grep state: "$tmpdir/st4.log")" \
	grep -q "state: $tmpdir/st4/frequency is a FIFO, expected a regular file" "$tmpdir/st4.log"

# an absolute timer at INT64_MIN: an error reply, the daemon goes on.
out=$("$RAW" "$tmpdir/run4/control" timer-abs 3 -9223372036854775808)
want='create=0 arm=-22 message=timer 1: absolute time -9223372036854775808 ns, expected >= 0'
check "INT64_MIN timer on TAI refused: $out" \
	sh -c "echo '$out' | grep -q '$want'"
check "the daemon is alive and serves the next client" \
	sh -c "kill -0 $p4 && '$RAW' '$tmpdir/run4/control' status >/dev/null"
kill -TERM $p4
wait $p4

# two daemons started at once on one runtime directory, five times:
# exactly one runs, the other names the holder of the lock.
mkdir -p "$tmpdir/st5"
conf two "$tmpdir/run5" "$tmpdir/st5"
good=0
for round in 1 2 3 4 5; do
	rm -f "$tmpdir/a.log" "$tmpdir/b.log"
	"$TKD" -f -c "$tmpdir/two.conf" 2>"$tmpdir/a.log" &
	pa=$!
	"$TKD" -f -c "$tmpdir/two.conf" 2>"$tmpdir/b.log" &
	pb=$!
	trap 'kill -KILL $pa $pb 2>/dev/null; rm -rf "$tmpdir"' EXIT
	# the loser exits; the winner answers on the socket
	wait_for sh -c "! kill -0 $pa 2>/dev/null || ! kill -0 $pb 2>/dev/null"
	if kill -0 $pa 2>/dev/null; then win=$pa lose=$pb loselog=b; else win=$pb lose=$pa \
		loselog=a; fi
	wait $lose
	wait_for sh -c "'$RAW' '$tmpdir/run5/control' hello 2>/dev/null | grep -q 'pid=$win '"
	if kill -0 $win 2>/dev/null &&
		"$RAW" "$tmpdir/run5/control" hello | grep -q "pid=$win " &&
		grep -q "another timekeeperd (pid $win) holds $tmpdir/run5/lock: not starting" \
			"$tmpdir/$loselog.log"; then
		good=$((good + 1))
	else
		diag "round $round: winner $win, loser $lose: $(cat "$tmpdir/$loselog.log")"
	fi
	kill -TERM $win
	wait $win
done
check "two at once: one runs, the other names the holder, 5 of 5 rounds ($good)" [ $good -eq 5 ]
check "the lock file stays (removing it would let two daemons lock two files)" \
	[ -f "$tmpdir/run5/lock" ]
"$TKD" -f -c "$tmpdir/two.conf" 2>"$tmpdir/c.log" &
pc=$!
trap 'kill -KILL $pc 2>/dev/null; rm -rf "$tmpdir"' EXIT
wait_for sh -c "'$RAW' '$tmpdir/run5/control' hello 2>/dev/null | grep -q 'pid=$pc '"
check \
	"a daemon starts again after them, on the same lock file: $(grep -c . \
	"$tmpdir/c.log") lines" \
	sh -c "'$RAW' '$tmpdir/run5/control' hello | grep -q 'pid=$pc '"
kill -TERM $pc
wait $pc
