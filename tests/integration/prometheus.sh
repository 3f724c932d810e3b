#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The real Prometheus server (Debian's prometheus package, unpacked by
# ./dev.sh into $TK_PEERS_CACHE/prometheus, never installed as a service)
# scrapes the daemon's metrics page every second; the test asks its HTTP API
# until the samples arrive: the target is up, promtool finds the page clean,
# timekeeper_clocksource_info's source label is timectl's current source and
# `timekeeper_sync_status == 0` holds for this unsynchronized daemon
# (reference none). Prometheus runs on 127.0.0.1 with its own configuration
# and database in the test's $tmpdir and is stopped by pid at exit.
# Under CI=true (or TK_REQUIRE_PROMETHEUS=1) a missing prometheus fails the
# test instead of skipping it, as the NTP tests' servers do.
. "$top_srcdir/tests/integration/lib.sh"
HTTP="$top_builddir/tests/integration/tk_http"
TC="$top_builddir/timectl"
CACHE=${TK_PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/timekeeperd-peers}

unavailable() {
	if [ "${CI:-}" = true ] || [ "${TK_REQUIRE_PROMETHEUS:-0}" = 1 ]; then
		echo "1..1"
		echo "not ok 1 - cannot run, and CI=true or TK_REQUIRE_PROMETHEUS=1 requires it: $*"
		exit 1
	fi
	tap_skip_all "$*"
}
PROM=
for f in "${TK_PROMETHEUS:-}" "$CACHE/prometheus/usr/bin/prometheus" \
	"$(command -v prometheus 2>/dev/null)"; do
	[ -n "$f" ] && [ -x "$f" ] && PROM=$f && break
done
[ -n "$PROM" ] || unavailable "prometheus not found (./dev.sh test unpacks it into $CACHE)"
PROMTOOL=$(dirname "$PROM")/promtool
command -v jq >/dev/null 2>&1 || unavailable "jq is not installed"
command -v ss >/dev/null 2>&1 || unavailable "ss (iproute2) is not installed"
tap_plan 6

free_port() { # a free TCP port on 127.0.0.1 from $1 on
	_p=$1
	while [ -n "$(ss -Htln "sport = :$_p")" ]; do _p=$((_p + 1)); done
	echo "$_p"
}
mport=$(free_port $((20000 + $$ % 20000)))
tk_start_daemon "$tmpdir/d.log" \
	"[discipline]\nreference = none\n[metrics]\nlisten = 127.0.0.1:$mport\n[sim]\n\
devices = hpet,acpi_pm,tsc\n"
pport=$(free_port $((mport + 1)))
cat >"$tmpdir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: timekeeper
    static_configs:
      - targets: ['127.0.0.1:$mport']
EOF
"$PROM" --config.file="$tmpdir/prometheus.yml" --storage.tsdb.path="$tmpdir/tsdb" \
	--web.listen-address="127.0.0.1:$pport" --log.level=warn >"$tmpdir/prom.log" 2>&1 &
ppid_=$!
trap 'kill -KILL $pid $ppid_ 2>/dev/null; rm -rf "$tmpdir"' EXIT

# query PROMQL: the API's answer in $tmpdir/q.json (the body alone)
query() {
	"$HTTP" get "$pport" "/api/v1/query?query=$(jq -rn --arg q "$1" '$q | @uri')" \
		>"$tmpdir/q.http" 2>/dev/null || return 1
	sed '1,/^\r$/d' "$tmpdir/q.http" >"$tmpdir/q.json"
}
# has_result PROMQL: the query answers with at least one sample
has_result() {
	query "$1" && jq -e '.status == "success" and (.data.result | length) > 0' \
		"$tmpdir/q.json" >/dev/null
}

pversion=$("$PROM" --version 2>&1 | awk 'NR == 1 { print $3 }')
check "prometheus $pversion scrapes the daemon: up == 1" \
	wait_until 120 has_result 'up{job="timekeeper"} == 1'
diag "$(tail -5 "$tmpdir/prom.log")"
"$HTTP" get "$mport" /metrics | sed '1,/^\r$/d' >"$tmpdir/page.txt"
check "promtool check metrics finds nothing to say about the page" \
	sh -c '"$1" check metrics <"$2" >"$3" 2>&1' sh "$PROMTOOL" "$tmpdir/page.txt" "$tmpdir/lint"
diag "$(cat "$tmpdir/lint")"
check "timekeeper_clocksource_info arrives" wait_until 120 has_result timekeeper_clocksource_info
src=$(jq -r '.data.result[0].metric.source' "$tmpdir/q.json")
check "its source label ($src) is timectl's current source" \
	[ "$src" = "$("$TC" --json status | jq -r .source)" ]
check "timekeeper_sync_status == 0 for the unsynchronized daemon" \
	has_result 'timekeeper_sync_status == 0'
check "a rate over the page's updates is positive" \
	wait_until 120 has_result 'rate(timekeeper_page_updates_total[5s]) > 0'
exit 0
