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

vm_sd_run "ran the checks and powered off" 360
vm_log "timing: QEMU run ${VM_ELAPSED}s, whole test $(($(date +%s) - t_start))s"
vm_finish
