#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# A version mismatch is one error everywhere: a daemon of another control
# protocol version (ctl_vserver, answering as timekeeperd does) makes
# timectl exit 5 with a line naming both versions and the daemon's reason,
# whether the reply carries the other version or our version with status
# EPROTONOSUPPORT. (The server's side, -EPROTONOSUPPORT for a request of
# another version, is in control_socket.sh through ctl_raw.)
. "$top_srcdir/tests/integration/lib.sh"
tap_plan 4
VS="$top_builddir/tests/integration/ctl_vserver"
TCTL="$top_builddir/timectl"
mkdir "$tmpdir/run"

for mode in version status; do
	"$VS" "$tmpdir/run/control" "$mode" 1 &
	vs=$!
	wait_until 10 [ -S "$tmpdir/run/control" ]
	"$TCTL" -r "$tmpdir/run" status >"$tmpdir/out" 2>"$tmpdir/err"
	rc=$?
	wait "$vs"
	rm -f "$tmpdir/run/control"
	check "$mode: timectl exits 5, protocol error (rc=$rc)" [ "$rc" -eq 5 ]
	case $mode in
	version)
		want="speaks control protocol version 2, timectl speaks 1:"
		want="$want protocol version 1 not supported" ;;
	status)
		want="does not speak control protocol version 1:"
		want="$want protocol version 1 not supported" ;;
	esac
	check "$mode: one line naming the versions ($(cat "$tmpdir/err"))" \
		sh -c "[ \$(wc -l <'$tmpdir/err') -eq 1 ] && grep -qF '$want' '$tmpdir/err'"
done
exit 0
