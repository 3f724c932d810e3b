#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The read cost of libtimekeeper-preload.so against the vDSO, in the same
# run (`make bench-preload`, part of `make bench`): the daemon built here on
# the real hardware (reference none, temporary runtime directory), its page
# in TSC mode (else the bench is skipped: the preload reads the kernel),
# then bench/bench_preload, whose child reads clock_gettime(CLOCK_MONOTONIC)
# through the preload. It prints preload_read_ns, kernel_read_ns and
# preload_read_ratio (`bench: <name> <value> <unit>`), then, with python3,
# bench/bench_preload.py's preload_python_ratio (time.monotonic()), and says
# whether the page was still fresh and in TSC mode afterwards. Both check
# with the preload's counters that the readings came from the page.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"
tap_skip_all() {
	echo "bench-preload: skipped: $*"
	exit 0
}
command -v jq >/dev/null 2>&1 || tap_skip_all "jq is not installed"
tk_start_daemon "$tmpdir/daemon.log" '[discipline]\nreference = none\n'
wait_until 60 tk_page_tsc || tap_skip_all "the daemon's page is not in TSC mode here"
"$top_builddir/bench/bench_preload" "$(tk_preload)" || exit 1
if command -v python3 >/dev/null 2>&1; then
	python3 -S "$top_srcdir/bench/bench_preload.py" "$(tk_preload)" host || exit 1
fi
tk_page_tsc || echo "bench-preload: the page left TSC mode during the run: ignore the figures" >&2
kill -TERM "$pid"
wait "$pid"
