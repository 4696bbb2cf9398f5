#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# RTP next to bulk data on one router channel (sourced by tests/ziti/run.sh, which calls
# rtp_tests; or run alone against a network from `zitinet.sh start DIR`:
# tests/ziti/rtp.sh DIR, TAP output).
#
# sipovld (--no-kernel, the plain build: timing) hosts a UDP echo service and a TCP echo
# service for one identity, so both share its one channel to the router. A paced datagram
# flow (RTP-like: 172-byte datagrams every 20 ms) is dialed through it twice: alone, then
# while a bulk TCP transfer (from a target that sends as fast as it is read, so sipovld sends
# at the channel's full rate towards the router) runs on the same channel. Measured: the 99th percentile of the datagrams' echo
# latency (lost ones rank last) in both runs; the latency added under load must stay within
# RTP_ADDED_P99_MS (datagrams have their own queue, written before stream data, and stream
# data waits once 512 KiB of it is not yet read by the router). Before, datagrams waited
# behind up to 4 MiB of stream data in sipovld and megabytes more in the router's receive
# buffer: a p50 of 0.8-1 s next to the transfer and a quarter of them later than 2 s (lost).
# The median must stay within RTP_ADDED_P50_MS of the run alone, too. The p99 bound is wide:
# on a loaded machine the tail is CPU scheduling, not queueing (p99 alone: 26-323 ms here).

RTP_ADDED_P99_MS=${RTP_ADDED_P99_MS:-500}
RTP_ADDED_P50_MS=${RTP_ADDED_P50_MS:-100}

# A UDP flow that carries a call's SIP (both ends sent SIP, and an ACK passed) outlives
# udp_idle_timeout_s (sip_idle_timeout_s, daemon/flows.c): a call's signalling is silent between
# the ACK and the BYE, and a new flow would be a new circuit and, hosted from the gateway's own
# address, a new source port at the far end, where the dialog was learned from the old one
# (multigw.sh, 2026-12-08: the 200 to every call's BYE went to the old port). With
# udp_idle_timeout_s 2, two datagrams 4 s apart on one dial, each echoed (both ends "send" it):
# two ACKs must both come back; two OPTIONS (a probe, answered: no dialog) and two datagrams
# that are not SIP must not (the flow closed when idle). rtp_sip_idle LABEL EXTRA: EXTRA is
# added to the config (once with the call tracker, once without: calls_max 0).
rtp_sip_idle() {
	local label=$1 extra=$2 sipmsg ackmsg rc1 rc2 rc3 applied='' n0
	[ -f "$D/sipovld.conf.orig" ] || cp "$D/sipovld.conf" "$D/sipovld.conf.orig"
	sed "s/\"log_level\": \"notice\",/\"log_level\": \"notice\", \"udp_idle_timeout_s\": 2, \"sip_idle_timeout_s\": 60, $extra/" \
		"$D/sipovld.conf.orig" > "$D/sipovld.conf.new" && mv "$D/sipovld.conf.new" "$D/sipovld.conf"
	n0=$(grep -c "reloaded:" "$D/sipovld.log")
	kill -HUP "$pid"
	for _ in $(seq 1 40); do
		[ "$(grep -c "reloaded:" "$D/sipovld.log")" -gt "$n0" ] &&
			rtp_sd | jq -en 'input | .config.udp_idle_timeout_s == 2 and .config.sip_idle_timeout_s == 60' >/dev/null 2>&1 &&
			{ applied=1; break; }
		sleep 0.25
	done
	if [ -z "$applied" ]; then
		notok "rtp ($label): sipovld reloaded udp_idle_timeout_s 2, sip_idle_timeout_s 60 (status: $(rtp_sd | jq -c .config))"
		tail -3 "$D/sipovld.log" | diag
		return
	fi
	sipmsg=$'OPTIONS sip:echo@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-sipidle\r\n'
	sipmsg+=$'From: <sip:t@192.0.2.9>;tag=1\r\nTo: <sip:echo@127.0.0.1>\r\nCall-ID: sipidle-1@192.0.2.9\r\n'
	sipmsg+=$'CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n'
	ackmsg=$'ACK sip:echo@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-sipidle2\r\n'
	ackmsg+=$'From: <sip:t@192.0.2.9>;tag=1\r\nTo: <sip:echo@127.0.0.1>;tag=2\r\nCall-ID: sipidle-2@192.0.2.9\r\n'
	ackmsg+=$'CSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n'
	"$FAST" dial -i "$ID/zt-host.json" -s rtp-udp --udp --send "$ackmsg" --count 2 --pace-ms 4000 \
		--timeout-ms 20000 > "$D/sipidle.out" 2>&1
	rc1=$?
	"$FAST" dial -i "$ID/zt-host.json" -s rtp-udp --udp --send "$sipmsg" --count 2 --pace-ms 4000 \
		--timeout-ms 20000 > "$D/probeidle.out" 2>&1
	rc3=$?
	"$FAST" dial -i "$ID/zt-host.json" -s rtp-udp --udp --send "not SIP: an RTP-like datagram" --count 2 \
		--pace-ms 4000 --timeout-ms 20000 > "$D/udpidle.out" 2>&1
	rc2=$?
	if [ $rc1 = 0 ]; then
		ok "rtp ($label): a call's SIP flow (an ACK) silent for 4 s outlives udp_idle_timeout_s 2 (sip_idle_timeout_s 60): both datagrams echoed on one dial"
	else
		notok "rtp ($label): a call's SIP flow (an ACK) silent for 4 s outlives udp_idle_timeout_s 2 (dial exit $rc1)"
		tail -3 "$D/sipidle.out" | diag
	fi
	if [ $rc3 != 0 ] && grep -q 'closed before completion' "$D/probeidle.out"; then
		ok "rtp ($label): an answered SIP probe (OPTIONS, no ACK) silent for 4 s is closed at udp_idle_timeout_s 2"
	else
		notok "rtp ($label): an answered SIP probe (OPTIONS, no ACK) silent for 4 s is closed at udp_idle_timeout_s 2 (dial exit $rc3)"
		tail -3 "$D/probeidle.out" | diag
	fi
	if [ $rc2 != 0 ] && grep -q 'closed before completion' "$D/udpidle.out"; then
		ok "rtp ($label): another UDP flow silent for 4 s is closed at udp_idle_timeout_s 2 ($(grep -m1 -o 'closed before completion.*' "$D/udpidle.out" | cut -c1-60))"
	else
		notok "rtp ($label): another UDP flow silent for 4 s is closed at udp_idle_timeout_s 2 (dial exit $rc2)"
		tail -3 "$D/udpidle.out" | diag
	fi
}

rtp_tests() {
	local D=$W/rtp sd=$B/sipovld pid bulk_pid src_port src_pid base load b0 b1 rc dropped med0 med1 mport out
	if [ ! -x "$sd" ]; then
		notok "rtp: $sd not built"
		return
	fi
	mkdir -p "$D"
	# the bulk source: sends to whoever connects, as fast as it is read
	src_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	bg "$D/source.log" python3 -c 'import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); buf = bytes(range(256)) * 256
def feed(c):
    try:
        while True: c.sendall(buf)
    except OSError: pass
while True: threading.Thread(target=feed, args=(s.accept()[0],), daemon=True).start()' "$src_port"
	src_pid=$BGPID
	{ cli edge delete service-policy rtp-bind; cli edge delete service-policy rtp-dial
	  cli edge delete service rtp-udp; cli edge delete config rtp-udp-host
	  cli edge delete service rtp-bulk; cli edge delete config rtp-bulk-host; } > /dev/null 2>&1
	{ cli edge create config rtp-udp-host host.v1 \
		"{\"protocol\":\"udp\",\"address\":\"127.0.0.1\",\"port\":$ZN_UDP_ECHO_PORT}" &&
	  cli edge create config rtp-bulk-host host.v1 \
		"{\"protocol\":\"tcp\",\"address\":\"127.0.0.1\",\"port\":$src_port}" &&
	  cli edge create service rtp-udp -c rtp-udp-host && cli edge create service rtp-bulk -c rtp-bulk-host &&
	  cli edge create service-policy rtp-bind Bind --service-roles @rtp-udp,@rtp-bulk --identity-roles @zt-client &&
	  cli edge create service-policy rtp-dial Dial --service-roles @rtp-udp,@rtp-bulk --identity-roles @zt-host
	} > "$D/cli.out" 2>&1 || { notok "rtp: create the rtp-udp/rtp-bulk services"; diag < "$D/cli.out"; return; }
	mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	cat > "$D/sipovld.conf" <<CONF
{ "identities": ["$ID/zt-client.json"], "control_socket": "$D/sipovld.sock", "log_level": "notice",
  "service_poll_s": 1, "metrics_listen": "127.0.0.1:$mport" }
CONF
	bg "$D/sipovld.log" "$sd" --no-kernel -c "$D/sipovld.conf"
	pid=$BGPID
	rtp_sd() { "$sd" --control "$D/sipovld.sock" --request status 2>/dev/null; }
	for _ in $(seq 1 160); do
		rtp_sd | jq -en 'input | [.services[] | select(.name == "rtp-udp" or .name == "rtp-bulk") | .host.listening] == [true, true]' \
			> /dev/null 2>&1 && break
		sleep 0.25
	done
	# the router may learn of the terminators a little after sipovld's BindSuccess
	for _ in $(seq 1 40); do
		"$FAST" dial -i "$ID/zt-host.json" -s rtp-udp --udp --count 1 --size 100 --timeout-ms 5000 \
			> /dev/null 2>&1 && break
		sleep 0.25
	done
	"$FAST" dial -i "$ID/zt-host.json" -s rtp-udp --udp --count 250 --size 172 --pace-ms 20 \
		--timeout-ms 30000 > "$D/base.out" 2>&1
	base=$(sed -n 's/^dial: paced latency p50 .* ms, p99 \(.*\) ms$/\1/p' "$D/base.out")
	bg "$D/bulk.out" "$FAST" dial -i "$ID/zt-host.json" -s rtp-bulk --mode recv --bytes 20000000000 --timeout-ms 120000
	bulk_pid=$BGPID
	# the transfer is under way: sipovld has sent a few MB of it
	for _ in $(seq 1 80); do
		b0=$(rtp_sd | jq -r '.counters.bytes_to_ziti')
		[ "${b0:-0}" -ge 8000000 ] && break
		sleep 0.25
	done
	"$FAST" dial -i "$ID/zt-host.json" -s rtp-udp --udp --count 250 --size 172 --pace-ms 20 \
		--timeout-ms 30000 > "$D/load.out" 2>&1
	b1=$(rtp_sd | jq -r '.counters.bytes_to_ziti')
	rtp_sd > "$D/status.json"
	curl -sf --max-time 10 "http://127.0.0.1:$mport/metrics" > "$D/metrics.txt"
	kill -0 "$bulk_pid" 2>/dev/null
	rc=$?
	kill "$bulk_pid" "$src_pid" 2>/dev/null
	load=$(sed -n 's/^dial: paced latency p50 .* ms, p99 \(.*\) ms$/\1/p' "$D/load.out")
	med0=$(sed -n 's/^dial: paced latency p50 \(.*\) ms, p99 .*$/\1/p' "$D/base.out")
	med1=$(sed -n 's/^dial: paced latency p50 \(.*\) ms, p99 .*$/\1/p' "$D/load.out")
	dropped=$(jq -r '.counters.datagrams_dropped_late // empty' "$D/status.json")
	echo "# rtp: p99 alone ${base:-?} ms, next to bulk ${load:-?} ms; bulk moved $(( (${b1:-0} - ${b0:-0}) / 1000000 )) MB meanwhile; datagrams dropped late: ${dropped:-n/a}"
	grep "^dial:" "$D/base.out" "$D/load.out" | diag
	if [ -z "$base" ] || [ "$base" = lost ]; then
		notok "rtp: paced datagrams alone (no p99)"; tail -5 "$D/base.out" | diag
	elif [ "$rc" != 0 ] || [ $(( ${b1:-0} - ${b0:-0} )) -lt 4000000 ]; then
		notok "rtp: the bulk transfer did not run alongside (alive=$rc, $(( ${b1:-0} - ${b0:-0} )) bytes)"
		tail -5 "$D/bulk.out" | diag
	elif [ -n "$load" ] && [ "$load" != lost ] && [ $((load - base)) -le "$RTP_ADDED_P99_MS" ] &&
		[ -n "$med1" ] && [ "$med1" != lost ] && [ $((med1 - med0)) -le "$RTP_ADDED_P50_MS" ]; then
		ok "rtp: next to a bulk TCP transfer on the same router, RTP p99 latency $load ms (alone $base ms, added $((load - base)) <= $RTP_ADDED_P99_MS ms), p50 $med1 ms (alone $med0 ms)"
	else
		notok "rtp: next to a bulk TCP transfer, RTP p99 latency ${load:-?} ms (alone $base ms, bound +$RTP_ADDED_P99_MS ms), p50 ${med1:-?} ms (alone $med0 ms, bound +$RTP_ADDED_P50_MS ms)"
	fi
	if [ -n "$dropped" ] && jq -en 'input | .identities[0].datagrams_dropped_late >= 0' "$D/status.json" > /dev/null 2>&1; then
		ok "rtp: sipovld status counts datagrams dropped past the latency bound ($dropped)"
	else
		notok "rtp: sipovld status has no datagrams_dropped_late counter"
	fi
	# the bulk transfer's stream data waits for the router's read confirmation once 512 KiB of
	# it are unconfirmed (zt_sched.c): the metrics count those holds, their time and the
	# read-position probes sent again, as counters of the router channel
	if out=$(/usr/bin/python3 - "$D/metrics.txt" 2>&1 <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
bad, got = [], {}
for n in ("sipovld_router_stream_held_back", "sipovld_router_stream_held_back_seconds",
          "sipovld_router_read_probe_retries"):
    f = fams.get(n)
    if not f or f.type != "counter" or not f.samples:
        bad.append("no counter " + n)
        continue
    for s in f.samples:
        if s.name != n + "_total" or set(s.labels) != {"identity", "router"}:
            bad.append("sample %s %s" % (s.name, s.labels))
    got[n] = sum(s.value for s in f.samples)
print(", ".join("%s_total %g" % kv for kv in got.items()) + ("; " + "; ".join(bad) if bad else ""))
ok = not bad and got["sipovld_router_stream_held_back"] >= 1 and got["sipovld_router_stream_held_back_seconds"] > 0
sys.exit(0 if ok else 1)
PY
	); then
		ok "rtp: metrics count the bulk stream held back for the router's read confirmation: $out"
	else
		notok "rtp: metrics of the stream held back for the router: $out"
	fi
	# system calls per datagram from the router: the channel's read(2) that empties the socket
	# ends its read loop (before, every wakeup read again for an EAGAIN: one system call per
	# datagram). strace on sipovld while 100 paced datagrams are echoed (the bulk has ended).
	if command -v strace > /dev/null; then
		strace -f -yy -qq -e trace=read -o "$D/strace.log" -p "$pid" 2> "$D/strace.err" &
		local st=$! reads eagain
		# attached once sipovld has a tracer (seconds on a loaded host)
		for _ in $(seq 1 100); do
			[ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$pid/status" 2> /dev/null)" -gt 0 ] 2> /dev/null && break
			kill -0 "$st" 2> /dev/null || break
			sleep 0.1
		done
	fi
	if ! command -v strace > /dev/null; then
		skip "rtp: reads per datagram" "no strace"
	elif ! kill -0 "$st" 2> /dev/null; then
		skip "rtp: reads per datagram" "strace cannot attach to sipovld: $(head -c 200 "$D/strace.err")"
	else
		"$FAST" dial -i "$ID/zt-host.json" -s rtp-udp --udp --count 100 --size 172 --pace-ms 20 \
			--timeout-ms 30000 > "$D/strace-dial.out" 2>&1
		kill -INT "$st"
		wait "$st" 2> /dev/null
		# reads of TCP sockets but the controller's: the channel to whichever router it uses
		grep '<TCP:' "$D/strace.log" | grep -v ":${ZN_CTRL_ADDR##*:}]>" > "$D/strace.chan"
		reads=$(grep -c . "$D/strace.chan")
		eagain=$(grep -c "= -1 EAGAIN" "$D/strace.chan")
		if [ "$reads" -ge 50 ] && [ "$eagain" -le 10 ]; then
			ok "rtp: 100 datagrams from the router: $reads reads of its channel, $eagain of them EAGAIN"
		else
			notok "rtp: 100 datagrams from the router: $reads reads of its channel, $eagain of them EAGAIN (at most 10)"
			tail -n 3 "$D/strace-dial.out" "$D/strace.err" | diag
		fi
	fi
	rtp_sip_idle "call tracker on" ""
	rtp_sip_idle "calls_max 0" '"calls_max": 0,'
	kill -TERM "$pid"
	wait "$pid"
	{ cli edge delete service-policy rtp-bind; cli edge delete service-policy rtp-dial
	  cli edge delete service rtp-udp; cli edge delete config rtp-udp-host
	  cli edge delete service rtp-bulk; cli edge delete config rtp-bulk-host; } > /dev/null 2>&1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cd "$(dirname "$0")/../.." || exit 1
	TOP=$PWD
	B=${O:-$TOP/build}
	FAST=$B/zt-tool
	# shellcheck source=tests/ziti/lib.sh
	. "$TOP/tests/ziti/lib.sh"
	zt_standalone zt-rtp "${1:-}"
	bg "$W/echo.log" python3 "$ECHO" serve "$ZN_TCP_ECHO_PORT" "$ZN_UDP_ECHO_PORT"
	rtp_tests
	zt_plan
fi
