#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Every man page under man/ renders with man -l and groff's warnings on,
# and prints none: a warning (unknown macro, bad escape, a line groff
# cannot fit) fails the page.
. "$top_srcdir/tests/integration/lib.sh"
command -v man >/dev/null 2>&1 || tap_skip_all "man (man-db) is not installed"
command -v groff >/dev/null 2>&1 || tap_skip_all "groff is not installed"
set -- "$top_srcdir"/man/*.[1-8]
tap_plan $#
for page in "$@"; do
	name=${page##*/}
	MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 "$page" >"$tmpdir/out" 2>"$tmpdir/err"
	rc=$?
	if [ $rc -eq 0 ] && [ ! -s "$tmpdir/err" ] && [ -s "$tmpdir/out" ]; then
		ok "$name renders without warnings ($(wc -l <"$tmpdir/out") lines)"
	else
		not_ok "$name: rc $rc, warnings:"
		diag "$(head -20 "$tmpdir/err")"
	fi
done
exit 0
