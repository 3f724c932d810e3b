#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Bad NTP configurations stop the daemon at start with one line saying what
# was wrong and a non-zero exit: a server line without a host, minpoll above
# maxpoll, a poll out of -6..17, and reference = ntp without any server.
. "$top_srcdir/tests/integration/lib.sh"
tap_plan 8

# bad NAME EXPECT SECTIONS: the daemon on SECTIONS must exit non-zero within
# 10 s with one line on stderr matching EXPECT (grep -E).
bad() {
	printf '[daemon]\nruntime_dir = %s/run\nstate_dir = %s/state\n%s\n%b' \
		"$tmpdir" "$tmpdir" "$TK_USER_LINE" "$3" >"$tmpdir/$1.conf"
	timeout 10 "$TKD" -f -c "$tmpdir/$1.conf" >"$tmpdir/$1.out" 2>"$tmpdir/$1.err"
	rc=$?
	check "$1: exit non-zero, not killed by the timeout (rc=$rc)" [ "$rc" -ne 0 -a \
		"$rc" -ne 124 ]
	check "$1: one line matching '$2': $(cat "$tmpdir/$1.err")" \
		sh -c \
		"[ \$(wc -l <'$tmpdir/$1.err') -eq 1 ] && grep -Eq \"\$0\" '$tmpdir/$1.err'" "$2"
}

bad no_host 'no_host.conf:[0-9]+: .*server.*(needs|expected)' \
	'[discipline]\nreference = ntp\n[ntp]\nserver =\n'
bad minpoll_gt_maxpoll 'minpoll 3 > maxpoll 1' \
	'[discipline]\nreference = ntp\n[ntp]\nserver = 127.0.0.1 minpoll 3 maxpoll 1\n'
bad poll_range "maxpoll.*'18'.*-6\.\.17" \
	'[discipline]\nreference = ntp\n[ntp]\nserver = 127.0.0.1 maxpoll 18\n'
bad no_server 'reference = ntp but no server' \
	'[discipline]\nreference = ntp\n[sim]\ndevices = hpet\n'
exit 0
