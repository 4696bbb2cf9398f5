#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""N TCP connections started at once, each waiting for peer listen's reply.

    tcpburst.py DST_ADDR DST_PORT N TIMEOUT_S

All N non-blocking connects are issued back to back (their SYNs leave
within a few milliseconds, so a delayed link delivers them together). Each
connection, once connected, sends "bI\\n" and shuts its write side down, then
reads until EOF; it completes when the reply is exactly the line of
selftests/sipovl/peer.c's listener: "TCP <client addr:port> <DST:PORT> bI".
Prints one line per connection ("ok I" or "fail I REASON", with the seconds
from the start at which it connected and completed), then "completed K of
N", and exits 0 when all N completed within TIMEOUT_S.
"""
import errno
import ipaddress
import select
import socket
import sys
import time


def fmt(addr, port):
    a = ipaddress.ip_address(addr.split("%")[0])
    return f"[{a}]:{port}" if a.version == 6 else f"{a}:{port}"


def main():
    dst = ipaddress.ip_address(sys.argv[1])
    port = int(sys.argv[2])
    n = int(sys.argv[3])
    t0 = time.monotonic()
    deadline = t0 + float(sys.argv[4])
    fam = socket.AF_INET6 if dst.version == 6 else socket.AF_INET
    conns = {}
    for i in range(n):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((str(dst), port))
        conns[s.fileno()] = {"i": i, "s": s, "st": "connecting", "buf": b""}
    poll = select.poll()
    for fd in conns:
        poll.register(fd, select.POLLOUT)
    result = {}
    while len(result) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for fd, ev in poll.poll(left * 1000):
            c = conns[fd]
            s = c["s"]
            if c["st"] == "connecting":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    result[c["i"]] = "connect: " + errno.errorcode.get(err, str(err))
                    poll.unregister(fd)
                    continue
                c["conn_t"] = time.monotonic() - t0
                s.send(b"b%d\n" % c["i"])
                s.shutdown(socket.SHUT_WR)
                c["st"] = "reading"
                poll.modify(fd, select.POLLIN)
                continue
            try:
                data = s.recv(4096)
            except OSError as e:
                result[c["i"]] = "recv: " + str(e)
                poll.unregister(fd)
                continue
            if data:
                c["buf"] += data
                continue
            poll.unregister(fd)
            want = "TCP %s %s b%d" % (fmt(*s.getsockname()[:2]),
                                      fmt(str(dst), port), c["i"])
            got = c["buf"].decode(errors="replace").strip()
            result[c["i"]] = None if got == want else "reply %r" % got
            c["done_t"] = time.monotonic() - t0
    done = 0
    for c in sorted(conns.values(), key=lambda c: c["i"]):
        i = c["i"]
        when = "connected %s s, done %s s" % (
            "%.2f" % c["conn_t"] if "conn_t" in c else "-",
            "%.2f" % c["done_t"] if "done_t" in c else "-")
        if i not in result:
            print("fail %d timeout (%s; %s)" % (i, c["st"], when))
        elif result[i]:
            print("fail %d %s (%s)" % (i, result[i], when))
        else:
            print("ok %d (%s)" % (i, when))
            done += 1
    print("completed %d of %d" % (done, n))
    return 0 if done == n else 1


if __name__ == "__main__":
    sys.exit(main())
