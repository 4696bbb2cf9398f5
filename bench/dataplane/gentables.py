#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Intercept tables for the data-plane benchmark, in every data plane's format.

    gentables.py OUTDIR [--seed S] [--sizes 1,1000,10000] [--load-sizes 10000,100000]
                 [--fib 100000]

For each size N of --sizes, the same N intercepts as
  sipovl-N.conf     sipovlctl apply file (proto tcp,udp each)
  ipt-N.rules       iptables-restore input, table mangle: PREROUTING jumps to
                    DP_UDP (-p udp) and DP_TCP (-p tcp), each with one TPROXY
                    rule per intercept (so 2N TPROXY rules, N per protocol)
  nft-N.nft         nft -f input: one concatenated interval set
                    (ipv4_addr . inet_service, N elements) used by a udp and a
                    tcp tproxy rule
The first N-1 intercepts are random; the last one is the one the benchmark
traffic hits: 10.2.0.0/24 ports 5060-5061 (so iptables walks every rule of
its protocol's chain before matching: the worst case for a linear list).

For each size M of --load-sizes: sipovl-load-M.conf (random, for apply
timing) and, up to 10000, ipt-udp-M.rules (M UDP TPROXY rules in PREROUTING, the form of
the reference figures, for iptables-restore timing).

For --fib R (0: none): fib-R.batch, `ip -batch` input of R IPv4 routes for
the gateway's main table (the anti-spoof FIB lookups of a large routing
table): 252 host routes 10.1.0.X/32 dev g0 (X = 3-254: the addresses of
the client's /24 above the client's own, so the lookups of the client's
address descend to a full node of /32 leaves and back up to the connected
/24), then R - 252 distinct random prefixes dev d0, as a BGP table has them:
/24 (60 %), /16-/23 (30 %), /25-/32 (10 %), from 1.0.0.0-223.255.255.255
outside 10.0.0.0/8 and 127.0.0.0/8.

Random intercepts never overlap (nft rejects some overlapping elements of
concatenated interval sets): each lies in its own /24 of 11.0.0.0-99.255.255.0,
as /24 (30 %), /26, /28, /30 (10 % each) or /32 (40 %), with one port range:
a random port 1024-65535 (50 %), a well-known port (20 %), a range of 2-100
ports (25 %) or of 1000-20000 ports (5 %).
"""
import argparse
import os
import random

WELL_KNOWN = [21, 22, 25, 53, 80, 110, 123, 143, 443, 465, 587, 993, 995, 1194,
              1812, 3306, 3478, 5060, 5061, 5432, 8080, 8443]
TARGET = ("10.2.0.0", 24, 5060, 5061)
ON_PORT = 9999


def random_intercepts(rng, n, used):
    out = []
    while len(out) < n:
        blk = (rng.randint(11, 99), rng.randint(0, 255), rng.randint(0, 255))
        if blk in used:
            continue
        used.add(blk)
        r = rng.random()
        plen = 24 if r < .3 else 26 if r < .4 else 28 if r < .5 else 30 if r < .6 else 32
        host = rng.randint(0, 255) & ~((1 << (32 - plen)) - 1) & 0xff
        addr = "%d.%d.%d.%d" % (blk + (host,))
        r = rng.random()
        if r < .5:
            lo = hi = rng.randint(1024, 65535)
        elif r < .7:
            lo = hi = rng.choice(WELL_KNOWN)
        elif r < .95:
            lo = rng.randint(1024, 65000)
            hi = lo + rng.randint(1, 99)
        else:
            lo = rng.randint(1024, 40000)
            hi = lo + rng.randint(999, 19999)
        out.append((addr, plen, lo, hi))
    return out


def fib_routes(rng, r):
    out = ["route add 10.1.0.%d/32 dev g0" % x for x in range(3, 255)]
    seen = set()
    while len(out) < r:
        x = rng.random()
        plen = 24 if x < .6 else rng.randint(16, 23) if x < .9 else rng.randint(25, 32)
        a = rng.randint(1 << 24, (224 << 24) - 1) & ~((1 << (32 - plen)) - 1) & 0xffffffff
        if a >> 24 in (10, 127) or (a, plen) in seen:
            continue
        seen.add((a, plen))
        out.append("route add %d.%d.%d.%d/%d dev d0" %
                   (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, plen))
    return out


def pstr(lo, hi, sep):
    return str(lo) if lo == hi else "%d%s%d" % (lo, sep, hi)


def write(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def tproxy_rule(chain, proto, a, plen, lo, hi):
    return ("-A %s -d %s/%d -p %s -m %s --dport %s -j TPROXY --on-port %d "
            "--on-ip 0.0.0.0 --tproxy-mark 0x1/0x1" %
            (chain, a, plen, proto, proto, pstr(lo, hi, ":"), ON_PORT))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sizes", default="1,1000,10000")
    ap.add_argument("--load-sizes", default="10000,100000")
    ap.add_argument("--fib", type=int, default=0)
    o = ap.parse_args()
    os.makedirs(o.outdir, exist_ok=True)
    if o.fib:
        write(os.path.join(o.outdir, "fib-%d.batch" % o.fib),
              fib_routes(random.Random(o.seed * 104729 + o.fib), o.fib))

    for n in [int(x) for x in o.sizes.split(",") if x]:
        rng = random.Random(o.seed * 1000003 + n)
        ics = random_intercepts(rng, n - 1, set()) + [TARGET]
        write(os.path.join(o.outdir, "sipovl-%d.conf" % n),
              ["intercept r%d id %d proto tcp,udp addr %s/%d port %s" %
               (i + 1, i + 1, a, plen, pstr(lo, hi, "-"))
               for i, (a, plen, lo, hi) in enumerate(ics)])
        ipt = ["*mangle", ":PREROUTING ACCEPT [0:0]", ":DP_UDP - [0:0]",
               ":DP_TCP - [0:0]", "-A PREROUTING -p udp -j DP_UDP",
               "-A PREROUTING -p tcp -j DP_TCP"]
        ipt += [tproxy_rule("DP_UDP", "udp", *ic) for ic in ics]
        ipt += [tproxy_rule("DP_TCP", "tcp", *ic) for ic in ics]
        ipt.append("COMMIT")
        write(os.path.join(o.outdir, "ipt-%d.rules" % n), ipt)
        elems = ",\n\t\t\t".join("%s/%d . %s" % (a, plen, pstr(lo, hi, "-"))
                                   for a, plen, lo, hi in ics)
        write(os.path.join(o.outdir, "nft-%d.nft" % n), [
            "table ip dp {",
            "\tset ic {",
            "\t\ttype ipv4_addr . inet_service",
            "\t\tflags interval",
            "\t\telements = { %s }" % elems,
            "\t}",
            "\tchain pre {",
            "\t\ttype filter hook prerouting priority mangle; policy accept;",
            "\t\tmeta l4proto udp ip daddr . udp dport @ic meta mark set 1 tproxy to :%d accept" % ON_PORT,
            "\t\tmeta l4proto tcp ip daddr . tcp dport @ic meta mark set 1 tproxy to :%d accept" % ON_PORT,
            "\t}",
            "}"])

    for m in [int(x) for x in o.load_sizes.split(",") if x]:
        rng = random.Random(o.seed * 7919 + m)
        ics = random_intercepts(rng, m, set())
        write(os.path.join(o.outdir, "sipovl-load-%d.conf" % m),
              ["intercept l%d id %d proto tcp,udp addr %s/%d port %s" %
               (i + 1, i + 1, a, plen, pstr(lo, hi, "-"))
               for i, (a, plen, lo, hi) in enumerate(ics)])
        if m > 10000:
            continue
        write(os.path.join(o.outdir, "ipt-udp-%d.rules" % m),
              ["*mangle", ":PREROUTING ACCEPT [0:0]"] +
              [tproxy_rule("PREROUTING", "udp", *ic) for ic in ics] + ["COMMIT"])


if __name__ == "__main__":
    main()
