#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# A short libFuzzer run of every target as one TAP test (make fuzz-check,
# --enable-fuzzing): each tests/fuzz/fuzz_<t> fuzzes for TK_FUZZ_SECONDS
# (default 20) from its committed corpus, new inputs going to
# tests/fuzz/work/<t> in the build tree. A crash, a leak, a sanitizer
# report or an input running over 10 s fails its line, with the fuzzer's
# report and the path of the input it saved (tests/fuzz/work/crash-*,
# leak-*, timeout-*); libFuzzer's final stats follow each line as comments.
# TK_FUZZ_TARGETS picks targets (default: all four).
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
secs=${TK_FUZZ_SECONDS:-20}
targets=${TK_FUZZ_TARGETS:-ctl conf dctl ntp}
work=$top_builddir/tests/fuzz/work

set -- $targets
echo "1..$#"
n=0
for t in $targets; do
	n=$((n + 1))
	bin=$top_builddir/tests/fuzz/fuzz_$t
	log=$work/$t.log
	if [ ! -x "$bin" ]; then
		echo "not ok $n - fuzz_$t: not built" \
			"(configure --enable-fuzzing, then make fuzz-check)"
		continue
	fi
	# The NTP decoder takes one datagram; the others a stream of requests.
	case $t in
	ntp) len=1024 ;;
	*) len=4096 ;;
	esac
	mkdir -p "$work/$t"
	"$bin" -max_total_time="$secs" -max_len="$len" -timeout=10 \
		-artifact_prefix="$work/" -print_final_stats=1 \
		"$work/$t" "$top_srcdir/tests/fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" -eq 0 ]; then
		echo "ok $n - fuzz_$t: ${runs:-?} inputs in $secs s, no crash"
	else
		echo "not ok $n - fuzz_$t: exit $rc after ${runs:-?} inputs (log: $log)"
		grep -v '^stat::' "$log" | tail -40 | sed 's/^/# /'
	fi
	grep '^stat::' "$log" | sed "s/^/# fuzz_$t /"
done
