# SPDX-License-Identifier: GPL-2.0
"""The kernel's drop counters around pktfuzz.sh's packet part (see
Documentation/testing.md, "The packet fuzzer").

  snap FILE          (in a namespace) its SNMP counters (/proc/net/snmp,
                     snmp6, netstat), its links' statistics, the per-CPU
                     backlog drops (/proc/net/softnet_stat) and the drops
                     of each UDP socket (/proc/net/udp, udp6), as JSON
explained() is pktfuzz.py check's attribution of lost reference packets.

  diff BEFORE AFTER [TOTAL]
                     the drop and error counters that changed (with TOTAL,
                     every changed counter appended to that file)
"""
import json
import os
import sys

DROPS = ("Err", "Drop", "Discard", "Fail", "Overflow", "dropped", "Timeout", "NoPorts", "errors",
         "Prune", "Collapse", "Ofo", "backlog", "squeeze", "neigh-")


def snmp(path, out):
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except OSError:
        return
    if path.endswith("snmp6"):
        for ln in lines:
            p = ln.split()
            if len(p) == 2:
                out[p[0]] = int(p[1])
        return
    for h, v in zip(lines[0::2], lines[1::2]):
        hp, vp = h.split(), v.split()
        for k, x in zip(hp[1:], vp[1:]):
            out[hp[0] + k] = int(x)


def udp_socks(out):
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                rows = f.read().split("\n")[1:]
        except OSError:
            continue
        for ln in rows:
            p = ln.split()
            if len(p) < 13:
                continue
            port = int(p[1].split(":")[1], 16)
            rxq = int(p[4].split(":")[1], 16)
            key = "sock-%s-%d-inode%s" % (os.path.basename(path), port, p[9])
            out[key + "-drops"] = int(p[12])
            out[key + "-rx_queue"] = rxq


def neigh(out):
    """The neighbour tables' failures (global, summed over the CPUs): a packet
    queued for an address being resolved and dropped (the queue full, or the
    resolution failed)."""
    for t in ("arp_cache", "ndisc_cache"):
        try:
            with open("/proc/1/net/stat/" + t) as f:    # only the initial namespace has it; global
                rows = [ln.split() for ln in f.read().split("\n") if ln.strip()]
        except OSError:
            continue
        for k in ("res_failed", "unresolved_discards", "table_fulls"):
            if k in rows[0]:
                i = rows[0].index(k)
                out["neigh-%s-%s" % (t, k)] = sum(int(r[i], 16) for r in rows[1:] if len(r) > i)


def snap(path):
    out = {}
    for p in ("/proc/net/snmp", "/proc/net/snmp6", "/proc/net/netstat"):
        snmp(p, out)
    for dev in sorted(os.listdir("/sys/class/net")):
        sd = "/sys/class/net/%s/statistics" % dev
        for k in ("rx_dropped", "tx_dropped", "rx_errors", "tx_errors", "rx_missed_errors"):
            try:
                with open(os.path.join(sd, k)) as f:
                    out["link-%s-%s" % (dev, k)] = int(f.read())
            except OSError:
                pass
    with open("/proc/net/softnet_stat") as f:
        for cpu, ln in enumerate(f):
            p = ln.split()
            out["softnet-cpu%d-dropped" % cpu] = int(p[1], 16)
            out["softnet-cpu%d-time_squeeze" % cpu] = int(p[2], 16)
    udp_socks(out)
    neigh(out)
    with open(path, "w") as f:
        json.dump(out, f)


def diff(a, b, total=None):
    """Prints the changed drop counters; with total (a file), appends
    "KEY DELTA" lines of every changed counter to it for pktfuzz.py check."""
    with open(a) as f:
        x = json.load(f)
    with open(b) as f:
        y = json.load(f)
    if total:
        with open(total, "a") as f:
            for k in sorted(y):
                if y[k] - x.get(k, 0):
                    f.write("%s %d\n" % (k, y[k] - x.get(k, 0)))
    out = []
    for k in sorted(y):
        d = y[k] - x.get(k, 0)
        if k.endswith("-rx_queue"):
            if y[k]:
                out.append("%s %d" % (k, y[k]))
        elif d and any(s in k for s in DROPS):
            out.append("%s %d" % (k, d))
    print(" ".join(out) if out else "none")


# pktfuzz.py send's kinds (its tags count up through the run)
SENDER_KINDS = ("fwd-sip", "fwd-overlap", "fwd-none", "local-udp", "local-none", "orig", "frag",
                "syn-steered", "syn-closed")
MAX_TAGS_PER_SKB = 64     # a super-packet's segments (pktfuzz_gso.py, pktfuzz_local.py)


def explained(path, exp, got, kinds):
    """Every missing reference packet must be one the kernel counted as
    dropped on its way (pktfuzz_stats.py's counters over the packet part,
    the lines of all three namespaces): an skb the per-CPU backlog or a
    veth/loopback link dropped, a datagram a socket had no room for, a
    datagram whose fragments were not reassembled, a reference SYN's reply
    the sender's own sniffer dropped (sniffer-dropped, PACKET_STATISTICS). A dropped skb is
    allowed MAX_TAGS_PER_SKB tags. Prints the attribution; False when
    some loss is not accounted for."""
    cnt = {}
    with open(path) as f:
        for line in f:
            k, v = line.split()
            if k.startswith(("softnet-", "neigh-")):    # global: the same in every namespace
                cnt[k] = max(cnt.get(k, 0), int(v))
            else:
                cnt[k] = cnt.get(k, 0) + int(v)

    def total(pred):
        return sum(v for k, v in cnt.items() if pred(k) and v > 0)
    backlog = total(lambda k: k.startswith("softnet-") and k.endswith("-dropped"))
    links = total(lambda k: k.startswith("link-") and "dropped" in k)
    sockets = total(lambda k: k in ("Udp:RcvbufErrors", "Udp6RcvbufErrors", "Udp:MemErrors", "Udp6MemErrors",
                                    "TcpExt:ListenOverflows", "TcpExt:ListenDrops", "TcpExt:TCPBacklogDrop"))
    reasm = total(lambda k: k in ("Ip:ReasmFails", "Ip6ReasmFails"))
    sniffer = total(lambda k: k == "sniffer-dropped")
    skbs = max(backlog, links)
    missing = [t for t in exp if exp[t] != "none" and t not in got]
    frag = [t for t in missing if kinds[t].startswith(("frag", "user-big"))]
    syn = [t for t in missing if kinds[t].startswith("syn")]
    rest = len(missing) - len(frag) - len(syn)
    # Fragments first count against reassembly failures, reference SYNs
    # (seen by their reply) against the replies the sender's sniffer
    # dropped, the rest of them against dropped skbs like any other packet.
    over = max(0, len(frag) - reasm) + max(0, len(syn) - sniffer)
    room = MAX_TAGS_PER_SKB * (skbs + sockets)
    print("# missing reference packets: %d (%d of fragmented datagrams, %d SYNs without a reply); counted drops: "
          "%d skbs in the backlog, %d at links, %d at sockets, %d reassemblies failed, %d replies the sniffer "
          "dropped" % (len(missing), len(frag), len(syn), backlog, links, sockets, reasm, sniffer))
    if syn:
        # where in the run they were sent (tags count up): the end, or all along
        mine = sorted(t for t in kinds if kinds[t][:-1] in SENDER_KINDS)
        print("# reference SYNs without a reply: %s (the sender's tags ran from %s to %s)" %
              (" ".join(sorted(syn)[:20]), mine[0], mine[-1]))
    if rest + over > room:
        print("# unexplained loss: %d missing reference packets are not accounted for by the drops counted "
              "(room for %d)" % (rest + over, room))
        return False
    return True


def main():
    if sys.argv[1] == "snap":
        snap(sys.argv[2])
    else:
        diff(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
