#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/vm_q35.sh: timekeeperd's hardware probe on QEMU's q35 machine (ICH9: HPET at
# 0xfed00000, ACPI PM timer at 0x608, no PIIX4), under TCG. See tests/vm/lib.sh.
# shellcheck source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/vm/lib.sh"
vm_probe_test q35
