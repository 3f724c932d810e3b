#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The bound audit: in every NTP scenario tk_boundaudit samples true time
# (the host clock, which the local servers serve) against the page's
# [earliest, latest] at 100 Hz from the daemon's start, and no sample may
# be outside: chronyd, ntpsec, xleave, a falseticker (+2 s), a server that
# stops answering after a new TSC calibration (`timectl recalibrate`: the
# bound must turn free-running and keep holding on the rate the line
# measured, which the calibration must not change), a
# server stepped by +1 s mid-run (chronyd restarted on the same port under
# libfaketime), 30 % packet loss (an nftables `numgen random` drop rule on
# the server's port, removed on exit), and reference = system on an
# unsynchronized host ([sim] host_adjtimex): no bound at all. Waits poll
# with deadlines; the sampler's run is the scenario's length, not a
# threshold.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ntp_lib.sh"
need_jq
ntp_need_root
ntp_need_chrony
ntp_need_faketime
AUDIT="$top_builddir/tests/integration/tk_boundaudit"
tap_plan 18

nft_table=
audit_cleanup() {
	[ -n "$nft_table" ] && nft delete table inet "$nft_table" 2>/dev/null
	ntp_cleanup
}
trap audit_cleanup EXIT

# end: stops the daemon, the sampler and every server of the scenario.
end() {
	for p in $ntp_stopped; do kill -CONT "$p" 2>/dev/null; done
	for p in $ntp_pids ${pid:-} ${apid:-}; do kill -TERM "$p" 2>/dev/null; done
	for p in $ntp_pids ${pid:-} ${apid:-}; do wait "$p" 2>/dev/null; done
	ntp_pids= ntp_stopped= pid= apid=
	rm -rf "$tmpdir/run"
}

# start NAME SECONDS SECTIONS: the daemon on SECTIONS, and the sampler for
# SECONDS from now into $tmpdir/NAME.audit.
start() {
	ntp_start_daemon "$tmpdir/$1.log" "$3"
	trap audit_cleanup EXIT
	"$AUDIT" "$tmpdir/run/page" "$2" >"$tmpdir/$1.audit" 2>"$tmpdir/$1.err" &
	apid=$!
}

# verdict NAME DESCRIPTION: waits for the sampler, one TAP line: judged
# samples, none outside.
verdict() {
	wait "$apid"
	apid=
	diag "$1: $(cat "$tmpdir/$1.audit")" "$(head -n 5 "$tmpdir/$1.err")"
	check \
		"$1: $2: $(jq .outside "$tmpdir/$1.audit") of $(jq .judged \
		"$tmpdir/$1.audit") samples outside the bound (expected 0) (median width $(jq \
		.median_width_ns "$tmpdir/$1.audit") ns)" \
		jqt "$tmpdir/$1.audit" '.judged > 0 and .outside == 0'
}

# wait_locked: up to 60 s for the daemon to follow its server with a
# measured frequency (timectl status: bound synchronized, drift below the
# 500 ppm of an unmeasured one).
wait_locked() {
	i=0
	while [ $i -lt 600 ]; do
		"$TIMECTL" --json status >"$tmpdir/lock.json" 2>/dev/null
		jqt "$tmpdir/lock.json" \
			'.bound.status == "synchronized" and .bound.drift_ppb < 500000' && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

ntp_host_snapshot

# 1. chronyd
port=$(ntp_free_port)
check "chronyd serving on 127.0.0.1:$port" ntp_start_chronyd srv "$port"
start chronyd 20 "$(ntp_sim_sections "$(ntp_server_line "$port")")"
verdict chronyd "one chronyd server"
check \
	"chronyd: the bound was claimed (synchronized samples: $(jq .synchronized \
	"$tmpdir/chronyd.audit"))" \
	jqt "$tmpdir/chronyd.audit" '.synchronized > 0'
end

# 2. ntpsec
if [ -n "$NTPD" ] && ntp_port_free 123; then
	ntp_start_ntpsec nsec
	start ntpsec 20 "$(ntp_sim_sections "server = 127.0.0.1 iburst minpoll -2 maxpoll 0")"
	verdict ntpsec "ntpsec's ntpd"
	end
else
	ok "# SKIP ntpsec: ntpd missing or UDP port 123 in use"
fi

# 3. xleave
port=$(ntp_free_port)
ntp_start_chronyd srv "$port"
start xleave 20 "$(ntp_sim_sections "$(ntp_server_line "$port") xleave")"
verdict xleave "interleaved mode"
end

# 4. falseticker
p1=$(ntp_free_port); ntp_start_chronyd good1 "$p1"
p2=$(ntp_free_port); ntp_start_chronyd good2 "$p2"
p3=$(ntp_free_port); ntp_start_chronyd bad "$p3" +2s
start falseticker 25 "$(ntp_sim_sections "$(ntp_server_line "$p1")
$(ntp_server_line "$p2")
$(ntp_server_line "$p3")")"
verdict falseticker "two good servers and one 2 s ahead"
end

# 5. a server that stops answering once the daemon is locked to it, just
# after the TSC's calibration restarted: its quick and refined values
# rebase the timekeeper twice, each changing the clock's rate by a few ppm,
# which the NTP reference takes off its frequency
port=$(ntp_free_port)
ntp_start_chronyd srv "$port"
start silent 35 "$(ntp_sim_sections "$(ntp_server_line "$port")")"
if wait_locked; then ok "silent: locked"; else not_ok "silent: not locked within 60 s"; fi
refined() { [ "$(grep -c 'refined calibration' "$tmpdir/silent.log")" -ge 2 ]; }
"$TIMECTL" recalibrate >/dev/null
if wait_until 60 refined; then
	ok "silent: recalibrated: $(grep -c 'keeps it' "$tmpdir/silent.log") rate changes kept"
else
	not_ok "silent: no refined calibration within 60 s of timectl recalibrate"
fi
ntp_stop "$srv_pid"
verdict silent "the server stopped (SIGSTOP) once locked"
check "silent: the bound turned free-running ($(jq .free_running "$tmpdir/silent.audit") samples)" \
	jqt "$tmpdir/silent.audit" '.free_running > 0'
end

# 6. a server stepped by +1 s mid-run: chronyd restarted on its port with
# FAKETIME=+1s once the daemon follows it
port=$(ntp_free_port)
ntp_start_chronyd srv "$port"
start stepped 35 "$(ntp_sim_sections "$(ntp_server_line "$port")")"
if wait_locked; then ok "stepped: locked"; else not_ok "stepped: not locked within 60 s"; fi
kill -TERM "$srv_pid"
wait "$srv_pid" 2>/dev/null
i=0
while ! ntp_port_free "$port" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "stepped: chronyd serving +1 s on the same port" ntp_start_chronyd srv1 "$port" +1s
verdict stepped "the server stepped by +1 s"
end

# 7. 30 % packet loss on the server's port
if command -v nft >/dev/null 2>&1; then
	port=$(ntp_free_port)
	ntp_start_chronyd srv "$port"
	nft_table=tk_audit_$$
	if nft add table inet "$nft_table" &&
		nft add chain inet "$nft_table" input \
			'{ type filter hook input priority 0; policy accept; }' &&
		nft add rule inet "$nft_table" input udp dport "$port" numgen random mod 100 \
			'<' 30 drop &&
		nft add rule inet "$nft_table" input udp sport "$port" numgen random mod 100 '<' \
			30 drop; then
		start loss 25 "$(ntp_sim_sections "$(ntp_server_line "$port")")"
		verdict loss "30 % of the packets to and from the server dropped"
	else
		not_ok "loss: nft could not add the drop rule"
	fi
	nft delete table inet "$nft_table" 2>/dev/null
	nft_table=
	end
else
	ok "# SKIP loss: nft (nftables) not installed"
fi

# 8. reference = system on an unsynchronized host
sections="[discipline]\nreference = system\n[sim]\ndevices = hpet,acpi_pm,tsc\n"
ntp_start_daemon "$tmpdir/system.log" \
	"${sections}oscillator_error_ppm = 50\nhost_adjtimex = unsynced\n"
trap audit_cleanup EXIT
"$AUDIT" "$tmpdir/run/page" 12 >"$tmpdir/system.audit" 2>"$tmpdir/system.err"
diag "system: $(cat "$tmpdir/system.audit")"
check "system, unsynchronized host: 0 samples outside, none with a bound, none synchronized" \
	jqt "$tmpdir/system.audit" '.outside == 0 and .judged == 0 and .synchronized == 0'
end

ok "all scenarios ran"
check "no sampler saw a torn read more than rarely (one in 20)" sh -c \
	"jq -s 'all(.[]; .torn * 20 < .samples)' $tmpdir/*.audit | grep -q true"
ntp_host_check
exit 0
