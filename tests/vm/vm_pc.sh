#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/vm_pc.sh: timekeeperd's hardware probe on QEMU's pc machine (i440FX + PIIX4, whose
# ACPI function 8086:7113 decides the PM timer workaround), under TCG. See tests/vm/lib.sh.
# shellcheck source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/vm/lib.sh"
vm_probe_test pc
