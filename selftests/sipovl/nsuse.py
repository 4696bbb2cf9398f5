#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Run by nsuse.sh (as an unprivileged user inside `unshare -Urn` where it can): how much
intercept memory can this namespace make the kernel hold? Arguments: txn or
table, and the per-namespace limit in bytes (the module's max_ns_bytes).
Grows a table transaction (txn) or the table itself through single adds
(table) to at most three times the limit, and reports what was accepted."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nl import *  # noqa: E402,F403

limit = int(sys.argv[2])
phase = sys.argv[1]
g = Genl()
# One intercept as large as the API allows: 256 destinations, 256 sources,
# 256 port ranges: about 10 kB of kernel memory each.
dsts = nest(I_DESTINATIONS, *[prefix(f"10.{i}.0.0/16") for i in range(256)])
srcs = nest(I_SOURCES, *[prefix(f"fd00:{i:x}::/32") for i in range(256)])
prts = nest(I_PORTS, *[ports(1000 + 2 * i, 1001 + 2 * i) for i in range(256)])
if phase == "txn":
    PER = 64 + 256 * 4 + 512 * 18 + 8      # kernel bytes per intercept (approx.)
elif phase.startswith("peak"):
    # Single adds of intercepts whose compiled matcher is large for their
    # size (256 destinations x 16 port ranges: ~27 kB of table each, which
    # the compile needs about three times over while it runs).
    srcs = None
    prts = nest(I_PORTS, *[ports(1000 + 2 * i, 1001 + 2 * i) for i in range(16)])
    PER = 64 + 16 * 4 + 256 * 18 + 8
else:
    # Single adds recompile the table each time: one destination and port
    # (one matcher entry), 256 sources.
    dsts = nest(I_DESTINATIONS, prefix("10.1.0.0/16"))
    prts = nest(I_PORTS, ports(5060))
    PER = 64 + 4 + 257 * 18 + 8


def big(i):
    d = dsts
    if phase.startswith("peak"):      # distinct destinations for each
        d = nest(I_DESTINATIONS, *[prefix(f"10.{i % 256}.{j}.0/24") for j in range(256)])
    return nest(A_INTERCEPT, u32(I_ID, i), string(I_NAME, f"b{i}"), u32(I_PROTOCOLS, 3),
                d, *([srcs] if srcs else []), prts)


def grow(send, what):
    """Sends intercepts until refused or 3x the limit; prints the outcome."""
    i, err = 0, None
    while i * PER < 3 * limit:
        try:
            send(i + 1)
        except Error as e:
            err = e
            break
        i += 1
    print(f"{what} {i} {i * PER} {err.errno if err else 0} {err.msg if err else ''}")
    sys.stdout.flush()


if phase.startswith("peak"):
    # One transaction of intercepts whose table would be 1.5 times the limit,
    # committed in one compile: refused (E2BIG), and the peak of the attempt
    # is what nsuse.sh measures.
    n = 3 * limit // 2 // 27000
    txn = int.from_bytes(parse_attrs(g.cmd(CMD_TABLE_BEGIN)[0][1])[0][1], "little")
    for i in range(1, n + 1):
        g.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), big(i))
    # The cgroup's charge just before the commit (the process, its messages
    # and the transaction's intercepts): nsuse.sh takes the commit's peak
    # above it, so the process's own memory is not estimated from another run.
    with open(os.environ["PEAK_CG"] + "/memory.current") as f:
        before = int(f.read())
    try:
        g.cmd(CMD_TABLE_COMMIT, u32(A_TXN_ID, txn))
        print(f"peak {n} {n * PER} 0 committed {before}")
    except Error as e:
        print(f"peak {n} {n * PER} {e.errno} {before} {e.msg}")
elif phase == "txn":
    txn = int.from_bytes(parse_attrs(g.cmd(CMD_TABLE_BEGIN)[0][1])[0][1], "little")
    grow(lambda i: g.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), big(i)), "txn")
else:
    grow(lambda i: g.cmd(CMD_INTERCEPT_ADD, big(i)), phase)
