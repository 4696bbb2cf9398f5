#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Print the release of the newest installed Debian kernel of a series that has
# both its image and its headers installed:
#   scripts/kver.sh 6.1    -> e.g. 6.1.0-56-amd64
#   scripts/kver.sh 6.12   -> e.g. 6.12.117+deb12-amd64
# A full release (one with /boot/vmlinuz-<release>) is printed as is. Never
# looks at the running kernel (uname -r): these hosts do not run a Debian one.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 6.1|6.12|<release>" >&2; exit 2; }
want=$1
case $want in
6.1) re='^6\.1\.[0-9]+-[0-9]+-amd64$' ;;
6.12) re='^6\.12\.[0-9]+\+deb12-amd64$' ;;
*)
	if [ -e "/boot/vmlinuz-$want" ] || [ -d "/usr/src/linux-headers-$want" ]; then
		echo "$want"
		exit 0
	fi
	echo "kver: unknown kernel '$want' (no /boot/vmlinuz-$want)" >&2
	exit 1
	;;
esac
best=
for d in /usr/src/linux-headers-*; do
	v=${d#/usr/src/linux-headers-}
	[[ $v =~ $re ]] || continue
	[ -e "/boot/vmlinuz-$v" ] || [ -n "${KVER_HEADERS_ONLY:-}" ] || continue
	best=$(printf '%s\n%s\n' "$best" "$v" | sed '/^$/d' | sort -V | tail -1)
done
[ -n "$best" ] || { echo "kver: no Debian $want kernel with headers installed (run scripts/deps.sh)" >&2; exit 1; }
echo "$best"
