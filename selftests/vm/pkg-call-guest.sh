#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The call half of selftests/vm/pkg-root.sh (TAP), started by pkg-root-guest.sh in the VM that
# booted the fresh Debian 12 root with its own systemd. Gateway A is that system's own
# sipovld.service, started by systemd from the packaged unit, in the machine's network
# namespace, configured as an admin would (the identity in /var/lib/sipovld, owned by
# sipovld, mode 0600, listed under "identities" in the packaged /etc/sipovld/sipovld.conf,
# `systemctl restart sipovld`). It carries a SIP call with RTP to phone B across the Ziti
# network of daemon-lib.sh, the far phone seeing the caller's own address; `apt-get install`
# of a newer build of sipovl (its postinst restarts sipovld.service) runs during the call,
# whose RTP must flow again, the gap measured at the phones, the loaded module untouched; a
# new flow after it; then `apt-get purge` while the system runs must leave no module,
# process, unit or network state behind.
#
# With PKGTEST_DKMS_UPGRADE=1 (pkg-root.sh's SIPOVL_PKG_ROOT_DKMS_UPGRADE=1, on in make
# check-full) a newer release of sipovl-dkms (deb-lib.sh's dkms_newer: module version
# VER+1) is installed with apt during the same call after that: DKMS builds the new module
# for the running kernel inside this TCG guest (minutes: testing.md), the loaded module
# stays (its version and srcversion in /sys/module/sipovl, its counters, sipovld not
# restarted) while modinfo and dkms status name the new one, and the call's RTP goes on, the
# longest gap measured. Without it, only sipovl is upgraded here (make check's time budget).
#
# Where it runs: the fresh root has none of SIPp, the Ziti controller and router, jq, nft,
# tcpdump or the build's gateway B, and installing them would change the system under test;
# so this file runs chrooted into the build host's root (read-only over 9p, as every other VM
# test runs), in the same VM and kernel: the phones, the Ziti network and gateway B get
# network namespaces of their own, and everything done to the system under test goes through
# `sys` (chroot /proc/1/root: PID 1's root, the fresh one; systemctl talks to its systemd).
#
#   PKGTEST_NEW_DEBS   where the newer .debs are in the fresh root
#   PKGTEST_DKMS_UPGRADE=1, PKGTEST_VER   the sipovl-dkms upgrade (above); the version of the
#                      installed sipovl-dkms's module (kmod/version.h)
set -uo pipefail
in_vm() { [ "${SIPOVL_IN_VM:-}" = 1 ]; }
if ! in_vm; then
	echo "1..0 # SKIP runs only in the test VM (selftests/vm/pkg-root.sh)"
	exit 0
fi
export DAEMON_MODULE=loaded DAEMON_GWA=init
source "$(dirname "$0")/../sipovl/daemon-lib.sh"
source "$(dirname "$0")/../sipovl/longcall-lib.sh"
require_cmd python3 tcpdump chroot
NEW=${PKGTEST_NEW_DEBS:?}
DKMS_UP=${PKGTEST_DKMS_UPGRADE:-0}
VER=${PKGTEST_VER:-}
[ "$DKMS_UP" = 0 ] || [ -n "$VER" ] || bail_out "PKGTEST_DKMS_UPGRADE=1 needs PKGTEST_VER"
# the call lasts across both upgrades: the DKMS build under TCG takes minutes
[ "$DKMS_UP" = 0 ] || export LONGCALL_MAX_S=${SIPOVL_PKG_DKMS_CALL_MAX:-4800}
SYS=/proc/1/root
sys() { chroot "$SYS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
unit() { sys systemctl show -P "$1" sipovld.service; }
steered() { sys sipovlctl -j stats | jq '.global.steered'; }
kver=$(uname -r)
ko=/lib/modules/$kver/updates/dkms/sipovl.ko
plan $((12 + 4 * DKMS_UP))
[ -d /sys/module/sipovl ] && [ "$(sys systemctl is-active sipovld.service)" = inactive ] ||
	bail_out "expected sipovl loaded and sipovld.service stopped (pkg-root-guest.sh)"
# what the purge must leave: this namespace's rules, routes and nftables ruleset now
kstate() {
	ip rule
	ip -6 rule
	ip route show table all
	ip -6 route show table all
	nft list ruleset
}
BASE=$(mktemp)
on_exit rm -f "$BASE"
kstate >"$BASE" 2>&1 || true
uid=$(sys id -u sipovld)

daemon_net pkg-call

# --- gw-a as an admin sets it up: the identity, the configuration, a restart
sys sh -c 'umask 077 && cat >/var/lib/sipovld/gw-a.json && chown sipovld:sipovld /var/lib/sipovld/gw-a.json' \
	<"$SIPOVLD_ZN_DIR/gw-a.json" || bail_out "identity into /var/lib/sipovld"
sys sed -i 's#^\([[:space:]]*\)// "identities": \[.*\],#\1"identities": ["/var/lib/sipovld/gw-a.json"],#' /etc/sipovld/sipovld.conf
grep -q '^[[:space:]]*"identities": \["/var/lib/sipovld/gw-a.json"\],' "$SYS/etc/sipovld/sipovld.conf" ||
	bail_out "no identities line in the packaged sipovld.conf to uncomment"
sys systemctl restart sipovld.service || bail_out "systemctl restart sipovld.service"
ln -s "$SYS/run/sipovld/ctl.sock" "$TMP/a.sock"
start_gw b "$GWB"
gateways_ready
pid0=$(unit MainPID)

# --- the call
longcall_start
rtp_flows() {
	sys sipovlctl -j calls >"$TMP/calls.json" 2>/dev/null &&
		jq -en 'input | [.calls[] | select(.state == "confirmed" and .media_flows[0].rtp.packets_to_ziti > 0)] |
			length > 0' "$TMP/calls.json" >/dev/null && [ "$(longcall_rtp "$PA")" -gt 10 ] && [ "$(longcall_rtp "$PB")" -gt 10 ]
}
if waitfor 120 rtp_flows; then
	ok "a SIP call through sipovld.service (pid $pid0): confirmed at gw-a; at B $(longcall_sip_in) SIP and $(longcall_rtp "$PB") RTP packets from 10.1.0.2 (the caller's own address), $(longcall_rtp "$PA") RTP packets back at A from 10.2.0.2 ($(($(date +%s) - lc_t0)) s after the INVITE)"
else
	not_ok "a SIP call through sipovld.service: confirmed, RTP both ways from the phones' own addresses" \
		"SIP at B $(longcall_sip_in), RTP at B $(longcall_rtp "$PB"), at A $(longcall_rtp "$PA")" \
		"calls: $(head -c 600 "$TMP/calls.json" 2>/dev/null)" "journal: $(sys journalctl -u sipovld.service -n 5 --no-pager -o cat | tr '\n' '|')"
fi

# --- the upgrade during the call: arrival times of the call's RTP at both phones
# rtp_capture PREFIX: the call's RTP as it arrives at each phone, in $TMP/PREFIXrtp-at-{a,b}.txt
# (tcpdump -tt), the captures' pids in cap_a and cap_b (also stopped on exit)
rtp_capture() {
	ip netns exec "$PB" tcpdump -i p0 -Q in -n -tt -l 'udp and src host 10.1.0.2 and dst host 10.2.0.2 and portrange 7222-7422' \
		>"$TMP/${1}rtp-at-b.txt" 2>"$TMP/${1}tcpdump-b.err" &
	cap_b=$!
	ip netns exec "$PA" tcpdump -i p0 -Q in -n -tt -l 'udp and src host 10.2.0.2 and dst host 10.1.0.2 and portrange 7222-7422' \
		>"$TMP/${1}rtp-at-a.txt" 2>"$TMP/${1}tcpdump-a.err" &
	cap_a=$!
	on_exit kill "$cap_a" "$cap_b"
	waitfor 20 grep -q . "$TMP/${1}rtp-at-b.txt" || diag "tcpdump at B saw nothing for 20 s"
}
rtp_capture ""
td_a=$cap_a td_b=$cap_b
k0=$(steered)
ino0=$(stat -c '%i %Y' "$SYS$ko" 2>&1)
sys dpkg-query -W sipovl sipovl-dkms >"$TMP/versions0"
UPLOG=/run/sipovl-vm/upgrade.log
t_up=$(date +%s.%N)
# no --force-conf*: the admin's sipovld.conf against a packaged one unchanged, as dpkg decides
sys sh -c "apt-get -qy install $NEW/sipovl_*.deb" >"$UPLOG" 2>&1 </dev/null
up_rc=$?
t_up1=$(date +%s.%N)
up_s=$(awk -v a="$t_up" -v b="$t_up1" 'BEGIN { printf "%.0f", b - a }')
versions=$(sys dpkg-query -W sipovl sipovl-dkms 2>&1 | tr '\n\t' '; ')
if [ $up_rc = 0 ] && sys dpkg-query -W -f '${Version}\n' sipovl | grep -q '+1$'; then
	ok "apt-get install of a newer sipovl during the call: exit 0, $versions ($up_s s)"
else
	not_ok "apt-get install of a newer sipovl during the call: exit $up_rc, $versions" "$(tail -15 "$UPLOG" | tr '\n' '|')"
fi
grep -E 'Building for|Building initial|Removing old|restart|sipovld' "$UPLOG" | sed 's/^/# apt: /' | head -12
pid1=$(unit MainPID)
started=$(date -d "$(unit ExecMainStartTimestamp)" +%s 2>/dev/null || echo 0)
if [ "$(sys systemctl is-active sipovld.service)" = active ] && [ -n "$pid1" ] && [ "$pid1" != 0 ] && [ "$pid1" != "$pid0" ] &&
	[ "$started" -ge "${t_up%.*}" ]; then
	ok "systemd restarted sipovld.service during the upgrade (pid $pid0 -> $pid1, $(unit ActiveState))"
else
	not_ok "systemd restarted sipovld.service during the upgrade (pid $pid0 -> $pid1, started $started, upgrade $t_up)" \
		"$(sys journalctl -u sipovld.service -n 8 --no-pager -o cat | tr '\n' '|')"
fi
# the module: the loaded one stays (its counters go on, never reset; the restart's modprobe
# a no-op), its file on disk untouched
k1=$(steered)
ino1=$(stat -c '%i %Y' "$SYS$ko" 2>&1)
if [ -d /sys/module/sipovl ] && [ -n "$k0" ] && [ -n "$k1" ] && [ "$k0" -gt 0 ] && [ "$k1" -ge "$k0" ] &&
	[ "$ino1" = "$ino0" ] && sys dkms status -m sipovl -k "$kver" | grep -q ': installed'; then
	ok "the loaded module stayed (steered $k0 -> $k1, never reset), $ko untouched (inode, mtime $ino1)"
else
	not_ok "the loaded module stayed, its file untouched (steered $k0 -> $k1, $ko $ino0 -> $ino1)" \
		"$(sys dkms status -m sipovl 2>&1 | tr '\n' '|')"
fi
# the admin's configuration kept, gw-a back with its identity; the call's RTP again both ways
b1=$(longcall_rtp "$PB") a1=$(longcall_rtp "$PA")
rtp_again() { [ "$(longcall_rtp "$PB")" -gt $((b1 + 10)) ] && [ "$(longcall_rtp "$PA")" -gt $((a1 + 10)) ]; }
if waitfor 120 ready a && waitfor 120 rtp_again; then
	ok "after the restart gw-a intercepts and hosts again with the admin's sipovld.conf, and the call's RTP flows both ways again ($(($(date +%s) - ${t_up1%.*})) s after apt-get ended)"
else
	not_ok "after the restart gw-a intercepts and hosts again, the call's RTP flows both ways again" \
		"RTP at B $b1 -> $(longcall_rtp "$PB"), at A $a1 -> $(longcall_rtp "$PA")" \
		"$(grep identities "$SYS/etc/sipovld/sipovld.conf")" "journal: $(sys journalctl -u sipovld.service -n 8 --no-pager -o cat | tr '\n' '|')"
fi
sleep 2
t_cap=$(date +%s.%N)
kill "$td_a" "$td_b" 2>/dev/null
wait "$td_a" "$td_b" 2>/dev/null
# gap: the longest time without an RTP packet of the call at each phone, from the upgrade's
# start to the end of the capture (50 packets a second otherwise)
gap() { # gap FILE [T0 T1]: "SECONDS PACKETS START" (START: seconds after the upgrade began at T0)
	awk -v t0="${2:-$t_up}" -v t1="${3:-$t_cap}" '{ t = $1 + 0; if (t < t0) next; if (!n) p = t0; if (t - p > g) { g = t - p; s = p - t0 } p = t; n++ }
		END { if (!n) p = t0; if (t1 - p > g) { g = t1 - p; s = p - t0 } printf "%.2f %d %.1f\n", g, n, s }' "$1"
}
read -r gb nb sb < <(gap "$TMP/rtp-at-b.txt")
read -r ga na sa < <(gap "$TMP/rtp-at-a.txt")
GAP_MAX=${SIPOVL_PKG_UPGRADE_GAP_MAX:-60}
if [ "${nb:-0}" -gt 100 ] && [ "${na:-0}" -gt 100 ] && awk -v a="$ga" -v b="$gb" -v m="$GAP_MAX" 'BEGIN { exit !(a < m && b < m) }'; then
	ok "the upgrade's gap in the call's RTP: ${gb} s A->B (at B, from ${sb} s into the upgrade), ${ga} s B->A (at A, from ${sa} s), under $GAP_MAX s ($nb and $na packets captured)"
else
	not_ok "the upgrade's gap in the call's RTP, under $GAP_MAX s: ${gb:-?} s A->B, ${ga:-?} s B->A (${nb:-0}, ${na:-0} packets)" \
		"$(cat "$TMP/tcpdump-b.err" "$TMP/tcpdump-a.err" | tail -4 | tr '\n' '|')"
fi

# a new flow through the upgraded daemon: the target sees the caller's own address. The
# request is sent again while unanswered, as a UA over UDP does (peer --retransmit: RFC 3261
# timer E, then every 4 s), for up to 120 s: make check's starved guest has had the first
# datagram's dial time out (5 s), and in one CI run (2e1e40d) its router unanswered 10 s and
# the far side's terminator gone for a while, 13 sends in 40 s unanswered, after the call's
# RTP had come back both ways (point 6). What this point asks is that the upgraded daemon
# carries new flows with the caller's address; the sends and seconds it took are in the line.
bg "$PB" eb-u4 "$PEER" echo --udp --bind 10.2.0.2:7000
t_nf=$(date +%s)
nf=$(in_pa "$PEER" send --udp --retransmit --timeout 120 --dst 10.2.0.2:7000 --msg new 2>&1)
if grep -Eq '^ECHO 10\.1\.0\.2:[0-9]+ new$' <<<"$nf"; then
	ok "a new flow after the upgrade: udp A->B, the target sees 10.1.0.2 ($(grep -o 'after [0-9]* sends' <<<"$nf" || echo 'the first send answered'), $(($(date +%s) - t_nf)) s)"
else
	not_ok "a new flow after the upgrade: udp A->B, the target sees 10.1.0.2" "got: $(tr '\n' ' ' <<<"$nf")" "$(gw_counters | tr '\n' ' ')" \
		"gw-a: $(sys journalctl -u sipovld.service --no-pager -o cat | grep -E ':7000 |router .*(lost|unanswered)' | tail -4 | tr '\n' '|')" \
		"gw-b: $(grep -E ':7000|refus' "$TMP/b.log" | tail -3 | tr '\n' '|')"
fi

# --- sipovl-dkms upgraded during the same call (PKGTEST_DKMS_UPGRADE=1)
[ "$DKMS_UP" = 0 ] || source "$(dirname "$0")/pkg-dkms-guest.sh"
if longcall_end; then
	ok "the call ends with BYE and 200 across the upgrade ($(($(date +%s) - lc_t0)) s long)"
else
	not_ok "the call ends with BYE and 200 across the upgrade" "$lc_err"
fi
# the counters once the call is over (read while RTP flows, each nft call taking a second or
# more under TCG, they would not be of one moment)
e_ao=$(longcall_rtp_out "$PA") e_bi=$(longcall_rtp "$PB") e_bo=$(longcall_rtp_out "$PB") e_ai=$(longcall_rtp "$PA")
diag "RTP over the whole call, the upgrade's gap included: A sent $e_ao, B received $e_bi; B echoed $e_bo, A received $e_ai"

cpu_report # before the Ziti network goes
# --- the test's network goes (phones, Ziti network, gw-b; gw-a's links with them), then purge
b=$(cat "$TMP/b.pid")
kill -TERM "$b" && wait "$b" 2>/dev/null
"$VMNET" stop >/dev/null 2>&1
cleanup_all_ns
ip netns del "$GWA"
sys dpkg -L sipovl sipovl-dkms >/run/sipovl-vm/files 2>/dev/null
t0=$(date +%s)
sys apt-get -qy purge sipovl sipovl-dkms >"$TMP/purge.log" 2>&1 </dev/null
rc=$?
if [ $rc = 0 ] && ! sys dpkg -l sipovl sipovl-dkms 2>/dev/null | grep -q '^[ir]'; then
	ok "apt-get purge sipovl sipovl-dkms on the running system: exit 0, no package entry ($(($(date +%s) - t0)) s)"
else
	not_ok "apt-get purge sipovl sipovl-dkms on the running system: exit $rc" "$(tail -10 "$TMP/purge.log" | tr '\n' '|')"
fi
left=
[ -d /sys/module/sipovl ] && left+=" module sipovl loaded ($(grep '^sipovl ' /proc/modules))"
p=$(awk -v u="$uid" '/^Uid:/ && $2 == u { print FILENAME }' /proc/[0-9]*/status 2>/dev/null | tr '\n' ' ')
[ -z "$p" ] || left+=" processes of uid $uid: $p"
[ -e "$SYS/run/sipovld" ] && left+=" /run/sipovld"
st=$(sys systemctl show -P LoadState sipovld.service)
[ "$st" = not-found ] || left+=" sipovld.service $st/$(sys systemctl is-active sipovld.service)"
if [ -z "$left" ]; then
	ok "after the purge: sipovl.ko unloaded, no process of sipovld's uid $uid, no /run/sipovld, systemd knows no sipovld.service"
else
	not_ok "after the purge: nothing of sipovl running or loaded" "left:$left"
fi
kstate >"$TMP/kstate.after" 2>&1 || true
if diff -u "$BASE" "$TMP/kstate.after" >"$TMP/kstate.diff"; then
	ok "after the purge: this namespace's rules, routes and nftables ruleset as before the test"
else
	not_ok "after the purge: this namespace's rules, routes and nftables ruleset as before the test" "$(head -c 600 "$TMP/kstate.diff")"
fi
done_testing
