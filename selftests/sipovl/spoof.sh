#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sipovl.ko source validation of steered flows (issue 11, item 5). Steering
# bypasses the input route lookup, where the kernel refuses remote packets
# claiming one of the host's own addresses (IPv4, whatever rp_filter says)
# and applies rp_filter. The module applies the same validation: a packet
# from a non-loopback device with a local source address starts no flow
# (IPv4 honours accept_local), and IPv6 gets a reverse-path check: the
# source must be routed as unicast (loose) and, with the ingress device's
# rp_filter at 1, back through that device (strict).
#
#   cli 10.1.0.2 fd01::2 --- gw 10.1.0.1 fd01::1 | 10.2.0.1 fd02::1 --- srv 10.2.0.2 fd02::2
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd ip jq

BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
PEER=$BIN/selftests/peer
CTL=$BIN/sipovlctl
[ -x "$PEER" ] && [ -x "$CTL" ] || bail_out "build first: $PEER, $CTL"

load_module
modprobe -q veth || bail_out "no veth module"
setup_ns CLI GW SRV

ip link add c0 netns "$CLI" type veth peer name g0 netns "$GW"
ip link add s0 netns "$SRV" type veth peer name g1 netns "$GW"
ip -n "$CLI" addr add 10.1.0.2/24 dev c0
ip -n "$CLI" addr add fd01::2/64 dev c0 nodad
ip -n "$GW" addr add 10.1.0.1/24 dev g0
ip -n "$GW" addr add fd01::1/64 dev g0 nodad
ip -n "$GW" addr add 10.2.0.1/24 dev g1
ip -n "$GW" addr add fd02::1/64 dev g1 nodad
ip -n "$SRV" addr add 10.2.0.2/24 dev s0
ip -n "$SRV" addr add fd02::2/64 dev s0 nodad
for l in "$CLI c0" "$GW g0" "$GW g1" "$SRV s0"; do
	set -- $l
	ip -n "$1" link set "$2" up
done
ip -n "$CLI" route add default via 10.1.0.1
ip -n "$CLI" -6 route add default via fd01::1
ip -n "$SRV" route add default via 10.2.0.1
ip -n "$SRV" -6 route add default via fd02::1
ip netns exec "$GW" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip netns exec "$GW" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	net.ipv4.conf.g0.rp_filter=0 net.ipv4.conf.g1.rp_filter=0

in_cli() { ip netns exec "$CLI" "$@"; }
in_gw() { ip netns exec "$GW" "$@"; }
ctl() { in_gw "$CTL" "$@"; }

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
check "intercept add" ctl intercept add sip proto udp,tcp addr 10.2.0.0/16,fd02::/32 port 5060

# send SRC DST MSG: one datagram from the client; no reply is awaited.
send() { in_cli "$PEER" send --udp --timeout 1 --src "$1" --dst "$2" --msg "$3" >/dev/null 2>&1 || true; }
# seen MSG: did the registered socket receive MSG?
seen() { sleep 0.3; grep -q " $1\$" "$TMP/l4.err" "$TMP/l6.err"; }
# refused DESC SRC DST MSG
refused() {
	send "$2" "$3" "$4"
	if seen "$4"; then not_ok "$1" "the registered socket received it"; else ok "$1"; fi
}
# steered DESC SRC DST MSG
steered() {
	send "$2" "$3" "$4"
	if seen "$4"; then ok "$1"; else not_ok "$1" "the registered socket did not receive it"; fi
}

# Sources the client may use: the gateway's own addresses (spoofed; 10.1.0.9
# and fd01::9 on the ingress device, 10.2.0.1 and fd02::1 on the other) and a
# network the gateway routes elsewhere.
ip -n "$GW" addr add 10.1.0.9/32 dev g0
ip -n "$GW" addr add fd01::9/128 dev g0 nodad
ip -n "$CLI" addr add 10.2.0.1/32 dev c0
ip -n "$CLI" addr add 10.1.0.9/32 dev c0
ip -n "$CLI" addr add fd02::1/128 dev c0 nodad
ip -n "$CLI" addr add fd01::9/128 dev c0 nodad
ip -n "$CLI" addr add fd07::2/128 dev c0 nodad

steered "IPv4 control: the client's own source is steered" 10.1.0.2:0 10.2.0.77:5060 ctl4
steered "IPv6 control: the client's own source is steered" '[fd01::2]:0' '[fd02::77]:5060' ctl6

# Local addresses as sources, rp_filter=0.
refused "IPv4: a remote source claiming the gateway's address on another device starts no flow" \
	10.2.0.1:0 10.2.0.77:5060 own4a
refused "IPv4: a remote source claiming the gateway's address on the ingress device starts no flow" \
	10.1.0.9:0 10.2.0.77:5060 own4b
refused "IPv6: a remote source claiming the gateway's address on another device starts no flow" \
	'[fd02::1]:0' '[fd02::77]:5060' own6a
refused "IPv6: a remote source claiming the gateway's address on the ingress device starts no flow" \
	'[fd01::9]:0' '[fd02::77]:5060' own6b
# IPv4 accept_local: the kernel accepts local sources on that device, so does sipovl.
in_gw sysctl -qw net.ipv4.conf.g0.accept_local=1
steered "IPv4 accept_local=1: a local source is accepted, as by the kernel" 10.2.0.1:0 10.2.0.77:5060 own4c
in_gw sysctl -qw net.ipv4.conf.g0.accept_local=0

# Locally originated flows (through loopback) keep their local sources.
out=$(in_gw "$PEER" send --udp --src 10.2.0.1:0 --dst 10.2.0.88:5060 --msg loc4 2>&1) || true
if grep -q ' loc4$' <<<"$out"; then ok "IPv4 local flow from the gateway's own address is steered"; else not_ok "IPv4 local flow from the gateway's own address is steered" "$out"; fi
out=$(in_gw "$PEER" send --udp --src '[fd02::1]:0' --dst '[fd02::88]:5060' --msg loc6 2>&1) || true
if grep -q ' loc6$' <<<"$out"; then ok "IPv6 local flow from the gateway's own address is steered"; else not_ok "IPv6 local flow from the gateway's own address is steered" "$out"; fi

# IPv6 reverse path. fd07::/64 is routed back via g1, not g0 where it arrives.
ip -n "$GW" -6 route add fd07::/64 via fd02::2
in_gw sysctl -qw net.ipv4.conf.all.rp_filter=1
refused "IPv6 rp_filter=1 (strict): a source routed via another device starts no flow" \
	'[fd07::2]:0' '[fd02::77]:5060' rpf6s
steered "IPv6 rp_filter=1 (strict): a source routed back via its device is steered" \
	'[fd01::2]:0' '[fd02::77]:5060' rpf6ok
in_gw sysctl -qw net.ipv4.conf.all.rp_filter=2
steered "IPv6 rp_filter=2 (loose): a source routed via another device is steered" \
	'[fd07::2]:0' '[fd02::77]:5060' rpf6l
in_gw sysctl -qw net.ipv4.conf.all.rp_filter=0
steered "IPv6 rp_filter=0 (loose): a source routed via another device is steered" \
	'[fd07::2]:0' '[fd02::77]:5060' rpf6z
ip -n "$GW" -6 route del fd07::/64 via fd02::2
ip -n "$GW" -6 route add unreachable fd07::/64
refused "IPv6 rp_filter=0 (loose): a source with an unreachable route back starts no flow" \
	'[fd07::2]:0' '[fd02::77]:5060' rpf6u
ip -n "$GW" -6 route del unreachable fd07::/64
refused "IPv6 rp_filter=0 (loose): a source with no route back starts no flow" \
	'[fd07::2]:0' '[fd02::77]:5060' rpf6n

done_testing
