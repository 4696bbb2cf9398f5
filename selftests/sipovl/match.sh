#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Matching semantics of the kernel's table (through SIPOVL_CMD_LOOKUP):
# prefix boundaries, /0, /32, /128, port edges 0 and 65535, overlaps resolved
# by longest prefix, then narrowest port range, then lowest id, allowed
# sources, protocols, IPv4/IPv6 separation. The same table is then checked
# with real packets for a few of the cases.
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd ip

BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
CTL=$BIN/sipovlctl
[ -x "$CTL" ] || bail_out "build first: $CTL"
load_module
setup_ns NS
ctl() { ip netns exec "$NS" "$CTL" "$@"; }

TMP=$(mktemp -d)
on_exit rm -rf "$TMP"
cat >"$TMP/table" <<'T'
intercept all4 id 50 proto tcp,udp addr 0.0.0.0/0 port 0
intercept all6 id 51 proto tcp,udp addr ::/0 port 65535
intercept wide id 10 proto udp addr 10.0.0.0/8 port 1000-2000
intercept narrow-port id 12 proto udp addr 10.0.0.0/8 port 1500-1510
intercept tie-low id 20 proto udp addr 10.0.0.0/8 port 1600-1610
intercept tie-high id 21 proto udp addr 10.0.0.0/8 port 1600-1610
intercept longer id 30 proto udp addr 10.1.0.0/16 port 1-65535
intercept host id 31 proto tcp,udp addr 10.1.2.3/32 port 5060
intercept srcs id 40 proto udp addr 10.1.2.0/24 port 5060 src 192.168.1.0/24
intercept tcponly id 41 proto tcp addr 10.3.0.0/16 port 0-65535
intercept v6 id 60 proto udp addr fd00:1::/32 port 5060-5061
intercept v6host id 61 proto udp addr fd00:1::5/128 port 5060
intercept edge id 70 proto udp addr 172.16.0.0/12 port 0,65535
T
check "apply the semantics table" ctl apply "$TMP/table"

# want DESC EXPECTED_ID proto P src S dst D dport N
want() {
	local desc=$1 exp=$2 out
	shift 2
	out=$(ctl lookup "$@" 2>&1)
	if [ "$exp" = none ]; then
		[ "$out" = "no match" ] && ok "$desc" || not_ok "$desc" "lookup $*: got '$out', want no match"
	else
		[ "${out%% *}" = "$exp" ] && ok "$desc" || not_ok "$desc" "lookup $*: got '$out', want id $exp"
	fi
}
S=198.51.100.7
want "/8 first address" 10 proto udp src $S dst 10.0.0.0 dport 1000
want "/8 last address" 10 proto udp src $S dst 10.255.255.255 dport 2000
want "just below the /8" none proto udp src $S dst 9.255.255.255 dport 1000
want "just above the /8" none proto udp src $S dst 11.0.0.0 dport 1000
want "port range low edge - 1" none proto udp src $S dst 10.9.9.9 dport 999
want "port range high edge + 1" none proto udp src $S dst 10.9.9.9 dport 2001
want "narrowest port range wins over a wider one" 12 proto udp src $S dst 10.9.9.9 dport 1505
want "equal prefix and range: lowest id wins" 20 proto udp src $S dst 10.9.9.9 dport 1605
want "longer prefix wins over narrower port range" 30 proto udp src $S dst 10.1.9.9 dport 1505
want "/32 beats everything shorter" 31 proto udp src $S dst 10.1.2.3 dport 5060
want "/32 neighbour falls back to the /16" 30 proto udp src $S dst 10.1.2.4 dport 5060
want "allowed source matches" 40 proto udp src 192.168.1.9 dst 10.1.2.9 dport 5060
want "other source falls through to a shorter prefix" 30 proto udp src 192.168.2.9 dst 10.1.2.9 dport 5060
want "protocol: tcp-only intercept takes tcp" 41 proto tcp src $S dst 10.3.4.5 dport 443
want "protocol: tcp-only intercept ignores udp" none proto udp src $S dst 10.3.4.5 dport 443
want "/0 port 0" 50 proto tcp src $S dst 203.0.113.9 dport 0
want "/0 port 1 does not match port 0" none proto tcp src $S dst 203.0.113.9 dport 1
want "::/0 port 65535" 51 proto udp src 2001:db8::1 dst 2001:db8::2 dport 65535
want "::/0 does not match IPv4" none proto udp src $S dst 203.0.113.9 dport 65535
want "/128" 61 proto udp src 2001:db8::1 dst fd00:1::5 dport 5060
want "/128 neighbour falls back to the /32" 60 proto udp src 2001:db8::1 dst fd00:1::6 dport 5060
want "ipv6 range edge" 60 proto udp src 2001:db8::1 dst fd00:1:ffff:ffff:ffff:ffff:ffff:ffff dport 5061
want "ipv6 just outside" none proto udp src 2001:db8::1 dst fd00:2:: dport 5061
want "port 0 in a list" 70 proto udp src $S dst 172.31.255.255 dport 0
want "port 65535 in a list" 70 proto udp src $S dst 172.16.0.0 dport 65535
want "port 1 not in the list" none proto udp src $S dst 172.16.0.1 dport 1

# The same semantics on real packets: a receiver in the namespace counts what
# the kernel steers per intercept.
PEER=$BIN/selftests/peer
ip -n "$NS" link add d0 type dummy
ip -n "$NS" link set d0 up
ip -n "$NS" addr add 10.1.2.1/24 dev d0
ip -n "$NS" addr add 192.168.1.1/24 dev d0
ip netns exec "$NS" "$PEER" listen -4 --port 9999 >"$TMP/l.out" 2>"$TMP/l.err" &
on_exit kill $!
busywait 5000 grep -q ready "$TMP/l.out" >/dev/null || bail_out "listener did not start"
flows() { ctl -j -s intercept show "$1" | jq -r '.[0].stats.flows'; }
f40=$(flows srcs) f30=$(flows longer)
# The replies go to local addresses, one of them inside 'longer': the client's
# own socket owns that flow, so the reply reaches it and is no new flow.
check "reply to an allowed source" ip netns exec "$NS" "$PEER" send --udp --src 192.168.1.1:0 --dst 10.1.2.9:5060 --msg a
check "reply to an intercepted local address reaches its socket" \
	ip netns exec "$NS" "$PEER" send --udp --src 10.1.2.1:0 --dst 10.1.2.9:5060 --msg b
g40=$(flows srcs) g30=$(flows longer)
if [ $((g40 - f40)) = 1 ] && [ $((g30 - f30)) = 1 ]; then
	ok "packets: allowed source to 'srcs', other source to 'longer'"
else
	not_ok "packets: allowed source to 'srcs', other source to 'longer'" "srcs $f40->$g40, longer $f30->$g30"
fi
done_testing
