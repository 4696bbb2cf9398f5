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
require_cmd ip jq python3

BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
PEER=$BIN/selftests/peer
CTL=$BIN/sipovlctl
[ -x "$PEER" ] && [ -x "$CTL" ] || bail_out "build first: $PEER, $CTL"

load_module
modprobe -q veth || bail_out "no veth module"
topo_gateway
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
# seen MSG: has the registered socket received MSG?
seen() { grep -q " $1\$" "$TMP/l4.err" "$TMP/l6.err"; }
# barrier DST: a datagram of the client's own address to DST's family, which
# is steered; once the registered socket has it, the packets sent before it
# on the same path have been steered or dropped.
NBAR=0
barrier() {
	local src=10.1.0.2:0
	case $1 in \[*) src='[fd01::2]:0' ;; esac
	NBAR=$((NBAR + 1))
	send "$src" "$1" "barrier$NBAR"
	busywait 10000 seen "barrier$NBAR"
}
# refused DESC SRC DST MSG [SENDER]: SENDER (default: send) sends MSG.
refused() {
	${5:-send} "$2" "$3" "$4"
	if ! barrier "$3"; then
		not_ok "$1" "the barrier datagram after it was not steered"
	elif seen "$4"; then
		not_ok "$1" "the registered socket received it"
	else
		ok "$1"
	fi
}
# drops REASON: sipovl's drop counter for REASON (null: a module without it).
drops() { ctl -j stats | jq -r ".global.drops.$1"; }
# refused_as REASON DESC SRC DST MSG [SENDER]: refused, and counted once as
# drops.REASON (one more point).
refused_as() {
	local r=$1 d0 d1
	shift
	d0=$(drops "$r")
	refused "$@"
	d1=$(drops "$r")
	if [ "$d0" != null ] && [ "$d1" != null ] && [ $((d1 - d0)) = 1 ]; then
		ok "$1: counted as drops.$r ($d0 -> $d1)"
	else
		not_ok "$1: counted as drops.$r" "drops.$r $d0 -> $d1"
	fi
}
# wait_drop REASON D0 DESC: drops.REASON goes past D0 within 10 s.
drop_past() { local d; d=$(drops "$1"); [ "$d" != null ] && [ "$d" -gt "$2" ]; }
wait_drop() {
	if busywait 10000 drop_past "$1" "$2" >/dev/null; then
		ok "$3: counted as drops.$1 ($2 -> $(drops "$1"))"
	else
		not_ok "$3: counted as drops.$1" "drops.$1 $2 -> $(drops "$1")"
	fi
}
# steered DESC SRC DST MSG [SENDER]
steered() {
	${5:-send} "$2" "$3" "$4"
	if busywait 10000 seen "$4"; then ok "$1"; else not_ok "$1" "the registered socket did not receive it"; fi
}
# rawsend6 SRC DST MSG: a UDP datagram with any IPv6 source (SRC and DST are
# [addr]:port), through the client's raw socket (IPPROTO_RAW, header included).
rawsend6() {
	in_cli python3 - "$1" "$2" "$3" <<'PY' >/dev/null 2>&1 || true
import socket, struct, sys
def ap(s):
    a, p = s.rsplit(":", 1)
    return socket.inet_pton(socket.AF_INET6, a.strip("[]")), int(p)
(src, sport), (dst, dport) = ap(sys.argv[1]), ap(sys.argv[2])
data = sys.argv[3].encode()
ulen = 8 + len(data)
ph = src + dst + struct.pack("!IxxxB", ulen, 17)
u = struct.pack("!HHHH", sport or 40000, dport, ulen, 0) + data
d = ph + u + (b"\0" if len(u) % 2 else b"")
t = sum(struct.unpack("!%dH" % (len(d) // 2), d))
while t >> 16:
    t = (t & 0xffff) + (t >> 16)
c = (~t & 0xffff) or 0xffff
u = u[:6] + struct.pack("!H", c) + u[8:]
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(struct.pack("!IHBB", 6 << 28, ulen, 17, 64) + src + dst + u,
         (socket.inet_ntop(socket.AF_INET6, dst), 0))
PY
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
refused_as local_src "IPv4: a remote source claiming the gateway's address on another device starts no flow" \
	10.2.0.1:0 10.2.0.77:5060 own4a
refused_as local_src "IPv4: a remote source claiming the gateway's address on the ingress device starts no flow" \
	10.1.0.9:0 10.2.0.77:5060 own4b
refused_as local_src "IPv6: a remote source claiming the gateway's address on another device starts no flow" \
	'[fd02::1]:0' '[fd02::77]:5060' own6a
refused_as local_src "IPv6: a remote source claiming the gateway's address on the ingress device starts no flow" \
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

# A subnet-directed broadcast (10.2.0.0/24 is g1's subnet) is no unicast
# flow, even inside an intercepted prefix: the kernel handles it.
# (the barrier goes to a unicast address: the broadcast one is not steered)
send 10.1.0.2:0 10.2.0.255:5060 bcast4
if ! barrier 10.2.0.77:5060; then
	not_ok "IPv4: a datagram to the subnet broadcast address 10.2.0.255 is not intercepted" \
		"the barrier datagram after it was not steered"
elif seen bcast4; then
	not_ok "IPv4: a datagram to the subnet broadcast address 10.2.0.255 is not intercepted" \
		"the registered socket received it"
else
	ok "IPv4: a datagram to the subnet broadcast address 10.2.0.255 is not intercepted"
fi

# TIME_WAIT: the daemon closed an intercepted connection first, so the
# gateway holds its TIME_WAIT. A SYN of the same flow that the reverse-path
# check refuses must not end it (only a SYN that starts a flow may).
tw_left() { in_gw ss -Htan state time-wait '( sport = :5060 and dport = :41000 )' | grep -q .; }
# (peer send shuts its side down first: this client waits for the daemon's
# close, so the TIME_WAIT is the gateway's)
out=$(in_cli python3 - <<'PY' 2>&1
import socket
c = socket.create_connection(("10.2.0.77", 5060), 3, ("10.1.0.2", 41000))
c.sendall(b"tw1\n")
d = b""
while True:
    r = c.recv(1024)
    if not r:
        break
    d += r
c.close()
print(d.decode().strip())
PY
) || true
if grep -q ' tw1$' <<<"$out" && busywait 5000 tw_left; then
	ok "TIME_WAIT control: an intercepted connection the daemon closed first is in TIME_WAIT"
else
	not_ok "TIME_WAIT control: an intercepted connection the daemon closed first is in TIME_WAIT" "$out"
fi
ip -n "$GW" route add 10.1.0.2/32 via 10.2.0.2
in_gw sysctl -qw net.ipv4.conf.all.rp_filter=1
d0=$(drops rp_filter)
# (connect() would wait for SYN retransmissions: timeout ends it)
timeout 2 ip netns exec "$CLI" "$PEER" send --tcp --timeout 1 --src 10.1.0.2:41000 --dst 10.2.0.77:5060 --msg tw2 >/dev/null 2>&1 || true
wait_drop rp_filter "${d0/null/0}" "IPv4 rp_filter=1: the SYN of a flow in TIME_WAIT routed back via another device"
if tw_left; then
	ok "a SYN the reverse-path check refuses leaves the flow's TIME_WAIT alone"
else
	not_ok "a SYN the reverse-path check refuses leaves the flow's TIME_WAIT alone" "the TIME_WAIT socket is gone"
fi
in_gw sysctl -qw net.ipv4.conf.all.rp_filter=0
ip -n "$GW" route del 10.1.0.2/32 via 10.2.0.2

# IPv6 martian sources. The kernel's IPv6 input refuses multicast and
# loopback sources before PREROUTING, but not the unspecified address nor
# IPv4-mapped ones (::ffff:0:0/96: a reply of the daemon's AF_INET6 socket
# to one leaves as IPv4). With a default route, as a gateway has, they pass
# the loose reverse path; neither may start a flow.
ip -n "$GW" -6 route add default via fd02::2
steered "IPv6 raw control: a raw datagram from the client's own source is steered" \
	'[fd01::2]:40000' '[fd02::77]:5060' raw6 rawsend6
refused_as martian "IPv6: the unspecified source :: starts no flow" \
	'[::]:40000' '[fd02::77]:5060' any6 rawsend6
refused_as martian "IPv6: an IPv4-mapped source starts no flow" \
	'[::ffff:10.1.0.2]:40000' '[fd02::77]:5060' mapped6 rawsend6
ip -n "$GW" -6 route del default via fd02::2

# IPv6 reverse path. fd07::/64 is routed back via g1, not g0 where it arrives.
ip -n "$GW" -6 route add fd07::/64 via fd02::2
in_gw sysctl -qw net.ipv4.conf.all.rp_filter=1
refused_as rp_filter "IPv6 rp_filter=1 (strict): a source routed via another device starts no flow" \
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
refused_as rp_filter "IPv6 rp_filter=0 (loose): a source with an unreachable route back starts no flow" \
	'[fd07::2]:0' '[fd02::77]:5060' rpf6u
ip -n "$GW" -6 route del unreachable fd07::/64
refused_as rp_filter "IPv6 rp_filter=0 (loose): a source with no route back starts no flow" \
	'[fd07::2]:0' '[fd02::77]:5060' rpf6n

# IPv4 reverse path. 10.7.0.0/24 is routed back via g1, not g0.
ip -n "$CLI" addr add 10.7.0.2/32 dev c0
ip -n "$GW" route add 10.7.0.0/24 via 10.2.0.2
in_gw sysctl -qw net.ipv4.conf.all.rp_filter=1
refused_as rp_filter "IPv4 rp_filter=1 (strict): a source routed via another device starts no flow" \
	10.7.0.2:0 10.2.0.77:5060 rpf4s
in_gw sysctl -qw net.ipv4.conf.all.rp_filter=0

# Drop reasons of the intercept's policy. A TCP ACK that no socket owns and
# that is no SYN-cookie ACK: not_new.
d0=$(drops not_new)
in_cli python3 - <<'PY' >/dev/null 2>&1 || true
import socket, struct
src, dst = socket.inet_aton("10.1.0.2"), socket.inet_aton("10.2.0.77")
th = struct.pack("!HHIIBBHHH", 40001, 5060, 1, 1, 5 << 4, 0x10, 1024, 0, 0)
d = src + dst + struct.pack("!BBH", 0, 6, len(th)) + th
t = sum(struct.unpack("!%dH" % (len(d) // 2), d))
while t >> 16:
    t = (t & 0xffff) + (t >> 16)
th = th[:16] + struct.pack("!H", ~t & 0xffff) + th[18:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
s.sendto(th, ("10.2.0.77", 0))
PY
wait_drop not_new "${d0/null/0}" "IPv4: a TCP ACK no socket owns is dropped by the policy"
# No registered socket: a new flow meets the (drop) policy: no_socket.
check "socket unregister" ctl socket unregister
d0=$(drops no_socket)
send 10.1.0.2:0 10.2.0.77:5060 nosock
wait_drop no_socket "${d0/null/0}" "IPv4: a new flow without a daemon socket is dropped by the policy"

done_testing
