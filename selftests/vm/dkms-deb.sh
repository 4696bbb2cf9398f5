#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Package test (TAP, issue 18): the .debs of `make deb` installed with apt on this host
# (DKMS builds the module for every installed kernel with headers: 6.1 and 6.12), the VM
# loads the DKMS-built module and runs sipovld from the package's files the way its unit
# does (user sipovld, ambient CAP_NET_ADMIN CAP_NET_BIND_SERVICE), an upgrade to a newer
# build, then purge leaves no file, user or module behind. Changes the host's packages,
# /usr/src, /var/lib/dkms and /lib/modules/*/updates/dkms for its duration; serialised with
# dkms.sh by the same lock.
#
#   selftests/vm/dkms-deb.sh [--kernel 6.1|6.12]    (the VM's kernel; default 6.1)
#
# SIPOVL_DKMS_DEB_VM=0 leaves the VM out (make check: pkg-root.sh's guest loads the
# DKMS module and carries a call across the packaged daemon's restart under systemd).
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$TOP/selftests/lib.sh"
source "$TOP/selftests/vm/deb-lib.sh"

kernel=6.1
[ "${1:-}" != --kernel ] || kernel=${2:?--kernel needs a value}
require_root
require_cmd dkms apt-get dpkg-deb qemu-system-x86_64
kver=$("$TOP/scripts/kver.sh" "$kernel") || bail_out "no $kernel kernel installed"
kvers="$("$TOP/scripts/kver.sh" 6.1) $("$TOP/scripts/kver.sh" 6.12)" || bail_out "need the 6.1 and 6.12 kernels"
B=${O:-$TOP/build}
DEB=$B/deb
ver=$(sed -n 's/^#define SIPOVL_VERSION "\(.*\)"$/\1/p' "$TOP/kmod/version.h")

exec 9>/run/lock/sipovl-dkms-test.lock
flock -w 1800 9 || bail_out "another DKMS test holds /run/lock/sipovl-dkms-test.lock"
dpkg -s sipovl >/dev/null 2>&1 || dpkg -s sipovl-dkms >/dev/null 2>&1 &&
	bail_out "sipovl packages are installed on this host: not touching them"
purge() { DEBIAN_FRONTEND=noninteractive apt-get -qy purge sipovl sipovl-dkms >"$W/purge.log" 2>&1; }
W=$(mktemp -d)
on_exit rm -rf "$W"
on_exit purge
vm=${SIPOVL_DKMS_DEB_VM:-1}
case $vm in 0 | 1) ;; *) bail_out "SIPOVL_DKMS_DEB_VM must be 0 or 1, not '$vm'" ;; esac
plan $((12 + vm))
T0=$(date +%s)
el() { echo "$(($(date +%s) - T0)) s"; }

# the .debs, made once per build (pkg-root.sh may be making them at the same moment)
debs_made "$DEB" "$W/deb.log"
install_debs() { # install_debs DIR
	DEBIAN_FRONTEND=noninteractive apt-get -qy install "$1"/sipovl-dkms_*.deb "$1"/sipovl_*.deb >"$W/apt.log" 2>&1 ||
		{ tail -20 "$W/apt.log"; return 1; }
}
check "apt install ./sipovl-dkms_*.deb ./sipovl_*.deb" install_debs "$DEB"
diag "installed at $(el)"
built_for_all() {
	local k
	for k in $kvers; do
		dkms status -m sipovl -v "$ver" -k "$k" | grep -q ': installed' ||
			{ echo "not installed for $k: $(dkms status -m sipovl)"; return 1; }
	done
}
check "DKMS built and installed sipovl/$ver for $kvers" built_for_all
# what a newly installed linux-headers package runs: a no-op when built, a build otherwise
check "the kernel headers hook (header_postinst.d/dkms) for $kver" /etc/kernel/header_postinst.d/dkms "$kver"
# systemd-analyze verify exits 0 on an unknown key or a value it cannot parse (it only logs
# them, and ignores the line): the unit passes only with nothing said at all.
unit=/lib/systemd/system/sipovld.service
verify_clean() {
	local out rc=0
	out=$(systemd-analyze verify "$unit" 2>&1) || rc=$?
	[ $rc = 0 ] && [ -z "$out" ] || { echo "exit $rc: $out"; return 1; }
}
check "systemd-analyze verify sipovld.service (installed): exit 0, no error or warning" verify_clean
# The exposure score may not grow beyond the recorded one (Documentation/sipovld.8.md, "Privileges").
EXPOSURE_MAX=${SIPOVL_UNIT_EXPOSURE_MAX:-1.7}
sec=$(systemd-analyze security --offline=yes "$unit" 2>&1)
score=$(sed -n 's/^.*exposure level for sipovld\.service: \([0-9]*\.[0-9]*\) .*$/\1/p' <<<"$sec")
if [ -n "$score" ] && awk -v s="$score" -v m="$EXPOSURE_MAX" 'BEGIN { exit !(s <= m) }'; then
	ok "systemd-analyze security sipovld.service: exposure $score, at most $EXPOSURE_MAX"
else
	not_ok "systemd-analyze security sipovld.service: exposure ${score:-?}, at most $EXPOSURE_MAX" "$(tail -1 <<<"$sec")"
fi
grep '^✗' <<<"$sec" | sed -E 's/ {2,}/ | /g; s/^/not OK: /' | while read -r l; do diag "$l"; done
user_made() { getent passwd sipovld >/dev/null && [ "$(stat -c %U:%a /var/lib/sipovld)" = sipovld:700 ]; }
check "system user sipovld, /var/lib/sipovld sipovld 0700" user_made

if [ "$vm" = 1 ]; then
	diag "VM at $(el)"
	# the guest runs sipovl-dkms's prerm as dpkg would (its /var, and so the dpkg database, is its own)
	ctrl=$B/deb/ctrl
	rm -rf "$ctrl" && mkdir -p "$ctrl" && dpkg-deb -e "$DEB"/sipovl-dkms_*.deb "$ctrl/sipovl-dkms" ||
		bail_out "dpkg-deb -e sipovl-dkms"
	out=$(SIPOVL_PKG_CTRL=$ctrl SIPOVL_TEST_TIMEOUT=${SIPOVL_TEST_TIMEOUT:-600} \
		"$TOP/selftests/vm/run.sh" --kernel "$kver" --no-build "$TOP/selftests/vm/dkms-deb-guest.sh" 2>&1)
	rc=$?
	vm_points=$(grep -E '^(not )?ok [0-9]+ vm/dkms-deb-guest.sh' <<<"$out" | sed -E 's/^(not )?ok [0-9]+ vm\/dkms-deb-guest\.sh:? ?/\1/')
	if [ $rc = 0 ] && grep -q . <<<"$vm_points"; then
		ok "VM ($kver): the DKMS module loads, sipovld from the package carries a call across its restart, $(grep -c . <<<"$vm_points") checks ($(el))"
		grep -v '^TAP version' <<<"$out" | sed 's/^/#   /'
	else
		not_ok "VM ($kver): the packaged module and daemon (exit $rc)"
		sed 's/^/#   /' <<<"$out" | tail -60
	fi
else
	diag "no VM (SIPOVL_DKMS_DEB_VM=0): the DKMS module in a guest and the packaged daemon's call are pkg-root.sh's"
fi

# a newer build: the same files, version +1 in the Debian revision
newer() { debs_newer "$DEB" "$W/new" && install_debs "$W/new"; }
diag "upgrade at $(el)"
check "upgrade to the newer build (apt install)" newer
diag "purge at $(el)"
# On upgrade dkms's common.postinst builds for the running kernel and the newest one; the
# running kernel of this host is not a Debian one, so: the newest (6.12).
newest=$("$TOP/scripts/kver.sh" 6.12)
upgraded() {
	dpkg -s sipovl | grep -q '^Version: .*+1$' && dpkg -s sipovl-dkms | grep -q '^Version: .*+1$' &&
		dkms status -m sipovl -v "$ver" -k "$newest" | grep -q ': installed' ||
		{ dpkg -l sipovl sipovl-dkms | tail -2; dkms status -m sipovl; return 1; }
}
check "upgraded: both packages at the newer version, the module rebuilt for $newest" upgraded

# every file the two packages installed (dpkg -L), to look for after the purge
dpkg -L sipovl sipovl-dkms >"$W/files" 2>/dev/null
check "apt purge sipovl sipovl-dkms" purge
gone() {
	local k left=
	for k in $kvers; do
		ls /lib/modules/"$k"/updates/dkms/sipovl.ko* >/dev/null 2>&1 && left+=" /lib/modules/$k/updates/dkms/sipovl.ko"
	done
	[ -e /usr/src/sipovl-"$ver" ] && left+=" /usr/src/sipovl-$ver"
	[ -e /var/lib/dkms/sipovl ] && left+=" /var/lib/dkms/sipovl"
	for f in /etc/sipovld /var/lib/sipovld /usr/sbin/sipovld /usr/sbin/sipovlctl /lib/systemd/system/sipovld.service \
		/usr/share/man/man8/sipovld.8.gz /usr/share/bash-completion/completions/sipovlctl /usr/share/doc/sipovl; do
		[ -e "$f" ] && left+=" $f"
	done
	while read -r f; do
		[ ! -d "$f" ] && { [ -f "$f" ] || [ -L "$f" ]; } && left+=" $f"
	done <"$W/files"
	# the unit's enablement (deb-systemd-helper) and the daemon's runtime directory
	f=$(find /etc/systemd /var/lib/systemd /run/sipovld -name '*sipovld*' 2>/dev/null | tr '\n' ' ')
	[ -z "$f" ] || left+=" $f"
	getent passwd sipovld >/dev/null && left+=" user sipovld"
	getent group sipovld >/dev/null && left+=" group sipovld"
	dpkg -l sipovl sipovl-dkms 2>/dev/null | grep -q '^[ir]' && left+=" dpkg entries"
	[ -z "$left" ] || { echo "left behind:$left"; return 1; }
}
check "purge left no file, user, group, module or package entry" gone
check "dkms status is empty for sipovl" sh -c "! dkms status -m sipovl | grep -q ."
# no error, warning or information tag but those debian/*.lintian-overrides justify (as the
# Makefile's LINTIAN; on the .changes: both .debs)
lint() { lintian --display-info --fail-on error,warning,info "$DEB"/*.changes; }
check "lintian on the .changes (both .debs): no error, warning or information tag not overridden" lint
diag "done at $(el)"
done_testing
