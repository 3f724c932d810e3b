#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/sd_e2e.sh: the systemd end-to-end test (doc/architecture.md, section 11). Boots a Debian
# bookworm image with systemd as PID 1 (tests/vm/sd_image.sh, built once and cached) plus a
# small cpio with the project as `make install` puts it, on QEMU's q35 machine (HPET and
# ICH9 PM timer) under TCG, and runs tests/vm/sd_check.sh inside: systemctl start/stop,
# timectl sources and switch, the page following, privileges, journal, security score.
# The guest's TAP lines come back over the serial console and are numbered here.
# Timings (image build, overlay, boot, checks) are printed as TAP comments.
# shellcheck source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/vm/lib.sh"

t_start=$(date +%s)
vm_check_qemu
command -v zstd >/dev/null 2>&1 || command -v gzip >/dev/null 2>&1 ||
	vm_unavailable "neither zstd nor gzip found"
vm_kernel
vm_kernel_check
vm_sd_base
vm_log "timing: base image $VM_SD_BUILD_TIME s to build ($( [ "$VM_SD_BUILD_TIME" = 0 ] &&
	echo cached || echo built)): $VM_SD_BASE"

t=$(date +%s)
vm_sd_overlay "$top_srcdir/tests/vm/sd_check.sh"
vm_log \
	"timing: make install + overlay $(($(date +%s) - t)) s ($(wc -l \
	<"$VM_WORK/installed.txt") files installed)"

# systemd prints its own status on the console while booting; quiet keeps the kernel's
# messages there to warnings. 1 GiB: the image is unpacked into RAM (tmpfs, half of it).
VM_APPEND="$VM_APPEND quiet loglevel=4 systemd.show_status=auto"
VM_MEM=1024
# The guest's own limit for the checks (tk-e2e.service's TimeoutStartSec, then poweroff)
# comes first; this one is for a guest that never gets that far.
VM_TIMEOUT=${TK_VM_TIMEOUT:-360}
log=$VM_WORK/serial.log
if vm_run q35 "$log"; then
	vm_ok "q35: systemd booted, ran the checks and powered off in ${VM_ELAPSED}s"
else
	vm_not_ok "q35: no end marker from the guest after ${VM_ELAPSED}s"
	vm_log "serial log tail ($log):"
	vm_comment_file "$log.txt" 80
fi

# The guest's lines: T are TAP (numbered here), L go to the guest log.
marker="@@TK-$VM_NONCE@@ "
sed -n "s/^.*$marker//p" "$log.txt" >"$VM_WORK/guest.txt"
sed -n 's/^L //p' "$VM_WORK/guest.txt" >"$VM_WORK/guest.log"
failed_before=$VM_FAILED
sed -n 's/^T //p' "$VM_WORK/guest.txt" >"$VM_WORK/guest.tap"
while IFS= read -r line; do
	case $line in
	"ok - "*) vm_ok "${line#ok - }" ;;
	"not ok - "*) vm_not_ok "${line#not ok - }" ;;
	"#"*) echo "$line" ;;
	*) vm_log "guest (unexpected): $line" ;;
	esac
done <"$VM_WORK/guest.tap"
[ -s "$VM_WORK/guest.tap" ] || vm_not_ok "the guest reported no checks"

if [ "$VM_FAILED" -ne "$failed_before" ] || [ "$VM_FAILED" -ne 0 ]; then
	vm_log "guest log ($VM_WORK/guest.log), last 120 lines:"
	vm_comment_file "$VM_WORK/guest.log" 120
fi
vm_log "timing: QEMU run ${VM_ELAPSED}s, whole test $(($(date +%s) - t_start))s"
vm_finish
