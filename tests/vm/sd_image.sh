#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/sd_image.sh: builds the base image of the systemd end-to-end test:
# a `debootstrap --variant=minbase bookworm` tree with systemd, systemd-sysv, dbus and the
# project's runtime libraries, packed as one compressed cpio whose /init is systemd. The guest
# boots it from the initramfs alone: no kernel modules, no disk. The image is configured to
# come up quickly and quietly on a serial console: fixed machine-id, multi-user.target as the
# default, no gettys, no first-boot wizard, no periodic timers. Nothing of the project is in
# it: the test appends its own small cpio (tests/vm/lib.sh, vm_sd_overlay).
#
# Usage: sd_image.sh OUTPUT   (root; writes OUTPUT atomically, logs on stdout)
# Environment: TK_VM_MIRROR (default http://deb.debian.org/debian), TK_VM_SUITE (bookworm).
# tests/vm/lib.sh calls this through vm_sd_base, which caches OUTPUT under a name keyed by a
# hash of this file, so any change here rebuilds the image once.

set -eu

# What the base image holds, besides minbase. The first line is what systemd needs to boot,
# the second the project's runtime libraries, the third what the in-guest checks use.
SD_PACKAGES="systemd systemd-sysv dbus
libcap2 libsystemd0 libpci3 libinih1
jq"

# The machine-id is fixed so runs are comparable and the journal lives in one known place.
SD_MACHINE_ID=7e6b2f1c0d9a4c5e8f3a1b2c4d5e6f70

[ $# -eq 1 ] || { echo "usage: $0 OUTPUT" >&2; exit 2; }
out=$1
mirror=${TK_VM_MIRROR:-http://deb.debian.org/debian}
suite=${TK_VM_SUITE:-bookworm}

[ "$(id -u)" = 0 ] || { echo "sd_image: debootstrap needs root (uid is $(id -u))"; exit 1; }
command -v debootstrap >/dev/null 2>&1 || { echo "sd_image: debootstrap not found"; exit 1; }

tmp=$(mktemp -d "$(dirname "$out")/.sd-image.XXXXXX")
root=$tmp/root
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

# shellcheck disable=SC2086 # the list, split on purpose
include=$(echo $SD_PACKAGES | tr ' ' ',')
echo "sd_image: debootstrap --variant=minbase --include=$include $suite $mirror"
if ! debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" \
	>"$tmp/debootstrap.log" 2>&1; then
	echo "sd_image: debootstrap failed; its last lines:"
	tail -n 20 "$tmp/debootstrap.log"
	exit 1
fi

# PID 1 is systemd, started by the kernel as /init. No /etc/initrd-release: systemd must run
# the image as the real system, not as an initrd that switches root.
ln -s /lib/systemd/systemd "$root/init"
rm -f "$root/etc/initrd-release"
echo "$SD_MACHINE_ID" >"$root/etc/machine-id"
echo tk-e2e >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost tk-e2e\n' >"$root/etc/hosts"
: >"$root/etc/fstab"

# Boot to multi-user.target with nothing interactive and nothing periodic. Masking is a
# symlink to /dev/null, made here directly rather than through the host's systemctl.
ln -sf /lib/systemd/system/multi-user.target "$root/etc/systemd/system/default.target"
for unit in getty@.service serial-getty@.service console-getty.service container-getty@.service \
	getty.target systemd-firstboot.service apt-daily.timer apt-daily-upgrade.timer \
	dpkg-db-backup.timer e2scrub_all.timer fstrim.timer systemd-tmpfiles-clean.timer \
	systemd-timesyncd.service systemd-networkd-wait-online.service \
	systemd-random-seed.service; do
	ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
# The journal stays in memory (/run); there is no disk to keep it on.
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$root/etc/systemd/journald.conf.d/tk-e2e.conf"

# What a booted image from RAM does not need: documentation, caches, package lists.
rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/info" \
	"$root/usr/share/locale" "$root/var/cache/apt" "$root/var/lib/apt/lists" \
	"$root/var/cache/debconf"/*-old "$root/var/log"/*.log
mkdir -p "$root/var/cache/apt/archives/partial" "$root/var/lib/apt/lists/partial"

if command -v zstd >/dev/null 2>&1; then
	compress="zstd -q -3 -T0"
else
	compress="gzip -6"
fi
echo "sd_image: packing $(du -sm "$root" | cut -f1) MiB with $compress"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | $compress >"$tmp/image.cpio"
mv "$tmp/image.cpio" "$out"
echo "sd_image: wrote $out ($(du -m "$out" | cut -f1) MiB)"
