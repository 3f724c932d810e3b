#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The daemon's layering (doc/architecture.md, "daemon"):
#  1. no call cycle among the files of src/daemon/: the file-level call graph
#     is read from the build's object files (nm: each undefined symbol leads
#     to the object that defines it); a cycle is printed, file by file;
#  2. the bottom part, clock.c, calls no function of another file there;
#  3. no include cycle among the files of src/daemon/;
#  4. no file of src/core/ includes a "hw/..." header.
. "$top_srcdir/tests/integration/lib.sh"
command -v nm >/dev/null 2>&1 || tap_skip_all "nm is not installed"
tap_plan 4
objdir=${LAYERING_OBJDIR:-$top_builddir/src/daemon}

# Reads "from to" edges on stdin; prints one cycle as "a -> b -> ... -> a"
# (nothing when there is none).
find_cycle() {
	awk '
	{ if (!($1 SUBSEP $2 in seen)) { seen[$1, $2] = 1; n[$1]++; e[$1, n[$1]] = $2 }
	  node[$1] = 1; node[$2] = 1 }
	function dfs(v,    i, w, k, p) {
		color[v] = 1; stack[++sp] = v
		for (i = 1; i <= n[v]; i++) {
			w = e[v, i]
			if (color[w] == 1) {
				for (k = 1; k <= sp; k++) if (stack[k] == w) break
				p = stack[k]
				for (k++; k <= sp; k++) p = p " -> " stack[k]
				print p " -> " w
				return 1
			}
			if (!color[w] && dfs(w)) return 1
		}
		color[v] = 2; sp--
		return 0
	}
	END { for (v in node) if (!color[v] && dfs(v)) exit }'
}

# 1. calls, from the objects of src/daemon/*.c (automake names them
# <name>.o, or timekeeperd-<name>.o with per-program flags).
: >"$tmpdir/defs"
: >"$tmpdir/uses"
missing=
for src in "$top_srcdir"/src/daemon/*.c; do
	base=$(basename "$src" .c)
	obj=
	for o in "$objdir/$base.o" "$objdir/timekeeperd-$base.o"; do
		[ -f "$o" ] && obj=$o
	done
	if [ -z "$obj" ]; then
		missing="$missing $base.o"
		continue
	fi
	nm "$obj" | awk -v f="$base.c" \
		'NF == 3 && $2 ~ /^[TDRBCVW]$/ { print $3, f }' >>"$tmpdir/defs"
	nm "$obj" | awk -v f="$base.c" '$1 == "U" { print f, $2 }' >>"$tmpdir/uses"
done
awk 'NR == FNR { def[$1] = $2; next } ($2 in def) && def[$2] != $1 { print $1, def[$2] }' \
	"$tmpdir/defs" "$tmpdir/uses" | sort -u >"$tmpdir/calls"
cycle=$(find_cycle <"$tmpdir/calls")
if [ -n "$missing" ]; then
	not_ok "src/daemon: objects not built under $objdir:$missing"
elif [ ! -s "$tmpdir/calls" ]; then
	not_ok "src/daemon: no call between its files found (nm output not understood?)"
elif [ -n "$cycle" ]; then
	not_ok "src/daemon: a call cycle between files: $cycle"
	diag "calls (file -> file whose function or data it uses):" "$(cat "$tmpdir/calls")"
else
	nfiles=$(ls "$top_srcdir"/src/daemon/*.c | wc -l)
	ok \
		"src/daemon: no call cycle among $nfiles files ($(wc -l \
		<"$tmpdir/calls") file-level calls)"
fi

# 2. the clock knows nothing above it.
up=$(awk '$1 == "clock.c" { printf " %s", $2 }' "$tmpdir/calls")
if [ -n "$missing" ]; then
	not_ok "src/daemon/clock.c: objects not built"
elif [ -n "$up" ]; then
	not_ok "src/daemon/clock.c calls up into:$up"
else
	ok "src/daemon/clock.c calls no other file of src/daemon"
fi

# 3. includes among src/daemon/*.[ch]: "daemon/x.h" names src/daemon/x.h.
for f in "$top_srcdir"/src/daemon/*.[ch]; do
	sed -n 's|^[[:space:]]*#[[:space:]]*include[[:space:]]*"daemon/\([^"]*\)".*|\1|p' "$f" |
		sed "s|^|$(basename "$f") |"
done | sort -u >"$tmpdir/incs"
cycle=$(find_cycle <"$tmpdir/incs")
if [ -n "$cycle" ]; then
	not_ok "src/daemon: an include cycle: $cycle"
else
	ok "src/daemon: no include cycle ($(wc -l <"$tmpdir/incs") includes)"
fi

# 4. the core does not include the drivers' headers.
grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"hw/' "$top_srcdir"/src/core/*.[ch] \
	>"$tmpdir/corehw" || true
if [ -s "$tmpdir/corehw" ]; then
	not_ok "src/core includes hw/ headers"
	diag "$(sed "s|^$top_srcdir/||" "$tmpdir/corehw")"
else
	ok "src/core includes no hw/ header"
fi
exit 0
