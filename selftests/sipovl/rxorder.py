#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""rxorder.py ME PORT: receive RTP until 10 s of silence (30 s for the first packet); print
"received N late L a1 EXPECTED LOST REORDERED": distinct packets, those that arrived behind a
higher sequence number, and what sipovld's RTP figures (daemon/rtpq.c: RFC 3550 A.1 with its
probation of two packets, the probation packets counted, a 64-packet window for duplicates)
make of the same arrival order (selftests/sipovl/daemon.sh), and the order ("order SEQ...").
Imported, a1() is that model.

rxorder.py --check OUT SENT EXPECTED LOST REORDERED: exit 0 when sipovld's figures are the
model's for the order in OUT (rxorder.py's output) with the packets of 0..SENT-1 that did not
reach this receiver put back where the gateway could have seen them (one at most: every
position among its neighbours' is tried; two or more: not decided, exit 2)."""
import socket, struct, sys

SEQ_MOD, MAX_DROPOUT, MAX_MISORDER, MIN_SEQUENTIAL = 1 << 16, 3000, 100, 2


def a1(seqs):
    """(expected, lost, reordered) of daemon/rtpq.c for one source's sequence numbers in
    arrival order"""
    st = dict(valid=False, prev_exp=0, prev_rx=0, reordered=0)

    def init(s):
        st.update(base=s, max=s, bad=SEQ_MOD + 1, cycles=0, received=0, window=1)

    def expected():
        return st["cycles"] + st["max"] - st["base"] + 1 if st["valid"] else 0

    for i, s in enumerate(seqs):
        if i == 0:
            init(s)
            st["max"] = (s - 1) % SEQ_MOD
            st["probation"] = MIN_SEQUENTIAL
        ud = (s - st["max"]) % SEQ_MOD
        if st["probation"]:
            if s == (st["max"] + 1) % SEQ_MOD:
                st["probation"] -= 1
                st["max"] = s
                if not st["probation"]:
                    init(s)
                    st["base"] = (s - (MIN_SEQUENTIAL - 1)) % SEQ_MOD
                    st["received"] = MIN_SEQUENTIAL
                    st["window"] = (1 << MIN_SEQUENTIAL) - 1
                    st["valid"] = True
            else:
                st["probation"] = MIN_SEQUENTIAL - 1
                st["max"] = s
            continue
        if ud == 0:
            continue
        if ud < MAX_DROPOUT:
            if s < st["max"]:
                st["cycles"] += SEQ_MOD
            st["max"] = s
            st["window"] = 1 if ud >= 64 else (st["window"] << ud | 1) & (2**64 - 1)
        elif ud <= SEQ_MOD - MAX_MISORDER:
            if s == st["bad"]:
                st["prev_exp"] += expected()
                st["prev_rx"] += st["received"]
                init(s)
                st["valid"] = True
            else:
                st["bad"] = (s + 1) % SEQ_MOD
                continue
        else:
            behind = (st["max"] - s) % SEQ_MOD
            if behind < 64:
                if st["window"] >> behind & 1:
                    continue
                st["window"] |= 1 << behind
            st["reordered"] += 1
        st["received"] += 1
    exp = st["prev_exp"] + expected()
    return exp, exp - (st["prev_rx"] + st["received"]), st["reordered"]


def check(out, sent, fig):
    order = []
    for line in open(out):
        if line.startswith("order"):
            order = [int(x) for x in line.split()[1:]]
    missing = sorted(set(range(sent)) - set(order))
    if not order or len(missing) > 1:
        print("%d packets did not arrive: not decided" % len(missing))
        return 2
    if not missing:
        got = a1(order)
        print("the model says expected %d lost %d reordered %d" % got)
        return 0 if got == fig else 1
    # netem's reordering moves a packet past 3 others at most: it was between the arrivals
    # of the packets 4 before and 4 after it
    m = missing[0]
    pos = {q: i for i, q in enumerate(order)}
    lo = max([pos[q] + 1 for q in order if q <= m - 4], default=0)
    hi = min([pos[q] for q in order if q >= m + 4], default=len(order))
    seen = set()
    for i in range(lo, max(lo, hi) + 1):
        seen.add(a1(order[:i] + missing + order[i:]))
    print("%d did not arrive; put back between arrivals %d and %d, the model says (expected, lost, "
          "reordered) %s" % (m, lo, hi, " or ".join(map(str, sorted(seen)))))
    return 0 if fig in seen else 1


def main():
    if sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2], int(sys.argv[3]), tuple(int(x) for x in sys.argv[4:7])))
    me, port = sys.argv[1], int(sys.argv[2])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((me, port))
    print("ready", flush=True)
    s.settimeout(30)
    order, seen, top, late = [], set(), -1, 0
    try:
        while True:
            seq = struct.unpack(">H", s.recv(2048)[2:4])[0]
            s.settimeout(10)
            order.append(seq)
            if seq in seen:
                continue
            seen.add(seq)
            if seq < top:
                late += 1
            top = max(top, seq)
    except socket.timeout:
        pass
    print("order " + " ".join(map(str, order)), flush=True)
    print("received %d late %d a1 %d %d %d" % ((len(seen), late) + a1(order)), flush=True)


if __name__ == "__main__":
    main()
