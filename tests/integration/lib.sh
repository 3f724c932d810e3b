# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the integration tests: a TAP writer and the daemon's path.
# The test harness exports top_srcdir and top_builddir (absolute).

: "${top_srcdir:?}" "${top_builddir:?}"
TKD="$top_builddir/timekeeperd"
tap_n=0
tap_failed=0

tap_plan() { echo "1..$1"; }
tap_skip_all() { echo "1..0 # SKIP $*"; exit 0; }
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=1; echo "not ok $tap_n - $*"; }
# check DESCRIPTION COMMAND...: ok when the command succeeds
check() {
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
need_jq() { command -v jq >/dev/null 2>&1 || tap_skip_all "jq is not installed"; }

# jqt FILE FILTER: true when the jq filter yields true
jqt() { [ "$(jq -r "$2" "$1" 2>/dev/null)" = true ]; }

tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/tk-it.XXXXXX")
trap 'rm -rf "$tmpdir"' EXIT

# Started as root, the daemon drops to [daemon] user (timekeeperd(8)). Tests
# that start it put $TK_USER_LINE in their [daemon] section: `daemon` (uid 1,
# in every Debian base-passwd) as root, so the drop is exercised without a
# `timekeeper` user on the test machine and without `nobody`, which tests use
# as an unprivileged client; nothing when not root (there is no drop). The
# temporary directory is opened to that user, who keeps the state dir in it.
TK_DROP_USER=
if [ "$(id -u)" -eq 0 ] && getent passwd daemon >/dev/null 2>&1; then
	TK_DROP_USER=daemon
	chmod 0755 "$tmpdir"
fi
TK_USER_LINE="user = $TK_DROP_USER"

# uptime_s: whole seconds since boot (the kernel's CLOCK_BOOTTIME, which no
# daemon under test and no `date -s` moves).
uptime_s() {
	read -r _up _ </proc/uptime
	echo "${_up%.*}"
}

# wait_until SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds,
# for at most SECONDS; its last status. Tests wait for a condition this way,
# never with a fixed sleep: give SECONDS generously (a loaded machine is slow,
# a correct daemon still gets there), it costs nothing when the condition
# comes early.
wait_until() {
	_wu_end=$(($(uptime_s) + $1))
	shift
	until "$@"; do
		[ "$(uptime_s)" -lt "$_wu_end" ] || return 1
		sleep 0.1
	done
}

# tk_start_daemon LOG SECTIONS: writes $tmpdir/d.conf (a [daemon] section with
# the runtime and state dirs in $tmpdir and $TK_USER_LINE, then SECTIONS as
# given, backslash escapes expanded), starts the daemon in the foreground on
# it with stderr in LOG, and waits (up to 30 s) for its page and control
# socket. Sets pid (killed on exit) and exports TIMEKEEPER_RUNTIME_DIR for
# timectl and the readers.
tk_start_daemon() {
	printf '[daemon]\nruntime_dir = %s/run\nstate_dir = %s/state\n%s\n%b' \
		"$tmpdir" "$tmpdir" "$TK_USER_LINE" "$2" >"$tmpdir/d.conf"
	chmod 644 "$tmpdir/d.conf"
	"$TKD" -f -c "$tmpdir/d.conf" 2>"$1" &
	pid=$!
	trap 'kill -KILL $pid 2>/dev/null; rm -rf "$tmpdir"' EXIT
	export TIMEKEEPER_RUNTIME_DIR="$tmpdir/run"
	wait_until 30 sh -c '[ -s "$1/run/page" ] && [ -S "$1/run/control" ]' sh "$tmpdir"
}

# tk_preload: the LD_PRELOAD value for this build's libtimekeeper-preload.so:
# the library, after the sanitizer runtime it links (an ASan build), which
# must come first in a process.
tk_preload() {
	_pl="$top_builddir/.libs/libtimekeeper-preload.so"
	_asan=$(ldd "$_pl" 2>/dev/null | awk '/libasan/ { print $3 }')
	echo "${_asan:+$_asan }$_pl"
}

# tk_page_tsc: true when the daemon's page is fresh and in TSC mode, the only
# mode the preload reads the page in.
tk_page_tsc() {
	"$top_builddir/timectl" --json status 2>/dev/null |
		jq -e '.page.clock_mode == "tsc" and .page.liveness == "fresh"' >/dev/null
}

# tk_need_tsc: waits (up to 60 s) for tk_page_tsc, else skips the test with
# the page's mode: the preload tests need a TSC clients can read. In CI
# (CI=true) that is a failure instead, as a missing QEMU is.
tk_need_tsc() {
	wait_until 60 tk_page_tsc && return 0
	_why="the daemon's page is not in TSC mode here ($("$top_builddir/timectl" --json status \
		2>/dev/null | jq -c '.page | {clock_mode, liveness}' 2>/dev/null))"
	if [ "${CI:-}" = true ]; then
		tap_plan 1
		not_ok "$_why"
		exit 1
	fi
	tap_skip_all "$_why"
}
