# SPDX-License-Identifier: GPL-2.0
"""Packet fuzzer for sipovl.ko's hooks (run by pktfuzz.sh; see
Documentation/testing.md, "The packet fuzzer").

Roles, one process each, in the namespaces pktfuzz.sh builds:

  daemon  (gw)   the daemon's side: registered transparent TCP/UDP sockets
                 (IPv4 and IPv6), transparent source ranges with a socket
                 owning a flow from one of them, plain sockets on unsteered
                 local ports, and a thread that replaces the intercept table
                 (transactions and INTERCEPT_REPLACE) all the time.
  sink    (sink) plain sockets behind the gateway for forwarded traffic.
  send    (snd)  writes Ethernet frames on its veth with AF_PACKET: malformed
                 and random IPv4/IPv6 headers, options, extension-header
                 chains, fragments (first, non-first, overlapping, tiny),
                 truncated TCP/UDP, TCP flag combinations, ports 0/65535,
                 ICMP/ICMPv6 errors quoting steered flows; one frame in four
                 is a valid reference packet whose fate is known.
  check          compares where each reference packet arrived with where it
                 had to (daemon socket: steered; sink, local socket or the
                 originating socket: not steered).

Receivers log "TAG WHERE" lines; the sender logs "TAG EXPECTED KIND" lines.
"""
import argparse
import ctypes
import os
import random
import select
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sipovl"))
from nl import (Genl, Error, nest, prefix, intercept, u32, s32, parse_attrs,  # noqa: E402
                CMD_SOCKET_REGISTER, CMD_SOURCES_SET, CMD_TABLE_BEGIN, CMD_TABLE_ADD,
                CMD_TABLE_COMMIT, CMD_INTERCEPT_REPLACE, A_SOCKET_FD, A_SOURCES,
                A_TXN_ID, PROTO_TCP, PROTO_UDP)
from pktfuzz_stats import explained  # noqa: E402

IP_TRANSPARENT = 19
IPV6_TRANSPARENT = 75
IP_RECVORIGDSTADDR = 20
ETH_P_ALL, ETH_P_IP, ETH_P_IPV6 = 0x0003, 0x0800, 0x86DD
# Past net.core.rmem_max: the receivers run as root, and the super-packets
# bring thousands of datagrams at once.
SO_RCVBUFFORCE = 33

SO_ATTACH_FILTER, SOL_PACKET, PACKET_STATISTICS = 26, 263, 6


class ReplyFilter:
    """A classic BPF filter for the sender's reply sniffer: incoming IPv4 and
    IPv6 TCP frames only. Without it the sniffer's queue also took a clone of
    every frame the senders wrote on s0 (super-packets of 64 KB among them)
    and overflowed under load, losing SYN-ACKs and RSTs (PACKET_STATISTICS;
    the vm-debug lane of stop 31's CI: 7 reference SYNs unanswered)."""
    LDB, LDH, JEQ, RET = 0x30, 0x28, 0x15, 0x06
    SKF_AD_PKTTYPE = 0xfffff000 + 4       # SKF_AD_OFF + SKF_AD_PKTTYPE
    PACKET_OUTGOING = 4

    def __init__(self):
        ins = [(self.LDB, 0, 0, self.SKF_AD_PKTTYPE),   # 0
               (self.JEQ, 8, 0, self.PACKET_OUTGOING),  # 1: outgoing -> 10
               (self.LDH, 0, 0, 12),                    # 2: ethertype
               (self.JEQ, 0, 2, ETH_P_IP),              # 3: not IPv4 -> 6
               (self.LDB, 0, 0, 14 + 9),                # 4: IPv4 protocol
               (self.JEQ, 3, 4, 6),                     # 5: TCP -> 9, else 10
               (self.JEQ, 0, 3, ETH_P_IPV6),            # 6: not IPv6 -> 10
               (self.LDB, 0, 0, 14 + 6),                # 7: IPv6 next header
               (self.JEQ, 0, 1, 6),                     # 8: TCP -> 9, else 10
               (self.RET, 0, 0, 0x40000),               # 9: the whole frame
               (self.RET, 0, 0, 0)]                     # 10: not queued
        self.code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in ins))
        self.prog = struct.pack("HL", len(ins), ctypes.addressof(self.code))


REPLY_FILTER = ReplyFilter()
# Addresses (pktfuzz.sh builds them).
SND4, SND6 = "10.1.0.2", "fd01::2"
GW4, GW6 = "10.9.0.1", "fd09::1"        # local to the gateway (on lo)
FWD4, FWD6 = "10.10.", "fd10::"          # routed to the sink
ORIG4, ORIG6 = "10.20.0.5", "fd20::5"    # transparent source range
ORIG_PORT = 4000
GW_MAC = bytes.fromhex("020000000001")
SND_MAC = bytes.fromhex("020000000002")

# The core of the table, identical in every table the replacer commits:
# reference packets only go where it alone decides.
CORE = [
    (1, "fwd-sip", PROTO_UDP | PROTO_TCP, ("10.10.0.0/16", "fd10::/48"), ((5060, 5061),)),
    (2, "local-udp", PROTO_UDP, (GW4 + "/32", GW6 + "/128"), ((7000, 7999),)),
    (3, "local-tcp", PROTO_TCP, (GW4 + "/32", GW6 + "/128"), ((8000, 8000),)),
    (4, "overlap", PROTO_UDP, ("10.10.5.0/24", "fd10:0:0:5::/64"), ((5000, 5100),)),
]


def log_line(f, text):
    f.write(text + "\n")
    f.flush()


# ---------------------------------------------------------------- daemon

def core_intercepts():
    return [intercept(i, n, protos=p, dsts=d, prts=r) for i, n, p, d, r in CORE]


def extra_intercepts(rnd, base_id):
    """Random intercepts that never change a reference packet's fate:
    10.11.0.0/16 and fd11::/32, and ports of the core prefixes that no
    reference packet uses (6000-6999); policy drop, pass or reject."""
    out = []
    for k in range(rnd.randrange(0, 40)):
        if rnd.random() < 0.5:
            d = rnd.choice(("10.11.0.0/16", "10.11.%d.0/24" % rnd.randrange(256),
                            "10.11.%d.%d/32" % (rnd.randrange(256), rnd.randrange(256))))
        else:
            d = "fd11:%x::/32" % rnd.randrange(1 << 16)
        lo = rnd.randrange(1, 65536)
        prts = ((lo, min(65535, lo + rnd.randrange(0, 300))),)
        dsts = (d,)
        if rnd.random() < 0.3:
            dsts = ("10.10.0.0/16", "fd10::/48")
            lo = rnd.randrange(6000, 6900)
            prts = ((lo, lo + rnd.randrange(0, 99)),)
        out.append(intercept(base_id + k, "x%d" % (base_id + k),
                             protos=rnd.choice((PROTO_UDP, PROTO_TCP, PROTO_UDP | PROTO_TCP)),
                             dsts=dsts, prts=prts, policy=rnd.choice((0, 1, 2))))
    return out


def table_begin(g):
    return int.from_bytes(parse_attrs(g.cmd(CMD_TABLE_BEGIN)[0][1])[0][1], "little")


def replacer(stop, seed, counts):
    rnd = random.Random(seed)
    g = Genl()
    while not stop.is_set():
        try:
            if rnd.random() < 0.8:
                txn = table_begin(g)
                items = core_intercepts() + extra_intercepts(rnd, 100)
                for i in range(0, len(items), 8):
                    g.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), *items[i:i + 8])
                g.cmd(CMD_TABLE_COMMIT, u32(A_TXN_ID, txn),
                      nest(A_SOURCES, prefix("10.20.0.0/16"), prefix("fd20::/48")))
            else:
                # A core intercept replaced by itself (same match).
                i, n, p, d, r = rnd.choice(CORE)
                g.cmd(CMD_INTERCEPT_REPLACE, intercept(i, n, protos=p, dsts=d, prts=r))
            counts["commits"] += 1
        except Error as e:
            counts["errors"] += 1
            print("# replacer: %s" % e, file=sys.stderr)
        stop.wait(0.02)


def tsock(fam, kind):
    s = socket.socket(fam, kind)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    else:
        s.setsockopt(socket.IPPROTO_IP, IP_TRANSPARENT, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
    return s


STREAM_HDR = 21     # b"REF" + 10-digit tag + 8-byte length of what follows


def stream_header(tag, length):
    return b"REF" + tag.encode() + struct.pack("!Q", length)


def receive_loop(socks, out, stop, tcp=()):
    """socks: {sock: where} (datagram sockets); tcp: {listener: where}.
    Logs every datagram carrying a tag, and every TCP stream that starts
    with a stream_header() once it has ended: "TAG WHERE" when all its bytes
    arrived, "TAG WHERE-short" when not."""
    poller = select.poll()
    fds = {}
    streams = {}        # fd -> [conn, where, header bytes, bytes after it]
    for s in list(socks) + list(tcp):
        s.setblocking(False)
        poller.register(s.fileno(), select.POLLIN)
        fds[s.fileno()] = s
    while not stop.is_set():
        for fd, _ in poller.poll(200):
            if fd in streams:
                read_stream(poller, streams, fd, out)
                continue
            s = fds[fd]
            if s in tcp:
                try:
                    c, _ = s.accept()
                except OSError:
                    continue
                c.setblocking(False)
                streams[c.fileno()] = [c, tcp[s], b"", 0]
                poller.register(c.fileno(), select.POLLIN)
                continue
            while True:
                try:
                    data = s.recv(65535)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                except OSError:
                    break
                if data.startswith(b"REF"):
                    log_line(out, "%s %s" % (data[3:13].decode(errors="replace"), socks[s]))
    for c, _, _, _ in streams.values():
        c.close()


def read_stream(poller, streams, fd, out):
    st = streams[fd]
    c = st[0]
    while True:
        try:
            data = c.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            need = STREAM_HDR - len(st[2])
            st[2] += data[:need]
            st[3] += len(data[need:])
            continue
        poller.unregister(fd)
        c.close()
        del streams[fd]
        h = st[2]
        if len(h) == STREAM_HDR and h.startswith(b"REF"):
            want = struct.unpack("!Q", h[13:])[0]
            log_line(out, "%s %s%s" % (h[3:13].decode(errors="replace"), st[1],
                                       "" if st[3] == want else "-short"))
        return


def run_daemon(a):
    g = Genl()
    g.cmd(CMD_SOURCES_SET, nest(A_SOURCES, prefix("10.20.0.0/16"), prefix("fd20::/48")))
    txn = table_begin(g)
    g.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), *core_intercepts())
    g.cmd(CMD_TABLE_COMMIT, u32(A_TXN_ID, txn))
    socks, tcp = {}, {}
    for fam, any_ in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        u = tsock(fam, socket.SOCK_DGRAM)
        u.bind((any_, 9999))
        t = tsock(fam, socket.SOCK_STREAM)
        t.bind((any_, 9999))
        t.listen(1024)
        g.cmd(CMD_SOCKET_REGISTER, s32(A_SOCKET_FD, u.fileno()))
        g.cmd(CMD_SOCKET_REGISTER, s32(A_SOCKET_FD, t.fileno()))
        socks[u] = "daemon"
        tcp[t] = "daemon"
    # Plain sockets on the unsteered local port.
    for fam, addr in ((socket.AF_INET, GW4), (socket.AF_INET6, GW6)):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
        s.bind((addr, 9100))
        socks[s] = "local"
    # A flow the daemon originated from a transparent source address.
    for fam, src, dst in ((socket.AF_INET, ORIG4, SND4), (socket.AF_INET6, ORIG6, SND6)):
        o = tsock(fam, socket.SOCK_DGRAM)
        o.bind((src, ORIG_PORT))
        o.connect((dst, ORIG_PORT))
        socks[o] = "orig"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    counts = {"commits": 0, "errors": 0}
    th = threading.Thread(target=replacer, args=(stop, a.seed, counts), daemon=True)
    if not a.no_replace:
        th.start()
    with open(a.log, "w") as out:
        print("ready", flush=True)
        receive_loop(socks, out, stop, tcp)
    print("# table replacements: %d (%d failed)" % (counts["commits"], counts["errors"]))
    return 1 if counts["errors"] else 0


def run_sink(a):
    socks, tcp = {}, {}
    for fam, any_ in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        for port in (5050, 5060, 5061, 9000):
            s = socket.socket(fam, socket.SOCK_DGRAM)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
            s.bind((any_, port))
            socks[s] = "sink"
        # TCP streams forwarded through the gateway (pktfuzz_gso.py, pktfuzz_local.py).
        t = socket.socket(fam, socket.SOCK_STREAM)
        if fam == socket.AF_INET6:
            t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind((any_, 9000))
        t.listen(128)
        tcp[t] = "sink"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with open(a.log, "w") as out:
        print("ready", flush=True)
        receive_loop(socks, out, stop, tcp)
    return 0


# ---------------------------------------------------------------- sender

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def a4(x): return socket.inet_pton(socket.AF_INET, x)
def a6(x): return socket.inet_pton(socket.AF_INET6, x)


def ip4(src, dst, proto, payload, ident=0, frag=0, ttl=64, opts=b"", tlen=None, ihl=None, bad_csum=False):
    ihl = ihl if ihl is not None else 5 + (len(opts) + 3) // 4
    opts = opts + b"\0" * ((4 - len(opts) % 4) % 4)
    tlen = tlen if tlen is not None else 20 + len(opts) + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | (ihl & 15), 0, tlen & 0xffff, ident, frag, ttl, proto, 0, src, dst) + opts
    c = csum(h[:max(20, (ihl & 15) * 4)]) ^ (0x1234 if bad_csum else 0)
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def ip6(src, dst, nh, payload, plen=None, hlim=64):
    plen = len(payload) if plen is None else plen
    return struct.pack("!IHBB16s16s", 0x60000000, plen & 0xffff, nh, hlim, src, dst) + payload


def l4sum(src, dst, proto, seg):
    if len(src) == 4:
        ph = src + dst + struct.pack("!BBH", 0, proto, len(seg))
    else:
        ph = src + dst + struct.pack("!IxxxB", len(seg), proto)
    return csum(ph + seg)


def udp(src, dst, sport, dport, data, good=True):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = l4sum(src, dst, 17, seg) if good else random.randrange(1 << 16)
    return seg[:6] + struct.pack("!H", c or 0xffff) + seg[8:]


def tcp(src, dst, sport, dport, seq, ack, flags, data=b"", doff=5, opts=b"", good=True):
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (doff & 15) << 4, flags, 65535, 0, 0) + opts + data
    c = l4sum(src, dst, 6, seg) if good else random.randrange(1 << 16)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def frag6(nh, off, mf, ident):
    return struct.pack("!BBHI", nh, 0, (off << 3) | (1 if mf else 0), ident)


class Sender:
    def __init__(self, a):
        self.a = a
        self.rnd = random.Random(a.seed)
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.s.bind((a.dev, 0))
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sniff.bind((a.dev, 0))
        self.sniff.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        self.sniff.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, REPLY_FILTER.prog)
        self.sniff.setblocking(False)
        self.exp = open(a.log, "w")
        self.synlog = open(a.log + ".syns", "w")   # TAG SPORT DPORT FAMILY, for pktfuzz.sh's diagnosis
        self.tag = 0
        self.syns = {}          # (family, sport) -> tag, for reference SYNs
        self.sent = {"fuzz": 0, "ref": 0}
        self.ident = 1

    def emit(self, pkt, v6=False):
        eth = GW_MAC + SND_MAC + struct.pack("!H", ETH_P_IPV6 if v6 else ETH_P_IP)
        try:
            self.s.send(eth + pkt)
        except OSError:
            pass

    def next_tag(self):
        self.tag += 1
        return "%010d" % self.tag

    # -- reference packets: valid, and their fate is defined by CORE alone
    def ref(self):
        r = self.rnd
        v6 = r.random() < 0.5
        kind = r.choice(("fwd-sip", "fwd-overlap", "fwd-none", "local-udp", "local-none", "orig", "frag",
                         "syn-steered", "syn-closed"))
        tag = self.next_tag()
        data = b"REF" + tag.encode() + bytes(r.randrange(0, 64))
        sport = r.randrange(20000, 60000)
        src = a6(SND6) if v6 else a4(SND4)
        if v6:
            fwd = lambda sub=None: "fd10:0:0:%x::%x" % (sub if sub is not None else r.randrange(6, 0x10000), r.randrange(1, 0xffff))  # noqa: E731
        else:
            fwd = lambda sub=None: "10.10.%d.%d" % (sub if sub is not None else r.randrange(6, 255), r.randrange(1, 255))  # noqa: E731
        if kind == "fwd-sip":
            dst, dport, where = fwd(), r.choice((5060, 5061)), "daemon"
        elif kind == "fwd-overlap":
            dst, dport, where = fwd(5), 5050, "daemon"
        elif kind == "fwd-none":
            dst, dport, where = fwd(), r.choice((5050, 9000)), "sink"
        elif kind == "local-udp":
            dst, dport, where = (GW6 if v6 else GW4), r.randrange(7000, 8000), "daemon"
        elif kind == "local-none":
            dst, dport, where = (GW6 if v6 else GW4), 9100, "local"
        elif kind == "orig":
            dst, dport, sport, where = (ORIG6 if v6 else ORIG4), ORIG_PORT, ORIG_PORT, "orig"
        elif kind == "frag":
            dst, dport, where = fwd(), 5060, "daemon"
            if r.random() < 0.5:
                dst, dport, where = fwd(), 9000, "sink"
            data += bytes(r.randrange(600, 1400))
        else:
            dst = GW6 if v6 else GW4
            dport, where = (8000, "synack") if kind == "syn-steered" else (9200, "rst")
        d = a6(dst) if v6 else a4(dst)
        if kind.startswith("syn"):
            sport = r.randrange(20000, 60000)
            seg = tcp(src, d, sport, dport, r.randrange(1 << 32), 0, 0x02,
                      opts=struct.pack("!BBH", 2, 4, 1400), doff=6)
            self.syns[(v6, sport, dport)] = tag
            log_line(self.synlog, "%s %d %d %d" % (tag, sport, dport, 6 if v6 else 4))
            pkt = ip6(src, d, 6, seg) if v6 else ip4(src, d, 6, seg, ident=self.nid())
            self.emit(pkt, v6)
        else:
            seg = udp(src, d, sport, dport, data)
            if kind == "frag":
                self.emit_frags(src, d, seg, v6)
            else:
                self.emit(ip6(src, d, 17, seg) if v6 else ip4(src, d, 17, seg, ident=self.nid()), v6)
        log_line(self.exp, "%s %s %s%s" % (tag, where, kind, "6" if v6 else "4"))
        self.sent["ref"] += 1

    def nid(self):
        self.ident = (self.ident + 1) & 0xffff or 1
        return self.ident

    def emit_frags(self, src, dst, seg, v6, order=None):
        """Valid fragments of one L4 segment (in order unless order given)."""
        n = self.rnd.randrange(2, 4)
        step = max(8, (len(seg) // n) & ~7)
        pieces = [(o, seg[o:o + step]) for o in range(0, len(seg), step)]
        ident = self.nid() | (self.rnd.randrange(1 << 16) << 16)
        for o, p in pieces if order is None else order(pieces):
            mf = o + len(p) < len(seg)
            if v6:
                self.emit(ip6(src, dst, 44, frag6(17, o // 8, mf, ident) + p), True)
            else:
                self.emit(ip4(src, dst, 17, p, ident=ident & 0xffff, frag=(0x2000 if mf else 0) | (o // 8)))

    # -- fuzz packets
    def rand_addr(self, v6):
        r = self.rnd
        pick = r.random()
        if v6:
            if pick < 0.35:
                return a6("fd10:0:0:%x::%x" % (r.randrange(0x10), r.randrange(0x10000)))
            if pick < 0.55:
                return a6(GW6)
            if pick < 0.65:
                return a6(ORIG6)
            if pick < 0.7:
                return a6(r.choice(("::1", "ff02::1", "::", "fe80::1", "fd11::1")))
            return bytes(r.randrange(256) for _ in range(16))
        if pick < 0.35:
            return a4("10.10.%d.%d" % (r.randrange(8), r.randrange(256)))
        if pick < 0.55:
            return a4(GW4)
        if pick < 0.65:
            return a4(ORIG4)
        if pick < 0.7:
            return a4(r.choice(("127.0.0.1", "255.255.255.255", "0.0.0.0", "224.0.0.1", "10.1.0.255")))
        return bytes(r.randrange(256) for _ in range(4))

    def rand_src(self, v6):
        r = self.rnd
        if r.random() < 0.6:
            return a6(SND6) if v6 else a4(SND4)
        return self.rand_addr(v6)

    def rand_port(self):
        r = self.rnd
        return r.choice((0, 65535, 5060, 5061, 5050, 7000, 7999, 8000, 9999, ORIG_PORT, 9100,
                         r.randrange(65536), r.randrange(65536)))

    def rand_l4(self, src, dst, proto):
        r = self.rnd
        sp, dp = self.rand_port(), self.rand_port()
        data = bytes(r.randrange(256) for _ in range(r.choice((0, 1, 7, 20, 100, r.randrange(1500)))))
        if proto == 17:
            seg = udp(src, dst, sp, dp, data, good=r.random() < 0.7)
            if r.random() < 0.2:
                ln = r.choice((0, 1, 7, 8, 9, 65535, r.randrange(65536)))
                seg = seg[:4] + struct.pack("!H", ln) + seg[6:]
        elif proto == 6:
            flags = r.choice((0x02, 0x10, 0x12, 0x04, 0x01, 0x11, 0x18, 0x03, 0x06, 0x3f, 0xff, 0, r.randrange(256)))
            opts = bytes(r.randrange(256) for _ in range(r.choice((0, 4, 8, 12, 40))))
            doff = 5 + len(opts) // 4 if r.random() < 0.8 else r.randrange(16)
            seg = tcp(src, dst, sp, dp, r.randrange(1 << 32), r.randrange(1 << 32), flags, data,
                      doff=doff, opts=opts, good=r.random() < 0.8)
        else:
            seg = data
        if r.random() < 0.25:
            seg = seg[:r.randrange(len(seg) + 1)]       # truncated L4 header or data
        return seg

    def ip4_opts(self):
        r = self.rnd
        k = r.randrange(6)
        if k == 0:
            return bytes(r.randrange(256) for _ in range(r.randrange(1, 41)))
        if k == 1:      # record route / LSRR / SSRR with odd pointers and lengths
            t = r.choice((7, 131, 137))
            n = r.randrange(0, 10)
            return struct.pack("!BBB", t, r.choice((3 + 4 * n, r.randrange(256))), r.choice((4, 5, r.randrange(256)))) + \
                bytes(r.randrange(256) for _ in range(4 * n))
        if k == 2:      # timestamp
            n = r.randrange(0, 9)
            return struct.pack("!BBBB", 68, r.choice((4 + 4 * n, r.randrange(256))), r.choice((5, 9, r.randrange(256))),
                               r.randrange(256)) + bytes(4 * n)
        if k == 3:      # router alert, NOPs, EOL in the middle
            return b"\x94\x04\x00\x00" + b"\x01" * r.randrange(8) + b"\x00" + bytes(r.randrange(256) for _ in range(3))
        if k == 4:      # a length running past the header
            return struct.pack("!BB", r.randrange(256), r.randrange(40, 256)) + bytes(r.randrange(10))
        return b"\x01" * r.randrange(1, 40)

    def fuzz4(self):
        r = self.rnd
        src, dst = self.rand_src(False), self.rand_addr(False)
        proto = r.choice((17, 17, 6, 6, 1, r.randrange(256)))
        if proto == 1:
            return self.icmp4_err(src, dst)
        seg = self.rand_l4(src, dst, proto)
        opts = self.ip4_opts() if r.random() < 0.3 else b""
        k = r.random()
        frag = 0
        if k < 0.1:
            frag = 0x2000                                # first fragment: MF, offset 0
        elif k < 0.2:
            frag = (0x2000 if r.random() < 0.5 else 0) | r.randrange(1, 8192)  # non-first
        elif k < 0.25:
            return self.overlap4(src, dst, proto)
        elif k < 0.28:
            frag = 0x4000 | r.randrange(1 << 13)          # DF with an offset
        tlen = None
        if r.random() < 0.1:
            tlen = r.choice((0, 19, 20, 21, 65535, r.randrange(65536)))
        ihl = None
        if r.random() < 0.05:
            ihl = r.randrange(16)
        return ip4(src, dst, proto, seg, ident=self.nid(), frag=frag, opts=opts[:40], tlen=tlen, ihl=ihl,
                   ttl=r.choice((0, 1, 64, 255)), bad_csum=r.random() < 0.03)

    def overlap4(self, src, dst, proto):
        """Fragments of a datagram that overlap, repeat or leave holes."""
        r = self.rnd
        seg = self.rand_l4(src, dst, proto) + bytes(r.randrange(8, 600))
        ident = self.nid()
        for _ in range(r.randrange(2, 6)):
            off = r.randrange(0, max(1, len(seg) // 8)) if r.random() < 0.7 else 0
            ln = r.randrange(1, 64) * 8
            p = seg[off * 8:off * 8 + ln] or b"\0" * 8
            mf = r.random() < 0.7
            self.emit(ip4(src, dst, proto, p, ident=ident, frag=(0x2000 if mf else 0) | off))
        return None

    def icmp4_err(self, src, dst):
        """An ICMP error quoting a steered flow (as the daemon would send it:
        from the intercepted destination to the client), truncated or not."""
        r = self.rnd
        inner_src = a4(r.choice(("10.10.1.1", "10.10.5.9", GW4, ORIG4)))
        inner_dst = a4(SND4) if r.random() < 0.7 else self.rand_addr(False)
        iproto = r.choice((17, 6, r.randrange(256)))
        l4 = udp(inner_src, inner_dst, r.choice((5060, 7000, 8000, ORIG_PORT)), r.randrange(65536), b"x" * 8) \
            if iproto != 6 else tcp(inner_src, inner_dst, r.choice((5060, 8000)), r.randrange(65536), r.randrange(1 << 32), 0, 0x12)
        inner = ip4(inner_src, inner_dst, iproto, l4, opts=self.ip4_opts() if r.random() < 0.2 else b"",
                    frag=r.choice((0, 0, 0x2000, 5)))
        inner = inner[:r.choice((len(inner), 28, 20, 24, r.randrange(len(inner) + 1)))]
        t, c = r.choice(((3, 3), (3, 1), (3, 4), (11, 0), (12, 0), (5, 1), (4, 0), (r.randrange(256), r.randrange(256))))
        body = struct.pack("!BBHI", t, c, 0, r.choice((0, 1280, 576, r.randrange(1 << 32)))) + inner
        body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
        d = inner_src if r.random() < 0.8 else dst
        return ip4(src, d, 1, body, ident=self.nid())

    def ext_chain(self, final_nh, final):
        """An IPv6 extension-header chain ending in final_nh/final."""
        r = self.rnd
        hdrs = []
        for i in range(r.choice((0, 1, 1, 2, 3, 8))):
            hdrs.append(r.choice((0, 43, 60, 44, 51, 59, 135)) if i or r.random() < 0.5 else 0)
        out = final
        nh = final_nh
        for h in reversed(hdrs):
            if h == 44:
                out = frag6(nh, r.choice((0, 0, 1, r.randrange(8192))), r.random() < 0.5, r.randrange(1 << 32)) + out
            elif h == 51:   # AH: length in 4-octet units minus 2
                n = r.randrange(1, 6)
                out = struct.pack("!BBH", nh, n, 0) + bytes(4 * (n + 2) - 4) + out
            elif h == 59:
                out = bytes(r.randrange(256) for _ in range(r.randrange(0, 16)))
                nh = 59
                continue
            else:
                n = r.randrange(0, 4)
                body = bytes(r.randrange(256) for _ in range(8 * n + 6))
                if h == 43:   # routing: type 0 / 2 / 4, segments left
                    body = struct.pack("!BB", r.choice((0, 2, 3, 4, 253)), r.randrange(4)) + body[2:]
                elif r.random() < 0.5:   # valid options: router alert, jumbo, PadN filling
                    opt = r.choice((b"\x05\x02\x00\x00", b"\xc2\x04\x00\x01\x00\x00", b""))
                    pad = 8 * n + 6 - len(opt)
                    body = opt + (b"\x01" + bytes([pad - 2]) + bytes(pad - 2) if pad >= 2 else b"\x00" * pad)
                out = struct.pack("!BB", nh, n if r.random() < 0.9 else r.randrange(256)) + body + out
            nh = h
        return nh, out

    def fuzz6(self):
        r = self.rnd
        src, dst = self.rand_src(True), self.rand_addr(True)
        proto = r.choice((17, 17, 6, 6, 58, r.randrange(256)))
        if proto == 58:
            seg = self.icmp6_err(src, dst)
            dst = seg[1]
            seg = seg[0]
        else:
            seg = self.rand_l4(src, dst, proto)
        k = r.random()
        if k < 0.15:
            return self.overlap6(src, dst, proto, seg)
        nh, payload = self.ext_chain(proto, seg)
        plen = None
        if r.random() < 0.1:
            plen = r.choice((0, 1, 7, 8, 40, 65535, r.randrange(65536)))
        if r.random() < 0.1:
            payload = payload[:r.randrange(len(payload) + 1)]
        return ip6(src, dst, nh, payload, plen=plen, hlim=r.choice((0, 1, 64, 255)))

    def overlap6(self, src, dst, proto, seg):
        r = self.rnd
        seg = seg + bytes(r.randrange(8, 400))
        ident = r.randrange(1 << 32)
        for _ in range(r.randrange(2, 6)):
            off = r.randrange(0, max(1, len(seg) // 8)) if r.random() < 0.7 else 0
            ln = r.randrange(1, 64) * 8
            p = seg[off * 8:off * 8 + ln] or b"\0" * 8
            pre = b""
            if r.random() < 0.3:     # a header after the fragment header (RFC 8200 says: not allowed in non-first)
                pre = struct.pack("!BB", 60, 0) + b"\x01\x04\0\0\0\0"
            self.emit(ip6(src, dst, 44, frag6(60 if pre else proto, off, r.random() < 0.7, ident) +
                          (pre[:1].replace(b"\x3c", bytes([proto])) + pre[1:] if pre else b"") + p), True)
        return None

    def icmp6_err(self, src, dst):
        r = self.rnd
        inner_src = a6(r.choice(("fd10::1", "fd10:0:0:5::9", GW6, ORIG6)))
        inner_dst = a6(SND6) if r.random() < 0.7 else self.rand_addr(True)
        l4 = udp(inner_src, inner_dst, r.choice((5060, 7000, 8000, ORIG_PORT)), r.randrange(65536), b"x" * 8)
        nh, chain = self.ext_chain(17, l4) if r.random() < 0.4 else (17, l4)
        inner = ip6(inner_src, inner_dst, nh, chain)
        inner = inner[:r.choice((len(inner), 48, 40, 44, r.randrange(len(inner) + 1)))]
        t, c = r.choice(((1, 4), (1, 3), (1, 0), (2, 0), (3, 0), (4, 1), (128, 0), (r.randrange(256), 0)))
        body = struct.pack("!BBHI", t, c, 0, r.choice((0, 1280, r.randrange(1 << 32)))) + inner
        d = inner_src if r.random() < 0.8 else dst
        body = body[:2] + struct.pack("!H", l4sum(src, d, 58, body)) + body[4:]
        return body, d

    def fuzz(self):
        v6 = self.rnd.random() < 0.5
        p = self.fuzz6() if v6 else self.fuzz4()
        if p is not None:
            if self.rnd.random() < 0.02:    # random bytes after a valid-looking version nibble
                p = bytes([p[0]]) + bytes(self.rnd.randrange(256) for _ in range(self.rnd.randrange(1, 80)))
            self.emit(p, v6)
        self.sent["fuzz"] += 1

    def drain_replies(self):
        """Reference SYNs: a SYN-ACK means steered to the daemon's listener,
        a RST means the closed port answered (not steered)."""
        while True:
            try:
                f = self.sniff.recv(65535)
            except BlockingIOError:
                return
            if len(f) < 14 or f[6:12] != GW_MAC:
                continue
            et = struct.unpack("!H", f[12:14])[0]
            if et == ETH_P_IP and len(f) >= 14 + 20 and f[14 + 9] == 6:
                ihl = (f[14] & 15) * 4
                th = f[14 + ihl:]
                v6 = False
            elif et == ETH_P_IPV6 and len(f) >= 54 and f[14 + 6] == 6:
                th = f[54:]
                v6 = True
            else:
                continue
            if len(th) < 14:
                continue
            sp, dp = struct.unpack("!HH", th[:4])
            tag = self.syns.pop((v6, dp, sp), None)
            if tag is None:
                continue
            fl = th[13]
            where = "synack" if fl & 0x12 == 0x12 else ("rst" if fl & 0x04 else "tcp-%x" % fl)
            log_line(self.a.replies, "%s %s" % (tag, where))


def run_send(a):
    snd = Sender(a)
    a.replies = open(a.log + ".replies", "w")
    t_end = time.monotonic() + a.seconds
    n = 0
    while time.monotonic() < t_end:
        if n % 4 == 0:
            snd.ref()
        else:
            snd.fuzz()
        n += 1
        if n % 16 == 0:
            snd.drain_replies()
            time.sleep(0.002)
    time.sleep(1)
    snd.drain_replies()
    print("# sent %d fuzz and %d reference packets in %d s (seed %d)" %
          (snd.sent["fuzz"], snd.sent["ref"], a.seconds, a.seed))
    queued, dropped = struct.unpack("II", snd.sniff.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    print("# reply sniffer: %d frames, %d dropped (its receive queue full)" % (queued, dropped))
    with open(a.log + ".sniffer", "w") as f:
        f.write("sniffer-dropped %d\n" % dropped)
    return 0


# ---------------------------------------------------------------- check

def run_check(a):
    exp = {}
    kinds = {}
    for path in a.expected:
        with open(path) as f:
            for line in f:
                tag, where, kind = line.split()
                exp[tag] = where
                kinds[tag] = kind
    got = {}
    dup = []
    for path in a.logs:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 2:
                    continue
                tag, where = parts
                if tag in got:
                    dup.append((tag, got[tag], where))
                got[tag] = where
    wrong = [(t, exp.get(t), w, kinds.get(t)) for t, w in got.items() if exp.get(t) != w]
    # "none": the packet must not arrive anywhere (it counts as delivered
    # when it did not).
    per = {}
    for t, kind in kinds.items():
        d, r = per.setdefault(kind, [0, 0])
        per[kind] = [d + ((t in got) != (exp[t] == "none")), r + 1]
    delivered = sum(1 for t in exp if (t in got) != (exp[t] == "none"))
    print("# reference packets: %d sent, %d arrived, %d at the wrong place, %d twice" %
          (len(exp), delivered, len(wrong), len(dup)))
    print("# per kind (arrived/sent): " + " ".join("%s %d/%d" % (k, v[0], v[1]) for k, v in sorted(per.items())))
    for t, e, w, k in wrong[:10]:
        print("# wrong: tag %s (%s) expected at %s, arrived at %s" % (t, k, e, w))
    for t, w1, w2 in dup[:10]:
        print("# twice: tag %s at %s and %s" % (t, w1, w2))
    fail = False
    if wrong or dup:
        fail = True
    if a.drops:
        fail |= not explained(a.drops, exp, got, kinds)
    elif len(exp) == 0 or delivered < a.min_delivered * len(exp):
        print("# too few reference packets arrived: %d of %d (want >= %.0f%%)" %
              (delivered, len(exp), 100 * a.min_delivered))
        fail = True
    missing = [k for k, (d, r) in per.items() if r >= 3 and d == 0]
    if missing:
        print("# no reference packet of these kinds arrived: %s" % " ".join(sorted(missing)))
        fail = True
    return 1 if fail else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="role", required=True)
    d = sub.add_parser("daemon")
    d.add_argument("--log", required=True)
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--no-replace", action="store_true")
    s = sub.add_parser("sink")
    s.add_argument("--log", required=True)
    x = sub.add_parser("send")
    x.add_argument("--log", required=True)
    x.add_argument("--dev", required=True)
    x.add_argument("--seconds", type=int, default=60)
    x.add_argument("--seed", type=int, default=1)
    c = sub.add_parser("check")
    c.add_argument("--expected", required=True, action="append")
    c.add_argument("--min-delivered", type=float, default=0.9)
    c.add_argument("--drops", help="counters (pktfuzz_stats.py): fail only on loss they do not account for, "
                   "instead of on fewer than --min-delivered")
    c.add_argument("logs", nargs="+")
    a = p.parse_args()
    return {"daemon": run_daemon, "sink": run_sink, "send": run_send, "check": run_check}[a.role](a)


if __name__ == "__main__":
    sys.exit(main())
