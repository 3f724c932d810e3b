#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The Prometheus page ([metrics] listen, timekeeperd(8) METRICS) against the
# running daemon on simulated devices: served at /metrics in the text format
# with HELP and TYPE for every family, all in the timekeeper_ namespace; the
# numbers are timectl's (status and sources, read before and after: a
# counter lies between the two readings, a constant equals both); hostile
# clients (100 idle connections, a request sent a byte at a time, slower than
# the deadline, a 1 MB header, garbage, another path or method) get their
# refusals while timectl and the page are served and the page stays fresh;
# bad listen values are one line each: a malformed one stops the start, an
# address that cannot be bound leaves the daemon running without metrics.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
command -v ss >/dev/null 2>&1 || tap_skip_all "ss (iproute2) is not installed"
HTTP="$top_builddir/tests/integration/tk_http"
TC="$top_builddir/timectl"
tap_plan 26

# A free TCP port on 127.0.0.1, from a range that depends on the pid.
free_port() {
	_p=$((20000 + $$ % 20000))
	while [ -n "$(ss -Htln "sport = :$_p")" ]; do _p=$((_p + 1)); done
	echo "$_p"
}
port=$(free_port)
sim="[sim]\ndevices = hpet,acpi_pm,tsc\n"
tk_start_daemon "$tmpdir/d.log" \
	"[discipline]\nreference = none\n[metrics]\nlisten = 127.0.0.1:$port\n$sim"
check "daemon started with metrics on 127.0.0.1:$port" kill -0 "$pid"
# The refined calibration settles the sources' frequencies (about 1 s).
wait_until 60 sh -c '"$1" --json status | jq -e ".tsc.calibrated_hz > 0" >/dev/null' sh "$TC"
# The page is updated every 10 ms until its mapping's rate is measured over
# 0.5 s, then once a second.
wait_until 30 sh -c '"$1" --json status | jq -e ".update_interval_ns == 1000000000" >/dev/null' \
	sh "$TC"

scrape() { "$HTTP" get "$port" /metrics >"$tmpdir/$1.http"; }
body() { sed '1,/^\r$/d' "$tmpdir/$1.http" >"$tmpdir/$1.txt"; }
# m FILE SERIES: the value of one series (exact name and labels)
m() { awk -v k="$2" '$1 == k { print $2 }' "$tmpdir/$1.txt"; }

"$TC" --json status >"$tmpdir/st1.json"
"$TC" --json sources >"$tmpdir/so1.json"
check "GET /metrics answers 200" scrape a
"$TC" --json status >"$tmpdir/st2.json"
"$TC" --json sources >"$tmpdir/so2.json"
body a
check "Content-Type is the text format 0.0.4" \
	grep -q '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "$tmpdir/a.http"

# Every sample's family has one HELP and one TYPE line before it, every
# name is timekeeper_*, every family is contiguous.
awk '
/^# HELP / { if (help[$3]++) { print "HELP twice: " $3; bad = 1 } next }
/^# TYPE / { if (type[$3]++) { print "TYPE twice: " $3; bad = 1 } cur = $3; next }
/^#/ { next }
{ n = $1; sub(/\{.*/, "", n)
  if (n !~ /^timekeeper_[a-z0-9_]+$/) { print "name: " n; bad = 1 }
  if (!help[n] || !type[n]) { print "no HELP/TYPE: " n; bad = 1 }
  if (n != cur) { print "not contiguous: " n; bad = 1 } }
END { exit bad }' "$tmpdir/a.txt" >"$tmpdir/fmt.out"
check "HELP and TYPE for every family, timekeeper_ names, families contiguous" \
	[ ! -s "$tmpdir/fmt.out" ]
diag "$(cat "$tmpdir/fmt.out")"
families=$(grep -c '^# TYPE ' "$tmpdir/a.txt")
check "$families families, counters end in _total" sh -c \
	"grep '^# TYPE ' '$tmpdir/a.txt' | awk '\$4 == \"counter\" && \$3 !~ /_total\$/ { exit 1 }'"

# The numbers are timectl's.
src=$(jq -r .source "$tmpdir/st1.json")
mode=$(jq -r .clock_mode "$tmpdir/st1.json")
check "timekeeper_clocksource_info names timectl's source ($src) and mode ($mode)" \
	[ "$(m a "timekeeper_clocksource_info{source=\"$src\",override=\"\",mode=\"$mode\"}")" = 1 ]
check "timekeeper_reference_info{reference=\"none\"} 1" \
	[ "$(m a 'timekeeper_reference_info{reference="none"}')" = 1 ]
check "sync_status 0, as timectl's synchronized is false" sh -c \
	"[ '$(m a timekeeper_sync_status)' = 0 ] &&
	 [ '$(jq -r .synchronized "$tmpdir/st1.json")' = false ]"
# Constants of this run: the same in both timectl readings and the page.
same() { # FILTER METRIC SCALE: the metric equals FILTER / SCALE in both readings
	a=$(jq -r "$1" "$tmpdir/st1.json")
	b=$(jq -r "$1" "$tmpdir/st2.json")
	v=$(m a "$2")
	awk -v a="$a" -v b="$b" -v v="$v" -v s="$3" \
		'BEGIN { d = v - a / s; if (d < 0) d = -d
			 exit !(a == b && v != "" && d <= 1e-12 * (a < 0 ? -a : a) / s) }'
}
check "maxerror: $(m a timekeeper_maxerror_seconds) s" \
	same .maxerror_us timekeeper_maxerror_seconds 1e6
check "estimated error: $(m a timekeeper_estimated_error_seconds) s" \
	same .esterror_us timekeeper_estimated_error_seconds 1e6
check "frequency: $(m a timekeeper_frequency_adjustment_ratio)" \
	same .frequency_scaled_ppm timekeeper_frequency_adjustment_ratio 65536e6
check "status bits, time constant, update interval" sh -c \
	"[ '$(m a timekeeper_status)' = '$(jq .ntp_status "$tmpdir/st1.json")' ] &&
	 [ '$(m a timekeeper_loop_time_constant)' = '$(jq .time_constant "$tmpdir/st1.json")' ] &&
	 [ '$(m a timekeeper_update_interval_seconds)' = 1 ]"
between() { # FILTER1 FILTER2 METRIC: FILTER1 on the first <= metric <= FILTER2 on the second
	awk -v a="$1" -v b="$2" -v v="$3" 'BEGIN { exit !(v != "" && a <= v + 0 && v + 0 <= b) }'
}
bad=
for name in $(jq -r '.sources[].name' "$tmpdir/so1.json"); do
	for f in checks skips failures retries; do
		sel=".sources[] | select(.name == \"$name\") | .watchdog.$f"
		v=$(m a "timekeeper_source_watchdog_${f}_total{source=\"$name\"}")
		between "$(jq "$sel" "$tmpdir/so1.json")" "$(jq "$sel" "$tmpdir/so2.json")" "$v" ||
			bad="$bad $name.$f=$v"
	done
	sel=".sources[] | select(.name == \"$name\")"
	j() { jq -r "$sel | $1" "$tmpdir/so1.json"; }
	l="{source=\"$name\"}"
	[ "$(m a "timekeeper_source_rating$l")" = "$(j .effective_rating)" ] ||
		bad="$bad $name.rating"
	[ "$(m a "timekeeper_source_frequency_hertz$l")" = "$(j .hz)" ] || bad="$bad $name.hz"
	[ "$(m a "timekeeper_source_state{source=\"$name\",state=\"$(j .state)\"}")" = 1 ] ||
		bad="$bad $name.state"
done
check "per source: watchdog counters between two timectl readings, rating, hz, state${bad:+:$bad}" \
	[ -z "$bad" ]
check "disruptions between two timectl readings" \
	between "$(jq .disruption "$tmpdir/st1.json")" "$(jq .disruption "$tmpdir/st2.json")" \
	"$(m a timekeeper_page_disruptions_total)"
check "lateness: the worst since the start between two timectl readings" \
	between "$(jq '.loop_late_max_ns / 1e9' "$tmpdir/st1.json")" \
	"$(jq '.loop_late_max_ns / 1e9' "$tmpdir/st2.json")" \
	"$(m a timekeeper_loop_lateness_max_seconds)"

# --- hostile clients ---------------------------------------------------------
# Refusals first: each gets its status, or a close.
out=""
for req in 'garbage\r\n\r\n' 'POST /metrics HTTP/1.0\r\n\r\n' 'GET / HTTP/1.0\r\n\r\n' \
	'GET /metrics HTTP/2.0\r\n\r\n' 'GET /metrics HTTP/1.0\r\nno colon\r\n\r\n' \
	"GET /metrics HTTP/1.0\\r\\nX: $(printf '\001')\\r\\n\\r\\n" \
	'GET /metricsfoo HTTP/1.1\r\n\r\n' \
	'GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n'; do
	out="$out $("$HTTP" raw "$port" "$req" | cut -d' ' -f2)"
done
check "garbage, POST, /, HTTP/2.0, a bad header, a control byte, /metricsfoo, a query:$out" \
	[ "$out" = " 400 405 404 400 400 400 404 200" ]

scrape before
body before
"$HTTP" idle "$port" 100 60 >"$tmpdir/idle.out" &
idle=$!
"$HTTP" slow "$port" 300 >"$tmpdir/slower.out" & # 45 bytes at 0.3 s: past the 5 s deadline
slower=$!
"$HTTP" big "$port" 1048576 >"$tmpdir/big.out"
check "a 1 MB header: 431 or closed ($(cat "$tmpdir/big.out"))" \
	grep -Eq '^(HTTP/1.1 431 |closed)' "$tmpdir/big.out"
# While 100 idle connections and a slow one hold the slots, a scraper (whose
# request comes at once) gets its page, timectl its status.
# flooded: a page served after the idle clients took the slots (92 at least were dropped)
flooded() {
	scrape during && body during &&
		[ "$(m during timekeeper_metrics_connections_dropped_total)" -ge 92 ]
}
check "metrics served while 100 idle clients hold the slots" wait_until 60 flooded
check "timectl status served meanwhile" sh -c '"$1" status >/dev/null' sh "$TC"
wait "$idle"
check "the idle clients were all closed by the daemon: $(cat "$tmpdir/idle.out")" \
	grep -q '^100 of 100 closed' "$tmpdir/idle.out"
wait "$slower"
check "a request slower than the deadline is closed ($(cat "$tmpdir/slower.out"))" \
	grep -q '^closed' "$tmpdir/slower.out"
"$HTTP" slow "$port" 20 >"$tmpdir/slow.out"
check "a request sent a byte every 20 ms is answered ($(cat "$tmpdir/slow.out"))" \
	grep -q '^HTTP/1.1 200 ' "$tmpdir/slow.out"
scrape after
body after
"$TC" --json status >"$tmpdir/st3.json"
u0=$(m before timekeeper_page_updates_total)
u1=$(m after timekeeper_page_updates_total)
check "the page went on: fresh, $u0 -> $u1 updates" \
	sh -c "jq -e '.page.liveness == \"fresh\"' '$tmpdir/st3.json' >/dev/null &&
	[ $(m after timekeeper_page_updates_total) -gt $(m before timekeeper_page_updates_total) ]"
check "dropped connections counted ($(m after timekeeper_metrics_connections_dropped_total))" \
	[ "$(m after timekeeper_metrics_connections_dropped_total)" -ge 100 ]
kill -TERM "$pid"
wait "$pid"

# --- bad values ----------------------------------------------------------------
for v in "garbage" "127.0.0.1:70000" "localhost:9817"; do
	printf '[daemon]\nruntime_dir = %s/run2\nstate_dir = %s/state2\nuser =\n%s\n' \
		"$tmpdir" "$tmpdir" "[metrics]
listen = $v" >"$tmpdir/bad.conf"
	"$TKD" -f -c "$tmpdir/bad.conf" 2>"$tmpdir/bad.log"
	echo "rc=$?" >>"$tmpdir/bad.log"
	cat "$tmpdir/bad.log" >>"$tmpdir/bad.all"
done
check "malformed listen values stop the start, one line each saying what was expected" sh -c \
	"[ \$(grep -c 'listen = .*expected ADDRESS:PORT' '$tmpdir/bad.all') = 3 ] &&
	 [ \$(grep -c '^rc=2' '$tmpdir/bad.all') = 3 ]"
diag "$(cat "$tmpdir/bad.all")"
rm -rf "$tmpdir/run"
# 192.0.2.1 (TEST-NET-1) is no address of this machine: bind() fails, nothing is sent.
tk_start_daemon "$tmpdir/d3.log" \
	"[discipline]\nreference = none\n[metrics]\nlisten = 192.0.2.1:$port\n$sim"
line="metrics: listen = 192.0.2.1:$port: cannot bind: .*running without metrics"
check "an address that cannot be bound: one line, runs ($(grep metrics: "$tmpdir/d3.log"))" \
	sh -c "kill -0 $pid && '$TC' status >/dev/null &&
	[ \$(grep -c '$line' '$tmpdir/d3.log') = 1 ]"
exit 0
