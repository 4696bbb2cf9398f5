#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""sipcmp.py UAC_LOG UAS_LOG: the SIP messages of SIPp's two message logs (-trace_msg)
compared (selftests/sipovl/daemon.sh): what the caller sent and what the callee received are
the same set of distinct messages, and the other way; exit 1 if not (or if either is empty)."""
import re, sys
def msgs(path):
    out = {"sent": [], "received": []}
    data = open(path, "rb").read().decode("latin-1")
    for blk in re.split(r"^-{20,} [^\n]*\n", data, flags=re.M):
        m = re.match(r"(UDP|TCP) message (sent|received) (?:\(\d+ bytes\)|\[\d+\] bytes ?):\n\n", blk)
        if m:
            out[m.group(2)].append(blk[m.end():].rstrip("\r\n"))
    return out
a, b = msgs(sys.argv[1]), msgs(sys.argv[2])
sa, rb, sb, ra = set(a["sent"]), set(b["received"]), set(b["sent"]), set(a["received"])
print("%d/%d messages caller->callee, %d/%d callee->caller (sent/received, distinct); differing: %d and %d"
      % (len(sa), len(rb), len(sb), len(ra), len(sa ^ rb), len(sb ^ ra)))
sys.exit(0 if sa and sb and sa == rb and sb == ra else 1)
