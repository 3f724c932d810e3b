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
