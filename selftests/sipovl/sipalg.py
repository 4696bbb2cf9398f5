#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The SIP side of sipalg.sh. Every SIP message is built here from its
addresses, so each side knows the exact bytes the other sent.

  gw-steer CLI_NS PHONE PBX_NAT PBX   in the gateway: a registered transparent
        UDP socket (the daemon's) takes the phone's INVITE to PBX_NAT:5060
        (DNATed to PBX), answers 200 OK from PBX:5060 (PBX in its Contact and SDP, as
        the far side's PBX would write it); prints one result line
        per message: "ok|DESC" or "not ok|DESC|DIAG"
  phone PHONE DST DPORT [CONTACT]     in the phone: sends the INVITE from
        PHONE:5062 to DST:DPORT, prints what came back ("same" as a 200 OK
        with CONTACT in Contact and SDP, default DST, or the bytes)
  gw-origin SRC SERVER                in the gateway: a transparent socket
        sends an INVITE from SRC:5060 to SERVER:5060
  server ADDR PORT FROM FPORT TO TPORT in the server: prints "same" when the
        INVITE from FROM:FPORT to TO:TPORT arrives as sent, else the bytes
"""
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nl import Genl, s32, CMD_SOCKET_REGISTER, A_SOCKET_FD  # noqa: E402

IP_TRANSPARENT = 19
IPV6_TRANSPARENT = 75
ME = os.path.abspath(__file__)


def fam(a):
    return socket.AF_INET6 if ":" in a else socket.AF_INET


def host(a, port=None):
    h = "[%s]" % a if ":" in a else a
    return "%s:%d" % (h, port) if port else h


def sdp(addr):
    ip = "IP6" if ":" in addr else "IP4"
    return ("v=0\r\no=- 1 1 IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\n"
            "m=audio 40000 RTP/AVP 0\r\n" % (ip, addr, ip, addr))


def invite(frm, fport, to, tport):
    body = sdp(frm)
    return ("INVITE sip:100@%s SIP/2.0\r\n"
            "Via: SIP/2.0/UDP %s;branch=z9hG4bK-alg1\r\n"
            "From: <sip:200@%s>;tag=a1\r\n"
            "To: <sip:100@%s>\r\n"
            "Call-ID: alg1@%s\r\n"
            "CSeq: 1 INVITE\r\n"
            "Contact: <sip:200@%s>\r\n"
            "Content-Type: application/sdp\r\n"
            "Content-Length: %d\r\n\r\n%s" % (
                host(to, tport), host(frm, fport), host(frm), host(to), host(frm),
                host(frm, fport), len(body), body)).encode()


def ok200(frm, fport, to, tport, contact):
    body = sdp(contact)
    return ("SIP/2.0 200 OK\r\n"
            "Via: SIP/2.0/UDP %s;branch=z9hG4bK-alg1\r\n"
            "From: <sip:200@%s>;tag=a1\r\n"
            "To: <sip:100@%s>;tag=b1\r\n"
            "Call-ID: alg1@%s\r\n"
            "CSeq: 1 INVITE\r\n"
            "Contact: <sip:100@%s>\r\n"
            "Content-Type: application/sdp\r\n"
            "Content-Length: %d\r\n\r\n%s" % (
                host(frm, fport), host(frm), host(to), host(frm), host(contact, tport),
                len(body), body)).encode()


def transparent(addr, port):
    s = socket.socket(fam(addr), socket.SOCK_DGRAM)
    if fam(addr) == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, IP_TRANSPARENT, 1)
    else:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    return s


def result(good, desc, diag=""):
    print("%s|%s|%s" % ("ok" if good else "not ok", desc, diag), flush=True)


def gw_steer(cli_ns, phone, pbx_nat, pbx):
    ls = transparent("::" if ":" in pbx else "0.0.0.0", 0)
    Genl().cmd(CMD_SOCKET_REGISTER, s32(A_SOCKET_FD, ls.fileno()))
    cli = subprocess.Popen(["ip", "netns", "exec", cli_ns, sys.executable, ME, "phone", phone, pbx_nat, "5060", pbx],
                           stdout=subprocess.PIPE, text=True)
    ls.settimeout(5)
    try:
        data, src = ls.recvfrom(65536)
    except socket.timeout:
        result(False, "the INVITE is steered to the daemon's socket", "nothing in 5 s")
        cli.kill()
        return
    want = invite(phone, 5062, pbx_nat, 5060)
    result(data == want, "the INVITE to %s reaches the daemon's socket as the phone sent it" % host(pbx_nat, 5060),
           repr(data))
    # The daemon's per-flow socket: the flow's post-DNAT destination, connected to the phone.
    fs = transparent(pbx, 5060)
    fs.connect(src[:2])
    fs.send(ok200(phone, 5062, pbx_nat, 5060, pbx))
    out = cli.communicate(timeout=10)[0].strip()
    result(out == "same", "the daemon's 200 OK reaches the phone as the daemon sent it", out)


def phone(me, dst, dport, contact=None):
    dport = int(dport)
    s = socket.socket(fam(me), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((me, 5062))
    s.settimeout(5)
    s.sendto(invite(me, 5062, dst, dport), (dst, dport))
    try:
        data = s.recv(65536)
    except socket.timeout:
        print("nothing in 5 s")
        return
    print("same" if data == ok200(me, 5062, dst, dport, contact or dst) else repr(data))


def gw_origin(src, server):
    s = transparent(src, 5060)
    s.sendto(invite(src, 5060, server, 5060), (server, 5060))


def server(addr, port, frm, fport, to, tport):
    s = socket.socket(fam(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    print("ready", flush=True)
    s.settimeout(30)
    try:
        data, src = s.recvfrom(65536)
    except socket.timeout:
        print("nothing in 30 s")
        return
    print("same" if data == invite(frm, int(fport), to, int(tport)) else repr(data), flush=True)


if __name__ == "__main__":
    {"gw-steer": gw_steer, "phone": phone, "gw-origin": gw_origin,
     "server": server}[sys.argv[1]](*sys.argv[2:])
