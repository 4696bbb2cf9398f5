#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Atomic table replacement under traffic (no packet may see neither table),
# and module unload/reload under traffic, 20 times.
#
#   cli 10.1.0.2 --- gw 10.1.0.1 | 10.2.0.1 --- srv 10.2.0.2
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
ip -n "$GW" addr add 10.1.0.1/24 dev g0
ip -n "$GW" addr add 10.2.0.1/24 dev g1
ip -n "$SRV" addr add 10.2.0.2/24 dev s0
for l in "$CLI c0" "$GW g0" "$GW g1" "$SRV s0"; do
	set -- $l
	ip -n "$1" link set "$2" up
done
ip -n "$CLI" route add default via 10.1.0.1
ip -n "$SRV" route add default via 10.2.0.1
ip netns exec "$GW" sysctl -qw net.ipv4.ip_forward=1

TMP=$(mktemp -d)
on_exit rm -rf "$TMP"
ctl() { ip netns exec "$GW" "$CTL" "$@"; }

bg() {
	local ns=$1 log=$2
	shift 2
	ip netns exec "$ns" "$@" >"$log.out" 2>"$log.err" &
	local pid=$!
	on_exit kill "$pid"
	busywait 5000 grep -q ready "$log.out" >/dev/null || bail_out "server did not start: $*"
	echo "$pid"
}

# The real server on the intercepted port: anything it gets escaped the table.
bg "$SRV" "$TMP/srv" "$PEER" echo --udp --bind 10.2.0.2:5062 >/dev/null
LST=$(bg "$GW" "$TMP/l4" "$PEER" listen -4 --port 9999)

# Two tables that both intercept 10.2.0.2:5062, with different intercepts and
# different sizes, so a partial table would let packets through.
{
	echo "intercept a id 1 proto udp addr 10.2.0.0/24 port 5062"
	for i in $(seq 2 500); do echo "intercept a$i id $i proto udp addr 10.$((i / 250 + 50)).$((i % 250)).0/24 port 5060"; done
} >"$TMP/A"
{
	for i in $(seq 1000 1200); do echo "intercept b$i id $i proto udp addr 10.$((i / 250 + 60)).$((i % 250)).0/24 port 5060"; done
	echo "intercept b id 7 proto udp addr 10.2.0.2/32 port 5000-6000"
} >"$TMP/B"

check "apply table A" ctl apply "$TMP/A"
N=3000
# The blast lasts about eight B+A swap pairs as long as they take here (at least 1.5 s):
# under a loaded TCG host an apply takes a few hundred ms, and a fixed 1.5 s blast saw only
# 6 swaps (make check, 2026-12-04), too few for the point below.
t0=$(date +%s%N)
ctl apply "$TMP/B" && ctl apply "$TMP/A" || bail_out "apply B then A"
pair_us=$((($(date +%s%N) - t0) / 1000))
GAP=$((pair_us * 8 / N))
[ "$GAP" -ge 500 ] || GAP=500
[ "$GAP" -le 20000 ] || GAP=20000
diag "one B+A swap pair took $((pair_us / 1000)) ms: $N datagrams $GAP us apart"
ip netns exec "$CLI" "$PEER" blast --udp --dst 10.2.0.2:5062 --count $N --gap-us "$GAP" &
BLAST=$!
on_exit kill "$BLAST"
swaps=0
while kill -0 "$BLAST" 2>/dev/null; do
	ctl apply "$TMP/B" && ctl apply "$TMP/A" && swaps=$((swaps + 2)) || break
done
wait "$BLAST"
# Let the listener drain its queue: read + dropped (full buffer, last column of
# /proc/net/udp) must reach N.
delivered() {
	got=$(grep -c '^UDP .* 10\.2\.0\.2:5062 blast' "$TMP/l4.err" || true)
	sockdrops=$(ip netns exec "$GW" awk '$2 ~ /:270F$/ && $4 == "07" { d += $NF } END { print d + 0 }' /proc/net/udp)
	[ $((got + sockdrops)) -ge "$N" ]
}
slowwait 30 delivered
delivered || true
esc=$(grep -c 'blast' "$TMP/srv.err" || true)
st=$(ctl -j stats show)
steered=$(jq -r '.global.steered // .steered' <<<"$st")
passed=$(jq -r '.global.passed // .passed' <<<"$st")
dropped=$(jq -r '.global.dropped // .dropped' <<<"$st")
diag "$swaps table swaps during $N datagrams; daemon got $got, real server got $esc"
if [ "$swaps" -ge 10 ]; then ok "table replaced under traffic ($swaps times)"; else not_ok "table replaced under traffic ($swaps times)"; fi
if [ "$esc" = 0 ]; then ok "no datagram escaped both tables"; else not_ok "no datagram escaped both tables ($esc did)"; fi
if [ "$steered" = "$N" ]; then ok "every datagram was steered ($steered)"; else not_ok "every datagram was steered ($steered of $N)"; fi
if [ "$passed" = 0 ] && [ "$dropped" = 0 ]; then ok "none passed or dropped"; else not_ok "none passed or dropped (passed $passed, dropped $dropped)"; fi
if [ $((got + sockdrops)) = "$N" ]; then
	ok "daemon socket got every one ($got read, $sockdrops dropped by a full buffer)"
else
	not_ok "daemon socket got every one ($got read + $sockdrops buffer drops != $N)"
fi

# Unload and reload under traffic. Empty nft base chains on the same hooks
# keep the kernel's netfilter static keys enabled across the reloads: QEMU TCG
# (these VMs) can mis-execute code the kernel is live-patching on another
# vCPU (an int3 oops in ip_rcv was seen on 6.12 while insmod flipped them).
modprobe -q nf_tables || true
nft -f - <<'NFT' || bail_out "cannot create the nft keep-alive chains"
table inet sipovl_keys {
	chain pre { type filter hook prerouting priority 0; }
	chain out { type filter hook output priority 0; }
}
NFT
on_exit nft delete table inet sipovl_keys
kill "$LST"
ip netns exec "$CLI" "$PEER" blast --udp --dst 10.2.0.2:5062 --count 0 --gap-us 200 &
FLOOD=$!
on_exit kill "$FLOOD"
ip netns exec "$CLI" bash -c "while :; do '$PEER' send --tcp --timeout 1 --dst 10.2.0.2:5062 --msg x >/dev/null 2>&1; done" &
TFLOOD=$!
on_exit kill "$TFLOOD"
fails=0
for i in $(seq 1 20); do
	ctl apply "$TMP/A" >/dev/null 2>&1 || fails=$((fails + 1))
	"$PEER" listen -4 --port 9998 >/dev/null 2>&1 &
	L=$!
	sleep 0.2
	kill "$L" 2>/dev/null
	wait "$L" 2>/dev/null
	rmmod sipovl || { fails=$((fails + 1)); break; }
	insmod "$SIPOVL_KO" || { fails=$((fails + 1)); break; }
done
if [ $fails = 0 ]; then ok "20 unload/reload cycles under UDP and TCP traffic"; else not_ok "20 unload/reload cycles under UDP and TCP traffic ($fails failures)"; fi
kill "$FLOOD" "$TFLOOD" 2>/dev/null
wait "$FLOOD" "$TFLOOD" 2>/dev/null

# Still works afterwards.
check "apply after reloads" ctl apply "$TMP/A"
bg "$GW" "$TMP/l4b" "$PEER" listen -4 --port 9999 >/dev/null
out=$(ip netns exec "$CLI" "$PEER" send --udp --dst 10.2.0.2:5062 --msg after 2>&1)
if grep -q '^UDP 10.1.0.2:[0-9]* 10.2.0.2:5062 after$' <<<"$out"; then ok "steering works after the reloads"; else not_ok "steering works after the reloads" "$out"; fi

# Unloading removes everything: nothing of ours is left in the namespaces.
check "flush" ctl intercept flush
done_testing
