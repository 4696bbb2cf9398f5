#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Sockets for icmp.sh: the daemon's side (transparent sockets with an
intercepted source, in the gateway) and the phone's side (plain sockets).
Each command prints one line: what happened, and exits 0; icmp.sh judges.

  udp-pmtu SRC SPORT DST DPORT         transparent UDP, PMTUDISC_DO: send 1400
                                       bytes until IP_MTU drops or 3 s pass;
                                       prints "mtu N"
  udp-big SRC SPORT DST DPORT          transparent UDP, PMTUDISC_WANT: 30
                                       datagrams of 1400 bytes, 100 ms apart;
                                       prints "sent N"
  udp-refused SRC SPORT DST DPORT      transparent UDP to a closed port: send,
                                       recv; prints "refused MS" or "timeout"
  tcp-send SRC SPORT DST DPORT BYTES   transparent TCP: connect, send BYTES,
                                       half-close, read the sink's count;
                                       prints "acked N MS" or "timeout N"
  udp-hold SRC SPORT DST DPORT SECONDS transparent UDP, connected, held open
  icmp-forge DST QSRC QSPORT QDST QDPORT
                                       an ICMP fragmentation needed (ICMPv6
                                       packet too big), MTU 1280, to DST,
                                       quoting a UDP packet QSRC -> QDST
  udp-sink ADDR PORT N                 until N datagrams came (at most 60 s):
                                       prints "got N LARGEST"
  tcp-sink ADDR PORT                   one connection: reads to EOF, answers
                                       the byte count
"""
import errno
import socket
import struct
import sys
import time

IP_TRANSPARENT = 19
IP_MTU_DISCOVER = 10
IP_MTU = 14
IP_PMTUDISC_WANT, IP_PMTUDISC_DO = 1, 2
IPV6_TRANSPARENT = 75
IPV6_MTU_DISCOVER = 23
IPV6_MTU = 24


def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def transparent(kind, src, sport, pmtudisc=None):
    f = fam(src)
    s = socket.socket(f, kind)
    if f == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, IP_TRANSPARENT, 1)
        if pmtudisc is not None:
            s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, pmtudisc)
    else:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
        if pmtudisc is not None:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, pmtudisc)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    return s


def mtu(s):
    if s.family == socket.AF_INET:
        return s.getsockopt(socket.IPPROTO_IP, IP_MTU)
    return s.getsockopt(socket.IPPROTO_IPV6, IPV6_MTU)


def udp_pmtu(src, sport, dst, dport):
    s = transparent(socket.SOCK_DGRAM, src, int(sport), IP_PMTUDISC_DO)
    s.connect((dst, int(dport)))
    first = mtu(s)
    end = time.monotonic() + 3
    while time.monotonic() < end:
        try:
            s.send(b"x" * 1400)
        except OSError as e:
            if e.errno != errno.EMSGSIZE:
                raise
        time.sleep(0.1)
        if mtu(s) < first:
            break
    print("mtu %d (was %d)" % (mtu(s), first))


def udp_big(src, sport, dst, dport):
    s = transparent(socket.SOCK_DGRAM, src, int(sport), IP_PMTUDISC_WANT)
    s.connect((dst, int(dport)))
    n = 0
    for _ in range(30):
        try:
            s.send(b"y" * 1400)
            n += 1
        except OSError as e:
            if e.errno not in (errno.EMSGSIZE, errno.ECONNREFUSED):
                raise
        time.sleep(0.1)
    print("sent %d" % n)


def udp_refused(src, sport, dst, dport):
    s = transparent(socket.SOCK_DGRAM, src, int(sport))
    s.connect((dst, int(dport)))
    s.settimeout(3)
    t0 = time.monotonic()
    try:
        s.send(b"probe")
        s.recv(100)
        print("answered")
    except ConnectionRefusedError:
        print("refused %d" % ((time.monotonic() - t0) * 1000))
    except socket.timeout:
        print("timeout")


def tcp_send(src, sport, dst, dport, nbytes):
    nbytes = int(nbytes)
    s = transparent(socket.SOCK_STREAM, src, int(sport))
    s.settimeout(10)
    t0 = time.monotonic()
    sent = 0
    try:
        s.connect((dst, int(dport)))
        buf = b"z" * 65536
        while sent < nbytes:
            sent += s.send(buf[:min(len(buf), nbytes - sent)])
        s.shutdown(socket.SHUT_WR)
        got = s.recv(100).decode().strip()
        print("acked %s %d" % (got, (time.monotonic() - t0) * 1000))
    except (socket.timeout, OSError) as e:
        print("timeout %d (%s)" % (sent, e))


def udp_hold(src, sport, dst, dport, secs):
    s = transparent(socket.SOCK_DGRAM, src, int(sport))
    s.connect((dst, int(dport)))
    print("ready", flush=True)
    time.sleep(float(secs))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff


def icmp_forge(dst, qsrc, qsport, qdst, qdport):
    udp = struct.pack("!HHHH", int(qsport), int(qdport), 8 + 1400, 0)
    if fam(dst) == socket.AF_INET:
        q = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + 1400, 1, 0x4000, 64, 17, 0,
                        socket.inet_aton(qsrc), socket.inet_aton(qdst))
        q = q[:10] + struct.pack("!H", csum(q)) + q[12:]
        body = struct.pack("!BBHHH", 3, 4, 0, 0, 1280) + q + udp
        body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    else:
        q = struct.pack("!IHBB16s16s", 6 << 28, 8 + 1400, 17, 64,
                        socket.inet_pton(socket.AF_INET6, qsrc),
                        socket.inet_pton(socket.AF_INET6, qdst))
        body = struct.pack("!BBHI", 2, 0, 0, 1280) + q + udp  # checksum: the kernel's
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.sendto(body, (dst, 0))
    print("sent")


def udp_sink(addr, port, want):
    s = socket.socket(fam(addr), socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    print("ready", flush=True)
    s.settimeout(0.2)
    n = largest = 0
    end = time.monotonic() + 60
    while time.monotonic() < end and n < int(want):
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        n += 1
        largest = max(largest, len(d))
    print("got %d %d" % (n, largest), flush=True)


def tcp_sink(addr, port):
    t = socket.socket(fam(addr), socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, int(port)))
    t.listen(1)
    print("ready", flush=True)
    c, _ = t.accept()
    c.settimeout(15)
    n = 0
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            n += len(d)
        c.sendall(b"%d\n" % n)
    except OSError:
        pass
    print("read %d" % n)


CMDS = {"udp-pmtu": udp_pmtu, "udp-big": udp_big, "udp-refused": udp_refused,
        "tcp-send": tcp_send, "udp-hold": udp_hold, "icmp-forge": icmp_forge, "udp-sink": udp_sink, "tcp-sink": tcp_sink}

if __name__ == "__main__":
    CMDS[sys.argv[1]](*sys.argv[2:])
