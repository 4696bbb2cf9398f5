# SPDX-License-Identifier: GPL-2.0
"""Fan-out of new flows over a group of registered sockets (steer.sh).

Run in the gateway's namespace: fanout.py CLIENT_NS SRC DST. It registers
transparent UDP and TCP sockets as group members, has the client (in
CLIENT_NS, through `ip netns exec`, by `fanout.py send-*`) start flows from
SRC to DST:5060 (an intercept with policy drop must cover DST), and checks
which member each datagram and connection reaches. Prints one result per
line: "ok|DESC" or "not ok|DESC|DIAGNOSTIC"; exit status 0 when it ran to the
end."""
import os
import select
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nl import (Genl, Error, parse_attrs, s32, u32, CMD_SOCKET_REGISTER,  # noqa: E402
                CMD_SOCKET_UNREGISTER, CMD_CONFIG_GET, CMD_STATS_GET, A_SOCKET_FD,
                A_FLAGS, A_SOCKET, A_STATS)

IP_TRANSPARENT = 19
F_SOCKET_JOIN = 1 << 1
(SK_FAMILY, SK_PROTOCOL, SK_PORT, SK_ALIVE, SK_MEMBER, SK_MEMBERS,
 SK_INODE) = range(1, 8)
STATS_DROPPED, STATS_SRC_DENIED = 4, 7
FLOWS, DGRAMS, PORT0 = 1000, 2, 20000
ME = os.path.abspath(__file__)


def result(good, desc, diag=""):
    print(f"{'ok' if good else 'not ok'}|{desc}|{diag}", flush=True)
    return good


# --- client side (in the client's namespace) ---

def send_udp(src, dst, tag, first, n, dgrams):
    for k in range(dgrams):
        for i in range(first, first + n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((src, PORT0 + i))
            s.sendto(f"{tag}:{i}:{k}".encode(), (dst, 5060))
            s.close()
        # Pace the rounds a little: the members drain their queues.
        time.sleep(0.2)


def claim_client(src, dst, n):
    """Start n flows and keep their sockets: the gateway's workers claim them and answer."""
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((src, PORT0 + i))
        s.sendto(f"claim:{i}:0".encode(), (dst, 5060))
        socks.append(s)
    print("sent", flush=True)
    sys.stdin.readline()
    good, pending = 0, set(range(n))
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        r, _, _ = select.select([socks[i] for i in pending], [], [], 1)
        for s in r:
            i = socks.index(s)
            data, addr = s.recvfrom(64)
            good += data == f"reply:{i}".encode() and addr == (dst, 5060)
            pending.discard(i)
    for i, s in enumerate(socks):
        s.sendto(f"claim:{i}:1".encode(), (dst, 5060))
    print(f"replies {good}", flush=True)
    sys.stdin.readline()


def send_tcp(src, dst, n):
    for i in range(n):
        s = socket.create_connection((dst, 5060), timeout=20, source_address=(src, 0))
        s.sendall(f"first:{i}\n".encode())
        if s.recv(16) != b"ok\n":
            sys.exit(f"connection {i}: no reply")
        s.sendall(f"rest:{i}\n".encode())
        s.shutdown(socket.SHUT_WR)
        s.recv(16)
        s.close()


# --- gateway side ---

class Gateway:
    def __init__(self, cli_ns, src, dst):
        self.cli_ns, self.src, self.dst = cli_ns, src, dst
        self.g = Genl()
        self.tag = 0

    def udp_member(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        s.bind(("0.0.0.0", 0))
        s.setblocking(False)
        return s

    def register(self, s, join=True):
        attrs = [s32(A_SOCKET_FD, s.fileno())]
        if join:
            attrs.append(u32(A_FLAGS, F_SOCKET_JOIN))
        self.g.cmd(CMD_SOCKET_REGISTER, *attrs)

    def leave(self, s):
        self.g.cmd(CMD_SOCKET_UNREGISTER, s32(A_SOCKET_FD, s.fileno()))

    def members(self, proto=socket.IPPROTO_UDP):
        """[(index, members, inode, alive)] of the IPv4 group of proto."""
        out = []
        for t, v in parse_attrs(self.g.cmd(CMD_CONFIG_GET)[0][1]):
            if t != A_SOCKET:
                continue
            a = dict(parse_attrs(v))
            if (struct.unpack("=H", a[SK_FAMILY])[0] != socket.AF_INET or
                    a[SK_PROTOCOL][0] != proto):
                continue
            out.append((struct.unpack("=I", a[SK_MEMBER])[0],
                        struct.unpack("=I", a[SK_MEMBERS])[0],
                        struct.unpack("=Q", a[SK_INODE])[0], a[SK_ALIVE][0]))
        return out

    def stat(self, which):
        for t, v in parse_attrs(self.g.cmd(CMD_STATS_GET)[0][1]):
            if t == A_STATS:
                return struct.unpack("=Q", dict(parse_attrs(v))[which])[0]
        return None

    def dropped(self):
        return self.stat(STATS_DROPPED)

    def client(self, *args):
        return subprocess.Popen(["ip", "netns", "exec", self.cli_ns, sys.executable, ME,
                                 *args, self.src, self.dst])

    def round(self, socks, n=FLOWS, dgrams=DGRAMS, timeout=120):
        """Send n flows of dgrams datagrams; {flow: set(member index)}, lost."""
        self.tag += 1
        tag = str(self.tag)
        want = n * dgrams
        got, seen = 0, {}
        p = self.client("send-udp", tag, "0", str(n), str(dgrams))
        deadline = time.monotonic() + timeout
        while got < want and time.monotonic() < deadline:
            r, _, _ = select.select(socks, [], [], 0.5)
            got += drain(r, socks, tag, seen)
        p.wait()
        return seen, want - got


def drain(ready, socks, tag, seen):
    """Read what waits on the sockets in ready; count the datagrams of round tag
    into seen ({flow: set(index in socks)}) and return how many there were."""
    n = 0
    for s in ready:
        while True:
            try:
                data = s.recv(64)
            except BlockingIOError:
                break
            t, i, _ = data.decode().split(":")
            if t != tag:
                continue
            n += 1
            seen.setdefault(int(i), set()).add(socks.index(s))
    return n


def spread(seen, n):
    c = [0] * n
    for m in seen.values():
        for i in m:
            c[i] += 1
    return c


def claim(gw, socks, n=200):
    """Both directions of a flow stay with the worker that got its first datagram.

    Each member (a worker) claims the flows it gets with a connected transparent socket from
    the intercepted address, as sipovld does, and answers through it; then a member joins.
    The client must get every answer from the intercepted address, and its next datagram of
    every flow must reach the claiming socket, none a member; once the claims are closed,
    the joined member wins its share of the same flows (so the join did cover them)."""
    cl = subprocess.Popen(["ip", "netns", "exec", gw.cli_ns, sys.executable, ME, "claim", str(n),
                           gw.src, gw.dst], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if cl.stdout.readline().strip() != "sent":
        cl.kill()
        return result(False, "claim: the client started its flows", f"exit {cl.wait()}")
    owner, claims = {}, {}
    denied0 = gw.stat(STATS_SRC_DENIED)
    deadline = time.monotonic() + 60
    while len(owner) < n and time.monotonic() < deadline:
        r, _, _ = select.select(socks, [], [], 0.5)
        for s in r:
            while True:
                try:
                    data, addr = s.recvfrom(64)
                except BlockingIOError:
                    break
                t, i, k = data.decode().split(":")
                if t != "claim" or k != "0":
                    continue
                i = int(i)
                owner.setdefault(i, set()).add(socks.index(s))
                c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                c.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
                c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                c.bind((gw.dst, 5060))
                c.connect(addr)
                c.setblocking(False)
                c.send(f"reply:{i}".encode())
                claims[c] = i
    result(len(owner) == n and all(len(m) == 1 for m in owner.values()),
           f"claim: {n} flows' first datagrams, each at one member, claimed by its worker",
           f"seen {len(owner)}")
    extra = gw.udp_member()
    gw.register(extra)
    cl.stdin.write("go\n")
    cl.stdin.flush()
    line = cl.stdout.readline().split()
    replies = int(line[1]) if len(line) == 2 and line[0] == "replies" else -1
    at_claim, at_member = 0, 0
    group = socks + [extra]
    deadline = time.monotonic() + 60
    while at_claim + at_member < n and time.monotonic() < deadline:
        r, _, _ = select.select(list(claims) + group, [], [], 0.5)
        for s in r:
            while True:
                try:
                    data = s.recv(64)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                t, i, k = data.decode().split(":")
                if t != "claim" or k != "1":
                    continue
                if s in claims and claims[s] == int(i):
                    at_claim += 1
                else:
                    at_member += 1
    result(replies == n and gw.stat(STATS_SRC_DENIED) == denied0,
           f"claim: the client got {replies} of {n} answers, each from {gw.dst}:5060 to its own port "
           "(none denied by the source policing)")
    result(at_claim == n and at_member == 0,
           f"claim: after a member joined, {at_claim} of {n} flows' next datagrams at their worker's "
           f"claiming socket, {at_member} at a group member")
    cl.stdin.write("end\n")
    cl.stdin.flush()
    cl.wait()
    for c in claims:
        c.close()
    seen, lost = gw.round(group, n=n, dgrams=1)
    to_new = sum(m == {len(socks)} for m in seen.values())
    result(lost == 0 and to_new > 0,
           f"claim: unclaimed, {to_new} of the {n} flows go to the joined member (the join covered them)",
           f"lost {lost}")
    gw.leave(extra)
    extra.close()


def churn(gw, socks, n=100, dgrams=8, every=0.03):
    """Joins and leaves while flows run: no datagram meets a half-made group.

    A fifth member joins and leaves over and over (each change published whole, under RCU)
    while the client sends n flows x dgrams datagrams. Every datagram must reach a member
    (the kernel drops none for want of one), and a flow may only be at its own member or at
    the churning one (rendezvous: a join or leave moves no flow between the others)."""
    seen0, lost0 = gw.round(socks, n=n, dgrams=1)
    home = {i: min(m) for i, m in seen0.items()}
    extra = gw.udp_member()
    group = socks + [extra]
    gw.tag += 1
    tag = str(gw.tag)
    d0 = gw.dropped()
    p = gw.client("send-udp", tag, "0", str(n), str(dgrams))
    want, got, seen, ops, joined = n * dgrams, 0, {}, 0, False
    t_op = time.monotonic()
    deadline = t_op + 120
    while got < want and time.monotonic() < deadline:
        if p.poll() is None and time.monotonic() >= t_op:
            if joined:
                gw.leave(extra)
            else:
                gw.register(extra)
            joined = not joined
            ops += 1
            t_op = time.monotonic() + every
        r, _, _ = select.select(group, [], [], every)
        got += drain(r, group, tag, seen)
    p.wait()
    if joined:
        gw.leave(extra)
    d1 = gw.dropped()
    stray = sum(not m <= {home.get(i), len(socks)} for i, m in seen.items())
    on_extra = sum(len(socks) in m for m in seen.values())
    result(lost0 == 0 and got == want and d1 == d0 and ops >= 10,
           f"churn: {ops} joins and leaves while {n} flows x {dgrams} datagrams ran: {got} of {want} "
           f"delivered, none dropped by the kernel ({d0} -> {d1})")
    result(stray == 0 and on_extra > 0,
           f"churn: every flow only at its own member or the churning one ({on_extra} flows at times "
           f"on the latter), {stray} elsewhere")
    extra.close()


def gateway(cli_ns, src, dst):
    gw = Gateway(cli_ns, src, dst)
    n = 4
    socks = [gw.udp_member() for _ in range(n)]
    # The first registration replaces whatever was registered (the old API).
    gw.register(socks[0], join=False)
    for s in socks[1:]:
        gw.register(s)
    mem = gw.members()
    inodes = sorted(os.fstat(s.fileno()).st_ino for s in socks)
    result(sorted(m[2] for m in mem) == inodes and all(m[1] == n for m in mem),
           f"{n} udp sockets registered as one group", f"config: {mem}")
    try:
        gw.register(socks[1])
        result(False, "joining twice is refused (EEXIST)")
    except Error as e:
        result(e.errno == 17, "joining twice is refused (EEXIST)", str(e))

    # Distribution and stickiness.
    seen, lost = gw.round(socks)
    sticky = all(len(m) == 1 for m in seen.values())
    c = spread(seen, n)
    even = FLOWS / n
    result(lost == 0 and len(seen) == FLOWS, f"{FLOWS} flows x {DGRAMS} datagrams all delivered",
           f"lost {lost}, flows seen {len(seen)}")
    result(sticky, "every datagram of a flow reaches one member",
           f"{sum(len(m) > 1 for m in seen.values())} flows split")
    result(all(0.6 * even <= x <= 1.4 * even for x in c),
           f"spread of {FLOWS} flows over {n} members: {c} (each within 40% of {even:.0f})")
    base = {i: min(m) for i, m in seen.items()}

    # A member joins: flows move only to it, about 1/(n+1) of them.
    socks.append(gw.udp_member())
    gw.register(socks[n])
    seen, lost = gw.round(socks)
    moved = {i for i, m in seen.items() if m != {base[i]}}
    to_new = all(seen[i] == {n} for i in moved)
    even = FLOWS / (n + 1)
    result(lost == 0 and all(len(m) == 1 for m in seen.values()),
           "after a join: all delivered, every flow on one member", f"lost {lost}")
    result(to_new and 0.6 * even <= len(moved) <= 1.4 * even,
           f"a joining member takes {len(moved)} of {FLOWS} flows (about {even:.0f}), "
           "nobody else's flow moves", f"moved elsewhere: {sum(seen[i] != {n} for i in moved)}")

    # It leaves again (SOCKET_UNREGISTER with its fd): every flow is back.
    gw.leave(socks[n])
    seen, lost = gw.round(socks[:n])
    back = sum(seen.get(i) == {base[i]} for i in base)
    result(lost == 0 and back == FLOWS, f"after it leaves: {back} of {FLOWS} flows on their first member",
           f"lost {lost}")
    try:
        gw.leave(socks[n])
        result(False, "leaving when not a member is refused (ENOENT)")
    except Error as e:
        result(e.errno == 2, "leaving when not a member is refused (ENOENT)", str(e))
    socks[n].close()
    socks.pop()

    # Member loss: member 0 is closed without unregistering. Its flows go to
    # the others at once (before the reaper drops it); nobody else's move.
    victims = {i for i, m in base.items() if m == 0}
    socks[0].close()
    live = socks[1:]
    seen, lost = gw.round(live)
    stayed = sum(seen.get(i) == {base[i] - 1} for i in base if i not in victims)
    c = spread({i: seen[i] for i in victims if i in seen}, n - 1)
    result(lost == 0 and all(len(m) == 1 for m in seen.values()),
           "member closed: all flows still delivered, each to one member", f"lost {lost}")
    result(stayed == FLOWS - len(victims),
           f"member closed: {stayed} of {FLOWS - len(victims)} other flows stay on their member")
    result(all(x > 0 for x in c),
           f"member closed: its {len(victims)} flows spread over the other members: {c}")
    after_close = {i: min(m) for i, m in seen.items()}
    deadline = time.monotonic() + 30
    while len(gw.members()) != n - 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    mem = gw.members()
    result(len(mem) == n - 1 and all(m[3] for m in mem), "the closed member is reaped", f"config: {mem}")
    seen, lost = gw.round(live)
    same = sum(seen.get(i) == {after_close[i]} for i in after_close)
    result(lost == 0 and same == FLOWS, f"after the reaper: {same} of {FLOWS} flows where they were",
           f"lost {lost}")

    # Re-registration: a restarted daemon registers a socket the old way (it
    # replaces the group), then its other workers join.
    fresh = [gw.udp_member() for _ in range(n)]
    gw.register(fresh[0], join=False)
    mem = gw.members()
    result(len(mem) == 1 and mem[0][2] == os.fstat(fresh[0].fileno()).st_ino,
           "a registration without join replaces the group", f"config: {mem}")
    seen, lost = gw.round(live + fresh, n=200)
    result(lost == 0 and all(m == {n - 1} for m in seen.values()),
           "every flow goes to the single registered socket", f"lost {lost}")
    for s in fresh[1:]:
        gw.register(s)
    seen, lost = gw.round(fresh)
    c = spread(seen, n)
    result(lost == 0 and all(len(m) == 1 for m in seen.values()) and all(x > 0 for x in c),
           f"re-registered group of {n}: spread {c}, every flow on one member", f"lost {lost}")

    claim(gw, fresh)
    churn(gw, fresh)

    # Every member leaves: the intercept's policy (drop) applies.
    for s in fresh:
        gw.leave(s)
    result(gw.members() == [], "the group is empty after every member left")
    d0 = gw.dropped()
    p = gw.client("send-udp", "empty", "0", "20", "1")
    p.wait()
    deadline = time.monotonic() + 30
    while gw.dropped() - d0 < 20 and time.monotonic() < deadline:
        time.sleep(0.2)
    d1 = gw.dropped()
    r, _, _ = select.select(fresh, [], [], 0)
    result(d1 - d0 >= 20 and not r, f"empty group: new flows get the policy (dropped {d0} -> {d1})")
    for s in live + fresh:
        s.close()

    # TCP: the SYN picks a listener, the accepted socket gets the rest.
    lst = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
        s.bind(("0.0.0.0", 0))
        s.listen(64)
        s.setblocking(False)
        lst.append(s)
    gw.register(lst[0], join=False)
    for s in lst[1:]:
        gw.register(s)
    conns = 40
    p = gw.client("send-tcp", str(conns))
    accepted = [0] * n
    rest = 0
    open_conns = {}
    deadline = time.monotonic() + 120
    while rest < conns and time.monotonic() < deadline:
        r, _, _ = select.select(lst + list(open_conns), [], [], 0.5)
        for s in r:
            if s in lst:
                c, _ = s.accept()
                accepted[lst.index(s)] += 1
                open_conns[c] = b""
                continue
            data = s.recv(256)
            open_conns[s] += data
            if data.startswith(b"first:"):
                s.sendall(b"ok\n")
            if b"rest:" in open_conns[s] and data == b"":
                rest += 1
                s.sendall(b"bye\n")
                s.close()
                del open_conns[s]
            elif data == b"":
                s.close()
                del open_conns[s]
    rc = p.wait()
    result(rc == 0 and rest == conns and sum(x > 0 for x in accepted) >= 2,
           f"tcp: {conns} connections over {n} listeners {accepted}, each one's later segments "
           "on its accepted socket", f"client exit {rc}, completed {rest}")
    gw.g.cmd(CMD_SOCKET_UNREGISTER)
    for s in lst:
        s.close()


def main():
    mode = sys.argv[1]
    if mode == "send-udp":
        tag, first, n, dgrams, src, dst = sys.argv[2:8]
        send_udp(src, dst, tag, int(first), int(n), int(dgrams))
    elif mode == "claim":
        n, src, dst = sys.argv[2:5]
        claim_client(src, dst, int(n))
    elif mode == "send-tcp":
        n, src, dst = sys.argv[2:5]
        send_tcp(src, dst, int(n))
    else:
        gateway(*sys.argv[1:4])


if __name__ == "__main__":
    main()
