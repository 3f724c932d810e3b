#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# dev.sh — set up, build and run timekeeperd on a Debian 12 machine.
#
#   ./dev.sh run     install what is missing, build, run the main job: the
#                    daemon in the foreground with the shipped
#                    conf/timekeeperd.conf (Ctrl-C stops it); extra
#                    arguments go to timekeeperd (e.g. --probe)
#   ./dev.sh test    install what is missing, build, run every test (unit,
#                    integration, QEMU emulated hardware), then the unit and
#                    integration tests again under ASan+UBSan
#   ./dev.sh distcheck   make distcheck (the release tarball builds and tests)
#
# Packages are installed with apt-get when run as root (or through sudo).
# Build trees: build/ and build-asan/ (override with BUILD_DIR).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

DEPS="build-essential autoconf automake libtool pkg-config libcap-dev libsystemd-dev libpci-dev
libinih-dev check jq qemu-system-x86 busybox-static cpio groff man-db debootstrap
faketime iproute2 libseccomp2 libgnutls30 libnettle8 libedit2 libbsd0 libssl3 libcap2
nftables clang libclang-rt-14-dev clang-format stress-ng
debhelper dpkg-dev fakeroot lintian"

# The NTP tests' real servers (tests/integration/ntp_lib.sh): chrony and
# ntpsec conflict as packages (both provide time-daemon) and installing either
# would replace the host's time service, so both are unpacked, not installed,
# into this cache; their libraries are in DEPS. So is prometheus
# (tests/integration/prometheus.sh): installed, it would run as a service.
PEERS_CACHE=${TK_PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/timekeeperd-peers}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		return 1
	fi
}

install_deps() {
	missing=""
	for p in $DEPS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "dev.sh: installing:$missing"
	if ! as_root env DEBIAN_FRONTEND=noninteractive sh -c \
		"apt-get update -qq &&
		apt-get install -y -qq --no-install-recommends $missing" ; then
		echo "dev.sh: could not install:$missing" \
			"(run as root, or install them yourself)" >&2
		exit 1
	fi
}

# ensure_peers: chrony, ntpsec and prometheus unpacked into
# $PEERS_CACHE/<package> (with apt-get download and dpkg-deb -x), unless
# already there.
ensure_peers() {
	for p in chrony ntpsec prometheus; do
		[ -d "$PEERS_CACHE/$p/usr/sbin" ] || [ -x "$PEERS_CACHE/$p/usr/bin/$p" ] && continue
		echo "dev.sh: unpacking $p into $PEERS_CACHE/$p"
		mkdir -p "$PEERS_CACHE"
		tmp=$(mktemp -d "$PEERS_CACHE/.$p.XXXXXX")
		if ! (cd "$tmp" && { apt-get download -q "$p" >/dev/null 2>&1 ||
			{ as_root apt-get update -qq && apt-get download -q \
				"$p" >/dev/null 2>&1; }; }) ||
			! dpkg-deb -x "$tmp"/"$p"_*.deb "$tmp/root"; then
			echo "dev.sh: could not fetch $p: the tests that need it will skip" >&2
			rm -rf "$tmp"
			continue
		fi
		mv "$tmp/root" "$PEERS_CACHE/$p" && rm -rf "$tmp"
	done
}

# build DIR [configure args...]
build() {
	dir=$1
	shift
	if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt \
		Makefile.in ]; then
		autoreconf -fi
	fi
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ] || [ configure -nt "$dir/config.status" ]; then
		(cd "$dir" && "$here/configure" -q "$@")
	fi
	make -C "$dir" -j"$(nproc)"
}

# check DIR: run make check; print the log of anything that did not pass.
check() {
	dir=$1
	shift
	if ! make -C "$dir" -j"$(nproc)" check "$@"; then
		cat "$dir/test-suite.log" >&2 || true
		return 1
	fi
}

# The daemon run as root drops to [daemon] user (timekeeper): create it from
# the shipped sysusers.d file, or with useradd where systemd-sysusers is absent.
ensure_user() {
	getent passwd timekeeper >/dev/null 2>&1 && return 0
	echo "dev.sh: creating the timekeeper user (systemd/timekeeperd.sysusers)"
	if command -v systemd-sysusers >/dev/null 2>&1; then
		as_root systemd-sysusers "$here/systemd/timekeeperd.sysusers" && return 0
	fi
	as_root sh -c 'getent group timekeeper >/dev/null || groupadd --system timekeeper;
		useradd --system --gid timekeeper --no-create-home --home-dir / \
			--shell /usr/sbin/nologin --comment "timekeeperd clock daemon" \
			timekeeper' ||
		echo "dev.sh: could not create the timekeeper user; set user = in the config" >&2
}

cmd=${1:-}
case "$cmd" in
run)
	install_deps
	build "${BUILD_DIR:-build}"
	ensure_user
	shift
	echo "dev.sh: timekeeperd -f -c conf/timekeeperd.conf $*"
	if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
		exec sudo "${BUILD_DIR:-build}/timekeeperd" -f -c conf/timekeeperd.conf "$@"
	fi
	exec "${BUILD_DIR:-build}/timekeeperd" -f -c conf/timekeeperd.conf "$@"
	;;
test)
	install_deps
	ensure_peers
	status=0
	build "${BUILD_DIR:-build}"
	check "${BUILD_DIR:-build}" || status=1
	# The same suites under the sanitizers; the QEMU tests boot the same
	# code, so they are not repeated here.
	build "${BUILD_DIR:-build}-asan" --enable-sanitizers --disable-vm-tests
	check "${BUILD_DIR:-build}-asan" || status=1
	exit $status
	;;
distcheck)
	install_deps
	ensure_peers
	build "${BUILD_DIR:-build}"
	make -C "${BUILD_DIR:-build}" -j"$(nproc)" distcheck
	;;
*)
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
