#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""rxorder.py ME PORT: receive RTP until 10 s of silence (30 s for the first packet); print
"received N late L": distinct packets, and those that arrived behind a higher sequence number
(RFC 3550's reordered; selftests/sipovl/daemon.sh)."""
import socket, struct, sys
me, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((me, port))
print("ready", flush=True)
s.settimeout(30)
seen, top, late = set(), -1, 0
try:
    while True:
        seq = struct.unpack(">H", s.recv(2048)[2:4])[0]
        s.settimeout(10)
        if seq in seen:
            continue
        seen.add(seq)
        if seq < top:
            late += 1
        top = max(top, seq)
except socket.timeout:
    pass
print("received %d late %d" % (len(seen), late), flush=True)
