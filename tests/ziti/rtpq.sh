#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# RTP quality under known impairment, on the host (sourced by tests/ziti/run.sh, which calls
# rtpq_tests; or run alone against a network from `zitinet.sh start DIR`: tests/ziti/rtpq.sh
# DIR, TAP). The VM selftest selftests/sipovl/daemon.sh does the same with netem through
# sipovl.ko; this host kernel has no netem, so here the RTP source impairs its own stream:
# sipovld (--no-kernel) hosts a UDP service whose target is that source; zt-tool dials the
# service and sends RTP (PCMU, 20 ms) for 25 s; the source answers its 25th datagram with 750
# packets (15 s) of which it drops RTPQ_LOSS % (seeded: a known number) and sends each one
# 40 ms +- RTPQ_JITTER_MS (uniform) after its sampling instant (the RTP timestamp is that
# instant as measured just before the send, so the host's scheduling does not count as jitter),
# then falls silent while zt-tool keeps sending. It prints the exact count dropped and the
# jitter RFC 3550 A.8 gives for the delays it applied.
#
# Checked on the flow's "to_ziti" direction (read by sipovld with the kernel's receive times):
# lost = the count dropped, exactly; the final jitter within RTPQ_JITTER_TOL % of the source's
# figure (0-0.3 % off on an idle host, 13.9 % with a VM test running beside it: the source's own
# scheduling between reading the clock and sending); nothing lost on the other direction; one-way audio logged within rtp_oneway_s (3 s)
# + 3 s of the source falling silent, once (one event: no flapping while both flow); the
# metrics endpoint (parsed by prometheus_client) counts that one event, the expected and lost
# packets.

RTPQ_LOSS=${RTPQ_LOSS:-5}
RTPQ_JITTER_MS=${RTPQ_JITTER_MS:-8}
RTPQ_JITTER_TOL=${RTPQ_JITTER_TOL:-30}

rtpq_tests() {
	local D=$W/rtpq sd=$B/sipovld pid tpid dpid port mport f
	local lost dropped jit jexp fromlost fromexp ow_ms stop_ms out
	if [ ! -x "$sd" ]; then
		notok "rtpq: $sd not built"
		return
	fi
	mkdir -p "$D"
	port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	{ cli edge delete service-policy rtpq-bind; cli edge delete service-policy rtpq-dial
	  cli edge delete service rtpq-udp; cli edge delete config rtpq-udp-host; } > /dev/null 2>&1
	{ cli edge create config rtpq-udp-host host.v1 "{\"protocol\":\"udp\",\"address\":\"127.0.0.1\",\"port\":$port}" &&
	  cli edge create service rtpq-udp -c rtpq-udp-host &&
	  cli edge create service-policy rtpq-bind Bind --service-roles @rtpq-udp --identity-roles @zt-client &&
	  cli edge create service-policy rtpq-dial Dial --service-roles @rtpq-udp --identity-roles @zt-host
	} > "$D/cli.out" 2>&1 || { notok "rtpq: create the rtpq-udp service"; diag < "$D/cli.out"; return; }
	cat > "$D/sipovld.conf" <<CONF
{ "identities": ["$ID/zt-client.json"], "control_socket": "$D/sipovld.sock", "log_level": "notice",
  "service_poll_s": 1, "rtp_oneway_s": 3, "metrics_listen": "127.0.0.1:$mport" }
CONF
	bg "$D/sipovld.log" "$sd" --no-kernel -c "$D/sipovld.conf"
	pid=$BGPID
	rq_sd() { "$sd" --control "$D/sipovld.sock" --request "$1" 2>/dev/null; }
	for _ in $(seq 1 160); do
		rq_sd status | jq -en 'input | [.services[] | select(.name == "rtpq-udp") | .host.listening] == [true]' \
			> /dev/null 2>&1 && break
		sleep 0.25
	done
	# the RTP source: waits for the first datagram, sends 750 packets (impaired) to its sender
	bg "$D/target.log" python3 -c 'import random, socket, struct, sys, time
port, count, lossp, jit = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
rnd = random.Random(17)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", port))
print("ready", flush=True)
seen = {}
while True:  # the dialer that keeps sending (not a one-datagram warm-up dial before it)
    peer = s.recvfrom(4096)[1]
    seen[peer] = seen.get(peer, 0) + 1
    if seen[peer] >= 25:
        break
s.setblocking(False)
t0 = time.monotonic()
dropped = 0; j16 = 0; prev = None
for seq in range(count):
    delay = 0.040 + rnd.uniform(-jit, jit) / 1000
    if rnd.random() < lossp / 100:
        dropped += 1
        continue
    d = t0 + seq * 0.02 + delay - time.monotonic()
    if d > 0:
        time.sleep(d)
    now = time.monotonic()
    ts = int(round((now - delay - t0) * 8000)) & 0xffffffff
    s.sendto(struct.pack(">BBHII", 0x80, 0, seq, ts, 0x7a7a7a7a) + b"\xd5" * 160, peer)
    transit = int(round(delay * 8000))  # A.8 on the delays applied, in timestamp units
    if prev is not None:
        j16 += abs(transit - prev) - ((j16 + 8) >> 4)
    prev = transit
    try:
        while s.recv(4096):
            pass
    except BlockingIOError:
        pass
print("sent dropped %d jitter_ms %.4f" % (dropped, j16 / 16 / 8), flush=True)
time.sleep(60)' "$port" 750 "$RTPQ_LOSS" "$RTPQ_JITTER_MS"
	tpid=$BGPID
	for _ in $(seq 1 100); do grep -q ready "$D/target.log" && break; sleep 0.1; done
	# the router may learn of the terminator a little after sipovld's BindSuccess
	for _ in $(seq 1 40); do
		"$FAST" dial -i "$ID/zt-host.json" -s rtpq-udp --udp --mode rtp --count 1 --size 172 --timeout-ms 5000 \
			> /dev/null 2>&1 && break
		sleep 0.25
	done
	bg "$D/dial.out" "$FAST" dial -i "$ID/zt-host.json" -s rtpq-udp --udp --mode rtp --count 1250 --size 172 \
		--pace-ms 20 --timeout-ms 60000
	dpid=$BGPID
	stop_ms='' ow_ms=''
	for _ in $(seq 1 120); do
		rq_sd flows > "$D/flows.json"
		f=$(jq -c '[.[] | select(.service == "rtpq-udp" and .rtp.to_ziti.packets > 0)] | max_by(.rtp.to_ziti.packets) // empty | .rtp' \
			"$D/flows.json" 2>/dev/null)
		[ -n "$f" ] && echo "$f" > "$D/last.json"
		[ -z "$stop_ms" ] && grep -q sent "$D/target.log" && stop_ms=$(date +%s%3N)
		if [ -n "$stop_ms" ] && grep -q "one-way audio: no RTP from the local side" "$D/sipovld.log"; then
			ow_ms=$(($(date +%s%3N) - stop_ms))
			break
		fi
		sleep 0.5
	done
	curl -sf --max-time 10 "http://127.0.0.1:$mport/metrics" > "$D/metrics.txt"
	kill "$dpid" "$tpid" 2>/dev/null
	wait "$dpid" "$tpid" 2>/dev/null
	f=$(cat "$D/last.json" 2>/dev/null)
	lost=$(jq -r '.to_ziti.lost // empty' <<<"$f")
	jit=$(jq -r '.to_ziti.jitter_ms // empty' <<<"$f")
	fromlost=$(jq -r '.from_ziti.lost // empty' <<<"$f")
	fromexp=$(jq -r '.from_ziti.expected // empty' <<<"$f")
	dropped=$(sed -n 's/^sent dropped \([0-9]*\) .*/\1/p' "$D/target.log")
	jexp=$(sed -n 's/^sent dropped [0-9]* jitter_ms \(.*\)/\1/p' "$D/target.log")
	echo "# rtpq: to_ziti $(jq -c '.to_ziti | {packets, expected, lost, loss_percent, reordered, jitter_ms, codec, mos}' <<<"$f" 2>/dev/null)"
	echo "# rtpq: from_ziti $(jq -c '.from_ziti | {packets, expected, lost, jitter_ms, mos}' <<<"$f" 2>/dev/null)"
	echo "# rtpq: the source dropped ${dropped:-?} of 750, its A.8 jitter ${jexp:-?} ms; one-way logged ${ow_ms:-never} ms after it stopped"
	if [ -n "$lost" ] && [ -n "$dropped" ] && [ "$lost" = "$dropped" ] && [ "$(jq -r '.to_ziti.expected' <<<"$f")" -ge 740 ]; then
		ok "rtpq: $RTPQ_LOSS% loss injected ($dropped of 750 dropped): $lost lost reported ($(jq -r .to_ziti.loss_percent <<<"$f")%)"
	else
		notok "rtpq: $RTPQ_LOSS% loss injected (${dropped:-?} of 750 dropped): ${lost:-nothing} lost reported"
		tail -5 "$D/sipovld.log" | diag
	fi
	if [ -n "$jit" ] && [ -n "$jexp" ] && awk -v m="$jit" -v e="$jexp" -v t="$RTPQ_JITTER_TOL" 'BEGIN { exit !(m >= e * (1 - t / 100) && m <= e * (1 + t / 100)) }'; then
		ok "rtpq: delay 40 +- $RTPQ_JITTER_MS ms injected: jitter $jit ms reported (A.8 on the delays applied: $jexp ms, +-$RTPQ_JITTER_TOL%)"
	else
		notok "rtpq: delay 40 +- $RTPQ_JITTER_MS ms injected: jitter ${jit:-none} ms reported (A.8 on the delays applied: ${jexp:-?} ms, +-$RTPQ_JITTER_TOL%)"
	fi
	if [ -n "$fromexp" ] && [ "$fromexp" -ge 500 ] && [ "$fromlost" -le $((fromexp / 100)) ]; then
		ok "rtpq: the unimpaired direction: $fromlost of $fromexp lost"
	else
		notok "rtpq: the unimpaired direction: ${fromlost:-?} of ${fromexp:-?} lost"
	fi
	if [ -n "$ow_ms" ] && [ "$ow_ms" -le 6000 ]; then
		ok "rtpq: one-way audio logged $ow_ms ms after the source fell silent: $(grep -o 'one-way audio: no RTP from the local side.*' "$D/sipovld.log" | head -1)"
	else
		notok "rtpq: one-way audio not logged within 6 s of the source falling silent (${ow_ms:-never})"
		grep -i "one-way\|rtpq-udp" "$D/sipovld.log" | tail -5 | diag
	fi
	if out=$(/usr/bin/python3 - "$D/metrics.txt" 2>&1 <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
v = {}
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in f.samples:
        v[(s.name, s.labels.get("direction", ""))] = s.value
ev = v.get(("sipovld_rtp_one_way_events_total", ""), 0)
st = v.get(("sipovld_rtp_streams", "from_ziti"), 0)
exp = v.get(("sipovld_rtp_expected_packets_total", "to_ziti"), 0)
lost = v.get(("sipovld_rtp_lost_packets_total", "to_ziti"), 0)
ow = v.get(("sipovld_rtp_streams_one_way", "to_ziti"), 0)
print("one_way_events_total %g, streams{from_ziti} %g, streams_one_way{to_ziti} %g, to_ziti lost %g of %g" % (ev, st, ow, lost, exp))
sys.exit(0 if ev == 1 and st >= 1 and ow >= 1 and exp >= 700 and lost > 0 else 1)
PY
	); then
		ok "rtpq: metrics endpoint parsed, $out"
	else
		notok "rtpq: metrics endpoint: $out"
	fi
	kill -TERM "$pid"
	wait "$pid"
	{ cli edge delete service-policy rtpq-bind; cli edge delete service-policy rtpq-dial
	  cli edge delete service rtpq-udp; cli edge delete config rtpq-udp-host; } > /dev/null 2>&1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cd "$(dirname "$0")/../.." || exit 1
	TOP=$PWD
	B=${O:-$TOP/build}
	FAST=$B/zt-tool
	# shellcheck source=tests/ziti/lib.sh
	. "$TOP/tests/ziti/lib.sh"
	zt_standalone zt-rtpq "${1:-}"
	rtpq_tests
	zt_plan
fi
