#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""What an unprivileged local user can do with a foreign address (localuser.sh).

    takeover.py udp LOCAL REMOTE COUNT
        A UDP socket bound (IP_FREEBIND / IPV6_FREEBIND) to LOCAL, connected
        to REMOTE; sends COUNT datagrams, each waiting 0.5 s for an answer.
    takeover.py udp-wait LOCAL REMOTE SECONDS
        The same socket; sends nothing, counts what it receives for SECONDS
        (prints "ready" first).
    takeover.py tcp LOCAL REMOTE COUNT
        COUNT TCP connections from LOCAL's address, ports LOCAL's port + i,
        to REMOTE (an echo server), each sending one line and reading the
        answer.

Prints "sent S received R" (udp), "received R" (udp-wait) or
"connected C answered A" (tcp). Errors of single attempts are counted, not
fatal: the point is how many get through.
"""
import socket
import sys
import time

IP_FREEBIND = 15
IPV6_FREEBIND = 78


def addr(s):
    host, port = s.rsplit(":", 1)
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    return fam, (host, int(port))


def sock(fam, kind):
    s = socket.socket(fam, kind)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)
    else:
        s.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return s


def udp_sock(local, remote):
    fam, la = addr(local)
    _, ra = addr(remote)
    s = sock(fam, socket.SOCK_DGRAM)
    s.bind(la)
    try:
        s.connect(ra)
    except OSError as e:
        print("connect: %s" % e, file=sys.stderr)
        return None
    return s


def udp(local, remote, count):
    s = udp_sock(local, remote)
    sent = received = 0
    for i in range(count if s else 0):
        try:
            s.send(b"takeover %d\n" % i)
            sent += 1
        except OSError as e:
            print("send: %s" % e, file=sys.stderr)
        s.settimeout(0.5)
        try:
            s.recv(2048)
            received += 1
        except OSError:
            pass
    print("sent %d received %d" % (sent, received))


def udp_wait(local, remote, seconds):
    s = udp_sock(local, remote)
    print("ready", flush=True)
    received = 0
    end = time.time() + seconds
    while s and time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            s.recv(2048)
            received += 1
        except OSError:
            pass
    print("received %d" % received, flush=True)


def tcp(local, remote, count):
    fam, (lhost, lport) = addr(local)
    _, ra = addr(remote)
    connected = answered = 0
    for i in range(count):
        s = sock(fam, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.bind((lhost, lport + i))
            s.connect(ra)
            connected += 1
            s.sendall(b"takeover %d\n" % i)
            if s.recv(2048):
                answered += 1
        except OSError as e:
            print("tcp %d: %s" % (i, e), file=sys.stderr)
        s.close()
    print("connected %d answered %d" % (connected, answered))


def main():
    cmd, local, remote, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    {"udp": udp, "udp-wait": udp_wait, "tcp": tcp}[cmd](local, remote, int(n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
