#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The configuration is read only from a regular file of at most 1 MiB:
# `-c /dev/zero`, a FIFO, a directory or a 2 MB file refuse the start with
# one clear line instead of hanging it; a SIGHUP reload onto a FIFO keeps
# the running configuration, logs one line, and SIGTERM still stops the
# daemon. Each start runs under `timeout` so a regression fails the test
# instead of hanging the suite.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
TC="$top_builddir/timectl"
tap_plan 9

# refused NAME PATH EXPECTED: the start on PATH exits non-zero by itself
# (not killed by timeout) with a line matching EXPECTED
refused() {
	timeout 60 "$TKD" -f -c "$2" 2>"$tmpdir/$1.err"
	rc=$?
	check "$1: start refused (exit $rc): $(head -n 1 "$tmpdir/$1.err")" \
		sh -c \
		"[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ \$(wc -l <'$tmpdir/$1.err') -eq 1 ] &&
		grep -q -- '$3' '$tmpdir/$1.err'"
}

mkfifo "$tmpdir/fifo"
head -c 2000000 /dev/zero | tr '\0' '#' >"$tmpdir/big.conf"
refused dev-zero /dev/zero '/dev/zero: is a character device, expected a regular file'
refused fifo "$tmpdir/fifo" 'fifo: is a FIFO, expected a regular file'
refused directory "$tmpdir" 'is a directory, expected a regular file'
refused 2MB "$tmpdir/big.conf" 'big.conf: 2000000 bytes, expected at most 1048576'

# gone PID SECONDS: polls until the process has exited
gone() {
	end=$(($(date +%s) + $2))
	while kill -0 "$1" 2>/dev/null && [ "$(date +%s)" -lt $end ]; do
		sleep 0.1
	done
	! kill -0 "$1" 2>/dev/null
}

tk_start_daemon "$tmpdir/d.log" '[discipline]\nreference = none\n[sim]\ndevices = hpet,tsc\n'
rm -f "$tmpdir/d.conf"
mkfifo "$tmpdir/d.conf"
kill -HUP "$pid"
end=$(($(date +%s) + 30))
while ! grep -q 'reload:' "$tmpdir/d.log" && [ "$(date +%s)" -lt $end ]; do
	sleep 0.1
done
want='reload: .*d.conf: is a FIFO, expected a regular file; keeping the running configuration'
check "reload onto a FIFO: one line: $(grep 'reload:' "$tmpdir/d.log")" \
	sh -c "[ \$(grep -c 'reload:' '$tmpdir/d.log') -eq 1 ] && grep -q '$want' '$tmpdir/d.log'"
timeout 10 "$TC" --json status >"$tmpdir/st1.json" 2>"$tmpdir/st1.err"
check "after the refused reload the daemon answers, same pid and reference" \
	sh -c "jq -e '.daemon.pid == $pid and .reference == \"none\"' '$tmpdir/st1.json' >/dev/null"
check "the page is fresh" jqt "$tmpdir/st1.json" '.page.liveness == "fresh"'
kill -TERM "$pid"
if gone "$pid" 30; then ok "SIGTERM stops it"; else not_ok \
	"SIGTERM stops it (still running after 30 s)"; kill -KILL "$pid"; fi
wait "$pid"
check "it stopped cleanly: $(tail -n 1 "$tmpdir/d.log")" grep -q 'signal 15: stopping' \
	"$tmpdir/d.log"
exit 0
