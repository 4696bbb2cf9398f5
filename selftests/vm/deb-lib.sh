#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The .debs of the package tests (dkms-deb.sh, pkg-root.sh); sourced after selftests/lib.sh.
#
#   debs_made DEB_DIR LOG      `make deb` into DEB_DIR (the build's build/deb) once per tree
#                              (made again when the checkout's commit or uncommitted changes
#                              differ from those of the .debs there: DEB_DIR/source-id); both
#                              tests may want them at the same moment (a lock beside it)
#   debs_newer DEB_DIR OUT     a newer build of both: the same files, "+1" on the Debian
#                              version, into OUT (what an upgrade installs)
#   dkms_newer DEB_DIR VER OUT a newer release of sipovl-dkms: the Debian version "+1" as
#                              debs_newer's, and its module "VER+1" as well (the sources in
#                              /usr/src/sipovl-VER+1, dkms.conf, kmod/version.h and so
#                              MODULE_VERSION and srcversion, the maintainer scripts'
#                              DKMS_VERSION), into OUT: what DKMS builds on the upgrade can be
#                              told apart from the module loaded before it

debs_made() {
	local deb=$1 log=$2 t0
	mkdir -p "$(dirname "$deb")"
	exec 8>"$(dirname "$deb")/deb.lock"
	flock -w 1200 8 || bail_out "$(dirname "$deb")/deb.lock held for 20 minutes"
	# the tree the .debs were made from: a checkout's commit and uncommitted changes (a
	# tarball: always made again); .debs of another tree are made again
	local id
	id=$({ git -C "$SIPOVL_TOP" rev-parse HEAD && git -C "$SIPOVL_TOP" diff HEAD; } 2>/dev/null | sha256sum | cut -d' ' -f1)
	git -C "$SIPOVL_TOP" rev-parse HEAD >/dev/null 2>&1 || id=none-$$
	if ! ls "$deb"/sipovl_*.deb "$deb"/sipovl-dkms_*.deb >/dev/null 2>&1 ||
		[ "$(cat "$deb/source-id" 2>/dev/null)" != "$id" ]; then
		t0=$(date +%s)
		make -s -C "$SIPOVL_TOP" --no-print-directory deb >"$log" 2>&1 ||
			{ sed 's/^/# /' "$log" | tail -20; bail_out "make deb failed"; }
		echo "$id" >"$deb/source-id"
		diag "make deb: $(($(date +%s) - t0)) s"
	fi
	flock -u 8
	exec 8>&-
}

debs_newer() {
	local deb=$1 out=$2 d p
	mkdir -p "$out"
	d=$(mktemp -d)
	for p in "$deb"/sipovl-dkms_*.deb "$deb"/sipovl_*.deb; do
		rm -rf "$d/x" && dpkg-deb -R "$p" "$d/x" || { rm -rf "$d"; return 1; }
		sed -i 's/^Version: \(.*\)$/Version: \1+1/' "$d/x/DEBIAN/control"
		dpkg-deb -b "$d/x" "$out/" >/dev/null || { rm -rf "$d"; return 1; }
	done
	rm -rf "$d"
}

dkms_newer() {
	local deb=$1 ver=$2 out=$3 d x
	mkdir -p "$out"
	d=$(mktemp -d)
	x=$d/x
	dpkg-deb -R "$deb"/sipovl-dkms_*.deb "$x" && [ -d "$x/usr/src/sipovl-$ver" ] &&
		mv "$x/usr/src/sipovl-$ver" "$x/usr/src/sipovl-$ver+1" &&
		sed -i 's/^Version: \(.*\)$/Version: \1+1/' "$x/DEBIAN/control" &&
		sed -i "s/^DKMS_VERSION=$ver\$/DKMS_VERSION=$ver+1/" "$x/DEBIAN/postinst" "$x/DEBIAN/prerm" &&
		sed -i "s/^PACKAGE_VERSION=\"$ver\"\$/PACKAGE_VERSION=\"$ver+1\"/" "$x/usr/src/sipovl-$ver+1/dkms.conf" &&
		sed -i "s/^#define SIPOVL_VERSION \"$ver\"\$/#define SIPOVL_VERSION \"$ver+1\"/" "$x/usr/src/sipovl-$ver+1/kmod/version.h" &&
		grep -q "^DKMS_VERSION=$ver+1\$" "$x/DEBIAN/postinst" && grep -q "^DKMS_VERSION=$ver+1\$" "$x/DEBIAN/prerm" &&
		grep -q "^PACKAGE_VERSION=\"$ver+1\"\$" "$x/usr/src/sipovl-$ver+1/dkms.conf" &&
		grep -q "^#define SIPOVL_VERSION \"$ver+1\"\$" "$x/usr/src/sipovl-$ver+1/kmod/version.h" &&
		(cd "$x" && find usr -type f -printf '%P\n' | sort | sed 's#^#usr/#' | xargs md5sum >DEBIAN/md5sums) &&
		dpkg-deb -b "$x" "$out/" >/dev/null
	local rc=$?
	rm -rf "$d"
	return $rc
}
