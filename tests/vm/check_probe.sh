#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/check_probe.sh: check the JSON of `timekeeperd --probe --json` taken inside an
# emulated machine against what that machine is known to have (QEMU's q35
# and pc both have an HPET at 0xfed00000 ticking at 100 MHz and the ACPI PM timer at port
# 0x608). Prints one TAP result line per check (no plan: the caller numbers and counts);
# the values seen are in each line. Exit status 0 when every check passed.
#
#   check_probe.sh [--first N] [--pci FILE] [--dmesg FILE] MACHINE PROBE_JSON
#
# --first N    number of the first result line (default 1)
# --pci FILE   the guest's PCI functions, one per line: slot vendor device revision class
#              (as /sys/bus/pci/devices/*/{vendor,device,revision,class} give them, 0x...);
#              needed for the acpi_pm chipset workaround check
# --dmesg FILE the guest's kernel log, for checks that compare with the kernel's view
#
# Adding a check: write a function check_<what> using the helpers below (result, src,
# within) and call it from run_checks.

set -u

first=1
pci=
dmesg=
while [ $# -gt 0 ]; do
	case $1 in
	--first) first=$2; shift 2 ;;
	--pci) pci=$2; shift 2 ;;
	--dmesg) dmesg=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "check_probe.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || { echo \
	"usage: check_probe.sh [--first N] [--pci F] [--dmesg F] MACHINE JSON" >&2; exit 2; }
machine=$1
json=$2
command -v jq >/dev/null 2>&1 || { echo \
	"not ok $first - $machine: jq not found (install jq)"; exit 1; }

n=$((first - 1))
failed=0

# Hardware constants of QEMU's q35/pc (hw/timer/hpet.c, hw/acpi/core.c; the kernel's
# PMTMR_TICKS_PER_SEC).
HPET_ADDRESS=0xfed00000
HPET_PERIOD_FS=10000000
HPET_HZ=100000000
PMTMR_PORT=1544
PMTMR_HZ=3579545
TOLERANCE_PPM=1000 # 0.1 %

# result OK|FAIL DESCRIPTION
result()
{
	n=$((n + 1))
	if [ "$1" = OK ]; then
		echo "ok $n - $machine: $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $machine: $2"
	fi
}

# src NAME FIELD: the field of source NAME as compact JSON ("null" when absent, empty
# when there is no such source).
src()
{
	jq -c --arg n "$1" --arg f "$2" 'first(.sources[] | select(.name == $n)) | .[$f]' "$json" \
		2>/dev/null
}

# within VALUE NOMINAL PPM: true when |VALUE - NOMINAL| <= NOMINAL * PPM / 1e6.
within()
{
	awk -v v="$1" -v nom="$2" -v ppm="$3" 'BEGIN {
		if (v !~ /^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/) exit 1
		d = v - nom; if (d < 0) d = -d
		exit !(d <= nom * ppm / 1e6)
	}'
}

# ppm VALUE NOMINAL: the relative error in ppm, for messages.
ppm()
{
	awk -v v="$1" -v nom="$2" 'BEGIN { printf "%+.1f", (v - nom) / nom * 1e6 }'
}

# kernel_says ERE: the guest kernel's log lines matching ERE (nothing without --dmesg), for
# checks that compare with the kernel's own view (its TSC calibration, its warp verdict).
kernel_says()
{
	[ -n "$dmesg" ] && [ -r "$dmesg" ] && grep -E "$1" "$dmesg"
}

# check_eq NAME FIELD EXPECTED(JSON) WHAT
check_eq()
{
	got=$(src "$1" "$2")
	if [ "$got" = "$3" ]; then
		result OK "$1 $4 $got"
	else
		result FAIL "$1 $4 ${got:-(no $1 source)}, expected $3"
	fi
}

check_usable()
{
	usable=$(src "$1" usable)
	if [ "$usable" = true ]; then
		result OK "$1 usable"
	else
		result FAIL "$1 not usable (usable=${usable:-no source}, reason=$(src "$1" reason))"
	fi
}

# check_rate NAME NOMINAL_HZ: measured_hz within TOLERANCE_PPM of the nominal rate.
check_rate()
{
	got=$(src "$1" measured_hz)
	if within "$got" "$2" "$TOLERANCE_PPM"; then
		result OK "$1 measured $got Hz ($(ppm "$got" "$2") ppm) within 0.1% of $2"
	else
		result FAIL "$1 measured ${got:-(no source)} Hz, not within 0.1% of $2"
	fi
}

# The kernel's rule (drivers/clocksource/acpi_pm.c): the verified triple read is needed on
# PIIX4 8086:7113 before revision 3 and always on ICH4 8086:24c0 and ServerWorks 1166:0009.
expected_workaround()
{
	awk '
		function hex(s,   i, x) {
			s = tolower(s); sub(/^0x/, "", s); x = 0
			for (i = 1; i <= length(s); i++)
				x = x * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
			return x
		}
		{ v = tolower($2); d = tolower($3); r = hex($4) }
		v == "0x8086" && d == "0x7113" { print (r < 3 ? "true" : "false") \
			" 8086:7113 rev " r; found = 1; exit }
		v == "0x8086" && d == "0x24c0" { print "true 8086:24c0"; found = 1; exit }
		v == "0x1166" && d == "0x0009" { print "true 1166:0009"; found = 1; exit }
		END { if (!found) print "false no PIIX4/ICH4/ServerWorks-LE function" }' "$1"
}

check_workaround()
{
	if [ -z "$pci" ] || [ ! -s "$pci" ]; then
		result FAIL "acpi_pm workaround: no PCI list from the guest to compare with"
		return
	fi
	exp=$(expected_workaround "$pci")
	got=$(src acpi_pm workaround)
	if [ "$got" = "${exp%% *}" ]; then
		result OK "acpi_pm workaround $got as the kernel's rule says for ${exp#* }"
	else
		msg="acpi_pm workaround ${got:-(no source)}, kernel's rule says ${exp%% *}"
		result FAIL "$msg for ${exp#* }"
	fi
	# The kernel rates a PM timer read the slow way 120 instead of 200.
	case $got in
	true) check_eq acpi_pm rating 120 "rating with workaround" ;;
	false) check_eq acpi_pm rating 200 "rating without workaround" ;;
	esac
}

# tsc_cal REFERENCE: the TSC's calibrated_hz against that reference ("" when absent).
tsc_cal()
{
	jq -r --arg r "$1" 'first(.sources[] | select(.name == "tsc") | .calibrations[]? |
		select(.reference == $r) | .calibrated_hz) // empty' "$json" 2>/dev/null
}

# The TSC calibrated against the HPET and against the PM timer must agree with each other
# and with the guest kernel's own calibration ("Refined TSC clocksource calibration" when
# it got that far, else "Detected ... MHz") within 100 ppm. When the kernel's own quick
# calibration failed ("Fast TSC calibration failed", "Unable to calibrate against PIT") it
# falls back to a few short loops against the HPET or PM timer, which under TCG on a busy
# host are off by up to ~1000 ppm (a CI run saw 800); its number is then compared within
# CAL_FALLBACK_PPM, and the test says so. Our two calibrations, over seconds, must still
# agree with each other within 100 ppm.
CAL_TOLERANCE_PPM=100
CAL_FALLBACK_PPM=2000
check_calibration()
{
	h=$(tsc_cal hpet)
	p=$(tsc_cal acpi_pm)
	if [ -n "$h" ] && [ -n "$p" ] && within "$p" "$h" "$CAL_TOLERANCE_PPM"; then
		result OK \
			"tsc calibrated against hpet $h Hz and against acpi_pm $p Hz agree ($(ppm \
			"$p" "$h") ppm)"
	else
		msg="tsc calibrated against hpet ${h:-(none)} Hz and acpi_pm ${p:-(none)} Hz:"
		result FAIL "$msg not within $CAL_TOLERANCE_PPM ppm"
	fi
	line=$(kernel_says 'tsc: Refined TSC clocksource calibration: [0-9.]+ MHz' | tail -n 1)
	[ -n "$line" ] || line=$(kernel_says 'tsc: Detected [0-9.]+ MHz' | tail -n 1)
	kern_hz=$(printf '%s\n' "$line" | sed -n 's/.* \([0-9][0-9.]*\) MHz.*/\1/p' | tail -n 1)
	if [ -z "$kern_hz" ]; then
		result FAIL "the guest kernel printed no TSC frequency to compare with"
		return
	fi
	kern_hz=$(awk -v m="$kern_hz" 'BEGIN { printf "%.0f", m * 1e6 }')
	tol=$CAL_TOLERANCE_PPM
	how="kernel: ${line#*] }"
	case "$line" in
	*Refined*) ;;
	*)
		if [ -n \
			"$(kernel_says \
			'Fast TSC calibration failed|Unable to calibrate against PIT')" ]; then
			tol=$CAL_FALLBACK_PPM
			how="$how, after its quick calibration failed: within $tol ppm"
		fi ;;
	esac
	for ref in hpet acpi_pm; do
		v=$(tsc_cal "$ref")
		if [ -n "$v" ] && within "$v" "$kern_hz" "$tol"; then
			msg="tsc against $ref $v Hz agrees with the kernel's $kern_hz Hz"
			result OK "$msg ($(ppm "$v" "$kern_hz") ppm; $how)"
		else
			msg="tsc against $ref ${v:-(none)} Hz, kernel's $kern_hz Hz:"
			result FAIL "$msg not within $tol ppm ($how)"
		fi
	done
}

# Our warp test's verdict beside the kernel's. They can differ for a reason: the kernel
# decides some cases by rule without measuring (unsynchronized_tsc(): no constant_tsc on
# a non-Intel CPU with more than one package), while ours always measures.
check_warp()
{
	run=$(jq -r 'first(.sources[] | select(.name == "tsc")) | .warp.run' "$json")
	ours=$(jq -r 'first(.sources[] | select(.name == "tsc")) | .warp.note' "$json")
	warps=$(jq -r 'first(.sources[] | select(.name == "tsc")) | .warp.nr_warps' "$json")
	inv=$(jq -r 'first(.sources[] | select(.name == "tsc")) | .invariant' "$json")
	if [ "$run" = true ] && [ "$warps" != null ]; then
		result OK \
			"our warp test ran: $ours (max warp $(jq -r \
			'first(.sources[] | select(.name == "tsc")) | .max_warp_cycles' \
			"$json") cycles)"
	else
		result FAIL "our warp test did not run: $ours"
		return
	fi
	kern=$(kernel_says \
		'Marking TSC unstable|TSC synchronization|tsc_sync|Measured .* cycles TSC warp' | \
		sed 's/^\[[^]]*\] //' | head -n 3)
	echo "# ours:   ${ours} -> TSC $( [ "$warps" = 0 ] && echo synchronized || echo unstable)"
	echo "# kernel: ${kern:-no TSC synchronization verdict printed (synchronized)}"
	case $kern in
	*"TSCs unsynchronized"*)
		[ "$warps" = 0 ] &&
			echo "# they differ: the kernel marked the TSC unstable by rule," \
				"not by measurement:" &&
			echo "#   unsynchronized_tsc() says a CPU without constant_tsc" \
				"(invariant TSC here: $inv) that is" &&
			echo "#   not Intel, with more than one package, cannot be trusted;" \
				"our test measured the" &&
			echo "#   counters and QEMU's TCG gives every vCPU the host's TSC," \
				"so no backward step is seen." ;;
	*"check_tsc_sync_source failed"*|*"Measured"*)
		[ "$warps" = 0 ] &&
			echo "# they differ: the kernel measured a warp at boot" \
				"(its test runs while CPUs come up," &&
			echo "#   before TSC_ADJUST fix-ups);" \
				"ours ran later for 20 ms and saw none." ;;
	*)
		[ "$warps" != 0 ] &&
			echo "# they differ: the kernel saw no warp at boot;" \
				"ours saw $warps backward steps" ;;
	esac
}

run_checks()
{
	if ! jq -e '.sources | type == "array"' "$json" >/dev/null 2>&1; then
		result FAIL "probe output is not JSON with a \"sources\" array"
		return
	fi
	check_usable hpet
	check_eq hpet address "\"$HPET_ADDRESS\"" address
	check_eq hpet period_fs "$HPET_PERIOD_FS" period_fs
	check_rate hpet "$HPET_HZ"
	check_usable acpi_pm
	check_eq acpi_pm port "$PMTMR_PORT" port
	check_rate acpi_pm "$PMTMR_HZ"
	check_workaround
	check_usable tsc
	check_usable kclock
	check_calibration
	check_warp
}

run_checks
[ "$failed" -eq 0 ]
