#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""SIPOVL_CMD_LOOKUP answers from the published table without the namespace's
configuration lock: a lookup issued while a 100k-intercept commit compiles
answers promptly, from the table it names (SIPOVL_A_GENERATION). Closing a
generic netlink socket that holds no transaction does not wait for the lock
either (the release notifier runs for every generic netlink socket)."""
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nl import *  # noqa: E402,F403

n = 0
failed = 0


def tap(good, desc, *diag):
    global n, failed
    n += 1
    print(f"{'ok' if good else 'not ok'} {n} {desc}")
    if not good:
        failed += 1
    for d in diag:
        print(f"# {d}")
    sys.stdout.flush()


def begin(g):
    return int.from_bytes(parse_attrs(g.cmd(CMD_TABLE_BEGIN)[0][1])[0][1], "little")


def lookup(g, dst="12.250.0.9", dport=5060):
    """(intercept id, generation or None) of a LOOKUP."""
    r = g.cmd(CMD_LOOKUP, nest(A_TUPLE, u16(T_FAMILY, socket.AF_INET), u8(T_PROTOCOL, 17),
                               attr(T_SRC, socket.inet_pton(socket.AF_INET, "192.0.2.1")),
                               attr(T_DST, socket.inet_pton(socket.AF_INET, dst)),
                               u16(T_DPORT, dport)))
    iid, gen = None, None
    for t, v in parse_attrs(r[0][1]):
        if t == A_INTERCEPT:
            iid = struct.unpack("=I", dict(parse_attrs(v))[I_ID])[0]
        elif t == A_GENERATION:
            gen = struct.unpack("=I", v)[0]
    return iid, gen


print("TAP version 13")
g = Genl()
# The table lookups match while the commit runs: intercept 1.
g.cmd(CMD_INTERCEPT_ADD, intercept(1, "probe", dsts=("12.250.0.0/16",)))
gen_old = g.generation()
iid, gen = lookup(g)
tap(iid == 1 and gen == gen_old, "lookup names the generation of the table it answered from",
    f"intercept {iid}, generation {gen}, table generation {gen_old}")

# A 100k-intercept transaction (intercept 1 kept), committed while another
# socket looks up in a loop.
N = 100000
txn = begin(g)
chunk = [intercept(1, "probe", dsts=("12.250.0.0/16",))]
for i in range(2, N + 1):
    chunk.append(intercept(i, f"s{i}", dsts=(f"{10 + (i >> 16)}.{i >> 8 & 255}.{i & 255}.0/24",)))
    if len(chunk) == 300:
        g.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), *chunk)
        chunk = []
if chunk:
    g.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), *chunk)

stop = threading.Event()
samples = []        # (start, end, id, generation)


def looker():
    lg = Genl()
    while not stop.is_set():
        t0 = time.monotonic()
        iid, gen = lookup(lg)
        samples.append((t0, time.monotonic(), iid, gen))


closes = []          # (start, end) of close() of a fresh generic netlink socket


def closer():
    while not stop.is_set():
        sk = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        sk.bind((0, 0))
        t0 = time.monotonic()
        sk.close()
        closes.append((t0, time.monotonic()))
        time.sleep(0.01)


th = threading.Thread(target=looker)
th.start()
th2 = threading.Thread(target=closer)
th2.start()
time.sleep(0.5)
c0 = time.monotonic()
r = g.cmd(CMD_TABLE_COMMIT, u32(A_TXN_ID, txn))
c1 = time.monotonic()
gen_new = struct.unpack("=I", dict(parse_attrs(r[0][1]))[A_GENERATION])[0]
time.sleep(0.5)
stop.set()
th.join()
th2.join()

commit = c1 - c0
during = [s for s in samples if c0 <= s[0] < c1]
worst = max((e - s for s, e, _, _ in during), default=commit)
before = [e - s for s, e, _, _ in samples if e < c0]
base = sorted(before)[len(before) // 2] if before else 0
print(f"# commit of {N} intercepts took {commit * 1000:.0f} ms; {len(during)} lookups issued "
      f"during it, slowest {worst * 1000:.1f} ms; median lookup before it {base * 1000:.2f} ms")
tap(commit > 0.2, "the commit takes long enough to measure (> 200 ms)", f"{commit * 1000:.0f} ms")
tap(len(during) >= 5 and worst < commit / 4,
    "lookups issued during a 100k commit answer promptly (>= 5, each under a quarter of the commit)",
    f"{len(during)} lookups, slowest {worst * 1000:.1f} ms, commit {commit * 1000:.0f} ms")
cdur = [e - s for s, e in closes if c0 <= s < c1]
cworst = max(cdur, default=commit)
print(f"# {len(cdur)} generic netlink sockets closed during the commit, slowest close "
      f"{cworst * 1000:.1f} ms")
tap(len(cdur) >= 5 and cworst < commit / 4,
    "closing a generic netlink socket without transactions during a 100k commit does "
    "not wait for it (>= 5 closes, each under a quarter of the commit)",
    f"{len(cdur)} closes, slowest {cworst * 1000:.1f} ms, commit {commit * 1000:.0f} ms")
tap(all(i == 1 for _, _, i, _ in samples), "every lookup matched intercept 1",
    f"{sorted(set(i for _, _, i, _ in samples))}")
gens = set(gn for _, _, _, gn in samples)
tap(gens <= {gen_old, gen_new} and gen_new != gen_old,
    "lookups answered from the old table or the new one, and say which",
    f"generations seen {sorted(gens, key=str)}, old {gen_old}, new {gen_new}")
tap(lookup(g)[1] == gen_new, "after the commit: the new table's generation")
g.cmd(CMD_SOURCES_SET, nest(A_SOURCES))
tap(lookup(g)[1] == gen_new,
    "a change of sources only (not of the table) does not change the lookup generation",
    f"config generation {g.generation()}")
g.cmd(CMD_INTERCEPT_FLUSH)

print(f"1..{n}")
sys.exit(1 if failed else 0)
