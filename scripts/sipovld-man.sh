#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sipovld(8) in roff from Documentation/sipovld.8.md (go-md2man): a title block and a NAME
# section, sections one level up. debian/rules builds the package's page with it and the
# static lane of make check renders it with groff's warnings on (lintian's groff-message).
#
#   scripts/sipovld-man.sh VERSION OUT
set -euo pipefail
ver=${1:?usage: sipovld-man.sh VERSION OUT}
out=${2:?usage: sipovld-man.sh VERSION OUT}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
md=$(mktemp)
trap 'rm -f "$md"' EXIT
{
	printf '%% SIPOVLD 8 "%s" sipovl\n\n# NAME\n\nsipovld \\- OpenZiti services drive sipovl.ko\n\n' "$ver"
	sed -e 1d -e 's/^## /# /' -e 's/^### /## /' "$top/Documentation/sipovld.8.md"
} >"$md"
go-md2man -in "$md" -out "$out"
