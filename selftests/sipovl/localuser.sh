#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sipovl.ko and unprivileged local users: a user without capabilities on the
# gateway binds an intercepted (foreign) address with IP(V6)_FREEBIND and
# tries to take over flows the daemon is meant to get. Only transparent
# sockets may own a steered flow whose destination is not a local address,
# and a socket that is not transparent may not send from a foreign address
# an intercept or a transparent source range claims. IPv4 output already
# refuses foreign sources without IP_TRANSPARENT; IPv6 does not.
#
#   phone 10.1.0.2 fd01::2 --- gw 10.1.0.1 fd01::1 | 10.2.0.1 fd02::1 --- srv 10.2.0.2 fd02::2
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd ip jq python3 setpriv

BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
PEER=$BIN/selftests/peer
CTL=$BIN/sipovlctl
TAKEOVER=$(cd "$(dirname "$0")" && pwd)/takeover.py
[ -x "$PEER" ] && [ -x "$CTL" ] || bail_out "build first: $PEER, $CTL"

load_module
modprobe -q veth || bail_out "no veth module"
topo_gateway

ctl() { ip netns exec "$GW" "$CTL" "$@"; }
# as_user CMD...: in the gateway's namespace as nobody, without capabilities.
as_user() {
	ip netns exec "$GW" setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=-all --bounding-set=-all --no-new-privs "$@"
}
takeover() { as_user /usr/bin/python3 "$TAKEOVER" "$@" 2>>"$TMP/user.err"; }

TMP=$(mktemp -d)
chmod 755 "$TMP"
on_exit rm -rf "$TMP"

# bg NS LOG CMD...: start a server in NS, wait for its "ready" line.
bg() {
	local ns=$1 log=$2
	shift 2
	ip netns exec "$ns" "$@" >"$log.out" 2>"$log.err" &
	on_exit kill "$!"
	busywait 5000 grep -q ready "$log.out" >/dev/null || bail_out "did not start: $* ($(cat "$log.err"))"
}

check "the user has no capabilities" as_user grep -q '^CapEff:[[:space:]]*0*$' /proc/self/status
check "intercept add" ctl intercept add sip proto udp,tcp addr 10.2.0.0/16,fd02::/32 port 5060-5069
check "sources set" ctl sources set fd05::/64
bg "$GW" "$TMP/daemon4" "$PEER" listen -4 --port 9999
bg "$GW" "$TMP/daemon6" "$PEER" listen -6 --port 9999
bg "$CLI" "$TMP/phone-u4" "$PEER" echo --udp --bind 10.1.0.2:40000
bg "$CLI" "$TMP/phone-u6" "$PEER" echo --udp --bind '[fd01::2]:40000'
bg "$CLI" "$TMP/phone-t4" "$PEER" echo --tcp --bind 10.1.0.2:7001
bg "$CLI" "$TMP/phone-t6" "$PEER" echo --tcp --bind '[fd01::2]:7001'
bg "$SRV" "$TMP/srv-u6" "$PEER" echo --udp --bind '[fd02::2]:7000'

for fam in 4 6; do
	if [ $fam = 4 ]; then pbx=10.2.0.77 phone=10.1.0.2; else pbx='[fd02::77]' phone='[fd01::2]'; fi

	# The user answers the phone as the PBX: sends from PBX:5060 to the
	# phone, which echoes back to PBX:5060.
	out=$(takeover udp "$pbx:5060" "$phone:40000" 20)
	if [ "$out" = "sent 0 received 0" ] || [ "$out" = "sent 20 received 0" ]; then
		ok "udp$fam: the user receives none of the phone's answers ($out)"
	else
		not_ok "udp$fam: the user receives none of the phone's answers" "$out"
	fi
	if grep -qF "ECHO $pbx:5060 " "$TMP/phone-u$fam.err"; then
		not_ok "udp$fam: the phone got no datagram from the user as the PBX" \
			"$(grep -cF "ECHO $pbx:5060 " "$TMP/phone-u$fam.err") got through"
	else
		ok "udp$fam: the phone got no datagram from the user as the PBX"
	fi

	# The user only listens on PBX:5062 connected to the phone's port; the
	# phone's datagram to the PBX is a new flow: the daemon's.
	takeover udp-wait "$pbx:5062" "$phone:40001" 6 >"$TMP/wait$fam" &
	w=$!
	busywait 5000 grep -q ready "$TMP/wait$fam" >/dev/null
	out=$(ip netns exec "$CLI" "$PEER" send --udp --timeout 2 --src "$phone:40001" --dst "$pbx:5062" --msg phone 2>&1)
	if [[ $out == "UDP $phone:40001 $pbx:5062 phone" ]]; then
		ok "udp$fam: the phone's datagram to the PBX goes to the daemon"
	else
		not_ok "udp$fam: the phone's datagram to the PBX goes to the daemon" "got: $out"
	fi
	wait "$w"
	if grep -q "^received 0$" "$TMP/wait$fam"; then
		ok "udp$fam: the user's socket on the PBX address received nothing"
	else
		not_ok "udp$fam: the user's socket on the PBX address received nothing" "$(cat "$TMP/wait$fam")"
	fi

	# TCP: the user connects to the phone from PBX:5063..5067.
	out=$(takeover tcp "$pbx:5063" "$phone:7001" 5)
	if [[ $out == "connected 0 "* ]]; then
		ok "tcp$fam: no connection from the user as the PBX completes ($out)"
	else
		not_ok "tcp$fam: no connection from the user as the PBX completes" "$out"
	fi
	if grep -qF "ECHO $pbx:506" "$TMP/phone-t$fam.err"; then
		not_ok "tcp$fam: the phone accepted no connection from the user as the PBX" \
			"$(grep -cF "ECHO $pbx:506" "$TMP/phone-t$fam.err") accepted"
	else
		ok "tcp$fam: the phone accepted no connection from the user as the PBX"
	fi
done

# A transparent source range (the daemon originates from it): the user binds
# one of its addresses and talks to a server, whose replies would come back
# to that range.
out=$(takeover udp '[fd05::55]:7300' '[fd02::2]:7000' 10)
if [[ $out == *" received 0" ]]; then
	ok "udp6: the user receives no reply to a transparent source address ($out)"
else
	not_ok "udp6: the user receives no reply to a transparent source address" "$out"
fi
if grep -q "ECHO \[fd05::55\]" "$TMP/srv-u6.err"; then
	not_ok "udp6: the server got nothing from the user as a transparent source" \
		"$(grep -c "ECHO \[fd05::55\]" "$TMP/srv-u6.err") got through"
else
	ok "udp6: the server got nothing from the user as a transparent source"
fi
diag "user errors: $(sort "$TMP/user.err" | uniq -c | head -5 | tr '\n' ';')"

done_testing
