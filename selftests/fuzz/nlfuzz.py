#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Netlink fuzzer for the sipovl generic netlink family (issue 14, item 3).

Knows the family's commands and attribute policies (uapi/linux/sipovl.h,
mirrored in the tables below) and generates messages from them: valid ones,
almost-valid ones (one mutation: an attribute dropped, duplicated, retyped,
resized, a value out of range, a nest flag lost, a nest too deep or too
long, a name without its NUL), truncated ones and random ones.

Two kinds of work run side by side for --seconds:

  oracle   one socket in this process's namespace, one message at a time:
           every message gets an answer (an ack or an error, the errno one
           of the family's), a failed command changes nothing (the table's
           generation and dump stay the same) and the module answers a
           valid add/get/delete afterwards.
  churn    child processes (this script, --child), each in a new network
           namespace, with threads that hammer their own sockets: mutated
           messages without waiting for answers, transactions interleaved
           across sockets (a transaction begun on one socket is added to and
           committed from others), sockets closed mid-transaction and
           mid-dump, dumps concurrent with commits of a few hundred
           intercepts, socket registrations, statistics resets and UDP
           traffic into the hooks. The parent SIGKILLs each child after a
           random while: its sockets close and its namespace is deleted
           under load.

The kernel's side is checked by the VM runner (KASAN, KFENCE, lockdep,
RCU, kmemleak... on the debug kernel). Output: TAP. Reproduce a run with
--seed (printed first).
"""
import argparse
import ctypes
import errno
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sipovl"))
import nl  # noqa: E402
from nl import (A_FAMILY, A_FLAGS, A_INTERCEPT, A_PROTOCOL, A_SOCKET_FD,  # noqa: E402
                A_SOURCES, A_TUPLE, A_TXN_ID, CMD_CONFIG_GET, CMD_INTERCEPT_ADD,
                CMD_INTERCEPT_DEL, CMD_INTERCEPT_FLUSH, CMD_INTERCEPT_GET,
                CMD_INTERCEPT_REPLACE, CMD_LOOKUP, CMD_SOCKET_REGISTER,
                CMD_SOCKET_UNREGISTER, CMD_SOURCES_SET, CMD_STATS_GET,
                CMD_TABLE_ABORT, CMD_TABLE_ADD, CMD_TABLE_BEGIN, CMD_TABLE_COMMIT,
                I_DESTINATIONS, I_ID, I_NAME, I_POLICY, I_PORTS, I_PROTOCOLS,
                I_SOURCES, NLA_F_NESTED, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
                P_ADDR, P_FAMILY, P_LEN, R_HIGH, R_LOW, T_DPORT, T_DST, T_FAMILY,
                T_PROTOCOL, T_SPORT, T_SRC, Genl, parse_attrs)

CLONE_NEWNET = 0x40000000
U8, U16, U32, S32, STR, BIN, NEST, ARRAY = "u8 u16 u32 s32 str bin nest array".split()

# The family's policies (uapi/linux/sipovl.h): attribute -> (type, inner policy).
PREFIX = {P_FAMILY: (U16, None), P_ADDR: (BIN, None), P_LEN: (U8, None)}
PORTRANGE = {R_LOW: (U16, None), R_HIGH: (U16, None)}
TUPLE = {T_FAMILY: (U16, None), T_PROTOCOL: (U8, None), T_SRC: (BIN, None),
         T_DST: (BIN, None), T_SPORT: (U16, None), T_DPORT: (U16, None)}
INTERCEPT = {I_ID: (U32, None), I_NAME: (STR, None), I_PROTOCOLS: (U32, None),
             I_DESTINATIONS: (ARRAY, PREFIX), I_PORTS: (ARRAY, PORTRANGE),
             I_SOURCES: (ARRAY, PREFIX), I_POLICY: (U8, None)}
# command -> the top-level attributes it takes (required ones first).
COMMANDS = {
    CMD_INTERCEPT_ADD: [A_INTERCEPT], CMD_INTERCEPT_REPLACE: [A_INTERCEPT],
    CMD_INTERCEPT_DEL: [A_INTERCEPT], CMD_INTERCEPT_GET: [A_INTERCEPT],
    CMD_INTERCEPT_FLUSH: [], CMD_TABLE_BEGIN: [], CMD_TABLE_ADD: [A_TXN_ID, A_INTERCEPT],
    CMD_TABLE_COMMIT: [A_TXN_ID, A_SOURCES], CMD_TABLE_ABORT: [A_TXN_ID],
    CMD_SOCKET_REGISTER: [A_SOCKET_FD], CMD_SOCKET_UNREGISTER: [A_FAMILY, A_PROTOCOL],
    CMD_SOURCES_SET: [A_SOURCES], CMD_CONFIG_GET: [], CMD_STATS_GET: [A_FLAGS],
    CMD_LOOKUP: [A_TUPLE],
}
# Errnos the family answers with (kmod/netlink.c, the genetlink core, the
# socket lookups of SOCKET_REGISTER); anything else is reported.
EXPECTED_ERRNOS = {errno.EINVAL, errno.ENOENT, errno.EEXIST, errno.ERANGE, errno.E2BIG,
                   errno.EMSGSIZE, errno.ENOMEM, errno.EBUSY, errno.EOPNOTSUPP,
                   errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT, errno.EBADF,
                   errno.ENOTSOCK, errno.EPERM, errno.ESOCKTNOSUPPORT}


class Gen:
    """Messages of the family, valid and mutated, from a seeded generator."""

    def __init__(self, rnd):
        self.r = rnd

    # -- values
    def prefix(self, fam=None):
        r = self.r
        fam = fam or r.choice((socket.AF_INET, socket.AF_INET6))
        bits = 32 if fam == socket.AF_INET else 128
        plen = r.choice((0, 1, 8, 16, 24, bits - 1, bits, r.randint(0, bits)))
        raw = bytearray(r.getrandbits(8) for _ in range(bits // 8))
        if r.random() < 0.85:  # host bits zero, as the policy wants
            for i in range(bits):
                if i >= plen:
                    raw[i // 8] &= ~(0x80 >> (i % 8)) & 0xff
        return [(P_FAMILY, U16, fam), (P_ADDR, BIN, bytes(raw)), (P_LEN, U8, plen)]

    def ports(self):
        r = self.r
        lo = r.choice((0, 1, 5060, 5061, 65535, r.randint(0, 65535)))
        hi = r.choice((lo, lo + 1, 65535, r.randint(0, 65535)))
        return [(R_LOW, U16, lo), (R_HIGH, U16, min(hi, 65535))]

    def intercept(self, iid=None):
        r = self.r
        iid = iid if iid is not None else r.choice((1, 2, 3, r.randint(1, 64), 0xffffffff))
        a = [(I_ID, U32, iid)]
        if r.random() < 0.8:
            a.append((I_NAME, STR, r.choice(("sip", "rtp", "a", "x" * 63, f"n{iid}", f"n{r.randint(1, 9)}"))))
        a.append((I_PROTOCOLS, U32, r.choice((1, 2, 3))))
        a.append((I_DESTINATIONS, ARRAY, [self.prefix() for _ in range(r.choice((1, 1, 2, 5)))]))
        a.append((I_PORTS, ARRAY, [self.ports() for _ in range(r.choice((1, 1, 3)))]))
        if r.random() < 0.3:
            a.append((I_SOURCES, ARRAY, [self.prefix() for _ in range(r.choice((1, 2)))]))
        if r.random() < 0.5:
            a.append((I_POLICY, U8, r.choice((0, 1))))
        return a

    def tuple_(self):
        r = self.r
        fam = r.choice((socket.AF_INET, socket.AF_INET6))
        n = 4 if fam == socket.AF_INET else 16
        return [(T_FAMILY, U16, fam), (T_PROTOCOL, U8, r.choice((6, 17))),
                (T_SRC, BIN, os.urandom(n)), (T_DST, BIN, os.urandom(n)),
                (T_SPORT, U16, r.randint(0, 65535)), (T_DPORT, U16, r.choice((5060, 0, 65535)))]

    def top(self, cmd, txn=None):
        """A valid-looking attribute list for cmd."""
        r = self.r
        a = []
        for t in COMMANDS[cmd]:
            if t == A_INTERCEPT:
                if cmd == CMD_TABLE_ADD:
                    for _ in range(r.choice((1, 1, 4))):
                        a.append((A_INTERCEPT, NEST, self.intercept()))
                else:
                    a.append((A_INTERCEPT, NEST, self.intercept()))
            elif t == A_TXN_ID:
                a.append((A_TXN_ID, U32, txn if txn is not None else r.randint(0, 8)))
            elif t == A_SOURCES:
                if cmd == CMD_SOURCES_SET or r.random() < 0.3:
                    a.append((A_SOURCES, ARRAY, [self.prefix() for _ in range(r.choice((0, 1, 3)))]))
            elif t == A_SOCKET_FD:
                a.append((A_SOCKET_FD, S32, r.choice((-1, 0, 1, 2, 3, 1000, r.randint(0, 40)))))
            elif t == A_FAMILY:
                if r.random() < 0.7:
                    a.append((A_FAMILY, U16, r.choice((2, 10, 0, 99))))
            elif t == A_PROTOCOL:
                if r.random() < 0.7:
                    a.append((A_PROTOCOL, U8, r.choice((6, 17, 0, 255))))
            elif t == A_FLAGS:
                if r.random() < 0.5:
                    a.append((A_FLAGS, U32, r.choice((0, 1, 2, 0xffffffff))))
            elif t == A_TUPLE:
                a.append((A_TUPLE, NEST, self.tuple_()))
        return a

    # -- mutations of an attribute tree (lists of (type, kind, value))
    def mutate(self, attrs, depth=0):
        r = self.r
        attrs = list(attrs)
        if not attrs:
            return [(r.randint(0, 20), BIN, os.urandom(r.randint(0, 12)))]
        i = r.randrange(len(attrs))
        t, kind, v = attrs[i]
        op = r.randrange(11)
        if op == 0:
            del attrs[i]
        elif op == 1:
            attrs.insert(i, attrs[i])
        elif op == 2:
            attrs[i] = (r.choice((0, t + 1, r.randint(0, 40), 0x3fff)), kind, v)
        elif op == 3:  # wrong length for its type
            attrs[i] = (t, BIN, os.urandom(r.choice((0, 1, 2, 3, 5, 7, 9, 17, 300))))
        elif op == 4 and kind in (U8, U16, U32, S32):
            attrs[i] = (t, kind, r.choice((0, 1, 0x7f, 0xff, 0xffff, 0xffffffff)) & {U8: 0xff, U16: 0xffff}.get(kind, 0xffffffff))
        elif op == 5 and kind == STR:  # too long, no NUL, embedded NUL
            attrs[i] = (t, BIN, r.choice((b"x" * 64, b"x" * 200, b"ab\0cd", b"", b"\xff" * 8)))
        elif op == 6 and kind in (NEST, ARRAY):  # the nest flag lost (a plain binary)
            attrs[i] = (t, "raw", encode(v, kind == ARRAY))
        elif op == 7 and kind == ARRAY:  # too many entries (over SIPOVL_MAX_*)
            attrs[i] = (t, ARRAY, (v * (300 // max(len(v), 1) + 1))[:r.choice((257, 300, 1000))] if v else [])
        elif op == 8 and kind == ARRAY and v:
            j = r.randrange(len(v))
            v = list(v)
            v[j] = self.mutate(v[j], depth + 1)
            attrs[i] = (t, ARRAY, v)
        elif op == 8 and kind == NEST:
            attrs[i] = (t, NEST, self.mutate(v, depth + 1))
        elif op == 9:  # deep nesting
            inner = (t, kind, v)
            for _ in range(r.choice((2, 8, 32))):
                inner = (r.randint(0, 10), NEST, [inner])
            attrs[i] = inner
        else:
            attrs.append((r.randint(0, 30), BIN, os.urandom(r.choice((0, 4, 8)))))
        return attrs

    def message(self, txn=None):
        """(cmd, payload bytes, flags, version) of a random message."""
        r = self.r
        cmd = r.choice(list(COMMANDS) + [0, 16, 200])
        attrs = self.top(cmd, txn) if cmd in COMMANDS else []
        for _ in range(r.choice((0, 0, 1, 1, 2, 3))):
            attrs = self.mutate(attrs)
        payload = encode(attrs)
        if r.random() < 0.05:  # truncated attribute stream
            payload = payload[:r.randint(0, len(payload))]
        if r.random() < 0.03:
            payload = os.urandom(r.randint(0, 64))
        flags = NLM_F_REQUEST | NLM_F_ACK
        if cmd == CMD_INTERCEPT_GET and r.random() < 0.5:
            flags |= NLM_F_DUMP
        version = 1 if r.random() < 0.95 else r.choice((0, 2, 255))
        return cmd, payload, flags, version


def attr(t, data):
    return nl.attr(t, data[:65000])  # a netlink attribute length is 16 bits


def encode(attrs, array=False):
    out = b""
    for i, a in enumerate(attrs):
        if array:  # the entries of an array are nests of type 0
            out += attr(NLA_F_NESTED, encode(a))
            continue
        t, kind, v = a
        if kind == U8:
            out += attr(t, struct.pack("=B", v & 0xff))
        elif kind == U16:
            out += attr(t, struct.pack("=H", v & 0xffff))
        elif kind == U32:
            out += attr(t, struct.pack("=I", v & 0xffffffff))
        elif kind == S32:
            out += attr(t, struct.pack("=I", v & 0xffffffff))
        elif kind == STR:
            out += attr(t, v.encode() + b"\0")
        elif kind in (BIN, "raw"):
            out += attr(t, v)
        elif kind == NEST:
            out += attr(t | NLA_F_NESTED, encode(v))
        elif kind == ARRAY:
            out += attr(t | NLA_F_NESTED, encode(v, True))
    return out


class Fail(Exception):
    pass


def family_id():
    return Genl().fam


def raw_send(s, fam, cmd, payload, flags, version, seq, bad_len=False):
    body = struct.pack("=BBH", cmd, version, 0) + payload
    ln = 16 + len(body)
    if bad_len:
        ln = random.choice((ln + 4, ln - 3, 15, 0xffffffff))
    s.send(struct.pack("=IHHII", ln & 0xffffffff, fam, flags, seq, 0) + body)


def drain(s):
    try:
        while True:
            s.recv(1 << 16, socket.MSG_DONTWAIT)
    except (BlockingIOError, OSError):
        pass


# ---------------------------------------------------------------- oracle
def snapshot(g, full):
    """The generation (bumped by every change) and, when full, the dumped ids."""
    return g.generation(), sorted(g.ids()) if full else None


def oracle(seconds, seed, log):
    """One message at a time: an answer for each, failed commands change
    nothing, errnos are the family's. Returns (messages, problems)."""
    r = random.Random(seed)
    gen = Gen(r)
    g = Genl()
    problems = []
    n = 0
    deadline = time.monotonic() + seconds
    txn = None
    while time.monotonic() < deadline and len(problems) < 10:
        if r.random() < 0.1:
            try:
                txn = struct.unpack("=I", dict(parse_attrs(g.cmd(CMD_TABLE_BEGIN)[0][1]))[A_TXN_ID])[0]
            except nl.Error:
                txn = None
        cmd, payload, flags, version = gen.message(txn)
        full = n % 20 == 0
        before = snapshot(g, full)
        n += 1
        try:
            g.s.settimeout(30)
            seq = g.send(g.fam, cmd, payload, flags=flags, version=version)
            g.recv_until_ack(seq, dump=bool(flags & NLM_F_DUMP))
            ok = True
        except nl.Error as e:
            ok = False
            if e.errno not in EXPECTED_ERRNOS:
                problems.append(f"cmd {cmd}: unexpected errno {e.errno} ({e.msg}); payload {payload.hex()}")
        except socket.timeout:
            problems.append(f"cmd {cmd}: no answer within 30 s; payload {payload.hex()}")
            g = Genl()
            continue
        finally:
            g.s.settimeout(None)
        if not ok:
            after = snapshot(g, full)
            if after != before:
                problems.append(f"cmd {cmd} failed but changed the table: {before} -> {after}; payload {payload.hex()}")
        if cmd in (CMD_TABLE_COMMIT, CMD_TABLE_ABORT) or r.random() < 0.02:
            txn = None
        if r.random() < 0.01:
            g.cmd(CMD_INTERCEPT_FLUSH)
    for p in problems:
        log(p)
    return n, problems


# ---------------------------------------------------------------- churn child
def child(seed, threads):
    """Runs in a new network namespace until killed."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        sys.exit(f"unshare(CLONE_NEWNET): {os.strerror(ctypes.get_errno())}")
    lo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # SIOCSIFFLAGS lo up: traffic into the hooks.
    import fcntl
    ifr = struct.pack("16sH14x", b"lo", 0x1 | 0x8 | 0x40)
    try:
        fcntl.ioctl(lo, 0x8914, ifr)
    except OSError:
        pass
    fam = family_id()
    txns = []  # transactions begun by any thread, used by all (interleaved)
    stop = threading.Event()

    def worker(k):
        r = random.Random(seed * 1000 + k)
        gen = Gen(r)
        socks = []
        seq = 1
        while not stop.is_set():
            if len(socks) < 3 or r.random() < 0.05:
                s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, nl.NETLINK_GENERIC)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, r.choice((4096, 1 << 16)))
                socks.append(s)
            s = r.choice(socks)
            seq += 1
            act = r.randrange(10)
            try:
                if act == 0:  # begin a transaction (answer read later, or never)
                    raw_send(s, fam, CMD_TABLE_BEGIN, b"", NLM_F_REQUEST | NLM_F_ACK, 1, seq)
                    try:
                        for t, v in parse_attrs(s.recv(1 << 16, socket.MSG_DONTWAIT)[20:]):
                            if t == A_TXN_ID:
                                txns.append(struct.unpack("=I", v)[0])
                    except (BlockingIOError, OSError):
                        pass
                elif act == 1:  # a big table on some socket's transaction, committed maybe elsewhere
                    txn = r.choice(txns) if txns and r.random() < 0.8 else r.randint(0, 50)
                    for base in range(1, r.choice((2, 50, 200)), 50):
                        ints = b"".join(encode([(A_INTERCEPT, NEST, gen.intercept(base + j))]) for j in range(50))
                        raw_send(r.choice(socks), fam, CMD_TABLE_ADD, encode([(A_TXN_ID, U32, txn)]) + ints,
                                 NLM_F_REQUEST, 1, seq)
                    raw_send(r.choice(socks), fam, r.choice((CMD_TABLE_COMMIT, CMD_TABLE_COMMIT, CMD_TABLE_ABORT)),
                             encode([(A_TXN_ID, U32, txn)]), NLM_F_REQUEST | NLM_F_ACK, 1, seq)
                elif act == 2:  # a dump, read partly, maybe the socket closed mid-dump
                    raw_send(s, fam, CMD_INTERCEPT_GET, b"", NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, 1, seq)
                    for _ in range(r.randint(0, 3)):
                        try:
                            s.recv(r.choice((64, 4096, 1 << 16)), socket.MSG_DONTWAIT)
                        except BlockingIOError:
                            break
                    if r.random() < 0.3:
                        socks.remove(s)
                        s.close()
                elif act == 3:  # close a socket, maybe mid-transaction
                    socks.remove(s)
                    s.close()
                elif act == 4:  # register a transparent socket, traffic to it
                    f = r.choice((socket.AF_INET, socket.AF_INET6))
                    u = socket.socket(f, r.choice((socket.SOCK_DGRAM, socket.SOCK_STREAM)))
                    try:
                        u.setsockopt(socket.IPPROTO_IP if f == socket.AF_INET else socket.IPPROTO_IPV6,
                                     19 if f == socket.AF_INET else 75, 1)  # IP(V6)_TRANSPARENT
                        u.bind(("127.0.0.1" if f == socket.AF_INET else "::1", 0))
                        if u.type == socket.SOCK_STREAM:
                            u.listen(8)
                        raw_send(s, fam, CMD_SOCKET_REGISTER, encode([(A_SOCKET_FD, S32, u.fileno())]),
                                 NLM_F_REQUEST | NLM_F_ACK, 1, seq)
                        d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        for _ in range(r.randint(1, 20)):
                            d.sendto(os.urandom(r.randint(0, 200)), ("127.0.0.%d" % r.randint(1, 9), r.choice((5060, 5061, 9))))
                        d.close()
                    except OSError:
                        pass
                    if r.random() < 0.7:
                        u.close()
                elif act == 5:
                    raw_send(s, fam, CMD_STATS_GET, encode([(A_FLAGS, U32, 1)]), NLM_F_REQUEST | NLM_F_ACK, 1, seq)
                else:  # a generated message, maybe with a lying length
                    cmd, payload, flags, version = gen.message(r.choice(txns) if txns else None)
                    raw_send(s, fam, cmd, payload, flags, version, seq, bad_len=r.random() < 0.02)
                if r.random() < 0.5:
                    drain(s)
            except (OSError, ValueError):
                pass  # ENOBUFS, closed sockets...: the kernel side is what we check
            except Exception:  # a bug of the fuzzer: reported by the parent
                import traceback
                traceback.print_exc()
                stop.set()

    ts = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
    for t in ts:
        t.start()
    print("ready", flush=True)
    signal.pause()


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=3)
    ap.add_argument("--children", type=int, default=2, help="churn children alive at a time")
    a = ap.parse_args()
    if a.child is not None:
        child(a.child, a.threads)
        return 0
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    print("TAP version 13")
    print(f"# seed {seed} (reproduce: --seed {seed}), {a.seconds:.0f} s")
    sys.stdout.flush()
    r = random.Random(seed)
    n = 0
    failed = 0

    def tap(good, desc, diag=()):
        nonlocal n, failed
        n += 1
        failed += not good
        print(f"{'ok' if good else 'not ok'} {n} {desc}")
        for d in diag:
            for line in str(d).splitlines():
                print(f"# {line}")
        sys.stdout.flush()

    stop = threading.Event()
    churned = [0]
    churn_problems = []
    started = {}

    def churn():
        kids = {}  # Popen -> when to kill it (None until it is fuzzing)
        while not stop.is_set() or kids:
            while not stop.is_set() and len(kids) < a.children:
                p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", str(r.randint(0, 1 << 30)),
                                      "--threads", str(a.threads)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                kids[p] = None
                started[p] = time.monotonic()
            now = time.monotonic()
            for p in list(kids):
                if kids[p] is None and select.select([p.stdout], [], [], 0)[0]:
                    if p.stdout.readline().strip() == b"ready":  # its threads run: kill it a while later
                        kids[p] = now + r.uniform(1.5, 5)
                if p.poll() is not None:
                    del kids[p]
                    err = p.communicate()[1].decode(errors="replace").strip()
                    churn_problems.append(f"a churn child exited by itself ({p.returncode}): {err[-500:]}")
                elif (kids[p] is not None and now >= kids[p]) or stop.is_set() or now - started[p] > 120:
                    ready = kids[p] is not None
                    p.kill()
                    _, err = p.communicate()
                    del kids[p]
                    if b"Traceback" in err:
                        churn_problems.append("a churn thread failed: " + err.decode(errors="replace")[-800:])
                    if ready:
                        churned[0] += 1
                    elif not stop.is_set():
                        churn_problems.append("a churn child was not fuzzing after 120 s")
            time.sleep(0.05)

    th = threading.Thread(target=churn)
    th.start()
    try:
        msgs, problems = oracle(a.seconds, r.randint(0, 1 << 30), lambda s: print(f"# {s}"))
    finally:
        stop.set()
        th.join()
    tap(not problems, f"oracle: {msgs} generated messages each answered with the family's errnos; failed ones changed nothing",
        problems)
    tap(churned[0] > 0 and not churn_problems,
        f"churn: {churned[0]} namespaces fuzzed from {a.threads} threads each and deleted under load", churn_problems[:5])
    # The module still works in this namespace.
    try:
        g = Genl()
        g.cmd(CMD_INTERCEPT_FLUSH)
        g.cmd(CMD_INTERCEPT_ADD, nl.intercept(7, "after-fuzz", dsts=("10.7.0.0/16",)))
        good = g.ids() == [7]
        g.cmd(CMD_INTERCEPT_DEL, nl.intercept(7, None, protos=None, dsts=None, prts=None))
        good = good and g.ids() == []
        tap(good, "the family answers a valid add, dump and delete after the fuzzing")
    except (nl.Error, OSError) as e:
        tap(False, "the family answers a valid add, dump and delete after the fuzzing", [str(e)])
    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
