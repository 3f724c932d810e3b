#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/format.sh, the format check of .ci/run, on a scratch tree with the
# project's .clang-format: it lists the one file under src/, include/,
# tests/ or bench/ that clang-format would change (not a well-formatted one,
# not one elsewhere) and exits 1; -d shows the change; -i makes it, after
# which the check passes. Skips without clang-format.
. "$top_srcdir/tests/integration/lib.sh"
if ! command -v clang-format-14 >/dev/null 2>&1 && ! command -v clang-format >/dev/null 2>&1; then
	tap_skip_all "clang-format is not installed"
fi
tap_plan 5

t=$tmpdir/tree
mkdir -p "$t/tests" "$t/src" "$t/include" "$t/other"
cp "$top_srcdir/tests/format.sh" "$t/tests/format.sh"
cp "$top_srcdir/.clang-format" "$t/.clang-format"
printf '/* good */\nstatic int add(int a, int b)\n{\n\treturn a + b;\n}\n' >"$t/src/good.c"
printf '#ifndef X_H\n#define X_H\nint x(void);\n#endif\n' >"$t/include/x.h"
printf 'static int add(int a,int b){return a+b;}\n' >"$t/src/bad.c"
cp "$t/src/bad.c" "$t/other/bad.c"

"$t/tests/format.sh" >"$tmpdir/out" 2>"$tmpdir/err"
rc=$?
check "a misformatted file fails the check (exit $rc)" [ "$rc" -eq 1 ]
check "only src/bad.c is listed ($(tr '\n' ' ' <"$tmpdir/out"))" \
	[ "$(cat "$tmpdir/out")" = src/bad.c ]
diag "$(cat "$tmpdir/err")"
"$t/tests/format.sh" -d >"$tmpdir/diff" 2>/dev/null
check "-d shows the change" grep -q '^+static int add(int a, int b)$' "$tmpdir/diff"
"$t/tests/format.sh" -i >/dev/null 2>&1
check "-i reformats it" grep -q '^	return a + b;$' "$t/src/bad.c"
"$t/tests/format.sh" >"$tmpdir/out" 2>&1
rc=$?
check "then the check passes (exit $rc)" [ "$rc" -eq 0 ]
diag "$(cat "$tmpdir/out")"
exit $tap_failed
