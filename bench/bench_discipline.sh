#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The discipline's precision with reference = system (timing lives
# here, not in `make check`). `make bench-discipline` (or `make bench`) runs
# it; BENCH_DISC_SETTLE (default 60 s) is how long the daemon runs before the
# measurement, BENCH_DISC_SECONDS (default 10 s) how long it measures.
#
# The daemon runs unprivileged on simulated devices whose crystal is 50 ppm
# fast (as tests/integration/daemon_discipline.sh). After the settle time,
# tests/integration/tk_offset samples the page's CLOCK_REALTIME against the
# kernel's at 100 Hz (kernel - page, from the narrowest of five brackets);
# right after, the same program with --kernel in the page's place measures
# what that method reads between the kernel's clock and itself: the floor on
# this machine, under the same load. Results (`bench: <name> <value> <unit>`):
#   discipline_p99 / _max: |offset| of the page, ns;
#   discipline_floor_p99: the kernel against itself, ns (at least 1);
#   discipline_p99_ratio: discipline_p99 / discipline_floor_p99, the figure
#     to compare across machines and loads (bench/README.md).
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"
tap_skip_all() {
	echo "bench-discipline: skipped: $*"
	exit 0
}
command -v jq >/dev/null 2>&1 || tap_skip_all "jq is not installed"
OFF="$top_builddir/tests/integration/tk_offset"
settle=${BENCH_DISC_SETTLE:-60}
secs=${BENCH_DISC_SECONDS:-10}

sections='[discipline]\nreference = system\n[sim]\ndevices = hpet,acpi_pm,tsc\n'
tk_start_daemon "$tmpdir/daemon.log" "$sections"'oscillator_error_ppm = 50\n'
[ -s "$tmpdir/run/page" ] || {
	echo "bench-discipline: the daemon did not start: $(cat "$tmpdir/daemon.log")" >&2
	exit 1
}
sleep "$settle" # the measurement starts this long after the start
"$OFF" "$tmpdir/run/page" "$secs" >"$tmpdir/page.json"
"$OFF" --kernel "$secs" >"$tmpdir/kernel.json"
kill -TERM "$pid"
wait "$pid"
echo "# page, from ${settle} s on: $(cat "$tmpdir/page.json")"
echo "# kernel against itself: $(cat "$tmpdir/kernel.json")"
jq -e '.from_page == .samples and .source == "tsc"' "$tmpdir/page.json" >/dev/null ||
	echo "bench-discipline: not every reading came from the page (tsc)" >&2
p99=$(jq .p99_ns "$tmpdir/page.json")
floor=$(jq '[.p99_ns, 1] | max' "$tmpdir/kernel.json")
echo "bench: discipline_p99 $p99 ns"
echo "bench: discipline_max $(jq .max_ns "$tmpdir/page.json") ns"
echo "bench: discipline_floor_p99 $floor ns"
echo "bench: discipline_p99_ratio $(jq -n "$p99 / $floor * 100 | round / 100")"
