#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sipovl.ko's "is this source one of this host's addresses" checks honour the
# address's scope and the device's VRF, as the kernel's own address checks do:
# a link-local address is local only on its own link (another host on another
# link may use the same one), and an address of a VRF is local only to the
# devices of that VRF. Both the anti-spoofing check of PREROUTING (ingress
# device) and the source policing of LOCAL_OUT (egress device) are covered.
#
#   cli 10.1.0.2 fd01::2 --- gw 10.1.0.1 fd01::1 | 10.2.0.1 fd02::1 --- srv 10.2.0.2 fd02::2
#   fe80::7 on c0 (the client) and on g1 (the gateway): two links, two hosts.
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd ip jq python3

BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
PEER=$BIN/selftests/peer
CTL=$BIN/sipovlctl
[ -x "$PEER" ] && [ -x "$CTL" ] || bail_out "build first: $PEER, $CTL"

load_module
modprobe -q veth || bail_out "no veth module"
topo_gateway

in_cli() { ip netns exec "$CLI" "$@"; }
in_gw() { ip netns exec "$GW" "$@"; }
in_srv() { ip netns exec "$SRV" "$@"; }
ctl() { in_gw "$CTL" "$@"; }
stat_of() { ctl -j stats | jq -r ".global.$1 // .$1"; }

TMP=$(mktemp -d)
on_exit rm -rf "$TMP"
in_gw "$PEER" listen -6 --port 9999 >"$TMP/l6.out" 2>"$TMP/l6.err" &
on_exit kill "$!"
busywait 5000 grep -q ready "$TMP/l6.out" >/dev/null || bail_out "listener did not start: $(cat "$TMP/l6.err")"
check "intercept add" ctl intercept add sip proto udp addr fd02::/32 port 5060

ip -n "$CLI" addr add fe80::7/64 dev c0 nodad
ip -n "$GW" addr add fe80::7/64 dev g1 nodad
ip -n "$GW" addr add fe80::9/64 dev g0 nodad
ip -n "$CLI" addr add fe80::9/64 dev c0 nodad

# steered_from DESC SRC MSG: the client sends MSG from SRC to an intercepted
# address; the registered socket must get it (no reply is awaited).
# refused_from DESC SRC MSG: it must not, and the errors counter must count it.
send_from() { in_cli "$PEER" send --udp --timeout 1 --src "$1" --dst '[fd02::77]:5060' --msg "$2" >/dev/null 2>&1 || true; }
steered_from() {
	send_from "$2" "$3"
	if busywait 3000 grep -q " $3\$" "$TMP/l6.err"; then ok "$1"; else
		not_ok "$1" "the registered socket did not receive it; errors $(stat_of errors)"
	fi
}
errors_above() { [ "$(stat_of errors)" -gt "$1" ]; }
refused_from() {
	local e0
	e0=$(stat_of errors)
	send_from "$2" "$3"
	if ! busywait 3000 errors_above "$e0"; then
		not_ok "$1" "not counted as an error (errors $e0 -> $(stat_of errors))"
	elif grep -q " $3\$" "$TMP/l6.err"; then
		not_ok "$1" "the registered socket received it"
	else
		ok "$1: errors $e0 -> $(stat_of errors)"
	fi
}

steered_from "PREROUTING: a link-local source the gateway has on another link is the client's own" \
	'[fe80::7%c0]:0' ll7
refused_from "PREROUTING: a link-local source the gateway has on the ingress link is spoofed" \
	'[fe80::9%c0]:0' ll9

# LOCAL_OUT: a transparent socket may send from a link-local address only on
# that address's link. The server side counts what arrives.
in_srv "$PEER" echo --udp --bind '[fd02::2]:7000' >"$TMP/echo.out" 2>"$TMP/echo.err" &
on_exit kill "$!"
in_cli "$PEER" echo --udp --bind '[fd01::2]:7000' >"$TMP/cecho.out" 2>"$TMP/cecho.err" &
on_exit kill "$!"
busywait 5000 grep -q ready "$TMP/echo.out" >/dev/null || bail_out "server echo did not start"
busywait 5000 grep -q ready "$TMP/cecho.out" >/dev/null || bail_out "client echo did not start"
d0=$(stat_of src_denied)
out=$(in_gw "$PEER" originate --udp --timeout 2 --src '[fe80::7%g1]:7100' --dst '[fd02::2]:7000' --msg on-link 2>&1) || true
d1=$(stat_of src_denied)
if grep -q '^ECHO \[fe80::7\]:7100 on-link$' <<<"$out" && [ "$d1" = "$d0" ]; then
	ok "LOCAL_OUT: a transparent socket sends from its link-local address on that link"
else
	not_ok "LOCAL_OUT: a transparent socket sends from its link-local address on that link" \
		"reply: $out" "src_denied $d0 -> $d1"
fi
in_gw "$PEER" originate --udp --timeout 1 --src '[fe80::7%g0]:7200' --dst '[fd01::2]:7000' --msg off-link >/dev/null 2>&1 || true
d2=$(stat_of src_denied)
if grep -q ' off-link$' "$TMP/cecho.err"; then
	not_ok "LOCAL_OUT: a transparent socket may not send from a link-local address of another link" \
		"the client (which owns fe80::7 on that link) received it; src_denied $d1 -> $d2"
elif [ "$d2" -gt "$d1" ]; then
	ok "LOCAL_OUT: a transparent socket may not send from a link-local address of another link: src_denied $d1 -> $d2"
else
	not_ok "LOCAL_OUT: a transparent socket may not send from a link-local address of another link" \
		"not received, but src_denied $d1 -> $d2"
fi

# VRF: g0 is moved into VRF "blue". The gateway's addresses on g0 are local to
# blue only; the transparent socket (bound to blue) sends from them.
if ! modprobe -q vrf 2>/dev/null || ! ip -n "$GW" link add blue type vrf table 10 2>/dev/null; then
	skip "VRF: a transparent socket sends from its VRF's address, IPv4" "no vrf device"
	skip "VRF: a transparent socket sends from its VRF's address, IPv6" "no vrf device"
	done_testing
fi
ip -n "$GW" link set blue up
ip -n "$GW" link set g0 master blue
ip -n "$GW" addr add fd01::1/64 dev g0 nodad 2>/dev/null # enslaving flushes IPv6 addresses
ip -n "$GW" addr add 10.1.0.1/24 dev g0 2>/dev/null
slowwait 10 ip -n "$GW" -6 route get vrf blue fd01::2 >/dev/null
in_cli "$PEER" echo --udp --bind 10.1.0.2:7000 >"$TMP/cecho4.out" 2>"$TMP/cecho4.err" &
on_exit kill "$!"
busywait 5000 grep -q ready "$TMP/cecho4.out" >/dev/null || bail_out "client echo did not start"

# vrfsend SRC DST PORT MSG: a transparent UDP socket bound to blue.
vrfsend() {
	in_gw python3 - "$@" <<'EOF'
import socket, sys
src, dst, port, msg = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
fam = socket.AF_INET6 if ":" in src else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, 75, 1)     # IPV6_TRANSPARENT
else:
    s.setsockopt(socket.IPPROTO_IP, 19, 1)       # IP_TRANSPARENT
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"blue")
s.bind((src, port))
s.settimeout(2)
s.sendto(msg.encode(), (dst, 7000))
print(s.recv(1024).decode().strip())
EOF
}
for v in "4 10.1.0.1 10.1.0.2 ECHO 10.1.0.1:7300" "6 fd01::1 fd01::2 ECHO [fd01::1]:7300"; do
	set -- $v
	d0=$(stat_of src_denied)
	out=$(vrfsend "$2" "$3" 7300 "vrf$1" 2>&1) || true
	d1=$(stat_of src_denied)
	if [ "$out" = "$4 $5 vrf$1" ] && [ "$d1" = "$d0" ]; then
		ok "VRF: a transparent socket sends from its VRF's address, IPv$1"
	else
		not_ok "VRF: a transparent socket sends from its VRF's address, IPv$1" \
			"reply: $out" "src_denied $d0 -> $d1"
	fi
done

done_testing
