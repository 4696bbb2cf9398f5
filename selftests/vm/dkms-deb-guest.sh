#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest half of the package test (selftests/vm/dkms-deb.sh): the module DKMS built from
# sipovl-dkms loads; sipovld runs from the package's files as its unit runs it (user
# sipovld, ambient CAP_NET_ADMIN CAP_NET_BIND_SERVICE, /run/sipovld its own), registers
# with the module, keeps only those two capabilities, and stops cleanly on SIGTERM.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

require_root
in_vm || skip_all "runs only in the test VM (selftests/vm/dkms-deb.sh)"
require_cmd setpriv
plan 7
kver=$(uname -r)
check "modinfo finds sipovl in /lib/modules/$kver/updates/dkms" \
	sh -c "modinfo -n sipovl | grep -q '^/lib/modules/$kver/updates/dkms/sipovl\.ko'"
check "modprobe sipovl (the unit's ExecStartPre)" modprobe sipovl
mkdir -p /run/sipovld && chown sipovld:sipovld /run/sipovld && chmod 750 /run/sipovld
# the unit's User=, Group=, AmbientCapabilities=, CapabilityBoundingSet=, ExecStart=
exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/sipovld.service)
# shellcheck disable=SC2086 # the unit's command line, split as systemd does
setpriv --reuid=sipovld --regid=sipovld --clear-groups --inh-caps=+net_admin,+net_bind_service \
	--ambient-caps=+net_admin,+net_bind_service --bounding-set=-all,+net_admin,+net_bind_service \
	$exec_start 2>/tmp/sipovld.log &
pid=$!
on_exit kill "$pid"
answers() {

	for _ in $(seq 1 150); do
		/usr/sbin/sipovld --request status >/tmp/sipovld.status 2>/dev/null && return 0
		sleep 0.2
	done
	cat /tmp/sipovld.log
	return 1
}
check "sipovld (package files, user sipovld) answers on /run/sipovld/ctl.sock" answers
registered() {
	jq -e '.kernel | (.error == null)' /tmp/sipovld.status >/dev/null || { jq -c .kernel /tmp/sipovld.status; return 1; }
}
check "sipovld drives the module (no kernel error in its status)" registered
privs() {
	local s=/proc/$pid/status
	grep -q "^Uid:.*\b$(id -u sipovld)\b" "$s" && grep -q '^CapEff:.*0000000000001400$' "$s" &&
		grep -q '^CapAmb:.*0000000000000000$' "$s" && grep -q '^CapBnd:.*0000000000001400$' "$s" ||
		{ grep -E '^(Uid|Cap)' "$s"; return 1; }
}
check "it runs as sipovld with CAP_NET_ADMIN CAP_NET_BIND_SERVICE only, no ambient set" privs
kill -TERM "$pid"
wait "$pid"
rc=$?
if [ $rc = 0 ] && [ ! -e /run/sipovld/ctl.sock ]; then
	ok "SIGTERM: exit 0, its control socket removed"
else
	not_ok "SIGTERM: exit $rc, control socket $(ls /run/sipovld/ 2>&1)" "$(tail -3 /tmp/sipovld.log)"
fi
check "modprobe -r sipovl" modprobe -r sipovl
rm -rf /run/sipovld
done_testing
