#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sipovl.ko source policing of transparent sockets (LOCAL_OUT): the escapes
# around it. What the policing cannot read (protocols other than TCP and
# UDP, fragments that defragmentation leaves alone) must come from a local
# address, and the policing stays on in a namespace whose configuration was
# flushed while a socket once registered there is open, and only then. The foreign source 10.9.9.9 / fd09::9 is in no range and no
# intercept; the server counts what arrives from it.
#
# The claimed source fd01::9 is in the source range set below. Topology:
# topo_gateway (selftests/lib.sh); the client is not used.
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd ip nft jq python3

BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
PEER=$BIN/selftests/peer
CTL=$BIN/sipovlctl
[ -x "$PEER" ] && [ -x "$CTL" ] || bail_out "build first: $PEER, $CTL"

load_module
modprobe -q veth || bail_out "no veth module"
modprobe -a nf_tables 2>/dev/null
topo_gateway

ctl() { ip netns exec "$GW" "$CTL" "$@"; }
in_gw() { ip netns exec "$GW" "$@"; }
stat_of() { ctl -j stats | jq -r ".global.$1 // .$1"; }

ip netns exec "$SRV" nft -f - <<'NFT' || bail_out "nft counters on the server"
table inet police_test {
	counter from4 {}
	counter from6 {}
	counter claim6 {}
	counter any6 {}
	counter mapped6 {}
	chain pre {
		# before defragmentation (-400), which would hold a lone fragment
		type filter hook prerouting priority -500;
		ip saddr 10.9.9.9 counter name from4
		ip6 saddr fd09::9 counter name from6
		ip6 saddr fd01::9 counter name claim6
		ip6 saddr :: counter name any6
		ip6 saddr ::ffff:0:0/96 counter name mapped6
	}
}
NFT
arrived() { # arrived 4|6|COUNTER: packets the server saw from the foreign source
	local c=$1
	case $c in 4 | 6) c=from$c ;; esac
	ip netns exec "$SRV" nft -j list counter inet police_test "$c" |
		jq -r '[.nftables[] | select(.counter) | .counter.packets][0]'
}

# rawsend KIND: one packet from the foreign source through a transparent raw
# socket (IP_HDRINCL / IPPROTO_RAW).
#   proto4, proto6: IP protocol 253 (experimental), not TCP or UDP
#   frag4: the first fragment of a UDP datagram to port 7000, IP_NODEFRAG
#   udp4: a whole UDP datagram to port 7000 (the control: policed today)
#   bcast4: the same datagram to the subnet's broadcast address
#   mcast6: a UDP datagram to ff02::1 (all nodes) on the link
#   frag6: the first fragment of a UDP datagram to port 7000 from the claimed
#     source fd01::9; its length is no multiple of 8, so defragmentation lets
#     it through (nf_ct_frag6_queue: -EPROTO)
#   any6, mapped6: a UDP datagram from [::]:5060 / [::ffff:10.9.9.9]:5060
rawsend() {
	in_gw python3 - "$1" <<'EOF'
import socket, struct, sys
kind = sys.argv[1]
def csum(d):
    if len(d) % 2:
        d += b"\0"
    t = sum(struct.unpack("!%dH" % (len(d) // 2), d))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
if kind == "mcast6":
    # UDP to the all-nodes group on the link: multicast is not steered, but
    # the source is still policed
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IPV6, 75, 1)     # IPV6_TRANSPARENT
    data = b"police"
    payload = struct.pack("!HHHH", 7000, 7000, 8 + len(data), 0) + data
    pkt = struct.pack("!IHBB", 6 << 28, len(payload), 17, 1) + \
        socket.inet_pton(socket.AF_INET6, "fd09::9") + \
        socket.inet_pton(socket.AF_INET6, "ff02::1") + payload
    s.sendto(pkt, ("ff02::1", 0, 0, socket.if_nametoindex("g1")))
    sys.exit(0)
if kind in ("frag6", "any6", "mapped6"):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IPV6, 75, 1)     # IPV6_TRANSPARENT
    src = {"frag6": "fd01::9", "any6": "::", "mapped6": "::ffff:10.9.9.9"}[kind]
    port = 7000 if kind == "frag6" else 5060
    data = b"police"
    payload = struct.pack("!HHHH", port, port, 8 + len(data) + 64, 0) + data
    nh = 17
    if kind == "frag6":                          # fragment header, offset 0, M
        payload = struct.pack("!BBHI", 17, 0, 1, 4242) + payload + b"y" * 3
        nh = 44
    pkt = struct.pack("!IHBB", 6 << 28, len(payload), nh, 64) + \
        socket.inet_pton(socket.AF_INET6, src) + \
        socket.inet_pton(socket.AF_INET6, "fd02::2") + payload
    s.sendto(pkt, ("fd02::2", 0))
    sys.exit(0)
if kind == "proto6":
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IPV6, 75, 1)     # IPV6_TRANSPARENT
    payload = b"x" * 8
    pkt = struct.pack("!IHBB", 6 << 28, len(payload), 253, 64) + \
        socket.inet_pton(socket.AF_INET6, "fd09::9") + \
        socket.inet_pton(socket.AF_INET6, "fd02::2") + payload
    s.sendto(pkt, ("fd02::2", 0))
    sys.exit(0)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.IPPROTO_IP, 19, 1)           # IP_TRANSPARENT
if kind == "proto4":
    proto, frag, payload = 253, 0, b"x" * 8
else:
    data = b"police"
    payload = struct.pack("!HHHH", 7000, 7000, 8 + len(data) + (64 if kind == "frag4" else 0), 0) + data
    proto, frag = 17, (0x2000 if kind == "frag4" else 0)   # MF
    if kind == "frag4":
        s.setsockopt(socket.IPPROTO_IP, 22, 1)   # IP_NODEFRAG
        payload += b"y" * (-len(payload) % 8)
dst = "10.2.0.2"
if kind == "bcast4":                             # the subnet's broadcast address
    dst = "10.2.0.255"
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(payload), 4242, frag, 64, proto, 0) + \
    socket.inet_aton("10.9.9.9") + socket.inet_aton(dst)
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
s.sendto(ip + payload, (dst, 0))
EOF
}

# escape DESC FAMILY|COUNTER CMD...: CMD sends one packet from the foreign
# source; the server must not see it and src_denied must count it. Waits
# until either happens (src_denied counts in the sending call).
escape() {
	local desc=$1 fam=$2 a0 a1 d0 d1
	shift 2
	a0=$(arrived "$fam") d0=$(stat_of src_denied)
	"$@" >/dev/null 2>&1
	busywait 5000 eval '[ "$(stat_of src_denied)" -gt "$d0" ] || [ "$(arrived "$fam")" != "$a0" ]' >/dev/null
	a1=$(arrived "$fam") d1=$(stat_of src_denied)
	if [ "$a1" = "$a0" ] && [ "$d1" -gt "$d0" ]; then
		ok "$desc: not sent, src_denied $d0 -> $d1"
	else
		not_ok "$desc: not sent" "the server saw $((a1 - a0)) packet(s); src_denied $d0 -> $d1"
	fi
}

check "sources set (sipovl configured)" ctl sources set 10.1.0.0/16,fd01::/32
escape "control: a whole UDP datagram of a transparent raw socket" 4 rawsend udp4
escape "a transparent raw socket's IPv4 packet that is neither TCP nor UDP" 4 rawsend proto4
escape "a transparent raw socket's IPv6 packet that is neither TCP nor UDP" 6 rawsend proto6
escape "a UDP fragment of a transparent raw socket with IP_NODEFRAG" 4 rawsend frag4
escape "an IPv6 first UDP fragment from a claimed source (as IPv4 fragments)" claim6 rawsend frag6
escape "a transparent socket's UDP datagram to the subnet broadcast address" 4 rawsend bcast4
escape "a transparent socket's UDP datagram to the all-nodes multicast group" 6 rawsend mcast6

# The policing outlives the configuration while a socket that was registered
# with sipovl is still open (the daemon's hosted connections may outlive its
# configuration), and ends with the last one: then another program's
# transparent sockets are no longer policed.
TMP=$(mktemp -d)
on_exit rm -rf "$TMP"
# (ip netns exec execs the listener: $! is its pid, not a subshell's)
ip netns exec "$GW" "$PEER" listen -4 --port 7100 >"$TMP/listen.out" 2>&1 &
LISTENER=$!
on_exit kill "$LISTENER"
busywait 5000 grep -q ready "$TMP/listen.out" >/dev/null || bail_out "registered listener did not start"
check "sources flush (nothing configured any more)" ctl sources flush
check "socket unregister (the registered socket stays open)" ctl socket unregister
escape "unconfigured namespace, a registered socket still open: a transparent UDP socket, IPv4" 4 \
	in_gw "$PEER" originate --udp --timeout 1 --src 10.9.9.9:7000 --dst 10.2.0.2:7000 --msg flushed
escape "unconfigured namespace, a registered socket still open: a transparent UDP socket, IPv6" 6 \
	in_gw "$PEER" originate --udp --timeout 1 --src '[fd09::9]:7000' --dst '[fd02::2]:7000' --msg flushed
# A local source is never the policing's business.
ip netns exec "$SRV" "$PEER" echo --udp --bind 10.2.0.2:7000 >"$TMP/echo.out" 2>/dev/null &
on_exit kill "$!"
busywait 5000 grep -q ready "$TMP/echo.out" >/dev/null || bail_out "echo server did not start"
if in_gw "$PEER" originate --udp --timeout 2 --src 10.2.0.1:7300 --dst 10.2.0.2:7000 --msg local | grep -q '^ECHO 10.2.0.1:7300 local$'; then
	ok "unconfigured namespace: a transparent socket on a local address still talks"
else
	not_ok "unconfigured namespace: a transparent socket on a local address still talks"
fi
# The last socket once registered closes: the policing ends (the module
# notices within its reaper's second). Each try sends one datagram.
kill "$LISTENER"
wait "$LISTENER" 2>/dev/null
sent_foreign() { # sent_foreign 4|6: one datagram from the foreign source arrives
	local a0 src=10.9.9.9:7000 dst=10.2.0.2:7000
	[ "$1" = 6 ] && src='[fd09::9]:7000' dst='[fd02::2]:7000'
	a0=$(arrived "$1")
	in_gw "$PEER" originate --udp --timeout 1 --src "$src" --dst "$dst" --msg free >/dev/null 2>&1
	[ "$(arrived "$1")" != "$a0" ]
}
for fam in 4 6; do
	d0=$(stat_of src_denied)
	if busywait 10000 sent_foreign "$fam" >/dev/null; then
		ok "no registered socket left: another program's transparent socket may use a foreign source, IPv$fam"
	else
		not_ok "no registered socket left: another program's transparent socket may use a foreign source, IPv$fam" \
			"nothing arrived in 10 s; src_denied $d0 -> $(stat_of src_denied)"
	fi
done

# Martian sources are never claimed: an intercept of every destination on
# port 5060 claims [::]:5060 and [::ffff:10.9.9.9]:5060 as reply sources.
check "intercept add of ::/0 port 5060" ctl intercept add anysip proto udp addr ::/0 port 5060
escape "a transparent socket's UDP datagram from the unspecified source ::" any6 rawsend any6
escape "a transparent socket's UDP datagram from an IPv4-mapped source" mapped6 rawsend mapped6

done_testing
