#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The bash completions (completion/timectl, completion/timekeeperd) in a real
# bash: the commands and options they offer are the programs' own (from
# --help), every adjtime option they offer is one timectl accepts, a switch
# offers the running daemon's sources and --auto, read offers the clocks
# timectl reads (also with no daemon), and the daemon's path options complete
# files and directories.
. "$top_srcdir/tests/integration/lib.sh"
need_jq
TC="$top_builddir/timectl"
command -v bash >/dev/null 2>&1 || tap_skip_all "bash is not installed"
tap_plan 10

# complete WORDS...: the completions bash offers for the command line WORDS
# (the last word is the one being completed), one per line, sorted.
complete_words() {
	bash -c '
		. "$1/completion/timectl"
		. "$1/completion/timekeeperd"
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		case $(basename "$1") in
		timectl) _timectl ;;
		timekeeperd) _timekeeperd ;;
		esac
		printf "%s\n" "${COMPREPLY[@]}"' sh "$top_srcdir" "$@" | LC_ALL=C sort
}
# same LIST: the completions equal the space-separated LIST (sorted).
same() {
	[ "$(printf '%s\n' $2 | LC_ALL=C sort)" = "$1" ]
}

got=$(complete_words "$TC" st)
check "timectl st<TAB>: status ($got)" same "$got" "status"
got=$(complete_words "$TC" "")
cmds=$("$TC" --help | sed -n '/^Commands:/,/^Options:/s/^  \([a-z-]*\) .*/\1/p' | tr '\n' ' ')
check "timectl <TAB>: the $(echo $cmds | wc -w) commands of timectl --help" same "$got" "$cmds"
got=$(complete_words "$TC" --j)
check "timectl --j<TAB>: --json ($got)" same "$got" "--json"
got=$(complete_words "$TC" adjtime --fr)
check "timectl adjtime --fr<TAB>: --freq --frequency ($(echo $got))" \
	same "$got" "--freq --frequency"

# Every adjtime option offered is one timectl takes (none is "unrecognized").
bad=
for o in $(complete_words "$TC" adjtime --); do
	if "$TC" adjtime "$o" 1 2>&1 | grep -q unrecognized; then
		bad="$bad $o"
	fi
done
n=$(complete_words "$TC" adjtime -- | wc -l)
check "timectl adjtime --<TAB>: $n options, each accepted by timectl${bad:+ (refused:$bad)}" \
	sh -c "[ -z '$bad' ] && [ $n -ge 12 ]"

# No daemon: read's clocks still come from timectl (it falls back to the kernel).
export TIMEKEEPER_RUNTIME_DIR="$tmpdir/none"
got=$(complete_words "$TC" read mono)
check "timectl read mono<TAB> without a daemon: the three MONOTONIC clocks ($(echo $got))" \
	same "$got" "monotonic monotonic_raw monotonic_coarse"

tk_start_daemon "$tmpdir/daemon.log" \
	'[discipline]\nreference = none\n[sim]\ndevices = hpet,acpi_pm,tsc\n'
names=$("$TC" --json sources | jq -r '.sources[].name' | tr '\n' ' ')
got=$(complete_words "$TC" switch "")
check "timectl switch <TAB>: the daemon's sources ($names) and --auto" same "$got" "$names --auto"
got=$(unset TIMEKEEPER_RUNTIME_DIR; complete_words "$TC" -r "$tmpdir/run" unbind a)
check "timectl -r DIR unbind a<TAB>: acpi_pm ($got)" same "$got" "acpi_pm"

got=$(complete_words "$TKD" --st)
check "timekeeperd --st<TAB>: --state-dir ($got)" same "$got" "--state-dir"
mkdir "$tmpdir/confdir"
: >"$tmpdir/confdir/a.conf"
got=$(complete_words "$TKD" --config "$tmpdir/confdir/")
check "timekeeperd --config DIR/<TAB>: the file in it" same "$got" "$tmpdir/confdir/a.conf"
exit 0
