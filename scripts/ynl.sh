#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kernel's YNL tool (tools/net/ynl: cli.py, ynl-gen-c.py, the Python
# library) and the YNL JSON schemas (Documentation/netlink/genetlink*.yaml) of
# Debian's linux-source-6.12, with the nlctrl spec (the family and its
# policy as the running kernel registered them), unpacked into DIR (default build/ynl-6.12).
# Nothing of the kernel is kept in this tree: the tests that drive
# Documentation/netlink/specs/sipovl.yaml (tests/ynl/run.sh, the static
# checks, selftests/sipovl/ynl.sh) use this copy.
#
#   scripts/ynl.sh [DIR]     prints DIR; unpacks only when the tarball changed
#
# DIR also gets an empty MAINTAINERS: ynl-gen-c.py finds the root of a
# kernel tree by it.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=${SIPOVL_YNL_SRC:-/usr/src/linux-source-6.12.tar.xz}
dir=${1:-$TOP/build/ynl-6.12}

[ -f "$src" ] || { echo "ynl: no $src (apt install linux-source-6.12, or scripts/deps.sh check)" >&2; exit 1; }
key="$(stat -c '%s %Y' "$src") $src"
if [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$key" ]; then
	mkdir -p "$(dirname "$dir")"
	tmp=$(mktemp -d "${dir%/}.tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	top=$(basename "$src" .tar.xz)
	tar -xJf "$src" -C "$tmp" --strip-components=1 \
		"$top/tools/net/ynl/cli.py" "$top/tools/net/ynl/ynl-gen-c.py" \
		"$top/tools/net/ynl/lib" \
		"$top/Documentation/netlink/genetlink.yaml" \
		"$top/Documentation/netlink/genetlink-c.yaml" \
		"$top/Documentation/netlink/genetlink-legacy.yaml" \
		"$top/Documentation/netlink/specs/nlctrl.yaml"
	: >"$tmp/MAINTAINERS"
	echo "$key" >"$tmp/.stamp"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	trap - EXIT
fi
echo "$dir"
