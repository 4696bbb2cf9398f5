#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The .debs of the package tests (dkms-deb.sh, pkg-root.sh); sourced after selftests/lib.sh.
#
#   debs_made DEB_DIR LOG      `make deb` into DEB_DIR (the build's build/deb) once per build:
#                              both tests may want them at the same moment (a lock beside it)
#   debs_newer DEB_DIR OUT     a newer build of both: the same files, "+1" on the Debian
#                              version, into OUT (what an upgrade installs)

debs_made() {
	local deb=$1 log=$2 t0
	mkdir -p "$(dirname "$deb")"
	exec 8>"$(dirname "$deb")/deb.lock"
	flock -w 1200 8 || bail_out "$(dirname "$deb")/deb.lock held for 20 minutes"
	if ! ls "$deb"/sipovl_*.deb "$deb"/sipovl-dkms_*.deb >/dev/null 2>&1; then
		t0=$(date +%s)
		make -s -C "$SIPOVL_TOP" --no-print-directory deb >"$log" 2>&1 ||
			{ sed 's/^/# /' "$log" | tail -20; bail_out "make deb failed"; }
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
