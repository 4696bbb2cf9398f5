# SPDX-License-Identifier: GPL-2.0
"""GSO and GRO super-packets into sipovl.ko's PREROUTING hooks (run by
pktfuzz.sh in the sender namespace next to pktfuzz.py's sender; see
Documentation/testing.md, "The packet fuzzer").

What reaches the gateway's hooks as one skb of many segments:

  udp-gso   UDP_SEGMENT sends: the kernel builds one UDP GSO skb, which the
            veth carries to the gateway unsegmented (when s0's
            tx-udp-segmentation is on; pktfuzz.sh switches it on and off).
  gro       trains of equal datagrams of one flow sent back to back: the
            gateway's g0 merges them (GRO with rx-udp-gro-forwarding or
            rx-gro-list on, switched by pktfuzz.sh) into one skb.
  tcp       TCP streams of 16-256 KiB: TSO super-packets from s0 or, with
            TSO off, segments that g0's GRO merges (fraglist too on 6.12).
  vnet      frames written with a virtio_net_hdr (PACKET_VNET_HDR), the way a
            VM's tap device hands the kernel GSO packets it did not build:
            valid UDP GSO super-packets (reference packets, one tag per
            segment) and adversarial ones (GSO type against the protocol,
            gso_size 0/1/huge, header length and checksum offsets past the
            packet, truncated, lying IP lengths).

Every UDP segment and every TCP stream carries a tag; where each must
arrive (the daemon's sockets, the sink, a local socket) follows from
pktfuzz.py's CORE table alone, and pktfuzz.py check compares.
"""
import argparse
import socket
import struct
import sys
import threading
import time
import random

from pktfuzz import (CORE, GW4, GW6, SND4, SND6, GW_MAC, SND_MAC, ETH_P_IP, ETH_P_IPV6,  # noqa: F401
                     a4, a6, csum, ip4, ip6, stream_header, log_line)

SOL_UDP = 17
UDP_SEGMENT = 103
SOL_PACKET = 263
PACKET_VNET_HDR = 15
VNET_NEEDS_CSUM = 1
GSO_NONE, GSO_TCPV4, GSO_UDP, GSO_TCPV6, GSO_UDP_L4, GSO_ECN = 0, 1, 3, 4, 5, 0x80
TAG_BASE = 8000000000       # pktfuzz.py's sender counts from 1


def udp_target(r, v6):
    """(kind, dst, dport, where) of a UDP reference: CORE decides."""
    def fwd(sub=None):
        if v6:
            return "fd10:0:0:%x::%x" % (sub if sub is not None else r.randrange(6, 0x10000), r.randrange(1, 0xffff))
        return "10.10.%d.%d" % (sub if sub is not None else r.randrange(6, 255), r.randrange(1, 255))
    gw = GW6 if v6 else GW4
    return r.choice((
        ("fwd-sip", fwd(), r.choice((5060, 5061)), "daemon"),
        ("fwd-overlap", fwd(5), 5050, "daemon"),
        ("fwd-none", fwd(), r.choice((5050, 9000)), "sink"),
        ("local-udp", gw, r.randrange(7000, 8000), "daemon"),
        ("local-none", gw, 9100, "local"),
    ))


def tcp_target(r, v6):
    gw = GW6 if v6 else GW4
    fwd = ("fd10:0:0:%x::%x" % (r.randrange(6, 0x10000), r.randrange(1, 0xffff)) if v6 else
           "10.10.%d.%d" % (r.randrange(6, 255), r.randrange(1, 255)))
    return r.choice((("tcp-fwd-sip", fwd, r.choice((5060, 5061)), "daemon"),
                     ("tcp-local", gw, 8000, "daemon"),
                     ("tcp-fwd-none", fwd, 9000, "sink")))


class Refs:
    """Tags and the expected log, shared by threads."""

    def __init__(self, path, base):
        self.f = open(path, "w")
        self.n = base
        self.lock = threading.Lock()
        self.count = 0

    def new(self, where, kind, pending=None):
        """A new tag, expected at where; with pending (a list), only
        reserved and appended to it: expect() logs it once sent."""
        with self.lock:
            self.n += 1
            tag = "%010d" % self.n
            if pending is None:
                log_line(self.f, "%s %s %s" % (tag, where, kind))
                self.count += 1
            else:
                pending.append((tag, where, kind))
        return tag

    def expect(self, pending):
        with self.lock:
            for tag, where, kind in pending:
                log_line(self.f, "%s %s %s" % (tag, where, kind))
            self.count += len(pending)


def segments(refs, where, kind, size, n, pending=None):
    """n UDP payloads of size bytes (the last one shorter), each tagged."""
    out = []
    for i in range(n):
        ln = size if i < n - 1 else max(13, size // 2)
        out.append(b"REF" + refs.new(where, kind, pending).encode() + bytes(ln - 13))
    return b"".join(out)


def tcp_stream(refs, r, v6, done):
    kind, dst, dport, where = tcp_target(r, v6)
    length = r.randrange(16 << 10, 256 << 10)
    tag = refs.new(where, kind + ("6" if v6 else "4"))
    try:
        s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(60)
        s.connect((dst, dport))
        s.sendall(stream_header(tag, length) + bytes(r.randrange(256) for _ in range(64)) * (length // 64) +
                  bytes(length % 64))
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass
        s.close()
    except OSError as e:
        print("# tcp stream %s to [%s]:%d: %s" % (tag, dst, dport, e), file=sys.stderr)
    done.release()


def pseudo_sum(src, dst, proto, length):
    """The folded one's complement sum of the pseudo-header (not inverted)."""
    if len(src) == 4:
        ph = src + dst + struct.pack("!BBH", 0, proto, length & 0xffff)
    else:
        ph = src + dst + struct.pack("!IxxxB", length, proto)
    return ~csum(ph) & 0xffff


class Vnet:
    """Frames with a virtio_net_hdr on the sender's veth."""

    def __init__(self, dev, r):
        self.r = r
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        self.s.bind((dev, 0))
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.sent = 0
        self.errors = 0
        self.refused_refs = 0

    def emit(self, hdr, pkt, v6):
        eth = GW_MAC + SND_MAC + struct.pack("!H", ETH_P_IPV6 if v6 else ETH_P_IP)
        try:
            self.s.send(hdr + eth + pkt)
            self.sent += 1
            return True
        except OSError:
            self.errors += 1
            return False

    def build(self, v6, proto, payload, sport, dport, dst):
        """A super-packet (headers for the whole of it) and its valid
        virtio_net_hdr fields."""
        src = a6(SND6) if v6 else a4(SND4)
        d = a6(dst) if v6 else a4(dst)
        if proto == 17:
            ln = 8 + len(payload)
            # CHECKSUM_PARTIAL: the checksum field holds the pseudo-header
            # sum (with the whole datagram's length; segmentation adjusts
            # it). A zero there is "no checksum", which IPv6 refuses.
            l4 = struct.pack("!HHHH", sport, dport, ln & 0xffff, pseudo_sum(src, d, 17, ln)) + payload
            l4hl, coff, gso = 8, 6, GSO_UDP_L4
        else:
            l4 = struct.pack("!HHIIBBHHH", sport, dport, self.r.randrange(1 << 32), self.r.randrange(1 << 32),
                             5 << 4, 0x18, 65535, 0, 0) + payload
            l4hl, coff, gso = 20, 16, GSO_TCPV6 if v6 else GSO_TCPV4
        pkt = ip6(src, d, proto, l4) if v6 else ip4(src, d, proto, l4, ident=self.r.randrange(1, 65536))
        iphl = 40 if v6 else 20
        fields = [VNET_NEEDS_CSUM, gso, 14 + iphl + l4hl, 0, 14 + iphl, coff]
        return pkt, fields

    def ref(self, refs):
        """A valid UDP GSO super-packet: each segment must arrive where
        CORE says."""
        r = self.r
        v6 = r.random() < 0.5
        kind, dst, dport, where = udp_target(r, v6)
        size = r.randrange(100, 1400)
        n = r.randrange(2, min(40, 60000 // size))
        pending = []
        payload = segments(refs, where, "vnet-" + kind + ("6" if v6 else "4"), size, n, pending)
        pkt, f = self.build(v6, 17, payload, r.randrange(20000, 60000), dport, dst)
        f[3] = size
        # Expected only when the kernel took it (6.1 has no UDP GSO in
        # virtio_net_hdr: EINVAL).
        if self.emit(struct.pack("<BBHHHH", *f), pkt, v6):
            refs.expect(pending)
        else:
            self.refused_refs += 1

    def fuzz(self):
        r = self.r
        v6 = r.random() < 0.5
        proto = r.choice((6, 17))
        _, dst, dport, _ = udp_target(r, v6) if proto == 17 else tcp_target(r, v6)
        payload = bytes(r.randrange(256) for _ in range(r.randrange(0, 64))) * r.randrange(1, 400)
        pkt, f = self.build(v6, proto, payload[:65000], r.randrange(65536), r.choice((dport, 0, 65535)), dst)
        f[3] = r.choice((r.randrange(1, 1500), 0, 1, 7, 8, 9, 536, 1448, 65535, r.randrange(65536)))
        k = r.randrange(8)
        if k == 0:      # another GSO type than the packet's protocol/family
            f[1] = r.choice((GSO_NONE, GSO_TCPV4, GSO_UDP, GSO_TCPV6, GSO_UDP_L4, GSO_TCPV4 | GSO_ECN,
                             GSO_TCPV6 | GSO_ECN, r.randrange(256)))
        elif k == 1:    # header length and checksum offsets anywhere
            f[2] = r.choice((0, 1, 14, 34, 54, 74, len(pkt), len(pkt) + 14, 65535, r.randrange(65536)))
            f[4] = r.choice((0, 1, 13, 14, 33, 34, 54, len(pkt), 65535, r.randrange(65536)))
            f[5] = r.choice((0, 1, 6, 16, 17, 65535, r.randrange(65536)))
        elif k == 2:    # flags
            f[0] = r.randrange(256)
        elif k == 3:    # lying IP length
            tl = r.choice((0, 20, 40, 1500, 65535, r.randrange(65536)))
            if v6:
                pkt = pkt[:4] + struct.pack("!H", tl) + pkt[6:]
            else:
                pkt = pkt[:2] + struct.pack("!H", tl) + pkt[4:]
        elif k == 4:    # truncated anywhere
            pkt = pkt[:r.randrange(len(pkt) + 1)]
        elif k == 5:    # no checksum offload with a GSO type
            f[0] = 0
        elif k == 6:    # IPv4 fragment or options on a super-packet
            if not v6:
                pkt = pkt[:6] + struct.pack("!H", r.choice((0x2000, 0x4000, 0x0001, 0x3fff))) + pkt[8:]
        self.emit(struct.pack("<BBHHHH", *f), pkt, v6)


def run(a):
    r = random.Random(a.seed ^ 0x9e50)
    refs = Refs(a.log, TAG_BASE)
    vn = Vnet(a.dev, r)
    socks = {False: socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
             True: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)}
    for s in socks.values():
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    tcp_slots = threading.Semaphore(2)
    threads = []
    counts = {"udp-gso": 0, "gro": 0, "tcp": 0, "vnet-ref": 0, "vnet-fuzz": 0, "send-errors": 0}
    t_end = time.monotonic() + a.seconds
    while time.monotonic() < t_end:
        v6 = r.random() < 0.5
        k = r.random()
        try:
            if k < 0.25:
                kind, dst, dport, where = udp_target(r, v6)
                size = r.randrange(64, 1400)
                n = r.randrange(2, min(64, 60000 // size))
                buf = segments(refs, where, "gso-" + kind + ("6" if v6 else "4"), size, n)
                socks[v6].setsockopt(SOL_UDP, UDP_SEGMENT, size)
                socks[v6].sendto(buf, (dst, dport))
                counts["udp-gso"] += 1
            elif k < 0.5:
                kind, dst, dport, where = udp_target(r, v6)
                size = r.randrange(64, 1400)
                socks[v6].setsockopt(SOL_UDP, UDP_SEGMENT, 0)
                for _ in range(r.randrange(4, 33)):
                    socks[v6].sendto(segments(refs, where, "gro-" + kind + ("6" if v6 else "4"), size, 1)[:size],
                                     (dst, dport))
                counts["gro"] += 1
            elif k < 0.55:
                if tcp_slots.acquire(blocking=False):
                    th = threading.Thread(target=tcp_stream, args=(refs, random.Random(r.randrange(1 << 30)), v6,
                                                                   tcp_slots), daemon=True)
                    th.start()
                    threads.append(th)
                    counts["tcp"] += 1
            elif k < 0.65:
                vn.ref(refs)
                counts["vnet-ref"] += 1
            else:
                vn.fuzz()
                counts["vnet-fuzz"] += 1
        except OSError as e:
            counts["send-errors"] += 1
            if counts["send-errors"] <= 5:
                print("# send: %s" % e, file=sys.stderr)
        time.sleep(0.005)
    for th in threads:
        th.join(120)
    print("# super-packets: %s; %d tagged segments and streams (vnet frames refused by the kernel: %d, "
          "valid UDP GSO ones among them: %d)" %
          (" ".join("%s %d" % kv for kv in counts.items()), refs.count, vn.errors, vn.refused_refs))
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    p.add_argument("--dev", required=True)
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--seed", type=int, default=1)
    return run(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
