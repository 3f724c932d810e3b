#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# timectl waitsync and timekeeperd-wait-sync.service. waitsync returns 0
# only once the page itself (not a kernel fallback) says synchronized with a
# bound within --max-error, and 1 with the reason when --timeout passes
# first: no daemon, an unsynchronized host ([sim] host_adjtimex, as in
# bound_system.sh), a bound larger than asked. Started before the daemon
# synchronizes, it returns after: the page read right after it returned is
# synchronized within the asked error. Usage errors exit 2. The unit passes
# systemd-analyze verify and runs timectl waitsync.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
TC="$top_builddir/timectl"
tap_plan 8

export TIMEKEEPER_RUNTIME_DIR="$tmpdir/run"
rc=0
"$TC" waitsync --timeout 0.3 --interval 0.1 >"$tmpdir/out" 2>"$tmpdir/err" || rc=$?
check "no daemon: exit 1 after the timeout, with the reason ($(cat "$tmpdir/err"))" sh -c \
	"[ $rc -eq 1 ] && grep -q 'gave up after .* page missing' '$tmpdir/err'"

bad=
for a in "--max-error 0" "--max-error abc" "--max-error -5" "--timeout -1" "--interval 0" \
	"--interval 1e400" "--frob" "extra"; do
	rc=0
	"$TC" waitsync $a >/dev/null 2>&1 || rc=$?
	[ $rc -eq 2 ] || bad="$bad [$a: $rc]"
done
check "usage errors exit 2${bad:+:$bad}" [ -z "$bad" ]

# start HOST MAXERROR_US: the daemon following a host clock the sim describes.
start() {
	[ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmpdir/run" "$tmpdir/state"
	sim="[sim]\ndevices = hpet,acpi_pm,tsc\noscillator_error_ppm = 50\n"
	tk_start_daemon "$tmpdir/daemon-$1.log" "[discipline]\nreference = system\n${sim}\
host_adjtimex = $1\nhost_maxerror_us = $2\n"
}

start unsynced 0
rc=0
"$TC" waitsync --timeout 2 --interval 0.2 >"$tmpdir/out" 2>"$tmpdir/err" || rc=$?
check "unsynchronized host: exit 1, page fresh, not synchronized ($(tail -n 1 "$tmpdir/out"))" \
	sh -c "[ $rc -eq 1 ] && grep -q 'page fresh, unknown' '$tmpdir/out'"

# Started at once, before the daemon's first discipline round: it must wait.
start synced 5000
rc=0
"$TC" --json waitsync --max-error 100000 --timeout 120 --interval 0.1 >"$tmpdir/ws.json" \
	2>"$tmpdir/err" || rc=$?
"$TC" --json read realtime >"$tmpdir/rd.json"
diag "waitsync: $(cat "$tmpdir/ws.json")" \
	"then read: $(jq -c '.clocks[0] | {status,bound_ns}' "$tmpdir/rd.json")"
check "synchronized host: exit 0, after more than one try, bound reported <= 100 ms" \
	sh -c "[ $rc -eq 0 ] && jq -e '.schema == 1 and .synchronized and .tries > 1
		and .bound_ns <= 100000000' '$tmpdir/ws.json' >/dev/null"
check "the page read after waitsync returned: synchronized, from the page, bound <= 100 ms" \
	jqt "$tmpdir/rd.json" \
	'.clocks[0] | .from_page and .status == "synchronized" and .bound_ns <= 100000000'

# The bound is never below the host's 5 ms maxerror: asking for 1 ms fails.
rc=0
"$TC" waitsync --max-error 1000 --timeout 1 --interval 0.2 >"$tmpdir/out" 2>"$tmpdir/err" ||
	rc=$?
check "asking for 1 ms when the bound is >= 5 ms: exit 1 ($(cat "$tmpdir/err"))" sh -c \
	"[ $rc -eq 1 ] && grep -q 'synchronized, bound .* > 0.001000 s' '$tmpdir/err'"

unit="$top_builddir/systemd/timekeeperd-wait-sync.service"
check "the unit runs timectl waitsync from \$(bindir)" \
	grep -q "^ExecStart=.*/timectl waitsync " "$unit"
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir "$tmpdir/units"
	sed "s|^ExecStart=[^ ]*/timectl|ExecStart=$TC|" "$unit" \
		>"$tmpdir/units/timekeeperd-wait-sync.service"
	cp "$top_builddir/systemd/timekeeperd.service" "$tmpdir/units/"
	if systemd-analyze verify --man=no "$tmpdir/units/timekeeperd-wait-sync.service" \
		>"$tmpdir/verify" 2>&1; then
		ok "systemd-analyze verify: the unit is valid"
	else
		not_ok "systemd-analyze verify: $(head -n 3 "$tmpdir/verify")"
	fi
else
	ok "# SKIP systemd-analyze is not installed"
fi
kill -TERM "$pid"
wait "$pid" 2>/dev/null
exit 0
