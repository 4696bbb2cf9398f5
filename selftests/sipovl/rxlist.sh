#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sipovl.ko under list receive (issue 11, item 1): ip_list_rcv_finish() and
# ip6_list_rcv_finish() reuse the route of one packet of a receive list as a
# hint for the following packets to the same destination. A steered packet
# carries sipovl's local-delivery route; if it became the hint, the packets
# after it to the same (intercepted) address but not intercepted themselves
# (another port, ICMP) would be delivered on the gateway instead of
# forwarded. Mixed bursts must forward every packet that is not intercepted.
#
# veth receives in lists only with GRO on at the receiving end (NAPI) and
# TSO off at the sending end; a netem slot qdisc on the sender releases the
# queued packets in bursts.
#
#   cli 10.1.0.2 fd01::2 --- gw 10.1.0.1 fd01::1 | 10.2.0.1 fd02::1 --- srv 10.2.0.2 fd02::2
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd ip nft jq tc ethtool python3 ping

BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
PEER=$BIN/selftests/peer
CTL=$BIN/sipovlctl
MIX=$(dirname "$0")/mixburst.py
N=200
[ -x "$PEER" ] && [ -x "$CTL" ] || bail_out "build first: $PEER, $CTL"

load_module
modprobe -q veth || bail_out "no veth module"
modprobe -q sch_netem || bail_out "no sch_netem module"
modprobe -a nf_tables 2>&1 | sed 's/^/# /'
topo_gateway

in_cli() { ip netns exec "$CLI" "$@"; }
in_gw() { ip netns exec "$GW" "$@"; }
in_srv() { ip netns exec "$SRV" "$@"; }
ctl() { in_gw "$CTL" "$@"; }

# List receive on the gateway's ingress; bursts from the client.
check "GRO on at the gateway's ingress (g0)" in_gw ethtool -K g0 gro on
check "TSO off at the client's egress (c0)" in_cli ethtool -K c0 tso off
check "netem slot qdisc on c0" in_cli tc qdisc add dev c0 root netem slot 20ms packets 48

# Counters: on the server, what was forwarded; on the gateway, what was
# delivered locally although not intercepted.
in_srv nft -f - <<'NFT'
table inet cnt {
	counter u4 {}
	counter i4 {}
	counter u6 {}
	counter i6 {}
	chain in {
		type filter hook input priority 0;
		ip daddr 10.2.0.2 udp dport 7000 counter name u4
		ip daddr 10.2.0.2 icmp type echo-request counter name i4
		ip6 daddr fd02::2 udp dport 7000 counter name u6
		ip6 daddr fd02::2 icmpv6 type echo-request counter name i6
	}
}
NFT
in_gw nft -f - <<'NFT'
table inet cnt {
	counter u4 {}
	counter i4 {}
	counter u6 {}
	counter i6 {}
	chain in {
		type filter hook input priority 0;
		ip daddr 10.2.0.2 udp dport 7000 counter name u4
		ip daddr 10.2.0.2 icmp type echo-request counter name i4
		ip6 daddr fd02::2 udp dport 7000 counter name u6
		ip6 daddr fd02::2 icmpv6 type echo-request counter name i6
	}
}
NFT
# pkts NS COUNTER
pkts() {
	ip netns exec "$1" nft -j list counter inet cnt "$2" | jq -r '.nftables[] | select(.counter) | .counter.packets'
}

TMP=$(mktemp -d)
on_exit rm -rf "$TMP"
start_listener() { # start_listener -4|-6 LOG
	in_gw "$PEER" listen "$1" --port 9999 >"$2.out" 2>"$2.err" &
	local pid=$!
	on_exit kill "$pid"
	busywait 5000 grep -q ready "$2.out" >/dev/null || bail_out "listener did not start: $(cat "$2.err")"
}
start_listener -4 "$TMP/l4"
start_listener -6 "$TMP/l6"

# Port 5060 of the server's address is intercepted; port 7000 and ICMP are not.
check "intercept on the server's address, port 5060" \
	ctl intercept add sip proto udp addr 10.2.0.2/32,fd02::2/128 port 5060

# Neighbours resolved before the bursts.
in_cli ping -q -c 1 -W 2 10.2.0.2 >/dev/null || bail_out "no IPv4 path to the server"
in_cli ping -q -c 1 -W 2 fd02::2 >/dev/null || bail_out "no IPv6 path to the server"

# burst FAM ADDR UCTR ICTR
burst() {
	local fam=$1 addr=$2 uc=$3 ic=$4 s0 s1 fu0 fwi0 lu0 li0 fu lo_u fwi lo_i
	s0=$(ctl -j -s intercept show sip | jq -r '.[0].stats.packets')
	fu0=$(pkts "$SRV" "$uc") fwi0=$(pkts "$SRV" "$ic")
	lu0=$(pkts "$GW" "$uc") li0=$(pkts "$GW" "$ic")
	in_cli /usr/bin/python3 "$MIX" "$fam" "$addr" 5060 7000 $N
	# Let the qdisc drain and the stragglers arrive.
	slowwait 10 bash -c "[ \"\$(ip netns exec $SRV nft -j list counter inet cnt $ic | jq -r '.nftables[] | select(.counter) | .counter.packets')\" -ge $((fwi0 + N)) ]" || true
	sleep 1
	s1=$(ctl -j -s intercept show sip | jq -r '.[0].stats.packets')
	fu=$(($(pkts "$SRV" "$uc") - fu0)) fwi=$(($(pkts "$SRV" "$ic") - fwi0))
	lo_u=$(($(pkts "$GW" "$uc") - lu0)) lo_i=$(($(pkts "$GW" "$ic") - li0))
	diag "IPv${fam#-}: steered $((s1 - s0)) of $N; udp to port 7000: forwarded $fu, delivered on the gateway $lo_u; echo requests: forwarded $fwi, delivered on the gateway $lo_i"
	if [ $((s1 - s0)) -gt 0 ]; then
		ok "IPv${fam#-}: the bursts held steered packets ($((s1 - s0)))"
	else
		not_ok "IPv${fam#-}: the bursts held steered packets ($((s1 - s0)))"
	fi
	if [ "$fu" = $N ] && [ "$lo_u" = 0 ]; then
		ok "IPv${fam#-}: udp to a port not intercepted: $N of $N forwarded"
	else
		not_ok "IPv${fam#-}: udp to a port not intercepted: $N of $N forwarded" \
			"forwarded $fu, delivered on the gateway $lo_u"
	fi
	if [ "$fwi" = $N ] && [ "$lo_i" = 0 ]; then
		ok "IPv${fam#-}: echo requests: $N of $N forwarded"
	else
		not_ok "IPv${fam#-}: echo requests: $N of $N forwarded" \
			"forwarded $fwi, delivered on the gateway $lo_i"
	fi
}

burst -4 10.2.0.2 u4 i4
burst -6 fd02::2 u6 i6

# The steered packets still reached the daemon's sockets.
for f in 4 6; do
	n=$(grep -c ' blast ' "$TMP/l$f.err" || true)
	if [ "$n" -gt 0 ]; then
		ok "IPv$f: the registered socket received steered datagrams ($n)"
	else
		not_ok "IPv$f: the registered socket received steered datagrams ($n)"
	fi
done

done_testing
