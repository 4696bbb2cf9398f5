#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The metrics endpoint of sipovld (metrics_listen), sourced by tests/daemon/run.sh while a
# sipovld --no-kernel runs with metrics_listen 127.0.0.1:$MPORT: the exposition parses with
# the Prometheus client library's text parser (python3-prometheus-client), names follow the
# conventions (sipovld_/sipovl_kernel_ prefix, counters end in _total), the expected families
# are there; HEAD, 404, 405, 400 and 431 answers; silent clients do not stall it.
# Uses ok/notok from run.sh. /usr/bin/python3: Debian's, which has prometheus_client.

metrics_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

metrics_tests() { # metrics_tests PORT WORKDIR
	local port=$1 w=$2 url="http://127.0.0.1:$1" out code t0 t1 ms silent
	if ! curl -sf -D "$w/m.hdr" -o "$w/m.txt" --max-time 10 "$url/metrics"; then
		notok "metrics: GET $url/metrics failed"
		return
	fi
	if grep -qi '^Content-Type: text/plain; version=0.0.4' "$w/m.hdr"; then
		ok "metrics: GET /metrics 200, text format 0.0.4"
	else
		notok "metrics: content type: $(grep -i '^Content-Type' "$w/m.hdr")"
	fi
	if out=$(/usr/bin/python3 - "$w/m.txt" 2>&1 <<'PY'
import re, sys
from prometheus_client.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
names = {f.name for f in fams}
bad = []
for f in fams:
    if not re.match(r"^sipovl(d|_kernel)_[a-z0-9_]+$", f.name):
        bad.append("name " + f.name)
    for s in f.samples:
        if f.type == "counter" and not s.name.endswith("_total"):
            bad.append("counter sample " + s.name)
        for k, v in s.labels.items():
            if k not in ("version", "identity", "service", "router", "type", "protocol", "result", "direction",
                         "action", "quality", "reason"):
                bad.append("label " + k)
need = ["sipovld_info", "sipovld_flows", "sipovld_memory_used_bytes", "sipovld_ziti_bytes", "sipovld_dials",
        "sipovld_rtp_streams", "sipovld_rtp_packets", "sipovld_rtp_expected_packets", "sipovld_rtp_lost_packets",
        "sipovld_rtp_jitter_seconds_max", "sipovld_rtp_one_way_events", "sipovld_rtp_streams_by_quality",
        "sipovld_calls_active", "sipovld_calls_started", "sipovld_calls_ended", "sipovld_calls_limit_hits",
        "sipovld_sip_messages", "sipovld_sip_malformed"]
bad += ["missing " + n for n in need if n not in names]
print("%d families, %d samples" % (len(fams), sum(len(f.samples) for f in fams)))
if bad:
    print("; ".join(bad[:10]))
    sys.exit(1)
PY
	); then
		ok "metrics: parsed by prometheus_client ($out), names and labels follow the conventions"
	else
		notok "metrics: prometheus_client parser: $out"
	fi
	# the Grafana dashboard (contrib/grafana/sipovl.json): every metric its queries name is
	# sipovld's (in this exposition, or a family daemon/metrics.c writes in other states: with
	# the kernel module, routers, RTP streams), and it has the calls (the SIP view) as well as
	# the RTP quality
	if out=$(/usr/bin/python3 - "$w/m.txt" contrib/grafana/sipovl.json daemon/metrics.c 2>&1 <<'PY'
import json, re, sys
from prometheus_client.parser import text_string_to_metric_families
have = set()
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    have.add(f.name)
    have.update(s.name for s in f.samples)
for n in re.findall(r'"(sipovl(?:d|_kernel)_[a-z0-9_]+)', open(sys.argv[3]).read()):
    have.update((n, n + "_total"))
d = json.load(open(sys.argv[2]))
exprs = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
used = set()
for e in exprs:
    used.update(re.findall(r"\b(sipovl(?:d|_kernel)_[a-z0-9_]+)", e))
missing = sorted(used - have)
need = ["sipovld_calls_active", "sipovld_calls_started_total", "sipovld_calls_ended_total",
        "sipovld_calls_limit_hits_total", "sipovld_sip_messages_total", "sipovld_sip_malformed_total",
        "sipovld_rtp_mos_min", "sipovld_rtp_one_way_events_total"]
absent = [n for n in need if n not in used]
print("%d panels, %d queries naming %d metrics" % (len(d["panels"]), len(exprs), len(used)))
if missing or absent:
    print("not sipovld's: %s; not on the dashboard: %s" % (missing, absent))
    sys.exit(1)
PY
	); then
		ok "metrics: the Grafana dashboard's queries name only metrics sipovld exposes, calls and RTP quality included ($out)"
	else
		notok "metrics: the Grafana dashboard: $out"
	fi
	code=$(curl -s -I -o "$w/head.out" -w '%{http_code}' --max-time 10 "$url/metrics")
	[ "$code" = 200 ] && ok "metrics: HEAD /metrics 200" || notok "metrics: HEAD /metrics: $code"
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url/nope")
	[ "$code" = 404 ] && ok "metrics: GET /nope 404" || notok "metrics: GET /nope: $code"
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "$url/metrics")
	[ "$code" = 405 ] && ok "metrics: POST 405" || notok "metrics: POST: $code"
	out=$(python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(sys.argv[2].encode()); print(s.recv(200).decode().split("\r\n")[0])' "$port" $'GET /metrics\r\n\r\n' 2>&1)
	[ "$out" = "HTTP/1.1 400 Bad Request" ] && ok "metrics: a request line without a version: 400" ||
		notok "metrics: malformed request: '$out'"
	out=$(python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 5000); print(s.recv(200).decode().split("\r\n")[0])' "$port" 2>&1)
	[ "$out" = "HTTP/1.1 431 Request Header Fields Too Large" ] && ok "metrics: a 5000-byte header: 431" ||
		notok "metrics: oversized request: '$out'"
	# 20 clients connect and send nothing: the endpoint still answers at once
	python3 -c 'import socket, sys, time
ss = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for i in range(20)]
print("connected", flush=True)
time.sleep(60)' "$port" >"$w/msilent.out" 2>&1 &
	silent=$!
	for _ in $(seq 1 100); do grep -q connected "$w/msilent.out" && break; sleep 0.1; done
	t0=$(date +%s%N)
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url/metrics")
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	if grep -q connected "$w/msilent.out" && [ "$code" = 200 ] && [ $ms -lt 5000 ]; then
		ok "metrics: 20 silent clients connected, /metrics answered in $ms ms"
	else
		notok "metrics: 20 silent clients connected, /metrics: $code in $ms ms"
	fi
	kill "$silent" 2>/dev/null
	wait "$silent" 2>/dev/null
}
