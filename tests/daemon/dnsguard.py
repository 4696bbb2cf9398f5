#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""DNS clients and a stand-in upstream for tests/daemon/dnsguard.sh (standard library only).

  dnsguard.py upstream ADDR PORT COUNTFILE   answer every query with 20 A records (an answer
                                             much larger than the query), COUNTFILE = queries seen
  dnsguard.py query SRC DST PORT NAME [tcp]  one query from SRC: prints "rcode=R tc=T an=N" or
                                             "none" (no answer within 2 s)
  dnsguard.py flood SRC DST PORT N SECONDS   N queries from SRC (one socket) spread over SECONDS,
                                             then 1 s for the last answers: prints
                                             "sent=N full=F tc=T refused=R other=O none=M"
"""
import socket
import struct
import sys
import time


def query(qid, name, qtype=1):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def parse(m):
    if len(m) < 12:
        return None
    qid, flags, _, an, _, _ = struct.unpack(">HHHHHH", m[:12])
    return qid, flags & 0xF, bool(flags & 0x0200), an


def upstream(addr, port, countfile):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    n = 0
    with open(countfile, "w") as f:
        f.write("0\n")
    while True:
        m, peer = s.recvfrom(4096)
        if len(m) < 17:
            continue
        n += 1
        with open(countfile, "w") as f:
            f.write("%d\n" % n)
        end = 12
        while m[end]:
            end += 1 + m[end]
        q = m[12:end + 5]
        rr = b"".join(b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([198, 51, 100, i]) for i in range(20))
        s.sendto(m[:2] + struct.pack(">HHHHH", 0x8180, 1, 20, 0, 0) + q + rr, peer)


def one(src, dst, port, name, tcp):
    m = query(0x4242, name)
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
    s.settimeout(2)
    s.bind((src, 0))
    try:
        if tcp:
            s.connect((dst, int(port)))
            s.sendall(struct.pack(">H", len(m)) + m)
            h = b""
            while len(h) < 2:
                c = s.recv(2 - len(h))
                if not c:
                    raise OSError("closed")
                h += c
            want, r = struct.unpack(">H", h)[0], b""
            while len(r) < want:
                c = s.recv(want - len(r))
                if not c:
                    raise OSError("closed")
                r += c
        else:
            s.sendto(m, (dst, int(port)))
            r = s.recv(65535)
    except OSError:
        print("none")
        return
    p = parse(r)
    print("none" if not p else "rcode=%d tc=%d an=%d" % (p[1], int(p[2]), p[3]))


def flood(src, dst, port, n, secs):
    n, secs = int(n), float(secs)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.setblocking(False)
    got = {}
    t0 = time.monotonic()

    def drain():
        while True:
            try:
                r = s.recv(65535)
            except BlockingIOError:
                return
            p = parse(r)
            if p:
                got[p[0]] = p
    for i in range(n):
        s.sendto(query(i, "f%d.other.example" % i), (dst, int(port)))
        drain()
        wait = t0 + secs * (i + 1) / n - time.monotonic()
        if wait > 0:
            time.sleep(wait)
    end = time.monotonic() + 1
    while time.monotonic() < end:
        drain()
        time.sleep(0.01)
    full = sum(1 for p in got.values() if p[1] == 0 and not p[2] and p[3] > 0)
    tc = sum(1 for p in got.values() if p[2])
    refused = sum(1 for p in got.values() if p[1] == 5)
    other = len(got) - full - tc - refused
    print("sent=%d full=%d tc=%d refused=%d other=%d none=%d" % (n, full, tc, refused, other, n - len(got)))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "upstream":
        upstream(*a[1:4])
    elif a[0] == "query":
        one(a[1], a[2], a[3], a[4], len(a) > 5 and a[5] == "tcp")
    elif a[0] == "flood":
        flood(*a[1:6])
