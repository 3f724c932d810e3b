#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The installed headers stand alone in a program's strictest build: each one
# included first and alone compiles as C11 with -Wall -Wextra -pedantic
# -Werror (no _POSIX_C_SOURCE or _GNU_SOURCE of the program's), and as
# C++17 with the same warnings.
. "$top_srcdir/tests/integration/lib.sh"
set -- timekeeper.h timekeeper/page.h timekeeper/control.h
tap_plan $(($# * 2))
cc=${CC:-cc}
cxx=${CXX:-c++}
for h in "$@"; do
	printf '#include <%s>\nint main(void) { return 0; }\n' "$h" >"$tmpdir/t.c"
	if $cc -std=c11 -Wall -Wextra -pedantic -Werror -I"$top_srcdir/include" -fsyntax-only \
		"$tmpdir/t.c" 2>"$tmpdir/err"; then
		ok "$h compiles alone as C11 -pedantic -Werror ($cc)"
	else
		not_ok "$h as C11 ($cc): $(head -n 1 "$tmpdir/err")"
		diag "$(head -n 10 "$tmpdir/err")"
	fi
	if ! command -v "$cxx" >/dev/null 2>&1; then
		if [ "${CI:-}" = true ]; then
			not_ok "$h as C++17: $cxx not found (CI=true)"
		else
			ok "# SKIP $h as C++17: $cxx not found"
		fi
		continue
	fi
	printf '#include <%s>\nint main() { return 0; }\n' "$h" >"$tmpdir/t.cc"
	if $cxx -std=c++17 -Wall -Wextra -pedantic -Werror -I"$top_srcdir/include" -fsyntax-only \
		"$tmpdir/t.cc" 2>"$tmpdir/err"; then
		ok "$h compiles alone as C++17 -pedantic -Werror ($cxx)"
	else
		not_ok "$h as C++17 ($cxx): $(head -n 1 "$tmpdir/err")"
		diag "$(head -n 10 "$tmpdir/err")"
	fi
done
exit 0
