#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
import socket, struct, sys, time
import os
# av.py ME PORT PT COUNT [PEER PEER_PORT [GO]]: COUNT RTP packets of payload type PT, 20 ms
# apart, to PEER (once the file GO exists, when given: started ahead, the sender does not wait
# for Python to start on a loaded guest), or without a peer to the first packet's sender;
# reads what comes back meanwhile
me, port, pt, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((me, port))
print("ready", flush=True)
if len(sys.argv) > 7:
    while not os.path.exists(sys.argv[7]):
        time.sleep(0.005)
peer = (sys.argv[5], int(sys.argv[6])) if len(sys.argv) > 5 else s.recvfrom(2048)[1]
s.setblocking(False)
t0 = time.monotonic()
for seq in range(count):
    d = t0 + seq * 0.02 - time.monotonic()
    if d > 0:
        time.sleep(d)
    # the RTP clock of the SDP's rtpmap: PCMU 8 kHz, H264 (PT 96) 90 kHz; 20 ms a packet
    ts = seq * (1800 if pt == 96 else 160) & 0xffffffff
    s.sendto(struct.pack(">BBHII", 0x80, pt, seq, ts, 0x5000 + port) + b"\xd5" * 160, peer)
    try:
        while s.recv(2048):
            pass
    except BlockingIOError:
        pass
print("sent %d" % count, flush=True)
