#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# make bench-vm: the read cost and the kernel-mirror contract inside QEMU
# (TCG, -smp 2), on q35 with the guest kernel on hpet and on pc with it on
# acpi_pm (clocksource= on the kernel command line), so the kernel's clock
# reads another counter than the page's TSC. tests/vm/lib.sh boots the
# machine with busybox, timekeeperd, timectl and bench_vm; inside, the
# daemon runs with reference = system and [sim] host_adjtimex = synced,
# host_maxerror_us = 0 (the guest kernel has no NTP daemon: it claims to be
# exact, so the page's bound is its own tracking error alone), and bench_vm
# (bench/bench_vm.c) waits for the page to be synchronized, then measures
# the reads, runs readers on every vCPU and audits REALTIME, MONOTONIC,
# BOOTTIME and TAI against the kernel's for BENCH_VM_SECONDS (default 40)
# while it steps and slews the guest kernel's clock (BENCH_VM_STEP_US,
# default 5000; BENCH_VM_SLEW_PPM, default 20; both 0: no moves);
# BENCH_VM_READERS (default 0: one per vCPU) limits the readers.
#
# Before that, once the page is in TSC mode, the preload's read cost (bench/bench_preload.c):
# clock_gettime(CLOCK_MONOTONIC) in a C loop without and with
# LD_PRELOAD=libtimekeeper-preload.so (`preload_read_ratio`), and the same
# for python3's time.monotonic() and time.time() (bench/bench_preload.py,
# `preload_python_ratio`) with the host's /usr/bin/python3 and the few
# files it needs to start put into the image (none on the host: a line
# says the python figure is missing). Both check with the preload's
# counters, before and after their timed runs, that every reading under
# the preload came from the page; without that they print no ratio.
#
# Prints the guest's `bench:` lines, each naming its machine, and the kernel
# line of `timectl sources` for the guest's TSC. Exits 1 when
# the bench cannot run (a skip outside CI, as the VM tests) or a machine's
# MONOTONIC went back; samples outside the bound and the read ratios are
# printed, not judged. BENCH_VM_MACHINES (default "q35 pc") picks the machines.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
export top_srcdir top_builddir
# shellcheck source=../tests/vm/lib.sh
. "$top_srcdir/tests/vm/lib.sh"

secs=${BENCH_VM_SECONDS:-40}
step_us=${BENCH_VM_STEP_US:-5000}
slew_ppm=${BENCH_VM_SLEW_PPM:-20}
readers=${BENCH_VM_READERS:-0}
VM_TIMEOUT=${TK_VM_TIMEOUT:-$((secs + 420))}
work_base=${TK_VM_WORK:-$top_builddir/tests/vm/work}

vm_check_host
vm_kernel
vm_kernel_check
append0=$VM_APPEND

guest=$(mktemp "${TMPDIR:-/tmp}/tk-bench-vm.XXXXXX") || vm_unavailable "mktemp failed"
trap 'rm -f "$guest"' EXIT
cat >"$guest" <<EOF
mkdir -p /etc /run/timekeeper /var/lib/timekeeper
echo 'root:x:0:0:root:/root:/bin/sh' >/etc/passwd
echo 'timekeeper:x:101:101::/nonexistent:/bin/false' >>/etc/passwd
printf 'root:x:0:\ntimekeeper:x:101:\n' >/etc/group
printf '[daemon]\nruntime_dir = /run/timekeeper\nstate_dir = /var/lib/timekeeper\n' >/tmp/tk.conf
printf '[discipline]\nreference = system\n' >>/tmp/tk.conf
printf '[sim]\nhost_adjtimex = synced\nhost_maxerror_us = 0\n' >>/tmp/tk.conf
tk_section clocksource cat /sys/devices/system/clocksource/clocksource0/current_clocksource
timekeeperd -c /tmp/tk.conf -v 2>/tmp/daemon.log &
dpid=\$!
i=0
while ! [ -s /run/timekeeper/page ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
i=0
while ! timectl status 2>/dev/null | grep -q 'Page clock *: mode tsc' && [ \$i -lt 300 ]; do
	sleep 0.1
	i=\$((i + 1))
done
tk_section sources timectl sources
tk_run preload bench_preload /tk/lib/libtimekeeper-preload.so @LABEL@ 300
if [ -x /usr/bin/python3 ]; then
	tk_run preload_py python3 -S /tk/lib/bench_preload.py \
		/tk/lib/libtimekeeper-preload.so @LABEL@ 60
fi
tk_run bench bench_vm /run/timekeeper/page $secs @LABEL@ $step_us $slew_ppm $readers
tk_section status timectl status
kill \$dpid
wait \$dpid
tk_section daemon cat /tmp/daemon.log
EOF

VM_IMAGE_FILES="$top_builddir/.libs/libtimekeeper-preload.so=/tk/lib/libtimekeeper-preload.so"
py_in=0
if py=$(vm_python_files); then
	py_in=1
	VM_IMAGE_FILES="$VM_IMAGE_FILES $py"
	VM_IMAGE_FILES="$VM_IMAGE_FILES $top_srcdir/bench/bench_preload.py=/tk/lib/bench_preload.py"
else
	echo "bench-vm: no /usr/bin/python3 on the host to put in the guests:" \
		"no preload_python_ratio"
fi

status=0
for machine in ${BENCH_VM_MACHINES:-q35 pc}; do
	case $machine in
	q35) cs=hpet ;;
	pc) cs=acpi_pm ;;
	*) cs=${BENCH_VM_CLOCKSOURCE:-hpet} ;;
	esac
	label="$machine/$cs"
	# no_timer_check: under a loaded TCG host the kernel's IO-APIC timer check can fail
	# and panic the boot; it proves nothing here.
	VM_APPEND="$append0 clocksource=$cs no_timer_check"
	sed "s|@LABEL@|$label|" "$guest" >"$guest.$machine"
	TK_VM_WORK=$work_base/$machine
	vm_build_initramfs "$guest.$machine" "$top_builddir/timekeeperd" "$top_builddir/timectl" \
		"$top_builddir/bench/bench_vm" "$top_builddir/bench/bench_preload"
	rm -f "$guest.$machine"
	log=$VM_WORK/serial.log
	echo "bench-vm: $label: booting (TCG, -smp 2, audit $secs s)"
	if ! vm_run "$machine" "$log"; then
		echo "bench-vm: $label: no end marker from the guest after ${VM_ELAPSED}s"
		vm_comment_file "$log.txt" 40
		status=1
		continue
	fi
	kcs=$(vm_section "$log.txt" clocksource)
	vm_section "$log.txt" bench >"$VM_WORK/bench.txt"
	vm_section "$log.txt" bench.stderr >"$VM_WORK/bench.stderr"
	vm_section "$log.txt" daemon >"$VM_WORK/daemon.log"
	vm_section "$log.txt" status >"$VM_WORK/status.txt"
	rc=$(vm_section_rc "$log.txt" bench)
	echo "bench-vm: $label: guest kernel clocksource $kcs, ran in ${VM_ELAPSED}s," \
		"bench_vm exit ${rc:-none}"
	[ "$kcs" = "$cs" ] || {
		echo "bench-vm: $label: the guest kernel runs on $kcs, not $cs"
		status=1
	}
	grep '^bench: ' "$VM_WORK/bench.txt"
	sed 's/^/# /' "$VM_WORK/bench.stderr"
	if [ "$rc" != 0 ]; then
		status=1
		echo "bench-vm: $label: bench_vm failed (exit ${rc:-none});" \
			"timectl status and the daemon's log:"
		vm_comment_file "$VM_WORK/status.txt"
		vm_comment_file "$VM_WORK/daemon.log" 40
	fi
	grep -q '^bench: vm_mirror_outside ' "$VM_WORK/bench.txt" || status=1
	vm_section "$log.txt" sources | grep 'kernel:' | sed "s|^ *|bench-vm: $label: tsc: |"
	for part in preload preload_py; do
		vm_section "$log.txt" $part | grep '^bench: '
		vm_section "$log.txt" $part.stderr | sed 's/^/# /'
		rc=$(vm_section_rc "$log.txt" $part)
		[ "$part" = preload_py ] && [ "$py_in" = 0 ] && continue
		[ "$rc" = 0 ] || echo "bench-vm: $label: $part: exit ${rc:-none}:" \
			"no ratio (printed, not judged, as the others)"
	done
done
rm -f "$guest"
exit $status
