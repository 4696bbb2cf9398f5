#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The sipovl generic netlink API, message by message: every malformed request
gets a precise errno and an extack message naming the problem, and leaves the
configuration unchanged; transactions, dumps (100k intercepts, multi-part,
interrupted), lookups and permissions."""
import errno
import os
import socket
import struct
import subprocess
import sys
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


print("TAP version 13")
g = Genl()
tap(g.fam is not None, "family sipovl resolves")

g.cmd(CMD_INTERCEPT_ADD, intercept(5, "base", dsts=("10.5.0.0/16",)))

def bad(desc, want_errno, want_msg, cmd, *attrs, **kw):
    before = (g.ids(), g.generation())
    try:
        g.cmd(cmd, *attrs, **kw)
        tap(False, f"{desc}: rejected", "request succeeded")
        if cmd == CMD_INTERCEPT_ADD:   # undo it, for the tests that follow
            g.cmd(CMD_INTERCEPT_DEL, nest(A_INTERCEPT, u32(I_ID, 6)))
        return
    except Error as e:
        got = (e.errno, e.msg)
    tap(got[0] == want_errno and want_msg in got[1] and (got[1] or not want_msg),
        f"{desc}: {errno.errorcode[want_errno]} \"{want_msg}\"",
        f"got errno {got[0]} ({errno.errorcode.get(got[0])}), message \"{got[1]}\"")
    after = (g.ids(), g.generation())
    tap(before == after, f"{desc}: nothing changed", f"{before} -> {after}")

A = CMD_INTERCEPT_ADD
bad("ipv4 prefix length 33", errno.EINVAL, "prefix length 33 out of range 0-32",
    A, intercept(6, "x", dsts=(prefix("10.0.0.0", 33),)))
bad("ipv6 prefix length 129", errno.ERANGE, "integer out of range",
    A, intercept(6, "x", dsts=(prefix("fd00::", 129),)))
bad("host bits set", errno.EINVAL, "host bits set in prefix",
    A, intercept(6, "x", dsts=("10.0.0.1/8",)))
bad("ipv4 address of 16 bytes", errno.EINVAL, "IPv4 address must be 4 bytes",
    A, intercept(6, "x", dsts=(nest(0, u16(P_FAMILY, socket.AF_INET),
                                       attr(P_ADDR, b"\0" * 16), u8(P_LEN, 8)),)))
bad("unknown address family", errno.EAFNOSUPPORT, "address family must be AF_INET or AF_INET6",
    A, intercept(6, "x", dsts=(nest(0, u16(P_FAMILY, 99), attr(P_ADDR, b"\0" * 4), u8(P_LEN, 8)),)))
bad("port range low > high", errno.EINVAL, "port range 7000-6000: low > high",
    A, intercept(6, "x", prts=((7000, 6000),)))
bad("unknown top-level attribute", errno.EINVAL, "Unknown attribute type",
    A, intercept(6, "x"), attr(99, b"\0\0\0\0"))
bad("unknown intercept attribute", errno.EINVAL, "Unknown attribute type",
    A, intercept(6, "x", extra=u32(60, 1)))
bad("unknown prefix attribute", errno.EINVAL, "Unknown attribute type",
    A, intercept(6, "x", dsts=(nest(0, u16(P_FAMILY, socket.AF_INET), attr(P_ADDR, b"\0" * 4),
                                      u8(P_LEN, 8), u8(9, 1)),)))
bad("unknown protocol bit", errno.EINVAL, "reserved bit set",
    A, intercept(6, "x", protos=4))
bad("no protocols", errno.EINVAL, "intercept needs protocols",
    A, intercept(6, "x", protos=0))
bad("unknown policy", errno.ERANGE, "integer out of range",
    A, intercept(6, "x", policy=7))
bad("policy 3 (one past reject)", errno.ERANGE, "integer out of range",
    A, intercept(6, "x", policy=3))


def policy_of(iid):
    for _, a, _ in g.cmd(CMD_INTERCEPT_GET, nest(A_INTERCEPT, u32(I_ID, iid))):
        for t, v in parse_attrs(a):
            if t == A_INTERCEPT:
                for t2, v2 in parse_attrs(v):
                    if t2 == I_POLICY:
                        return v2[0]
    return None


try:
    g.cmd(A, intercept(6, "rej", policy=2))
    tap(policy_of(6) == 2, "policy 2 (reject) accepted and read back", f"policy {policy_of(6)}")
    g.cmd(CMD_INTERCEPT_DEL, nest(A_INTERCEPT, u32(I_ID, 6)))
except Error as e:
    tap(False, "policy 2 (reject) accepted and read back", str(e))
bad("unknown stats flag", errno.EINVAL, "reserved bit set", CMD_STATS_GET, u32(A_FLAGS, 1 << 31))
bad("the socket join flag on STATS_GET", errno.EINVAL, "only SIPOVL_F_RESET_STATS applies to STATS_GET",
    CMD_STATS_GET, u32(A_FLAGS, 2))
bad("the stats reset flag on SOCKET_REGISTER", errno.EINVAL,
    "only SIPOVL_F_SOCKET_JOIN applies to SOCKET_REGISTER",
    CMD_SOCKET_REGISTER, s32(A_SOCKET_FD, 0), u32(A_FLAGS, 1))
bad("name of 64 bytes", errno.EINVAL, "Attribute failed policy validation",
    A, intercept(6, "n" * 64))
g.cmd(A, intercept(6, "n" * 63))
tap(6 in g.ids(), "name of 63 bytes (the most the policy's .len allows) accepted")
g.cmd(CMD_INTERCEPT_DEL, nest(A_INTERCEPT, u32(I_ID, 6)))
bad("empty name", errno.EINVAL, "intercept needs a name", A, intercept(6, ""))
bad("no destinations", errno.EINVAL, "intercept needs destination prefixes",
    A, intercept(6, "x", dsts=None))
bad("no ports", errno.EINVAL, "intercept needs port ranges", A, intercept(6, "x", prts=None))
bad("empty destination array", errno.EINVAL, "intercept needs destination prefixes",
    A, intercept(6, "x", dsts=()))
bad("empty port array", errno.EINVAL, "intercept needs port ranges", A, intercept(6, "x", prts=()))
bad("empty source array (would read as any source)", errno.EINVAL, "empty source prefixes",
    A, intercept(6, "x", extra=nest(I_SOURCES)))
bad("257 port ranges", errno.E2BIG, "too many port ranges: 257, at most 256",
    A, intercept(6, "x", prts=[(p, p) for p in range(1000, 1257)]))
bad("257 destination prefixes", errno.E2BIG, "too many destination prefixes: 257, at most 256",
    A, intercept(6, "x", dsts=[f"10.{i // 256}.{i % 256}.0/24" for i in range(257)]))
bad("duplicate id", errno.EEXIST, "intercept id 5 already exists", A, intercept(5, "other"))
bad("duplicate name", errno.EEXIST, 'name "base" already used by intercept 5', A, intercept(6, "base"))
bad("id 0", errno.ERANGE, "integer out of range", A, intercept(0, "x"))
bad("delete unknown id", errno.ENOENT, "no intercept with id 77",
    CMD_INTERCEPT_DEL, nest(A_INTERCEPT, u32(I_ID, 77)))
bad("delete unknown name", errno.ENOENT, 'no intercept named "nope"',
    CMD_INTERCEPT_DEL, nest(A_INTERCEPT, string(I_NAME, "nope")))
bad("replace unknown id", errno.ENOENT, "no intercept with id 77",
    CMD_INTERCEPT_REPLACE, intercept(77, "x"))
bad("get without id or name", errno.EINVAL, "intercept id or name required",
    CMD_INTERCEPT_DEL, nest(A_INTERCEPT))
bad("reserved genl header byte", errno.EINVAL, "", A, intercept(6, "x"), reserved=1)
bad("unknown command", errno.EOPNOTSUPP, "", 99)
bad("stats attribute in a request", errno.EINVAL, "counters are read-only",
    A, intercept(6, "x", extra=attr(I_STATS, b"")))
bad("table add with unknown transaction", errno.ENOENT, "no such table transaction",
    CMD_TABLE_ADD, u32(A_TXN_ID, 12345), intercept(9, "x"))
bad("register a non-socket fd", errno.ENOTSOCK, "is not a socket",
    CMD_SOCKET_REGISTER, s32(A_SOCKET_FD, os.open("/dev/null", os.O_RDONLY)))
plain = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
plain.bind(("127.0.0.1", 0))
bad("register a socket without IP_TRANSPARENT", errno.EINVAL, "socket lacks IP_TRANSPARENT",
    CMD_SOCKET_REGISTER, s32(A_SOCKET_FD, plain.fileno()))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_IP, 19, 1)  # IP_TRANSPARENT
bad("register a TCP socket that is not listening", errno.EINVAL, "TCP socket is not listening",
    CMD_SOCKET_REGISTER, s32(A_SOCKET_FD, t.fileno()))
bad("lookup with a bad protocol", errno.EPROTONOSUPPORT, "protocol must be",
    CMD_LOOKUP, nest(A_TUPLE, u16(T_FAMILY, socket.AF_INET), u8(T_PROTOCOL, 1),
                     attr(T_SRC, bytes(4)), attr(T_DST, bytes(4)), u16(T_DPORT, 1)))

# A transaction that fails at commit is dropped and changes nothing.
def begin():
    return int.from_bytes(parse_attrs(g.cmd(CMD_TABLE_BEGIN)[0][1])[0][1], "little")
txn = begin()
g.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), intercept(1, "a"), intercept(2, "b", dsts=("10.2.0.0/16",)))
g.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), intercept(2, "c"))
bad("transaction: duplicate id fails the commit", errno.EEXIST, "duplicate intercept id 2",
    CMD_TABLE_COMMIT, u32(A_TXN_ID, txn))
bad("transaction: dropped after the failed commit", errno.ENOENT, "no such table transaction",
    CMD_TABLE_COMMIT, u32(A_TXN_ID, txn))
txn = begin()
g.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), intercept(1, "same"),
      intercept(3, "same", dsts=("10.3.0.0/16",)))
bad("transaction: duplicate name fails the commit", errno.EEXIST, 'name "same" used by intercepts',
    CMD_TABLE_COMMIT, u32(A_TXN_ID, txn))
txn = begin()
bad("transaction: a bad intercept fails the message", errno.EINVAL, "host bits set",
    CMD_TABLE_ADD, u32(A_TXN_ID, txn), intercept(4, "ok"), intercept(5, "bad", dsts=("10.0.0.1/8",)))
bad("transaction: and aborts the transaction", errno.ENOENT, "no such table transaction",
    CMD_TABLE_COMMIT, u32(A_TXN_ID, txn))
other = Genl()
txn = begin()
try:
    other.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), intercept(9, "x"))
    tap(False, "transaction belongs to its socket")
except Error as e:
    tap(e.errno == errno.ENOENT, "transaction belongs to its socket", str(e))
g.cmd(CMD_TABLE_ABORT, u32(A_TXN_ID, txn))

# TABLE_COMMIT with SIPOVL_A_SOURCES replaces the sources in the same step.
# (More than SIPOVL_MAX_TRANSPARENT_SOURCES do not fit in one attribute.)
def sources_now():
    for t, v in parse_attrs(g.cmd(CMD_CONFIG_GET)[0][1]):
        if t == A_SOURCES:
            return [x for _, x in parse_attrs(v)]
    return []


src_before = sources_now()
txn = begin()
g.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), intercept(5, "base", dsts=("10.5.0.0/16",)))
bad("commit with sources: host bits set", errno.EINVAL, "host bits set in prefix",
    CMD_TABLE_COMMIT, u32(A_TXN_ID, txn), nest(A_SOURCES, prefix("192.0.2.1/24")))
bad("commit with sources: prefix length 33", errno.EINVAL, "prefix length 33 out of range",
    CMD_TABLE_COMMIT, u32(A_TXN_ID, txn), nest(A_SOURCES, prefix("192.0.2.0", 33)))
bad("commit with sources: unknown family", errno.EAFNOSUPPORT,
    "address family must be AF_INET or AF_INET6", CMD_TABLE_COMMIT, u32(A_TXN_ID, txn),
    nest(A_SOURCES, nest(0, u16(P_FAMILY, 99), attr(P_ADDR, bytes(4)), u8(P_LEN, 8))))
tap(sources_now() == src_before, "commit with bad sources: sources unchanged")
gen0 = g.generation()
r = g.cmd(CMD_TABLE_COMMIT, u32(A_TXN_ID, txn), nest(A_SOURCES, prefix("192.0.2.0/24")))
ack = [t for t, _ in parse_attrs(r[0][1]) if t == A_SOURCES]
tap(ack and g.ids() == [5] and len(sources_now()) == 1 and g.generation() > gen0,
    "commit with sources: the transaction still open after bad sources commits "
    "table and sources, and says so", f"ack {ack}, ids {g.ids()}, sources {sources_now()}")
txn = begin()
g.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), intercept(5, "base", dsts=("10.5.0.0/16",)))
r = g.cmd(CMD_TABLE_COMMIT, u32(A_TXN_ID, txn), nest(A_SOURCES))
tap(sources_now() == [] and [t for t, _ in parse_attrs(r[0][1]) if t == A_SOURCES],
    "commit with an empty sources nest clears them")
txn = begin()
g.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), intercept(5, "base", dsts=("10.5.0.0/16",)))
g.cmd(CMD_SOURCES_SET, nest(A_SOURCES, prefix("198.51.100.0/24")))
r = g.cmd(CMD_TABLE_COMMIT, u32(A_TXN_ID, txn))
tap(len(sources_now()) == 1 and not [t for t, _ in parse_attrs(r[0][1]) if t == A_SOURCES],
    "commit without sources leaves them alone (and does not acknowledge any)")
g.cmd(CMD_SOURCES_SET, nest(A_SOURCES))

# Positive paths.
r = g.cmd(CMD_INTERCEPT_ADD, intercept(None, "auto", dsts=("10.6.0.0/16",)))
got = [v for t, v in parse_attrs(parse_attrs(r[0][1])[0][1]) if t == I_ID]
tap(got and int.from_bytes(got[0], "little") == 1, "add without id takes the lowest free id (1)")
gen0 = g.generation()
txn = begin()
batch = [intercept(i, f"i{i}", dsts=(f"10.{i >> 8 & 255}.{i & 255}.0/24",), prts=((5060, 5061),))
         for i in range(1, 1001)]
for k in range(0, 1000, 200):
    g.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), *batch[k:k + 200])
tap(g.ids() == [1, 5], "table unchanged while a transaction is open")
g.cmd(CMD_TABLE_COMMIT, u32(A_TXN_ID, txn))
tap(g.ids() == list(range(1, 1001)) and g.generation() == gen0 + 1,
    "commit replaces the whole table in one generation")

# 100k intercepts: dump is complete and ordered over many messages.
txn = begin()
N = 100000
chunk = []
for i in range(1, N + 1):
    chunk.append(intercept(i, f"s{i}", dsts=(f"{10 + (i >> 16)}.{i >> 8 & 255}.{i & 255}.0/24",)))
    if len(chunk) == 300:
        g.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), *chunk)
        chunk = []
if chunk:
    g.cmd(CMD_TABLE_ADD, u32(A_TXN_ID, txn), *chunk)
g.cmd(CMD_TABLE_COMMIT, u32(A_TXN_ID, txn))
msgs = g.cmd(CMD_INTERCEPT_GET, dump=True)
ids = g.ids()
tap(ids == list(range(1, N + 1)), f"dump of {N} intercepts complete and ordered", f"got {len(ids)}")
tap(len(msgs) == N, "one message per intercept")

# The dump cursor past id 2^32-1 (a long on 32-bit kernels could not hold
# id + 1): the dump ends, with that intercept once.
g.cmd(CMD_INTERCEPT_ADD, intercept(0xffffffff, "last", dsts=("10.254.0.0/16",)))
ids = g.ids()
tap(ids[-1] == 0xffffffff and ids.count(0xffffffff) == 1 and len(ids) == N + 1,
    "a dump with intercept id 4294967295 ends, with it once", f"{len(ids)} ids, last {ids[-1:]}")
g.cmd(CMD_INTERCEPT_DEL, nest(A_INTERCEPT, u32(I_ID, 0xffffffff)))

# An interrupted dump is flagged: change the table between dump parts.
seq = g.send(g.fam, CMD_INTERCEPT_GET, flags=NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP)
first = g.s.recv(1 << 16)
other.cmd(CMD_INTERCEPT_DEL, nest(A_INTERCEPT, u32(I_ID, 50000)))
rest = g.recv_until_ack(seq, dump=True)
tap(any(f & NLM_F_DUMP_INTR for _, _, f in rest), "a dump interrupted by a change is flagged NLM_F_DUMP_INTR")

# Lookup.
def lookup(dst, dport=5060, proto=17, src="192.0.2.1"):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    r = g.cmd(CMD_LOOKUP, nest(A_TUPLE, u16(T_FAMILY, fam), u8(T_PROTOCOL, proto),
                               attr(T_SRC, socket.inet_pton(fam, src)),
                               attr(T_DST, socket.inet_pton(fam, dst)), u16(T_DPORT, dport)))
    a = dict(parse_attrs(parse_attrs(r[0][1])[0][1]))
    return int.from_bytes(a[I_ID], "little")
tap(lookup("10.1.44.9") == 256 + 44, "lookup returns the matching intercept")
try:
    lookup("10.1.44.9", dport=5070)
    tap(False, "lookup of a non-matching tuple: ENOENT")
except Error as e:
    tap(e.errno == errno.ENOENT, "lookup of a non-matching tuple: ENOENT", str(e))
g.cmd(CMD_INTERCEPT_FLUSH)
tap(g.ids() == [], "flush empties the table")

# A registered UDP socket that is connect()ed later is one flow's socket, no
# longer the daemon's socket for new flows: the reaper drops it (1 s period).
def n_sockets():
    return sum(1 for t, _ in parse_attrs(g.cmd(CMD_CONFIG_GET)[0][1]) if t & 0x7fff == A_SOCKET)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.SOL_IP, 19, 1)  # IP_TRANSPARENT
u.bind(("127.0.0.1", 0))
uc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
uc.setsockopt(socket.SOL_IP, 19, 1)
uc.bind(("127.0.0.1", 0))
uc.connect(("127.0.0.1", 9))
bad("register a connected UDP socket", errno.EINVAL, "UDP socket is connected",
    CMD_SOCKET_REGISTER, s32(A_SOCKET_FD, uc.fileno()))
g.cmd(CMD_SOCKET_REGISTER, s32(A_SOCKET_FD, u.fileno()))
before = n_sockets()
u.connect(("127.0.0.1", 9))
deadline = time.time() + 5
while n_sockets() and time.time() < deadline:
    time.sleep(0.2)
tap(before == 1 and n_sockets() == 0, "a registered UDP socket connected later is dropped",
    f"sockets {before} -> {n_sockets()}")
u.close()
uc.close()

# Stats reset under traffic: a reset never writes to the per-CPU counters that
# other CPUs update, it moves the base reads subtract. Every packet counted is
# in exactly one reply: the drops of all reset-reads taken while a sender
# runs, plus a final read, add up to the packets sent (a reset that zeroed
# the counters lost those counted between its read and its zeroing).
def gstats(reset=False):
    res = {}
    for t, v in parse_attrs(g.cmd(CMD_STATS_GET, *([u32(A_FLAGS, 1)] if reset else []))[0][1]):
        if t == A_STATS:
            for t2, v2 in parse_attrs(v):
                res[t2] = struct.unpack("=Q", v2)[0]
    return res


def istats(iid):
    msgs = g.cmd(CMD_INTERCEPT_GET, intercept(iid, None, protos=None, dsts=None, prts=None))
    for t, v in parse_attrs(msgs[0][1]):
        if t == A_INTERCEPT:
            for t2, v2 in parse_attrs(v):
                if t2 == I_STATS:
                    return {t3: struct.unpack("=Q", v3)[0] for t3, v3 in parse_attrs(v2)}
    return {}


S_DROPPED = 4      # SIPOVL_STATS_A_DROPPED
IS_DROPS = 4       # SIPOVL_ISTATS_A_DROPS
g.cmd(CMD_SOCKET_UNREGISTER)
subprocess.run(["ip", "link", "add", "d77", "type", "dummy"], check=True)
subprocess.run(["ip", "addr", "add", "10.77.255.254/16", "dev", "d77"], check=True)
subprocess.run(["ip", "link", "set", "d77", "up"], check=True)
g.cmd(CMD_INTERCEPT_ADD, intercept(7700, "resetq", dsts=("10.77.0.0/16",), prts=((9, 9),)))
gstats(reset=True)
tap(gstats().get(S_DROPPED) == 0 and istats(7700).get(IS_DROPS) == 0,
    "stats reset: global and intercept counters read 0 after it",
    f"{gstats()} {istats(7700)}")
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(50):
    try:
        u.sendto(b"x", ("10.77.0.1", 9))
    except OSError:
        pass
tap(gstats().get(S_DROPPED) == 50 and istats(7700).get(IS_DROPS) == 50,
    "stats: 50 datagrams, 50 drops, global and per intercept", f"{gstats()} {istats(7700)}")
gstats(reset=True)
SENT = 20000
sender = subprocess.Popen([sys.executable, "-c",
                           "import socket\nu = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                           f"for i in range({SENT}):\n"
                           "    try: u.sendto(b'x', ('10.77.0.1', 9))\n"
                           "    except OSError: pass\n"])
total, reads = 0, 0
while sender.poll() is None:
    total += gstats(reset=True).get(S_DROPPED, 0)
    reads += 1
sender.wait()
last = gstats()
total += last.get(S_DROPPED, 0)
tap(total == SENT and reads > 1,
    f"stats reset under traffic: {reads} reset-reads and a last read add up to the drops counted",
    f"{total} drops reported, {SENT} datagrams sent")

# The reject policy's counters: global rejected, per intercept rejects; not
# counted as drops; reset like the others.
S_REJECTED = 15    # SIPOVL_STATS_A_REJECTED
IS_REJECTS = 7     # SIPOVL_ISTATS_A_REJECTS
try:
    g.cmd(CMD_INTERCEPT_ADD, intercept(7701, "rejectq", dsts=("10.77.0.0/16",), prts=((10, 10),),
                                       policy=2))
    gstats(reset=True)
    for i in range(10):
        try:
            u.sendto(b"x", ("10.77.0.1", 10))
        except OSError:
            pass
    gs, ist = gstats(), istats(7701)
    tap(gs.get(S_REJECTED) == 10 and ist.get(IS_REJECTS) == 10 and gs.get(S_DROPPED) == 0 and
        ist.get(IS_DROPS) == 0,
        "stats: 10 datagrams to a reject intercept, 10 rejects (global and per intercept), no drops",
        f"{gs} {ist}")
    gstats(reset=True)
    tap(gstats().get(S_REJECTED) == 0 and istats(7701).get(IS_REJECTS) == 0,
        "stats reset: the reject counters read 0 after it", f"{gstats()} {istats(7701)}")
    g.cmd(CMD_INTERCEPT_DEL, nest(A_INTERCEPT, u32(I_ID, 7701)))
except Error as e:
    tap(False, "stats: the reject counters", str(e))
u.close()
g.cmd(CMD_INTERCEPT_DEL, intercept(7700, None, protos=None, dsts=None, prts=None))
subprocess.run(["ip", "link", "del", "d77"], check=True)

# Permissions: CAP_NET_ADMIN is required, even to read.
code = ("import os,sys; sys.path.insert(0, %r); from nl import *; g = Genl()\n"
        "try:\n  g.cmd(CMD_CONFIG_GET); print('allowed')\n"
        "except Error as e: print('errno', e.errno)\n") % os.path.dirname(os.path.abspath(__file__))
out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                      "--inh-caps=-all", "--bounding-set=-all", sys.executable, "-c", code],
                     capture_output=True, text=True).stdout.strip()
tap(out == f"errno {errno.EPERM}", "without CAP_NET_ADMIN: EPERM", f"got {out!r}")

print(f"1..{n}")
sys.exit(1 if failed else 0)
