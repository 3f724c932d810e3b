#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Unmodified programs under LD_PRELOAD=libtimekeeper-preload.so read the
# daemon's page and still get the kernel's answers: `date` and python3 read
# REALTIME and MONOTONIC from the page, within 1 s of the kernel's (a check
# of correctness, not of timing); tk_preload_abi calls every interposed
# entry point (clock_gettime by both glibc versions, gettimeofday, time,
# timespec_get, ftime), each served once, and the cases the preload must
# pass through (CPU-time, coarse, invalid and dynamic clock ids, NULL
# arguments) with the same result and errno as without it;
# TIMEKEEPER_PRELOAD=off passes everything through; a bad value of it is
# one line on stderr; without a daemon the readings come from the kernel.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
ABI="$top_builddir/tests/integration/tk_preload_abi"
PL=$(tk_preload)
command -v python3 >/dev/null 2>&1 || tap_skip_all "python3 is not installed"
tk_start_daemon "$tmpdir/d.log" '[discipline]\nreference = none\n'
tk_need_tsc
tap_plan 11

# pre STATS COMMAND...: COMMAND under the preload, its counters into STATS
pre() {
	_st=$1
	shift
	ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD="$PL" TIMEKEEPER_PRELOAD_STATS="$_st" "$@"
}
# most FIELD STATS: the largest FIELD of the stats lines (one per process)
most() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$2" | sort -n | tail -n 1; }
# at_least FIELD STATS N: most FIELD >= N
at_least() { [ "$(most "$1" "$2")" -ge "$3" ] 2>/dev/null; }
# near A B: |A - B| < 1 (seconds)
near() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; exit !(d < 1 && d > -1) }'; }

# --- date and python3 -------------------------------------------------------
p=$(pre "$tmpdir/date.st" date +%s.%N)
k=$(date +%s.%N)
check "date +%s.%N under the preload ($p) within 1 s of the kernel's ($k)" near "$p" "$k"
check "and read from the page: $(cat "$tmpdir/date.st")" at_least page "$tmpdir/date.st" 1

# The kernel's clocks in the same process, by the system call (228 on
# x86-64), which no preload reaches: python3 may take seconds to start.
py='import ctypes, time
class ts(ctypes.Structure):
    _fields_ = [("s", ctypes.c_long), ("ns", ctypes.c_long)]
def kernel(c):
    t = ts()
    ctypes.CDLL(None, use_errno=True).syscall(228, c, ctypes.byref(t))
    return t.s + t.ns / 1e9
print(time.time(), time.monotonic(), kernel(time.CLOCK_REALTIME), kernel(time.CLOCK_MONOTONIC))'
set -- $(pre "$tmpdir/py.st" python3 -c "$py")
both_near() { [ $# -eq 4 ] && near "$1" "$3" && near "$2" "$4"; }
check "python3 time.time() $1 and time.monotonic() $2 within 1 s of the kernel's ($3, $4)" \
	both_near "$@"
check "and both read from the page (page=$(most page "$tmpdir/py.st"))" \
	at_least page "$tmpdir/py.st" 2

pyp='import time
print(time.clock_gettime(time.CLOCK_PROCESS_CPUTIME_ID) > 0)
try:
    time.clock_gettime(12345)
except OSError as e:
    print("errno", e.errno)'
a=$(pre "$tmpdir/pyp.st" python3 -c "$pyp" | tr '\n' ' ')
b=$(python3 -c "$pyp" | tr '\n' ' ')
same_pass() { [ "$a" = "True errno 22 " ] && [ "$b" = "$a" ]; }
check "python3: CLOCK_PROCESS_CPUTIME_ID and an invalid id as without the preload ($a/$b)" \
	same_pass

# --- every entry point --------------------------------------------------------
"$ABI" >"$tmpdir/abi.k"
pre 1 "$ABI" >"$tmpdir/abi.p"
cut -d' ' -f1-3 "$tmpdir/abi.k" >"$tmpdir/abi.k3"
cut -d' ' -f1-3 "$tmpdir/abi.p" >"$tmpdir/abi.p3"
same_abi() {
	[ "$(wc -l <"$tmpdir/abi.k3")" -eq 24 ] && cmp -s "$tmpdir/abi.k3" "$tmpdir/abi.p3"
}
check "all $(wc -l <"$tmpdir/abi.k3") cases return and set errno as without the preload: \
$(diff "$tmpdir/abi.k3" "$tmpdir/abi.p3" | tr '\n' ' ' | head -c 400)" same_abi
served_ok() {
	awk -v re='^(clock_gettime(@GLIBC_2\\.(17|2\\.5))?/(MONOTONIC|REALTIME|TAI|BOOTTIME|'\
'MONOTONIC_RAW)|gettimeofday|gettimeofday/tz|time|timespec_get/TIME_UTC|ftime) ' '
	$0 ~ re {
		if ($NF != "served=1") { print "not served once: " $0; bad = 1 } next }
	{ if ($NF != "served=0") { print "not passed through: " $0; bad = 1 } }
	END { exit bad || NR != 24 }' "$1" >"$tmpdir/served.err"
}
served_ok "$tmpdir/abi.p"
[ -s "$tmpdir/abi.p" ] || echo "no output" >"$tmpdir/served.err"
check "each interposed call served once, the others passed through \
$(head -c 300 "$tmpdir/served.err")" \
	served_ok "$tmpdir/abi.p"
# counts FILE SERVED PASSED: how many cases were served and passed through
counts() { [ "$(grep -c 'served=1' "$1")" -eq "$2" ] && [ "$(grep -c 'served=0' "$1")" -eq "$3" ]; }
check "$(grep -c 'served=1' "$tmpdir/abi.p") cases served, \
$(grep -c 'served=0' "$tmpdir/abi.p") passed through" \
	counts "$tmpdir/abi.p" 11 13

# --- the knob -----------------------------------------------------------------
TIMEKEEPER_PRELOAD=off pre 1 "$ABI" >"$tmpdir/abi.off"
all_passed() { counts "$1" 0 24 && [ "$(cut -d' ' -f1-3 "$1")" = "$(cat "$tmpdir/abi.k3")" ]; }
check "TIMEKEEPER_PRELOAD=off passes every call through, results unchanged" \
	all_passed "$tmpdir/abi.off"
TIMEKEEPER_PRELOAD=maybe pre 1 "$ABI" >"$tmpdir/abi.bad" 2>"$tmpdir/abi.bad.err"
bad_knob() {
	[ "$(wc -l <"$tmpdir/abi.bad.err")" -eq 1 ] &&
		grep -q 'TIMEKEEPER_PRELOAD=maybe .*expected on or off' "$tmpdir/abi.bad.err" &&
		counts "$tmpdir/abi.bad" 11 13
}
check "TIMEKEEPER_PRELOAD=maybe: one line on stderr ($(cat "$tmpdir/abi.bad.err")), still served" \
	bad_knob

# --- no daemon ------------------------------------------------------------------
kill -TERM "$pid"
wait "$pid"
p=$(pre "$tmpdir/nod.st" date +%s.%N)
k=$(date +%s.%N)
no_daemon() {
	[ "$(most page "$tmpdir/nod.st")" -eq 0 ] && at_least kernel "$tmpdir/nod.st" 1 &&
		near "$p" "$k"
}
check "without the daemon date reads the kernel ($(cat "$tmpdir/nod.st")), within 1 s ($p, $k)" \
	no_daemon
exit 0
