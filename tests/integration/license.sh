#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The licences (LICENSE): every source file names its licence on an
# SPDX-License-Identifier line in its first three lines; the library (with
# its preload), the installed headers, the header they share and their three
# man pages are LGPL-2.1-or-later (so is the control protocol framing
# compiled into the library, src/proto), everything else GPL-2.0-or-later;
# both texts are there.
# Reads the source tree as distributed (so it holds in distcheck too).
. "$top_srcdir/tests/integration/lib.sh"
tap_plan 3
cd "$top_srcdir" || exit 1
lgpl() {
	case $1 in
	src/lib/* | src/proto/* | include/* | src/core/tunit.h | man/libtimekeeper.3 | \
		man/libtimekeeper-preload.3 | man/timekeeper-page.7) return 0 ;;
	esac
	return 1
}
find src include tests bench man conf systemd \
	\( -path tests/data -o -path tests/fuzz/corpus \) -prune -o -type f \
	\( -name '*.[ch]' -o -name '*.sh' -o -name '*.[1-8]' -o -name '*.sym' -o -name '*.in' \
	-o -name '*.conf' -o -name '*.service*' -o -name '*.sysusers' \) -print |
	sort >"$tmpdir/files"
for f in Makefile.am configure.ac dev.sh .ci/run; do
	[ -f "$f" ] && echo "$f" >>"$tmpdir/files"
done
: >"$tmpdir/missing"
: >"$tmpdir/wrong"
while read -r f; do
	id=$(head -n 3 "$f" | sed -n 's/.*SPDX-License-Identifier: \([A-Za-z0-9.+-]*\).*/\1/p' | \
		head -n 1)
	if [ -z "$id" ]; then
		echo "$f" >>"$tmpdir/missing"
		continue
	fi
	if lgpl "$f"; then want=LGPL-2.1-or-later; else want=GPL-2.0-or-later; fi
	[ "$id" = "$want" ] || echo "$f: $id, expected $want" >>"$tmpdir/wrong"
done <"$tmpdir/files"
n=$(wc -l <"$tmpdir/files")
all_named() { [ ! -s "$tmpdir/missing" ] && [ "$n" -gt 100 ]; }
check \
	"every source file has an SPDX-License-Identifier line ($n files; missing: $(wc -l \
	<"$tmpdir/missing"))" \
	all_named
[ -s "$tmpdir/missing" ] && diag "missing: $(head -n 10 "$tmpdir/missing" | tr '\n' ' ')"
check "the library, its headers and pages are LGPL-2.1-or-later, the rest GPL-2.0-or-later" \
	[ ! -s "$tmpdir/wrong" ]
[ -s "$tmpdir/wrong" ] && diag "$(head -n 10 "$tmpdir/wrong")"
texts() {
	[ -s LICENSE ] && grep -q "Version 2, June 1991" LICENSES/GPL-2.0-or-later.txt &&
		grep -q "Version 2.1, February 1999" LICENSES/LGPL-2.1-or-later.txt
}
check "LICENSE and both licence texts are in the tree" texts
exit 0
