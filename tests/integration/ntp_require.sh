#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Under CI=true (or TK_REQUIRE_NTP=1) an NTP test whose servers are missing
# fails instead of skipping, as the VM tests do; outside CI it skips. Runs
# ntp_chrony.sh and ntp_ntpsec.sh with the peers cache pointed at an empty
# directory. Where chronyd or ntpsec's ntpd is installed outside the cache
# (on PATH, /usr/sbin), they cannot be made missing: that half is skipped.
. "$top_srcdir/tests/integration/lib.sh"
tap_plan 4

empty="$tmpdir/empty-peers"
mkdir -p "$empty"

# run_missing TEST CI-VALUE: the test with no servers to find; output in
# $tmpdir/out, exit status in rc.
run_missing() {
	env -u TK_CHRONYD -u TK_CHRONYC -u TK_NTPD -u TK_REQUIRE_NTP CI="$2" \
		TK_PEERS_CACHE="$empty" sh "$top_srcdir/tests/integration/$1" >"$tmpdir/out" 2>&1
	rc=$?
}

for t in ntp_chrony.sh ntp_ntpsec.sh; do
	case $t in
	ntp_chrony.sh) \
		installed=$(command -v chronyd 2>/dev/null || ls /usr/sbin/chronyd 2>/dev/null) ;;
	*) installed=$(/usr/sbin/ntpd --version 2>/dev/null | grep ntpsec) ;;
	esac
	if [ -n "$installed" ]; then
		ok "# SKIP $t: its server is installed outside the cache ($installed)"
		ok "# SKIP $t: its server is installed outside the cache ($installed)"
		continue
	fi
	run_missing "$t" true
	if [ "$rc" -ne 0 ] && grep -q '^not ok' "$tmpdir/out" && ! grep -q '# SKIP' \
		"$tmpdir/out"; then
		ok \
			"$t with CI=true and no servers fails (exit $rc): $(grep '^not ok' \
			"$tmpdir/out")"
	else
		not_ok "$t with CI=true and no servers did not fail (exit $rc)"
		diag "$(cat "$tmpdir/out")"
	fi
	run_missing "$t" ""
	if [ "$rc" -eq 0 ] && grep -q '^1\.\.0 # SKIP' "$tmpdir/out"; then
		ok \
			"$t without CI and no servers skips: $(sed -n \
			's/^1\.\.0 # SKIP/skipped:/p' "$tmpdir/out")"
	else
		not_ok "$t without CI and no servers did not skip (exit $rc)"
		diag "$(cat "$tmpdir/out")"
	fi
done
exit 0
