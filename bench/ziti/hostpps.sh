#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-level packet benchmark (issue 16, "native userspace path on the host"; no kernel module):
# RTP-like datagrams through sipovld's flow and Ziti layers and back, against a ceiling measured
# in the same run, on one quickstart network (tests/ziti/zitinet.sh) on loopback:
#
#   ours:    zt-load --UDP--> zt-tunnel proxy ==edge==> router ==edge==> sipovld (--no-kernel,
#            hosting; flows + libzt) --UDP--> echo, and the echo's datagram the whole way back
#   ceiling: zt-load --UDP--> zt-relay dial ==TLS==> zt-relay host --UDP--> echo, and back
#            (bench/ziti/relay.c: per datagram only the end-to-end encryption and TLS the
#            overlay requires, batched system calls, nothing else)
#
# The compared figure is the hosting process's CPU (every thread's run time in ns,
# /proc/PID/task/*/schedstat) per round
# trip, i.e. per datagram each way, in the measured window: sipovld against zt-relay host,
# which do the same job (from the overlay: TLS read, decrypt, UDP send on the flow's socket;
# to it: UDP receive, encrypt, TLS write). Their inverse is the datagrams per second one core
# carries (both directions counted). The dial sides (our zt-tunnel through the router, the
# relay's dial half straight to its host half) and the router are reported, not compared.
# Each point: FLOWS flows x 50 datagrams/s each way, 172 bytes (G.711 RTP), WARM s to set the
# flows up (a dial each), SECS s measured, 2 s drain; every run uses new flows (source ports).
# Runs alternate (ours, ceiling / ceiling, ours) ROUNDS times; medians and the ratio ours /
# ceiling are printed as a markdown table; the raw lines are in the work directory's
# results.txt.
#
#   bench/ziti/hostpps.sh [ROUNDS]            (default 3; about 1 minute per round and point)
#   env: HP_FLOWS (default "100 400"), HP_WARM (5), HP_SECS (10), HP_KEEP=1 keeps the work
#        directory, O= build directory
set -euo pipefail
cd "$(dirname "$0")/../.."
TOP=$PWD
B=${O:-$TOP/build}
ZN=$TOP/tests/ziti/zitinet.sh
ROUNDS=${1:-3}
FLOWSET=${HP_FLOWS:-100 400}
WARM=${HP_WARM:-5}
SECS=${HP_SECS:-10}

make -s O="$B" ziti-bench user >/dev/null
TUN=$B/bench/zt-tunnel
LOAD=$B/bench/zt-load
RELAY=$B/bench/zt-relay

W=$(mktemp -d /tmp/zt-hostpps.XXXXXX)
NET=$W/net
KEEP=${HP_KEEP:-}
# shellcheck source=bench/ziti/lib.sh
. "$TOP/bench/ziti/lib.sh"
trap bench_cleanup EXIT
# CPU time in ns of processes (every thread's run time, /proc/PID/task/*/schedstat): the 10 ms
# ticks of /proc/PID/stat are too coarse for the smaller points
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

log "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$ZN" start "$NET" > "$W/zitinet.log" 2>&1 || { tail -20 "$W/zitinet.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$NET/env"
cli() { "$ZN" cli "$NET" "$@"; }
ROUTER=$(cat "$NET/router.pid")

UECHO=$(port DGRAM); PU=$(port DGRAM); PR=$(port DGRAM); PT=$(port)
bg echo "$LOAD" echo --port "$UECHO"
# end-to-end encryption on; zitinet.sh's policies: zt-host binds, zt-client dials @zt-hosted
cli edge create config hp-udp-host host.v1 "{\"protocol\":\"udp\",\"address\":\"127.0.0.1\",\"port\":$UECHO}" >/dev/null
cli edge create service hp-udp -e ON -c hp-udp-host -a zt-hosted >/dev/null
cat > "$W/sipovld.conf" <<CONF
{ "identities": ["$NET/zt-host.json"], "control_socket": "$W/sipovld.sock", "log_level": "notice",
  "service_poll_s": 3600, "udp_idle_timeout_s": 3 }
CONF
bg sipovld "$B/sipovld" --no-kernel -c "$W/sipovld.conf"
SD=$BGPID
bg relay-host "$RELAY" host --listen "$PT" --target "$UECHO"
RH=$BGPID
sleep 0.3
bg relay-dial "$RELAY" dial --listen "$PR" --to "$PT"
RD=$BGPID
bg zt-proxy "$TUN" proxy -i "$NET/zt-client.json" --ready-file "$W/zt-proxy.ready" "hp-udp:$PU:udp"
ZP=$BGPID
ok=
for _ in $(seq 1 240); do
	if [ -s "$W/zt-proxy.ready" ] &&
		"$B/sipovld" --control "$W/sipovld.sock" --request status 2>/dev/null |
		jq -en 'input | [.services[] | select(.name == "hp-udp") | .host.listening] == [true]' >/dev/null 2>&1 &&
		"$LOAD" udp --to "$PU" --echo --flows 1 --warm-s 0.5 --secs 0.5 --drain-s 1 2>/dev/null | grep -q ' recvd=[1-9]'; then
		ok=1; break
	fi
	sleep 0.5
done
[ -n "$ok" ] || { log "sipovld's service never carried a datagram"; tail -n 5 "$W"/*.log >&2; exit 1; }
"$LOAD" udp --to "$PR" --echo --flows 1 --warm-s 0.5 --secs 0.5 --drain-s 1 2>/dev/null | grep -q ' recvd=[1-9]' ||
	{ log "the relay carried nothing"; tail -n 5 "$W"/relay*.log >&2; exit 1; }
log "up: sipovld $SD, zt-tunnel proxy $ZP, relay host $RH / dial $RD, router $ROUTER; $(grep -h 'TLSv' "$W/relay-host.log")"

# wait (at most 30 s) until everything has been nearly idle (< 5 % of a CPU) for a second
settle() {
	local a b
	for _ in $(seq 1 30); do
		a=$(ticks "$ROUTER" "$SD" "$ZP" "$RH" "$RD"); sleep 1; b=$(ticks "$ROUTER" "$SD" "$ZP" "$RH" "$RD")
		[ $(( (b - a) * 100 / HZ )) -lt 5 ] && return 0
	done
	log "still busy after 30 s"
}
RES=$W/results.txt
: > "$RES"
measure() { # flows who(ours|ceil)
	local f=$1 who=$2 to host dial h0 d0 r0 h1 d1 r1 out lp
	if [ "$who" = ours ]; then to=$PU; host=$SD; dial=$ZP; else to=$PR; host=$RH; dial=$RD; fi
	settle
	# the previous run's flows closed (sipovld's udp_idle_timeout_s 3 here): no teardown in this window
	for _ in $(seq 1 40); do
		[ "$("$B/sipovld" --control "$W/sipovld.sock" --request status 2>/dev/null | jq -r '.flows.host_udp')" = 0 ] && break
		sleep 0.5
	done
	"$LOAD" udp --to "$to" --echo --flows "$f" --pps 50 --size 172 --warm-s "$WARM" --secs "$SECS" \
		--drain-s 2 > "$W/load.out" 2> "$W/load.err" &
	lp=$!
	sleep "$WARM"
	h0=$(cpu_ns "$host"); d0=$(cpu_ns "$dial"); r0=$(cpu_ns "$ROUTER")
	sleep "$SECS"
	h1=$(cpu_ns "$host"); d1=$(cpu_ns "$dial"); r1=$(cpu_ns "$ROUTER")
	wait "$lp" || true
	out=$(tail -n 1 "$W/load.out")
	echo "$f $who $out host_ms=$(( (h1 - h0) / 1000000 )) dial_ms=$(( (d1 - d0) / 1000000 ))" \
		"router_ms=$(( (r1 - r0) / 1000000 )) secs=$SECS load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$RES" >&2
}
for r in $(seq 1 "$ROUNDS"); do
	for f in $FLOWSET; do
		if [ $((r % 2)) -eq 1 ]; then order="ours ceil"; else order="ceil ours"; fi
		for who in $order; do measure "$f" "$who"; done
	done
done
log "sipovld's counters: $("$B/sipovld" --control "$W/sipovld.sock" --request status 2>/dev/null |
	jq -c '.counters | {udp_dropped, datagrams_dropped_late} ' 2>/dev/null || echo unavailable)"

python3 - "$RES" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    w = line.split()
    kv = dict(x.split("=", 1) for x in w[2:] if "=" in x)
    rows.setdefault((int(w[0]), w[1]), []).append(kv)
def med(f, who, fn):
    v = [fn(k) for k in rows.get((f, who), [])]
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None
def per_rt(key):
    def g(k):
        n = int(k["recvd"])
        return int(k[key]) * 1000 / n if n else None
    return g
print("| flows (datagrams/s each way) | metric (median) | sipovld (ours) | ceiling (zt-relay) | ours / ceiling |")
print("|---|---|---:|---:|---:|")
for f in sorted({k[0] for k in rows}):
    lab = f"{f} ({f * 50})"
    for name, fn, fmt in (
        ("round trips lost in the window, %", lambda k: float(k["loss_pct"]), "{:.2f}"),
        ("round trip p50 / p99, ms", None, None),
        ("hosting process CPU per round trip, us", per_rt("host_ms"), "{:.1f}"),
        ("hosting process: datagrams per CPU-second (both ways)", lambda k: 2 * int(k["recvd"]) / (int(k["host_ms"]) / 1000) if int(k["host_ms"]) else None, "{:,.0f}"),
        ("dial side CPU per round trip, us", per_rt("dial_ms"), "{:.1f}"),
        ("router CPU per round trip, us (ours only)", per_rt("router_ms"), "{:.1f}"),
    ):
        if fn is None:
            o = [med(f, w, lambda k: int(k["p50_us"]) / 1000) for w in ("ours", "ceil")]
            p = [med(f, w, lambda k: int(k["p99_us"]) / 1000) for w in ("ours", "ceil")]
            cell = [f"{a:.2f} / {b:.2f}" if a is not None else "-" for a, b in zip(o, p)]
            print(f"| {lab} | {name} | {cell[0]} | {cell[1]} | |")
            continue
        a, b = med(f, "ours", fn), med(f, "ceil", fn)
        ra = f"{a / b:.2f}" if a is not None and b else "-"
        fa = fmt.format(a) if a is not None else "-"
        fb = fmt.format(b) if b is not None else "-"
        if name.startswith("router"):
            fb, ra = "-", ""
        print(f"| {lab} | {name} | {fa} | {fb} | {ra} |")
PY
