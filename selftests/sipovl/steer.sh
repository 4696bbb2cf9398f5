#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sipovl.ko data plane: steering of forwarded and local TCP/UDP flows (IPv4 and
# IPv6) to the daemon's transparent sockets with the original destination
# preserved, untouched non-matching traffic, fail-closed and fail-open policies,
# source transparency (including a reply to an address that is also
# intercepted, ziti-tunnel-sdk-c#443), source policing and netns isolation.
#
#   cli 10.1.0.2 fd01::2 --- gw 10.1.0.1 fd01::1 | 10.2.0.1 fd02::1 --- srv 10.2.0.2 fd02::2
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd ip nft jq

BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
PEER=$BIN/selftests/peer
CTL=$BIN/sipovlctl
[ -x "$PEER" ] && [ -x "$CTL" ] || bail_out "build first: $PEER, $CTL"

load_module
modprobe -q veth || bail_out "no veth module"
topo_gateway
setup_ns GW2

ctl() { ip netns exec "$GW" "$CTL" "$@"; }
in_cli() { ip netns exec "$CLI" "$@"; }
in_gw() { ip netns exec "$GW" "$@"; }
in_srv() { ip netns exec "$SRV" "$@"; }

# bg NS LOGFILE CMD...: start a server, wait for its "ready" line.
bg() {
	local ns=$1 log=$2
	shift 2
	ip netns exec "$ns" "$@" >"$log.out" 2>"$log.err" &
	local pid=$!
	on_exit kill "$pid"
	busywait 5000 grep -q ready "$log.out" >/dev/null || bail_out "server did not start: $* ($(cat "$log.err"))"
	echo "$pid"
}

TMP=$(mktemp -d)
on_exit rm -rf "$TMP"

# expect DESC PATTERN CMD...: CMD must succeed and print a line matching PATTERN.
expect() {
	local desc=$1 pat=$2 out rc=0
	shift 2
	out=$("$@" 2>&1) || rc=$?
	if [ $rc = 0 ] && grep -Eq -- "$pat" <<<"$out"; then
		ok "$desc"
	else
		not_ok "$desc" "expected /$pat/ from: $*" "got (exit $rc): $out"
	fi
}

stat_of() { # stat_of FIELD: global counter from `sipovlctl -j stats`
	ctl -j stats | jq -r ".global.$1 // .$1"
}

# Servers on the real target, used by the "untouched" and transparency tests.
bg "$SRV" "$TMP/echo-u4" "$PEER" echo --udp --bind 10.2.0.2:7000 >/dev/null
bg "$SRV" "$TMP/echo-t4" "$PEER" echo --tcp --bind 10.2.0.2:7001 >/dev/null
bg "$SRV" "$TMP/echo-u6" "$PEER" echo --udp --bind '[fd02::2]:7000' >/dev/null
bg "$SRV" "$TMP/echo-t6" "$PEER" echo --tcp --bind '[fd02::2]:7001' >/dev/null
bg "$SRV" "$TMP/echo-sip" "$PEER" echo --udp --bind 10.2.0.2:5060 >/dev/null

check "intercept add" ctl intercept add sip proto udp,tcp addr 10.2.0.0/16,fd02::/32 port 5060-5061
L4=$(bg "$GW" "$TMP/l4" "$PEER" listen -4 --port 9999)
L6=$(bg "$GW" "$TMP/l6" "$PEER" listen -6 --port 9999)

# Forwarded traffic, original destination preserved.
expect "udp4 forwarded: steered, orig dst kept" '^UDP 10\.1\.0\.2:[0-9]+ 10\.2\.0\.77:5060 hi4$' \
	in_cli "$PEER" send --udp --dst 10.2.0.77:5060 --msg hi4
expect "tcp4 forwarded: steered, orig dst kept" '^TCP 10\.1\.0\.2:[0-9]+ 10\.2\.0\.77:5061 hi4$' \
	in_cli "$PEER" send --tcp --dst 10.2.0.77:5061 --msg hi4
expect "udp6 forwarded: steered, orig dst kept" '^UDP \[fd01::2\]:[0-9]+ \[fd02::77\]:5060 hi6$' \
	in_cli "$PEER" send --udp --dst '[fd02::77]:5060' --msg hi6
expect "tcp6 forwarded: steered, orig dst kept" '^TCP \[fd01::2\]:[0-9]+ \[fd02::77\]:5061 hi6$' \
	in_cli "$PEER" send --tcp --dst '[fd02::77]:5061' --msg hi6
expect "intercepted address that exists is steered too" '^UDP 10\.1\.0\.2:[0-9]+ 10\.2\.0\.2:5060 real$' \
	in_cli "$PEER" send --udp --dst 10.2.0.2:5060 --msg real

# Reverse-path filtering: steering skips the input route lookup, so the module
# applies the ingress device's rp_filter to a packet that would start a flow.
# 10.7.0.2 (on the client) is routed back via g1, not g0 where it comes from.
ip -n "$CLI" addr add 10.7.0.2/32 dev c0
ip -n "$GW" route add 10.7.0.0/24 via 10.2.0.2
rpf_mib() { in_gw nstat -asz TcpExtIPReversePathFilter | awk '$1 == "TcpExtIPReversePathFilter" { print $2 }'; }
sip_flows() { ctl -j -s intercept show sip | jq -r '.[0].stats.flows'; }
in_gw sysctl -qw net.ipv4.conf.all.rp_filter=1
m0=$(rpf_mib) f0=$(sip_flows)
in_cli "$PEER" send --udp --timeout 1 --src 10.7.0.2:0 --dst 10.2.0.77:5060 --msg rpf >/dev/null 2>&1 || true
m1=$(rpf_mib) f1=$(sip_flows)
if [ "$m1" -gt "$m0" ] && [ "$f1" = "$f0" ]; then
	ok "rp_filter=1: a source routed via another device starts no flow (IPReversePathFilter $m0 -> $m1)"
else
	not_ok "rp_filter=1: a source routed via another device starts no flow" "IPReversePathFilter $m0 -> $m1, flows $f0 -> $f1"
fi
expect "rp_filter=1: a source routed back via its device is steered" '^UDP 10\.1\.0\.2:[0-9]+ 10\.2\.0\.77:5060 strict$' \
	in_cli "$PEER" send --udp --dst 10.2.0.77:5060 --msg strict
in_gw sysctl -qw net.ipv4.conf.all.rp_filter=2
m0=$(rpf_mib) f0=$(sip_flows)
in_cli "$PEER" send --udp --timeout 1 --src 10.7.0.2:0 --dst 10.2.0.77:5060 --msg loose >/dev/null 2>&1 || true
m1=$(rpf_mib) f1=$(sip_flows)
if [ "$m1" = "$m0" ] && [ "$f1" -gt "$f0" ]; then
	ok "rp_filter=2: a source routed via another device is steered (flows $f0 -> $f1)"
else
	not_ok "rp_filter=2: a source routed via another device is steered" "IPReversePathFilter $m0 -> $m1, flows $f0 -> $f1"
fi
m0=$(rpf_mib)
ip -n "$GW" route del 10.7.0.0/24 via 10.2.0.2
in_cli "$PEER" send --udp --timeout 1 --src 10.7.0.2:0 --dst 10.2.0.77:5060 --msg noroute >/dev/null 2>&1 || true
m1=$(rpf_mib)
if [ "$m1" -gt "$m0" ]; then ok "rp_filter=2: an unroutable source is dropped ($m0 -> $m1)"; else not_ok "rp_filter=2: an unroutable source is dropped ($m0 -> $m1)"; fi
in_gw sysctl -qw net.ipv4.conf.all.rp_filter=0
ip -n "$CLI" addr del 10.7.0.2/32 dev c0

# Locally originated traffic.
expect "udp4 local: steered" '^UDP 10\.2\.0\.1:[0-9]+ 10\.2\.0\.88:5060 loc$' \
	in_gw "$PEER" send --udp --dst 10.2.0.88:5060 --src 10.2.0.1:0 --msg loc
expect "tcp4 local: steered" '^TCP 10\.2\.0\.1:[0-9]+ 10\.2\.0\.88:5061 loc$' \
	in_gw "$PEER" send --tcp --dst 10.2.0.88:5061 --src 10.2.0.1:0 --msg loc
expect "udp6 local: steered" '^UDP \[fd02::1\]:[0-9]+ \[fd02::88\]:5060 loc6$' \
	in_gw "$PEER" send --udp --dst '[fd02::88]:5060' --src '[fd02::1]:0' --msg loc6
expect "tcp6 local: steered" '^TCP \[fd02::1\]:[0-9]+ \[fd02::88\]:5061 loc6$' \
	in_gw "$PEER" send --tcp --dst '[fd02::88]:5061' --src '[fd02::1]:0' --msg loc6

# Non-matching traffic is untouched.
expect "udp4 not matched: reaches the real server" '^ECHO 10\.1\.0\.2:[0-9]+ plain$' \
	in_cli "$PEER" send --udp --dst 10.2.0.2:7000 --msg plain
expect "tcp4 not matched: reaches the real server" '^ECHO 10\.1\.0\.2:[0-9]+ plain$' \
	in_cli "$PEER" send --tcp --dst 10.2.0.2:7001 --msg plain
expect "udp6 not matched: reaches the real server" '^ECHO \[fd01::2\]:[0-9]+ plain6$' \
	in_cli "$PEER" send --udp --dst '[fd02::2]:7000' --msg plain6
expect "tcp6 not matched: reaches the real server" '^ECHO \[fd01::2\]:[0-9]+ plain6$' \
	in_cli "$PEER" send --tcp --dst '[fd02::2]:7001' --msg plain6

# Replies to connections the other side opened are not new flows: the client
# range itself is intercepted (all ports), the client talks to a server
# outside it; with conntrack the server's SYN-ACK and UDP replies pass.
check "intercept on the clients' own range" ctl intercept add clients proto tcp,udp addr 10.1.0.0/16 port 1-65535
# Load nft's conntrack expression explicitly: module autoloading in the guest
# depends on where the checkout lives.
modprobe -a nf_tables nft_ct nf_conntrack 2>&1 | sed 's/^/# /'
if in_gw nft -f - <<'NFT'
table ip sipovl_ct_test {
	chain pre { type filter hook prerouting priority -300; ct state new counter; }
}
NFT
then
	expect "tcp reply (SYN-ACK) of a tracked connection: not steered" '^ECHO 10\.1\.0\.2:[0-9]+ back$' \
		in_cli "$PEER" send --tcp --dst 10.2.0.2:7001 --msg back
	expect "udp reply of a tracked connection: not steered" '^ECHO 10\.1\.0\.2:[0-9]+ back$' \
		in_cli "$PEER" send --udp --dst 10.2.0.2:7000 --msg back
	in_gw nft delete table ip sipovl_ct_test
else
	not_ok "conntrack for the reply tests" "nft could not enable conntrack"
fi
# Without conntrack a SYN-ACK nobody owns is no new flow either: it gets the
# intercept's policy (drop), it is not forwarded.
dr0=$(stat_of dropped)
check_fail "untracked SYN-ACK to an intercepted range: dropped, not forwarded" \
	in_cli "$PEER" send --tcp --timeout 2 --dst 10.2.0.2:7001 --msg back
dr1=$(stat_of dropped)
if [ "$dr1" -gt "$dr0" ]; then ok "dropped by policy ($dr0 -> $dr1)"; else not_ok "dropped by policy ($dr0 -> $dr1)"; fi
check "delete the clients intercept" ctl intercept del clients

# Never intercepted: multicast and broadcast destinations, even under 0/0.
check "intercept everything" ctl intercept add everything proto udp addr 0.0.0.0/0 port 1-65535
in_gw "$PEER" send --udp --timeout 1 --src 10.2.0.1:0 --dst 224.0.0.251:5353 --msg mdns >/dev/null 2>&1 || true
in_cli "$PEER" send --udp --timeout 1 --dst 224.0.0.251:5353 --msg mdns >/dev/null 2>&1 || true
n=$(ctl -j -s intercept show everything | jq -r '.[0].stats.packets + .[0].stats.drops + .[0].stats.passes')
if [ "$n" = 0 ]; then ok "multicast (local and forwarded) not intercepted by 0.0.0.0/0"; else not_ok "multicast (local and forwarded) not intercepted by 0.0.0.0/0 ($n packets)"; fi
check "delete the everything intercept" ctl intercept del everything

# Counters: the intercept saw packets and flows.
pk=$(ctl -j -s intercept show sip | jq -r '.[0].stats.packets')
fl=$(ctl -j -s intercept show sip | jq -r '.[0].stats.flows')
if [ "${pk:-0}" -ge 10 ] && [ "${fl:-0}" -ge 9 ]; then
	ok "per-intercept counters count packets ($pk) and flows ($fl)"
else
	not_ok "per-intercept counters count packets ($pk) and flows ($fl)"
fi

# Source transparency: originate with a foreign source; the reply comes back,
# also when that address is itself intercepted (#443).
check "sources set" ctl sources set 10.1.0.0/16,fd01::/32
check "rtp intercept over the spoofed range" \
	ctl intercept add rtp proto udp,tcp addr 10.1.0.0/16,fd01::/32 port 7000-8000
expect "udp4 transparent round trip, source kept" '^ECHO 10\.1\.0\.99:7300 rtp$' \
	in_gw "$PEER" originate --udp --src 10.1.0.99:7300 --dst 10.2.0.2:7000 --msg rtp
expect "tcp4 transparent round trip, source kept" '^ECHO 10\.1\.0\.99:7301 rtp$' \
	in_gw "$PEER" originate --tcp --src 10.1.0.99:7301 --dst 10.2.0.2:7001 --msg rtp
expect "udp6 transparent round trip, source kept" '^ECHO \[fd01::99\]:7300 rtp6$' \
	in_gw "$PEER" originate --udp --src '[fd01::99]:7300' --dst '[fd02::2]:7000' --msg rtp6
expect "tcp6 transparent round trip, source kept" '^ECHO \[fd01::99\]:7301 rtp6$' \
	in_gw "$PEER" originate --tcp --src '[fd01::99]:7301' --dst '[fd02::2]:7001' --msg rtp6
check "delete rtp intercept" ctl intercept del rtp
r0=$(stat_of replies)
expect "transparent round trip without an intercept on the source" '^ECHO 10\.1\.0\.98:7302 rtp$' \
	in_gw "$PEER" originate --udp --src 10.1.0.98:7302 --dst 10.2.0.2:7000 --msg rtp
r1=$(stat_of replies)
if [ "$r1" -gt "$r0" ]; then ok "replies counter counts it ($r0 -> $r1)"; else not_ok "replies counter counts it ($r0 -> $r1)"; fi

# Source policing: a foreign source outside the ranges is dropped.
d0=$(stat_of src_denied)
check_fail "foreign source outside the ranges is dropped" \
	in_gw "$PEER" originate --udp --timeout 1 --src 10.9.9.9:7000 --dst 10.2.0.2:7000 --msg bad
d1=$(stat_of src_denied)
if [ "$d1" -gt "$d0" ]; then ok "src_denied counts it ($d0 -> $d1)"; else not_ok "src_denied counts it ($d0 -> $d1)"; fi
if grep -q 'ECHO 10.9.9.9' "$TMP/echo-u4.err"; then not_ok "server never saw the denied source"; else ok "server never saw the denied source"; fi

# Namespaces do not see each other's tables.
n=$(ip netns exec "$GW2" "$CTL" -j intercept show | jq length)
if [ "$n" = 0 ]; then ok "another namespace has an empty table"; else not_ok "another namespace has an empty table (got $n)"; fi
expect "another namespace is not intercepted" '^ECHO 10\.1\.0\.2:[0-9]+ ns$' \
	in_cli "$PEER" send --udp --dst 10.2.0.2:7000 --msg ns

# Fan-out: new flows spread over a group of registered sockets by a flow
# hash (fanout.py: distribution, stickiness, a member joining, leaving and
# closed, re-registration, the empty group, TCP). It replaces the
# registrations above and drops every group when it ends.
fo_rc=0
in_gw python3 "$(dirname "$0")/fanout.py" "$CLI" 10.1.0.2 10.2.0.77 >"$TMP/fanout.out" 2>"$TMP/fanout.err" || fo_rc=$?
while IFS='|' read -r res desc why; do
	case $res in
	ok) ok "fanout: $desc" ;;
	"not ok") not_ok "fanout: $desc" "$why" ;;
	esac
done <"$TMP/fanout.out"
if [ "$fo_rc" = 0 ]; then ok "fanout.py ran to the end"; else not_ok "fanout.py ran to the end" "exit $fo_rc: $(tail -5 "$TMP/fanout.err")"; fi

# Fail-closed, then fail-open, when the daemon's sockets are gone.
kill "$L4" "$L6"
wait "$L4" "$L6" 2>/dev/null
dr0=$(stat_of dropped)
check_fail "daemon gone, policy drop: flow dropped" \
	in_cli "$PEER" send --udp --timeout 1 --dst 10.2.0.2:5060 --msg closed
dr1=$(stat_of dropped)
if [ "$dr1" -gt "$dr0" ]; then ok "dropped counter ($dr0 -> $dr1)"; else not_ok "dropped counter ($dr0 -> $dr1)"; fi
check "replace with policy pass" \
	ctl intercept replace sip proto udp,tcp addr 10.2.0.0/16,fd02::/32 port 5060-5061 policy pass
expect "daemon gone, policy pass: flow reaches the real server" '^ECHO 10\.1\.0\.2:[0-9]+ open$' \
	in_cli "$PEER" send --udp --dst 10.2.0.2:5060 --msg open
ps=$(ctl -j -s intercept show sip | jq -r '.[0].stats.passes')
if [ "${ps:-0}" -ge 1 ]; then ok "passes counted ($ps)"; else not_ok "passes counted ($ps)"; fi

# Flushing leaves nothing behind: no routes, rules or nft/iptables state were made.
check "flush" ctl intercept flush
check "sources flush" ctl sources flush
rules=$(ip netns exec "$GW" ip rule show | wc -l)
if [ "$rules" = 3 ]; then ok "no policy rules were added"; else not_ok "no policy rules were added" "$(ip netns exec "$GW" ip rule show)"; fi
extra=$(ip netns exec "$GW" ip route show table all | grep -cv -e ' dev g[01] ' -e '^local ' -e '^broadcast ' -e '^multicast ' -e 'fe80::' -e '^ff00::' -e 'dev lo' || true)
if [ "$extra" = 0 ]; then ok "no routes were added"; else not_ok "no routes were added" "$(ip netns exec "$GW" ip route show table all)"; fi

done_testing
