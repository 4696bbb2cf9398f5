#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest half of selftests/vm/pkg-root.sh: runs inside the fresh Debian 12 root booted with its
# own systemd (a oneshot unit, sipovl-pkgtest.service, ordered after sipovld.service), and
# looks at sipovld.service as the package left it: enabled, started by systemd at boot from
# the packaged unit (User=, capabilities, sandboxing) and configuration (no identity yet).
# One line per check into /results/points ("ok|not ok<TAB>what<TAB>detail"), then power off.
set -u
R=/mnt/results
mkdir -p "$R"
mount -t 9p -o trans=virtio,version=9p2000.L results "$R" || { echo "pkgtest: no results mount" >/dev/console; systemctl poweroff; exit 1; }
out=$R/points
: >"$out"
pt() { # pt 0|1 WHAT [DETAIL]
	local d=${3:-}
	d=${d//$'\n'/ | }
	if [ "$1" = 0 ]; then printf 'ok\t%s\t%s\n' "$2" "$d" >>"$out"; else printf 'not ok\t%s\t%s\n' "$2" "$d" >>"$out"; fi
}
show() { systemctl show -P "$1" sipovld.service; }

# started at boot by systemd (enabled by the package), active within 60 s
st=
for _ in $(seq 1 120); do
	st=$(systemctl is-active sipovld.service)
	[ "$st" = active ] && break
	sleep 0.5
done
[ "$st" = active ]; pt $? "systemd started sipovld.service at boot (enabled by the package): $st" \
	"$(systemctl status --no-pager sipovld.service 2>&1 | tail -8)"
[ "$(systemctl is-enabled sipovld.service)" = enabled ]; pt $? "sipovld.service is enabled"
[ -d /sys/module/sipovl ]; pt $? "ExecStartPre=+/sbin/modprobe sipovl loaded the DKMS module ($(modinfo -n sipovl 2>&1))"

pid=$(show MainPID)
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
want_uid=$(getent passwd sipovld | cut -d: -f3)
[ -n "$uid" ] && [ "$uid" = "$want_uid" ]; pt $? "sipovld runs as the system user sipovld (uid ${uid:-?}, sipovld is ${want_uid:-missing})"
# CAP_NET_BIND_SERVICE (10) and CAP_NET_ADMIN (12): 0x1400; sipovld empties the ambient set
eff=$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
bnd=$(awk '/^CapBnd:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
amb=$(awk '/^CapAmb:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
[ "$eff" = 0000000000001400 ] && [ "$bnd" = 0000000000001400 ] && [ "$amb" = 0000000000000000 ]
pt $? "its capabilities: effective and bounding exactly CAP_NET_ADMIN CAP_NET_BIND_SERVICE, ambient empty (CapEff $eff CapBnd $bnd CapAmb $amb)"
nnp=$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
sec=$(awk '/^Seccomp:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
[ "$nnp" = 1 ] && [ "$sec" = 2 ]; pt $? "NoNewPrivs set and a seccomp filter in force (NoNewPrivs $nnp, Seccomp $sec)"

# the journal: stderr lines with their <N> priorities (SyslogLevelPrefix=yes)
j=$(journalctl -b -u sipovld.service -o json --no-pager 2>/dev/null | grep -F 'no identity configured' | head -1)
grep -q '"PRIORITY":"4"' <<<"$j"; pt $? "journald has sipovld's warning 'no identity configured' at priority 4 (warning)" "$j"

# the control socket in RuntimeDirectory=/run/sipovld, answered from the sandbox
s=$(/usr/sbin/sipovld --control /run/sipovld/ctl.sock --request status 2>&1)
grep -q '"version"\|"identities"\|"services"' <<<"$s"; pt $? "status over the control socket /run/sipovld/ctl.sock" "$(head -c 300 <<<"$s")"
m=$(stat -c '%U:%G %a' /run/sipovld 2>&1)
[ "$m" = "sipovld:sipovld 750" ]; pt $? "RuntimeDirectory /run/sipovld: $m (sipovld:sipovld 750)"

# systemctl reload (ExecReload=): the configuration read again by the same process
r=$(systemctl reload sipovld.service 2>&1); rrc=$?
sleep 1
[ $rrc = 0 ] && [ "$(systemctl is-active sipovld.service)" = active ] && [ "$(show MainPID)" = "$pid" ] &&
	journalctl -b -u sipovld.service --no-pager -o cat 2>/dev/null | grep -q '^reloaded: '
pt $? "systemctl reload: exit $rrc, still active, same process, sipovld logged 'reloaded:'" \
	"$r $(journalctl -b -u sipovld.service --no-pager -o cat 2>/dev/null | tail -3)"

# real systemd's view of the unit's exposure (the build host checks it offline)
sa=$(systemd-analyze security --no-pager sipovld.service 2>&1 | tail -1)
score=$(sed -n 's/^.*exposure level for sipovld\.service: \([0-9]*\.[0-9]*\) .*$/\1/p' <<<"$sa")
[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 1.7) }'; pt $? "systemd-analyze security on the running system: exposure ${score:-?} (at most 1.7)" "$sa"

# stop: SIGTERM, a clean exit
systemctl stop sipovld.service
res=$(show Result) code=$(show ExecMainStatus) act=$(systemctl is-active sipovld.service)
[ "$res" = success ] && [ "$code" = 0 ] && [ "$act" = inactive ]
pt $? "systemctl stop: exit status $code, result $res, $act"
j=$(journalctl -b -u sipovld.service -p warning --no-pager -o cat 2>/dev/null | grep -v 'no identity configured')
[ -z "$j" ]; pt $? "no other warning or error from sipovld in the journal" "$j"

# and again: systemctl start after a stop (the module stays loaded: modprobe is a no-op)
systemctl start sipovld.service
sleep 1
[ "$(systemctl is-active sipovld.service)" = active ]; pt $? "systemctl start again: $(systemctl is-active sipovld.service)"
systemctl stop sipovld.service

# The call, the upgrade during it and the purge: selftests/vm/pkg-call-guest.sh (TAP into
# /results/call.tap), chrooted into the build host's root, read-only over 9p (buildhost),
# with its own /tmp, /run and /var (as the VM's /init makes them for the other VM tests):
# pkg-call-guest.sh says why it runs there and not in this root.
# /usr/local/etc/sipovl-pkgtest.env (from pkg-root.sh): TOP, BIN, NEW_DEBS, DKMS_UPGRADE,
# VER, CALL_TIMEOUT
. /usr/local/etc/sipovl-pkgtest.env
H=/mnt/buildhost H2=/mnt/buildhost-under
call() {
	local d p
	mkdir -p "$H" "$H2"
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose buildhost "$H" || return 1
	# private (systemd makes / shared): what is mounted below $H stays out of $H2, and the
	# unmount at the end does not travel to this system's own /sys and /dev
	mount --make-private "$H" && mount --bind "$H" "$H2" || return 1
	for d in tmp run var; do mount -t tmpfs -o mode=755 tmpfs "$H/$d" || return 1; done
	chmod 1777 "$H/tmp"
	mkdir -p "$H/var/tmp" "$H/var/lib" "$H/var/log" "$H/var/cache" "$H/run/lock" "$H/run/sipovl-vm"
	chmod 1777 "$H/var/tmp"
	# a checkout or build directory below those: seen through them again
	for p in "$TOP" "$BIN"; do
		case $p in /tmp/* | /run/* | /var/*) mkdir -p "$H$p" && mount --bind "$H2$p" "$H$p" || return 1 ;; esac
	done
	mount -t proc proc "$H/proc" && mount --rbind /sys "$H/sys" && mount --make-rslave "$H/sys" &&
		mount --rbind /dev "$H/dev" && mount --make-rslave "$H/dev" &&
		mount --bind "$R" "$H/run/sipovl-vm" || return 1
	chroot "$H" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp \
		LC_ALL=C.UTF-8 SIPOVL_IN_VM=1 SIPOVL_TOP="$TOP" SIPOVL_BIN="$BIN" PKGTEST_NEW_DEBS="$NEW_DEBS" \
		PKGTEST_DKMS_UPGRADE="${DKMS_UPGRADE:-0}" PKGTEST_VER="${VER:-}" \
		timeout "${CALL_TIMEOUT:-2400}" /bin/bash "$TOP/selftests/vm/pkg-call-guest.sh" >"$R/call.tap" 2>"$R/call.err"
	echo "exit $?" >"$R/call.exit"
	umount -R "$H" "$H2" 2>/dev/null
	return 0
}
call || echo "set-up failed" >"$R/call.exit"
echo finished >"$R/finished"
sync
umount "$R"
systemctl poweroff --no-block
