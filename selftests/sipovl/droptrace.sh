#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Where a packet died (issue 11, drop reasons): every packet sipovl.ko drops
# hits the tracepoint sipovl:sipovl_drop with its reason, so tracefs, perf
# trace and perf record show it (the kernel's skb:kfree_skb says only
# nf_hook_slow / NETFILTER_DROP). Per reason, the trace lines must equal the
# drop counter's increase, and name the packet's addresses and ports.
#
#   cli 10.1.0.2 fd01::2 --- gw 10.1.0.1 fd01::1 | 10.2.0.1 fd02::1 --- srv 10.2.0.2 fd02::2
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd ip jq python3

BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
CTL=$BIN/sipovlctl
[ -x "$CTL" ] || bail_out "build first: $CTL"
T=/sys/kernel/tracing
[ -d $T/events ] || T=/sys/kernel/debug/tracing
[ -d $T/events ] || skip_all "no tracefs"

load_module
modprobe -q veth || bail_out "no veth module"
topo_gateway

ctl() { ip netns exec "$GW" "$CTL" "$@"; }
drops() { ctl -j stats | jq -r ".global.drops.$1 // .global.$1 // \"none\""; }

E=$T/events/sipovl/sipovl_drop
if [ -d "$E" ]; then
	ok "the tracepoint sipovl:sipovl_drop exists"
else
	not_ok "the tracepoint sipovl:sipovl_drop exists" "no $E"
fi
echo 0 >$T/tracing_on
: >$T/trace
echo 1 >"$E/enable" 2>/dev/null
on_exit "echo 0 >$E/enable 2>/dev/null; : >$T/trace"
echo 1 >$T/tracing_on

check "intercept add (policy drop, no daemon socket)" \
	ctl intercept add sip proto udp,tcp addr 10.2.0.0/16,fd02::/32 port 5060

declare -A before
for r in no_socket not_new local_src src_denied; do before[$r]=$(drops "$r"); done

# no_socket: 3 IPv4 and 2 IPv6 datagrams from the client to intercepted addresses.
ip netns exec "$CLI" python3 - <<'EOF'
import socket
for i in range(3):
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("10.2.0.77", 5060))
for i in range(2):
    socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b"x", ("fd02::77", 5060))
EOF
# not_new: 2 TCP ACKs no socket owns (raw, IPv4).
ip netns exec "$CLI" python3 - <<'EOF'
import socket, struct
def csum(d):
    t = sum(struct.unpack("!%dH" % (len(d) // 2), d))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
for sport in (40001, 40002):
    hdr = struct.pack("!HHIIBBHHH", sport, 5060, 1000, 2000, 5 << 4, 0x10, 1024, 0, 0)
    ps = socket.inet_aton("10.1.0.2") + socket.inet_aton("10.2.0.77") + struct.pack("!xBH", 6, 20)
    s.sendto(hdr[:16] + struct.pack("!H", csum(ps + hdr)) + hdr[18:], ("10.2.0.77", 0))
EOF
# local_src: a datagram from the client claiming the gateway's own address.
ip netns exec "$CLI" python3 - <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 19, 1)  # IP_TRANSPARENT
s.bind(("10.1.0.1", 4444))
s.sendto(b"x", ("10.2.0.77", 5060))
EOF
# src_denied: a transparent socket of the gateway sending from a foreign
# address sipovl does not claim.
ip netns exec "$GW" python3 - <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 19, 1)
s.bind(("10.9.9.9", 5555))
try:
    s.sendto(b"x", ("10.1.0.2", 7000))
except PermissionError:
    pass
EOF
sleep 1
echo 0 >$T/tracing_on
grep 'sipovl_drop:' $T/trace >trace.txt
sed 's/^/# /' trace.txt | head -12

# per reason: WANT counter increase = trace lines; PATTERN must be in each line
expect() { # expect REASON WANT PATTERN
	local r=$1 want=$2 pat=$3 d n np
	d=$(($(drops "$r") - before[$r]))
	n=$(grep -c "reason=$r " trace.txt)
	np=$(grep "reason=$r " trace.txt | grep -c -- "$pat")
	if [ "$d" = "$want" ] && [ "$n" = "$want" ] && [ "$np" = "$want" ]; then
		ok "$r: $want drops counted and traced, each naming $pat"
	else
		not_ok "$r: $want drops counted and traced" "counter +$d, trace lines $n, with '$pat' $np"
	fi
}
expect no_socket 5 "dport=5060"
expect not_new 2 "saddr=::ffff:10.1.0.2 sport=4000[12] daddr=::ffff:10.2.0.77 dport=5060"
expect local_src 1 "saddr=::ffff:10.1.0.1 sport=4444"
expect src_denied 1 "saddr=::ffff:10.9.9.9 sport=5555 daddr=::ffff:10.1.0.2 dport=7000"
n6=$(grep 'reason=no_socket ' trace.txt | grep -c 'saddr=fd01::2 ')
if [ "$n6" = 2 ]; then
	ok "IPv6 drops name their IPv6 addresses (2 from fd01::2)"
else
	not_ok "IPv6 drops name their IPv6 addresses" "$n6 lines with saddr=fd01::2"
fi
done_testing
