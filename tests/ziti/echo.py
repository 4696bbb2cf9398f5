#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Plain-socket helpers for the Go tunneler interop tests.

  echo.py serve TCP_PORT UDP_PORT      TCP and UDP echo servers on 127.0.0.1
  echo.py tcp PORT NBYTES [SEED]       connect, send NBYTES pseudo-random bytes, half-close,
                                       verify the echo byte for byte and the EOF
  echo.py udp PORT COUNT SIZE          send COUNT datagrams of SIZE bytes, expect each echoed
  echo.py whoami TCP_PORT              TCP on every address: after one line, answers
                                       "LOCAL_ADDRESS PEER_ADDRESS" (who was dialed, from where)
Exit status 0 on success; failures print the reason.
"""
import os
import random
import select
import socket
import socketserver
import sys
import threading
import time


def serve(tcp_port, udp_port):
    class TCPEcho(socketserver.BaseRequestHandler):
        def handle(self):
            s = self.request
            while True:
                d = s.recv(65536)
                if not d:
                    break
                s.sendall(d)
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    class TS(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = 1024  # hundreds of connects at once (sipovld memory test)

    tcp = TS(("127.0.0.1", tcp_port), TCPEcho)
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", udp_port))
    print("echo: serving tcp %d udp %d" % (tcp_port, udp_port), flush=True)
    while True:
        d, a = u.recvfrom(65535)
        u.sendto(d, a)


def data(seed, n):
    r = random.Random(seed)
    return bytes(r.getrandbits(8) for _ in range(n)) if n < 4096 else r.randbytes(n)


def tcp_client(port, n, seed):
    payload = data(seed, n)
    deadline = time.time() + 30
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setblocking(False)
    sent, got = 0, bytearray()
    shut = False
    while time.time() < deadline:
        w = [s] if sent < n else []
        rr, ww, _ = select.select([s], w, [], 1)
        if ww:
            sent += s.send(payload[sent:sent + 65536])
        if sent == n and not shut:
            s.shutdown(socket.SHUT_WR)
            shut = True
        if rr:
            d = s.recv(65536)
            if not d:
                break
            got += d
    s.close()
    if bytes(got) != payload:
        print("tcp: sent %d bytes, echo %d bytes, equal=%s" % (n, len(got), bytes(got) == payload))
        return 1
    print("tcp: %d bytes echoed byte-exact, EOF seen" % n)
    return 0


def udp_client(port, count, size):
    """Datagram 0 opens the flow (re-sent until its echo arrives, at most 10 s: the tunneler
    dials the service on the first datagram). The remaining datagrams are sent once each and
    must all come back exactly once and intact."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.connect(("127.0.0.1", port))
    want = {i: i.to_bytes(4, "little") + data(i, size - 4) for i in range(count)}
    got = set()

    def recv(timeout):
        r, _, _ = select.select([u], [], [], timeout)
        if not r:
            return None
        d = u.recv(65535)
        k = int.from_bytes(d[:4], "little")
        if want.get(k) != d:
            raise ValueError("corrupted or unexpected datagram (%d bytes, seq %d)" % (len(d), k))
        return k

    try:
        deadline = time.time() + 10
        while 0 not in got and time.time() < deadline:
            u.send(want[0])
            k = recv(0.5)
            if k is not None:
                got.add(k)
        if 0 not in got:
            print("udp: flow not established (no echo of datagram 0 within 10 s)")
            return 1
        for i in range(1, count):
            u.send(want[i])
            time.sleep(0.002)
        deadline = time.time() + 10
        while len(got) < count and time.time() < deadline:
            k = recv(0.5)
            if k is None:
                continue
            if k in got and k != 0:
                print("udp: duplicate datagram %d" % k)
                return 1
            got.add(k)
    except ValueError as e:
        print("udp: %s" % e)
        return 1
    if len(got) != count:
        print("udp: %d of %d datagrams not echoed" % (count - len(got), count))
        return 1
    print("udp: %d datagrams of %d bytes echoed exactly once, intact" % (count, size))
    return 0


def whoami(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    while True:
        c, peer = s.accept()
        c.settimeout(10)
        try:
            buf = b""
            while b"\n" not in buf:
                d = c.recv(4096)
                if not d:
                    break
                buf += d
            c.sendall(("%s %s\n" % (c.getsockname()[0], peer[0])).encode())
        except OSError:
            pass
        c.close()


def main():
    a = sys.argv[1:]
    try:
        return dispatch(a)
    except OSError as e:
        print("%s: %s" % (a[0] if a else "?", e))
        sys.exit(1)


def dispatch(a):
    if a and a[0] == "serve":
        serve(int(a[1]), int(a[2]))
    elif a and a[0] == "tcp":
        sys.exit(tcp_client(int(a[1]), int(a[2]), int(a[3]) if len(a) > 3 else 1))
    elif a and a[0] == "whoami":
        whoami(int(a[1]))
    elif a and a[0] == "udp":
        sys.exit(udp_client(int(a[1]), int(a[2]), int(a[3])))
    print(__doc__)
    sys.exit(2)


if __name__ == "__main__":
    main()
