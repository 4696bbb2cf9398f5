#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The reject policy (issue 11): with no daemon socket, a new flow to an
# intercept with policy reject fails fast, forwarded (PREROUTING) and local
# (LOCAL_OUT), IPv4 and IPv6: a TCP connect gets a RST (ECONNREFUSED at once),
# a UDP datagram an ICMP port unreachable (ECONNREFUSED on a connected
# socket's next recv). No RST answers a RST; a segment other than a SYN gets
# the RST nft's "reject with tcp reset" would send. Policy drop still times
# out. The rejected counters count, the drop counters do not.
#
#   cli 10.1.0.2 fd01::2 --- gw 10.1.0.1 fd01::1 | 10.2.0.1 fd02::1 --- srv 10.2.0.2 fd02::2
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd ip jq python3

BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
CTL=$BIN/sipovlctl
[ -x "$CTL" ] || bail_out "build first: $CTL"

load_module
modprobe -q veth || bail_out "no veth module"
topo_gateway

ctl() { ip netns exec "$GW" "$CTL" "$@"; }

# probe NS tcp|udp ADDR PORT TIMEOUT_S [SRC]: one connect (TCP) or one
# datagram and a recv on a connected socket (UDP); prints "refused MS",
# "timeout MS" or "error ERRNO MS" (MS: milliseconds the attempt took).
PROBE='
import errno, socket, sys, time
proto, addr, port, tmo = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
src = sys.argv[5] if len(sys.argv) > 5 else None
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
if src:
    s.bind((src, 0))
s.settimeout(tmo)
t0 = time.monotonic()
def done(what):
    print("%s %d" % (what, (time.monotonic() - t0) * 1000))
    sys.exit(0)
try:
    s.connect((addr, port))
    if proto == "udp":
        try:
            s.send(b"probe")
        except PermissionError:
            pass    # dropped in LOCAL_OUT: the ICMP error comes all the same
        s.recv(100)
    done("answered")
except ConnectionRefusedError:
    done("refused")
except socket.timeout:
    done("timeout")
except OSError as e:
    done("error " + errno.errorcode.get(e.errno, str(e.errno)))
'
probe() {
	local ns=$1
	shift
	ip netns exec "$ns" python3 -c "$PROBE" "$@"
}

# expect_probe DESC WANT MAX_MS NS ARGS...: the probe prints WANT within MAX_MS
# (0: no limit).
expect_probe() {
	local desc=$1 want=$2 max=$3 out
	shift 3
	out=$(probe "$@" 2>&1)
	if [ "${out% *}" = "$want" ] && { [ "$max" = 0 ] || [ "${out##* }" -le "$max" ]; }; then
		ok "$desc ($out ms)"
	else
		not_ok "$desc" "want $want${max:+ within $max ms}, got: $out"
	fi
}

gstat() { ctl -j stats | jq -r ".global.$1 // \"none\""; }
istat() { ctl -j -s intercept show "$1" | jq -r ".[0].stats.$2 // \"none\""; }

check "intercept add with policy reject" \
	ctl intercept add sip proto udp,tcp addr 10.2.0.0/16,fd02::/32 port 5060-5061 policy reject
expect_show() {
	local out
	out=$(ctl intercept show sip 2>&1)
	[ "$out" = "1: sip proto tcp,udp addr 10.2.0.0/16,fd02::/32 port 5060-5061 policy reject" ] ||
		{ echo "$out"; return 1; }
	[ "$(ctl -j intercept show sip | jq -r '.[0].policy')" = reject ]
}
check "intercept show prints policy reject (text and JSON)" expect_show

r0=$(gstat rejected) d0=$(gstat dropped)
# A server on the real target: a rejected flow must not reach it either.
ip netns exec "$SRV" python3 -c '
import socket, time
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("10.2.0.2", 5061)); t.listen()
time.sleep(300)' &
on_exit kill $!

# Forwarded traffic (PREROUTING).
expect_probe "tcp4 forwarded: connect refused at once" refused 1000 "$CLI" tcp 10.2.0.77 5061 5
expect_probe "tcp4 forwarded to an intercepted address that exists: refused" refused 1000 \
	"$CLI" tcp 10.2.0.2 5061 5
expect_probe "udp4 forwarded: port unreachable" refused 1000 "$CLI" udp 10.2.0.77 5060 5
expect_probe "tcp6 forwarded: connect refused at once" refused 1000 "$CLI" tcp fd02::77 5061 5
expect_probe "udp6 forwarded: port unreachable" refused 1000 "$CLI" udp fd02::77 5060 5

# Locally originated traffic (LOCAL_OUT).
expect_probe "tcp4 local: connect refused at once" refused 1000 "$GW" tcp 10.2.0.88 5061 5 10.2.0.1
expect_probe "udp4 local: port unreachable" refused 1000 "$GW" udp 10.2.0.88 5060 5 10.2.0.1
expect_probe "tcp6 local: connect refused at once" refused 1000 "$GW" tcp fd02::88 5061 5 fd02::1
expect_probe "udp6 local: port unreachable" refused 1000 "$GW" udp fd02::88 5060 5 fd02::1

r1=$(gstat rejected) d1=$(gstat dropped) ir=$(istat sip rejects) id=$(istat sip drops)
if [ "$r1" != none ] && [ $((r1 - r0)) -ge 9 ] && [ "$d1" = "$d0" ] && [ "$ir" -ge 9 ] && [ "$id" = 0 ]; then
	ok "rejected counted: global $r0 -> $r1, intercept rejects $ir; drops unchanged ($d1, $id)"
else
	not_ok "rejected counted, drops unchanged" "global rejected $r0 -> $r1, dropped $d0 -> $d1; intercept rejects $ir drops $id"
fi
if ctl stats | grep -Eq '^global: .* rejected [0-9]+' && ctl -s intercept show sip | grep -Eq ' rejects [0-9]+$'; then
	ok "sipovlctl stats and intercept show -s print the reject counters"
else
	not_ok "sipovlctl stats and intercept show -s print the reject counters" "$(ctl stats; ctl -s intercept show sip)"
fi

# Segments other than a SYN (raw, IPv4): an ACK no socket owns gets a RST
# whose sequence number is the ACK's acknowledgment number; a RST gets nothing.
RAW='
import socket, struct, sys, time
src, dst, kind = sys.argv[1], sys.argv[2], sys.argv[3]
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
flags = {"ack": 0x10, "rst": 0x04, "rstack": 0x14}[kind]
sport, seq, ack = 40001, 1000, 777777
hdr = struct.pack("!HHIIBBHHH", sport, 5061, seq, ack, 5 << 4, flags, 1024, 0, 0)
pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(hdr))
hdr = hdr[:16] + struct.pack("!H", csum(pseudo + hdr)) + hdr[18:]
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
r.settimeout(0.2)
r.sendto(hdr, (dst, 0))
deadline = time.monotonic() + 1.5
while time.monotonic() < deadline:
    try:
        pkt = r.recv(200)
    except socket.timeout:
        continue
    ihl = (pkt[0] & 15) * 4
    ps, pd, pseq, pack, off, pfl = struct.unpack("!HHIIBB", pkt[ihl:ihl + 14])
    if socket.inet_ntoa(pkt[12:16]) == dst and ps == 5061 and pd == sport:
        print("seq %d ack %d flags 0x%02x" % (pseq, pack, pfl))
        sys.exit(0)
print("nothing")
'
raw() { ip netns exec "$CLI" python3 -c "$RAW" 10.1.0.2 "$@"; }
out=$(raw 10.2.0.77 ack 2>&1)
if [ "$out" = "seq 777777 ack 0 flags 0x04" ]; then
	ok "tcp4 forwarded ACK no socket owns: RST with seq = its ack ($out)"
else
	not_ok "tcp4 forwarded ACK no socket owns: RST with seq = its ack" "got: $out"
fi
r0=$(gstat rejected)
out=$(raw 10.2.0.77 rst 2>&1)
r1=$(gstat rejected)
if [ "$out" = nothing ] && [ "$r1" != none ] && [ "$r1" -gt "$r0" ]; then
	ok "tcp4 forwarded RST: no RST in answer, still rejected (dropped; $r0 -> $r1)"
else
	not_ok "tcp4 forwarded RST: no RST in answer, still rejected" "got: $out, rejected $r0 -> $r1"
fi

# Fail-closed without an answer: policy drop still times out.
check "replace with policy drop" \
	ctl intercept replace sip proto udp,tcp addr 10.2.0.0/16,fd02::/32 port 5060-5061 policy drop
r0=$(gstat rejected) d0=$(gstat dropped)
expect_probe "policy drop: tcp4 forwarded connect times out" timeout 0 "$CLI" tcp 10.2.0.77 5061 2
expect_probe "policy drop: udp4 forwarded gets no answer" timeout 0 "$CLI" udp 10.2.0.77 5060 1
expect_probe "policy drop: tcp6 local connect times out" timeout 0 "$GW" tcp fd02::88 5061 2 fd02::1
r1=$(gstat rejected) d1=$(gstat dropped)
if [ "$r1" = "$r0" ] && [ "$d1" -gt "$d0" ]; then
	ok "policy drop: dropped counted ($d0 -> $d1), rejected not ($r1)"
else
	not_ok "policy drop: dropped counted, rejected not" "dropped $d0 -> $d1, rejected $r0 -> $r1"
fi

# Back to reject, then pass: the flow reaches the real server.
check "replace with policy reject again" \
	ctl intercept replace sip proto udp,tcp addr 10.2.0.0/16,fd02::/32 port 5060-5061 policy reject
expect_probe "policy reject after replace: tcp4 refused" refused 1000 "$CLI" tcp 10.2.0.2 5061 5
check "replace with policy pass" \
	ctl intercept replace sip proto udp,tcp addr 10.2.0.0/16,fd02::/32 port 5060-5061 policy pass
expect_probe "policy pass: tcp4 reaches the real server" answered 0 "$CLI" tcp 10.2.0.2 5061 5
check "flush" ctl intercept flush

done_testing
