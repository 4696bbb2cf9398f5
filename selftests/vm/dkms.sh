#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# DKMS test (TAP): dkms add/build/install sipovl for an installed Debian
# kernel from a copy of this tree, `modprobe sipovl` from the DKMS-installed
# tree in the VM, then dkms remove. Changes the host's /usr/src, /var/lib/dkms
# and /lib/modules/<kver>/updates/dkms for its duration; serialised by a lock.
#
#   selftests/vm/dkms.sh [--kernel 6.1|6.12|<release>]
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$TOP/selftests/lib.sh"

kernel=6.1
[ "${1:-}" != --kernel ] || kernel=${2:?--kernel needs a value}
require_root
require_cmd dkms qemu-system-x86_64
kver=$("$TOP/scripts/kver.sh" "$kernel") || bail_out "no $kernel kernel installed"
name=sipovl
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$TOP/dkms.conf")
[ -n "$ver" ] || bail_out "no PACKAGE_VERSION in dkms.conf"
src=/usr/src/$name-$ver
installed=/lib/modules/$kver/updates/dkms

exec 9>/run/lock/sipovl-dkms-test.lock
flock -w 1800 9 || bail_out "another DKMS test holds /run/lock/sipovl-dkms-test.lock"

dkms_remove() {
	if dkms status -m "$name" -v "$ver" 2>/dev/null | grep -q .; then
		dkms remove -m "$name" -v "$ver" --all >/dev/null 2>&1 || return 1
	fi
	rm -rf "$src"
	depmod "$kver"
}
dkms_remove || bail_out "cannot remove an earlier $name/$ver from DKMS"
on_exit dkms_remove
plan 9

kver_of_ko() { modinfo -F vermagic "$1" | cut -d' ' -f1; }
version_matches() {
	local v
	v=$(sed -n 's/^#define SIPOVL_VERSION "\(.*\)"$/\1/p' "$TOP/kmod/version.h")
	[ "$v" = "$ver" ] || { echo "kmod/version.h says '$v', dkms.conf '$ver'"; return 1; }
}
check "dkms.conf PACKAGE_VERSION ($ver) matches kmod/version.h" version_matches

stage() {
	make -s -C "$TOP" --no-print-directory install-dkms DESTDIR= DKMSSRC="$src" &&
		dkms add "$src"
}
check "make install-dkms + dkms add $src" stage
check "dkms build $name/$ver -k $kver" dkms build -m "$name" -v "$ver" -k "$kver"
check "dkms install $name/$ver -k $kver" dkms install -m "$name" -v "$ver" -k "$kver"
ko=$(ls "$installed"/sipovl.ko* 2>/dev/null | head -1)
check "installed in $installed for $kver" test "$(kver_of_ko "${ko:-/nonexistent}" 2>/dev/null)" = "$kver"

# The VM part: its test points become ours.
out=$("$TOP/selftests/vm/run.sh" --kernel "$kver" --no-build "$TOP/selftests/vm/dkms-guest.sh" 2>&1)
rc=$?
vm_points=$(grep -E '^(not )?ok [0-9]+ vm/dkms-guest.sh' <<<"$out" | sed -E 's/^(not )?ok [0-9]+ vm\/dkms-guest\.sh:? ?/\1/')
if [ $rc = 0 ] && grep -q . <<<"$vm_points"; then
	ok "VM ($kver): modprobe sipovl from the DKMS tree, $(grep -c . <<<"$vm_points") checks"
else
	not_ok "VM ($kver): modprobe sipovl from the DKMS tree (exit $rc)"
	sed 's/^/#   /' <<<"$out"
fi

check "dkms remove $name/$ver --all" dkms remove -m "$name" -v "$ver" --all
check "nothing left in $installed" sh -c "! ls '$installed'/sipovl.ko* 2>/dev/null | grep -q ."
check "dkms status is empty for $name" sh -c "! dkms status -m '$name' | grep -q ."
done_testing
