#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sipovl.ko with conntrack and NAT on the gateway (issue 11, item 4): both
# hooks see a packet's addresses after destination NAT (PREROUTING and
# LOCAL_OUT alike), so an admin's DNAT rule decides what is intercepted and a
# steered packet is never rewritten (and dropped) after steering; the daemon
# sees the client's real source whatever source NAT the WAN has.
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
# Load nft's NAT and conntrack support explicitly (module autoloading in the
# guest depends on where the checkout lives).
modprobe -a nf_tables nft_ct nft_nat nft_masq nf_conntrack nf_nat 2>&1 | sed 's/^/# /'
topo_gateway

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

check "intercept add" ctl intercept add sip proto udp,tcp addr 10.2.0.0/16,fd02::/32 port 5060

# A gateway that masquerades its WAN (g1) and forwards .77 / ::77 to the
# server (port forward), for forwarded (prerouting) and local (output) traffic.
check "nat rules" in_gw nft -f - <<'NFT'
table inet sipovl_nat {
	chain pre {
		type nat hook prerouting priority dstnat;
		ip daddr 10.2.0.77 meta l4proto { tcp, udp } th dport 5060 dnat ip to 10.2.0.2
		ip6 daddr fd02::77 meta l4proto { tcp, udp } th dport 5060 dnat ip6 to fd02::2
	}
	chain out {
		type nat hook output priority -100;
		ip daddr 10.2.0.78 meta l4proto { tcp, udp } th dport 5060 dnat ip to 10.2.0.2
		ip6 daddr fd02::78 meta l4proto { tcp, udp } th dport 5060 dnat ip6 to fd02::2
	}
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "g1" masquerade
	}
}
NFT

# Masquerade on the WAN: the daemon sees the client's real source.
expect "udp4 steered with masquerade on the WAN: real source" '^UDP 10\.1\.0\.2:[0-9]+ 10\.2\.0\.9:5060 m4$' \
	in_cli "$PEER" send --udp --dst 10.2.0.9:5060 --msg m4
expect "udp6 steered with masquerade on the WAN: real source" '^UDP \[fd01::2\]:[0-9]+ \[fd02::9\]:5060 m6$' \
	in_cli "$PEER" send --udp --dst '[fd02::9]:5060' --msg m6

# DNAT before steering: the packet is steered as addressed after DNAT, not
# dropped; the client's replies come back from the address it used.
expect "udp4 DNATed then steered (prerouting): post-DNAT destination" '^UDP 10\.1\.0\.2:[0-9]+ 10\.2\.0\.2:5060 d4$' \
	in_cli "$PEER" send --udp --dst 10.2.0.77:5060 --msg d4
expect "tcp4 DNATed then steered (prerouting): connection completes" '^TCP 10\.1\.0\.2:[0-9]+ 10\.2\.0\.2:5060 t4$' \
	in_cli "$PEER" send --tcp --dst 10.2.0.77:5060 --msg t4
expect "udp6 DNATed then steered (prerouting): post-DNAT destination" '^UDP \[fd01::2\]:[0-9]+ \[fd02::2\]:5060 d6$' \
	in_cli "$PEER" send --udp --dst '[fd02::77]:5060' --msg d6
expect "tcp6 DNATed then steered (prerouting): connection completes" '^TCP \[fd01::2\]:[0-9]+ \[fd02::2\]:5060 t6$' \
	in_cli "$PEER" send --tcp --dst '[fd02::77]:5060' --msg t6

# Local traffic: LOCAL_OUT sees the same NAT stage as PREROUTING.
expect "udp4 local, DNATed then steered (output): post-DNAT destination" '^UDP 10\.2\.0\.1:[0-9]+ 10\.2\.0\.2:5060 o4$' \
	in_gw "$PEER" send --udp --src 10.2.0.1:0 --dst 10.2.0.78:5060 --msg o4
expect "udp6 local, DNATed then steered (output): post-DNAT destination" '^UDP \[fd02::1\]:[0-9]+ \[fd02::2\]:5060 o6$' \
	in_gw "$PEER" send --udp --src '[fd02::1]:0' --dst '[fd02::78]:5060' --msg o6

# Source transparency through a masqueraded WAN: the daemon originates from a
# client's address, masquerade rewrites it to the gateway's; the server's
# reply is translated back in PREROUTING and must reach the originating socket.
ip netns exec "$SRV" "$PEER" echo --udp --bind 10.2.0.2:7000 >"$TMP/echo.out" 2>"$TMP/echo.err" &
epid=$!
on_exit kill "$epid"
busywait 5000 grep -q ready "$TMP/echo.out" >/dev/null || bail_out "echo server did not start"
check "sources set" ctl sources set 10.1.0.0/16
expect "transparent origin through masquerade: the reply reaches the originating socket" '^ECHO 10\.2\.0\.1:[0-9]+ tm4$' \
	in_gw "$PEER" originate --udp --src 10.1.0.99:7300 --dst 10.2.0.2:7000 --msg tm4

done_testing
