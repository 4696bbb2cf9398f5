#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A tiny authoritative DNS server over UDP for the resolver tests (tests/ziti/dns.sh).

    fakedns.py ADDR CONTROL LOG NAME=ADDR[,ADDR...] ...

Answers A and AAAA queries for the given names (IPv4 addresses go to A, IPv6 to AAAA, in the
order given), an empty answer for the other type, NXDOMAIN for other names. CONTROL is a
file read at every query, one line: "answer TTL", "delay MS TTL" (answer after MS
milliseconds, without holding up other queries) or "drop" (never answer). Every query is
logged to LOG as "EPOCH_MS NAME TYPE ACTION".
"""
import heapq
import ipaddress
import select
import socket
import struct
import sys
import time


def now_ms():
    return int(time.time() * 1000)


def parse_name(pkt, off):
    labels = []
    while True:
        n = pkt[off]
        off += 1
        if n == 0:
            return ".".join(labels).lower(), off
        if n >= 0xC0:
            raise ValueError("compressed name in query")
        labels.append(pkt[off:off + n].decode("ascii", "replace"))
        off += n


def answer(pkt, records, ttl):
    qid, _flags, qd = struct.unpack("!HHH", pkt[:6])
    if qd != 1:
        return None, "?", 0
    name, off = parse_name(pkt, 12)
    qtype, _qclass = struct.unpack("!HH", pkt[off:off + 4])
    question = pkt[12:off + 4]
    rrs = []
    rcode = 0
    if name not in records:
        rcode = 3
    else:
        for a in records[name]:
            ip = ipaddress.ip_address(a)
            if (qtype == 1 and ip.version == 4) or (qtype == 28 and ip.version == 6):
                rrs.append(b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, ttl, len(ip.packed)) + ip.packed)
    flags = 0x8400 | 0x0100 | rcode  # response, authoritative, recursion desired echoed
    hdr = struct.pack("!HHHHHH", qid, flags, 1, len(rrs), 0, 0)
    return hdr + question + b"".join(rrs), name, qtype


def main():
    addr, control, logf = sys.argv[1], sys.argv[2], sys.argv[3]
    records = {}
    for spec in sys.argv[4:]:
        n, a = spec.split("=", 1)
        records[n.lower()] = a.split(",")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    log = open(logf, "a", buffering=1)
    later = []  # (due_ms, seq, reply, peer)
    seq = 0
    print("ready", flush=True)
    while True:
        timeout = None
        if later:
            timeout = max(0, later[0][0] - now_ms()) / 1000
        r, _, _ = select.select([s], [], [], timeout)
        if r:
            pkt, peer = s.recvfrom(4096)
            try:
                mode = open(control).read().split()
            except OSError:
                mode = ["answer", "0"]
            try:
                reply, name, qtype = answer(pkt, records, int(mode[-1]) if mode[0] != "drop" else 0)
            except (ValueError, IndexError, struct.error):
                continue
            tname = {1: "A", 28: "AAAA"}.get(qtype, str(qtype))
            log.write("%d %s %s %s\n" % (now_ms(), name, tname, " ".join(mode)))
            if reply is None or mode[0] == "drop":
                continue
            if mode[0] == "delay":
                seq += 1
                heapq.heappush(later, (now_ms() + int(mode[1]), seq, reply, peer))
            else:
                s.sendto(reply, peer)
        while later and later[0][0] <= now_ms():
            _, _, reply, peer = heapq.heappop(later)
            s.sendto(reply, peer)


if __name__ == "__main__":
    main()
