#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The format check (make format-check; a step of .ci/run): runs
# clang-format with the tree's .clang-format over every C source and header
# under src/, include/, tests/ and bench/, and lists the files it would
# change; exit 1 if there is any.
#
#   tests/format.sh          list the files that differ
#   tests/format.sh -d       and show how (a diff per file)
#   tests/format.sh -i       reformat them in place
#
# CLANG_FORMAT names the binary; the default, clang-format-14 (Debian 12),
# is the version the tree is formatted with: others break lines differently.
set -u
cd "$(dirname "$0")/.."
mode=${1:-list}
cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
	cf=clang-format-14
	command -v "$cf" >/dev/null 2>&1 || cf=clang-format
fi
if ! command -v "$cf" >/dev/null 2>&1; then
	echo "format: $cf not found: install the Debian package clang-format" >&2
	exit 2
fi

# The committed files in a git checkout of the tree, else (a release
# tarball) what is here.
if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
	files=$(git ls-files -- 'src/*.[ch]' 'include/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]')
else
	dirs=
	for d in src include tests bench; do
		[ -d "$d" ] && dirs="$dirs $d"
	done
	files=$(find $dirs -name '*.[ch]' | LC_ALL=C sort)
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
bad=0
total=0
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
if [ "$mode" = -i ]; then
	echo "format: reformatted $bad of $total files"
	exit 0
fi
if [ "$bad" -gt 0 ]; then
	echo "format: $bad of $total files differ from .clang-format ($cf); see tests/format.sh -d, fix with tests/format.sh -i" >&2
	exit 1
fi
echo "format: $total files match .clang-format ($cf)"
