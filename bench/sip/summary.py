#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summary of a bench/sip/run.sh log: the guest's RESULT lines -> medians per tunneler and
point, ratios sipovld / Go, added latency (tunneler minus the direct baseline of the same
round and point), memory per flow.

    bench/sip/summary.py LOG
"""
import re
import statistics
import sys

SATURATED = 50.0  # % lost in the window: no latency figure from such a run


def parse(path):
    """RESULT rows, with the host-side figures of their window added (router, controller and
    QEMU CPU on the host, host load): run.sh samples them every 2 s on the host's clock."""
    rows, host, off = [], [], 0
    for line in open(path, errors="replace"):
        m = re.search(r"^# host t=(\d+) load=([\d.]+)/\S+ router_ticks=(\d+) ctrl_ticks=(\d+) qemu_ticks=(\d+) hz=(\d+)", line)
        if m:
            host.append([float(x) for x in m.groups()])
            continue
        m = re.search(r"^clock: host (\d+) guest (\d+)", line)
        if m:
            off = int(m.group(1)) - int(m.group(2))
            continue
        m = re.search(r"RESULT (.*)", line)
        if not m:
            continue
        d = {}
        for kv in m.group(1).split():
            if "=" in kv:
                k, v = kv.split("=", 1)
                try:
                    d[k] = float(v)
                except ValueError:
                    d[k] = v
        rows.append(d)
    host.sort()
    for d in rows:
        if "win0" not in d or not host:
            continue
        h0, h1 = d["win0"] + off, d["win1"] + off
        a = [x for x in host if x[0] <= h0]
        b = [x for x in host if x[0] >= h1]
        if not a or not b:
            continue
        a, b = a[-1], b[0]
        dt = (b[0] - a[0]) * a[5] / 100.0
        if dt <= 0:
            continue
        d["host_router_pct"] = (b[2] - a[2]) / dt
        d["host_ctrl_pct"] = (b[3] - a[3]) / dt
        d["host_qemu_pct"] = (b[4] - a[4]) / dt if b[4] >= a[4] > 0 else None
        d["host_load"] = b[1]
    return rows


def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


def fmt(x, nd=1):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    return f"{x:.{nd}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def main():
    rows = parse(sys.argv[1])
    mem = [r for r in rows if r.get("mem")]
    rows = [r for r in rows if not r.get("mem")]
    if not rows and not mem:
        print("# summary: no RESULT lines (the guest failed; see the log above)")
        return 1
    points = sorted({int(r["n"]) for r in rows})
    tuns = [t for t in ("sipovld", "sipovld1", "go") if any(r.get("tun") == t for r in rows)]
    base = {(int(r["n"]), int(r["round"])): r for r in rows if r.get("tun") == "direct" and "sent" in r}
    errs = [r for r in rows if "error" in r]
    print("# ---- summary (medians over rounds; added latency = tunneler minus the direct")
    print("# ---- baseline of the same point and round; memory per flow = (RSS 1 s before the end")
    print("# ---- of the window - RSS before the load) / N offered media flows; latency only from runs that")
    print(f"# ---- lost at most {SATURATED:.0f} % in that direction, '-' when none did)")
    for r in errs:
        print(f"# error: tun={r.get('tun')} n={int(r['n'])} round={int(r['round'])}: {r['error']}")

    def metric(t, n, f):
        return [f(r) for r in rows if r.get("tun") == t and int(r["n"]) == n and "sent" in r]

    def added(key):
        def f(r):
            # no latency from a saturated run: what little got through is the first packets
            b = base.get((int(r["n"]), int(r["round"])))
            if b is None or r["loss_ab_pct"] > SATURATED:
                return None
            if (key.startswith("ba") or key.startswith("rt")) and r["loss_rt_pct"] > SATURATED:
                return None
            return (r[key] - b[key]) / 1000.0
        return f

    def mem_per_flow(r):
        # per offered flow: each is intercepted and gets the tunneler's flow state and a
        # dial, whether or not its media came through
        return (r["rss1_kb"] - r["rss0_kb"]) / r["n"]

    def mem_per_held(r):
        f = r.get("tun_flows")
        if not isinstance(f, float) or not f:
            return None
        return (r["rss1_kb"] - r["rss0_kb"]) / f

    def tapdrops(r):
        v = [r.get("tapdrop_" + t) for t in ("pa0", "pb0", "sipa", "sipb")]
        return sum(v) if all(isinstance(x, float) for x in v) else None

    def acct_per_flow(r):
        a, f = r.get("acct_bytes"), r.get("tun_flows")
        if not isinstance(a, float) or not isinstance(f, float) or not f:
            return None
        return a / f / 1024

    mets = [
        ("RTP loss A->B in the window, %", lambda r: r["loss_ab_pct"], 2),
        ("RTP loss round trip (A->B->A), %", lambda r: r["loss_rt_pct"], 2),
        ("added one-way latency A->B p50, ms", added("ab_p50_us"), 2),
        ("added one-way latency A->B p99, ms", added("ab_p99_us"), 1),
        ("added one-way latency B->A p50, ms", added("ba_p50_us"), 2),
        ("added one-way latency B->A p99, ms", added("ba_p99_us"), 1),
        ("SIPp calls completed / s, after the window (offered rate in the header)", lambda r: r.get("calls_per_s"), 2),
        ("SIPp calls failed", lambda r: r.get("calls_failed"), 0),
        ("SIPp INVITE->200 mean, ms", lambda r: r.get("setup_ms"), 0),
        ("tunneler RSS before the load, MiB", lambda r: r["rss0_kb"] / 1024, 1),
        ("tunneler RSS at the end of the window, MiB", lambda r: r["rss1_kb"] / 1024, 1),
        ("tunneler memory per flow (RSS delta / N offered flows), KiB", mem_per_flow, 1),
        ("sipovld: RSS delta / flows it held at the end of the window, KiB", mem_per_held, 1),
        ("sipovld's own flow accounting per flow, KiB", acct_per_flow, 2),
        ("tunneler CPU in the window, % of one vCPU", lambda r: r.get("tun_cpu_pct"), 0),
        ("host side (sipovld at GWB) CPU in the window, % of one vCPU", lambda r: r.get("gwb_cpu_pct"), 0),
        ("guest vCPUs busy in the window, % (100 = both)", lambda r: r.get("guest_busy_pct"), 0),
        ("edge router (on the host) CPU in the window, % of one host CPU", lambda r: r.get("host_router_pct"), 0),
        ("controller (on the host) CPU in the window, %", lambda r: r.get("host_ctrl_pct"), 0),
        ("QEMU (the whole guest) CPU in the window, % of one host CPU", lambda r: r.get("host_qemu_pct"), 0),
        ("host load average (1 min) at the end of the window", lambda r: r.get("host_load"), 1),
        ("frames the host's taps dropped on the way into the guest (whole RTP run)", tapdrops, 0),
        ("tunneler start to intercepting, s", lambda r: r.get("ready_s"), 0),
        ("sender late >5 ms, % of slots", lambda r: r.get("late_slots_pct"), 1),
        ("guest load average (1 min) at the start", lambda r: r.get("guest_load"), 1),
    ]
    for n in points:
        b = [r for r in base.values() if int(r["n"]) == n]
        print(f"\n### {n} concurrent calls ({n} RTP flows x 50 packets/s each way)")
        if b:
            td = med([tapdrops(r) for r in b])
            print(f"direct baseline, frames the taps dropped into the guest: {fmt(td, 0)}")
            print(f"direct baseline (no overlay): loss A->B {fmt(med([r['loss_ab_pct'] for r in b]), 2)} %, "
                  f"one-way A->B p50 {fmt(med([r['ab_p50_us'] for r in b]) / 1000, 2)} ms p99 "
                  f"{fmt(med([r['ab_p99_us'] for r in b]) / 1000, 2)} ms, B->A p50 "
                  f"{fmt(med([r['ba_p50_us'] for r in b]) / 1000, 2)} ms p99 {fmt(med([r['ba_p99_us'] for r in b]) / 1000, 2)} ms "
                  f"({len(b)} runs)")
        # sipovld (its default workers) against the Go tunneler and against one worker
        pairs = [(a, b) for a, b in (("sipovld", "go"), ("sipovld", "sipovld1")) if a in tuns and b in tuns]
        hdr = "| metric (median) | " + " | ".join(tuns) + "".join(f" | {a} / {b}" for a, b in pairs) + " |"
        print(hdr)
        print("|---|" + "---:|" * (len(tuns) + len(pairs)))
        for name, f, nd in mets:
            vals = {t: med(metric(t, n, f)) for t in tuns}
            rr = "".join(f" | {fmt(ratio(vals.get(a), vals.get(b)), 2)}" for a, b in pairs)
            print(f"| {name} | " + " | ".join(fmt(vals[t], nd) for t in tuns) + rr + " |")
        print("per run (tun round: loss A->B %, loss rt %, A->B p50/p99 ms, B->A p50/p99 ms, calls ok/failed, "
              "calls/s, RSS0->RSS1 MiB, flows at the end (sipovld), guest vCPUs busy %, router/QEMU CPU on the host %, host load, guest load):")
        for r in rows:
            if int(r["n"]) != n or "sent" not in r:
                continue
            print(f"  {r['tun']:8} {int(r['round'])}: {r['loss_ab_pct']:.2f} {r['loss_rt_pct']:.2f}, "
                  f"{r['ab_p50_us'] / 1000:.2f}/{r['ab_p99_us'] / 1000:.1f}, {r['ba_p50_us'] / 1000:.2f}/{r['ba_p99_us'] / 1000:.1f}, "
                  + (f"{int(r.get('calls_ok', 0))}/{int(r.get('calls_failed', 0))}, {r.get('calls_per_s', 0):.2f}, "
                     f"{r['rss0_kb'] / 1024:.1f}->{r['rss1_kb'] / 1024:.1f}, {r.get('tun_flows', '-')}, "
                     if r["tun"] != "direct" else "")
                  + f"{fmt(r.get('guest_busy_pct'), 0)}, {fmt(r.get('host_router_pct'), 0)}/{fmt(r.get('host_qemu_pct'), 0)}, "
                  f"{fmt(r.get('host_load'), 1)}, {r.get('guest_load', '-')}")
    if mem:
        print("\n### memory per flow at rest (flows at a low packet rate after a long warm-up)")
        print("| tunneler | flows offered / with media both ways | pps per flow | RSS before -> end, MiB "
              "| RSS delta per offered flow, KiB | per flow with media, KiB "
              "| sipovld: flows held, own accounting per flow, KiB |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in mem:
            if "error" in r or "sent" not in r:
                print(f"| {r.get('tun')} | error: {r.get('error', 'no result')} | | | | | |")
                continue
            fe = r.get("flows_with_echo") or 0
            per = (r["rss1_kb"] - r["rss0_kb"]) / fe if fe else None
            a, f = r.get("acct_bytes"), r.get("tun_flows")
            held = (f"{int(f)}, {a / f / 1024:.2f}" if isinstance(a, float) and isinstance(f, float) and f
                    else "-")
            print(f"| {r['tun']} | {int(r['n'])} / {int(fe)} | {int(r.get('pps', 0))} | "
                  f"{r['rss0_kb'] / 1024:.1f} -> {r['rss1_kb'] / 1024:.1f} | "
                  f"{(r['rss1_kb'] - r['rss0_kb']) / r['n']:.1f} | {fmt(per, 1)} | {held} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
