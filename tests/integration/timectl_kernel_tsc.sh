#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# timectl sources on the real hardware: for the real TSC it adds the
# kernel's own verdict on it, read from sysfs here (current_clocksource,
# available_clocksource), and, when the kernel is not on the TSC, what
# the daemon keeps it on (its watchdog's checks). The expected verdict is
# derived from the same sysfs files, so the test holds on any machine: a
# host on tsc, a guest on hpet or acpi_pm, a TSC the kernel marked unstable.
# A simulated TSC gets no kernel line (timectl.sh's machine).
. "$top_srcdir/tests/integration/lib.sh"
need_jq
TC="$top_builddir/timectl"
cs=/sys/devices/system/clocksource/clocksource0
[ -r "$cs/current_clocksource" ] && [ -r "$cs/available_clocksource" ] ||
	tap_skip_all "no $cs to compare with"
tap_plan 4
tk_start_daemon "$tmpdir/daemon.log" '[discipline]\nreference = none\n'
"$TC" --json sources >"$tmpdir/src.json"
if ! jqt "$tmpdir/src.json" \
	'any(.sources[]; .name == "tsc" and .state != "unusable" and
	(.flags | index("simulated")) == null)'; then
	diag "no usable real TSC here: $(jq -c '[.sources[] | {name, state}]' "$tmpdir/src.json")"
	for n in 1 2 3 4; do ok "# SKIP no usable real TSC"; done
	exit 0
fi
kcur=$(cat "$cs/current_clocksource")
if [ "$kcur" = tsc ]; then
	want="in use"
elif tr ' ' '\n' <"$cs/available_clocksource" | grep -qx tsc; then
	want="not in use (available)"
else
	want="rejected (not offered: unstable or unusable)"
fi
diag "kernel: on $kcur, available: $(cat "$cs/available_clocksource")"
check "sources --json: the tsc's kernel object says $want, on $kcur" jqt "$tmpdir/src.json" \
	".sources[] | select(.name == \"tsc\") | .kernel.current_clocksource == \"$kcur\" and
	.kernel.verdict == \"$want\""
"$TC" sources >"$tmpdir/src.txt"
diag "$(cat "$tmpdir/src.txt")"
check "sources: a kernel line under tsc with that verdict" \
	grep -qF "kernel: $want" "$tmpdir/src.txt"
if [ "$kcur" = tsc ]; then
	check "sources: no 'kept on' when the kernel runs on the TSC" \
		sh -c '! grep -q "kept on" "$1"' sh "$tmpdir/src.txt"
else
	check "sources: what the daemon keeps the TSC on: its watchdog's checks" \
		grep -qE "kept on: the watchdog, [0-9]+ checks, [0-9]+ failures" "$tmpdir/src.txt"
fi
"$TC" --json sources >"$tmpdir/src2.json"
check "sources --json: no kernel object on the other sources" jqt "$tmpdir/src2.json" \
	'[.sources[] | select(.name != "tsc") | has("kernel")] | any | not'
kill -TERM "$pid"
wait "$pid"
