#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/deb_check.sh: the Debian packages (debian/, debian/README.Debian). Builds them as
# `make deb` does (dpkg-buildpackage -us -uc -b on the release tree), checks the build's
# own warnings and lintian's verdict, then boots the systemd QEMU image of sd_e2e.sh
# (tests/vm/sd_image.sh) with the three packages in it and runs tests/vm/deb_guest.sh inside:
# dpkg -i, the sysusers user, the service enabled and running, timectl status answering,
# an upgrade restarting it, dpkg -r keeping the configuration and state, dpkg --purge
# removing them and the service. The guest's TAP lines come back over the serial console.
#
# Environment: TK_DEB_BUILD_OPTIONS (DEB_BUILD_OPTIONS of the build; default nocheck, since
# make check ran the unit tests already), and those of tests/vm/lib.sh.
# shellcheck source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/vm/lib.sh"

t_start=$(date +%s)
vm_check_qemu
for tool in dpkg-buildpackage dh lintian fakeroot; do
	command -v "$tool" >/dev/null 2>&1 ||
		vm_unavailable "$tool not found (install dpkg-dev, debhelper, lintian, fakeroot)"
done
command -v zstd >/dev/null 2>&1 || command -v gzip >/dev/null 2>&1 ||
	vm_unavailable "neither zstd nor gzip found"

# --- build -----------------------------------------------------------------------------------
pkg=${TK_VM_WORK:-$top_builddir/tests/vm/work}/deb_check.pkg
rm -rf "$pkg"
mkdir -p "$pkg" || vm_unavailable "cannot create $pkg"
t=$(date +%s)
# Run from `make check`: the outer make's job server is not ours to use.
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL DEB_BUILD_OPTIONS="${TK_DEB_BUILD_OPTIONS-nocheck}" \
	"${MAKE:-make}" -C "$top_builddir" deb DEB_DIR="$pkg" >"$pkg.log" 2>&1; then
	vm_ok "dpkg-buildpackage -us -uc -b built the packages in $(($(date +%s) - t)) s" \
		"(DEB_BUILD_OPTIONS=${TK_DEB_BUILD_OPTIONS-nocheck})"
else
	vm_not_ok "make deb (dpkg-buildpackage -us -uc -b) failed; its log ($pkg.log):"
	vm_comment_file "$pkg.log" 60
	vm_finish
fi
debs=
for p in timekeeperd libtimekeeper0 libtimekeeper-dev; do
	f=$(find "$pkg" -maxdepth 1 -name "${p}_*_amd64.deb" | head -n 1)
	if [ -n "$f" ]; then
		debs="$debs $f"
		vm_log "$(basename "$f"): $(stat -c %s "$f") bytes"
	else
		vm_not_ok "the build made no ${p}_*_amd64.deb"
	fi
done

# The changelog's version is the release's: dpkg-buildpackage names the packages by it.
ver=$(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")
dver=$(dpkg-parsechangelog -l "$top_srcdir/debian/changelog" -S Version 2>/dev/null)
if [ -n "$ver" ] && [ "$dver" = "$ver" ]; then
	vm_ok "debian/changelog's version is configure's ($ver)"
else
	vm_not_ok "debian/changelog's version ${dver:-?} is configure's ${ver:-?}" \
		"(add a changelog entry: dch -v $ver)"
fi

# The symbols file and the libraries' dependencies: dpkg-gensymbols fails the build on any
# difference (debian/rules, -c4); a warning of either tool is a failure here.
warn=$(grep -E '^dpkg-(gensymbols|shlibdeps): warning' "$pkg.log")
if [ -z "$warn" ]; then
	vm_ok "dpkg-gensymbols and dpkg-shlibdeps: no warnings"
else
	vm_not_ok "dpkg-gensymbols and dpkg-shlibdeps: no warnings"
	echo "$warn" | head -n 20 | sed 's/^/#   /'
fi

# The release tree's debian/ is the repository's (EXTRA_DIST names every file).
if [ -e "$top_srcdir/.git" ] && command -v git >/dev/null 2>&1 &&
	git -C "$top_srcdir" ls-files debian >"$pkg.git" 2>/dev/null && [ -s "$pkg.git" ]; then
	src=$(find "$pkg" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	(cd "$src" && git -C "$top_srcdir" ls-files debian | while IFS= read -r f; do
		[ -f "$f" ] || echo "$f"
	done) >"$pkg.missing"
	if [ ! -s "$pkg.missing" ]; then
		vm_ok "every file of debian/ in git is in the release tree" \
			"($(wc -l <"$pkg.git") files)"
	else
		vm_not_ok "files of debian/ missing from the release tree" \
			"(add them to EXTRA_DIST):" \
			"$(paste -sd' ' "$pkg.missing")"
	fi
else
	vm_log "not a git checkout: the release tree's debian/ is not compared with git's"
fi

# What each package holds (dh_missing fails the build on a file none of them takes); each
# name is a pattern for grep -x.
contents()
{
	f=$(find "$pkg" -maxdepth 1 -name "${1}_*_amd64.deb" | head -n 1)
	[ -n "$f" ] && dpkg-deb -c "$f" | awk '{ print $6 }' | sed 's|^\./|/|'
}
has_all()
{
	p=$1
	shift
	contents "$p" >"$pkg.$p.list"
	missing=
	for want in "$@"; do
		grep -qx "$want" "$pkg.$p.list" || missing="$missing $want"
	done
	if [ -z "$missing" ]; then
		vm_ok "$p holds $*"
	else
		vm_not_ok "$p lacks$missing"
	fi
}
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
has_all timekeeperd /usr/sbin/timekeeperd /usr/bin/timectl /etc/timekeeperd.conf \
	/lib/systemd/system/timekeeperd.service /lib/systemd/system/timekeeperd-wait-sync.service \
	/lib/systemd/system/timekeeperd.socket \
	/usr/lib/sysusers.d/timekeeperd.conf /usr/share/bash-completion/completions/timectl \
	/usr/share/bash-completion/completions/timekeeperd /usr/share/man/man8/timekeeperd.8.gz \
	/usr/share/man/man1/timectl.1.gz /usr/share/man/man5/timekeeperd.conf.5.gz \
	/usr/share/man/man7/timekeeper-page.7.gz '/usr/share/doc/timekeeperd/README.Debian\(.gz\)\?'
has_all libtimekeeper0 "/usr/lib/$ma/libtimekeeper.so.0" "/usr/lib/$ma/libtimekeeper.so.0.0.0" \
	"/usr/lib/$ma/libtimekeeper-preload.so" /usr/share/man/man3/libtimekeeper-preload.3.gz
has_all libtimekeeper-dev /usr/include/timekeeper.h /usr/include/timekeeper/page.h \
	/usr/include/timekeeper/control.h "/usr/lib/$ma/libtimekeeper.a" \
	"/usr/lib/$ma/libtimekeeper.so" "/usr/lib/$ma/pkgconfig/timekeeper.pc" \
	/usr/share/man/man3/libtimekeeper.3.gz
f=$(find "$pkg" -maxdepth 1 -name 'timekeeperd_*_amd64.deb' | head -n 1)
conf=$([ -n "$f" ] && dpkg-deb -I "$f" conffiles 2>/dev/null)
if [ "$conf" = /etc/timekeeperd.conf ]; then
	vm_ok "timekeeperd's one conffile is /etc/timekeeperd.conf"
else
	vm_not_ok "timekeeperd's conffiles are /etc/timekeeperd.conf (got: ${conf:-none})"
fi

# lintian on everything the build made: no error; warnings and the rest listed.
changes=$(find "$pkg" -maxdepth 1 -name '*.changes' | head -n 1)
t=$(date +%s)
lintian -IE --pedantic "$changes" >"$pkg.lintian" 2>&1
lrc=$?
nerr=$(grep -c '^E: ' "$pkg.lintian")
nwarn=$(grep -c '^W: ' "$pkg.lintian")
vm_log "lintian ($(($(date +%s) - t)) s, exit $lrc): $nerr errors, $nwarn warnings"
grep -E '^[EWIPX]: ' "$pkg.lintian" | sed 's/^/#   /'
if [ "$nerr" -eq 0 ] && [ "$lrc" -eq 0 ] && [ -n "$changes" ]; then
	vm_ok "lintian: no errors ($nwarn warnings)"
else
	vm_not_ok "lintian: $nerr errors (exit $lrc)"
	vm_comment_file "$pkg.lintian" 30
fi

# --- install into the systemd image ----------------------------------------------------------
vm_kernel
vm_kernel_check
vm_sd_base
files=$pkg.files
rm -rf "$files"
mkdir -p "$files/tk/debs"
# shellcheck disable=SC2086 # the list, split on purpose
cp $debs "$files/tk/debs/" || vm_unavailable "cannot copy the packages"
t=$(date +%s)
TK_VM_TEST_TIMEOUT=${TK_VM_TEST_TIMEOUT:-420}
vm_sd_overlay "$top_srcdir/tests/vm/deb_guest.sh" "$files"
vm_log "timing: overlay $(($(date +%s) - t)) s"

vm_sd_run "installed the packages, ran the checks" 540
vm_log "timing: QEMU run ${VM_ELAPSED}s, whole test $(($(date +%s) - t_start))s"
vm_finish
