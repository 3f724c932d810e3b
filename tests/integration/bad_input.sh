#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Bad input gets one clear line and loses nothing: malformed configs and
# command lines stop with exit 2 and a file:line message; malformed or
# missing ACPI tables make the probe refuse that one device, say why, and go
# on with the others.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
tap_plan 9

printf '[sim]\ndevices = hpet\nbogus = 1\n' >"$tmpdir/bad.conf"
"$TKD" --probe -c "$tmpdir/bad.conf" >"$tmpdir/out" 2>"$tmpdir/err"
rc=$?
check "unknown key: exit 2 (rc=$rc)" [ "$rc" -eq 2 ]
check "unknown key: one line with file:line ($(cat "$tmpdir/err"))" \
	sh -c \
	"[ \$(wc -l <'$tmpdir/err') -eq 1 ] &&
	grep -q 'bad.conf:3: unknown key .bogus. in \[sim\]' '$tmpdir/err'"
check "nothing on stdout after a config error" [ ! -s "$tmpdir/out" ]

"$TKD" --probe -c "$tmpdir/missing.conf" 2>"$tmpdir/err" >/dev/null
rc=$?
check "missing config: exit 2 and says so ($(cat "$tmpdir/err"))" \
	sh -c \
	"[ $rc -eq 2 ] &&
	grep -q 'missing.conf: cannot open: No such file or directory' '$tmpdir/err'"

"$TKD" --probe --seconds abc 2>"$tmpdir/err" >/dev/null
rc=$?
check "bad --seconds: exit 2 ($(cat "$tmpdir/err"))" sh -c \
	"[ $rc -eq 2 ] && grep -q 'expected a number' '$tmpdir/err'"

# ACPI tables: an HPET table with a broken checksum, a FACP cut short.
mkdir "$tmpdir/acpi"
printf 'HPET\070\000\000\000\001\000OEMID OEMTABLE' >"$tmpdir/acpi/HPET"
head -c 56 /dev/zero >>"$tmpdir/acpi/HPET"
head -c 56 "$tmpdir/acpi/HPET" >"$tmpdir/acpi/HPET.tmp" && mv "$tmpdir/acpi/HPET.tmp" \
	"$tmpdir/acpi/HPET"
printf 'FACP\040\000\000\000' >"$tmpdir/acpi/FACP"
head -c 24 /dev/zero >>"$tmpdir/acpi/FACP"
printf '[hw]\nacpi_tables = %s\n' "$tmpdir/acpi" >"$tmpdir/acpi.conf"
"$TKD" --probe --json --seconds 0.2 -c "$tmpdir/acpi.conf" >"$tmpdir/p.json" 2>"$tmpdir/err"
rc=$?
check "broken tables: probe still exits 0 (rc=$rc)" [ "$rc" -eq 0 ]
check "hpet refused: $(jq -r '.sources[0].reason' "$tmpdir/p.json")" \
	jqt "$tmpdir/p.json" '.sources[0] | (.usable|not) and (.reason|test("checksum"))'
check "acpi_pm refused: $(jq -r '.sources[1].reason' "$tmpdir/p.json")" \
	jqt "$tmpdir/p.json" '.sources[1] | (.usable|not) and (.reason|test("FACP"))'
check "tsc and kclock still usable" jqt "$tmpdir/p.json" '.sources[2].usable and .sources[3].usable'
exit 0
