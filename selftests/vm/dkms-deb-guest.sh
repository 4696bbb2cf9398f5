#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest half of the package test (selftests/vm/dkms-deb.sh): the module DKMS built from
# sipovl-dkms loads; sipovld runs from the package's files as its unit runs it (user
# sipovld, ambient CAP_NET_ADMIN CAP_NET_BIND_SERVICE, /run/sipovld its own, the packaged
# /etc/sipovld/sipovld.conf, an identity in /var/lib/sipovld) as gateway A of daemon.sh's
# two-site Ziti network (daemon-lib.sh; gateway B is the build's sipovld), carries a SIP call
# with RTP, keeps carrying it across a restart of the daemon as an upgrade does (the
# package's postinst restarts sipovld.service; the loaded module stays: Documentation/
# admin-guide.md, "Install from the Debian packages"), and stops cleanly on SIGTERM.
# There is no systemd in the guest: the unit's User=, Group=, capabilities, RuntimeDirectory=
# and ExecStart= are applied with setpriv, as systemd would.
set -uo pipefail
in_vm() { [ "${SIPOVL_IN_VM:-}" = 1 ]; }
if ! in_vm; then
	echo "1..0 # SKIP runs only in the test VM (selftests/vm/dkms-deb.sh)"
	exit 0
fi
kver=$(uname -r)
modcheck() { modinfo -n sipovl | grep -q "^/lib/modules/$kver/updates/dkms/sipovl\.ko"; }
# before daemon-lib.sh: its set-up uses the loaded module (DAEMON_MODULE=loaded)
modcheck_out=$(modcheck 2>&1) && modcheck_rc=0 || modcheck_rc=$?
modprobe_out=$(modprobe sipovl 2>&1) && modprobe_rc=0 || modprobe_rc=$?
export DAEMON_MODULE=loaded
source "$(dirname "$0")/../sipovl/daemon-lib.sh"
source "$(dirname "$0")/../sipovl/longcall-lib.sh"
require_cmd setpriv python3
plan 13
if [ $modcheck_rc = 0 ]; then ok "modinfo finds sipovl in /lib/modules/$kver/updates/dkms"; else not_ok "modinfo finds sipovl in /lib/modules/$kver/updates/dkms" "$modcheck_out"; fi
if [ $modprobe_rc = 0 ]; then ok "modprobe sipovl (the unit's ExecStartPre)"; else not_ok "modprobe sipovl (the unit's ExecStartPre)" "$modprobe_out"; fi
[ $modprobe_rc = 0 ] || bail_out "no module"
PKG_D=/usr/sbin/sipovld PKG_CTL=/usr/sbin/sipovlctl
UNIT=/lib/systemd/system/sipovld.service
[ -x "$PKG_D" ] && [ -x "$PKG_CTL" ] && [ -f "$UNIT" ] || bail_out "the sipovl package is not installed"

daemon_net dkms-deb

# The unit's RuntimeDirectory= and StateDirectory= (the guest's /run and /var are its own
# tmpfs: the package's /var/lib/sipovld is the host's), the identity enrolled as sipovld.
install -d -o sipovld -g sipovld -m 0750 /run/sipovld
install -d -o sipovld -g sipovld -m 0700 /var/lib/sipovld
install -o sipovld -g sipovld -m 0600 "$SIPOVLD_ZN_DIR/gw-a.json" /var/lib/sipovld/gw-a.json
on_exit rm -rf /run/sipovld /var/lib/sipovld
ln -s /run/sipovld/ctl.sock "$TMP/a.sock"
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
# start_pkg_gw: gw-a as the unit starts it (User=, Group=, CapabilityBoundingSet=,
# AmbientCapabilities=, ExecStart=), in gw-a's namespace, with the test identity
start_pkg_gw() {
	# shellcheck disable=SC2086 # the unit's command line, split as systemd does
	ip netns exec "$GWA" setpriv --reuid=sipovld --regid=sipovld --clear-groups \
		--inh-caps=+net_admin,+net_bind_service --ambient-caps=+net_admin,+net_bind_service \
		--bounding-set=-all,+net_admin,+net_bind_service \
		$exec_start -i /var/lib/sipovld/gw-a.json 2>>"$TMP/a.log" &
	pid=$!
	echo "$pid" >"$TMP/a.pid"
	on_exit kill "$pid"
}
start_pkg_gw
start_gw b "$GWB"
gateways_ready

registered() {
	st a | jq -en 'input | .kernel | (.error == null)' >/dev/null || { st a | jq -c .kernel; return 1; }
}
check "the packaged sipovld drives the DKMS module (no kernel error in its status)" registered
privs() {
	local s=/proc/$pid/status
	grep -q "^Uid:.*\b$(id -u sipovld)\b" "$s" && grep -q '^CapEff:.*0000000000001400$' "$s" &&
		grep -q '^CapAmb:.*0000000000000000$' "$s" && grep -q '^CapBnd:.*0000000000001400$' "$s" ||
		{ grep -E '^(Uid|Cap)' "$s"; return 1; }
}
check "it runs as sipovld with CAP_NET_ADMIN CAP_NET_BIND_SERVICE only, no ambient set" privs

# --- a call (longcall-lib.sh): SIPp UAC at A, UAS at B echoing the RTP; it lasts until
# longcall_end, however slow the restart
longcall_start
cnt() { longcall_rtp "$1"; }
t_call=$lc_t0
# the call confirmed at gw-a, with RTP steered for its media, and echoed back to the caller
rtp_flows() {
	SIPOVLD_CTL_SOCK=$TMP/a.sock "$PKG_CTL" -j calls >"$TMP/calls.json" 2>/dev/null &&
		jq -en 'input | [.calls[] | select(.state == "confirmed" and .media_flows[0].rtp.packets_to_ziti > 0)] |
			length > 0' "$TMP/calls.json" >/dev/null && [ "$(cnt "$PA")" -gt 10 ] && [ "$(cnt "$PB")" -gt 10 ]
}
if waitfor 120 rtp_flows; then
	ok "a SIP call through the packaged gateway: confirmed, RTP both ways (at B $(cnt "$PB"), back at A $(cnt "$PA") packets, $(($(date +%s) - t_call)) s after the INVITE)"
else
	not_ok "a SIP call through the packaged gateway: confirmed, RTP both ways" "RTP at B $(cnt "$PB"), at A $(cnt "$PA")" \
		"calls: $(head -c 600 "$TMP/calls.json" 2>/dev/null)" "gw-a: $(tail -5 "$TMP/a.log" | tr '\n' '|')"
fi

# --- an upgrade during the call: sipovl-dkms's prerm (upgrade) keeps the loaded module, the
# new sipovl's postinst restarts sipovld.service (SIGTERM, start again); the module's
# counters go on
PRERM=${SIPOVL_PKG_CTRL:-}/sipovl-dkms/prerm
[ -x "$PRERM" ] || bail_out "no sipovl-dkms prerm at $PRERM (SIPOVL_PKG_CTRL)"
steered() { ip netns exec "$GWA" "$PKG_CTL" -j stats | jq '.global.steered'; }
k0=$(steered)
t0=$(date +%s)
"$PRERM" upgrade "$(sed -n 's/^Version: //p' "$SIPOVL_PKG_CTRL/sipovl-dkms/control")+1" >"$TMP/prerm-upgrade.out" 2>&1 ||
	diag "prerm upgrade: exit $?: $(cat "$TMP/prerm-upgrade.out")"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
if [ $rc = 0 ] && [ ! -e /run/sipovld/ctl.sock ]; then
	ok "SIGTERM during the call (the upgrade's stop): exit 0, its control socket removed"
else
	not_ok "SIGTERM during the call (the upgrade's stop): exit $rc, control socket $(ls /run/sipovld/ 2>&1)" "$(tail -3 "$TMP/a.log")"
fi
start_pkg_gw
if waitfor 120 ready a; then
	ok "restarted: gw-a intercepts and hosts again $(($(date +%s) - t0)) s after the stop"
else
	not_ok "restarted: gw-a intercepts and hosts again" "$(tail -5 "$TMP/a.log" | tr '\n' '|')"
fi
t_up=$(date +%s)
b1=$(cnt "$PB") a1=$(cnt "$PA")
rtp_again() { [ "$(cnt "$PB")" -gt $((b1 + 10)) ] && [ "$(cnt "$PA")" -gt $((a1 + 10)) ]; }
if waitfor 60 rtp_again; then
	ok "the call's RTP flows both ways again after the restart ($(($(date +%s) - t_up)) s)"
else
	not_ok "the call's RTP flows both ways again after the restart" \
		"RTP at B $b1 -> $(cnt "$PB"), at A $a1 -> $(cnt "$PA")" "gw-a: $(tail -5 "$TMP/a.log" | tr '\n' '|')"
fi
k1=$(steered)
if [ -n "$k0" ] && [ -n "$k1" ] && [ "$k0" -gt 0 ] && [ "$k1" -gt "$k0" ]; then
	ok "the module stayed loaded across prerm upgrade and the restart (steered $k0 -> $k1)"
else
	not_ok "the module stayed loaded across prerm upgrade and the restart (steered $k0 -> $k1)"
fi
if longcall_end; then
	ok "the call ends with BYE and 200 across the restart (SIPp exit 0, $(($(date +%s) - t_call)) s)"
else
	not_ok "the call ends with BYE and 200 across the restart" "$lc_err"
fi

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
if [ $rc = 0 ] && [ ! -e /run/sipovld/ctl.sock ]; then
	ok "SIGTERM: exit 0, its control socket removed"
else
	not_ok "SIGTERM: exit $rc, control socket $(ls /run/sipovld/ 2>&1)" "$(tail -3 "$TMP/a.log")"
fi
b=$(cat "$TMP/b.pid")
kill -TERM "$b" && wait "$b" 2>/dev/null
cleanup_all_ns
"$VMNET" stop >/dev/null 2>&1
# removal: sipovl's prerm stops sipovld (above), sipovl-dkms's prerm unloads the module
prerm_remove() {
	"$PRERM" remove || return 1
	[ ! -d /sys/module/sipovl ] || { echo "sipovl still loaded: $(grep '^sipovl ' /proc/modules)"; return 1; }
}
check "sipovl-dkms's prerm (remove) unloads the module" prerm_remove
done_testing
