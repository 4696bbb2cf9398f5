#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The VM runner's own sanity test, run before the sipovl selftests: the guest
# has what the selftests rely on, and the freshly built sipovl.ko loads and
# unloads cleanly on this kernel.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

require_root
in_vm || skip_all "runs only in the test VM (selftests/vm/run.sh)"
plan 8

setup_ns A B
veth_pair() {
	ip link add veth0 netns "$A" type veth peer name veth0 netns "$B" &&
		ip -n "$A" addr add 192.0.2.1/24 dev veth0 &&
		ip -n "$B" addr add 192.0.2.2/24 dev veth0 &&
		ip -n "$A" link set veth0 up && ip -n "$B" link set veth0 up
}
check "veth pair between two fresh network namespaces" veth_pair

check "ping across the veth pair" ip netns exec "$A" ping -c 1 -W 5 192.0.2.2

udp_datagram() {
	local out=/tmp/smoke-udp.$$ pid rc=0
	ip netns exec "$B" socat -u UDP4-RECV:7777,bind=192.0.2.2 "OPEN:$out,creat,trunc" &
	pid=$!
	busywait 5000 sh -c "ip netns exec $B ss -Hlun | grep -q 192.0.2.2:7777" >/dev/null &&
		echo sipovl-smoke | ip netns exec "$A" socat -u - UDP4-SENDTO:192.0.2.2:7777 &&
		busywait 5000 grep -qx sipovl-smoke "$out" || rc=1
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$out"
	return $rc
}
check "UDP datagram across the veth pair" udp_datagram

check "modprobe Debian's nf_tproxy and nf_reject modules" \
	modprobe -a nf_tproxy_ipv4 nf_tproxy_ipv6 nf_reject_ipv4 nf_reject_ipv6
check "nft tproxy rule in a namespace" ip netns exec "$A" nft -f - <<'NFT'
table inet smoke {
	chain pre {
		type filter hook prerouting priority mangle; policy accept;
		udp dport 5060 tproxy ip to 127.0.0.1:5060 meta mark set 1 accept
	}
}
NFT

vermagic_matches() {
	local vm
	vm=$(modinfo -F vermagic "$SIPOVL_KO") || return 1
	[ "${vm%% *}" = "$(uname -r)" ] || { echo "vermagic '$vm', kernel $(uname -r)"; return 1; }
}
check "sipovl.ko built for $(uname -r)" vermagic_matches
load() { load_module && [ -d /sys/module/sipovl ]; }
check "insmod sipovl.ko" load
check "rmmod sipovl" unload_module
done_testing
