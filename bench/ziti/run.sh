#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Ziti client benchmark (issue #5): our edge client (bench tunneler zt-tunnel over libzt.a)
# against the official Go tunneler (`ziti tunnel proxy` on the dial side, `ziti tunnel host`
# on the host side), same quickstart network (tests/ziti/zitinet.sh), same run, same local
# load generator and sink (zt-load) on loopback:
#
#   load --TCP/UDP--> proxy (dial side) ==edge==> router ==edge==> host --TCP/UDP--> sink
#
#   stream: one TCP connection, BYTES bytes; throughput at the sink (first to last byte);
#           CPU (utime+stime from /proc/PID/stat) of the two tunneler processes per MB,
#           and of the (shared) router per MB
#   rtp:    FLOWS (1000) UDP flows x 50 packets/s x 172-byte payloads for WARM+SECS s, and
#           LFLOWS (20) flows the same way (a load the path carries on a small machine);
#           packets sent in the last SECS s count: loss (not at the sink within 2 s after
#           the end), one-way latency p50/p99 (send timestamp in the payload, kernel receive
#           timestamp at the sink); the same load sent straight to the sink is the baseline
#           ("added" = through the tunnel minus baseline)
#
# Each measured run starts its dial side afresh (the hosts stay up) and waits for the router
# to go idle first; the saturating 1000-flow runs come after all others. Runs alternate (ours, Go; then Go, ours; ...) REPS times; medians and
# ratios (ours / Go) are printed as a markdown table at the end, the raw lines are in
# $W/results.txt. About 8-9 minutes with the defaults.
#
#   bench/ziti/run.sh [REPS]     (default 3)
#   env: ZB_BYTES (default 100000000), ZB_FLOWS (1000), ZB_LFLOWS (20), ZB_WARM (5),
#        ZB_SECS (8), ZB_KEEP=1 keeps the work directory, O= build dir,
#        ZB_KINDS (default "tcp udpl udp"): the points measured (e.g. "tcp": the stream only),
#        ZB_NICE=N (e.g. -15, root): the autogroup nice value of this script's session (hosts,
#        dial sides, load) and of the router: on a machine shared with other work, a quieter
#        machine for the benchmark's processes (sched_autogroup shares CPU per session),
#        ZB_BEFORE=PATH: a second zt-tunnel binary (e.g. built from an older commit) measured
#        as "zb" in the same rounds (orders zb zt go / go zt zb), a before/after in one run,
#        ZB_BREAK=zt|go: that dial side is started as a command that exits at once (checks
#        that a peer's failure is reported as a failed run and the benchmark still finishes)
#
# A run whose dial side does not start, does not listen, dies or fails its warm-up is recorded
# as FAILED with the reason (counted per kind in the table's first line) and the benchmark goes
# on with the next run: it always ends with its report.
set -euo pipefail
cd "$(dirname "$0")/../.."
TOP=$PWD
B=${O:-$TOP/build}
ZN=$TOP/tests/ziti/zitinet.sh
REPS=${1:-3}
BYTES=${ZB_BYTES:-100000000}
FLOWS=${ZB_FLOWS:-1000}
LFLOWS=${ZB_LFLOWS:-20}
WARM=${ZB_WARM:-5}
SECS=${ZB_SECS:-8}
KINDS=" ${ZB_KINDS:-tcp udpl udp} "

make -s O="$B" ziti-bench >/dev/null
TUN=$B/bench/zt-tunnel
LOAD=$B/bench/zt-load

W=$(mktemp -d /tmp/zt-bench.XXXXXX)
NET=$W/net
KEEP=${ZB_KEEP:-}
# shellcheck source=bench/ziti/lib.sh
. "$TOP/bench/ziti/lib.sh"
trap bench_cleanup EXIT

log "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
t_start=$(date +%s)
"$ZN" start "$NET" > "$W/zitinet.log" 2>&1 || { tail -20 "$W/zitinet.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$NET/env"
log "network up ($(basename "$(dirname "$ZITI")"))"
cli() { "$ZN" cli "$NET" "$@"; }

TSINK=$(port); USINK=$(port DGRAM)
PT_ZT=$(port); PU_ZT=$(port DGRAM); PT_GO=$(port); PU_GO=$(port DGRAM); PT=; PU=; HOST=
cli edge create config bench-tcp-host host.v1 "{\"protocol\":\"tcp\",\"address\":\"127.0.0.1\",\"port\":$TSINK}" >/dev/null
cli edge create config bench-udp-host host.v1 "{\"protocol\":\"udp\",\"address\":\"127.0.0.1\",\"port\":$USINK}" >/dev/null
# end-to-end encryption on (the tunnelers' default); policies of zitinet.sh match by attribute
cli edge create service bench-tcp-go -e ON -c bench-tcp-host -a go-hosted >/dev/null
cli edge create service bench-udp-go -e ON -c bench-udp-host -a go-hosted >/dev/null
cli edge create service bench-tcp-zt -e ON -a zt-hosted >/dev/null
cli edge create service bench-udp-zt -e ON -a zt-hosted >/dev/null

bg zt-host "$TUN" host -i "$NET/zt-host.json" --ready-file "$W/zt-host.ready" \
	"bench-tcp-zt:$TSINK" "bench-udp-zt:$USINK:udp"
ZT_HOST=$BGPID
bg go-host env HOME="$NET/home" "$ZITI" tunnel host -i "$NET/go-host.json" --cli-agent=false
GO_HOST=$BGPID
ROUTER=$(cat "$NET/router.pid")
ok=
for _ in $(seq 1 240); do
	if [ -s "$W/zt-host.ready" ] &&
		[ "$(cli edge list terminators 'service.name contains "bench-"' -j 2>/dev/null | grep -c '"binding": *"edge"')" -ge 4 ]; then
		ok=1; break
	fi
	sleep 0.5
done
[ -n "$ok" ] || { log "terminators not established"; tail -n 5 "$W"/*.log >&2; exit 1; }
log "hosts up: ours (zt-tunnel $ZT_HOST), Go ($GO_HOST), router $ROUTER"
if [ -n "${ZB_NICE:-}" ]; then
	for p in $$ "$ROUTER"; do echo "$ZB_NICE" > "/proc/$p/autogroup" || { log "cannot set autogroup nice"; exit 1; }; done
	log "autogroup nice $ZB_NICE: $(cat /proc/$$/autogroup), router $(cat "/proc/$ROUTER/autogroup")"
fi

# The dial side is started afresh for every measured run (a saturated run leaves flows and
# queued datagrams behind that would load the next one), warmed up with one small TCP
# transfer and one short UDP flow (API session, Dial sessions, router channel), then measured.
PROXY=
PROXY_ERR=
# proxy_start zt|zb|go: 0, or 1 with the reason in PROXY_ERR (the run is recorded as failed)
proxy_start() {
	local n=0
	if [ "${ZB_BREAK:-}" = "$1" ]; then
		bg "$1-proxy.$RUN" sh -c 'echo "ZB_BREAK: this dial side exits at once" >&2; exit 1'
		if [ "$1" != go ]; then PT=$PT_ZT; PU=$PU_ZT; HOST=$ZT_HOST; else PT=$PT_GO; PU=$PU_GO; HOST=$GO_HOST; fi
	elif [ "$1" = zt ] || [ "$1" = zb ]; then
		rm -f "$W/zt-proxy.ready"
		bg "$1-proxy.$RUN" "$([ "$1" = zb ] && echo "$ZB_BEFORE" || echo "$TUN")" proxy -i "$NET/zt-client.json" \
			--ready-file "$W/zt-proxy.ready" "bench-tcp-zt:$PT_ZT" "bench-udp-zt:$PU_ZT:udp"
		PT=$PT_ZT; PU=$PU_ZT; HOST=$ZT_HOST
	else
		bg "go-proxy.$RUN" env HOME="$NET/home" "$ZITI" tunnel proxy -i "$NET/go-client.json" --cli-agent=false \
			"bench-tcp-go:$PT_GO" "bench-udp-go:$PU_GO:udp"
		PT=$PT_GO; PU=$PU_GO; HOST=$GO_HOST
	fi
	PROXY=$BGPID
	until ss -Hltn "sport = :$PT" | grep -q . && ss -Hlun "sport = :$PU" | grep -q .; do
		n=$((n + 1)); [ $n -lt 120 ] || { PROXY_ERR="proxy $1 did not listen"; return 1; }
		kill -0 "$PROXY" 2>/dev/null || { PROXY_ERR="proxy $1 died"; return 1; }
		sleep 0.25
	done
	"$LOAD" tcp --to "$PT" --sink "$TSINK" --bytes 1000000 --timeout-s 30 > /dev/null ||
		{ PROXY_ERR="warm-up (TCP) through $1 failed"; return 1; }
	"$LOAD" udp --to "$PU" --sink "$USINK" --flows 1 --warm-s 1 --secs 0.5 --drain-s 0.5 > /dev/null ||
		{ PROXY_ERR="warm-up (UDP) through $1 failed"; return 1; }
}
proxy_stop() {
	kill -TERM "$PROXY" 2>/dev/null; for _ in $(seq 1 40); do kill -0 "$PROXY" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$PROXY" 2>/dev/null; wait "$PROXY" 2>/dev/null; PROXY=
}
# wait (at most 30 s) until the router and both hosts have been nearly idle (< 10% of a CPU
# together) for a second: a saturated run leaves datagrams queued that are still delivered
settle() {
	local a b
	for _ in $(seq 1 30); do
		a=$(ticks "$ROUTER" "$ZT_HOST" "$GO_HOST"); sleep 1; b=$(ticks "$ROUTER" "$ZT_HOST" "$GO_HOST")
		[ $(( (b - a) * 100 / HZ )) -lt 10 ] && return 0
	done
	log "router/hosts still busy after 30 s"
}

RES=$W/results.txt
: > "$RES"
RUN=0
measure() { # kind(tcp|udp|udpl) who(zt|go|direct)
	local kind=$1 who=$2 c0 r0 c1 r1 t0 out pids=()
	RUN=$((RUN + 1))
	if [ "$who" = direct ]; then
		PT=; PU=$USINK
	elif ! proxy_start "$who"; then
		log "$kind $who FAILED: $PROXY_ERR"; echo "$kind $who FAILED $PROXY_ERR" >> "$RES"
		tail -n 3 "$W/$who-proxy.$RUN.log" 2>/dev/null >&2
		proxy_stop
		return
	else
		pids=("$PROXY" "$HOST")
	fi
	settle
	c0=$(ticks "${pids[@]}"); r0=$(ticks "$ROUTER"); t0=$(date +%s%3N)
	case $kind in
	tcp) out=$("$LOAD" tcp --to "$PT" --sink "$TSINK" --bytes "$BYTES" --timeout-s 120 2>&1) ;;
	udp) out=$("$LOAD" udp --to "$PU" --sink "$USINK" --flows "$FLOWS" --pps 50 --size 172 \
		--warm-s "$WARM" --secs "$SECS" --drain-s 2 2>&1) ;;
	udpl) out=$("$LOAD" udp --to "$PU" --sink "$USINK" --flows "$LFLOWS" --pps 50 --size 172 \
		--warm-s 2 --secs "$SECS" --drain-s 2 2>&1) ;;
	esac
	local rc=$? line
	c1=$(ticks "${pids[@]}"); r1=$(ticks "$ROUTER")
	line="$kind $who $out cpu_ms=$(( (c1 - c0) * 1000 / HZ )) router_cpu_ms=$(( (r1 - r0) * 1000 / HZ ))"
	line+=" wall_ms=$(( $(date +%s%3N) - t0 )) load=$(cut -d' ' -f1 /proc/loadavg)"
	[ "$who" = direct ] || proxy_stop
	# ours: how long its stream data waited for the router (zt-tunnel's exit line, zt_sched.c)
	[ "$who" = go ] || [ "$who" = direct ] ||
		line+=" $(grep -o 'stream_held=.*' "$W/$who-proxy.$RUN.log" 2>/dev/null | tail -n 1)"
	if [ $rc -ne 0 ]; then
		log "$kind $who failed: $out"; echo "$kind $who FAILED" >> "$RES"
	else
		echo "$line" | tee -a "$RES" >&2
	fi
}

log "$REPS alternating rounds"
set +e
# the loads the path carries first (stream, 20 flows), the saturating 1000 flows last: a
# saturated run leaves queues behind in the router and the Go host that take minutes to drain
for r in $(seq 1 "$REPS"); do
	if [ $((r % 2)) -eq 1 ]; then order="zt go"; else order="go zt"; fi
	[ -z "${ZB_BEFORE:-}" ] || if [ $((r % 2)) -eq 1 ]; then order="zb zt go"; else order="go zt zb"; fi
	if [[ $KINDS == *" tcp "* ]]; then for who in $order; do measure tcp "$who"; done; fi
	if [[ $KINDS == *" udpl "* ]]; then
		measure udpl direct
		for who in $order; do measure udpl "$who"; done
	fi
done
for r in $(seq 1 "$REPS"); do
	[[ $KINDS == *" udp "* ]] || break
	if [ $((r % 2)) -eq 1 ]; then order="zt go"; else order="go zt"; fi
	[ -z "${ZB_BEFORE:-}" ] || if [ $((r % 2)) -eq 1 ]; then order="zb zt go"; else order="go zt zb"; fi
	measure udp direct
	for who in $order; do measure udp "$who"; done
done
set -e
for p in "$GO_HOST" "$ZT_HOST" "$ROUTER"; do
	kill -0 "$p" 2>/dev/null || log "WARNING: process $p died during the run"
done
log "done in $(( $(date +%s) - t_start )) s, load $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$RES" "$BYTES" "$FLOWS" "$LFLOWS" <<'PY'
import statistics as st, sys
res, nbytes, flows, lflows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows, why = {}, []
for line in open(res):
    f = line.split()
    if len(f) < 3 or f[2] == "FAILED":
        rows.setdefault((f[0], f[1]), []).append(None)
        why.append(f"{f[0]} {f[1]}: {' '.join(f[3:]) or 'the load failed (see the log)'}"); continue
    rows.setdefault((f[0], f[1]), []).append({k: float(v) for k, v in (x.split("=") for x in f[2:])})
def med(kind, who, fn):
    v = [x for x in (fn(d) for d in rows.get((kind, who), []) if d) if x is not None]
    return st.median(v) if v else float("nan")
def nfail(kind, who): return sum(1 for d in rows.get((kind, who), []) if d is None)
def n(kind, who): return len(rows.get((kind, who), []))
mb = nbytes / 1e6
kinds = ("tcp", "udp", "udpl")
print("runs (failed): " + ", ".join(f"{k} {w} {n(k, w)} ({nfail(k, w)})" for k in kinds for w in ("zt", "zb", "go", "direct") if n(k, w)))
for w in why:
    print(f"failed run: {w}")
print()
zb = any(w == "zb" for _, w in rows)
print("| metric (median) | ours (zt-tunnel) | Go tunneler | ours / Go |" + (" ours before (ZB_BEFORE) | before / Go |" if zb else ""))
print("|---|---:|---:|---:|" + ("---:|---:|" if zb else ""))
def line(name, kind, fn, fmt):
    a, b, c = med(kind, "zt", fn), med(kind, "go", fn), med(kind, "zb", fn)
    f = lambda x: "-" if x != x else fmt.format(x)
    r = lambda x: f"{x / b:.2f}" if b and x == x and b == b else "-"
    print(f"| {name} | {f(a)} | {f(b)} | {r(a)} |" + (f" {f(c)} | {r(c)} |" if zb else ""))
line(f"TCP stream throughput, MB/s ({mb:.0f} MB)", "tcp", lambda d: d["mbps"], "{:.1f}")
line("TCP stream: tunneler CPU ms per MB (proxy + host)", "tcp", lambda d: d["cpu_ms"] / mb, "{:.2f}")
line("TCP stream: router CPU ms per MB", "tcp", lambda d: d["router_cpu_ms"] / mb, "{:.2f}")
line("TCP stream: connect to first byte at the sink, ms", "tcp", lambda d: d["setup_ms"], "{:.1f}")
line("TCP stream: ours held back for the router's read confirmation, ms", "tcp", lambda d: d.get("held_ms"), "{:.0f}")
line("TCP stream: ours re-probed after 20 ms without an answer, times", "tcp", lambda d: d.get("reprobes"), "{:.0f}")
for kind, fl in (("udp", flows), ("udpl", lflows)):
    base50, base99 = med(kind, "direct", lambda d: d["p50_us"]), med(kind, "direct", lambda d: d["p99_us"])
    line(f"RTP {fl} flows x 50 pps x 172 B: loss %", kind, lambda d: d["loss_pct"], "{:.2f}")
    line(f"RTP {fl}: delivered, % of all sent (warm-up included, any delay)", kind,
         lambda d: 100 * min(d["rx_all"] - d["bad"] - d["dups"], d["sent_all"]) / d["sent_all"], "{:.1f}")
    # latency only where most packets arrived (the few survivors of a saturated run say little)
    ok = lambda d: d["lat_n"] and d["loss_pct"] < 50
    lat = lambda key: (lambda d: d[key] / 1000 if ok(d) else None)
    line(f"RTP {fl}: one-way latency p50, ms", kind, lat("p50_us"), "{:.2f}")
    line(f"RTP {fl}: one-way latency p99, ms", kind, lat("p99_us"), "{:.2f}")
    line(f"RTP {fl}: added latency p50, ms (minus direct {base50/1000:.3f})", kind,
         lambda d: (d["p50_us"] - base50) / 1000 if ok(d) else None, "{:.2f}")
    line(f"RTP {fl}: added latency p99, ms (minus direct {base99/1000:.3f})", kind,
         lambda d: (d["p99_us"] - base99) / 1000 if ok(d) else None, "{:.2f}")
    line(f"RTP {fl}: tunneler CPU, % of one CPU", kind, lambda d: 100 * d["cpu_ms"] / d["wall_ms"], "{:.0f}")
    line(f"RTP {fl}: router CPU, % of one CPU", kind, lambda d: 100 * d["router_cpu_ms"] / d["wall_ms"], "{:.0f}")
PY
