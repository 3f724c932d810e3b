#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The client example on the README's first screen (its first ```c block) compiles with
# warnings as errors against the installed headers, links with libtimekeeper and prints a
# time and a bound: without a daemon, the kernel's time and adjtimex's maximum error. It is
# built by the build's compiler with the build's sanitizers (TK_CC, TK_SANITIZE), which an
# instrumented libtimekeeper needs.
. "$top_srcdir/tests/integration/lib.sh"
tap_plan 2
cc=${TK_CC:-cc}
awk '/^```c$/ { f = 1; next } /^```$/ { if (f) exit } f' "$top_srcdir/README.md" >"$tmpdir/now.c"
if $cc ${TK_SANITIZE:-} -Wall -Wextra -Werror -I"$top_srcdir/include" "$tmpdir/now.c" \
	-L"$top_builddir/.libs" -ltimekeeper -o "$tmpdir/now" 2>"$tmpdir/err"; then
	ok "the README's client compiles and links ($(wc -l <"$tmpdir/now.c") lines, $cc)"
else
	not_ok "the README's client: $(head -n 1 "$tmpdir/err")"
fi
export TIMEKEEPER_RUNTIME_DIR="$tmpdir/none"
out=$(LD_LIBRARY_PATH="$top_builddir/.libs" "$tmpdir/now" 2>&1)
check "it prints the time and its bound: $out" \
	sh -c "echo '$out' | grep -Eq '^[0-9]{10}\.[0-9]{9} \+- [0-9]+ ns$'"
exit 0
