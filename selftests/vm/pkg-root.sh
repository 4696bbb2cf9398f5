#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Package test in a fresh Debian 12 root (TAP, issue 18): debootstrap makes a new bookworm
# root (minbase, systemd, udev); in it (chroot) apt installs dkms and the 6.1 kernel's
# headers, then the .debs of `make deb`, and DKMS builds the module; installing a second
# kernel's headers (6.12) makes DKMS build for that one too (the headers' postinst hook). The
# root becomes an ext4 file system image (mkfs.ext4 -d), and the VM boots it from a virtio
# disk with its own systemd as PID 1, which starts sipovld.service from the
# package (selftests/vm/pkg-root-guest.sh looks at it from inside: user, capabilities,
# seccomp, journal, control socket, reload, stop). Then, on that running system
# (selftests/vm/pkg-call-guest.sh), sipovld.service configured with an identity as an admin
# would carries a SIP call with RTP across daemon-lib.sh's Ziti network, `apt-get install` of
# a newer build of sipovl runs during the call (systemd restarts the daemon, the loaded module
# stays, the RTP gap is measured), with SIPOVL_PKG_ROOT_DKMS_UPGRADE=1 (make check-full) then
# `apt-get install` of a newer release of sipovl-dkms during the same call (DKMS builds the
# new module in the guest, the loaded one stays, RTP goes on: pkg-dkms-guest.sh), and
# `apt-get purge` leaves no module, process or network state; back on the host (the image
# mounted), no file, user or package entry of sipovl may be left in the root. The build
# host's own packages are untouched (selftests/vm/dkms-deb.sh is the test that installs on
# the host). Needs `make tests` (gateway B, the Ziti network).
#
#   selftests/vm/pkg-root.sh          (needs root, debootstrap, network access to the Debian mirror)
#   SIPOVL_PKG_ROOT_KEEP=1            keep the work directory (the root as it was before the boot,
#                                     root.img as the VM left it, console.log, results/)
#   SIPOVL_PKG_ROOT_9P=1              boot the root over 9p instead, as before the disk image
#                                     (the guest's dpkg then takes minutes more: testing.md)
#   SIPOVL_PKG_ROOT_DKMS_UPGRADE=1    also upgrade sipovl-dkms (module VER+1) during the call: a
#                                     DKMS build under TCG, minutes more (testing.md); off in
#                                     make check, on in make check-full
#   SIPOVL_PKG_ROOT_CACHE=0           debootstrap every time (default: the pristine debootstrap
#                                     result is kept in ~/.cache/sipovl/pkg-root for 7 days and
#                                     unpacked instead; apt update and everything after run as ever)
#   SIPOVL_DEBIAN_MIRROR              the mirror (default: the first URI of /etc/apt/sources.list.d/debian.sources,
#                                     else http://deb.debian.org/debian)
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$TOP/selftests/lib.sh"
source "$TOP/selftests/vm/deb-lib.sh"
source "$TOP/selftests/vm/zthost.sh"

require_root
require_cmd debootstrap qemu-system-x86_64 dpkg-deb mkfs.ext4 losetup
k61=$("$TOP/scripts/kver.sh" 6.1) || bail_out "no 6.1 kernel installed"
k612=$("$TOP/scripts/kver.sh" 6.12) || bail_out "no 6.12 kernel installed"
[ -r "/boot/vmlinuz-$k61" ] || bail_out "no /boot/vmlinuz-$k61"
B=${O:-$TOP/build}
DEB=$B/deb
# the call in the VM (pkg-call-guest.sh): the build's gateway B, peer, sipovlctl and Ziti network
for f in "$B/sipovld" "$B/selftests/peer" "$B/sipovlctl" "$B/daemon-zitinet.tar.gz"; do
	[ -e "$f" ] || bail_out "no $f: make tests first"
done
ver=$(sed -n 's/^#define SIPOVL_VERSION "\(.*\)"$/\1/p' "$TOP/kmod/version.h")
mirror=${SIPOVL_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}
mirror=${mirror:-http://deb.debian.org/debian}
dkms_up=${SIPOVL_PKG_ROOT_DKMS_UPGRADE:-0}
case $dkms_up in 0 | 1) ;; *) bail_out "SIPOVL_PKG_ROOT_DKMS_UPGRADE must be 0 or 1, not '$dkms_up'" ;; esac

W=$(mktemp -d "$B/pkg-root.XXXXXX")
R=$W/root
IMG=$W/root.img
# never remove the work directory while something is mounted in it (the root's /proc, /sys,
# /dev; the image, mounted on the root after the VM)
unmount_all() {
	local m
	for m in $(awk -v r="$W" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
}
cleanup() {
	zthost_down
	unmount_all
	if awk -v r="$W" '$2 == r || index($2, r "/") == 1 { f = 1 } END { exit !f }' /proc/mounts; then
		echo "# pkg-root: $W still has mounts, left in place" >&2
	elif [ -n "${SIPOVL_PKG_ROOT_KEEP:-}" ]; then
		echo "# pkg-root: kept $W" >&2
	else
		rm -rf "$W"
	fi
}
on_exit cleanup
plan 10
T0=$(date +%s)
el() { echo "$(($(date +%s) - T0)) s"; }
in_root() { chroot "$R" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

# the .debs, made once per build (dkms-deb.sh may be making them at the same moment), and a
# newer build of them (sipovl's for the upgrade in the VM)
debs_made "$DEB" "$W/deb.log"
debs_newer "$DEB" "$W/new" || bail_out "a newer build of the .debs"
if [ "$dkms_up" = 1 ]; then
	dkms_newer "$DEB" "$ver" "$W/new-dkms" || bail_out "a newer release of sipovl-dkms (module $ver+1)"
fi

# 1. a fresh root; apt sources: the mirror and Debian's security archive beside it (the
# installed kernels' headers come from there)
base=${mirror%/debian}
# debootstrap takes ~100 s of the run and its result depends only on the mirror's packages of
# the day: it is kept (as the tar of the untouched root, before apt update) for a week.
include=systemd,systemd-sysv,udev,dbus,kmod,iproute2
rcache=${XDG_CACHE_HOME:-$HOME/.cache}/sipovl/pkg-root
rtar=$rcache/bookworm-minbase-$(printf '%s %s' "$mirror" "$include" | sha256sum | cut -c1-16).tar
made="debootstrap --variant=minbase bookworm (+ systemd, udev) from $mirror" kept=0
if [ "${SIPOVL_PKG_ROOT_CACHE:-1}" != 0 ] && [ -n "$(find "$rtar" -mtime -7 2>/dev/null)" ]; then
	made="$made on $(date -u -r "$rtar" +%F) (kept in $rcache)" kept=1
fi
fresh() {
	if [ $kept = 1 ]; then
		mkdir -p "$R" && tar -xpf "$rtar" --numeric-owner -C "$R" || return 1
	else
		debootstrap --variant=minbase --include="$include" bookworm "$R" "$mirror" \
			>"$W/debootstrap.log" 2>&1 || { tail -5 "$W/debootstrap.log"; return 1; }
		if [ "${SIPOVL_PKG_ROOT_CACHE:-1}" != 0 ]; then
			mkdir -p "$rcache" && tar -cpf "$rtar.tmp" --numeric-owner -C "$R" . && mv "$rtar.tmp" "$rtar" ||
				rm -f "$rtar.tmp"
		fi
	fi
	printf 'deb %s/debian bookworm main\ndeb %s/debian bookworm-updates main\ndeb %s/debian-security bookworm-security main\n' \
		"$base" "$base" "$base" >"$R/etc/apt/sources.list"
	mount -t proc proc "$R/proc" && mount -t sysfs sys "$R/sys" && mount --bind /dev "$R/dev" || return 1
	in_root apt-get -q update >"$W/update.log" 2>&1 || { tail -5 "$W/update.log"; return 1; }
}
check "fresh Debian 12 root: $made, apt update" fresh
[ -x "$R/lib/systemd/systemd" ] || bail_out "no fresh root"
diag "root made at $(el)"

check "apt install dkms linux-headers-$k61 in the root" \
	in_root apt-get -qy install --no-install-recommends dkms "linux-headers-$k61"
mkdir -p "$R/tmp/debs" && cp "$DEB"/sipovl-dkms_*.deb "$DEB"/sipovl_*.deb "$R/tmp/debs/" || bail_out "copy the .debs"
install_debs() { in_root sh -c 'apt-get -qy install /tmp/debs/sipovl-dkms_*.deb /tmp/debs/sipovl_*.deb' >"$W/apt.log" 2>&1 || { tail -20 "$W/apt.log"; return 1; }; }
check "apt install ./sipovl-dkms_*.deb ./sipovl_*.deb in the root" install_debs
built_for() { in_root dkms status -m sipovl -v "$ver" -k "$1" | grep -q ': installed' && ls "$R/lib/modules/$1/updates/dkms/sipovl.ko"* >/dev/null 2>&1 ||
	{ in_root dkms status; return 1; }; }
check "DKMS built and installed sipovl/$ver for $k61 (the root's only kernel headers)" built_for "$k61"
check "apt install linux-headers-$k612 (a second kernel)" \
	in_root apt-get -qy install --no-install-recommends "linux-headers-$k612"
check "DKMS built sipovl/$ver for $k612 when its headers came (the headers' postinst hook)" built_for "$k612"
diag "packages installed at $(el)"

# 2. boot the root with its own systemd. The kernel's modules are the host's (hard links:
# same file system; the root has only its headers and DKMS's module), depmod run for them.
# The guest has no network and apt there installs and purges local .debs only: the mirror's
# package lists go, with apt's caches of them and the downloaded .debs. Otherwise every
# apt-get in the guest loads (or rebuilds) a cache of all of Debian's ~63,000 packages under
# TCG: the upgrade's apt-get install took 192-227 s at host load 20-25, with or without the
# caches, on the ext4 image as over 9p (216 s at load 8-17).
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin
rm -f "$R"/var/cache/apt/archives/*.deb
umount "$R/dev" "$R/sys" "$R/proc"
mkdir -p "$R/lib/modules/$k61"
cp -al "/lib/modules/$k61/kernel" "$R/lib/modules/$k61/kernel" 2>/dev/null ||
	cp -a "/lib/modules/$k61/kernel" "$R/lib/modules/$k61/kernel" || bail_out "copy the $k61 modules"
cp "/lib/modules/$k61"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$k61/" 2>/dev/null
depmod -b "$R" "$k61" || bail_out "depmod in the root"
install -m 0755 "$TOP/selftests/vm/pkg-root-guest.sh" "$R/usr/local/sbin/sipovl-pkgtest"
# what pkg-root-guest.sh hands to pkg-call-guest.sh: the checkout and build it runs from (the
# build host's root, read-only in the VM), where the newer .debs are in this root
mkdir -p "$R/root/sipovl-debs-new" "$R/usr/local/etc"
cp "$W"/new/sipovl_*.deb "$R/root/sipovl-debs-new/" || bail_out "copy the newer sipovl .deb"
# the DKMS upgrade's build in the guest: up to an hour more for the call file and the VM
call_timeout=2400 boot_timeout=${SIPOVL_PKG_ROOT_BOOT_TIMEOUT:-3000}
if [ "$dkms_up" = 1 ]; then
	cp "$W"/new-dkms/sipovl-dkms_*.deb "$R/root/sipovl-debs-new/" || bail_out "copy the newer sipovl-dkms .deb"
	call_timeout=$((call_timeout + 3600)) boot_timeout=$((boot_timeout + 3600))
fi
printf 'TOP=%q\nBIN=%q\nNEW_DEBS=/root/sipovl-debs-new\nDKMS_UPGRADE=%s\nVER=%q\nCALL_TIMEOUT=%s\n' \
	"$TOP" "$B" "$dkms_up" "$ver" "$call_timeout" >"$R/usr/local/etc/sipovl-pkgtest.env"
cat >"$R/etc/systemd/system/sipovl-pkgtest.service" <<'UNIT'
[Unit]
Description=sipovl package test (selftests/vm/pkg-root-guest.sh)
After=sipovld.service multi-user.target
[Service]
Type=oneshot
TimeoutStartSec=infinity
ExecStart=/usr/local/sbin/sipovl-pkgtest
StandardOutput=journal+console
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/sipovl-pkgtest.service "$R/etc/systemd/system/multi-user.target.wants/sipovl-pkgtest.service"
# no login prompts on a console nobody reads
for u in getty@tty1.service serial-getty@ttyS0.service; do ln -sf /dev/null "$R/etc/systemd/system/$u"; done
echo pkgroot >"$R/etc/hostname"
initrd=$W/initrd.cpio.gz
SIPOVL_INITRD_MODULES="virtio_blk ext4" "$TOP/selftests/vm/mkinitramfs.sh" "$k61" "$initrd" >"$W/initrd.log" 2>&1 ||
	{ cat "$W/initrd.log"; bail_out "mkinitramfs"; }
# The root as an ext4 image on a virtio disk: under TCG every 9p request is a slow round trip,
# and dpkg reads its whole database (and DKMS the module tree) file by file: the guest's
# apt-get install and purge took 216 s and 436 s over 9p (testing.md). Its size: the root's
# plus 1 GiB for what the guest writes; inodes for the root's files twice over. cache=unsafe:
# the host does not sync the image for the guest's fsyncs (it is thrown away, or mounted
# only after QEMU has exited).
if [ -z "${SIPOVL_PKG_ROOT_9P:-}" ]; then
	t_img=$(date +%s)
	kb=$(du -sk "$R" | cut -f1)
	nf=$(find "$R" -xdev | wc -l)
	truncate -s $(((kb + kb / 4 + 1048576) / 1024))M "$IMG" &&
		mkfs.ext4 -q -F -L pkgroot -N $((nf * 2 + 16384)) -d "$R" "$IMG" >"$W/mkfs.log" 2>&1 ||
		{ cat "$W/mkfs.log"; bail_out "mkfs.ext4 -d $R"; }
	diag "root image: $((kb / 1024)) MiB in $nf files, mkfs.ext4 -d $(($(date +%s) - t_img)) s"
	sysroot=/dev/vda disk=(-drive "file=$IMG,format=raw,if=virtio,cache=unsafe")
else
	sysroot=1 disk=(-virtfs "local,path=$R,mount_tag=hostroot,security_model=passthrough,multidevs=remap")
fi
mkdir -p "$W/results"
# the call's Ziti network natively on the host (selftests/vm/zthost.sh; SIPOVL_VM_ZITI=guest:
# inside the guest, as before)
zt_net=() zt_qemu=()
if [ "${SIPOVL_VM_ZITI:-host}" = host ]; then
	zthost_up || bail_out "cannot make the network namespace of the Ziti network (selftests/vm/zthost.sh)"
	zthost_serve "$W/results" || bail_out "cannot serve the Ziti network's requests"
	zt_net=(ip netns exec "$ZTHOST_NS") zt_qemu=("${ZTHOST_QEMU[@]}")
fi
diag "booting at $(el)"
[ "$dkms_up" = 0 ] || diag "with the sipovl-dkms upgrade during the call (module $ver -> $ver+1)"
boot_vm() {
	timeout "$boot_timeout" "${zt_net[@]}" qemu-system-x86_64 -accel tcg -cpu max -smp "${SIPOVL_VM_CPUS:-2}" -m 2048 \
		-nodefaults -display none -no-reboot -monitor none \
		-kernel "/boot/vmlinuz-$k61" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 no_timer_check sipovl.sysroot=$sysroot systemd.show_status=0 loglevel=4" \
		"${disk[@]}" \
		-virtfs "local,path=$W/results,mount_tag=results,security_model=none,multidevs=remap" \
		-virtfs "local,path=/,mount_tag=buildhost,security_model=none,readonly=on,multidevs=remap" \
		-serial "file:$W/console.log" "${zt_qemu[@]}"
	[ -e "$W/results/finished" ] || { echo "the guest's test did not finish; console:"; tail -30 "$W/console.log"; return 1; }
}
t_boot=$(date +%s)
check "VM ($k61) booted the root with its systemd; the guest's checks ran and it powered off" boot_vm
[ ${#zt_net[@]} = 0 ] || zthost_stop
diag "VM: $(($(date +%s) - t_boot)) s"
n_guest=0
while IFS=$'\t' read -r verdict what detail; do
	n_guest=$((n_guest + 1))
	if [ "$verdict" = ok ]; then diag "  guest: ok - $what"; else diag "  guest: NOT OK - $what: $detail"; fi
done <"$W/results/points" 2>/dev/null
guest_ok() {
	[ "$n_guest" -ge 14 ] || { echo "$n_guest of 14 guest checks reported"; return 1; }
	! grep -q '^not ok' "$W/results/points" || { grep '^not ok' "$W/results/points"; return 1; }
}
check "under systemd: sipovld.service from the package started at boot, as user sipovld with only its two capabilities, seccomp, journal priorities, control socket, reload, stop ($n_guest checks)" guest_ok

# 3. the call, the upgrade during it and the purge on the running system (pkg-call-guest.sh,
# TAP in results/call.tap)
n_call=0 call_plan=
while IFS= read -r l; do
	case $l in
	"ok "* | "not ok "*) n_call=$((n_call + 1)); diag "  call: $l" ;;
	1..*) call_plan=${l#1..} ;;
	"#"*) diag "  call: ${l#\# }" ;;
	"Bail out!"*) diag "  call: $l" ;;
	esac
done <"$W/results/call.tap" 2>/dev/null
call_ok() {
	[ -n "$call_plan" ] && [ "$n_call" = "$call_plan" ] && ! grep -q '^not ok\|^Bail out!' "$W/results/call.tap" ||
		{ grep '^not ok\|^Bail out!' "$W/results/call.tap"; echo "$n_call of ${call_plan:-?} points, $(cat "$W/results/call.exit" 2>/dev/null)"; tail -5 "$W/results/call.err" 2>/dev/null; return 1; }
}
dk_what=
[ "$dkms_up" = 0 ] || dk_what=", then apt-get install of a newer sipovl-dkms during it (DKMS builds $ver+1 in the guest, the loaded module stays, RTP goes on)"
check "in the VM: sipovld.service with an identity carries a SIP call (the far phone sees the caller's address), apt-get install of a newer sipovl during it (restart, the loaded module kept, RTP again, the gap measured)$dk_what, apt-get purge on the running system leaves no module, process or network state ($n_call points)" call_ok

# the root as the VM left it: the image, mounted on the root as it was before the boot
if [ -z "${SIPOVL_PKG_ROOT_9P:-}" ]; then
	mount -o loop "$IMG" "$R" || bail_out "mount -o loop $IMG"
fi
mount -t proc proc "$R/proc" && mount -t sysfs sys "$R/sys" && mount --bind /dev "$R/dev"
cp "$W/results/files" "$W/files" 2>/dev/null || in_root sh -c 'dpkg -L sipovl sipovl-dkms' >"$W/files" 2>/dev/null
gone() {
	local left='' f k
	for k in "$k61" "$k612"; do
		ls "$R/lib/modules/$k/updates/dkms/sipovl.ko"* >/dev/null 2>&1 && left+=" /lib/modules/$k/updates/dkms/sipovl.ko"
	done
	for f in /usr/src/sipovl-"$ver" /usr/src/sipovl-"$ver"+1 /var/lib/dkms/sipovl /etc/sipovld /var/lib/sipovld /usr/sbin/sipovld /usr/sbin/sipovlctl \
		/lib/systemd/system/sipovld.service /etc/systemd/system/multi-user.target.wants/sipovld.service; do
		[ -e "$R$f" ] || [ -L "$R$f" ] && left+=" $f"
	done
	while read -r f; do
		[ ! -d "$R$f" ] && { [ -f "$R$f" ] || [ -L "$R$f" ]; } && left+=" $f"
	done <"$W/files"
	in_root getent passwd sipovld >/dev/null && left+=" user sipovld"
	in_root getent group sipovld >/dev/null && left+=" group sipovld"
	in_root dpkg -l sipovl sipovl-dkms 2>/dev/null | grep -q '^[ir]' && left+=" dpkg entries"
	[ -z "$left" ] || { echo "left behind:$left"; return 1; }
}
check "purged: no file, module, unit link, user, group or package entry of sipovl left in the root" gone
diag "done at $(el)"
