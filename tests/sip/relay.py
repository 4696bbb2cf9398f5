#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""UDP relay between a SIP UAC and a UAS that makes, for every call, the UAC's first INVITE
retransmission reach the UAS after the UAS's final response to the INVITE: what happens when
a gateway's first dial takes longer than T1 (500 ms). Deterministic, whatever the load:

  - the INVITE goes to the UAS at once; the UAS's responses to it are held;
  - the UAC, having no response, retransmits the INVITE (T1); that copy is held until the UAS
    has sent a final response (>= 200), then forwarded to the UAS, and the held responses go
    to the UAC, in order. Everything else passes unchanged.

Usage: relay.py LISTEN_PORT UAS_PORT SECONDS   (127.0.0.1; logs one line per crossing on stdout)
"""
import re
import select
import socket
import sys
import time


def head(d):
    first = d.split(b"\r\n", 1)[0].decode(errors="replace")
    m = re.search(rb"^Call-ID:\s*(\S+)", d, re.M | re.I)
    c = re.search(rb"^CSeq:\s*\d+\s+(\S+)", d, re.M | re.I)
    return first, m.group(1) if m else None, c.group(1).decode() if c else ""


def main():
    port, uas_port, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    cli.bind(("127.0.0.1", port))
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    up.bind(("127.0.0.1", 0))
    up.connect(("127.0.0.1", uas_port))
    peer = None
    call = None  # Call-ID of the current call
    state = "done"  # "wait": INVITE sent, its retransmission not yet forwarded
    final = False  # the UAS has sent a final response to the current INVITE
    held_retrans = None
    held_resp = []
    crossings = 0
    end = time.time() + secs

    def send_up(d):
        try:
            up.send(d)
        except OSError:  # the UAS is gone (ICMP port unreachable): drop
            pass

    def release():
        nonlocal state, held_retrans, held_resp, crossings
        send_up(held_retrans)
        crossings += 1
        print("crossing %d: INVITE retransmission forwarded after the UAS's final response"
              % crossings, flush=True)
        held_retrans = None
        for r in held_resp:
            cli.sendto(r, peer)
        held_resp = []
        state = "done"

    while time.time() < end:
        r, _, _ = select.select([cli, up], [], [], 0.1)
        if cli in r:
            d, peer = cli.recvfrom(65536)
            first, cid, _ = head(d)
            if first.startswith("INVITE ") and cid != call:
                call, state, final, held_resp = cid, "wait", False, []
                send_up(d)
            elif first.startswith("INVITE ") and state == "wait":
                if held_retrans is None:
                    held_retrans = d
                    if final:
                        release()
            else:
                send_up(d)
        if up in r:
            try:
                d = up.recv(65536)
            except OSError:
                continue
            first, cid, method = head(d)
            if state == "wait" and cid == call and method == "INVITE" and first.startswith("SIP/2.0 "):
                held_resp.append(d)
                code = first.split(" ")[1]
                if code >= "200":
                    final = True
                    if held_retrans is not None:
                        release()
            elif peer:
                cli.sendto(d, peer)


main()
