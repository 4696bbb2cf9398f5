#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""RTP for a long SIPp call, and what a capture saw of it (daemon-ha.sh).

  rtplong.py gen OUT.pcap SECONDS [SSRC]
      a pcap (Ethernet) of SECONDS of PCMA RTP, one 160-byte packet every 20 ms, sequence
      numbers 0, 1, ... and timestamps +160 each, one SSRC (0x5A5A0001 unless given): what SIPp's play_pcap_audio sends
      (it takes the timing and the RTP from the file, the addresses and ports from the SDP)
  rtplong.py stat CAPTURE.pcap (--to IP:PORT | --from IP:PORT) [--split T [--skip N]]
      the PCMA RTP packets of the capture (tcpdump -w) sent to (or from) IP:PORT, as one JSON line:
      packets, distinct sequence numbers, first..last, lost (missing between the first and the
      last), longest gap between two arrivals in ms and when it started (s after the first),
      the source addresses seen; with --split T (Unix time) the same for the packets before
      and after T ("before", "after"); --skip N: packets numbered below N are left out
"""
import json
import struct
import sys


def gen(out, seconds, ssrc=0x5A5A0001):
    n = int(seconds * 50)
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            rtp = struct.pack(">BBHII", 0x80, 8, i & 0xFFFF, (i * 160) & 0xFFFFFFFF, ssrc) + b"\xd5" * 160
            udp = struct.pack(">HHHH", 7300, 7230, 8 + len(rtp), 0) + rtp
            ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                             bytes([10, 1, 0, 2]), bytes([10, 2, 0, 2])) + udp
            eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip
            t = i * 0.02
            f.write(struct.pack("<IIII", int(t), int(round((t - int(t)) * 1e6)), len(eth), len(eth)))
            f.write(eth)


def packets(path):
    """(time, src, sport, dst, dport, payload) of every IPv4 UDP packet of a pcap"""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    else:
        e = ">"
        magic = struct.unpack(">I", data[:4])[0]
    nano = magic == 0xA1B23C4D
    link = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        t = sec + frac / (1e9 if nano else 1e6)
        if link == 1:  # Ethernet
            if len(pkt) < 14 or pkt[12:14] != b"\x08\x00":
                continue
            pkt = pkt[14:]
        elif link == 113:  # Linux cooked (tcpdump -i any)
            if len(pkt) < 16 or pkt[14:16] != b"\x08\x00":
                continue
            pkt = pkt[16:]
        elif link == 276:  # Linux cooked v2
            if len(pkt) < 20 or pkt[0:2] != b"\x08\x00":
                continue
            pkt = pkt[20:]
        if len(pkt) < 28 or pkt[0] >> 4 != 4 or pkt[9] != 17:
            continue
        ihl = (pkt[0] & 15) * 4
        src = ".".join(map(str, pkt[12:16]))
        dst = ".".join(map(str, pkt[16:20]))
        sport, dport = struct.unpack(">HH", pkt[ihl:ihl + 4])
        yield t, src, sport, dst, dport, pkt[ihl + 8:]


def summary(rows):
    if not rows:
        return {"packets": 0}
    seqs = []
    base = None
    for _, _, s in rows:  # extended sequence numbers (a wrap every 65536 packets)
        if base is None:
            base = s
            ext = s
        else:
            d = (s - (last & 0xFFFF)) & 0xFFFF
            ext = last + (d if d < 0x8000 else d - 0x10000)
        last = ext
        seqs.append(ext)
    distinct = set(seqs)
    gap, at = 0.0, 0.0
    for a, b in zip(rows, rows[1:]):
        if b[0] - a[0] > gap:
            gap, at = b[0] - a[0], a[0] - rows[0][0]
    return {"packets": len(rows), "distinct": len(distinct), "first": min(distinct), "last": max(distinct),
            "lost": max(distinct) - min(distinct) + 1 - len(distinct), "gap_ms": round(gap * 1000, 1),
            "gap_at_s": round(at, 1), "duration_s": round(rows[-1][0] - rows[0][0], 1),
            "sources": sorted({r[1] for r in rows})}


def stat(args):
    path, how, ep = args[0], args[1], args[2]
    split = float(args[4]) if len(args) > 4 and args[3] == "--split" else None
    skip = int(args[6]) if len(args) > 6 and args[5] == "--skip" else 0
    ip, port = ep.rsplit(":", 1)
    port = int(port)
    rows = []
    for t, src, sport, dst, dport, pl in packets(path):
        if how == "--to" and (dst, dport) != (ip, port):
            continue
        if how == "--from" and (src, sport) != (ip, port):
            continue
        if len(pl) < 12 or pl[0] >> 6 != 2 or pl[1] & 0x7F != 8:  # PCMA only (no telephone-event)
            continue
        seq = struct.unpack(">H", pl[2:4])[0]
        if seq >= skip:  # (the calls here are shorter than 65536 packets: no wrap)
            rows.append((t, "%s:%d" % (src, sport), seq))
    out = summary(rows)
    if split is not None:
        out["before"] = summary([r for r in rows if r[0] < split])
        out["after"] = summary([r for r in rows if r[0] >= split])
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) in (4, 5) and sys.argv[1] == "gen":
        gen(sys.argv[2], float(sys.argv[3]), *[int(x, 0) for x in sys.argv[4:]])
    elif len(sys.argv) in (5, 7, 9) and sys.argv[1] == "stat" and sys.argv[3] in ("--to", "--from"):
        stat(sys.argv[2:])
    else:
        sys.exit(__doc__)
