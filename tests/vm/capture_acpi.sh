#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/capture_acpi.sh: capture the HPET and FACP (FADT) ACPI tables of QEMU's q35 and
# pc machines as test fixtures (tests/data/acpi/{q35,pc}/{HPET,FACP}) for the ACPI unit
# tests, and show what the guest kernel sees of the timekeeping hardware: CPU flags, its
# clocksource/TSC/HPET/PM-timer messages, the PCI functions, /proc/iomem and a /dev/mem
# read of the HPET capabilities register. Not part of `make check`; run by hand:
#   tests/vm/capture_acpi.sh [OUTDIR]      (default: $top_srcdir/tests/data/acpi)
# The tables travel base64-encoded over the serial console and are decoded here; each
# capture is checked (signature, length field, checksum) before it is written.

TK_REQUIRE_VM=1 # a tool run by hand: say what is missing instead of skipping
own_work=
if [ -z "${top_builddir:-}" ] && [ -z "${TK_VM_WORK:-}" ]; then
	# Run from the source tree: work in a temp dir, never in the sources.
	TK_VM_WORK=$(mktemp -d "${TMPDIR:-/tmp}/tk-capture.XXXXXX") || exit 1
	own_work=$TK_VM_WORK
fi
# shellcheck source=lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

outdir=${1:-$top_srcdir/tests/data/acpi}

vm_check_host
vm_kernel
vm_kernel_check

guest=$(mktemp "${TMPDIR:-/tmp}/tk-capture-guest.XXXXXX")
cat >"$guest" <<'EOF'
tk_file_b64 HPET /sys/firmware/acpi/tables/HPET
tk_file_b64 FACP /sys/firmware/acpi/tables/FACP
tk_section flags grep -m1 flags /proc/cpuinfo
tk_section dmesg dmesg
tk_section pci tk_pci
tk_section iomem cat /proc/iomem
tk_section ioports cat /proc/ioports
tk_section devmem-hpet devmem 0xfed00000 32
tk_section devmem-hpet-period devmem 0xfed00004 32
tk_section clocksource cat /sys/devices/system/clocksource/clocksource0/current_clocksource \
	/sys/devices/system/clocksource/clocksource0/available_clocksource
tk_section dev-hpet ls -l /dev/hpet /dev/mem /dev/port
EOF
vm_build_initramfs "$guest"
rm -f "$guest"

# check_table FILE SIG: signature, length field == file size, bytes sum to 0 mod 256.
check_table()
{
	sig=$(head -c 4 "$1")
	[ "$sig" = "$2" ] || { echo "signature '$sig', expected $2"; return 1; }
	len=$(od -An -j4 -N4 -tu4 "$1" | tr -d ' ')
	size=$(wc -c <"$1")
	[ "$len" -eq "$size" ] || { echo "length field $len, file has $size bytes"; return 1; }
	sum=$(od -An -v -tu1 "$1" | tr -s ' ' '\n' | awk 'NF { s += $1 } END { print s % 256 }')
	[ "$sum" -eq 0 ] || { echo "checksum: bytes sum to $sum mod 256, expected 0"; return 1; }
}

rc=0
for machine in q35 pc; do
	log=$VM_WORK/serial-$machine.log
	if ! vm_run "$machine" "$log"; then
		echo "$machine: no end marker after ${VM_ELAPSED}s; serial log tail:"
		tail -n 30 "$log.txt"
		rc=1
		continue
	fi
	echo "== $machine: boot + capture took ${VM_ELAPSED}s"
	mkdir -p "$outdir/$machine"
	for table in HPET FACP; do
		tmp=$VM_WORK/$table.$machine
		vm_section "$log.txt" "$table" | base64 -d >"$tmp" 2>/dev/null
		if [ "$(vm_section_rc "$log.txt" "$table")" != 0 ] || ! \
			err=$(check_table "$tmp" "$table"); then
			echo "$machine $table: bad capture: ${err:-guest could not read it}"
			rc=1
			continue
		fi
		cp "$tmp" "$outdir/$machine/$table"
		echo "$machine: wrote $outdir/$machine/$table ($(wc -c <"$tmp") bytes)"
	done
	echo "-- $machine: cpu flags"
	vm_section "$log.txt" flags
	echo "-- $machine: dmesg (tsc|hpet|clocksource|pm-timer|acpi_pm)"
	vm_section "$log.txt" dmesg | grep -i -E 'tsc|hpet|clocksource|pm-timer|acpi_pm'
	echo "-- $machine: PCI (slot vendor device revision class)"
	vm_section "$log.txt" pci
	echo "-- $machine: /proc/iomem (HPET) and /proc/ioports (ACPI PM)"
	vm_section "$log.txt" iomem | grep -i hpet
	vm_section "$log.txt" ioports | grep -i -E 'acpi|pm'
	echo "-- $machine: /dev/mem reads of HPET capabilities (rc)"
	vm_section "$log.txt" devmem-hpet
	vm_section_rc "$log.txt" devmem-hpet
	vm_section "$log.txt" devmem-hpet-period
	echo "-- $machine: clocksource current/available"
	vm_section "$log.txt" clocksource
	vm_section "$log.txt" dev-hpet
done
VM_FAILED=$rc
if [ -n "$own_work" ] && [ "$rc" -eq 0 ] && [ "${TK_VM_KEEP:-0}" != 1 ]; then
	rm -rf "$own_work"
fi
exit $rc
