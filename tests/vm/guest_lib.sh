# shellcheck shell=sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/guest_lib.sh: what the checks inside the systemd QEMU guest share (sd_check.sh,
# deb_guest.sh). vm_sd_overlay (tests/vm/lib.sh) installs it as /tk/lib.sh beside the
# check as /tk/check.sh, which sources it first.
#
# Output goes to the serial port (the unit's stdout), every line prefixed with the run's
# marker so nothing else on the console can be mistaken for it:
#   @@TK-<nonce>@@ T <TAP line without number>   (numbered by the host)
#   @@TK-<nonce>@@ L <line for the test's log>
# and @@TK-<nonce> DONE@@ last. The unit powers the guest off when the check ends.
# The check sets W, its work directory, before it calls run.

# shellcheck source=/dev/null
. /tk/env
M="@@TK-$TK_NONCE@@"
T0=$(cut -d' ' -f1 /proc/uptime)

tap() { printf '%s T %s\n' "$M" "$*"; }
ok() { tap "ok - $*"; }
not_ok() { tap "not ok - $*"; }
skip() { tap "ok - $1 # SKIP $2"; }
note() { tap "# $*"; }
log() { printf '%s L %s\n' "$M" "$*"; }
since() { awk -v a="$1" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", b - a }'; }

# check DESCRIPTION COMMAND...: one TAP line, ok when COMMAND succeeds.
check()
{
	_d=$1
	shift
	if "$@"; then ok "$_d"; else not_ok "$_d"; fi
}

# logfile NAME FILE: FILE's lines into the test's log, each tagged with NAME.
logfile()
{
	[ -s "$2" ] || { log "$1: (no output)"; return 0; }
	tr -d '\r' <"$2" | while IFS= read -r _l; do log "$1: $_l"; done
}

# run NAME SECONDS CMD...: CMD (bounded in time) with stdout in $W/NAME.out and stderr in
# $W/NAME.err, both copied into the log. Returns CMD's status (124 on timeout).
run()
{
	_n=$1
	_t=$2
	shift 2
	log "\$ $*"
	_s=$(cut -d' ' -f1 /proc/uptime)
	timeout "$_t" "$@" >"$W/$_n.out" 2>"$W/$_n.err"
	_rc=$?
	logfile "$_n" "$W/$_n.out"
	[ -s "$W/$_n.err" ] && logfile "$_n(stderr)" "$W/$_n.err"
	log "$_n: exit $_rc after $(since "$_s")s"
	return $_rc
}

# poll SECONDS CMD...: until CMD succeeds, at most SECONDS.
poll()
{
	_end=$(($(cut -d. -f1 /proc/uptime) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(cut -d. -f1 /proc/uptime)" -ge "$_end" ] && return 1
		sleep 0.5
	done
}
