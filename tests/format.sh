#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The format check (make format-check; a step of .ci/run), in two parts:
# - clang-format with the tree's .clang-format over every C source and header
#   under src/, include/, tests/ and bench/: it lists the files it would
#   change;
# - every text file of the tree but the licence texts (LICENSES/), the
#   captured ACPI tables (tests/data/) and the fuzz corpora
#   (tests/fuzz/corpus/) within 100 columns, a tab counting to the next tab
#   stop (every 8 columns): each line over is printed as
#   "FILE:LINE: N columns (limit 100)".
# Exit 1 if either part finds anything.
#
#   tests/format.sh          list the C files that differ and the long lines
#   tests/format.sh -d       and show how the C files differ (a diff per file)
#   tests/format.sh -i       reformat the C files in place; long lines are
#                            only listed (clang-format leaves long string
#                            literals, and the other files are wrapped by hand)
#
# CLANG_FORMAT names the binary; the default, clang-format-14 (Debian 12),
# is the version the tree is formatted with: others break lines differently.
set -u
cd "$(dirname "$0")/.."
mode=${1:-list}
limit=100
cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
	cf=clang-format-14
	command -v "$cf" >/dev/null 2>&1 || cf=clang-format
fi
have_cf=1
if ! command -v "$cf" >/dev/null 2>&1; then
	echo "format: $cf not found: install the Debian package clang-format" >&2
	have_cf=0
fi

# The committed files in a git checkout of the tree, else (a release
# tarball) what is here: the directories the committed files are in and the
# top-level files the tarball has, by the kinds of file the tree holds (so
# that an in-tree build's objects, logs and generated Makefile.in, configure
# and aclocal.m4 are not read).
if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
	files=$(git ls-files -- 'src/*.[ch]' 'include/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]')
	text=$(git ls-files | grep -v -e '^LICENSES/' -e '^tests/data/' -e '^tests/fuzz/corpus/')
else
	dirs=
	for d in src include tests bench; do
		[ -d "$d" ] && dirs="$dirs $d"
	done
	files=$(find $dirs -name '*.[ch]' | LC_ALL=C sort)
	dirs=
	for d in src include tests bench man doc conf systemd .ci; do
		[ -d "$d" ] && dirs="$dirs $d"
	done
	text=$(find $dirs -type f \( -name '*.[ch]' -o -name '*.sh' -o -name '*.md' \
		-o -name '*.[1-8]' -o -name '*.in' -o -name '*.sym' -o -name '*.conf' \
		-o -name '*.sysusers' -o -path .ci/run \) \
		! -path 'tests/data/*' ! -path 'tests/fuzz/corpus/*' | LC_ALL=C sort)
	for f in README.md CONTRIBUTING.md LICENSE configure.ac Makefile.am dev.sh \
		.clang-format .editorconfig; do
		[ -f "$f" ] && text="$text $f"
	done
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
bad=0
total=0
if [ "$have_cf" = 1 ]; then
	for f in $files; do
		total=$((total + 1))
		if ! "$cf" --style=file "$f" >"$tmp"; then
			echo "format: $cf failed on $f" >&2
			exit 2
		fi
		cmp -s "$f" "$tmp" && continue
		bad=$((bad + 1))
		case $mode in
		-i) cp "$tmp" "$f" && echo "reformatted $f" ;;
		-d) diff -u "$f" "$tmp" | sed "1,2s|$tmp|$f (clang-format)|" ;;
		*) echo "$f" ;;
		esac
	done
fi

# Columns: the bytes of a line, less UTF-8 continuation bytes (one column a
# character), a tab moving to the next multiple of 8. Binary files (grep -I)
# and empty ones are not read.
for f in $text; do
	[ -f "$f" ] && grep -Iq '' "$f" && echo "$f"
done >"$tmp"
ntext=$(($(wc -l <"$tmp")))
long=0
out=
[ "$ntext" -eq 0 ] || out=$(LC_ALL=C awk -v limit="$limit" '
{
	line = $0
	gsub(/[\200-\277]/, "", line)
	n = split(line, part, "\t")
	col = 0
	for (i = 1; i < n; i++) {
		col += length(part[i])
		col += 8 - col % 8
	}
	if (n > 0)
		col += length(part[n])
	if (col > limit)
		printf "%s:%d: %d columns (limit %d)\n", FILENAME, FNR, col, limit
}' $(cat "$tmp"))
if [ -n "$out" ]; then
	printf '%s\n' "$out"
	long=$(($(printf '%s\n' "$out" | wc -l)))
fi

status=0
if [ "$have_cf" = 1 ]; then
	if [ "$mode" = -i ]; then
		echo "format: reformatted $bad of $total files"
	elif [ "$bad" -gt 0 ]; then
		echo "format: $bad of $total files differ from .clang-format ($cf);" \
			"see tests/format.sh -d, fix with tests/format.sh -i" >&2
		status=1
	else
		echo "format: $total files match .clang-format ($cf)"
	fi
fi
if [ "$long" -gt 0 ]; then
	echo "format: $long lines over $limit columns (a tab counts to the next multiple of 8);" \
		"wrap them" >&2
	status=1
else
	echo "format: $ntext text files within $limit columns"
fi
[ "$have_cf" = 1 ] || exit 2
exit $status
