# SPDX-License-Identifier: GPL-2.0
"""Packets originated on the gateway itself into sipovl.ko's LOCAL_OUT hooks
(run by pktfuzz.sh in the gateway namespace while pktfuzz.py's daemon and
sink run; see Documentation/testing.md, "The packet fuzzer").

Two processes:

  root  raw sockets (IPPROTO_RAW, the header written by the sender) with
        pktfuzz.py's malformed IPv4/IPv6 packets (options, extension-header
        chains, fragments, truncated TCP/UDP, ICMP errors) and valid
        reference datagrams: from a local address (steered or not as CORE
        says) and from a source sipovl claims (10.20/16, fd20::/48: must be
        dropped); transparent sockets (the daemon's kind) sending from a
        claimed source (must pass, never steered) and from a foreign source
        nobody claims (must be dropped).
  user  (uid 65534) ordinary sockets: UDP datagrams, UDP_SEGMENT sends,
        datagrams IP fragmentation splits, TCP streams, all to intercepted
        and other destinations (steered through loopback or not as CORE
        says); IPV6_FREEBIND/IP_FREEBIND sockets using a claimed source
        (must be dropped); random datagrams anywhere.

Tags and expected places as in pktfuzz_gso.py; pktfuzz.py check compares.
"""
import argparse
import os
import random
import socket
import struct
import sys
import threading
import time
import traceback

from pktfuzz import Sender, GW4, GW6, a4, a6, ip4, ip6, udp, log_line  # noqa: F401
from pktfuzz_gso import Refs, udp_target, tcp_stream, SOL_UDP, UDP_SEGMENT

IP_TRANSPARENT = 19
IPV6_TRANSPARENT = 75
IP_FREEBIND = 15
IPV6_FREEBIND = 78
CLAIMED4, CLAIMED6 = "10.20.0.9", "fd20::9"      # in the daemon's source ranges
TSRC4, TSRC6 = "10.20.0.6", "fd20::6"            # a transparent socket's, claimed
FOREIGN4, FOREIGN6 = "10.30.0.6", "fd30::6"      # claimed by nobody
ROOT_BASE, USER_BASE = 9000000000, 9500000000


def tagged(tag, size):
    return b"REF" + tag.encode() + bytes(max(0, size - 13))


class RawSender(Sender):
    """pktfuzz.py's packet generators, written with raw sockets."""

    def __init__(self, seed):   # pylint: disable=super-init-not-called
        self.rnd = random.Random(seed)
        self.sent = {"fuzz": 0, "ref": 0}
        self.ident = 1
        self.raw = {False: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW),
                    True: socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)}
        self.errors = 0

    def emit(self, pkt, v6=False):
        try:
            if v6:
                dst = socket.inet_ntop(socket.AF_INET6, pkt[24:40]) if len(pkt) >= 40 else "::1"
            else:
                dst = socket.inet_ntop(socket.AF_INET, pkt[16:20]) if len(pkt) >= 20 else "127.0.0.1"
            self.raw[v6].sendto(pkt, (dst, 0))
        except (OSError, ValueError):
            self.errors += 1

    def rand_src(self, v6):
        r = self.rnd
        k = r.random()
        if k < 0.4:
            return a6(GW6) if v6 else a4(GW4)
        if k < 0.6:
            return a6(CLAIMED6) if v6 else a4(CLAIMED4)
        return self.rand_addr(v6)


def run_root(a, refs):
    rs = RawSender(a.seed ^ 0x10c)
    r = rs.rnd
    tsock = {}
    for v6, src in ((False, TSRC4), (True, TSRC6), (False, FOREIGN4), (True, FOREIGN6)):
        s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        if v6:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
        else:
            s.setsockopt(socket.IPPROTO_IP, IP_TRANSPARENT, 1)
        s.bind((src, 0))
        tsock[src] = s
    counts = {"raw-fuzz": 0, "raw-ref": 0, "transparent": 0}
    t_end = time.monotonic() + a.seconds
    while time.monotonic() < t_end:
        v6 = r.random() < 0.5
        k = r.random()
        if k < 0.6:
            rs.fuzz()
            counts["raw-fuzz"] += 1
        elif k < 0.85:
            kind, dst, dport, where = udp_target(r, v6)
            src = GW6 if v6 else GW4
            if r.random() < 0.3:
                src, where, kind = (CLAIMED6 if v6 else CLAIMED4), "none", "claimed-" + kind
            tag = refs.new(where, "raw-%s%s" % (kind, "6" if v6 else "4"))
            s, d = (a6(src), a6(dst)) if v6 else (a4(src), a4(dst))
            seg = udp(s, d, r.randrange(20000, 60000), dport, tagged(tag, r.randrange(13, 1200)))
            rs.emit(ip6(s, d, 17, seg) if v6 else ip4(s, d, 17, seg, ident=rs.nid()), v6)
            counts["raw-ref"] += 1
        else:
            # A transparent socket: never steered, its source policed.
            kind, dst, dport, _ = udp_target(r, v6)
            if dst in (GW4, GW6):
                continue
            claimed = r.random() < 0.6
            src = (TSRC6 if v6 else TSRC4) if claimed else (FOREIGN6 if v6 else FOREIGN4)
            tag = refs.new("sink" if claimed else "none",
                           "transparent-%s%s" % ("claimed" if claimed else "foreign", "6" if v6 else "4"))
            try:
                tsock[src].sendto(tagged(tag, r.randrange(13, 1200)), (dst, dport))
            except PermissionError:
                pass    # EPERM: LOCAL_OUT dropped it (the foreign source)
            except OSError as e:
                print("# transparent send from %s: %s" % (src, e), file=sys.stderr)
            counts["transparent"] += 1
        time.sleep(0.004)
    print("# local root: %s (raw sends refused: %d)" % (" ".join("%s %d" % kv for kv in counts.items()), rs.errors))


def run_user(a, refs):
    r = random.Random(a.seed ^ 0x05e4)
    fam = {False: socket.AF_INET, True: socket.AF_INET6}
    socks = {v6: socket.socket(fam[v6], socket.SOCK_DGRAM) for v6 in (False, True)}
    free = {}
    for v6, src in ((False, CLAIMED4), (True, CLAIMED6)):
        s = socket.socket(fam[v6], socket.SOCK_DGRAM)
        if v6:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)
        else:
            s.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
        s.bind((src, 0))
        free[v6] = s
    slots = threading.Semaphore(2)
    threads = []
    counts = {"udp": 0, "gso": 0, "fragmented": 0, "freebind": 0, "tcp": 0, "random": 0, "errors": 0}
    t_end = time.monotonic() + a.seconds
    while time.monotonic() < t_end:
        v6 = r.random() < 0.5
        k = r.random()
        kind, dst, dport, where = udp_target(r, v6)
        f = "6" if v6 else "4"
        try:
            if k < 0.25:
                socks[v6].setsockopt(SOL_UDP, UDP_SEGMENT, 0)
                socks[v6].sendto(tagged(refs.new(where, "user-" + kind + f), r.randrange(13, 1400)), (dst, dport))
                counts["udp"] += 1
            elif k < 0.45:
                size = r.randrange(64, 1400)
                n = r.randrange(2, min(64, 60000 // size))
                buf = b"".join(tagged(refs.new(where, "user-gso-" + kind + f), size) for _ in range(n))
                socks[v6].setsockopt(SOL_UDP, UDP_SEGMENT, size)
                socks[v6].sendto(buf, (dst, dport))
                counts["gso"] += 1
            elif k < 0.55:
                socks[v6].setsockopt(SOL_UDP, UDP_SEGMENT, 0)
                socks[v6].sendto(tagged(refs.new(where, "user-big-" + kind + f), r.randrange(1500, 9000)),
                                 (dst, dport))
                counts["fragmented"] += 1
            elif k < 0.65:
                tag = refs.new("none", "user-freebind-" + kind + f)
                try:
                    free[v6].sendto(tagged(tag, r.randrange(13, 600)), (dst, dport))
                except OSError:
                    pass    # IPv4 refuses a foreign source without IP_TRANSPARENT
                counts["freebind"] += 1
            elif k < 0.7:
                if slots.acquire(blocking=False):
                    th = threading.Thread(target=tcp_stream, args=(refs, random.Random(r.randrange(1 << 30)), v6,
                                                                   slots), daemon=True)
                    th.start()
                    threads.append(th)
                    counts["tcp"] += 1
            else:
                d = r.choice((dst, GW6 if v6 else GW4, "fd10::%x" % r.randrange(1 << 16) if v6 else
                              "10.10.%d.%d" % (r.randrange(256), r.randrange(256))))
                socks[v6].setsockopt(SOL_UDP, UDP_SEGMENT, r.choice((0, 0, 8, 100, 1400)))
                socks[v6].sendto(bytes(r.randrange(256) for _ in range(r.choice((0, 1, 100, 3000)))),
                                 (d, r.choice((0, 65535, 5060, 7000, 8000, 9100, r.randrange(65536)))))
                counts["random"] += 1
        except OSError as e:
            counts["errors"] += 1
            if counts["errors"] <= 5:
                print("# user send: %s" % e, file=sys.stderr)
        time.sleep(0.004)
    for th in threads:
        th.join(120)
    print("# local user: %s" % " ".join("%s %d" % kv for kv in counts.items()))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--uid", type=int, default=65534)
    a = p.parse_args()
    uref = Refs(a.log + ".user", USER_BASE)
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        os.setgroups([])
        os.setgid(a.uid)
        os.setuid(a.uid)
        rc = 1
        try:
            run_user(a, uref)
            rc = 0
        except Exception:   # noqa: BLE001 (reported, and the exit status says so)
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(rc)
    run_root(a, Refs(a.log, ROOT_BASE))
    _, st = os.waitpid(pid, 0)
    return 0 if os.waitstatus_to_exitcode(st) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
