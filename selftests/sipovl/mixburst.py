#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Mixed bursts for rxlist.sh: interleave, N times over, one datagram to an
intercepted port, one to a port that is not intercepted and one ICMP echo
request, all to the same destination address, as fast as the socket takes
them (the sender's netem slot qdisc turns them into bursts).

    mixburst.py -4|-6 ADDR INTERCEPTED_PORT PLAIN_PORT COUNT
"""
import socket
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def echo_request(v6, ident, seq):
    typ = 128 if v6 else 8
    hdr = struct.pack("!BBHHH", typ, 0, 0, ident, seq)
    payload = b"rxlist"
    if v6:  # the kernel fills in the ICMPv6 checksum of raw sockets
        return hdr + payload
    c = csum(hdr + payload)
    return struct.pack("!BBHHH", typ, 0, c, ident, seq) + payload


def main():
    if len(sys.argv) != 6 or sys.argv[1] not in ("-4", "-6"):
        sys.exit(__doc__)
    v6 = sys.argv[1] == "-6"
    addr, iport, pport, count = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    icmp = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    su = socket.socket(fam, socket.SOCK_DGRAM)
    sp = socket.socket(fam, socket.SOCK_DGRAM)
    si = socket.socket(fam, socket.SOCK_RAW, icmp)
    for i in range(count):
        su.sendto(b"blast %d" % i, (addr, iport))
        sp.sendto(b"plain %d" % i, (addr, pport))
        si.sendto(echo_request(v6, 0x5150, i), (addr, 0))


if __name__ == "__main__":
    main()
