#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The probe on simulated devices: only the simulated devices and kclock are
# registered, each with the real width, and each is measured at its nominal
# frequency times the crystal's error.
. "$top_srcdir/tests/integration/lib.sh"
need_jq

cat >"$tmpdir/sim.conf" <<CONF
[sim]
devices = hpet,acpi_pm,tsc
hpet_hz = 14318180
tsc_hz = 2400000000
oscillator_error_ppm = 50
tsc_error_ppm = 100
CONF
out=$tmpdir/probe.json
"$TKD" --probe --json --seconds 1 -c "$tmpdir/sim.conf" >"$out" 2>"$tmpdir/err"
rc=$?
tap_plan 9
check "probe exits 0 (rc=$rc)" [ "$rc" -eq 0 ]
check "sources: $(jq -c '[.sources[].name]' "$out")" \
	jqt "$out" '[.sources[].name] == ["hpet","acpi_pm","tsc","kclock"]'
check "simulated devices say so" \
	jqt "$out" \
	'[.sources[]|select(.name!="kclock")|.simulated == true
	and (.flags|index("simulated") != null)]|all'
check "widths: $(jq -c '[.sources[]|{(.name):.bits}]|add' "$out")" \
	jqt "$out" \
	'[.sources[]|{(.name):.bits}]|add == {"hpet":32,"acpi_pm":24,"tsc":64,"kclock":64}'
check "ratings: $(jq -c '[.sources[]|{(.name):.rating}]|add' "$out")" \
	jqt "$out" \
	'[.sources[]|{(.name):.rating}]|add == {"hpet":250,"acpi_pm":200,"tsc":300,"kclock":50}'
# hpet measured against acpi_pm: both share the crystal, so the ratio is exact.
check \
	"hpet measured against acpi_pm at 14318180 Hz (shared crystal): $(jq \
	'.sources[0].measured_hz' "$out")" \
	jqt "$out" \
	'.sources[0] | .measured_against == "acpi_pm"
	and ((.measured_hz - 14318180)|fabs) < 14318180e-6*20'
# tsc against hpet: only its own +100 ppm shows.
check "tsc measured against hpet at +100 ppm: $(jq '.sources[2].measured_hz' "$out")" \
	jqt "$out" \
	'.sources[2] | .measured_against == "hpet" and ((.measured_hz / 2400000000 - 1) * 1e6 - 100
	| fabs) < 20'
# acpi_pm against hpet: 0 ppm relative.
check "acpi_pm measured against hpet at 3579545 Hz: $(jq '.sources[1].measured_hz' "$out")" \
	jqt "$out" '.sources[1] | ((.measured_hz - 3579545)|fabs) < 3579545e-6*50'
# kclock against hpet: the crystal is 50 ppm fast, so the kernel clock looks 50 ppm slow.
check "kclock measured against hpet about -50 ppm: $(jq '.sources[3].measured_hz' "$out")" \
	jqt "$out" '.sources[3] | ((.measured_hz / 1e9 - 1) * 1e6 + 50 | fabs) < 20'
exit 0
