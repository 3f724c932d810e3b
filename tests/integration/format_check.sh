#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/format.sh, the format check of .ci/run, on a scratch tree with the
# project's .clang-format: it lists the one file under src/, include/,
# tests/ or bench/ that clang-format would change (not a well-formatted one,
# not one elsewhere) and exits 1; -d shows the change; -i makes it, after
# which the check passes. On a second scratch tree it lists the lines over
# 100 columns, a tab counting to the next multiple of 8 (a line of 101
# columns, one of 94 bytes that a tab makes 101), not the lines of exactly
# 100 columns (one with a tab at column 7 that a naive 8-space expansion
# would make 107) nor a file outside the tree's directories, and exits 1,
# with -i too. Skips without clang-format.
. "$top_srcdir/tests/integration/lib.sh"
if ! command -v clang-format-14 >/dev/null 2>&1 && ! command -v clang-format >/dev/null 2>&1; then
	tap_skip_all "clang-format is not installed"
fi
tap_plan 10

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
	[ "$(grep -v '^format: ' "$tmpdir/out")" = src/bad.c ]
diag "$(cat "$tmpdir/err")"
"$t/tests/format.sh" -d >"$tmpdir/diff" 2>/dev/null
check "-d shows the change" grep -q '^+static int add(int a, int b)$' "$tmpdir/diff"
"$t/tests/format.sh" -i >/dev/null 2>&1
check "-i reformats it" grep -q '^	return a + b;$' "$t/src/bad.c"
"$t/tests/format.sh" >"$tmpdir/out" 2>&1
rc=$?
check "then the check passes (exit $rc)" [ "$rc" -eq 0 ]
diag "$(cat "$tmpdir/out")"

# Columns, on text files of every kind the tree holds.
t=$tmpdir/cols
mkdir -p "$t/tests" "$t/doc" "$t/man" "$t/other"
cp "$top_srcdir/tests/format.sh" "$t/tests/format.sh"
cp "$top_srcdir/.clang-format" "$t/.clang-format"
x100=$(printf '%0100d' 0)
printf '%s\n' "${x100}1" >"$t/doc/long.md"
printf '\t%s\n' "$(printf '%093d' 0)" >"$t/tests/tab.sh"
printf 'short\n%s\nabcdefg\t%s\n' "$x100" "$(printf '%092d' 0)" >"$t/man/ok.1"
printf '%s%s\n' "$x100" "$x100" >"$t/other/long.txt"
"$t/tests/format.sh" >"$tmpdir/out" 2>"$tmpdir/err"
rc=$?
check "lines over 100 columns fail the check (exit $rc)" [ "$rc" -eq 1 ]
check "the 101-column line is listed" \
	grep -qx 'doc/long.md:1: 101 columns (limit 100)' "$tmpdir/out"
check "the line of a tab and 93 characters is listed at 101 columns" \
	grep -qx 'tests/tab.sh:1: 101 columns (limit 100)' "$tmpdir/out"
check "nothing else: 100 columns (with a tab at column 7 too) pass, other/ is not read" \
	[ "$(grep -c 'columns (limit 100)$' "$tmpdir/out")" -eq 2 ]
diag "$(cat "$tmpdir/out" "$tmpdir/err")"
"$t/tests/format.sh" -i >"$tmpdir/out" 2>&1
rc=$?
check "-i cannot wrap them: still listed, exit $rc" \
	sh -c "[ $rc -eq 1 ] && grep -q '^doc/long.md:1: 101 columns' '$tmpdir/out'"
exit $tap_failed
