#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The error bound's width, timekeeperd against chronyd, side by side in one
# run. `make bench-bound` (or `make bench`) runs it as root;
# BENCH_BOUND_SECONDS (default 120) sets the length; polls as bench_ntp.sh
# (minpoll -2, maxpoll 0, iburst).
#
# One chronyd server on 127.0.0.1 (its own copy of the binary, as in
# bench_ntp.sh) serves the host clock; two clients of it start together:
# timekeeperd (simulated devices 50 ppm fast, reference = ntp) and chronyd -x
# (its drift file seeded at +50 ppm). Once a second:
#   ours     the median of 2 * bound over 0.1 s of tk_boundaudit at 100 Hz:
#            the width latest - earliest of the page's interval (bound_ns
#            grown at bound_drift_ppb to the reading);
#   chronyd  2 * (root delay / 2 + root dispersion + |system time offset|)
#            from chronyc tracking: chronyd's own interval for true time
#            around the system clock (its estimate of true time is the
#            system clock corrected by the offset, within its root
#            distance), as ClockBound builds its bound from chronyd.
# Result, over the second half of the run (both settled):
#   bench: ntp_bound_ours_median_ns, ntp_bound_chronyd_median_ns (ns)
#   bench: ntp_bound_width_ratio R = ours / chronyd (target <= 2)
# The samples are kept in $BENCH_BOUND_KEEP (a file) when set.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
tap_skip_all() {
	echo "bench-bound: skipped: $*"
	exit 0
}
command -v jq >/dev/null 2>&1 || tap_skip_all "jq is not installed"
ntp_need_root
ntp_need_chrony

secs=${BENCH_BOUND_SECONDS:-120}
AUDIT="$top_builddir/tests/integration/tk_boundaudit"

port=$(ntp_free_port)
ntp_start_chronyd_copy srv "$port" ||
	tap_skip_all "the chronyd server did not start: $(cat "$tmpdir/srv.log")"
t0=$(date +%s.%N)
ntp_start_pair "$port" "iburst minpoll -2 maxpoll 0" ||
	tap_skip_all "the daemon did not start: $(cat "$tmpdir/daemon.log")"
echo "bench-bound: $secs s, chronyd server on 127.0.0.1:$port"
: >"$tmpdir/samples"
i=1
while [ $i -le "$secs" ]; do
	now=$(date +%s.%N)
	sleep "$(echo "$t0 $i $now" | awk '{ d = $1 + $2 - $3; print (d > 0 ? d : 0) }')"
	ours=$("$AUDIT" "$tmpdir/run/page" 0.1 100 | jq '.median_width_ns')
	"$CHRONYC" -h 127.0.0.1 -p "$clicmd" tracking >"$tmpdir/tracking" 2>&1
	chrony=$(awk '/^System time/ { o = $4 } /^Root delay/ { d = $4 }
		/^Root dispersion/ { r = $4 }
		END {
			if (d != "" && r != "" && o != "") printf "%.0f", 2 * (d / 2 + r + o) * 1e9
			else print "nan"
		}' \
		"$tmpdir/tracking")
	echo "$i ${ours:-nan} ${chrony:-nan}" >>"$tmpdir/samples"
	i=$((i + 1))
done
[ -z "${BENCH_BOUND_KEEP:-}" ] || cp "$tmpdir/samples" "$BENCH_BOUND_KEEP"
sed -n '/^Reference/,/^Leap/p' "$tmpdir/tracking" | sed 's/^/bench-bound: chronyd: /'
"$TIMECTL" status 2>&1 | grep -E 'Error bound|Last offset' | sed 's/^/bench-bound: ours: /'
half=$((secs / 2))
med() { # COLUMN: the median of the second half's finite positive values
	awk -v h="$half" -v c="$1" '$1 > h && $c != "nan" && $c > 0 { print $c }' \
		"$tmpdir/samples" |
		sort -n |
		awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'
}
o=$(med 2)
c=$(med 3)
echo "bench: ntp_bound_ours_median_ns $o ns"
echo "bench: ntp_bound_chronyd_median_ns $c ns"
echo "$o $c" | awk '{
	if ($1 == "nan" || $2 == "nan" || $2 <= 0) r = "nan"; else r = sprintf("%.2f", $1 / $2);
	print "bench: ntp_bound_width_ratio " r }'
