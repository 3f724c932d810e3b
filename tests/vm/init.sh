#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the VM test initramfs (copied there by tests/vm/lib.sh; runs as PID 1 under
# busybox sh). Mounts the pseudo filesystems, runs the test commands in /tk/tests.sh as
# root and powers the machine off. Everything the host wants back is printed on the
# serial console between markers that carry a per-run nonce (/tk/env), so nothing else
# on the console (kernel messages, the command line) can be mistaken for test output:
#   @@TK-<nonce> BEGIN <name>@@ ... @@TK-<nonce> END <name> rc=<status>@@
# and @@TK-<nonce> DONE@@ last. Binary files travel base64-encoded.

PATH=/tk/bin:/bin:/sbin:/usr/bin:/usr/sbin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
# The kernel's initial console may be missing when the image lacks /dev/console.
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1

# shellcheck source=/dev/null
. /tk/env

# Keep kernel messages off the console while the tests print: interleaved lines would
# split sections. They stay in the ring buffer (dmesg).
echo 1 >/proc/sys/kernel/printk

tk_begin()
{
	echo "@@TK-$TK_NONCE BEGIN $1@@"
}

tk_end()
{
	echo "@@TK-$TK_NONCE END $1 rc=$2@@"
}

# tk_section NAME CMD...: the output (stdout and stderr) of CMD as section NAME.
tk_section()
{
	_name=$1
	shift
	tk_begin "$_name"
	"$@" 2>&1
	_rc=$?
	tk_end "$_name" "$_rc"
	return "$_rc"
}

# tk_run NAME CMD...: CMD's stdout as section NAME (with CMD's status), its stderr as
# NAME.stderr, kept apart so stdout stays parseable (JSON).
tk_run()
{
	_name=$1
	shift
	"$@" >"/tmp/$_name.out" 2>"/tmp/$_name.err"
	_rc=$?
	tk_begin "$_name"
	cat "/tmp/$_name.out"
	tk_end "$_name" "$_rc"
	tk_begin "$_name.stderr"
	cat "/tmp/$_name.err"
	tk_end "$_name.stderr" 0
	return "$_rc"
}

# tk_file_b64 NAME FILE: FILE's bytes, base64-encoded, as section NAME.
tk_file_b64()
{
	tk_begin "$1"
	base64 "$2"
	_rc=$?
	tk_end "$1" "$_rc"
}

# tk_pci: one line per PCI function: slot vendor device revision class.
tk_pci()
{
	for _d in /sys/bus/pci/devices/*; do
		[ -e "$_d/vendor" ] || continue
		echo "${_d##*/} $(cat "$_d/vendor") $(cat "$_d/device") $(cat "$_d/revision")" \
			"$(cat "$_d/class")"
	done
}

echo "@@TK-$TK_NONCE START@@"
# shellcheck source=/dev/null
. /tk/tests.sh
echo "@@TK-$TK_NONCE DONE@@"
sync
poweroff -f
# poweroff -f does not return; if it did, exiting PID 1 panics and panic=-1 reboots,
# which -no-reboot turns into QEMU exiting.
