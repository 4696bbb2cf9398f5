# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2154 # kver, SYS, NEW, VER, TMP, PA, PB: pkg-call-guest.sh's
# Sourced by selftests/vm/pkg-call-guest.sh (PKGTEST_DKMS_UPGRADE=1; pkg-root.sh's
# SIPOVL_PKG_ROOT_DKMS_UPGRADE=1) after the sipovl upgrade, the call still running: `apt-get
# install` of a newer release of sipovl-dkms (deb-lib.sh's dkms_newer: the module's version
# VER+1) on the running system, in the TCG guest. What a Debian operator gets, and these
# four points check:
#   - the old package's prerm (upgrade) has DKMS remove sipovl/VER's files for every kernel
#     and leaves the loaded module alone (debian/sipovl-dkms.prerm unloads only on remove);
#     the new postinst (dkms's common.postinst) adds sipovl/VER+1 and builds and installs it
#     for the running kernel (and the newest kernel image in /boot: this root has none);
#   - modinfo and dkms status name the new module; the loaded one stays, not reloaded (its
#     version and srcversion in /sys/module/sipovl differ from the installed file's, its
#     counters go on), and sipovld is not restarted (sipovl-dkms's scripts do not touch it);
#   - the call's RTP goes on through the build, the longest gap at each phone measured.
# Variables and functions of pkg-call-guest.sh: sys, unit, steered, gap, kver, NEW, VER.

NV=$VER+1
DKLOG=/run/sipovl-vm/dkms-upgrade.log
DKMS_GAP_MAX=${SIPOVL_PKG_DKMS_GAP_MAX:-10}
ls "$SYS$NEW"/sipovl-dkms_*.deb >/dev/null 2>&1 || bail_out "no newer sipovl-dkms .deb in $NEW"
diag "DKMS upgrade: guest $(nproc) CPUs; dkms's parallel_jobs: $(sys sh -c '. /etc/dkms/framework.conf 2>/dev/null; echo "${parallel_jobs:-default, i.e. the CPUs}"')"
diag "DKMS before: $(sys dkms status -m sipovl 2>&1 | tr '\n' ';')"

dk_pid0=$(unit MainPID)
dk_ver0=$(cat /sys/module/sipovl/version 2>&1)
dk_src0=$(cat /sys/module/sipovl/srcversion 2>&1)
dk_file_src0=$(sys modinfo -F srcversion sipovl 2>&1)
[ "$dk_src0" = "$dk_file_src0" ] ||
	diag "before the upgrade the loaded srcversion $dk_src0 is not the installed file's ($dk_file_src0)"
rtp_capture dk-
dk_td_a=$cap_a dk_td_b=$cap_b
dk_k0=$(steered)
dk_t0=$(date +%s.%N)
sys sh -c "timeout ${SIPOVL_PKG_DKMS_APT_MAX:-3600} apt-get -qy install $NEW/sipovl-dkms_*.deb" >"$DKLOG" 2>&1 </dev/null
dk_rc=$?
dk_t1=$(date +%s.%N)
dk_s=$(awk -v a="$dk_t0" -v b="$dk_t1" 'BEGIN { printf "%.0f", b - a }')
sleep 2
dk_tcap=$(date +%s.%N)
kill "$dk_td_a" "$dk_td_b" 2>/dev/null
wait "$dk_td_a" "$dk_td_b" 2>/dev/null

# the build's own time: dkms writes the date into make.log before make, the file's mtime is
# make's end (the log moved, not rewritten, after the build)
mk=$SYS/var/lib/dkms/sipovl/$NV/$kver/$(uname -m)/log/make.log
dk_build='?'
if [ -f "$mk" ]; then
	b0=$(date -d "$(sed -n 2p "$mk")" +%s 2>/dev/null) && dk_build=$(($(stat -c %Y "$mk") - b0))
fi
dk_versions=$(sys dpkg-query -W sipovl-dkms 2>&1 | tr '\t' ' ')
if [ $dk_rc = 0 ] && sys dpkg-query -W -f '${Version}\n' sipovl-dkms | grep -q '+1$'; then
	ok "apt-get install of a newer sipovl-dkms (module $NV) during the call: exit 0, $dk_versions, $dk_s s, of which DKMS's build for $kver $dk_build s (make -j$(nproc))"
else
	not_ok "apt-get install of a newer sipovl-dkms (module $NV) during the call: exit $dk_rc, $dk_versions ($dk_s s)" \
		"$(tail -15 "$DKLOG" | tr '\n' '|')"
fi
grep -E 'Removing|Loading|Building|Done|Skipped|skipped|Installing|depmod|Error|error' "$DKLOG" | sed 's/^/# apt: /' | head -20
dk_status=$(sys dkms status -m sipovl 2>&1)
diag "DKMS after: $(tr '\n' ';' <<<"$dk_status")"

# what is installed now: the new module, by dkms status and by modinfo (the file modprobe
# would load), and nothing left of the old version
dk_file=$(sys modinfo -n sipovl 2>&1)
dk_file_ver=$(sys modinfo -F version sipovl 2>&1)
dk_file_src=$(sys modinfo -F srcversion sipovl 2>&1)
if sys dkms status -m sipovl -v "$NV" -k "$kver" | grep -q ': installed' && [ "$dk_file_ver" = "$NV" ] &&
	[ "$dk_file" = "/lib/modules/$kver/updates/dkms/sipovl.ko" ] && [ -z "$(sys dkms status -m sipovl -v "$VER")" ]; then
	ok "installed: dkms status names sipovl/$NV for the running kernel $kver, modinfo $dk_file version $dk_file_ver (srcversion $dk_file_src), sipovl/$VER gone from DKMS"
else
	not_ok "installed: sipovl/$NV for $kver in dkms status and modinfo, sipovl/$VER gone" \
		"modinfo: $dk_file version $dk_file_ver" "dkms status: $(tr '\n' ';' <<<"$dk_status")"
fi

# the running module: not reloaded (version, srcversion, counters), sipovld not restarted
dk_ver1=$(cat /sys/module/sipovl/version 2>&1)
dk_src1=$(cat /sys/module/sipovl/srcversion 2>&1)
dk_k1=$(steered)
dk_pid1=$(unit MainPID)
if [ "$dk_ver1" = "$VER" ] && [ "$dk_src1" = "$dk_src0" ] && [ "$dk_src1" != "$dk_file_src" ] &&
	[ -n "$dk_k0" ] && [ -n "$dk_k1" ] && [ "$dk_k1" -gt "$dk_k0" ] && [ "$dk_pid1" = "$dk_pid0" ] &&
	[ "$(sys systemctl is-active sipovld.service)" = active ]; then
	ok "the loaded module stayed, not reloaded: /sys/module/sipovl version $dk_ver1 srcversion $dk_src1 (the installed file's $dk_file_src), steered $dk_k0 -> $dk_k1; sipovld not restarted (pid $dk_pid1)"
else
	not_ok "the loaded module stayed, not reloaded; sipovld not restarted" \
		"loaded version $dk_ver0 -> $dk_ver1, srcversion $dk_src0 -> $dk_src1 (installed $dk_file_src), steered $dk_k0 -> $dk_k1, pid $dk_pid0 -> $dk_pid1"
fi

read -r dgb dnb dsb < <(gap "$TMP/dk-rtp-at-b.txt" "$dk_t0" "$dk_tcap")
read -r dga dna dsa < <(gap "$TMP/dk-rtp-at-a.txt" "$dk_t0" "$dk_tcap")
dk_span=$(awk -v a="$dk_t0" -v b="$dk_tcap" 'BEGIN { printf "%.0f", b - a }')
if [ "${dnb:-0}" -gt 100 ] && [ "${dna:-0}" -gt 100 ] &&
	awk -v a="$dga" -v b="$dgb" -v m="$DKMS_GAP_MAX" 'BEGIN { exit !(a < m && b < m) }'; then
	ok "the call's RTP went on through the DKMS upgrade: longest gap ${dgb} s A->B (at B, ${dsb} s into it), ${dga} s B->A (at A, ${dsa} s), under $DKMS_GAP_MAX s; $dnb and $dna packets in ${dk_span} s"
else
	not_ok "the call's RTP went on through the DKMS upgrade, gaps under $DKMS_GAP_MAX s: ${dgb:-?} s A->B, ${dga:-?} s B->A (${dnb:-0}, ${dna:-0} packets in ${dk_span} s)" \
		"$(cat "$TMP/dk-tcpdump-b.err" "$TMP/dk-tcpdump-a.err" | tail -4 | tr '\n' '|')"
fi
