#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A fault proxy in front of the controller's port (edge client API) for the fault soak.

  ctrlproxy.py LISTEN_ADDR LISTEN_PORT UPSTREAM_PORT DIR CERT KEY [ALT_NAME ALT_CERT]

Listens on LISTEN_ADDR:LISTEN_PORT (an IPv6 address like ::1 too: the controller's own port
on ::1, for clients whose Host header must name a port the controller serves, as its OIDC
issuer check wants). The mode is the first word of DIR/mode (written by the
test, read every 50 ms and at each accepted connection):

  pass   every connection is relayed to 127.0.0.1:UPSTREAM_PORT byte for byte (TLS end to
         end: the client's certificate login works as without the proxy)
  fail   every relayed connection is reset (RST) when the mode changes to fail; each new
         connection then gets the next of three failures in turn:
           reset  accepted and reset at once (a load balancer without a backend)
           503    TLS answered with CERT/KEY (the controller's own server certificate,
                  ALT_CERT when the client names ALT_NAME), the request read and answered
                  "503 Service Unavailable" in the controller's error format
           stall  accepted, read and never answered (a black hole: the client's request
                  times out) until the mode changes back to pass, then reset
  503    as fail, but every new connection is answered 503 (the controller refusing every
         request; sipovld retries an OIDC token refresh answered so, the session kept)
  refuse as 503, but answered "400 Bad Request" with the OIDC token endpoint's refusal of a
         refresh token ({"error":"invalid_grant"}): the refresh is refused for good, sipovld
         logs in from scratch

DIR/proxy.log gets a line per connection: "<ms> <action> [<method> <path>]", and a line
"<ms> mode <mode>" for each change seen.
"""
import os
import socket
import ssl
import struct
import sys
import threading
import time

laddr, lport, uport, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
cert, key = sys.argv[5], sys.argv[6]
alt_name = sys.argv[7] if len(sys.argv) > 8 else None
alt_cert = sys.argv[8] if len(sys.argv) > 8 else None

lock = threading.Lock()
relayed = set()   # sockets of relayed connections (both ends)
stalled = set()
mode = 'pass'
turn = 0
logf = open(os.path.join(d, 'proxy.log'), 'a', buffering=1)


def log(msg):
    with lock:
        logf.write('%d %s\n' % (int(time.time() * 1000), msg))


def rst(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


def abort(s):
    """Reset a socket another thread blocks on: close() from here would neither wake that
    thread's recv nor send the RST (the call holds the file); SHUT_RD wakes it (no FIN),
    and its owner's close then sends the RST (SO_LINGER 0)."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        s.shutdown(socket.SHUT_RD)
    except OSError:
        pass


def read_mode():
    try:
        with open(os.path.join(d, 'mode')) as f:
            return (f.read().split() or ['pass'])[0]
    except OSError:
        return 'pass'


def ctx_for(certfile):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    c.load_cert_chain(certfile, key)
    c.set_alpn_protocols(['http/1.1'])
    return c


tls = ctx_for(cert)
if alt_cert:
    tls_alt = ctx_for(alt_cert)

    def sni(sock, name, _ctx):
        if name == alt_name:
            sock.context = tls_alt
    tls.sni_callback = sni


def pump(a, b):
    try:
        while True:
            buf = a.recv(65536)
            if not buf:
                break
            b.sendall(buf)
    except OSError:
        pass
    # the peer closed (or the watcher aborted both ends: then SO_LINGER 0 makes these
    # closes resets); the other direction's thread wakes from its recv on b
    with lock:
        mine = b in relayed
        relayed.discard(a)
        relayed.discard(b)
    if mine:
        try:
            b.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    try:
        a.close()
    except OSError:
        pass


def relay(c):
    try:
        u = socket.create_connection(('127.0.0.1', uport), timeout=5)
        u.settimeout(None)
    except OSError:
        rst(c)
        log('upstream-refused')
        return
    with lock:
        relayed.add(c)
        relayed.add(u)
    threading.Thread(target=pump, args=(c, u), daemon=True).start()
    threading.Thread(target=pump, args=(u, c), daemon=True).start()


def answer_503(c, refuse=False):
    req = '?'
    try:
        c.settimeout(5)
        t = tls.wrap_socket(c, server_side=True)
        buf = b''
        while b'\r\n\r\n' not in buf and len(buf) < 65536:
            chunk = t.recv(4096)
            if not chunk:
                break
            buf += chunk
        req = ' '.join(buf.split(b'\r\n', 1)[0].decode('latin-1').split(' ')[:2]) or '?'
        if refuse:
            status = b'400 Bad Request'
            body = b'{"error":"invalid_grant","error_description":"fault proxy: refused"}'
        else:
            status = b'503 Service Unavailable'
            body = (b'{"error":{"code":"SERVICE_UNAVAILABLE","message":"fault proxy: 503",'
                    b'"status":503},"meta":{"apiVersion":"0.0.0"}}')
        t.sendall(b'HTTP/1.1 %s\r\nContent-Type: application/json\r\n'
                  b'Content-Length: %d\r\nConnection: close\r\n\r\n%s' % (status, len(body), body))
        t.close()
    except (OSError, ssl.SSLError) as e:
        req += ' (%s)' % type(e).__name__
        rst(c)
    log(('refuse ' if refuse else '503 ') + req)


def stall(c):
    with lock:
        stalled.add(c)
    log('stall')
    try:
        while c.recv(65536):
            pass
    except OSError:
        pass
    with lock:
        stalled.discard(c)
    rst(c)


def watch():
    global mode
    while True:
        m = read_mode()
        if m != mode:
            with lock:
                mode = m
                victims = list(relayed) if m != 'pass' else list(stalled)
                relayed.difference_update(victims)
                stalled.difference_update(victims)
            log('mode %s (%d connections reset)' % (m, len(victims)))
            for s in victims:
                abort(s)
        time.sleep(0.05)


def main():
    global turn
    ls = socket.socket(socket.AF_INET6 if ':' in laddr else socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((laddr, lport))
    ls.listen(64)
    threading.Thread(target=watch, daemon=True).start()
    open(os.path.join(d, 'ready'), 'w').close()
    while True:
        c, _ = ls.accept()
        with lock:
            m = mode
            k = turn % 3
            if m == 'fail':
                turn += 1
        if m in ('503', 'refuse'):
            threading.Thread(target=answer_503, args=(c, m == 'refuse'), daemon=True).start()
        elif m != 'fail':
            relay(c)
        elif k == 0:
            log('reset')
            rst(c)
        elif k == 1:
            threading.Thread(target=answer_503, args=(c,), daemon=True).start()
        else:
            threading.Thread(target=stall, args=(c,), daemon=True).start()


if __name__ == '__main__':
    main()
