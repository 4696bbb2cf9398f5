#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Host tests of sipovlctl (no kernel module needed): the parser unit tests,
# every argument and file error path of the CLI (exact stderr line and exit
# status), JSON validity, help, the man page and the bash completion.
#
#   tests/ctl/run.sh          (after `make tests`; O= selects the build dir)
#
# TAP 13 on stdout; exit 0 when every point passed, 1 otherwise.
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
O=${O:-$TOP/build}
CTL=${SIPOVLCTL:-$O/san/sipovlctl}
UNIT=$O/san/ctl-unit
FUZZ=$O/fuzz/ctl-fuzz
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

n=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() {
	n=$((n + 1)); failed=$((failed + 1))
	echo "not ok $n - $1"; shift
	local l; for l in "$@"; do echo "#   $l"; done
}
diag() { echo "# $*"; }

echo "TAP version 13"

for b in "$CTL" "$UNIT"; do
	if [ ! -x "$b" ]; then
		echo "1..0 # SKIP $b not built (make tests)"
		exit 1
	fi
done

# run ARGS...: runs sipovlctl; sets rc, out, err (files $tmp/out, $tmp/err).
run() {
	rc=0
	"$CTL" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# fails DESC RC MSG ARGS...: sipovlctl ARGS exits RC with exactly one stderr
# line "sipovlctl: MSG" and nothing on stdout.
fails() {
	local desc=$1 want_rc=$2 msg=$3
	shift 3
	run "$@"
	if [ "$rc" = "$want_rc" ] && [ "$err" = "sipovlctl: $msg" ] && [ -z "$out" ] &&
		[ "$(wc -l <"$tmp/err")" = 1 ]; then
		ok "$desc"
	else
		not_ok "$desc" "args: $*" "exit: $rc (want $want_rc)" "stderr: $err" \
			"want:   sipovlctl: $msg" "stdout: ${out:0:200}"
	fi
}

# succeeds DESC ARGS...: exit 0, empty stderr.
succeeds() {
	local desc=$1
	shift
	run "$@"
	if [ "$rc" = 0 ] && [ -z "$err" ]; then
		ok "$desc"
	else
		not_ok "$desc" "args: $*" "exit: $rc" "stderr: $err"
	fi
}

# ---- unit tests -------------------------------------------------------------
unit_out=$("$UNIT" 2>&1); unit_rc=$?
unit_total=$(grep -c '^ok \|^not ok ' <<<"$unit_out")
unit_bad=$(grep '^not ok ' <<<"$unit_out")
if [ $unit_rc = 0 ] && [ -z "$unit_bad" ] && [ "$unit_total" -gt 100 ]; then
	ok "parser unit tests ($unit_total points, ASan/UBSan)"
else
	not_ok "parser unit tests (exit $unit_rc, $unit_total points)"
	grep -v '^ok ' <<<"$unit_out" | sed 's/^/#   /' | head -40
fi

# ---- global options and objects ---------------------------------------------
fails "no object" 2 "missing OBJECT: try 'sipovlctl --help'"
fails "unknown object" 2 'unknown object "route": expected intercept, apply, stats, sources, socket, config, lookup, monitor, status or calls' route
fails "unknown option" 2 "unknown option \"-x\": try 'sipovlctl --help'" -x intercept show
fails "unknown long option" 2 "unknown option \"--jsn\": try 'sipovlctl --help'" --jsn intercept show
fails "-n without a value" 2 "option -n needs a value (a network namespace name)" -n
fails "unknown netns" 1 "cannot enter network namespace \"nonexistent-ns-$$\": No such file or directory" \
	-n "nonexistent-ns-$$" intercept show
fails "netns name with a slash" 1 'cannot enter network namespace "../x": Invalid argument' \
	-n ../x intercept show
fails "unknown command" 2 'unknown command "ad" for intercept: expected add, replace, del, show or flush' intercept ad
fails "unknown stats command" 2 'unknown command "-x" for stats: expected show or reset' stats -x
fails "stats NAME is stats show NAME" 2 'unexpected argument "b"' stats a b
fails "unknown sources command" 2 'unknown command "add" for sources: expected show, set or flush' sources add
fails "help for unknown object" 2 "unknown object \"nope\": try 'sipovlctl --help'" help nope
fails "help for unknown command" 2 "unknown command \"nope\" for intercept: try 'sipovlctl intercept --help'" help intercept nope

run -V
if [ $rc = 0 ] && [[ $out == "sipovlctl "*"(generic netlink family \"sipovl\" version 1)" ]]; then
	ok "-V prints the version"
else
	not_ok "-V prints the version" "exit $rc: $out"
fi

# --help everywhere: exit 0, usage on stdout, nothing on stderr.
help_ok=1 help_bad=()
for args in "--help" "-h" "help" "intercept --help" "intercept help" "help intercept" \
	"intercept add --help" "intercept replace --help" "intercept del --help" \
	"intercept show --help" "intercept flush --help" "intercept change --help" \
	"help intercept add" "apply --help" "apply --check --help" "stats --help" \
	"stats show --help" "stats reset --help" "sources --help" "sources set --help" \
	"sources show --help" "sources flush --help" "socket --help" "socket show --help" \
	"socket unregister --help" "config --help" "config show --help" "lookup --help" \
	"monitor --help" "status --help" "intercept add sip-eu proto udp --help"; do
	# shellcheck disable=SC2086
	run $args
	if [ $rc != 0 ] || [ -n "$err" ] || [[ $out != Usage:* ]]; then
		help_ok=0 help_bad+=("$args: exit $rc, stderr '$err'")
	fi
done
if [ $help_ok = 1 ]; then ok "--help on every object and command"; else not_ok "--help on every object and command" "${help_bad[@]}"; fi

run intercept add --help
if grep -q '^Usage: sipovlctl \[OPTIONS\] intercept add NAME \[id ID\] proto PROTOS addr PREFIXES port PORTS' <<<"$out"; then
	ok "command help shows the synopsis"
else
	not_ok "command help shows the synopsis" "$out"
fi

if [ -w /dev/full ]; then
	rc=0; "$CTL" --help >/dev/full 2>"$tmp/err" || rc=$?
	if [ $rc = 1 ] && [ "$(cat "$tmp/err")" = "sipovlctl: write error on standard output: No space left on device" ]; then
		ok "write errors on stdout are reported"
	else
		not_ok "write errors on stdout are reported" "exit $rc: $(cat "$tmp/err")"
	fi
fi

# ---- intercept add/replace/del/show: argument errors --------------------------
A=(intercept add)
fails "add: prefix length 33" 2 'bad prefix "10.2.0.0/33": prefix length must be 0-32' \
	"${A[@]}" sip-eu proto udp,tcp addr 10.2.0.0/33 port 5060
fails "add: IPv6 prefix length 129" 2 'bad prefix "fd00:2::/129": prefix length must be 0-128' \
	"${A[@]}" sip-eu proto udp addr 10.2.0.0/16,fd00:2::/129 port 5060
fails "add: host bits set" 2 'bad prefix "10.2.0.1/16": host bits set (did you mean 10.2.0.0/16?)' \
	"${A[@]}" sip-eu proto udp addr 10.2.0.1/16 port 5060
fails "add: not an address" 2 'bad prefix "10.2.0/16": not an IPv4 or IPv6 address' \
	"${A[@]}" sip-eu proto udp addr 10.2.0/16 port 5060
fails "add: port low > high" 2 'bad port range "7000-6000": low > high' \
	"${A[@]}" sip-eu proto udp addr 10.2.0.0/16 port 7000-6000
fails "add: port out of range" 2 'bad port range "65536": port must be 0-65535' \
	"${A[@]}" sip-eu proto udp addr 10.2.0.0/16 port 65536
fails "add: port not a number" 2 'bad port range "sip": expected PORT or LOW-HIGH (0-65535)' \
	"${A[@]}" sip-eu proto udp addr 10.2.0.0/16 port sip
fails "add: bad protocol" 2 'bad protocol "icmp": expected tcp or udp' \
	"${A[@]}" sip-eu proto icmp addr 10.2.0.0/16 port 5060
fails "add: protocol twice" 2 'bad protocol list "udp,udp": "udp" listed twice' \
	"${A[@]}" sip-eu proto udp,udp addr 10.2.0.0/16 port 5060
fails "add: bad policy" 2 'bad policy "bogus": expected drop, pass or reject' \
	"${A[@]}" sip-eu proto udp addr 10.2.0.0/16 port 5060 policy bogus
fails "replace: bad policy" 2 'bad policy "Reject": expected drop, pass or reject' \
	intercept replace sip-eu proto udp addr 10.2.0.0/16 port 5060 policy Reject
fails "add: bad source" 2 'bad prefix "10.1.0.0/99": prefix length must be 0-32' \
	"${A[@]}" sip-eu proto udp addr 10.2.0.0/16 port 5060 src 10.1.0.0/99
fails "add: id 0" 2 'bad id "0": must be 1-4294967295' \
	"${A[@]}" sip-eu proto udp addr 10.2.0.0/16 port 5060 id 0
fails "add: unknown keyword" 2 'unknown keyword "dst": expected id, proto, addr, port, src or policy' \
	"${A[@]}" sip-eu proto udp dst 10.2.0.0/16 port 5060
fails "add: missing value" 2 'missing value after "port"' \
	"${A[@]}" sip-eu proto udp addr 10.2.0.0/16 port
fails "add: keyword twice" 2 'keyword "addr" given twice' \
	"${A[@]}" sip-eu proto udp addr 10.2.0.0/16 port 1 addr 10.3.0.0/16
fails "add: missing proto" 2 'missing "proto": expected tcp, udp or tcp,udp' \
	"${A[@]}" sip-eu addr 10.2.0.0/16 port 5060
fails "add: missing addr" 2 'missing "addr": expected destination prefixes (10.2.0.0/16,fd00:2::/48)' \
	"${A[@]}" sip-eu proto udp port 5060
fails "add: missing port" 2 'missing "port": expected port ranges (5060,10000-20000)' \
	"${A[@]}" sip-eu proto udp addr 10.2.0.0/16
fails "add: missing name" 2 "missing intercept name" "${A[@]}"
long=$(printf 'n%.0s' {1..64})
fails "add: name too long" 2 "bad name \"$long\": longer than 63 bytes" \
	"${A[@]}" "$long" proto udp addr 10.2.0.0/16 port 5060
fails "add: all-digit name" 2 'bad name "5060": all digits (that is an id)' \
	"${A[@]}" 5060 proto udp addr 10.2.0.0/16 port 5060
fails "add: empty list element" 2 'bad destination list "10.2.0.0/16,": empty element' \
	"${A[@]}" x proto udp addr 10.2.0.0/16, port 5060
max_pfx=$(sed -n 's/^#define SIPOVL_MAX_PREFIXES \([0-9]*\).*/\1/p' "$TOP/uapi/linux/sipovl.h")
max_ports=$(sed -n 's/^#define SIPOVL_MAX_PORT_RANGES \([0-9]*\).*/\1/p' "$TOP/uapi/linux/sipovl.h")
many=$(for i in $(seq 0 "$max_pfx"); do printf '10.%d.%d.0/24,' $((i / 256)) $((i % 256)); done)
many=${many%,}
run "${A[@]}" x proto udp addr "$many" port 1
if [ $rc = 2 ] && [[ $err == "sipovlctl: bad destination list \"10.0.0.0/24,"*"\"...: $((max_pfx + 1)) elements, at most $max_pfx" ]] &&
	[ ${#err} -lt 200 ]; then
	ok "add: $((max_pfx + 1)) destination prefixes (uapi limit + 1) rejected with a short message"
else
	not_ok "add: $((max_pfx + 1)) destination prefixes rejected with a short message" "exit $rc: ${err:0:300}"
fi
manyp=$(seq -s, 1 $((max_ports + 1)))
run "${A[@]}" x proto udp addr 10.0.0.0/8 port "$manyp"
if [ $rc = 2 ] && [[ $err == *": $((max_ports + 1)) elements, at most $max_ports" ]]; then
	ok "add: $((max_ports + 1)) port ranges (uapi limit + 1) rejected"
else
	not_ok "add: $((max_ports + 1)) port ranges rejected" "exit $rc: ${err:0:300}"
fi
fails "replace: same checks as add" 2 'bad port range "7000-6000": low > high' \
	intercept replace sip-eu proto udp addr 10.2.0.0/16 port 7000-6000
fails "del: missing selector" 2 "missing intercept NAME or ID" intercept del
fails "del: extra argument" 2 'unexpected argument "b"' intercept del a b
fails "del: id 0" 2 'bad id "0": must be 1-4294967295' intercept del 0
fails "del: id too big" 2 'bad id "99999999999": must be 1-4294967295' intercept del 99999999999
fails "show: two selectors" 2 'unexpected argument "b"' intercept show a b
fails "show: --config with -j" 2 "--config and -j are mutually exclusive" -j intercept show --config
fails "flush: extra argument" 2 'unexpected argument "now"' intercept flush now

# ---- other objects: argument errors -----------------------------------------------
fails "stats: extra argument" 2 'unexpected argument "b"' stats show a b
fails "stats reset: extra argument" 2 'unexpected argument "x"' stats reset x
fails "sources set: missing list" 2 "missing PREFIX[,PREFIX...]" sources set
fails "sources set: bad prefix" 2 'bad prefix "10.1.0.1/16": host bits set (did you mean 10.1.0.0/16?)' \
	sources set 10.1.0.1/16
fails "sources set: two words" 2 'unexpected argument "10.2.0.0/16"' sources set 10.1.0.0/16 10.2.0.0/16
fails "sources flush: extra argument" 2 'unexpected argument "x"' sources flush x
fails "socket unregister: bad family" 2 'bad family "ipx": expected inet or inet6' socket unregister family ipx
fails "socket unregister: bad proto" 2 'bad protocol "sctp": expected tcp or udp' socket unregister proto sctp
fails "socket unregister: unknown keyword" 2 'unknown keyword "port": expected family or proto' socket unregister port 1
fails "socket unregister: missing value" 2 'missing value after "family"' socket unregister family
fails "socket unregister: keyword twice" 2 'keyword "proto" given twice' socket unregister proto tcp proto udp
fails "config show: extra argument" 2 'unexpected argument "x"' config show x
fails "lookup: missing dport" 2 'missing "dport": usage: lookup proto tcp|udp src ADDR dst ADDR dport PORT [sport PORT]' \
	lookup proto udp src 10.1.0.1 dst 10.2.0.1
fails "lookup: bad address" 2 'bad address "10.2.0.300": not an IPv4 or IPv6 address' \
	lookup proto udp src 10.1.0.1 dst 10.2.0.300 dport 5060
fails "lookup: bad port" 2 'bad port "70000": must be 0-65535' \
	lookup proto udp src 10.1.0.1 dst 10.2.0.1 dport 70000
fails "lookup: family mismatch" 2 'address family mismatch: src "10.1.0.1" is IPv4, dst "fd00::1" is IPv6' \
	lookup proto udp src 10.1.0.1 dst fd00::1 dport 5060
fails "lookup: unknown keyword" 2 'unknown keyword "to": expected proto, src, dst, sport or dport' \
	lookup proto udp to 10.2.0.1
fails "monitor: extra argument" 2 'unexpected argument "all"' monitor all

# status: sipovld's control socket (one request line, one JSON document).
SIPOVLD_CTL_SOCK=$tmp/none fails "status: sipovld not running" 1 \
	"sipovld not running (cannot connect to $tmp/none: No such file or directory)" status
touch "$tmp/file"
SIPOVLD_CTL_SOCK=$tmp/file fails "status: path is not a socket" 1 \
	"sipovld not running (cannot connect to $tmp/file: Connection refused)" status
# A stand-in daemon that checks the request and answers like sipovld.
fake_daemon() { # fake_daemon SOCK REPLY [REQUEST]: serve one connection in the background
	rm -f "$tmp/fake.out" # the previous one's "ready" must not be taken for this one's
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
s.settimeout(60) # a client that never comes (a failed point) must not hang the wait after it
print("ready", flush=True)
c, _ = s.accept()
c.settimeout(60)
req = c.recv(100)
c.sendall(sys.argv[2].encode() if req == (sys.argv[3] + "\n").encode() else b"{\"error\": \"bad request\"}")
c.close()' "$1" "$2" "${3:-status}" >"$tmp/fake.out" &
	for _ in $(seq 50); do grep -q ready "$tmp/fake.out" 2>/dev/null && return; sleep 0.1; done
}
rm -f "$tmp/sock"
fake_daemon "$tmp/sock" '{"version":"0.1.0","pid":42,"services":[{"name":"sip","installed":true}],"counters":{"flows":3}}'
SIPOVLD_CTL_SOCK=$tmp/sock run status
if [ "$rc" = 0 ] && grep -qx 'pid: 42' <<<"$out" && grep -qx '    name: sip' <<<"$out" && grep -qx '  flows: 3' <<<"$out"; then
	ok "status: human form of the daemon's document"
else
	not_ok "status: human form of the daemon's document" "exit $rc" "stdout: $out" "stderr: $err"
fi
wait
rm -f "$tmp/sock"
fake_daemon "$tmp/sock" '{"version":"0.1.0","pid":42}'
SIPOVLD_CTL_SOCK=$tmp/sock run -j status
if [ "$rc" = 0 ] && [ "$(jq -r .pid <<<"$out")" = 42 ]; then
	ok "status -j: the daemon's JSON"
else
	not_ok "status -j: the daemon's JSON" "exit $rc" "stdout: $out" "stderr: $err"
fi
wait
rm -f "$tmp/sock"
fake_daemon "$tmp/sock" '{"error":"unknown request: expected status, flows or reload"}'
SIPOVLD_CTL_SOCK=$tmp/sock fails "status: the daemon's error is reported" 1 \
	"status: sipovld: unknown request: expected status, flows or reload" status
wait

# A stand-in daemon that takes the request and never answers: the client gives up after
# SIPOVLD_CTL_TIMEOUT seconds (default 10) with one line, instead of waiting for good.
mute_daemon() { # mute_daemon SOCK: accept one connection, read the request, hold it 30 s
	rm -f "$tmp/fake.out"
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
s.settimeout(60)
print("ready", flush=True)
c, _ = s.accept()
c.recv(100)
time.sleep(30)' "$1" >"$tmp/fake.out" &
	mute_pid=$!
	for _ in $(seq 50); do grep -q ready "$tmp/fake.out" 2>/dev/null && return; sleep 0.1; done
}
for req in status calls; do
	rm -f "$tmp/sock"
	mute_daemon "$tmp/sock"
	rc=0
	t0=$(date +%s%N)
	SIPOVLD_CTL_SOCK=$tmp/sock SIPOVLD_CTL_TIMEOUT=1 timeout 20 "$CTL" "$req" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	err=$(cat "$tmp/err")
	if [ "$rc" = 1 ] && [ "$err" = "sipovlctl: $req: sipovld did not answer on $tmp/sock within 1 s" ] &&
		[ ! -s "$tmp/out" ] && [ "$ms" -lt 10000 ]; then
		ok "$req: a daemon that never answers: one line after SIPOVLD_CTL_TIMEOUT ($ms ms)"
	else
		not_ok "$req: a daemon that never answers: one line after SIPOVLD_CTL_TIMEOUT" "exit $rc after $ms ms" \
			"stderr: $err" "stdout: $(head -c 200 "$tmp/out")"
	fi
	kill "$mute_pid" 2>/dev/null
	wait
done
SIPOVLD_CTL_SOCK=$tmp/sock SIPOVLD_CTL_TIMEOUT=1s fails "status: a bad SIPOVLD_CTL_TIMEOUT is named" 2 \
	'status: SIPOVLD_CTL_TIMEOUT must be a whole number of seconds from 1 to 3600: "1s"' status

# calls: the "calls" request; a table, -s with each call's streams, -j the document as it is
calls_doc='{"enabled":true,"calls":[{"id":7,"call_id":"1-4242@10.1.0.2","state":"confirmed","caller":"sipp@10.1.0.2:5061",
"callee":"service@10.2.0.2:5060","duration_s":12.5,"codec":"PCMU","streams":[{"side":"caller","media":"audio",
"rtp":"10.1.0.2:6000","rtcp":"10.1.0.2:6001","codec":"PCMU","direction":"sendrecv","hold":false},{"side":"callee",
"media":"audio","rtp":"10.2.0.2:6000","rtcp":"10.2.0.2:6001","codec":"PCMU","direction":"sendonly","hold":true}],
"media_flows":[{"media":"audio","caller_rtp":"10.1.0.2:6000","callee_rtp":"10.2.0.2:6000","rtp":{"flow":"intercept-udp",
"service":"site-b","local":"10.1.0.2:6000","remote":"10.2.0.2:6000","packets_to_ziti":250,"packets_from_ziti":248,
"quality":{"to_ziti":{"rtp":true,"packets":250,"lost":0,"loss_ratio":0,"jitter_ms":0.4,"mos":4.4,"codec":"PCMU"},
"from_ziti":{"rtp":true,"packets":248,"lost":2,"loss_ratio":0.008,"jitter_ms":1.25,"mos":4.1,"codec":"PCMU"}}}}]},
{"id":6,"call_id":"x-1","state":"ended","end_reason":"rejected","caller":"a@b","callee":"c@d","duration_s":0,"codec":"","streams":[],
"quality":{"caller_to_callee":{"rtp":true,"packets":100,"lost":1,"loss_ratio":0.01,"jitter_ms":2.5,"mos":4.2,"codec":"PCMU"},
"callee_to_caller":{"rtp":false,"packets":0,"lost":0,"loss_ratio":0,"jitter_ms":0,"mos":0,"codec":""}}},
{"id":5,"call_id":"av-1","state":"ended","end_reason":"bye-caller","caller":"a@b","callee":"c@d","duration_s":9,"codec":"PCMU","streams":[],
"quality":{"index":0,"media":"audio","caller_to_callee":{"rtp":true,"packets":300,"lost":0,"loss_ratio":0,"jitter_ms":0.5,"mos":4.4,"codec":"PCMU"},
"callee_to_caller":{"rtp":true,"packets":299,"lost":1,"loss_ratio":0.0033,"jitter_ms":0.7,"mos":4.3,"codec":"PCMU"}},
"media_quality":[{"index":0,"media":"audio","caller_to_callee":{"rtp":true,"packets":300,"lost":0,"loss_ratio":0,"jitter_ms":0.5,"mos":4.4,"codec":"PCMU"},
"callee_to_caller":{"rtp":true,"packets":299,"lost":1,"loss_ratio":0.0033,"jitter_ms":0.7,"mos":4.3,"codec":"PCMU"}},
{"index":1,"media":"video","caller_to_callee":{"rtp":true,"packets":180,"lost":20,"loss_ratio":0.1,"jitter_ms":3.3,"mos":0,"codec":"H264"},
"callee_to_caller":{"rtp":false,"packets":0,"lost":0,"loss_ratio":0,"jitter_ms":0,"mos":0,"codec":""}}]}],
"stats":{"messages":9,"malformed":1,"calls_active":1,"limit_hits":0,"calls_max":1024}}'
SIPOVLD_CTL_SOCK=$tmp/none fails "calls: sipovld not running" 1 \
	"calls: sipovld not running (cannot connect to $tmp/none: No such file or directory)" calls
rm -f "$tmp/sock"
fake_daemon "$tmp/sock" "$calls_doc" calls
SIPOVLD_CTL_SOCK=$tmp/sock run calls
if [ "$rc" = 0 ] && grep -Eq '^7 +confirmed +- +12\.5s PCMU +sipp@10\.1\.0\.2:5061 -> service@10\.2\.0\.2:5060 +1-4242@10\.1\.0\.2$' <<<"$out" &&
	grep -Eq '^6 +ended +rejected +0\.0s -' <<<"$out" && grep -q '^3 calls (1 active); 9 SIP messages, 1 malformed' <<<"$out" &&
	! grep -q 10.1.0.2:6000 <<<"$out"; then
	ok "calls: one line per call, then the counters"
else
	not_ok "calls: one line per call, then the counters" "exit $rc" "stdout: $out" "stderr: $err"
fi
wait
rm -f "$tmp/sock"
fake_daemon "$tmp/sock" "$calls_doc" calls
SIPOVLD_CTL_SOCK=$tmp/sock run -s calls
if [ "$rc" = 0 ] && grep -Eq '^ +caller +audio +10\.1\.0\.2:6000 +rtcp 10\.1\.0\.2:6001 +PCMU +sendrecv$' <<<"$out" &&
	grep -Eq '^ +callee +audio +10\.2\.0\.2:6000 +rtcp 10\.2\.0\.2:6001 +PCMU +sendonly hold$' <<<"$out" &&
	grep -Eq '^ +rtp +flow intercept-udp 10\.1\.0\.2:6000 <-> 10\.2\.0\.2:6000 \(site-b\): 250 packets to the overlay, 248 from it$' <<<"$out" &&
	grep -Eq "^ +rtcp +no flow steered between the two sides' addresses$" <<<"$out" &&
	grep -Eq '^ +to   10\.2\.0\.2:6000: 250 RTP packets, lost 0 \(0\.00 %\), jitter 0\.4 ms, MOS 4\.40$' <<<"$out" &&
	grep -Eq '^ +from 10\.1\.0\.2:6000: 248 RTP packets, lost 2 \(0\.80 %\), jitter 1\.2 ms, MOS 4\.10$' <<<"$out" &&
	grep -Eq '^ +final caller -> callee: 100 RTP packets, lost 1 \(1\.00 %\), jitter 2\.5 ms, MOS 4\.20$' <<<"$out" &&
	grep -Eq '^ +final callee -> caller: no RTP$' <<<"$out" &&
	grep -Eq '^ +final audio caller -> callee: 300 RTP packets, lost 0 \(0\.00 %\), jitter 0\.5 ms, MOS 4\.40$' <<<"$out" &&
	grep -Eq '^ +final audio callee -> caller: 299 RTP packets, lost 1 \(0\.33 %\), jitter 0\.7 ms, MOS 4\.30$' <<<"$out" &&
	grep -Eq '^ +final video caller -> callee: 180 RTP packets, lost 20 \(10\.00 %\), jitter 3\.3 ms$' <<<"$out" &&
	grep -Eq '^ +final video callee -> caller: no RTP$' <<<"$out" &&
	[ "$(grep -c ' final ' <<<"$out")" = 6 ]; then
	ok "calls -s: each call's streams and the flows steered for them, an ended call's final quality (of each media stream)"
else
	not_ok "calls -s: each call's streams and the flows steered for them" "exit $rc" "stdout: $out" "stderr: $err"
fi
wait
rm -f "$tmp/sock"
fake_daemon "$tmp/sock" "$calls_doc" calls
SIPOVLD_CTL_SOCK=$tmp/sock run -j calls
if [ "$rc" = 0 ] && [ "$(jq -r '.calls[0].streams[1].rtp' <<<"$out")" = 10.2.0.2:6000 ]; then
	ok "calls -j: the daemon's JSON"
else
	not_ok "calls -j: the daemon's JSON" "exit $rc" "stdout: $out" "stderr: $err"
fi
wait
rm -f "$tmp/sock"
fake_daemon "$tmp/sock" '{"enabled":false,"calls":[]}' calls
SIPOVLD_CTL_SOCK=$tmp/sock run calls
if [ "$rc" = 0 ] && [ "$out" = "the SIP view is off (calls_max 0 in sipovld.conf)" ]; then
	ok "calls: the SIP view turned off is said so"
else
	not_ok "calls: the SIP view turned off is said so" "exit $rc" "stdout: $out" "stderr: $err"
fi
wait

# ---- apply --------------------------------------------------------------------------
fails "apply: missing file" 2 "missing FILE (or - for standard input)" apply
fails "apply: no such file" 1 "cannot open \"$tmp/nope\": No such file or directory" apply "$tmp/nope"
fails "apply: two files" 2 "unexpected argument \"b\"" apply a b

cat >"$tmp/good.conf" <<'EOF'
# test table
sources 10.1.0.0/16

intercept sip-eu proto udp,tcp addr 10.2.0.0/16,fd00:2::/48 port 5060-5061 src 10.1.0.0/16
intercept rtp id 1 proto udp addr 10.3.0.0/16 port 10000-20000 policy pass
intercept "two words" proto tcp addr 192.0.2.1 port 443
EOF
succeeds "apply --check: valid file, no kernel needed" apply --check "$tmp/good.conf"
[ -z "$out" ] && ok "apply --check prints nothing without -j" || not_ok "apply --check prints nothing without -j" "$out"
run -j apply --check "$tmp/good.conf"
if [ $rc = 0 ] && jq -en 'input | length == 3 and .[0].name == "sip-eu" and .[0].id == 2 and
	.[0].protocols == ["tcp","udp"] and .[0].destinations == ["10.2.0.0/16","fd00:2::/48"] and
	.[0].ports == [{"low":5060,"high":5061}] and .[0].sources == ["10.1.0.0/16"] and
	.[0].policy == "drop" and .[1].id == 1 and .[1].policy == "pass" and
	.[2].name == "two words" and .[2].id == 3 and .[2].destinations == ["192.0.2.1/32"]' \
	<<<"$out" >/dev/null; then
	ok "apply --check -j: JSON parsed by jq, ids assigned"
else
	not_ok "apply --check -j: JSON parsed by jq, ids assigned" "exit $rc" "$out"
fi
printf 'intercept r proto tcp,udp addr 10.9.0.0/16 port 5060 policy reject\n' >"$tmp/reject.conf"
run -j apply --check "$tmp/reject.conf"
if [ $rc = 0 ] && jq -en 'input | length == 1 and .[0].policy == "reject"' <<<"$out" >/dev/null; then
	ok "apply --check -j: policy reject parsed and printed"
else
	not_ok "apply --check -j: policy reject parsed and printed" "exit $rc" "$out" "$err"
fi
run -j -p apply --check "$tmp/good.conf"
if [ $rc = 0 ] && python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d)==3 and d[2]["name"]=="two words"' <<<"$out" &&
	[ "$(wc -l <<<"$out")" -gt 10 ]; then
	ok "apply --check -j -p: pretty JSON parsed by python"
else
	not_ok "apply --check -j -p: pretty JSON parsed by python" "exit $rc" "$out"
fi
run -j apply --check /dev/null
if [ $rc = 0 ] && [ "$(jq -c . <<<"$out")" = "[]" ]; then ok "apply --check -j of an empty file: []"; else not_ok "apply --check -j of an empty file: []" "$out"; fi

rc=0; "$CTL" apply --check - <"$tmp/good.conf" >"$tmp/out" 2>"$tmp/err" || rc=$?
if [ $rc = 0 ] && [ ! -s "$tmp/err" ]; then ok "apply --check - reads stdin"; else not_ok "apply --check - reads stdin" "exit $rc: $(cat "$tmp/err")"; fi
rc=0; printf 'intercept a proto udp addr 10.0.0.0/8 port 1\nbogus\n' |
	"$CTL" apply --check - >"$tmp/out" 2>"$tmp/err" || rc=$?
if [ $rc = 2 ] && [ "$(cat "$tmp/err")" = 'sipovlctl: <stdin>:2: unknown keyword "bogus": expected intercept or sources' ]; then
	ok "apply --check -: errors name <stdin>:LINE"
else
	not_ok "apply --check -: errors name <stdin>:LINE" "exit $rc: $(cat "$tmp/err")"
fi

# bad_file NAME LINE-NUMBER MSG CONTENT: apply and apply --check both fail with FILE:LINE: MSG.
bad_file() {
	local name=$1 line=$2 msg=$3 f=$tmp/$1.conf
	printf '%s' "$4" >"$f"
	fails "apply --check: $name" 2 "$f:$line: $msg" apply --check "$f"
	fails "apply: $name (nothing sent)" 2 "$f:$line: $msg" apply "$f"
}
ok_line='intercept a proto udp addr 10.0.0.0/8 port 1'
bad_file bad-prefix 3 'bad prefix "10.2.0.0/33": prefix length must be 0-32' \
	"$ok_line"$'\n#\nintercept b proto udp addr 10.2.0.0/33 port 1\n'
bad_file host-bits 2 'bad prefix "10.2.0.1/16": host bits set (did you mean 10.2.0.0/16?)' \
	"$ok_line"$'\nintercept b proto udp addr 10.2.0.1/16 port 1\n'
bad_file low-high 1 'bad port range "7000-6000": low > high' \
	$'intercept b proto udp addr 10.2.0.0/16 port 7000-6000\n'
bad_file dup-id 2 'duplicate id 7 (also on line 1)' \
	$'intercept a id 7 proto udp addr 10.0.0.0/8 port 1\nintercept b id 7 proto udp addr 10.0.0.0/8 port 1\n'
bad_file dup-name 3 'duplicate name "a" (also on line 1)' \
	"$ok_line"$'\n\n'"$ok_line"$'\n'
bad_file unknown-keyword 1 'unknown keyword "prot": expected id, proto, addr, port, src or policy' \
	$'intercept a prot udp addr 10.0.0.0/8 port 1\n'
bad_file missing-value 1 'missing value after "policy"' \
	$'intercept a proto udp addr 10.0.0.0/8 port 1 policy\n'
bad_file bad-policy 2 'bad policy "bogus": expected drop, pass or reject' \
	"$ok_line"$'\nintercept b proto udp addr 10.2.0.0/16 port 1 policy bogus\n'
bad_file long-name 1 "bad name \"$long\": longer than 63 bytes" \
	"intercept $long proto udp addr 10.0.0.0/8 port 1"$'\n'
bad_file unknown-line 2 'unknown keyword "intercepts": expected intercept or sources' \
	"$ok_line"$'\nintercepts x\n'
bad_file two-sources 2 'second "sources" line (first on line 1)' \
	$'sources none\nsources 10.0.0.0/8\n'
bad_file quote 1 'unterminated quoted string' $'intercept "a proto udp\n'

# 100k intercepts: --check parses them quickly.
awk 'BEGIN { for (i = 0; i < 100000; i++)
	printf "intercept svc-%d id %d proto udp addr 10.%d.%d.0/24 port %d\n", i, i + 1, int(i / 256) % 256, i % 256, 1000 + i % 60000 }' >"$tmp/big.conf"
t0=$(date +%s%N)
rc=0; "${SIPOVLCTL:-$O/sipovlctl}" apply --check "$tmp/big.conf" 2>"$tmp/err" || rc=$?
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
if [ $rc = 0 ] && [ ! -s "$tmp/err" ]; then
	ok "apply --check of 100k intercepts (${ms} ms, optimized build)"
else
	not_ok "apply --check of 100k intercepts" "exit $rc: $(cat "$tmp/err")"
fi
run -j apply --check "$tmp/big.conf"
if [ $rc = 0 ] && [ "$(jq 'length' <<<"$out")" = 100000 ] &&
	[ "$(jq -r '.[54321] | "\(.id) \(.name) \(.destinations[0]) \(.ports[0].low)"' <<<"$out")" = "54322 svc-54321 10.212.49.0/24 55321" ]; then
	ok "apply --check -j of 100k intercepts: count and spot check (ASan build)"
else
	not_ok "apply --check -j of 100k intercepts" "exit $rc: ${err:0:200}"
fi

# ---- module absent (host kernels do not have it) ------------------------------------------
if [ ! -e /sys/module/sipovl ] && ! grep -qw sipovl /proc/net/netlink 2>/dev/null; then
	fails "module not loaded: one clear line" 1 "sipovl module not loaded (modprobe sipovl)" intercept show
	fails "module not loaded: apply of a valid file" 1 "sipovl module not loaded (modprobe sipovl)" apply "$tmp/good.conf"
else
	diag "sipovl is loaded on this host: module-absent checks run in the VM selftest"
fi

# ---- man page and completion ------------------------------------------------------------------
man8=$TOP/Documentation/sipovlctl.8
if [ -f "$man8" ]; then
	warn=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$man8" 2>&1)
	if [ -z "$warn" ]; then ok "man page renders without groff warnings"; else not_ok "man page renders without groff warnings" "$warn"; fi
	text=$(LC_ALL=C groff -man -Tascii -P-c -P-b -P-u "$man8" 2>/dev/null)
	missing=()
	for w in intercept apply stats sources socket config lookup monitor status replace flush "drop|pass|reject" --check \
		--json --pretty --stats --netns --version "module not loaded" CAP_NET_ADMIN "EXIT STATUS"; do
		grep -q -- "$w" <<<"$text" || missing+=("$w")
	done
	if [ ${#missing[@]} = 0 ]; then ok "man page covers every object, command and option"; else not_ok "man page covers every object, command and option" "missing: ${missing[*]}"; fi
else
	not_ok "man page exists" "$man8"
fi

comp=$TOP/ctl/sipovlctl.bash-completion
if [ -f "$comp" ]; then
	# complete WORDS...: prints the completions for the last word.
	complete_words() {
		bash -c '
			source "$1"; shift
			COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
			COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
			_sipovlctl sipovlctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
			printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@" 2>&1
	}
	c1=$(complete_words sipovlctl in | sort | tr '\n' ' ')
	c2=$(complete_words sipovlctl intercept "" | sort | tr '\n' ' ')
	c3=$(complete_words sipovlctl intercept add x proto "" | sort | tr '\n' ' ')
	c4=$(complete_words sipovlctl -j intercept add x "" | sort | tr '\n' ' ')
	c5=$(complete_words sipovlctl intercept add x proto udp "" | sort | tr '\n' ' ')
	c6=$(complete_words sipovlctl lookup proto udp "" | sort | tr '\n' ' ')
	c7=$(complete_words sipovlctl intercept add x policy "" | sort | tr '\n' ' ')
	if [ "$c1" = "intercept " ] && [ "$c2" = "add del flush replace show " ] &&
		[ "$c3" = "tcp tcp,udp udp " ] && [[ $c4 == *"addr "*"proto "* ]] &&
		[[ $c5 != *"proto "* ]] && [[ $c5 == *"port "* ]] && [ "$c6" = "dport dst sport src " ] &&
		[ "$c7" = "drop pass reject " ]; then
		ok "bash completion: objects, commands, keywords, values"
	else
		not_ok "bash completion: objects, commands, keywords, values" "in: '$c1'" "intercept: '$c2'" \
			"proto: '$c3'" "keywords: '$c4'" "after proto: '$c5'" "lookup: '$c6'" "policy: '$c7'"
	fi
else
	not_ok "bash completion exists" "$comp"
fi

# ---- fuzzing (short) --------------------------------------------------------------------------
if [ -x "$FUZZ" ] && [ "${CTL_FUZZ_SECONDS:-20}" -gt 0 ]; then
	mkdir -p "$tmp/corpus"
	cp "$TOP"/tests/ctl/corpus/* "$tmp/corpus/" 2>/dev/null
	rc=0
	"$FUZZ" -max_total_time="${CTL_FUZZ_SECONDS:-20}" -max_len=4096 -timeout=10 -artifact_prefix="$O/fuzz/ctl-" \
		"$tmp/corpus" >"$tmp/fuzz.log" 2>&1 || rc=$?
	if [ $rc = 0 ]; then
		ok "fuzz: config parser, canonical round trip (${CTL_FUZZ_SECONDS:-20} s, $(grep -o 'Done [0-9]* runs' "$tmp/fuzz.log" | head -1))"
	elif [ $rc = 77 ]; then
		ok "fuzz: # SKIP clang not installed"
	else
		not_ok "fuzz: config parser (exit $rc)" "$(tail -20 "$tmp/fuzz.log")"
	fi
fi

echo "1..$n"
[ $failed = 0 ] || diag "$failed of $n failed"
[ $failed = 0 ]
