# shellcheck shell=sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/lib.sh: the emulated-hardware test bench (doc/architecture.md, section 11),
# sourced by the tests/vm/*.sh scripts. It fetches and caches a Debian kernel, packs an initramfs
# holding busybox, the freshly built binaries and their shared libraries, boots it
# under QEMU (TCG only) on a given machine type, and pulls the output of the guest's
# commands back out of the serial log. Missing pieces make the test skip, except
# under CI=true or TK_REQUIRE_VM=1, where a bench that cannot run is a failure.
#
# Environment (all optional):
#   top_srcdir, top_builddir  set by `make check`; derived from the script otherwise
#   TK_ENABLE_VM=0            configure --disable-vm-tests (distcheck): skip
#   TK_REQUIRE_VM=1, CI=true  a missing piece is "not ok", never a skip
#   TK_VM_CACHE               kernel cache (default $XDG_CACHE_HOME/timekeeperd-vm)
#   TK_VM_KERNEL              use this vmlinuz instead of the cached Debian one
#   TK_VM_TIMEOUT             hard limit for one boot in seconds (default 180; sd_e2e.sh 360)
#   TK_VM_KEEP=1              keep the work directory after the run
#   TK_VM_WORK                work directory base (default $top_builddir/tests/vm/work)
#   TK_VM_EXTRA               sd_e2e.sh: a directory laid over the installed files
#   TK_VM_TEST_TIMEOUT        sd_e2e.sh: limit for the in-guest checks in seconds (240)
#
# POSIX sh (dash): the test scripts run as `#!/bin/sh`.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$(pwd)}"
export top_srcdir top_builddir

VM_CACHE=${TK_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/timekeeperd-vm}
VM_TIMEOUT=${TK_VM_TIMEOUT:-180}
VM_QEMU=${QEMU:-qemu-system-x86_64}
VM_KERNEL=
VM_KCONFIG=
VM_INITRD=
VM_APPEND=
VM_NONCE=
VM_WORK=
VM_QEMU_PID=
VM_ELAPSED=0
VM_MEM=512
VM_TESTNO=0
VM_FAILED=0

vm_log()
{
	printf '# %s\n' "$*"
}

# True when a missing piece must fail the test instead of skipping it.
vm_required()
{
	[ "${CI:-}" = true ] || [ "${TK_REQUIRE_VM:-0}" = 1 ]
}

# The bench cannot run: skip (plan 1..0) or, when required, fail. Exits.
vm_unavailable()
{
	if vm_required; then
		echo "not ok 1 - VM bench unavailable: $*"
		echo "1..1"
		exit 1
	fi
	echo "1..0 # SKIP $*"
	exit 0
}

# TAP helpers: numbered results, plan printed at the end (a late plan is valid TAP).
vm_ok()
{
	VM_TESTNO=$((VM_TESTNO + 1))
	echo "ok $VM_TESTNO - $*"
}

vm_not_ok()
{
	VM_TESTNO=$((VM_TESTNO + 1))
	VM_FAILED=$((VM_FAILED + 1))
	echo "not ok $VM_TESTNO - $*"
}

# Print a file as TAP comments, at most $2 lines from its end (default all). Control
# characters (the firmware's terminal escapes, CR) go; every line ends in a newline so the
# TAP that follows stays on its own line.
vm_comment_file()
{
	[ -s "$1" ] || { vm_log "($1: empty or missing)"; return 0; }
	if [ -n "${2:-}" ]; then
		tail -n "$2" "$1"
	else
		cat "$1"
	fi | tr -d '\000-\010\013-\037\177' | awk '{ print "# " $0 }'
}

vm_finish()
{
	echo "1..$VM_TESTNO"
	[ "$VM_FAILED" -eq 0 ]
	exit $?
}

# The host tools every bench needs: QEMU and the archive tools. Exits (skip) when VM tests
# are disabled.
vm_check_qemu()
{
	[ "${TK_ENABLE_VM:-1}" = 0 ] && {
		echo "1..0 # SKIP VM tests disabled (configure --disable-vm-tests)"
		exit 0
	}
	command -v "$VM_QEMU" >/dev/null 2>&1 ||
		vm_unavailable "$VM_QEMU not found (install qemu-system-x86)"
	for tool in cpio gzip dpkg-deb; do
		command -v "$tool" >/dev/null 2>&1 || vm_unavailable "$tool not found"
	done
}

# Called first by the busybox-initramfs test scripts: checks the host tools and the build.
vm_check_host()
{
	vm_check_qemu
	if ! [ -x /bin/busybox ] || ! /bin/busybox --list-full >/dev/null 2>&1; then
		vm_unavailable "/bin/busybox not found (install busybox-static)"
	fi
	# The guest has no libc of its own: the busybox must be the static one.
	if file_out=$(LC_ALL=C ldd /bin/busybox 2>&1); then
		case $file_out in
		*"not a dynamic executable"* | *"statically linked"*) ;;
		*) vm_unavailable "/bin/busybox is dynamically linked (install busybox-static)" ;;
		esac
	fi
	for tool in cpio gzip ldd base64 dpkg-deb; do
		command -v "$tool" >/dev/null 2>&1 || vm_unavailable "$tool not found"
	done
}

# --- kernel ----------------------------------------------------------------------------------

# The linux-image-<version>-amd64 package linux-image-amd64 currently points at.
kernel_package()
{
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }'
}

# Download and unpack the kernel package into the cache; the directory appears atomically
# (rename) so two tests running in parallel never see half of it.
kernel_fetch()
{
	pkg=$(kernel_package)
	if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
		apt-get update -qq >/dev/null 2>&1
		pkg=$(kernel_package)
	fi
	[ -n "$pkg" ] || { echo "no linux-image-*-amd64 package known to apt"; return 1; }
	mkdir -p "$VM_CACHE" || { echo "cannot create $VM_CACHE"; return 1; }
	tmp=$(mktemp -d "$VM_CACHE/.fetch.XXXXXX") || { echo \
		"mktemp in $VM_CACHE failed"; return 1; }
	# apt-get download as root warns that the _apt user cannot write here: harmless.
	if ! (cd "$tmp" && apt-get download -q "$pkg" >download.log 2>&1); then
		echo "apt-get download $pkg failed: $(tail -n 1 "$tmp/download.log")"
		rm -rf "$tmp"
		return 1
	fi
	if ! dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/root"; then
		echo "dpkg-deb -x of $pkg failed"
		rm -rf "$tmp"
		return 1
	fi
	mkdir -p "$tmp/kernel"
	for f in "$tmp"/root/boot/vmlinuz-*; do
		cp "$f" "$tmp/kernel/vmlinuz" || return 1
	done
	for f in "$tmp"/root/boot/config-*; do
		cp "$f" "$tmp/kernel/config" || return 1
	done
	if ! [ -s "$tmp/kernel/vmlinuz" ] || ! [ -s "$tmp/kernel/config" ]; then
		echo "$pkg holds no /boot/vmlinuz-* and /boot/config-*"
		rm -rf "$tmp"
		return 1
	fi
	if ! mv "$tmp/kernel" "$VM_CACHE/$pkg" 2>/dev/null; then
		[ -s "$VM_CACHE/$pkg/vmlinuz" ] || { echo "cannot store $VM_CACHE/$pkg"; return 1; }
	fi
	rm -rf "$tmp"
	echo "$VM_CACHE/$pkg"
}

# Sets VM_KERNEL and VM_KCONFIG; reuses any cached kernel (newest version first) so runs
# after the first need no network.
vm_kernel()
{
	if [ -n "${TK_VM_KERNEL:-}" ]; then
		[ -r "$TK_VM_KERNEL" ] || vm_unavailable "TK_VM_KERNEL=$TK_VM_KERNEL not readable"
		VM_KERNEL=$TK_VM_KERNEL
		VM_KCONFIG=${TK_VM_KCONFIG:-}
		return 0
	fi
	dir=$(find "$VM_CACHE" -mindepth 2 -maxdepth 2 -name vmlinuz \
		-path '*/linux-image-*' 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$dir" ]; then
		dir=${dir%/vmlinuz}
	else
		dir=$(kernel_fetch) || vm_unavailable "kernel: $dir"
	fi
	VM_KERNEL=$dir/vmlinuz
	VM_KCONFIG=$dir/config
	vm_log "kernel: $VM_KERNEL"
}

# What the tests need must be built in (there are no modules in the initramfs). Sets the
# extra kernel command line.
vm_kernel_check()
{
	VM_APPEND="console=ttyS0,115200 panic=-1 oops=panic"
	if [ -z "$VM_KCONFIG" ] || ! [ -r "$VM_KCONFIG" ]; then
		vm_log "kernel config unknown: not checking built-in options"
		return 0
	fi
	missing=
	for opt in BLK_DEV_INITRD RD_GZIP DEVTMPFS PROC_FS SYSFS SERIAL_8250 SERIAL_8250_CONSOLE \
		ACPI PCI HPET_TIMER HPET X86_PM_TIMER DEVMEM X86_IOPL_IOPERM; do
		grep -q "^CONFIG_$opt=y\$" "$VM_KCONFIG" || missing="$missing CONFIG_$opt"
	done
	[ -z "$missing" ] || vm_unavailable "kernel $VM_KERNEL lacks built-in:$missing"
	# /dev/hpet refuses mmap unless HPET_MMAP_DEFAULT or hpet_mmap=1 (drivers/char/hpet.c).
	if grep -q '^CONFIG_HPET_MMAP=y$' "$VM_KCONFIG" &&
		! grep -q '^CONFIG_HPET_MMAP_DEFAULT=y$' "$VM_KCONFIG"; then
		VM_APPEND="$VM_APPEND hpet_mmap=1"
	fi
}

# --- initramfs -------------------------------------------------------------------------------

# Copy one file into the image at the same path, following symlinks.
image_add()
{
	mkdir -p "$VM_ROOT$(dirname "$1")" && cp -L "$1" "$VM_ROOT$1"
}

# The real ELF behind a program: a libtool wrapper script keeps it in .libs/ (as the name
# itself or lt-name). Anything else (an ELF, or a script for busybox sh) is used as it is.
real_binary()
{
	if grep -q 'temporary wrapper script for' "$1" 2>/dev/null &&
		[ "$(head -c 2 "$1")" = '#!' ]; then
		d=$(dirname "$1")
		b=$(basename "$1")
		for cand in "$d/.libs/$b" "$d/.libs/lt-$b"; do
			[ -x "$cand" ] && { echo "$cand"; return 0; }
		done
		return 1
	fi
	echo "$1"
}

# Add the shared libraries an ELF needs (and the loader), each at the path ldd resolves it to.
# $1 is the program as built, $2 the ELF behind it: for a libtool wrapper the uninstalled
# libraries live in the build tree's .libs directories, which ldd is told about. The
# directories of all libraries go to LD_LIBRARY_PATH inside (build-tree ones are not in the
# loader's default path).
image_add_libs()
{
	[ "$(head -c 2 "$2")" = '#!' ] && return 0
	if [ "$1" != "$2" ]; then
		libs=$(find "$top_builddir" -path "$top_builddir/tests/vm/work" -prune -o \
			-type d -name .libs -print | paste -sd: -)
		out=$(LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ldd "$2" 2>&1)
	else
		out=$(ldd "$2" 2>&1)
	fi
	case $out in
	*"not a dynamic executable"* | *"statically linked"*) return 0 ;;
	*"not found"*) echo "ldd $2: $(echo "$out" | grep 'not found' | head -n 1)"; return 1 ;;
	esac
	for lib in $(echo "$out" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
		$1 ~ /^\// { print $1 }'); do
		image_add "$lib" || { echo "cannot copy $lib"; return 1; }
		dirname "$lib" >>"$VM_WORK/libdirs"
	done
}

# The files that let the host's python3 start in the busybox image (no site, -S): the
# interpreter, the codecs it loads at start-up, os.py and an empty lib-dynload (where it
# finds its prefixes). Prints VM_IMAGE_FILES entries; nothing (status 1) when the host has no
# /usr/bin/python3.
vm_python_files()
{
	py=$(readlink -f /usr/bin/python3 2>/dev/null) && [ -x "$py" ] || return 1
	lib=$("$py" -S -c 'import os; print(os.path.dirname(os.__file__))' 2>/dev/null) &&
		[ -r "$lib/os.py" ] || return 1
	echo "$py=/usr/bin/python3"
	echo "$lib/os.py"
	echo "$lib/lib-dynload/"
	for m in __init__ aliases utf_8 latin_1 ascii; do
		echo "$lib/encodings/$m.py"
	done
}

# Build VM_WORK/initramfs.gz. $1 is a test script (sh, run by /init as root) and the other
# arguments are the programs to install in /tk/bin (their PATH inside). VM_IMAGE_FILES, when
# set, lists more host files, each SRC (put at the same path), SRC=DEST or DIR/ (an empty
# directory); the shared libraries of those that are ELF files come along.
vm_build_initramfs()
{
	script=$1
	shift
	VM_WORK=${TK_VM_WORK:-$top_builddir/tests/vm/work}/$(basename "$0" .sh)
	rm -rf "$VM_WORK"
	mkdir -p "$VM_WORK" || vm_unavailable "cannot create $VM_WORK"
	VM_ROOT=$VM_WORK/root
	VM_NONCE=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	: >"$VM_WORK/libdirs"

	mkdir -p "$VM_ROOT/bin" "$VM_ROOT/sbin" "$VM_ROOT/usr/bin" "$VM_ROOT/usr/sbin" \
		"$VM_ROOT/proc" "$VM_ROOT/sys" "$VM_ROOT/dev" "$VM_ROOT/tmp" "$VM_ROOT/tk/bin" \
		"$VM_ROOT/lib" "$VM_ROOT/lib64" "$VM_ROOT/root" "$VM_ROOT/etc"
	cp /bin/busybox "$VM_ROOT/bin/busybox" || vm_unavailable "cannot copy /bin/busybox"
	for applet in $(/bin/busybox --list-full); do
		[ "$applet" = bin/busybox ] && continue
		mkdir -p "$VM_ROOT/$(dirname "$applet")"
		ln -sf /bin/busybox "$VM_ROOT/$applet"
	done

	for prog in "$@"; do
		[ -x "$prog" ] || { vm_not_ok "build: $prog missing (run make first)"; vm_finish; }
		real=$(real_binary "$prog") ||
			{ vm_not_ok "build: $prog is a wrapper without .libs binary"; vm_finish; }
		name=$(basename "$real")
		name=${name#lt-}
		cp "$real" "$VM_ROOT/tk/bin/$name" ||
			{ vm_not_ok "build: cannot copy $real"; vm_finish; }
		if ! err=$(image_add_libs "$prog" "$real"); then
			vm_not_ok "build: shared libraries of $prog: $err"
			vm_finish
		fi
	done

	for f in ${VM_IMAGE_FILES:-}; do
		case $f in */) mkdir -p "$VM_ROOT$f" && continue ;; esac
		src=${f%%=*}
		dest=${f#*=}
		mkdir -p "$VM_ROOT$(dirname "$dest")" && cp -L "$src" "$VM_ROOT$dest" ||
			{ vm_not_ok "build: cannot copy $src to the image's $dest"; vm_finish; }
		[ "$(head -c 4 "$src" | od -An -c | tr -d ' ')" = 177ELF ] || continue
		if ! err=$(image_add_libs "$src" "$src"); then
			vm_not_ok "build: shared libraries of $src: $err"
			vm_finish
		fi
	done

	if ! cp "$top_srcdir/tests/vm/init.sh" "$VM_ROOT/init" || ! chmod 755 "$VM_ROOT/init"; then
		vm_unavailable "cannot install /init"
	fi
	cp "$script" "$VM_ROOT/tk/tests.sh" || vm_unavailable "cannot install $script"
	{
		echo "TK_NONCE=$VM_NONCE"
		echo "LD_LIBRARY_PATH=$(sort -u "$VM_WORK/libdirs" | paste -sd: -)"
		echo "export LD_LIBRARY_PATH"
	} >"$VM_ROOT/tk/env"

	(cd "$VM_ROOT" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -1 >"$VM_WORK/initramfs.gz" || vm_unavailable "cpio/gzip failed"
	VM_INITRD=$VM_WORK/initramfs.gz
}

# --- running ---------------------------------------------------------------------------------

vm_kill_qemu()
{
	[ -n "$VM_QEMU_PID" ] || return 0
	kill "$VM_QEMU_PID" 2>/dev/null
	i=0
	while kill -0 "$VM_QEMU_PID" 2>/dev/null && [ $i -lt 20 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 "$VM_QEMU_PID" 2>/dev/null
	VM_QEMU_PID=
}

vm_cleanup()
{
	vm_kill_qemu
	if [ -n "$VM_WORK" ] && [ "${TK_VM_KEEP:-0}" != 1 ] && [ "$VM_FAILED" -eq 0 ]; then
		# Keep the logs and extracted output; drop the image (megabytes).
		rm -rf "$VM_WORK/root" "$VM_WORK/initramfs.gz" "$VM_WORK/initramfs.img" \
			"$VM_WORK/overlay.cpio.gz"
	fi
}

# vm_run MACHINE OUTFILE: boot VM_KERNEL + VM_INITRD on -M MACHINE with the serial console
# written to OUTFILE (QEMU writes it unbuffered as the guest prints). QEMU is started in the
# background and watched here: it is stopped by its pid on timeout (never by name or
# process group). Returns 0 when the guest printed its end marker. Sets VM_ELAPSED.
vm_run()
{
	machine=$1
	out=$2
	: >"$out"
	trap vm_cleanup EXIT
	trap 'vm_cleanup; exit 130' INT TERM HUP
	start=$(date +%s)
	# -accel tcg always: /dev/kvm may exist where KVM does not work, and kvm then hangs.
	"$VM_QEMU" -accel tcg -M "$machine" -smp 2 -m "${VM_MEM:-512}" \
		-nographic -nodefaults -no-user-config -no-reboot \
		-serial "file:$out" -monitor none \
		-kernel "$VM_KERNEL" -initrd "$VM_INITRD" \
		-append "$VM_APPEND" \
		</dev/null >"$out.qemu" 2>&1 &
	VM_QEMU_PID=$!
	done_seen=
	while kill -0 "$VM_QEMU_PID" 2>/dev/null; do
		now=$(date +%s)
		if [ $((now - start)) -ge "$VM_TIMEOUT" ]; then
			vm_log "$machine: no poweroff after ${VM_TIMEOUT}s:" \
				"stopping QEMU (pid $VM_QEMU_PID)"
			vm_kill_qemu
			break
		fi
		# The guest powers off right after the marker; allow it a few seconds.
		if [ -z "$done_seen" ] && grep -q "@@TK-$VM_NONCE DONE@@" "$out" 2>/dev/null; then
			done_seen=$now
		fi
		if [ -n "$done_seen" ] && [ $((now - done_seen)) -ge 10 ]; then
			vm_log "$machine: guest finished but QEMU did not exit: stopping it"
			vm_kill_qemu
			break
		fi
		sleep 0.2
	done
	if [ -n "$VM_QEMU_PID" ]; then
		wait "$VM_QEMU_PID"
		qrc=$?
		VM_QEMU_PID=
		[ "$qrc" -eq 0 ] || vm_log \
			"$machine: QEMU exit status $qrc: $(head -c 300 "$out.qemu")"
	fi
	VM_ELAPSED=$(($(date +%s) - start))
	tr -d '\r' <"$out" >"$out.txt"
	grep -q "^@@TK-$VM_NONCE DONE@@\$" "$out.txt"
}

# vm_section LOG NAME: the text a guest command printed inside tk_section NAME.
vm_section()
{
	awk -v b="@@TK-$VM_NONCE BEGIN $2@@" -v e="@@TK-$VM_NONCE END $2 " '
		$0 == b { on = 1; next }
		on && index($0, e) == 1 { exit }
		on { print }' "$1"
}

# vm_section_rc LOG NAME: the exit status recorded for section NAME (empty if none).
vm_section_rc()
{
	sed -n "s/^@@TK-$VM_NONCE END $2 rc=\\([0-9]*\\)@@\$/\\1/p" "$1" | head -n 1
}

# --- the probe test (vm_q35.sh, vm_pc.sh) ----------------------------------------------------

# vm_probe_test MACHINE: boot MACHINE, run `timekeeperd --probe --json --seconds 2` as root
# inside and check its JSON with check_probe.sh. TAP on stdout; exits.
vm_probe_test()
{
	machine=$1
	vm_check_host
	command -v jq >/dev/null 2>&1 || vm_unavailable "jq not found (install jq)"
	vm_kernel
	vm_kernel_check

	guest=$(mktemp "${TMPDIR:-/tmp}/tk-vm-guest.XXXXXX") || vm_unavailable "mktemp failed"
	cat >"$guest" <<'EOF'
tk_section pci tk_pci
tk_run probe timekeeperd --probe --json --seconds 2
tk_section dmesg dmesg
EOF
	vm_build_initramfs "$guest" "${TK_VM_DAEMON:-$top_builddir/timekeeperd}"
	rm -f "$guest"

	log=$VM_WORK/serial.log
	if vm_run "$machine" "$log"; then
		vm_ok "$machine: booted and ran the probe in ${VM_ELAPSED}s"
	else
		vm_not_ok "$machine: no end marker from the guest after ${VM_ELAPSED}s"
		vm_log "serial log tail ($log):"
		vm_comment_file "$log.txt" 60
		vm_finish
	fi
	vm_section "$log.txt" probe >"$VM_WORK/probe.json"
	vm_section "$log.txt" probe.stderr >"$VM_WORK/probe.stderr"
	vm_section "$log.txt" pci >"$VM_WORK/pci.txt"
	vm_section "$log.txt" dmesg >"$VM_WORK/dmesg.txt"

	vm_log "$machine: the guest kernel on its TSC and clocksources:"
	grep -i -E 'tsc|clocksource' "$VM_WORK/dmesg.txt" | sed 's/^/#   /'

	rc=$(vm_section_rc "$log.txt" probe)
	if [ "$rc" = 0 ]; then
		vm_ok "$machine: timekeeperd --probe --json exited 0"
	else
		vm_not_ok \
			"$machine: timekeeperd --probe --json exited ${rc:-(no status)}, expected 0"
	fi

	sh "$top_srcdir/tests/vm/check_probe.sh" --first $((VM_TESTNO + 1)) \
		--pci "$VM_WORK/pci.txt" --dmesg "$VM_WORK/dmesg.txt" \
		"$machine" "$VM_WORK/probe.json" >"$VM_WORK/checks.tap"
	cat "$VM_WORK/checks.tap"
	VM_TESTNO=$((VM_TESTNO + $(grep -c -E '^(not )?ok ' "$VM_WORK/checks.tap")))
	VM_FAILED=$((VM_FAILED + $(grep -c '^not ok ' "$VM_WORK/checks.tap")))

	if [ "$VM_FAILED" -ne 0 ]; then
		vm_log "probe stdout:"
		vm_comment_file "$VM_WORK/probe.json"
		vm_log "probe stderr:"
		vm_comment_file "$VM_WORK/probe.stderr"
		vm_log "guest PCI functions (slot vendor device revision class):"
		vm_comment_file "$VM_WORK/pci.txt"
		vm_log "serial log tail ($log):"
		vm_comment_file "$log.txt" 40
	fi
	vm_finish
}

# --- the systemd end-to-end test (sd_e2e.sh) -------------------------------------------------

# vm_sd_base: sets VM_SD_BASE to the cached base image (tests/vm/sd_image.sh: debootstrap'ed
# bookworm with systemd, as a compressed cpio whose /init is systemd), building it first when
# the cache holds none for the current builder. The cache name carries a hash of the builder
# script, which holds the package list: changing either builds a new image once. Builds are
# serialized with a lock so parallel test runs share one image. Sets VM_SD_BUILD_TIME (0
# when the cached image was used).
vm_sd_base()
{
	builder=$top_srcdir/tests/vm/sd_image.sh
	key=$(sha256sum "$builder" | cut -c1-16)
	VM_SD_BASE=$VM_CACHE/sd-base-$key.cpio
	VM_SD_BUILD_TIME=0
	[ -s "$VM_SD_BASE" ] && return 0
	[ "$(id -u)" = 0 ] ||
		vm_unavailable "no cached systemd image ($VM_SD_BASE) and debootstrap needs root"
	command -v debootstrap >/dev/null 2>&1 ||
		vm_unavailable \
			"no cached systemd image and debootstrap not found (install debootstrap)"
	command -v flock >/dev/null 2>&1 || vm_unavailable "flock not found (util-linux)"
	mkdir -p "$VM_CACHE" || vm_unavailable "cannot create $VM_CACHE"
	vm_log "building the systemd base image (debootstrap, once per builder version)"
	start=$(date +%s)
	(
		flock 9
		[ -s "$VM_SD_BASE" ] && exit 0
		"$builder" "$VM_SD_BASE" >"$VM_CACHE/sd-base-$key.log" 2>&1
	) 9>"$VM_CACHE/sd-base.lock"
	rc=$?
	VM_SD_BUILD_TIME=$(($(date +%s) - start))
	if [ $rc -ne 0 ] || ! [ -s "$VM_SD_BASE" ]; then
		vm_log "sd_image.sh failed (exit $rc); its log ($VM_CACHE/sd-base-$key.log):"
		vm_comment_file "$VM_CACHE/sd-base-$key.log" 30
		vm_unavailable "cannot build the systemd base image"
	fi
	vm_comment_file "$VM_CACHE/sd-base-$key.log"
	# Images of older builders are dead weight (tens of MiB each).
	for old in "$VM_CACHE"/sd-base-*.cpio; do
		[ "$old" = "$VM_SD_BASE" ] || rm -f "$old" "${old%.cpio}.log"
	done
}

# vm_sd_run WHAT TIMEOUT: boots the systemd image (base + overlay, vm_sd_overlay) on q35
# with at most TIMEOUT seconds (TK_VM_TIMEOUT overrides), then turns the guest's marked lines
# into this test's TAP lines (T) and its log ($VM_WORK/guest.log, L; its last 120 lines are
# shown when a check failed). WHAT says what a good run did, for the boot's own TAP line.
# The guest's own limit (tk-e2e.service's TimeoutStartSec, then poweroff) comes first;
# TIMEOUT is for a guest that never gets that far.
vm_sd_run()
{
	# systemd prints its own status on the console while booting; quiet keeps the
	# kernel's messages there to warnings. 1 GiB: the image is unpacked into RAM (tmpfs,
	# half of it).
	VM_APPEND="$VM_APPEND quiet loglevel=4 systemd.show_status=auto"
	VM_MEM=1024
	VM_TIMEOUT=${TK_VM_TIMEOUT:-$2}
	_log=$VM_WORK/serial.log
	if vm_run q35 "$_log"; then
		vm_ok "q35: systemd booted, $1 in ${VM_ELAPSED}s"
	else
		vm_not_ok "q35: no end marker from the guest after ${VM_ELAPSED}s"
		vm_log "serial log tail ($_log):"
		vm_comment_file "$_log.txt" 80
	fi
	# The guest's lines: T are TAP (numbered here), L go to the guest log.
	_marker="@@TK-$VM_NONCE@@ "
	sed -n "s/^.*$_marker//p" "$_log.txt" >"$VM_WORK/guest.txt"
	sed -n 's/^L //p' "$VM_WORK/guest.txt" >"$VM_WORK/guest.log"
	sed -n 's/^T //p' "$VM_WORK/guest.txt" >"$VM_WORK/guest.tap"
	while IFS= read -r _line; do
		case $_line in
		"ok - "*) vm_ok "${_line#ok - }" ;;
		"not ok - "*) vm_not_ok "${_line#not ok - }" ;;
		"#"*) echo "$_line" ;;
		*) vm_log "guest (unexpected): $_line" ;;
		esac
	done <"$VM_WORK/guest.tap"
	[ -s "$VM_WORK/guest.tap" ] || vm_not_ok "the guest reported no checks"
	if [ "$VM_FAILED" -ne 0 ]; then
		vm_log "guest log ($VM_WORK/guest.log), last 120 lines:"
		vm_comment_file "$VM_WORK/guest.log" 120
	fi
}

# vm_sd_overlay GUEST_SCRIPT [FILES]: the second cpio, appended to the base image: the project as
# `make install DESTDIR=...` puts it from the build tree, the guest script as /tk/check.sh
# (tests/vm/guest_lib.sh beside it as /tk/lib.sh), /tk/env with this run's nonce and a
# oneshot unit that runs the script once the system reached multi-user.target and powers
# off. Sets VM_INITRD to base + overlay. With FILES, a
# directory, its tree goes into the image instead of the project (deb_check.sh: the packages).
vm_sd_overlay()
{
	VM_WORK=${TK_VM_WORK:-$top_builddir/tests/vm/work}/$(basename "$0" .sh)
	rm -rf "$VM_WORK"
	mkdir -p "$VM_WORK" || vm_unavailable "cannot create $VM_WORK"
	VM_ROOT=$VM_WORK/root
	VM_NONCE=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	if [ -n "${2:-}" ]; then
		mkdir -p "$VM_ROOT" && cp -a "$2/." "$VM_ROOT/" || vm_unavailable "cannot copy $2"
	# Run from `make check`: the outer make's job server is not ours to use.
	elif ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${MAKE:-make}" -C "$top_builddir" install \
		DESTDIR="$VM_ROOT" >"$VM_WORK/install.log" 2>&1; then
		vm_not_ok "make install DESTDIR=$VM_ROOT failed"
		vm_comment_file "$VM_WORK/install.log" 30
		vm_finish
	fi
	# The base image has a merged /usr (/lib -> usr/lib): a directory /lib in the overlay
	# would replace that symlink when the kernel unpacks it. Move such trees under /usr.
	for d in bin sbin lib lib64; do
		if [ -d "$VM_ROOT/$d" ] && ! [ -L "$VM_ROOT/$d" ]; then
			mkdir -p "$VM_ROOT/usr/$d"
			cp -a "$VM_ROOT/$d/." "$VM_ROOT/usr/$d/" && rm -rf "${VM_ROOT:?}/$d"
		fi
	done
	find "$VM_ROOT" -type f -o -type l | sed "s|^$VM_ROOT||" | LC_ALL=C sort \
		>"$VM_WORK/installed.txt"

	# A debugging aid: TK_VM_EXTRA=DIR lays DIR's tree over the installed files (e.g. a unit
	# being worked on), listed as comments so a run that used it says so.
	if [ -n "${TK_VM_EXTRA:-}" ]; then
		cp -a "$TK_VM_EXTRA/." "$VM_ROOT/" || vm_unavailable \
			"cannot copy TK_VM_EXTRA=$TK_VM_EXTRA"
		vm_log "TK_VM_EXTRA: $(cd "$TK_VM_EXTRA" && find . -type f | paste -sd' ' -)"
	fi
	mkdir -p "$VM_ROOT/tk" "$VM_ROOT/etc/systemd/system/multi-user.target.wants"
	cp "$1" "$VM_ROOT/tk/check.sh" &&
		cp "$top_srcdir/tests/vm/guest_lib.sh" "$VM_ROOT/tk/lib.sh" ||
		vm_unavailable "cannot install $1 and tests/vm/guest_lib.sh"
	echo "TK_NONCE=$VM_NONCE" >"$VM_ROOT/tk/env"
	# SuccessAction/FailureAction power off whatever the script does; the start timeout
	# bounds a hung test. The script writes its own marker lines to the serial port.
	cat >"$VM_ROOT/etc/systemd/system/tk-e2e.service" <<UNIT
[Unit]
Description=timekeeperd end-to-end test
# After= timekeeperd too: a reference that keeps that unit loaded once stopped, so that
# systemctl show still has its main process's exit status (unreferenced inactive units
# are unloaded at once).
After=multi-user.target timekeeperd.service
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
ExecStart=/bin/sh /tk/check.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=${TK_VM_TEST_TIMEOUT:-240}
UNIT
	ln -s ../tk-e2e.service \
		"$VM_ROOT/etc/systemd/system/multi-user.target.wants/tk-e2e.service"

	# Files of the overlay belong to root; directories already in the base keep their
	# contents (the kernel only creates or overwrites what the archive names).
	(cd "$VM_ROOT" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -1 >"$VM_WORK/overlay.cpio.gz" || vm_unavailable "cpio/gzip failed"
	cat "$VM_SD_BASE" "$VM_WORK/overlay.cpio.gz" >"$VM_WORK/initramfs.img" ||
		vm_unavailable "cannot write $VM_WORK/initramfs.img"
	VM_INITRD=$VM_WORK/initramfs.img
}
