#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The SIP server of selftests/sipovl/endpoint.sh: a UDP registrar and proxy, just enough of
RFC 3261 for SIPp's REGISTER and its built-in uac/uas call (the guest has SIPp, no SIP server).

    sipreg.py ADDR PORT LOG

REGISTER: the Contact's user (sip:USER@HOST:PORT) is bound to HOST:PORT and answered 200 with
that Contact; LOG gets "REGISTER USER from SRC contact HOST:PORT". Another request whose
Request-URI user is registered is forwarded to that contact with this proxy's Via on top (404
when not registered); LOG gets "METHOD USER from SRC to HOST:PORT". A response is sent, without
the top Via (this proxy's), to where its request came from (by Call-ID and CSeq); LOG gets
"RESPONSE CODE CSEQ from SRC to DST". Prints "ready" once listening.
"""
import re
import socket
import sys


def header(lines, name):
    for line in lines[1:]:
        k, _, v = line.partition(':')
        if k.strip().lower() == name.lower():
            return v.strip()
    return ''


def main():
    addr, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    regs = {}
    pending = {}
    out = open(log, 'a', buffering=1)
    print('ready', flush=True)
    while True:
        data, src = s.recvfrom(65535)
        head, _, body = data.decode('utf-8', 'replace').partition('\r\n\r\n')
        lines = head.split('\r\n')
        key = (header(lines, 'Call-ID'), header(lines, 'CSeq'))
        srcs = '%s:%d' % src
        if lines[0].startswith('SIP/2.0 '):
            dst = pending.get(key)
            if not dst:
                continue
            vias = [i for i, line in enumerate(lines) if line.lower().startswith('via:')]
            if vias:  # the top Via is this proxy's, alone or first of a comma list
                rest = lines[vias[0]].partition(',')[2].strip()
                if rest:
                    lines[vias[0]] = 'Via: ' + rest
                else:
                    del lines[vias[0]]
            s.sendto(('\r\n'.join(lines) + '\r\n\r\n' + body).encode(), dst)
            out.write('RESPONSE %s %s from %s to %s:%d\n' % (lines[0].split(' ')[1], key[1], srcs, *dst))
            continue
        method, ruri = lines[0].split(' ')[:2]
        if method == 'REGISTER':
            m = re.search(r'sip:([^@>;]+)@([0-9.]+):([0-9]+)', header(lines, 'Contact'))
            if not m:
                continue
            regs[m.group(1)] = (m.group(2), int(m.group(3)))
            out.write('REGISTER %s from %s contact %s:%s\n' % (m.group(1), srcs, m.group(2), m.group(3)))
            to = header(lines, 'To')
            resp = ['SIP/2.0 200 OK'] + [line for line in lines[1:] if line.lower().startswith('via:')] + [
                'From: ' + header(lines, 'From'), 'To: ' + to + ('' if ';tag=' in to else ';tag=reg1'),
                'Call-ID: ' + key[0], 'CSeq: ' + key[1], 'Contact: <sip:%s@%s:%s>;expires=3600' % m.groups(),
                'Content-Length: 0']
            s.sendto(('\r\n'.join(resp) + '\r\n\r\n').encode(), src)
            continue
        m = re.match(r'sip:([^@]+)@', ruri)
        user = m.group(1) if m else ''
        if user not in regs:
            resp = ['SIP/2.0 404 Not Found'] + [line for line in lines[1:] if line.lower().startswith(
                ('via:', 'from:', 'to:', 'call-id:', 'cseq:'))] + ['Content-Length: 0']
            s.sendto(('\r\n'.join(resp) + '\r\n\r\n').encode(), src)
            out.write('%s %s from %s: not registered\n' % (method, user, srcs))
            continue
        if method != 'ACK':
            pending[key] = src
        via = 'Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-sipreg-%x' % (addr, port, abs(hash(key + (method,))))
        lines.insert(1, via)
        s.sendto(('\r\n'.join(lines) + '\r\n\r\n' + body).encode(), regs[user])
        out.write('%s %s from %s to %s:%d\n' % (method, user, srcs, *regs[user]))


if __name__ == '__main__':
    main()
