#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the guest initramfs for one installed Debian kernel:
#   busybox (static), selftests/vm/init as /init, and the modules needed to
#   mount the host root over virtio-9p (decompressed: busybox insmod cannot
#   read .ko.xz), listed in load order in /modules.order.
#
#   selftests/vm/mkinitramfs.sh KVER OUTPUT.cpio.gz [MODDIR]
#   SIPOVL_INITRD_MODULES="virtio_blk ext4"   more modules (with their dependencies), after
#                                             those: pkg-root.sh boots a root on a virtio disk
#
# MODDIR is the kernel's module directory (default /lib/modules/KVER). One
# elsewhere (the debug kernel's, selftests/vm/debug-kernel.sh) is copied into
# the image as /kmods/KVER: the guest has no /lib/modules/KVER of its own, and
# /init shows it there so that modprobe finds the built-in modules.
set -euo pipefail

die() { echo "mkinitramfs: $*" >&2; exit 1; }

[ $# -eq 2 ] || [ $# -eq 3 ] || die "usage: $0 KVER OUTPUT.cpio.gz [MODDIR]"
kver=$1
out=$2
moddir=${3:-/lib/modules/$kver}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

[ -d "$moddir" ] || die "no $moddir (install linux-image-$kver)"
case $moddir in
*/lib/modules/"$kver") base=${moddir%/lib/modules/"$kver"} ;;
*) die "$moddir does not end in /lib/modules/$kver" ;;
esac
busybox=/bin/busybox
[ -x "$busybox" ] || die "no $busybox (install busybox-static)"
# Debian's /bin/busybox comes from busybox-static only when that is installed;
# a dynamically linked one would not run in the initramfs.
if ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is dynamically linked (install busybox-static)"
fi

stage=$(mktemp -d "${out}.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,host,mnt,lib/modules}
cp "$busybox" "$stage/bin/busybox"
cp "$here/init" "$stage/init"
chmod 755 "$stage/init"
# Module autoloading (the kernel's /sbin/modprobe) before init switches to
# the host root (none is expected): forwarded there.
printf '#!/bin/sh\nexec /bin/chroot /host /sbin/modprobe "$@"\n' >"$stage/sbin/modprobe"
chmod 755 "$stage/sbin/modprobe"
if [ "$moddir" != "/lib/modules/$kver" ]; then
	mkdir -p "$stage/kmods"
	cp -a "$moddir" "$stage/kmods/$kver"
	rm -f "$stage/kmods/$kver/build" "$stage/kmods/$kver/source"
fi

# Modules (and their dependencies, in order) for virtio-pci, 9p over virtio (and
# SIPOVL_INITRD_MODULES).
# Built-in ones (6.12 builds virtio in) are reported as "builtin" and skipped.
: >"$stage/modules.order"
declare -A seen=()
# shellcheck disable=SC2086 # a list of module names
for m in virtio_pci 9pnet_virtio 9p ${SIPOVL_INITRD_MODULES:-}; do
	deps=$(modprobe ${base:+-d "$base"} -S "$kver" --show-depends "$m" 2>&1) ||
		die "modprobe -S $kver --show-depends $m failed: $deps"
	while read -r kind path _; do
		[ "$kind" = insmod ] || continue
		name=$(basename "$path")
		name=${name%.xz}
		name=${name%.zst}
		name=${name%.gz}
		[ -z "${seen[$name]:-}" ] || continue
		seen[$name]=1
		case $path in
		*.ko) cp "$path" "$stage/lib/modules/$name" ;;
		*.ko.xz) xz -dc "$path" >"$stage/lib/modules/$name" ;;
		*.ko.zst) zstd -qdc "$path" >"$stage/lib/modules/$name" ;;
		*.ko.gz) gzip -dc "$path" >"$stage/lib/modules/$name" ;;
		*) die "unexpected module file $path" ;;
		esac
		echo "$name" >>"$stage/modules.order"
	done <<<"$deps"
done
grep -qx 9p.ko "$stage/modules.order" || grep -qx 'kernel/fs/9p/9p.ko' "$moddir/modules.builtin" ||
	die "kernel $kver has no 9p module"

# Several runs may build the same image at once: write privately, rename.
tmp=$(mktemp "$out.XXXXXX")
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0) | gzip -1 >"$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$out"
