#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Native OpenZiti edge client tests (TAP version 13). Exit 0 all pass, 1 any failure,
# 4 whole suite skipped.
#
#   unit tests (codec, dispatcher, identity validation), a bounded libFuzzer run of the
#   message parser, then against a real quickstart network (tests/ziti/zitinet.sh):
#   interop with `ziti tunnel host` / `ziti tunnel proxy` (stream + datagram, encrypted +
#   not), our client to our client (1 MB, 100 MB, 1000 concurrent connections), bad input,
#   faults with recovery bounds, name resolution (slow/silent resolver with a live datagram
#   flow, every address tried, TTL cache: tests/ziti/dns.sh), two routers (selection, failover
#   of live UDP flows, terminators on both: tests/ziti/routers.sh), RTP latency next to a bulk
#   transfer on one channel (tests/ziti/rtp.sh), RTP across re-authentication
#   (tests/ziti/reauth.sh), the source map, posture checks and the ip-pool server of sipovld
#   (tests/ziti/auth.sh), sipovld in endpoint mode (tests/ziti/endpoint.sh), sipovld's DNS
#   responder (tests/ziti/dnsresp.sh), the hosting precedence following primary_address
#   (tests/ziti/primary.sh), ASan/UBSan on every zt-tool
#   process, valgrind on two runs.
#
# Environment: O=build dir (default ./build), ZT_FUZZ_SECONDS (default 20),
# ZT_KEEP=1 keeps the work directory.
set -u
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
B=${O:-$TOP/build}
SAN=$B/san/zt-tool
FAST=$B/zt-tool
UNIT=$B/san/zt-unit
FUZZ=$B/fuzz/zt-fuzz
FUZZ_SECONDS=${ZT_FUZZ_SECONDS:-20}

# recovery bounds (ms) stated in Documentation/ziti-client.md
BOUND_ROUTER=15000
BOUND_CTRL=30000
BOUND_APISESS=15000
BOUND_READD=15000
BOUND_EXPIRE=15000

# shellcheck source=tests/ziti/lib.sh
. "$TOP/tests/ziti/lib.sh"
zt_need "$SAN" "$FAST" "$UNIT" "$FUZZ"
zt_workdir zt-test

# ---------------------------------------------------------------- unit + fuzz
mkdir -p "$W/corpus"
ZT_CORPUS="$W/corpus" "$UNIT" > "$W/unit.out" 2> "$W/unit.err"
urc=$?
while read -r st rest; do
	case "$st" in
	ok) ok "unit: ${rest#- }" ;;
	not) notok "unit: ${rest#ok - }" ;;
	esac
done < "$W/unit.out"
if [ $urc -ne 0 ] && ! grep -q '^not ok' "$W/unit.out"; then
	notok "unit: test binary exited $urc"; diag < "$W/unit.err"
fi
if "$FUZZ" -print_final_stats=1 -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$B/fuzz/zt-" "$W/corpus" > "$W/fuzz.log" 2>&1; then
	ok "fuzz: channel/edge parser, ${FUZZ_SECONDS}s, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$W/fuzz.log" | grep -o '[0-9]*$') inputs, no crash"
else
	notok "fuzz: channel/edge parser crashed or failed"; tail -30 "$W/fuzz.log" | diag
fi

# ---------------------------------------------------------------- network
if ! ZITI=$("$ZN" bin 2> "$W/zitibin.log"); then
	reason="no ziti test peer: $(tail -1 "$W/zitibin.log")"
	for t in interop ours faults bad-input valgrind; do skip "network tests ($t)" "$reason"; done
	zt_plan
fi
t_net=$(now_ms)
if ! "$ZN" start "$NET" > "$W/zitinet.log" 2>&1; then
	notok "test network: zitinet.sh start"; tail -20 "$W/zitinet.log" | diag
	zt_plan
fi
# shellcheck disable=SC1091
. "$NET/env"
ok "test network up: quickstart controller $ZN_CTRL_ADDR + router $ZN_ROUTER_ADDR ($(( $(now_ms) - t_net )) ms, $(basename "$(dirname "$ZITI")"))"
ID=$NET
zt_env() { HOME="$NET/home" "$@"; }

# background actors
bg "$W/echo.log" python3 "$ECHO" serve "$ZN_TCP_ECHO_PORT" "$ZN_UDP_ECHO_PORT"
ECHO_PID=$BGPID
bg "$W/gohost.log" setsid env HOME="$NET/home" "$ZITI" tunnel host -i "$ID/go-host.json" --cli-agent=false
GOHOST_PID=$BGPID
PORTS=""
for _ in 0 1 2 3; do PORTS="$PORTS $(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"; done
read -r PT_E2E PT_PLAIN PU_E2E PU_PLAIN <<< "$PORTS"
bg "$W/goproxy.log" setsid env HOME="$NET/home" "$ZITI" tunnel proxy -i "$ID/go-client.json" --cli-agent=false \
	"zt-e2e:$PT_E2E" "zt-plain:$PT_PLAIN" "zt-udp-e2e:$PU_E2E:udp" "zt-udp-plain:$PU_PLAIN:udp"
GOPROXY_PID=$BGPID
bg "$W/host.log" "$SAN" host -i "$ID/zt-host.json" -v --poll-ms 1000 --ready-file "$W/host.ready" \
	-s zt-e2e,zt-plain,zt-udp-e2e:udp,zt-udp-plain:udp,zt-fault,zt-readd,zt-expire
HOST_PID=$BGPID
bg "$W/addr.log" "$SAN" host -i "$ID/zt-host.json" -s zt-addr --terminator-identity phone-1 --cost 10 \
	--precedence 1 --ready-file "$W/addr.ready"
ADDR_PID=$BGPID
bg "$W/sink.log" "$FAST" host -i "$ID/zt-host.json" -s zt-sink --mode sink --ready-file "$W/sink.ready"
SINK_PID=$BGPID

# API session expiry scenario runs in the background from the start (needs > 1 min):
# a dialer that has not touched any router yet is suspended (SIGSTOP) so that nothing
# refreshes its API session; the controller's 1-minute timeout removes it.
: > "$W/expire.log"
bg "$W/expire.err" "$SAN" probe -i "$ID/zt-client.json" -s zt-expire -v --start-delay-ms 3600000 \
	--interval-ms 500 --log "$W/expire.log" --session-file "$W/expire.session"
EXP_PID=$BGPID
for _ in $(seq 1 100); do [ -s "$W/expire.session" ] && break; sleep 0.1; done
kill -STOP "$EXP_PID"
t_stop=$(now_ms)
EXP_SESSION=$(cat "$W/expire.session" 2>/dev/null)

if wait_file "$W/host.ready" 120 && wait_file "$W/sink.ready" 60 && wait_file "$W/addr.ready" 60; then
	ok "our hosts bound 9 services (terminators established, BindSuccess)"
else
	notok "our host bound its services"; tail -20 "$W/host.log" | diag
fi
# Go host: its terminators for the go-* services
go_ready=
for _ in $(seq 1 80); do
	c=$(cli edge list terminators 'service.name contains "go-"' -j 2>/dev/null | grep -c '"binding": *"edge"' || true)
	[ "${c:-0}" -ge 4 ] && { go_ready=1; break; }
	sleep 0.25
done
[ -n "$go_ready" ] && ok "ziti tunnel host: 4 terminators established" ||
	{ notok "ziti tunnel host: terminators"; tail -20 "$W/gohost.log" | diag; }

# ---------------------------------------------------------------- 1. interop with the Go tunneler
# ziti tunnel host ends a connection either with a FIN or by closing it once the local
# socket is done: after the full byte-exact echo both count (--accept-close); our own host
# must send the FIN (the "ours:" tests below do not pass --accept-close).
for s in go-tcp-e2e go-tcp-plain; do
	check "interop: our dial -> ziti tunnel host, $s (TCP, 1 MB echo byte-exact, our FIN, ASan)" \
		"$SAN" dial -i "$ID/zt-client.json" -s "$s" --bytes 1000000 --timeout-ms 30000 --accept-close
done
for s in go-udp-e2e go-udp-plain; do
	check "interop: our dial -> ziti tunnel host, $s (UDP, 50 datagrams of 1000 B, each echoed intact, ASan)" \
		"$SAN" dial -i "$ID/zt-client.json" -s "$s" --udp --count 50 --size 1000 --timeout-ms 30000
done
check "interop: ziti tunnel proxy -> our host, zt-e2e (TCP, encrypted, 1 MB echo byte-exact)" \
	python3 "$ECHO" tcp "$PT_E2E" 1000000 1
check "interop: ziti tunnel proxy -> our host, zt-plain (TCP, unencrypted, 1 MB echo byte-exact)" \
	python3 "$ECHO" tcp "$PT_PLAIN" 1000000 2
check "interop: ziti tunnel proxy -> our host, zt-udp-e2e (UDP, encrypted, 50 datagrams exactly once)" \
	python3 "$ECHO" udp "$PU_E2E" 50 1000
check "interop: ziti tunnel proxy -> our host, zt-udp-plain (UDP, unencrypted, 50 datagrams exactly once)" \
	python3 "$ECHO" udp "$PU_PLAIN" 50 1000
if grep -q "app_data={\"dst_ip\"" "$W/host.log" && grep -q "from 'go-client'" "$W/host.log"; then
	ok "interop: host saw the Go dialer's caller id and app_data"
else
	notok "interop: host saw caller id and app_data"
fi

# ---------------------------------------------------------------- 2. ours <-> ours
check "ours: zt-e2e 1 MB echo byte-exact (encrypted, ASan)" \
	"$SAN" dial -i "$ID/zt-client.json" -s zt-e2e --bytes 1000000 --timeout-ms 30000
check "ours: zt-plain 1 MB echo byte-exact (unencrypted, ASan)" \
	"$SAN" dial -i "$ID/zt-client.json" -s zt-plain --bytes 1000000 --timeout-ms 30000
if grep -q "from 'zt-client'" "$W/host.log"; then
	ok "ours: the host saw our dialer's caller id (its identity name at the controller)"
else
	notok "ours: the host saw our dialer's caller id"; grep "host: accepted" "$W/host.log" | tail -3 | diag
fi
check "ours: zt-udp-e2e 200 datagrams of 1200 B (one message per datagram, ASan)" \
	"$SAN" dial -i "$ID/zt-client.json" -s zt-udp-e2e --udp --count 200 --size 1200 --timeout-ms 30000
t=$(now_ms)
if "$FAST" dial -i "$ID/zt-client.json" -s zt-sink --mode sink --bytes 100000000 --timeout-ms 120000 > "$W/last.out" 2>&1; then
	ok "ours: zt-sink 100 MB, SHA-256 at the host equals the sender's ($(( $(now_ms) - t )) ms; $(grep -o '[0-9.]* MB/s' "$W/last.out"))"
else
	notok "ours: 100 MB transfer"; tail -10 "$W/last.out" | diag
fi
t=$(now_ms)
if "$FAST" dial -i "$ID/zt-client.json" -s zt-e2e --conns 1000 --hold --bytes 2000 --timeout-ms 120000 > "$W/last.out" 2>&1 &&
	grep -q "1000 conns, 0 failed" "$W/last.out" && grep -q "max open 1000" "$W/last.out"; then
	ok "ours: 1000 concurrent connections all open at once, 2000 B echoed on each ($(( $(now_ms) - t )) ms)"
else
	notok "ours: 1000 concurrent connections"; tail -10 "$W/last.out" | diag
fi

# addressable terminator (the SIP use: dial a specific phone's terminator), cost, precedence
check "ours: dial with terminator identity phone-1 reaches the host bound as phone-1 (10 KB echo)" \
	"$SAN" dial -i "$ID/zt-client.json" -s zt-addr --terminator-identity phone-1 --bytes 10000 --timeout-ms 20000
expect_fail_early() { # desc pattern cmd...
	local d=$1 pat=$2; shift 2
	"$@" > "$W/last.out" 2>&1
	local rc=$?
	if [ $rc -eq 1 ] && grep -q -E "$pat" "$W/last.out" && san_clean "$W/last.out"; then
		ok "$d: $(grep -E -o "$pat.{0,70}" "$W/last.out" | head -1)"
	else
		notok "$d (exit $rc)"; tail -8 "$W/last.out" | diag
	fi
}
expect_fail_early "ours: dial with terminator identity phone-2 (nobody) fails with the router's reason" \
	"refused by network" "$SAN" dial -i "$ID/zt-client.json" -s zt-addr --terminator-identity phone-2 --timeout-ms 20000
if cli edge list terminators 'service.name="zt-addr"' -j > "$W/term.json" 2>&1 &&
	python3 - "$W/term.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["data"]
t = [x for x in d if x.get("identity") == "phone-1"]
sys.exit(0 if len(t) == 1 and t[0].get("cost") == 10 and t[0].get("precedence") == "required" else 1)
PY
then
	ok "ours: the controller lists the terminator with identity phone-1, cost 10, precedence required"
else
	notok "ours: terminator identity/cost/precedence at the controller"; head -c 1500 "$W/term.json" | diag
fi

# ---------------------------------------------------------------- OIDC
# The controller advertises OIDC_AUTH. A host (--auth oidc) and a dialer (--auth auto: OIDC
# because the controller offers it) both authenticate with OIDC (the certificate login of the
# edge-oidc API) and dial with JWT sessions; a paced datagram stream
# (RTP-like: one every 20 ms for 8 s) runs across several token refreshes on both sides, each
# new access token pushed to the router in place (UpdateToken). v1.6.0's access tokens live
# 30 min (edge.oidc.accessTokenDuration arrived later), so the clients refresh every 1.5 s
# (--token-refresh-ms). Nothing may be lost and no router channel may drop.
rm -f "$W/oidc.ready"
bg "$W/oidchost.log" "$SAN" host -i "$ID/zt-host.json" -v --auth oidc --token-refresh-ms 1500 -s zt-addr:udp \
	--terminator-identity oidc-1 --ready-file "$W/oidc.ready"
OIDC_HOST=$BGPID
for _ in $(seq 1 240); do [ -f "$W/oidc.ready" ] && break; sleep 0.25; done
"$SAN" dial -i "$ID/zt-client.json" -s zt-addr --terminator-identity oidc-1 --udp --count 400 --size 200 \
	--pace-ms 20 --auth auto --token-refresh-ms 1500 -v --timeout-ms 60000 > "$W/oidcdial.log" 2>&1
orc=$?
kill -TERM "$OIDC_HOST" 2>/dev/null
wait "$OIDC_HOST" 2>/dev/null
dref=$(grep -o -E '^auth: oidc, [0-9]+ token refreshes' "$W/oidcdial.log" | grep -o -E '[0-9]+')
href=$(grep -c 'OIDC access token refreshed' "$W/oidchost.log")
if [ $orc -eq 0 ] && grep -q -E 'authenticated: api session .*\(OIDC\)' "$W/oidcdial.log" &&
	grep -q -E 'authenticated: api session .*\(OIDC\)' "$W/oidchost.log" &&
	grep -q -E 'paced 20 ms: .*, 0 lost' "$W/oidcdial.log" && [ "${dref:-0}" -ge 3 ] && [ "$href" -ge 3 ] &&
	! grep -q -E 'refused the refreshed token|router connection lost|FAILED' "$W/oidcdial.log" "$W/oidchost.log" &&
	san_clean "$W/oidcdial.log" && san_clean "$W/oidchost.log"; then
	ok "oidc: host and dialer on OIDC, 400 paced datagrams across $dref (dialer) and $href (host) token refreshes pushed to the router: $(grep -o -E 'latency max [0-9]+ ms.*lost' "$W/oidcdial.log")"
else
	notok "oidc: paced stream across token refreshes (exit $orc, refreshes dialer=${dref:-?} host=$href)"
	grep -v 'service added' "$W/oidcdial.log" | tail -8 | diag; grep -E 'WARN|ERR|refresh' "$W/oidchost.log" | tail -5 | diag
fi

# ---------------------------------------------------------------- 5. valgrind (plain build)
if command -v valgrind > /dev/null; then
	VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect"
	check "valgrind: our dial -> ziti tunnel host go-tcp-e2e 200 KB, no errors, no leaks" \
		$VG "$FAST" dial -i "$ID/zt-client.json" -s go-tcp-e2e --bytes 200000 --timeout-ms 60000 --accept-close
	check "valgrind: our dial -> our host zt-udp-e2e 20 datagrams, no errors, no leaks" \
		$VG "$FAST" dial -i "$ID/zt-client.json" -s zt-udp-e2e --udp --count 20 --size 800 --timeout-ms 60000
else
	skip "valgrind runs" "valgrind not installed"
fi

# ---------------------------------------------------------------- 4. bad input
badid() { # name python-expression-on-j
	python3 - "$ID/zt-client.json" "$W/$1.json" "$2" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(j, open(sys.argv[2], "w"))
PY
}
expect_fail() { # desc pattern cmd...
	local d=$1 pat=$2; shift 2
	"$@" > "$W/last.out" 2>&1
	local rc=$?
	if [ $rc -eq 1 ] && grep -q -E "$pat" "$W/last.out" && san_clean "$W/last.out"; then
		ok "$d: $(grep -E -o "$pat.{0,60}" "$W/last.out" | head -1)"
	else
		notok "$d (exit $rc)"; tail -8 "$W/last.out" | diag
	fi
}
badid nokey 'del j["id"]["key"]'
expect_fail "bad input: identity without id.key" "missing field 'id.key'" "$SAN" services -i "$W/nokey.json"
badid noapi 'del j["ztAPI"]; j.pop("ztAPIs", None)'
expect_fail "bad input: identity without ztAPI" "missing field 'ztAPI'" "$SAN" services -i "$W/noapi.json"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/other-ca.key" -subj /CN=other-ca -days 2 \
	-out "$W/other-ca.pem" > /dev/null 2>&1
badid wrongca "j['id']['ca'] = 'pem:' + open('$W/other-ca.pem').read()"
expect_fail "bad input: wrong CA bundle" "certificate verification failed" "$SAN" services -i "$W/wrongca.json"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/foreign.key" \
	-subj /CN=foreign -days 2 -out "$W/foreign.pem" > /dev/null 2>&1
badid foreign "j['id']['cert'] = 'pem:' + open('$W/foreign.pem').read(); j['id']['key'] = 'file://$W/foreign.key'"
expect_fail "bad input: foreign certificate (not issued by this network)" "authenticate: HTTP 401|TLS" \
	"$SAN" services -i "$W/foreign.json"
SIGNER_CERT=$(sed -n 's/^ *cert: *\(.*intermediate.*\.cert\) *$/\1/p' "$NET/qs/ctrl.yaml" | head -1)
SIGNER_KEY=$(sed -n 's/^ *key: *\(.*intermediate.*\.key\) *$/\1/p' "$NET/qs/ctrl.yaml" | head -1)
mkdir -p "$W/ca"; : > "$W/ca/index.txt"; echo 01 > "$W/ca/serial"
cat > "$W/ca/ca.cnf" <<EOF
[ ca ]
default_ca = x
[ x ]
database = $W/ca/index.txt
new_certs_dir = $W/ca
serial = $W/ca/serial
default_md = sha256
policy = p
[ p ]
commonName = supplied
EOF
if openssl req -new -newkey rsa:2048 -nodes -keyout "$W/expired.key" -subj /CN=expired -out "$W/expired.csr" > /dev/null 2>&1 &&
	openssl ca -batch -config "$W/ca/ca.cnf" -cert "$SIGNER_CERT" -keyfile "$SIGNER_KEY" -in "$W/expired.csr" \
		-out "$W/expired.pem" -startdate 20200101000000Z -enddate 20200102000000Z -notext > "$W/ca.log" 2>&1; then
	badid expired "j['id']['cert'] = 'pem:' + open('$W/expired.pem').read(); j['id']['key'] = 'pem:' + open('$W/expired.key').read()"
	expect_fail "bad input: expired certificate (issued by the network's signer)" "certificate expired" \
		"$SAN" services -i "$W/expired.json"
else
	notok "bad input: could not mint an expired certificate"; diag < "$W/ca.log"
fi
expect_fail "bad input: dial an unknown service" "service 'no-such-service' not found" \
	"$SAN" dial -i "$ID/zt-client.json" -s no-such-service --timeout-ms 20000
expect_fail "bad input: dial a service nobody hosts" "no terminators|refused by network" \
	"$SAN" dial -i "$ID/zt-client.json" -s zt-nohost --timeout-ms 20000
expect_fail "bad input: identity without access dials a service" "not found \(unknown, or not visible" \
	"$SAN" dial -i "$ID/zt-other.json" -s zt-e2e --timeout-ms 20000

# ---------------------------------------------------------------- 3. faults
# long-lived dialers probing every 200 ms; recovery = first success after the fault ended
: > "$W/pfault.log"; : > "$W/preadd.log"
bg "$W/pfault.err" "$SAN" probe -i "$ID/zt-client.json" -s zt-fault -v --poll-ms 1000 --interval-ms 200 --log "$W/pfault.log"
PFAULT_PID=$BGPID
bg "$W/preadd.err" "$SAN" probe -i "$ID/zt-client.json" -s zt-readd -v --poll-ms 1000 --interval-ms 200 \
	--log "$W/preadd.log" --session-file "$W/preadd.session"
PREADD_PID=$BGPID
sleep 1
if [ -n "$(wait_ok_after "$W/pfault.log" 0 10000)" ]; then ok "faults: probe dialer working before faults"; else
	notok "faults: probe dialer working before faults"; tail -5 "$W/pfault.err" | diag; fi

fault_check() { # desc bound t_back log
	local r
	r=$(wait_ok_after "$4" "$3" "$2")
	if [ -n "$r" ] && [ "$r" -le "$2" ]; then
		ok "$1: new dials work again ${r} ms after recovery (bound $2 ms)"
	else
		notok "$1: no successful dial within $2 ms (got '${r}')"; tail -5 "$4" | diag
	fi
}
t0=$(now_ms)
"$ZN" restart-router "$NET" 1 > "$W/restart.log" 2>&1
t1=$(now_ms)
awk -v t="$t0" '$1=="fail" && $2>t' "$W/pfault.log" | grep -q . && ok "faults: router restart broke dials (fault was real)" ||
	notok "faults: router restart broke dials"
fault_check "faults: router restart" $BOUND_ROUTER "$t1" "$W/pfault.log"
t0=$(now_ms)
"$ZN" restart-controller "$NET" 2 > "$W/restart.log" 2>&1
t1=$(now_ms)
fault_check "faults: controller restart (down ~2 s)" $BOUND_CTRL "$t1" "$W/pfault.log"
# API session removed by the controller (what its expiry enforcer does)
S=$(cat "$W/preadd.session" 2>/dev/null)
t0=$(now_ms)
if [ -n "$S" ] && cli edge delete api-session "$S" > "$W/last.out" 2>&1; then
	# recovery counts from the deletion to the first good dial after re-authentication
	ta=
	for _ in $(seq 1 $(( BOUND_APISESS / 250 ))); do
		ta=$(awk -v t="$t0" '$1=="log" && $2>t && /authenticated: api session/ {print $2; exit}' "$W/preadd.log")
		[ -n "$ta" ] && break
		sleep 0.25
	done
	if [ -n "$ta" ]; then
		ok "faults: dialer noticed its API session was deleted, re-authenticated after $((ta - t0)) ms"
		r=$(wait_ok_after "$W/preadd.log" "$ta" "$BOUND_APISESS")
		if [ -n "$r" ] && [ $((ta - t0 + r)) -le $BOUND_APISESS ]; then
			ok "faults: API session deleted at the controller: new dials work $((ta - t0 + r)) ms after the deletion (bound $BOUND_APISESS ms)"
		else
			notok "faults: API session deleted: no good dial within $BOUND_APISESS ms"; tail -5 "$W/preadd.log" | diag
		fi
	else
		notok "faults: dialer did not re-authenticate within $BOUND_APISESS ms after its API session was deleted"
		skip "faults: API session deletion recovery" "no re-authentication (previous test failed)"
	fi
else
	notok "faults: delete API session '$S'"; diag < "$W/last.out"
fi
# service removed and re-added (new id; policies match by attribute)
t0=$(now_ms)
cli edge delete service zt-readd > "$W/last.out" 2>&1
gone=
for _ in $(seq 1 40); do
	awk -v t="$t0" '$1=="fail" && $2>t' "$W/preadd.log" | grep -q . && { gone=1; break; }
	sleep 0.25
done
[ -n "$gone" ] && ok "faults: service removed -> dials fail ($(awk -v t="$t0" '$1=="fail" && $2>t {$1=$2=""; print; exit}' "$W/preadd.log"))" ||
	notok "faults: service removal not observed"
sleep 1
cli edge create service zt-readd -e ON -a zt-hosted > "$W/last.out" 2>&1
t1=$(now_ms)
fault_check "faults: service re-added (new service id; host re-binds, dialer re-resolves)" $BOUND_READD "$t1" "$W/preadd.log"

# expiry: wait until the suspended dialer's API session was removed by the controller
gone=
t_end=$(( t_stop + 100000 )); [ $t_end -lt $(( $(now_ms) + 10000 )) ] && t_end=$(( $(now_ms) + 10000 ))
while [ "$(now_ms)" -lt $t_end ]; do
	if [ $(( $(now_ms) - t_stop )) -gt 60000 ] &&
		! cli edge list api-sessions "id=\"$EXP_SESSION\"" 2>/dev/null | grep -q "$EXP_SESSION"; then
		gone=1; break
	fi
	sleep 2
done
if [ -n "$gone" ] && [ -n "$EXP_SESSION" ]; then
	ok "faults: suspended client's API session expired at the controller after $(( ($(now_ms) - t_stop) / 1000 )) s (timeout $ZN_SESSION_TIMEOUT)"
else
	notok "faults: API session $EXP_SESSION did not expire"
fi
kill -CONT "$EXP_PID"
kill -USR1 "$EXP_PID" # first dial now
t1=$(now_ms)
fault_check "faults: API session expiry (client suspended past the timeout, resumed, dials)" $BOUND_EXPIRE "$t1" "$W/expire.log"
awk -v t="$t1" '$1=="log" && $2>=t-1000 && /authenticated: api session/' "$W/expire.log" | grep -q . &&
	ok "faults: resumed client noticed the expiry and re-authenticated" ||
	{ notok "faults: resumed client re-authenticated"; tail -5 "$W/expire.err" | diag; }

check "after all faults: ziti tunnel proxy -> our long-lived host (zt-e2e, 100 KB echo)" \
	python3 "$ECHO" tcp "$PT_E2E" 100000 3
# the Go tunneler re-creates its own terminators after the faults at its own pace: wait
for _ in $(seq 1 120); do
	c=$(cli edge list terminators 'service.name contains "go-"' -j 2>/dev/null | grep -c '"binding": *"edge"' || true)
	[ "${c:-0}" -ge 4 ] && break
	sleep 0.25
done
check "after all faults: our dial -> ziti tunnel host (go-tcp-e2e, 100 KB echo, ASan)" \
	"$SAN" dial -i "$ID/zt-client.json" -s go-tcp-e2e --bytes 100000 --timeout-ms 30000 --accept-close

# ---------------------------------------------------------------- name resolution (tests/ziti/dns.sh)
# a slow, silent or multi-address resolver for a client that names the controller by host name
# shellcheck source=tests/ziti/dns.sh
. "$TOP/tests/ziti/dns.sh"
dns_tests

# ---------------------------------------------------------------- two routers (tests/ziti/routers.sh)
# router selection, dead-router detection, terminators on every router, live UDP failover
# shellcheck source=tests/ziti/routers.sh
. "$TOP/tests/ziti/routers.sh"
routers_tests

# ---------------------------------------------------------------- re-authentication (tests/ziti/reauth.sh)
# a call's RTP through sipovld across OIDC token refreshes and legacy re-authentications
# shellcheck source=tests/ziti/reauth.sh
. "$TOP/tests/ziti/reauth.sh"
reauth_tests

# ---------------------------------------------------------------- fault soak, short (tests/ziti/soak.sh)
# calls through a controller restart, a slow resolver, a certificate renewal and a
# re-authentication (make soak: more faults, rounds; Documentation/testing.md "Fault soak")
# shellcheck source=tests/ziti/soak.sh
. "$TOP/tests/ziti/soak.sh"
soak_tests

# ---------------------------------------------------------------- RTP next to bulk data (tests/ziti/rtp.sh)
# shellcheck source=tests/ziti/rtp.sh
. "$TOP/tests/ziti/rtp.sh"
rtp_tests

# ---------------------------------------------------------------- RTP quality under impairment (tests/ziti/rtpq.sh)
# shellcheck source=tests/ziti/rtpq.sh
. "$TOP/tests/ziti/rtpq.sh"
rtpq_tests

# ---------------------------------------------------------------- primary_address (tests/ziti/primary.sh)
# shellcheck source=tests/ziti/primary.sh
. "$TOP/tests/ziti/primary.sh"
primary_tests

# ---------------------------------------------------------------- sipovld without the kernel module
# The identity file is named unlike the identity: $tunneler_id.name must be the controller's name.
# `--request reload` answers after the reload ran: ok for a good file, an error (exit 1) for a
# broken one, and the daemon keeps running on its old configuration.
SD=$B/san/sipovld
if [ -x "$SD" ]; then
	cp "$ID/zt-client.json" "$W/renamed-file.json"
	chmod 600 "$W/renamed-file.json" # sipovld refuses key material others can read
	# Hosted TCP targets that refuse (nothing listens) and that never answer (a listener whose
	# accept queue is full drops further SYNs): the Dial must be answered with DialFailed and
	# the reason once the connect fails, not accepted and then closed.
	read -r DEAD_PORT SLOW_PORT < <(python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
	bg "$W/slow.log" python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(0)
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True); time.sleep(3600)' "$SLOW_PORT"
	SLOW_PID=$BGPID
	{ cli edge create config sd-dead-host host.v1 \
		"{\"protocol\":\"tcp\",\"address\":\"127.0.0.1\",\"port\":$DEAD_PORT}" &&
	  cli edge create config sd-slow-host host.v1 \
		"{\"protocol\":\"tcp\",\"address\":\"127.0.0.1\",\"port\":$SLOW_PORT,\"listenOptions\":{\"connectTimeout\":\"2s\"}}" &&
	  cli edge create service sd-dead -c sd-dead-host && cli edge create service sd-slow -c sd-slow-host &&
	  cli edge create service-policy sd-dead-bind Bind --service-roles @sd-dead,@sd-slow --identity-roles @zt-client &&
	  cli edge create service-policy sd-dead-dial Dial --service-roles @sd-dead,@sd-slow --identity-roles @zt-host
	} > "$W/last.out" 2>&1 || { notok "sipovld: create the sd-dead/sd-slow services"; diag < "$W/last.out"; }
	# Configs naming a template variable sipovld does not know (issue 12, defect 8) are refused
	# when read, with a log line naming the service, the field and the variable; the service
	# is then neither intercepted nor hosted (before, the variable was sent as written).
	{ cli edge create config sd-tpl-icpt intercept.v1 \
		'{"protocols":["udp"],"addresses":["10.77.0.1"],"portRanges":[{"low":5060,"high":5060}],"sourceIp":"$no_such_var:$src_port"}' &&
	  cli edge create config sd-tpl-host host.v1 \
		'{"protocol":"udp","address":"127.0.0.1","port":5060,"listenOptions":{"identity":"$ip_pool[voip-ips]"}}' &&
	  cli edge create service sd-tpl-i -c sd-tpl-icpt && cli edge create service sd-tpl-h -c sd-tpl-host &&
	  cli edge create service-policy sd-tpl-dial Dial --service-roles @sd-tpl-i --identity-roles @zt-client &&
	  cli edge create service-policy sd-tpl-bind Bind --service-roles @sd-tpl-h --identity-roles @zt-client
	} > "$W/last.out" 2>&1 || { notok "sipovld: create the sd-tpl services"; diag < "$W/last.out"; }
	cat > "$W/sipovld.conf" <<CONF
{ "identities": ["$W/renamed-file.json"], "control_socket": "$W/sipovld.sock", "log_level": "info",
  "service_poll_s": 1 }
CONF
	bg "$W/sipovld.log" "$SD" --no-kernel -c "$W/sipovld.conf"
	SD_PID=$BGPID
	ready=
	for _ in $(seq 1 120); do
		"$SD" --control "$W/sipovld.sock" --request status > "$W/sd.status" 2>/dev/null &&
			python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["identities"][0]["ready"] else 1)' \
				"$W/sd.status" && { ready=1; break; }
		sleep 0.25
	done
	name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["identities"][0]["name"])' "$W/sd.status" 2>/dev/null)
	[ -n "$ready" ] && [ "$name" = zt-client ] &&
		ok "sipovld: \$tunneler_id.name is the controller's name for the identity (zt-client, file renamed-file.json)" ||
		{ notok "sipovld: \$tunneler_id.name from the controller (ready=$ready name=$name)"; tail -15 "$W/sipovld.log" | diag; }
	for _ in $(seq 1 120); do
		"$SD" --control "$W/sipovld.sock" --request status 2>/dev/null |
			jq -en 'input | [.services[] | select(.name == "sd-dead" or .name == "sd-slow") | .host.listening] == [true, true]' \
			> /dev/null 2>&1 && break
		sleep 0.25
	done
	for _ in $(seq 1 40); do
		grep -q "service sd-tpl-h: bad host.v1" "$W/sipovld.log" && grep -q "service sd-tpl-i: bad intercept.v1" "$W/sipovld.log" && break
		sleep 0.25
	done
	tpl_i='service sd-tpl-i: bad intercept.v1 config: sourceIp "$no_such_var:$src_port": unknown template variable $no_such_var; not intercepted'
	tpl_h='service sd-tpl-h: bad host.v1 config: listenOptions.identity "$ip_pool[voip-ips]": unknown template variable $ip_pool[voip-ips]'
	"$SD" --control "$W/sipovld.sock" --request status > "$W/sd.status" 2>/dev/null
	if grep -qF "$tpl_i" "$W/sipovld.log" && grep -qF "$tpl_h" "$W/sipovld.log" &&
		jq -en 'input | [.services[] | select(.name == "sd-tpl-h") | .host.listening] | all(. != true)' \
			< "$W/sd.status" > /dev/null; then
		ok "sipovld: unknown template variables refused when read, the log names service, field and variable; not hosted"
	else
		notok "sipovld: unknown template variables (service, field and variable in the log)"
		grep "sd-tpl" "$W/sipovld.log" | tail -4 | diag
	fi
	# controller requests share kept-alive connections (one TLS handshake for many requests;
	# a connection the controller closed while idle is replaced by a resumed session): at most
	# 2 full handshakes (client-certificate signatures, what costs CPU), and at least 3 of the
	# requests so far rode on a connection opened before them
	"$SD" --control "$W/sipovld.sock" --request status > "$W/sd.status" 2>/dev/null
	read -r tls_full tls_res reqs < <(jq -r '.identities[0] | [.controller_tls_full, .controller_tls_resumed, .controller_requests] | @tsv' "$W/sd.status")
	if [ "${tls_full:-9}" -le 2 ] && [ "${reqs:-0}" -ge $(( ${tls_full:-9} + ${tls_res:-9} + 3 )) ]; then
		ok "sipovld: controller requests keep connections alive ($reqs requests over $tls_full full + $tls_res resumed TLS handshakes)"
	else
		notok "sipovld: controller keep-alive (requests=$reqs, TLS full=$tls_full resumed=$tls_res)"
	fi
	t0=$(now_ms)
	expect_fail "sipovld hosting: a target that refuses the connection -> DialFailed with the reason" \
		"connect 127.0.0.1:$DEAD_PORT: Connection refused" \
		"$SAN" dial -i "$ID/zt-host.json" -s sd-dead --bytes 100 --timeout-ms 20000
	t1=$(now_ms)
	grep -q "^ready" "$W/slow.log" || sleep 1
	expect_fail "sipovld hosting: a target that never answers -> DialFailed after listenOptions.connectTimeout (2s)" \
		"connect 127.0.0.1:$SLOW_PORT: timed out after [0-9]+ ms" \
		"$SAN" dial -i "$ID/zt-host.json" -s sd-slow --bytes 100 --timeout-ms 20000
	t2=$(now_ms)
	"$SD" --control "$W/sipovld.sock" --request status > "$W/sd.status" 2>/dev/null
	read -r cf htcp < <(jq -r '[.counters.hosted_connect_failed, .counters.hosted_tcp] | @tsv' "$W/sd.status")
	# the controller retries a failed circuit, so one client dial may reach us more than once
	if [ "${cf:-0}" -ge 2 ] && [ "${htcp:-1}" -eq 0 ] && [ $((t2 - t1)) -ge 2000 ]; then
		ok "sipovld hosting: hosted_connect_failed=$cf, hosted_tcp=0 (refused after $((t1 - t0)) ms, timed out after $((t2 - t1)) ms)"
	else
		notok "sipovld hosting: counters after failed targets (connect_failed=$cf hosted_tcp=$htcp, $((t1 - t0)) / $((t2 - t1)) ms)"
		grep -E "sd-dead|sd-slow" "$W/sipovld.log" | tail -8 | diag
	fi
	kill "$SLOW_PID" 2>/dev/null
	sed -i 's/"service_poll_s": 1/"service_poll_s": 2/' "$W/sipovld.conf"
	if "$SD" --control "$W/sipovld.sock" --request reload > "$W/sd.reload" 2>&1 && grep -q '"ok": *true' "$W/sd.reload" &&
		"$SD" --control "$W/sipovld.sock" --request status 2>/dev/null | grep -q '"service_poll_s": *2'; then
		ok "sipovld: --request reload of a good file answers ok, after the new values are in effect"
	else
		notok "sipovld: --request reload of a good file"; diag < "$W/sd.reload"
	fi
	echo '{ "identities": [' > "$W/sipovld.conf"
	if "$SD" --control "$W/sipovld.sock" --request reload > "$W/sd.reload" 2>&1; then
		notok "sipovld: --request reload of a broken file must fail"; diag < "$W/sd.reload"
	elif grep -q "reload failed" "$W/sd.reload" && kill -0 "$SD_PID" &&
		"$SD" --control "$W/sipovld.sock" --request status 2>/dev/null | grep -q '"service_poll_s": *2'; then
		ok "sipovld: --request reload of a broken file exits 1 with the reason; the running configuration is kept"
	else
		notok "sipovld: broken reload"; diag < "$W/sd.reload"
	fi
	kill -TERM "$SD_PID"
	wait "$SD_PID"
	rc=$?
	[ $rc -eq 0 ] && san_clean "$W/sipovld.log" && ok "clean exit: sipovld --no-kernel (exit 0, no ASan/UBSan/leak report)" ||
		{ notok "clean exit: sipovld --no-kernel (exit $rc)"; grep -A12 -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$W/sipovld.log" | head -30 | diag; }
	# which identity may claim which source (tests/ziti/auth.sh)
	# shellcheck source=tests/ziti/auth.sh
	. "$TOP/tests/ziti/auth.sh"
	srcmap_tests
	posture_tests
	posture_process_tests
	pool_tests
	# sipovld in endpoint mode: claims, interfaces, terminators by address (tests/ziti/endpoint.sh)
	# shellcheck source=tests/ziti/endpoint.sh
	. "$TOP/tests/ziti/endpoint.sh"
	endpoint_tests
	# the DNS responder with dig/kdig (tests/ziti/dnsresp.sh)
	# shellcheck source=tests/ziti/dnsresp.sh
	. "$TOP/tests/ziti/dnsresp.sh"
	dnsresp_tests
	# TCP flows expire: a hosted flow whose ends both fall silent is closed after
	# tcp_idle_timeout_s, one that is half-closed (the dialer sent FIN, the target never
	# closes) after tcp_half_closed_timeout_s, and the target sockets carry TCP keepalive
	# (tcp_keepalive_s) so that a peer that vanishes is noticed. The target accepts, reads and
	# discards, never sends, never closes.
	HOLD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	bg "$W/hold.log" python3 -c 'import socket, sys, select
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); c = []; held = []
print("ready", flush=True)
while True:
    r, _, _ = select.select([s] + c, [], [])
    for x in r:
        if x is s: c.append(s.accept()[0]); continue
        try: d = x.recv(65536)
        except OSError: d = None
        if not d: c.remove(x); held.append(x)' "$HOLD_PORT"
	HOLD_PID=$BGPID
	{ cli edge create config sd-hold-host host.v1 "{\"protocol\":\"tcp\",\"address\":\"127.0.0.1\",\"port\":$HOLD_PORT}" &&
	  cli edge create service sd-hold -c sd-hold-host &&
	  cli edge create service-policy sd-hold-bind Bind --service-roles @sd-hold --identity-roles @zt-client &&
	  cli edge create service-policy sd-hold-dial Dial --service-roles @sd-hold --identity-roles @zt-host
	} > "$W/last.out" 2>&1 || { notok "sipovld: create the sd-hold service"; diag < "$W/last.out"; }
	cat > "$W/sipovld3.conf" <<CONF
{ "identities": ["$W/renamed-file.json"], "control_socket": "$W/sipovld3.sock", "log_level": "info",
  "service_poll_s": 1, "tcp_idle_timeout_s": 6, "tcp_half_closed_timeout_s": 2, "tcp_keepalive_s": 5 }
CONF
	bg "$W/sipovld3.log" "$SD" --no-kernel -c "$W/sipovld3.conf"
	SD3_PID=$BGPID
	sd3() { "$SD" --control "$W/sipovld3.sock" --request "$1" 2>/dev/null; }
	sd3_flows() { sd3 status | jq -r '.flows.host_tcp // empty'; }
	for _ in $(seq 1 120); do
		sd3 status | jq -en 'input | [.services[] | select(.name == "sd-hold") | .host.listening] == [true]' > /dev/null 2>&1 && break
		sleep 0.25
	done
	# flow_life [T_ON]: ms from the flow's appearance at sipovld (at T_ON ms when given) to its
	# end (or nothing within 25 s)
	flow_life() {
		local t_on=${1:-} t
		for _ in $(seq 1 160); do
			t=$(now_ms)
			case "$(sd3_flows)" in
			1) [ -z "$t_on" ] && t_on=$t ;;
			0) [ -n "$t_on" ] && { echo $((t - t_on)); return 0; } ;;
			esac
			[ -n "$t_on" ] && [ $((t - t_on)) -gt 25000 ] && return 1
			sleep 0.2
		done
		return 1
	}
	# The target must be up and the controller must list sipovld3's terminator before the
	# first dial: sipovld reports "listening" when its Bind is accepted, the terminator
	# may reach the controller later (a dial in between fails with "no terminators").
	for _ in $(seq 1 40); do grep -q '^ready' "$W/hold.log" 2>/dev/null && break; sleep 0.25; done
	for _ in $(seq 1 60); do
		[ "$(cli edge list terminators 'service.name="sd-hold"' -j 2>/dev/null | grep -c '"binding": *"edge"')" -ge 1 ] && break
		sleep 0.5
	done
	# The holding dialer, restarted (3 tries) if it ends before its flow shows at sipovld;
	# HOLD1_ON: when the flow showed (ms)
	HOLD1_ON=
	for try in 1 2 3; do
		bg "$W/hold1.log" "$FAST" dial -i "$ID/zt-host.json" -s sd-hold --hold --linger-ms 30000 --bytes 100 --timeout-ms 40000
		HOLD1_PID=$BGPID
		for _ in $(seq 1 50); do
			[ "$(sd3_flows)" = 1 ] && { HOLD1_ON=$(now_ms); break 2; }
			kill -0 "$HOLD1_PID" 2>/dev/null || break
			sleep 0.2
		done
		echo "dial $try: no flow at sipovld3: $(tail -2 "$W/hold1.log" | tr '\n' ' ')" >> "$W/hold1.tries"
		kill "$HOLD1_PID" 2>/dev/null
	done
	ka=
	for _ in $(seq 1 40); do
		ka=$(ss -tnoH state established "( dport = :$HOLD_PORT )" 2>/dev/null | grep -o 'timer:(keepalive[^)]*)' | head -1)
		[ -n "$ka" ] && break
		sleep 0.25
	done
	life=$(flow_life "$HOLD1_ON")
	if [ -n "$life" ] && [ "$life" -ge 5000 ] && [ "$life" -le 9000 ]; then
		ok "sipovld: an idle hosted TCP flow (both ends silent) is closed after ${life} ms (tcp_idle_timeout_s 6)"
	else
		notok "sipovld: idle hosted TCP flow not closed within 6 s (+3 s): lived '${life:-more than 25 s}' ms"
		{ tail -5 "$W/sipovld3.log"; cat "$W/hold1.tries" 2>/dev/null; tail -5 "$W/hold1.log"; tail -3 "$W/hold.log"; } | diag
	fi
	if [ -n "$ka" ]; then
		ok "sipovld: the hosted TCP socket has TCP keepalive on ($ka, tcp_keepalive_s 5)"
	else
		notok "sipovld: no keepalive timer on the hosted TCP socket"; ss -tnoH "( dport = :$HOLD_PORT )" 2>&1 | diag
	fi
	kill "$HOLD1_PID" 2>/dev/null
	bg "$W/hold2.log" "$FAST" dial -i "$ID/zt-host.json" -s sd-hold --mode sink --bytes 1000 --timeout-ms 40000
	HOLD2_PID=$BGPID
	life=$(flow_life)
	if [ -n "$life" ] && [ "$life" -le 5000 ]; then
		ok "sipovld: a half-closed hosted TCP flow (dialer FIN, target silent) is closed after ${life} ms (tcp_half_closed_timeout_s 2)"
	else
		notok "sipovld: half-closed hosted TCP flow not closed within 2 s (+3 s): lived '${life:-more than 25 s}' ms"
		tail -5 "$W/sipovld3.log" | diag
	fi
	kill "$HOLD2_PID" "$HOLD_PID" 2>/dev/null
	kill -TERM "$SD3_PID"
	wait "$SD3_PID"
	rc=$?
	[ $rc -eq 0 ] && san_clean "$W/sipovld3.log" && ok "clean exit: sipovld (TCP expiry) (exit 0, no ASan/UBSan/leak report)" ||
		{ notok "clean exit: sipovld (TCP expiry) (exit $rc)"; grep -A12 -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$W/sipovld3.log" | head -30 | diag; }
	# The memory bound's accounting against the allocator's own figure, with N hosted flows open:
	# what the bound charges per flow must cover what the heap really grows by per flow.
	cli edge create service sd-echo -e ON -c echo-tcp-host > "$W/last.out" 2>&1 &&
		cli edge create service-policy sd-bind Bind --service-roles @sd-echo --identity-roles @zt-client >> "$W/last.out" 2>&1 &&
		cli edge create service-policy sd-dial Dial --service-roles @sd-echo --identity-roles @zt-host >> "$W/last.out" 2>&1 ||
		{ notok "sipovld: create the sd-echo service"; diag < "$W/last.out"; }
	cat > "$W/sipovld2.conf" <<CONF
{ "identities": ["$W/renamed-file.json"], "control_socket": "$W/sipovld2.sock", "log_level": "notice",
  "service_poll_s": 1 }
CONF
	bg "$W/sipovld2.log" "$B/sipovld" --no-kernel -c "$W/sipovld2.conf"
	SD2_PID=$BGPID
	sd2() { "$B/sipovld" --control "$W/sipovld2.sock" --request "$1" 2>/dev/null; }
	listening=
	for _ in $(seq 1 120); do
		sd2 status | jq -en 'input | [.services[] | select(.name == "sd-echo") | .host.listening] == [true]' > /dev/null 2>&1 &&
			{ listening=1; break; }
		sleep 0.25
	done
	NFLOWS=500
	sd2 status > "$W/sd2.before"
	bg "$W/sd2dial.log" "$FAST" dial -i "$ID/zt-host.json" -s sd-echo --conns $NFLOWS --hold --linger-ms 10000 \
		--bytes 2000 --timeout-ms 120000
	DIAL_PID=$BGPID
	open=
	for _ in $(seq 1 400); do
		grep -q "all $NFLOWS connections open" "$W/sd2dial.log" && { open=1; break; }
		sleep 0.25
	done
	sleep 1
	sd2 status > "$W/sd2.during"
	wait "$DIAL_PID"
	dial_rc=$?
	read -r hflows used_d heap_d < <(jq -rn --slurpfile a "$W/sd2.before" --slurpfile b "$W/sd2.during" \
		'[$b[0].flows.host_tcp, ($b[0].memory.used - $a[0].memory.used), ($b[0].memory.heap_in_use - $a[0].memory.heap_in_use)] | @tsv')
	if [ -n "$listening" ] && [ -n "$open" ] && [ "$dial_rc" = 0 ] && [ "${hflows:-0}" -eq $NFLOWS ] &&
		[ "${used_d:-0}" -ge "${heap_d:-1}" ]; then
		ok "sipovld: memory bound charges $((used_d / NFLOWS)) B per hosted TCP flow >= heap growth $((heap_d / NFLOWS)) B per flow ($NFLOWS flows open, echoes verified)"
	else
		notok "sipovld: memory accounting with $NFLOWS hosted flows (listening=$listening open=$open dial=$dial_rc flows=$hflows charged=$used_d heap=$heap_d)"
		tail -5 "$W/sd2dial.log" | diag; tail -5 "$W/sipovld2.log" | diag
	fi
	kill -TERM "$SD2_PID"
	wait "$SD2_PID"
else
	notok "sipovld: $SD not built"
fi

# ---------------------------------------------------------------- shutdown: sanitizer verdicts
for p in "$HOST_PID:host.log:host (8 services, all faults)" "$PFAULT_PID:pfault.err:fault probe" \
	"$PREADD_PID:preadd.err:re-add probe" "$EXP_PID:expire.err:expiry probe" "$SINK_PID:sink.log:sink host" \
	"$ADDR_PID:addr.log:addressable host"; do
	pid=${p%%:*}; rest=${p#*:}; log=${rest%%:*}; name=${rest#*:}
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	if [ $rc -eq 0 ] && san_clean "$W/$log"; then
		ok "clean exit: $name (exit 0, no ASan/UBSan/leak report)"
	else
		notok "clean exit: $name (exit $rc)"; grep -A12 -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$W/$log" | head -30 | diag
	fi
done
for pid in "$GOHOST_PID" "$GOPROXY_PID" "$ECHO_PID"; do
	{ kill -TERM "$pid"; for _ in $(seq 1 50); do kill -0 "$pid" || break; sleep 0.1; done
	  kill -KILL "$pid"; wait "$pid"; } 2>/dev/null
done
# the Go peers must not have crashed (a crash makes later tests fail for reasons not ours)
crashes=$(grep -l -E "^(fatal error|panic):" "$NET"/ctrl.log.* "$NET"/router.log.* 2>/dev/null || true)
if [ -z "$crashes" ]; then
	ok "test network: controller and router ran without crashing"
else
	notok "test network: Go peer crashed: $(basename -a $crashes | tr '\n' ' ')"
	for f in $crashes; do grep -m1 -A12 -E "^(fatal error|panic):" "$f" | diag; done
fi
"$ZN" stop "$NET" > "$W/stop.log" 2>&1
left=$(pgrep -f -- "$NET" || true)
[ -z "$left" ] && [ ! -d "$NET" ] && ok "test network stopped, no leftover processes or files" ||
	notok "leftovers after stop: $left"

zt_plan
