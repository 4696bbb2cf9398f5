#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ICMP errors for steered flows (issue 11): the daemon's transparent sockets
# send from intercepted addresses that are not this host's, so the ICMP
# errors about what they send (fragmentation needed, packet too big, port
# unreachable) come back addressed to those foreign addresses. They must
# reach the socket that owns the flow, or path MTU discovery fails (a PMTU
# black hole behind every smaller-MTU hop: tunnels, PPPoE uplinks) and a
# closed port is never reported. IPv4 and IPv6, UDP and TCP.
#
#   ph p0 10.1.0.x fd01::x --- r0 (MTU 1280) r r1 --- g0 gw        [10.2.0.0/16 fd02::/32 intercepted]
#
# The phone's own link is 1500 bytes (its SYN offers the full MSS); the
# router's side of it is 1280, so the router answers larger packets with
# DF set with an ICMP error to their (intercepted) source, routed to the
# gateway. Each point uses its own phone address: the learned path MTU is
# per destination.
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd ip jq python3

BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
CTL=$BIN/sipovlctl
[ -x "$CTL" ] || bail_out "build first: $CTL"
PY=(/usr/bin/python3 "$(dirname "$0")/icmp.py")

load_module
modprobe -q veth || bail_out "no veth module"
setup_ns PH R GW
ip link add p0 netns "$PH" type veth peer name r0 netns "$R" || bail_out "cannot create veth"
ip link add r1 netns "$R" type veth peer name g0 netns "$GW" || bail_out "cannot create veth"
ns_addrs <<-EOF
	$PH p0 10.1.0.2/24
	$PH p0 10.1.0.3/24
	$PH p0 10.1.0.4/24
	$PH p0 10.1.0.5/24
	$PH p0 fd01::2/64
	$PH p0 fd01::3/64
	$PH p0 fd01::4/64
	$PH p0 fd01::5/64
	$R r0 10.1.0.1/24
	$R r0 fd01::1/64
	$R r1 10.9.0.2/24
	$R r1 fd09::2/64
	$GW g0 10.9.0.1/24
	$GW g0 fd09::1/64
EOF
ip -n "$R" link set r0 mtu 1280
ip -n "$PH" route add default via 10.1.0.1
ip -n "$PH" -6 route add default via fd01::1
ip -n "$R" route add default via 10.9.0.1
ip -n "$R" -6 route add default via fd09::1
ip -n "$GW" route add 10.1.0.0/24 via 10.9.0.2
ip -n "$GW" -6 route add fd01::/64 via fd09::2
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip netns exec "$GW" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

ctl() { ip netns exec "$GW" "$CTL" "$@"; }
in_gw() { ip netns exec "$GW" "${PY[@]}" "$@"; }
in_ph() { ip netns exec "$PH" "${PY[@]}" "$@"; }
gstat() { ctl -j stats | jq -r ".global.$1 // \"none\""; }

check "intercept add (the daemon's sockets may use 10.2.0.0/16 and fd02::/32 port 5060 as sources)" \
	ctl intercept add sip proto udp,tcp addr 10.2.0.0/16,fd02::/32 port 5060

TMP=$(mktemp -d)
on_exit rm -rf "$TMP"
e0=$(gstat icmp_errors)

# sink_start NAME CMD...: a sink in the phone's namespace, ready within 5 s.
sink_start() {
	local name=$1
	shift
	in_ph "$@" >"$TMP/$name" 2>&1 &
	on_exit kill $!
	busywait 20000 grep -q ready "$TMP/$name" >/dev/null || bail_out "sink $name did not start: $(cat "$TMP/$name")"
}

for v in 4 6; do
	if [ $v = 4 ]; then
		pbx=10.2.0.2 ph2=10.1.0.2 ph3=10.1.0.3 ph4=10.1.0.4 ph5=10.1.0.5 err="fragmentation needed"
	else
		pbx=fd02::2 ph2=fd01::2 ph3=fd01::3 ph4=fd01::4 ph5=fd01::5 err="packet too big"
	fi

	out=$(in_gw udp-pmtu "$pbx" 5060 "$ph2" 7000)
	if [[ $out == "mtu 1280 "* ]]; then
		ok "udp$v: $err reaches the transparent socket sending from $pbx: $out"
	else
		not_ok "udp$v: $err reaches the transparent socket sending from $pbx" "want mtu 1280, got: $out"
	fi

	# 30 sent, the first is lost before the router's error comes back: 20
	# must arrive (the sink stops at 20, or after 60 s).
	sink_start big$v udp-sink "$ph3" 7001 20
	out=$(in_gw udp-big "$pbx" 5060 "$ph3" 7001)
	busywait 65000 grep -q '^got' "$TMP/big$v" >/dev/null
	got=$(grep '^got' "$TMP/big$v")
	if [[ $got =~ ^got\ ([0-9]+)\ 1400$ ]] && [ "${BASH_REMATCH[1]}" -ge 20 ]; then
		ok "udp$v: 1400-byte datagrams reach the phone across the 1280-byte hop ($out, phone $got)"
	else
		not_ok "udp$v: 1400-byte datagrams reach the phone across the 1280-byte hop" "gateway $out, phone: ${got:-nothing}"
	fi

	out=$(in_gw udp-refused "$pbx" 5060 "$ph5" 7999)
	if [[ $out == refused* ]]; then
		ok "udp$v: the phone's port unreachable reaches the socket ($out ms)"
	else
		not_ok "udp$v: the phone's port unreachable reaches the socket (ECONNREFUSED)" "got: $out"
	fi

	sink_start tcp$v tcp-sink "$ph4" 7002
	out=$(in_gw tcp-send "$pbx" 5060 "$ph4" 7002 300000)
	if [[ $out =~ ^acked\ 300000\  ]]; then
		ok "tcp$v: 300 kB from $pbx:5060 to the phone across the 1280-byte hop ($out ms)"
	else
		not_ok "tcp$v: 300 kB from $pbx:5060 to the phone across the 1280-byte hop (path MTU discovery)" \
			"got: $out; phone: $(cat "$TMP/tcp$v")"
	fi
done

# Forged errors (from the phone): one quoting a flow a transparent socket owns
# is delivered and counted; one quoting a flow nobody owns is routed as before.
for v in 4 6; do
	if [ $v = 4 ]; then pbx=10.2.0.2 ph=10.1.0.2; else pbx=fd02::2 ph=fd01::2; fi
	ip netns exec "$GW" "${PY[@]}" udp-hold "$pbx" 5060 "$ph" 7100 30 >"$TMP/hold$v" 2>&1 &
	on_exit kill $!
	busywait 20000 grep -q ready "$TMP/hold$v" >/dev/null || bail_out "udp-hold did not start: $(cat "$TMP/hold$v")"
	c0=$(gstat icmp_errors)
	in_ph icmp-forge "$pbx" "$pbx" 5060 "$ph" 7101 >/dev/null # nobody's flow
	in_ph icmp-forge "$pbx" "$pbx" 5060 "$ph" 7100 >/dev/null # the held socket's
	busywait 3000 test "$(gstat icmp_errors)" != "$c0" >/dev/null
	sleep 0.5
	c1=$(gstat icmp_errors)
	if [ "$c0" != none ] && [ "$c1" != none ] && [ $((c1 - c0)) = 1 ]; then
		ok "icmp$v: of two forged errors, the one quoting an owned flow is delivered, the other is not ($c0 -> $c1)"
	else
		not_ok "icmp$v: of two forged errors, only the one quoting an owned flow is delivered" "icmp_errors $c0 -> $c1"
	fi
done

e1=$(gstat icmp_errors)
if [ "$e1" != none ] && [ "$e0" != none ] && [ $((e1 - e0)) -ge 8 ]; then
	ok "icmp_errors counted: $e0 -> $e1"
else
	not_ok "icmp_errors counted (at least 8)" "$e0 -> $e1"
fi
if ctl stats | grep -Eq '^global: .* icmp_errors [0-9]+'; then
	ok "sipovlctl stats prints icmp_errors"
else
	not_ok "sipovlctl stats prints icmp_errors" "$(ctl stats)"
fi
done_testing
