#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Formatted extack messages under concurrency: processes in two network
namespaces issue failing requests that each name a different intercept, and
every ack must carry the message of its own request, whole.

    extack.py NS1 NS2 [SECONDS]

On 6.1 the kernel has no per-request buffer for formatted messages (extack
gained one in 6.2); the message is read by netlink_ack() after the handler
returned, twice (once to size the ack, once to copy it) with an allocation
that may sleep in between. Storage shared between requests shows up here as
another request's message (possibly another namespace's), or as none at all
when the message grew between the two reads (netlink_ack() then warns)."""
import errno
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nl import *  # noqa: E402,F403

PROCS = 16


def child(tag, until, fd):
    """Failing deletes until the deadline; writes `ok wrong missing sample`."""
    g = Genl()
    ok = wrong = missing = 0
    sample = ""
    i = 0
    pid = os.getpid()
    while time.monotonic() < until:
        # Names of every length from 20 to 58 bytes (whole messages fit the
        # 79 characters extack has for them on 6.2 and later): a message
        # overwritten by a longer one no longer fits the ack sized for it.
        name = f"{tag}-{pid}-{i}-".ljust(20 + i % 39, "x")
        i += 1
        try:
            g.cmd(CMD_INTERCEPT_DEL, nest(A_INTERCEPT, string(I_NAME, name)))
            got = "request succeeded"
        except Error as e:
            got = e.msg if e.errno == errno.ENOENT else f"errno {e.errno}: {e.msg}"
        if got == f'no intercept named "{name}"':
            ok += 1
            continue
        if got:
            wrong += 1
        else:
            missing += 1
        if not sample:
            sample = f"request for {name!r} got {got!r}"
    os.write(fd, f"{ok} {wrong} {missing} {sample}\n".encode())


def worker(tag, seconds):
    """PROCS children in this namespace; prints their summed results."""
    until = time.monotonic() + seconds
    r, w = os.pipe()
    pids = []
    for _ in range(PROCS):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                child(tag, until, w)
            finally:
                os._exit(0)
        pids.append(pid)
    os.close(w)
    with os.fdopen(r) as f:
        lines = f.read().splitlines()
    for pid in pids:
        os.waitpid(pid, 0)
    ok = wrong = missing = 0
    samples = []
    for ln in lines:
        a, b, c, s = (ln.split(" ", 3) + [""])[:4]
        ok, wrong, missing = ok + int(a), wrong + int(b), missing + int(c)
        if s:
            samples.append(s)
    print(f"{len(lines)} {ok} {wrong} {missing}")
    for s in samples[:5]:
        print(s)


def churn(n):
    """n processes one after the other, one failing request each: the kernel
    keeps per-task state for formatted messages on 6.1 and must reclaim that
    of the processes gone. Prints the number of right messages."""
    right = 0
    for k in range(n):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            name = f"churn-{k}"
            try:
                Genl().cmd(CMD_INTERCEPT_GET, nest(A_INTERCEPT, string(I_NAME, name)))
                got = "request succeeded"
            except Error as e:
                got = e.msg
            os.write(w, b"1" if got == f'no intercept named "{name}"' else b"0")
            os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            right += f.read() == b"1"
        os.waitpid(pid, 0)
    print(right)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--worker":
        worker(sys.argv[2], float(sys.argv[3]))
        return 0
    if len(sys.argv) >= 3 and sys.argv[1] == "--churn":
        churn(int(sys.argv[2]))
        return 0
    ns = sys.argv[1:3]
    seconds = sys.argv[3] if len(sys.argv) > 3 else "20"
    print("TAP version 13")
    print("1..3")
    procs = [subprocess.Popen(["ip", "netns", "exec", n, sys.executable,
                               os.path.abspath(__file__), "--worker", f"ns{k}", seconds],
                              stdout=subprocess.PIPE, text=True)
             for k, n in enumerate(ns, 1)]
    res = [p.communicate()[0].splitlines() for p in procs]
    failed = 0
    for k, (n, out) in enumerate(zip(ns, res), 1):
        if not out:
            print(f"not ok {k} ns{k}: the worker reported nothing")
            failed += 1
            continue
        nchild, ok, wrong, missing = (int(x) for x in out[0].split())
        good = nchild == PROCS and ok > 0 and wrong == 0 and missing == 0
        print(f"{'ok' if good else 'not ok'} {k} ns{k}: {PROCS} processes, every "
              f"formatted extack message is the request's own, whole")
        print(f"# {nchild} processes: {ok} right, {wrong} another request's, "
              f"{missing} without a message")
        for s in out[1:]:
            print(f"# {s}")
        failed += not good
    n = 300
    out = subprocess.run(["ip", "netns", "exec", ns[0], sys.executable,
                          os.path.abspath(__file__), "--churn", str(n)],
                         stdout=subprocess.PIPE, text=True).stdout.strip()
    good = out == str(n)
    print(f"{'ok' if good else 'not ok'} 3 {n} short-lived processes one after the "
          f"other: each gets its own message")
    if not good:
        print(f"# right: {out or 'none (the churn worker failed)'}")
    failed += not good
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
