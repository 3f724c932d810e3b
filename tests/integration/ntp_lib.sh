# SPDX-License-Identifier: GPL-2.0-or-later
# Real NTP servers for the NTP tests and the convergence bench (doc/architecture.md,
# section 11), sourced after lib.sh. Nothing is installed here: chronyd,
# chronyc and ntpsec's ntpd are found on PATH or, since the two packages
# conflict (both provide time-daemon), unpacked by ./dev.sh into
# $TK_PEERS_CACHE (default ~/.cache/timekeeperd-peers/{chrony,ntpsec});
# libfaketime comes from the faketime package. TK_CHRONYD, TK_CHRONYC and
# TK_NTPD name other binaries.
#
# Every server runs on 127.0.0.1 in a way that cannot touch the host clock:
# CAP_SYS_TIME is dropped from its bounding set (setpriv), chronyd runs with
# -x (no clock control) and ntpd with its clock discipline disabled
# (`disable ntp kernel`); each has its own config, pid, drift and log files
# in the test's $tmpdir and never reads /etc/chrony or /etc/ntpsec. Servers
# are stopped by pid when the script exits. ntp_host_snapshot and
# ntp_host_check prove the host clock was neither stepped nor retuned.

NTP_CACHE=${TK_PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/timekeeperd-peers}
HOSTCLOCK="$top_builddir/tests/integration/tk_hostclock"
TIMECTL="$top_builddir/timectl"
ntp_pids=""
ntp_stopped=""

# The first of the candidates that is executable.
ntp_first_exe() {
	for f in "$@"; do
		[ -n "$f" ] && [ -x "$f" ] && { echo "$f"; return 0; }
	done
	return 1
}

CHRONYD=$(ntp_first_exe "${TK_CHRONYD:-}" "$(command -v chronyd 2>/dev/null)" /usr/sbin/chronyd \
	"$NTP_CACHE/chrony/usr/sbin/chronyd") || CHRONYD=
CHRONYC=$(ntp_first_exe "${TK_CHRONYC:-}" "$(dirname "${CHRONYD:-/x}")/../bin/chronyc" \
	"$(command -v chronyc 2>/dev/null)" /usr/bin/chronyc) || CHRONYC=
NTPD=
for f in "${TK_NTPD:-}" /usr/sbin/ntpd "$NTP_CACHE/ntpsec/usr/sbin/ntpd"; do
	# /usr/sbin/ntpd may be the classic ntp: only ntpsec's is wanted here.
	if [ -n "$f" ] && [ -x "$f" ] && "$f" --version 2>/dev/null | grep -q ntpsec; then
		NTPD=$f
		break
	fi
done
LIBFAKETIME=
for f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
	[ -r "$f" ] && LIBFAKETIME=$f && break
done

# ntp_required: a missing piece fails the test instead of skipping it, under
# CI=true or TK_REQUIRE_NTP=1 (as TK_REQUIRE_VM does for the VM tests): a CI
# run without its NTP servers must not pass by skipping every NTP test.
ntp_required() {
	[ "${CI:-}" = true ] || [ "${TK_REQUIRE_NTP:-0}" = 1 ]
}

# ntp_unavailable REASON: the test cannot run: skip it, saying why, or, when
# ntp_required, fail it (one "not ok"). Exits.
ntp_unavailable() {
	if ntp_required; then
		echo "1..1"
		echo "not ok 1 - cannot run, and CI=true or TK_REQUIRE_NTP=1 requires it: $*"
		exit 1
	fi
	tap_skip_all "$*"
}

# ntp_need_root, ntp_need_chrony, ntp_need_ntpsec, ntp_need_faketime: skip the
# whole test, saying why, when something is missing (fail it, ntp_required).
ntp_need_root() {
	[ "$(id -u)" -eq 0 ] || ntp_unavailable \
		"needs root: the NTP servers run with CAP_SYS_TIME dropped from their bounding set"
	command -v setpriv >/dev/null 2>&1 || ntp_unavailable "setpriv (util-linux) not found"
	command -v ss >/dev/null 2>&1 || ntp_unavailable "ss (iproute2) not found"
	[ -x "$HOSTCLOCK" ] || ntp_unavailable "$HOSTCLOCK not built"
}
ntp_need_chrony() {
	[ -n "$CHRONYD" ] && [ -n "$CHRONYC" ] ||
		ntp_unavailable \
			"chronyd/chronyc not found (./dev.sh test unpacks chrony into $NTP_CACHE)"
}
ntp_need_ntpsec() {
	[ -n "$NTPD" ] || ntp_unavailable \
		"ntpsec's ntpd not found (./dev.sh test unpacks ntpsec into $NTP_CACHE)"
	# Not a missing piece but a busy machine: a skip even in CI.
	ntp_port_free 123 || tap_skip_all \
		"UDP port 123 is in use: ntpsec's ntpd can only serve there"
}
ntp_need_faketime() {
	[ -n "$LIBFAKETIME" ] || ntp_unavailable "libfaketime not found (apt-get install faketime)"
}

# ntp_port_free PORT: nothing listens on UDP PORT.
ntp_port_free() {
	[ -z "$(ss -Hunl "sport = :$1" 2>/dev/null)" ]
}

# ntp_free_port: prints a UDP port in 20000..59999 nothing listens on.
ntp_free_port() {
	while :; do
		p=$(($(od -An -N2 -tu2 /dev/urandom) % 40000 + 20000))
		ntp_port_free "$p" && { echo "$p"; return 0; }
	done
}

# ntp_wait_port PORT: waits up to 30 s for a listener on UDP PORT.
ntp_port_taken() { ! ntp_port_free "$1"; }
ntp_wait_port() { wait_until 30 ntp_port_taken "$1"; }

ntp_cleanup() {
	for p in $ntp_stopped; do
		kill -CONT "$p" 2>/dev/null
	done
	for p in $ntp_pids ${pid:-}; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $ntp_pids ${pid:-}; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 30 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$tmpdir"
}
trap ntp_cleanup EXIT

# ntp_start_daemon LOG SECTIONS: tk_start_daemon, keeping ntp_cleanup as the
# exit trap (it stops the daemon too).
ntp_start_daemon() {
	tk_start_daemon "$@"
	trap ntp_cleanup EXIT
}

# ntp_start_chronyd NAME PORT [FAKETIME]: a chronyd server on 127.0.0.1:PORT
# serving the host clock at stratum 8 without any upstream (`local`), or,
# with FAKETIME (e.g. +2s), the host clock shifted by libfaketime. Its
# command port (for chronyc -h 127.0.0.1 -p) is in ${NAME}_cmdport, its pid
# in ${NAME}_pid. Returns non-zero if it did not start.
ntp_start_chronyd() {
	name=$1
	port=$2
	cmdport=$(ntp_free_port)
	cat >"$tmpdir/$name.conf" <<EOF
port $port
bindaddress 127.0.0.1
cmdport $cmdport
bindcmdaddress 127.0.0.1
bindcmdaddress /
allow 127.0.0.1
local stratum 8
pidfile $tmpdir/$name.pid
driftfile $tmpdir/$name.drift
EOF
	ntp_chronyd "$name" "${3:-}"
	eval "${name}_cmdport=$cmdport"
	ntp_wait_port "$port"
}

# ntp_start_chronyd_copy NAME PORT: ntp_start_chronyd, from its own copy of
# the chronyd binary: the benchmarks' server. Started from the same file as
# a chronyd client beside it, it answered that client ~0.8 us faster than us
# (delay p10 5.8 against 6.7 us); from a copy, both alike. Our reading: the
# two share code pages, which the client has just run through when its
# request arrives. Half of it lands in the client's offset, an advantage no
# client can see or earn.
ntp_start_chronyd_copy() {
	cp "$CHRONYD" "$tmpdir/chronyd-$1"
	ntp_client_chronyd=$CHRONYD
	CHRONYD=$tmpdir/chronyd-$1
	ntp_start_chronyd "$1" "$2"
	ntp_rc=$?
	CHRONYD=$ntp_client_chronyd
	return $ntp_rc
}

# ntp_start_pair PORT SERVER-OPTIONS: the benchmarks' two clients of
# 127.0.0.1:PORT, started together with the same server options: the
# daemon (ntp_sim_sections, log $tmpdir/daemon.log) and chronyd -x `cli`
# (its drift file seeded at +50 ppm, the simulated devices' error). Sets
# clicmd, the client's command port; non-zero if the daemon did not start.
ntp_start_pair() {
	cliport=$(ntp_free_port)
	clicmd=$(ntp_free_port)
	cat >"$tmpdir/cli.conf" <<EOF
server 127.0.0.1 port $1 $2
port $cliport
bindaddress 127.0.0.1
cmdport $clicmd
bindcmdaddress 127.0.0.1
bindcmdaddress /
pidfile $tmpdir/cli.pid
driftfile $tmpdir/cli.drift
EOF
	printf '50.000 0.100\n' >"$tmpdir/cli.drift"
	ntp_start_daemon "$tmpdir/daemon.log" "$(ntp_sim_sections "server = 127.0.0.1 port $1 $2")"
	ntp_chronyd cli
	[ -s "$tmpdir/run/page" ]
}

# ntp_chronyd NAME [FAKETIME]: starts chronyd -x on $tmpdir/NAME.conf (the
# caller wrote it), in the foreground of a background job, log in
# $tmpdir/NAME.log; sets ${NAME}_pid.
ntp_chronyd() {
	if [ -n "$2" ]; then
		env FAKETIME="$2" FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$LIBFAKETIME" \
			setpriv --bounding-set -sys_time \
			"$CHRONYD" -n -x -u root -f "$tmpdir/$1.conf" -l "$tmpdir/$1.log" \
			2>>"$tmpdir/$1.log" &
	else
		setpriv --bounding-set -sys_time \
			"$CHRONYD" -n -x -u root -f "$tmpdir/$1.conf" -l "$tmpdir/$1.log" \
			2>>"$tmpdir/$1.log" &
	fi
	eval "${1}_pid=$!"
	ntp_pids="$ntp_pids $!"
}

# ntp_start_ntpsec NAME: ntpsec's ntpd on 127.0.0.1:123 (the only port it
# serves on) in orphan mode (`tos orphan 8 orphanwait 0`: with no upstream
# it serves its own clock at stratum 8 at once), the clock discipline off.
# Sets ${NAME}_pid; non-zero if it did not start.
ntp_start_ntpsec() {
	name=$1
	mkdir -p "$tmpdir/$name.stats"
	cat >"$tmpdir/$name.conf" <<EOF
tos orphan 8 orphanwait 0
disable ntp kernel
driftfile $tmpdir/$name.drift
statsdir $tmpdir/$name.stats/
restrict default ignore
restrict 127.0.0.1 nomodify noquery
EOF
	setpriv --bounding-set -sys_time "$NTPD" -n -c "$tmpdir/$name.conf" -p "$tmpdir/$name.pid" \
		-l "$tmpdir/$name.log" -I 127.0.0.1 >"$tmpdir/$name.out" 2>&1 &
	eval "${name}_pid=$!"
	ntp_pids="$ntp_pids $!"
	ntp_wait_port 123
}

# ntp_stop PID: the server stops answering (SIGSTOP; ntp_cleanup resumes and ends it).
ntp_stop() {
	kill -STOP "$1"
	ntp_stopped="$ntp_stopped $1"
}

# ntp_host_snapshot: the host clock's state now, into $tmpdir/host0.json.
ntp_host_snapshot() {
	"$HOSTCLOCK" >"$tmpdir/host0.json"
}

# ntp_host_check: one TAP line: the host clock was not touched since
# ntp_host_snapshot (same frequency, tick and status; no step: REALTIME -
# MONOTONIC moved by less than 1 ms).
ntp_host_check() {
	"$HOSTCLOCK" >"$tmpdir/host1.json"
	jq -s '{freq: (.[0].freq == .[1].freq), tick: (.[0].tick == .[1].tick),
		status: (.[0].status == .[1].status),
		step_ns: (.[1].realtime_minus_monotonic_ns - .[0].realtime_minus_monotonic_ns)}' \
		"$tmpdir/host0.json" "$tmpdir/host1.json" >"$tmpdir/hostd.json"
	check "host clock untouched by the servers: $(jq -c . "$tmpdir/hostd.json")" \
		jqt "$tmpdir/hostd.json" \
		'.freq and .tick and .status and (.step_ns | fabs) < 1000000'
}

# ntp_ctl FILE WHAT: timectl --json WHAT into FILE.
ntp_ctl() {
	"$TIMECTL" --json "$2" >"$1" 2>"$1.err"
}

# ntp_wait_jq SECONDS FILTER: polls timectl --json ntp (into $tmpdir/ntp.json)
# once a second until FILTER is true, for at most SECONDS; non-zero on timeout.
ntp_wait_jq() {
	i=0
	while [ $i -lt "$1" ]; do
		ntp_ctl "$tmpdir/ntp.json" ntp
		jqt "$tmpdir/ntp.json" "$2" && return 0
		sleep 1
		i=$((i + 1))
	done
	return 1
}

# ntp_sim_sections SERVER-LINES: the daemon's sections for a test: simulated
# devices 50 ppm fast, reference = ntp and the given [ntp] server lines.
ntp_sim_sections() {
	printf '[discipline]\nreference = ntp\n[ntp]\n%s\n%s' "$1" \
		'[sim]\ndevices = hpet,acpi_pm,tsc\noscillator_error_ppm = 50\n'
}

# ntp_server_line PORT: the [ntp] line of a test server: fast polls (0.25 to
# 1 s) so a test converges in well under a minute.
ntp_server_line() {
	echo "server = 127.0.0.1 port $1 iburst minpoll -2 maxpoll 0"
}

# ntp_sync_checks STRATUM BOUND_NS: 7 TAP lines for a daemon whose only server
# (a local NTP server at STRATUM serving the host clock) it should follow:
# selected within 60 s, then, after 20 s more, its offset and the page's
# REALTIME against the host clock within BOUND_NS, synchronized.
ntp_sync_checks() {
	if ntp_wait_jq 60 '.servers[0].state == "selected"'; then
		ok \
			"selected within 60 s: $(jq -c \
			'.servers[0] | {state, reach, offset_ns, delay_ns}' "$tmpdir/ntp.json")"
	else
		not_ok \
			"not selected within 60 s: $(jq -c . "$tmpdir/ntp.json" 2>&1) $(cat \
			"$tmpdir/ntp.json.err")"
	fi
	sleep 20
	ntp_ctl "$tmpdir/ntp.json" ntp
	diag "$("$TIMECTL" ntp 2>&1)"
	check \
		"after 20 s more: still selected, reach $(jq '.servers[0].reach' \
		"$tmpdir/ntp.json") > 0" \
		jqt "$tmpdir/ntp.json" '.servers[0].state == "selected" and .servers[0].reach > 0'
	check \
		"server stratum $(jq '.servers[0].stratum' "$tmpdir/ntp.json") = $1, ours $(jq \
		'.stratum' "$tmpdir/ntp.json") = $(($1 + 1))" \
		jqt "$tmpdir/ntp.json" ".servers[0].stratum == $1 and .stratum == $(($1 + 1))"
	check \
		"server offset $(jq '.servers[0].offset_ns' \
		"$tmpdir/ntp.json") ns within $2 ns, delay $(jq '.servers[0].delay_ns' \
		"$tmpdir/ntp.json") ns in (0, 10 ms)" \
		jqt "$tmpdir/ntp.json" \
		"(.servers[0].offset_ns | fabs) <= $2 and .servers[0].delay_ns > 0
		and .servers[0].delay_ns < 10000000"
	ntp_ctl "$tmpdir/status.json" status
	check \
		"timectl status: reference ntp, synchronized, frequency $(jq .frequency_ppm \
		"$tmpdir/status.json") ppm" \
		jqt "$tmpdir/status.json" '.reference == "ntp" and .synchronized == true'
	"$top_builddir/tests/integration/tk_offset" "$tmpdir/run/page" 10 >"$tmpdir/off.json"
	diag "page vs host clock over 10 s: $(cat "$tmpdir/off.json")"
	check \
		"page REALTIME vs the host clock (the server's time): p99 $(jq .p99_ns \
		"$tmpdir/off.json") ns <= $2 ns, all from the page, synchronized" \
		jqt "$tmpdir/off.json" \
		".p99_ns <= $2 and .from_page == .samples and .synchronized == 1"
	ntp_ctl "$tmpdir/ntp2.json" ntp
	check \
		"no step: steps $(jq .steps "$tmpdir/ntp2.json") = 0, updates $(jq .updates \
		"$tmpdir/ntp2.json") > 0" \
		jqt "$tmpdir/ntp2.json" '.steps == 0 and .updates > 0'
}
