#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The probe on the machine running the tests, with the shipped config: tsc and
# kclock must be usable everywhere we run; every source that is not usable
# must say why, in one line starting with its name. On a host like the CI
# machines (no HPET table, HW-reduced ACPI, no /dev/mem) it says exactly that.
. "$top_srcdir/tests/integration/lib.sh"
need_jq

out=$tmpdir/probe.json
"$TKD" --probe --json --seconds 0.5 -c "$top_srcdir/conf/timekeeperd.conf" >"$out" 2>"$tmpdir/err"
rc=$?
tap_plan 8
check "probe exits 0 (rc=$rc)" [ "$rc" -eq 0 ]
check "output is one JSON object with 4 sources" jqt "$out" '(.sources | length) == 4'
check "source names in order: $(jq -c '[.sources[].name]' "$out")" \
	jqt "$out" '[.sources[].name] == ["hpet","acpi_pm","tsc","kclock"]'
check \
	"tsc usable: $(jq -c \
	'.sources[]|select(.name=="tsc")|{usable,reason,nominal_hz,measured_hz}' "$out")" \
	jqt "$out" '.sources[]|select(.name=="tsc")|.usable'
check \
	"kclock usable, measured against $(jq -r \
	'.sources[]|select(.name=="kclock")|.measured_against' "$out")" \
	jqt "$out" \
	'.sources[]|select(.name=="kclock")|.usable and .rating == 50 and .nominal_hz == 1000000000'
check "every unusable source says why, starting with its name" \
	jqt "$out" \
	'[.sources[]|select(.usable|not)|. as $s|($s.reason|type=="string")
	and ($s.reason|startswith($s.name + ": "))]|all'
check "usable sources have a read cost" \
	jqt "$out" '[.sources[]|select(.usable)|.read_ns|type=="number"]|all'
check "text report names every source" \
	sh -c \
	"'$TKD' --probe --seconds 0.2 -c '$top_srcdir/conf/timekeeperd.conf' |
	grep -c -E '^[* ] (hpet|acpi_pm|tsc|kclock) ' | grep -qx 4"
diag "$(jq -r '.sources[]|"\(.name): usable=\(.usable) \(.reason // "")"' "$out")"
[ -s "$tmpdir/err" ] && diag "stderr: $(cat "$tmpdir/err")"
exit 0
