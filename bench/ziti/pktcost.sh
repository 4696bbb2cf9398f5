#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Per-packet cost of sipovld's RTP path on the host (issue 16 item 3): system calls and
# user-space instructions per datagram, each way, through sipovld (--no-kernel) hosting a UDP
# service whose target is a local UDP echo. zt-tool dials the service through the router and
# sends PC_PACKETS datagrams of 172 bytes (RTP with PCMA) every PC_PACE_MS ms, one at a time,
# each echoed: every datagram crosses sipovld from Ziti to the target (channel read, UDP send)
# and back (UDP receive, channel write).
#
#   bench/ziti/pktcost.sh NETDIR [strace|callgrind|both]   (NETDIR from tests/ziti/zitinet.sh start)
#   env: PC_PACKETS (default 1000), PC_PACE_MS (5), O= build directory, PC_KEEP=1 keeps the work dir
#
# strace: `strace -f -yy` attached to sipovld for the dial only; every system call is
# attributed by its file descriptor (-yy names the socket's addresses): the flow's UDP socket
# (connected to the echo), the router channel (TCP to the router), epoll_wait, or other (the
# dial's setup and teardown, timers, the controller). Counts are independent of load (the
# tracing slows sipovld, so wakeups may gather more than one event; at PC_PACE_MS apart
# they do not: the echo comes back long before the next datagram).
# sipovld polls the controller hourly here (service_poll_s 3600), not every 10 s: its requests
# (libcurl) are not per-packet work. callgrind: sipovld under valgrind --tool=callgrind with instrumentation off until the dial
# starts (callgrind_control -i on), dumped when it ends: instructions executed in user space
# (sipovld, OpenSSL, libc), split by the inclusive cost of the channel's read handler
# (from Ziti: TLS read, decrypt, parse, UDP send) and of the flow's UDP read plus the
# channel's write (to Ziti: UDP receive, frame, encrypt, TLS write). Kernel instructions are
# not counted: this host has no PMU access (perf stat: instructions <not supported>).
set -u
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
B=${O:-$TOP/build}
NET=$(cd "${1:?usage: $0 NETDIR [strace|callgrind|both]}" && pwd)
MODE=${2:-both}
N=${PC_PACKETS:-1000}
PACE=${PC_PACE_MS:-5}
# shellcheck disable=SC1091
. "$NET/env"
W=$(mktemp -d /tmp/zt-pktcost.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	wait 2>/dev/null
	cli edge delete service-policy pc-bind > /dev/null 2>&1
	cli edge delete service-policy pc-dial > /dev/null 2>&1
	cli edge delete service pc-udp > /dev/null 2>&1
	cli edge delete config pc-udp-host > /dev/null 2>&1
	if [ -n "${PC_KEEP:-}" ]; then echo "work directory kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
cli() { "$TOP/tests/ziti/zitinet.sh" cli "$NET" "$@"; }
freeport() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
TPORT=$(freeport SOCK_STREAM)
UPORT=$(freeport SOCK_DGRAM)
python3 "$TOP/tests/ziti/echo.py" serve "$TPORT" "$UPORT" > "$W/echo.log" 2>&1 &
PIDS+=($!)
cleanup_svc() {
	cli edge delete service-policy pc-bind; cli edge delete service-policy pc-dial
	cli edge delete service pc-udp; cli edge delete config pc-udp-host
}
cleanup_svc > /dev/null 2>&1
{ cli edge create config pc-udp-host host.v1 "{\"protocol\":\"udp\",\"address\":\"127.0.0.1\",\"port\":$UPORT}" &&
  cli edge create service pc-udp -c pc-udp-host &&
  cli edge create service-policy pc-bind Bind --service-roles @pc-udp --identity-roles @zt-client &&
  cli edge create service-policy pc-dial Dial --service-roles @pc-udp --identity-roles @zt-host
} > "$W/cli.out" 2>&1 || { cat "$W/cli.out"; echo "cannot create the service" >&2; exit 1; }
cat > "$W/sipovld.conf" <<CONF
{ "identities": ["$NET/zt-client.json"], "control_socket": "$W/sipovld.sock", "log_level": "notice",
  "service_poll_s": 3600 }
CONF

start_sd() { # command prefix...
	"$@" "$B/sipovld" --no-kernel -c "$W/sipovld.conf" > "$W/sipovld.log" 2>&1 &
	SD=$!
	PIDS+=("$SD")
	for _ in $(seq 1 600); do
		"$B/sipovld" --control "$W/sipovld.sock" --request status 2>/dev/null |
			jq -en 'input | [.services[] | select(.name == "pc-udp") | .host.listening] == [true]' \
			> /dev/null 2>&1 && break
		sleep 0.25
	done
	# the router may learn of the terminator a little after BindSuccess
	for _ in $(seq 1 80); do
		"$B/zt-tool" dial -i "$NET/zt-host.json" -s pc-udp --udp --count 1 --size 100 --timeout-ms 5000 \
			> /dev/null 2>&1 && return 0
		sleep 0.25
	done
	echo "sipovld never carried a datagram" >&2
	tail "$W/sipovld.log" >&2
	return 1
}
dial() {
	"$B/zt-tool" dial -i "$NET/zt-host.json" -s pc-udp --udp --count "$N" --size 172 --pace-ms "$PACE" \
		--timeout-ms 60000 > "$W/dial.out" 2>&1
	grep "^dial:" "$W/dial.out" | tail -2
}
stop_sd() { kill -TERM "$SD"; wait "$SD" 2>/dev/null; }

echo "# pktcost: $N datagrams of 172 B every $PACE ms, echoed; load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$MODE" = strace ] || [ "$MODE" = both ]; then
	start_sd || exit 1
	strace -f -yy -qq -o "$W/strace.log" -p "$SD" 2> "$W/strace.err" &
	ST=$!
	sleep 1
	dial
	sleep 0.5
	kill -INT "$ST"
	wait "$ST" 2>/dev/null
	stop_sd
	python3 - "$W/strace.log" "$N" "$UPORT" "$(set | sed -n 's/^ZN_ROUTER_ADDR[_a-z0-9]*=.*:\([0-9]*\)$/\1/p')" <<'PY'
import collections, re, sys
log, n, uport, rports = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split()
c = collections.Counter()
for line in open(log):
    m = re.match(r"^\d+\s+([a-z0-9_]+)\((?:\d+(<.*?\]>|<[^>]*>))?", line)
    if not m or "resumed>" in line:
        continue
    name, fd = m.group(1), m.group(2) or ""
    if name in ("epoll_wait", "epoll_pwait", "epoll_pwait2"):
        k = "wakeup"
    elif fd.startswith("<UDP:") and fd.endswith(f":{uport}]>"):
        k = "udp flow"
    elif fd.startswith("<TCP:") and any(fd.endswith(f":{p}]>") for p in rports):
        k = "router channel"
    else:
        k = "other"
    if "= -1 EAGAIN" in line:
        name += " EAGAIN"
    c[(k, name)] += 1
tot = sum(c.values())
print(f"# strace: {tot} system calls while {n} datagrams went each way ({tot / n:.2f} per round trip)")
for (k, name), v in sorted(c.items(), key=lambda kv: -kv[1]):
    print(f"#   {k:15s} {name:19s} {v:7d}  {v / n:6.3f} per datagram")
PY
fi
if [ "$MODE" = callgrind ] || [ "$MODE" = both ]; then
	start_sd valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$W/cg.out" || exit 1
	callgrind_control -i on "$SD" > /dev/null 2>&1
	dial
	callgrind_control -d "$SD" > /dev/null 2>&1
	callgrind_control -i off "$SD" > /dev/null 2>&1
	stop_sd
	f=
	for x in "$W"/cg.out*; do # the dump (callgrind_control -d) has the dial; the exit's is empty
		if [ "$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$x")" -gt 0 ] 2>/dev/null; then f=$x; break; fi
	done
	callgrind_annotate --inclusive=yes --threshold=100 "$f" > "$W/cg.txt" 2>/dev/null
	python3 - "$W/cg.txt" "$N" <<'PY'
import re, sys
txt, n = open(sys.argv[1]).read(), int(sys.argv[2])
tot = int(re.search(r"^([\d,]+) \(100.0%\)\s+PROGRAM TOTALS", txt, re.M).group(1).replace(",", ""))
def incl(fn):
    m = re.search(r"^\s*([\d,]+) \([^)]*\)\s+\S*:" + re.escape(fn) + r"(?: |$)", txt, re.M)
    return int(m.group(1).replace(",", "")) if m else 0
rd, ur, cw = incl("chan_io"), incl("udp_read"), incl("chan_write")
print(f"# callgrind: {tot} instructions (user space) in the dial, {tot / n:.0f} per round trip")
print(f"#   from Ziti (chan_io: TLS read, decrypt, parse, UDP send): {rd / n:.0f} per datagram")
print(f"#   to Ziti (udp_read {ur / n:.0f} + chan_write {cw / n:.0f}: UDP receive, frame, encrypt, TLS write): {(ur + cw) / n:.0f} per datagram")
print(f"#   the rest (event loop, timers, the controller, the dial's setup): {(tot - rd - ur - cw) / n:.0f} per datagram")
PY
	# clock reads and allocations: the calls into clock_gettime and into malloc, calloc and
	# realloc from outside them (callgrind's call counts, by caller; the names of the output
	# file's compressed "fn=(id) name" lines)
	python3 - "$f" "$N" <<'PY'
import collections, re, sys
names, fn, cfn, n = {}, None, None, int(sys.argv[2])
kinds = {"clock reads (clock_gettime)": re.compile(r"^(__)?(vdso_)?clock_gettime(64)?(@.*)?$"),
         "allocations (malloc, calloc, realloc)": re.compile(r"^(__libc_)?(malloc|calloc|realloc)(@.*)?$")}
calls = {k: collections.Counter() for k in kinds}
def name(v):
    m = re.match(r"\((\d+)\)(?: (.*))?", v)
    if not m:
        return v
    if m.group(2):
        names[m.group(1)] = m.group(2)
    return names.get(m.group(1), "?")
for line in open(sys.argv[1]):
    if line.startswith("fn="):
        fn = name(line[3:].strip())
    elif line.startswith("cfn="):
        cfn = name(line[4:].strip())
    elif line.startswith("calls=") and cfn is not None:
        for k, rx in kinds.items():
            if rx.match(cfn) and not rx.match(fn or ""):
                calls[k][fn] += int(line[6:].split()[0])
        cfn = None
for k, c in calls.items():
    tot = sum(c.values())
    print(f"# {k}: {tot} in the dial, {tot / n:.2f} per round trip")
    for f, v in c.most_common(6):
        print(f"#   from {f:28s} {v:7d}  {v / n:6.3f} per round trip")
PY
fi
