#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sipovld host tests (TAP version 13). Exit 0 all pass, 1 any failure, 4 all skipped.
#
#   1. unit tests of the I/O-free configuration model (ASan/UBSan build)
#   2. a bounded libFuzzer run of the same parsers (DAEMON_FUZZ_SECONDS, default 20)
#   2b. the DNS responder's messages and names (daemon/dns_msg.c, daemon/dns_zone.c), the saved
#      name table (daemon/dns_zone_file.c), who it answers and how often (daemon/dns_guard.c), a
#      received message into its answer or relay (daemon/dns_respond.c): unit tests and a
#      bounded fuzz run (DNS_FUZZ_SECONDS, default 10)
#   1b, 2b. the same for the SIP view (SIP/SDP parsers, dialog tracker): sip-unit, and sip-fuzz
#      for SIP_FUZZ_SECONDS (default 5; longer runs: SIP_FUZZ_SECONDS=600 tests/daemon/run.sh)
#   2b. the RTP statistics (daemon/rtpq.c): unit tests, a bounded fuzz run (RTPQ_FUZZ_SECONDS,
#      default 10)
#   1c. the ip-pool (daemon/pool.c): allocator, lease file, pool service messages (pool-unit)
#   4. the metrics endpoint (tests/daemon/metrics.sh) of the sipovld of section 3
#   3. sipovld --no-kernel as a process (as root; skipped otherwise): a control socket client
#      that never sends nor reads does not stall the daemon; identity files and key files
#      readable by group or others are refused; --user drops to that user with only
#      CAP_NET_ADMIN and CAP_NET_BIND_SERVICE (effective, permitted, bounding; no ambient); an
#      endpoint (in a network namespace of its own) keeps its identity and interface on reload;
#      two worker processes: status lists both, a reload reaches both, a killed worker is
#      started again, they stop with the primary (tests/daemon/workers.sh); the DNS responder's name
#      table file: restored at start, kept over a reload, started over when the range changes,
#      a truncated one logged and not restored; the DNS responder answers only dns_allow's clients
#      and limits each one's UDP answers (tests/daemon/dnsguard.sh)
#
# Everything with a Ziti network and sipovl.ko (intercept and host sides, transparency, SIP
# calls, reload, SIGTERM cleanup) is the VM selftest selftests/sipovl/daemon.sh; service updates,
# UDP idle timeout, memory bound, SIGHUP reload, bad input and identities are daemon-update.sh.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${O:-$PWD/build}
UNIT=$B/san/daemon-unit
FUZZ=$B/fuzz/daemon-fuzz
FUZZ_SECONDS=${DAEMON_FUZZ_SECONDS:-20}
DNS_UNIT=$B/san/dns-unit
DNS_FUZZ=$B/fuzz/dns-fuzz
DNS_FUZZ_SECONDS=${DNS_FUZZ_SECONDS:-10}
SIP_UNIT=$B/san/sip-unit
SIP_FUZZ=$B/fuzz/sip-fuzz
SIP_FUZZ_SECONDS=${SIP_FUZZ_SECONDS:-5}
RUNIT=$B/san/rtpq-unit
RFUZZ=$B/fuzz/rtpq-fuzz
RFUZZ_SECONDS=${RTPQ_FUZZ_SECONDS:-10}
POOL_UNIT=$B/san/pool-unit

echo "TAP version 13"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

for f in "$UNIT" "$FUZZ" "$DNS_UNIT" "$DNS_FUZZ" "$SIP_UNIT" "$SIP_FUZZ" "$RUNIT" "$RFUZZ" "$POOL_UNIT"; do
	[ -x "$f" ] || { echo "1..0 # SKIP $f not built (run make tests)"; exit 4; }
done
W=$(mktemp -d /tmp/sipovld-test.XXXXXX)
trap 'rm -rf "$W"' EXIT

# 1. unit tests: their TAP points become ours
unit_run() { # unit_run PREFIX PROGRAM
	"$2" >"$W/unit.out" 2>&1
	urc=$?
	while IFS= read -r l; do
		case $l in
		"ok "*) ok "$1: ${l#ok * - }" ;;
		"not ok "*) notok "$1: ${l#not ok * - }" ;;
		esac
	done <"$W/unit.out"
	if [ $urc != 0 ] || ! grep -q '^1\.\.' "$W/unit.out"; then
		notok "$1 test program exited $urc"
		grep -v '^ok' "$W/unit.out" | head -30 | sed 's/^/# /'
	fi
}
unit_run unit "$UNIT"
unit_run dns-unit "$DNS_UNIT"
unit_run sip-unit "$SIP_UNIT"
unit_run rtpq "$RUNIT"
unit_run pool-unit "$POOL_UNIT"

# 2. fuzzing, briefly (libFuzzer exits 0 when nothing was found in the time given; one input
# running over 10 s is a hang, reported as a failure rather than holding the suite)
fuzz_run() { # fuzz_run LABEL PROGRAM SECONDS MAX_LEN CORPUS_DIR ARTIFACT_NAME
	local label=$1 prog=$2 secs=$3 maxlen=$4 corpus=$5 art=$6 c=$W/corpus-$6
	if ! "$prog" -help=1 >/dev/null 2>&1; then
		notok "$label: $prog does not run"
		return
	fi
	mkdir -p "$c"
	for f in "$corpus"/*; do [ -f "$f" ] && cp "$f" "$c/"; done
	if "$prog" -max_total_time="$secs" -timeout=10 -max_len="$maxlen" -artifact_prefix="$B/fuzz/$art-" "$c" \
		>"$W/$art-fuzz.out" 2>&1; then
		ok "$label: $(grep -o 'Done [0-9]* runs' "$W/$art-fuzz.out" | tail -1) in ${secs}s, no crash"
	else
		notok "$label: crash, hang or sanitizer report"
		grep -E 'ERROR|SUMMARY|Test unit written|timeout' "$W/$art-fuzz.out" | head -10 | sed 's/^/# /'
	fi
}
fuzz_run sip-fuzz "$SIP_FUZZ" "$SIP_FUZZ_SECONDS" 4096 tests/daemon/sip-corpus sip
fuzz_run fuzz "$FUZZ" "$FUZZ_SECONDS" 4096 tests/daemon/corpus daemon
fuzz_run dns-fuzz "$DNS_FUZZ" "$DNS_FUZZ_SECONDS" 1024 tests/daemon/dns-corpus dns
fuzz_run "rtpq fuzz" "$RFUZZ" "$RFUZZ_SECONDS" 4096 tests/daemon/rtpq-corpus rtpq

# 3. the daemon as a process
SD=$B/sipovld
SAN_SD=$B/san/sipovld
SOCK=$W/sd.sock
sd_status() { timeout 30 "$1" --control "$SOCK" --request status 2>/dev/null; }
sd_wait() { # sd_wait BIN: the control socket answers
	for _ in $(seq 1 100); do
		sd_status "$1" >/dev/null && return 0
		sleep 0.1
	done
	return 1
}
sd_stop() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
if [ "$(id -u)" != 0 ]; then
	echo "# section 3 skipped: needs root (capabilities, --user)"
elif ! [ -x "$SD" ] || ! [ -x "$SAN_SD" ]; then
	notok "sipovld process tests: $SD or $SAN_SD not built"
else
	# a bad sipovld.conf at start: sipovld exits 1 and its error names the key (the file's
	# message was lost before: freeing the half-read configuration zeroed the log level first)
	sd_badconf() { # sd_badconf WHAT JSON EXPECTED-TEXT
		printf '%s\n' "$2" >"$W/bad.conf"
		timeout 30 "$SAN_SD" --no-kernel --control "$W/bad.sock" -c "$W/bad.conf" >"$W/bad.out" 2>&1
		brc=$?
		if [ $brc = 1 ] && grep -qF "$3" "$W/bad.out"; then
			ok "bad sipovld.conf ($1): exit 1 and the error: $(grep -F "$3" "$W/bad.out" | head -1)"
		else
			notok "bad sipovld.conf ($1): exit $brc, expected 1 and '$3'"
			sed 's/^/# /' "$W/bad.out" | head -5
		fi
	}
	sd_badconf "unknown key" '{"identities": ["/nonexistent.json"], "bogus_key": 1}' 'unknown key "bogus_key"'
	sd_badconf "dns_allow" '{"identities": ["/nonexistent.json"], "dns_allow": ["10.0.0.0/33"]}' \
		'dns_allow[0]: "10.0.0.0/33": expected an IPv4 or IPv6 prefix'
	sd_badconf "dns_rate_limit" '{"identities": ["/nonexistent.json"], "dns_rate_limit": -1}' \
		'dns_rate_limit: -1: expected 0-100000'
	sd_badconf "endpoint.pool" '{"identities": ["/nonexistent.json"], "endpoint": {"pool": "voip ips"}}' \
		'endpoint.pool: expected a pool name'
	sd_badconf "endpoint, two identities" '{"identities": ["/nonexistent.json", "/nonexistent2.json"], "endpoint": {"pool": "voip-ips",
		"service": "voip-ips-pool", "interface": "sipovl0", "state_file": "/var/lib/sipovl/endpoint"}}' \
		'endpoint: an endpoint has exactly one identity (its lease is that identity'"'"'s); 2 configured'
	# an endpoint's identity (its address is that identity's lease) and its endpoint keys change
	# only with a restart: a reload keeps them, saying so (in a network namespace of its own:
	# sipovld creates its interface there; the control socket is a file, reached from here)
	ep_conf() { # IDENTITY INTERFACE
		printf '{"identities": ["%s"], "control_socket": "%s", "endpoint": {"pool": "voip-ips", "service": "p",
			"interface": "%s", "state_file": "%s"}}\n' "$1" "$W/ep.sock" "$2" "$W/ep.state" >"$W/ep.conf"
	}
	if unshare -n true 2>/dev/null; then
		ep_conf /nonexistent1.json sipe0
		unshare -n "$SAN_SD" --no-kernel -c "$W/ep.conf" >"$W/ep.log" 2>&1 &
		epsd=$!
		for _ in $(seq 1 100); do [ -S "$W/ep.sock" ] && break; sleep 0.1; done
		ep_conf /nonexistent2.json sipe1
		"$SAN_SD" --control "$W/ep.sock" --request reload >"$W/ep.reload" 2>&1
		r=$("$SAN_SD" --control "$W/ep.sock" --request status 2>/dev/null | jq -c '[[.identities[].file], .endpoint.interface]')
		if [ "$r" = '[["/nonexistent1.json"],"sipe0"]' ] &&
			grep -q "endpoint changes need a restart; still an endpoint of pool voip-ips" "$W/ep.log" &&
			grep -q "endpoint: a change of its identity needs a restart (the address is /nonexistent1.json's lease); still /nonexistent1.json" "$W/ep.log"; then
			ok "endpoint: a reload keeps the endpoint's identity and interface, saying they need a restart ($r)"
		else
			notok "endpoint: reload with another identity and interface: status $r"; grep endpoint "$W/ep.log" | tail -4 | sed 's/^/# /'
		fi
		# the endpoint removed from the file and two other identities: the running endpoint
		# stays (a restart ends it), and so does its one identity
		printf '{"identities": ["/nonexistent2.json", "/nonexistent3.json"], "control_socket": "%s"}\n' "$W/ep.sock" >"$W/ep.conf"
		"$SAN_SD" --control "$W/ep.sock" --request reload >"$W/ep.reload" 2>&1
		r=$("$SAN_SD" --control "$W/ep.sock" --request status 2>/dev/null | jq -c '[[.identities[].file], .endpoint.interface]')
		if [ "$r" = '[["/nonexistent1.json"],"sipe0"]' ]; then
			ok "endpoint: a reload that drops the endpoint and names two other identities keeps both ($r)"
		else
			notok "endpoint: reload without the endpoint and with two other identities: status $r"
			grep endpoint "$W/ep.log" | tail -4 | sed 's/^/# /'
		fi
		sd_stop "$epsd"
	else
		ok "endpoint reload # SKIP needs unshare -n"
	fi
	# the pool server's lease file: one that does not parse stops sipovld, naming file and line
	printf 'sipovl-pool 1 voip-ips 100.127.0.0/24\n100.127.0.5 id-a\n100.127.9.9 id-b\n' >"$W/bad.leases"
	sd_badconf "ip_pool, damaged lease file" "{\"identities\": [\"/nonexistent.json\"], \"ip_pool\": {\"name\": \"voip-ips\",
		\"range\": \"100.127.0.0/24\", \"service\": \"ip-pool\", \"lease_file\": \"$W/bad.leases\"}}" \
		"$W/bad.leases: lease file line 3: 100.127.9.9 is not a usable address"
	# one sipovld as pool server and endpoint: the endpoint's state file may not be the lease
	# file (its one line would replace every lease), also when named through another path
	mkdir -p "$W/pooldir"
	sd_badconf "endpoint.state_file = ip_pool.lease_file" "{\"identities\": [\"/nonexistent.json\"], \"ip_pool\": {\"name\": \"voip-ips\",
		\"range\": \"100.127.0.0/24\", \"service\": \"ip-pool\", \"lease_file\": \"$W/pooldir/leases\"},
		\"endpoint\": {\"pool\": \"voip-ips\", \"service\": \"ip-pool\", \"interface\": \"sipe9\",
		\"state_file\": \"$W/pooldir/../pooldir/leases\"}}" \
		"endpoint.state_file $W/pooldir/../pooldir/leases: the same file as ip_pool.lease_file"
	# identity files: a JSON file readable by others, and a valid-looking identity whose key
	# file (file:) is readable by its group
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=t -days 2 \
		-keyout "$W/key.pem" -out "$W/cert.pem" >/dev/null 2>&1
	chmod 640 "$W/key.pem"
	printf '{"ztAPI":"https://127.0.0.1:9","id":{"cert":"file://%s","key":"file://%s","ca":"file://%s"}}\n' \
		"$W/cert.pem" "$W/key.pem" "$W/cert.pem" >"$W/keyopen.json"
	chmod 600 "$W/keyopen.json"
	printf '{"ztAPI":"https://127.0.0.1:9","id":{"cert":"pem:x","key":"pem:y","ca":"pem:z"}}\n' >"$W/open.json"
	chmod 644 "$W/open.json"
	# shellcheck source=tests/daemon/metrics.sh
	. tests/daemon/metrics.sh
	MPORT=$(metrics_free_port)
	printf '{ "identities": ["%s", "%s"], "control_socket": "%s", "log_level": "info", "metrics_listen": "127.0.0.1:%s" }\n' \
		"$W/open.json" "$W/keyopen.json" "$W/sd.sock" "$MPORT" >"$W/sd.conf"
	"$SAN_SD" --no-kernel -c "$W/sd.conf" 2>"$W/sd.log" &
	sd=$!
	if ! sd_wait "$SAN_SD"; then
		notok "sipovld --no-kernel did not answer on its control socket"
		tail -5 "$W/sd.log" | sed 's/^/# /'
	else
		sd_status "$SAN_SD" >"$W/st.json"
		e0=$(jq -r --arg f "$W/open.json" '.identities[] | select(.file == $f) | .error // ""' "$W/st.json")
		e1=$(jq -r --arg f "$W/keyopen.json" '.identities[] | select(.file == $f) | .error // ""' "$W/st.json")
		case $e0 in
		*"$W/open.json"*"readable by group or others (mode 644)"*) ok "an identity file of mode 644 is refused: $e0" ;;
		*) notok "an identity file of mode 644 is refused (error: '$e0')" ;;
		esac
		case $e1 in
		*"$W/key.pem"*"readable by group or others (mode 640)"*) ok "an identity's key file of mode 640 is refused: $e1" ;;
		*) notok "an identity's key file of mode 640 is refused (error: '$e1')" ;;
		esac
		# 20 clients connect and never send nor read; a status request must still be
		# answered at once (the daemon used to read each with a 1 s timeout, in its loop)
		python3 -c 'import socket, sys, time
ss = []
for i in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); ss.append(s)
print("connected", flush=True)
time.sleep(120)' "$W/sd.sock" 20 >"$W/silent.out" 2>&1 &
		silent=$!
		for _ in $(seq 1 100); do grep -q connected "$W/silent.out" && break; sleep 0.1; done
		t0=$(date +%s%N)
		sd_status "$SAN_SD" >"$W/st2.json"
		t1=$(date +%s%N)
		ms=$(((t1 - t0) / 1000000))
		if grep -q connected "$W/silent.out" && jq -en 'input | .version' "$W/st2.json" >/dev/null 2>&1 && [ $ms -lt 5000 ]; then
			ok "control socket: 20 silent clients connected, status answered in $ms ms"
		else
			notok "control socket: 20 silent clients connected, status took $ms ms (limit 5000)"
		fi
		# a client that sends its request and never reads the reply does not stall it either
		python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
s.connect(sys.argv[1]); s.sendall(b"status\n" * 1)
print("sent", flush=True)
time.sleep(120)' "$W/sd.sock" >"$W/noread.out" 2>&1 &
		noread=$!
		for _ in $(seq 1 100); do grep -q sent "$W/noread.out" && break; sleep 0.1; done
		t0=$(date +%s%N)
		sd_status "$SAN_SD" >"$W/st3.json"
		t1=$(date +%s%N)
		ms=$(((t1 - t0) / 1000000))
		if jq -en 'input | .version' "$W/st3.json" >/dev/null 2>&1 && [ $ms -lt 5000 ]; then
			ok "control socket: a client that never reads its reply; status answered in $ms ms"
		else
			notok "control socket: a client that never reads its reply; status took $ms ms (limit 5000)"
		fi
		kill "$silent" "$noread" 2>/dev/null
		wait "$silent" "$noread" 2>/dev/null
		# a request given the configuration file (-c) goes to its control_socket: the
		# packaged unit's ExecReload= names the file, so that a moved socket needs no edit there
		timeout 30 "$SAN_SD" -c "$W/sd.conf" --request status >"$W/st4.json" 2>"$W/st4.err"
		if jq -en 'input | .version' "$W/st4.json" >/dev/null 2>&1; then
			ok "sipovld -c FILE --request: the request goes to FILE's control_socket ($W/sd.sock)"
		else
			notok "sipovld -c FILE --request: not answered on FILE's control_socket: $(head -c 200 "$W/st4.err")"
		fi
		# a file that does not parse: the request is not sent, the error names the file
		echo '{ "identities": [' >"$W/broken.conf"
		timeout 30 "$SAN_SD" -c "$W/broken.conf" --request reload >"$W/st5.out" 2>&1
		brc=$?
		if [ "$brc" = 1 ] && grep -q "$W/broken.conf" "$W/st5.out"; then
			ok "sipovld -c FILE --request with a FILE that does not parse: exit 1, naming it ($(head -c 120 "$W/st5.out"))"
		else
			notok "sipovld -c FILE --request with a broken FILE: exit $brc: $(head -c 200 "$W/st5.out")"
		fi
		# the "calls" request: the SIP view is on by default, nothing followed yet
		timeout 30 "$SAN_SD" --control "$SOCK" --request calls >"$W/calls.json" 2>/dev/null
		if jq -en 'input | .enabled == true and .calls == [] and .stats.calls_active == 0 and .stats.calls_max == 1024' \
			"$W/calls.json" >/dev/null 2>&1; then
			ok "control socket: \"calls\" answers (SIP view on, no call, calls_max 1024)"
		else
			notok "control socket: \"calls\" answers: $(head -c 300 "$W/calls.json")"
		fi
		metrics_tests "$MPORT" "$W"
	fi
	sd_stop "$sd"
	if grep -qE "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$W/sd.log"; then
		notok "sipovld (ASan/UBSan) exited with a sanitizer report"
		grep -A8 -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$W/sd.log" | head -20 | sed 's/^/# /'
	fi

	# an identity whose directory sipovld cannot write (here a read-only bind mount): certificate
	# renewal writes the new files there, so sipovld says so when it starts the identity
	mkdir -p "$W/ro"
	cp "$W/cert.pem" "$W/ro/cert.pem"
	install -m 600 "$W/key.pem" "$W/ro/key.pem"
	printf '{"ztAPI":"https://127.0.0.1:9","id":{"cert":"file://%s","key":"file://%s","ca":"file://%s"}}\n' \
		"$W/ro/cert.pem" "$W/ro/key.pem" "$W/ro/cert.pem" >"$W/ro/id.json"
	chmod 600 "$W/ro/id.json"
	printf '{ "identities": ["%s"], "control_socket": "%s", "log_level": "info" }\n' "$W/ro/id.json" "$W/ro.sock" \
		>"$W/ro.conf"
	unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec "$2" --no-kernel -c "$3"' \
		sh "$W/ro" "$SAN_SD" "$W/ro.conf" 2>"$W/ro.log" &
	rosd=$!
	for _ in $(seq 1 100); do grep -q "identity $W/ro/id.json" "$W/ro.log" 2>/dev/null && break; sleep 0.1; done
	if grep -q "identity $W/ro/id.json: its directory $W/ro is not writable by sipovld" "$W/ro.log" &&
		! grep -q "not writable" "$W/sd.log"; then
		ok "an identity in a directory sipovld cannot write: a warning at start ($(grep -o 'not writable.*' "$W/ro.log" | head -c 120)...); none for one it can"
	else
		notok "an identity in a directory sipovld cannot write: no warning at start: $(grep -i "identity\|not writable" "$W/ro.log" "$W/sd.log" | head -3)"
	fi
	sd_stop "$rosd"

	# worker processes: status, reload, a killed worker, stop (tests/daemon/workers.sh)
	# shellcheck source=tests/daemon/workers.sh
	. tests/daemon/workers.sh
	workers_tests "$SAN_SD" "$W"

	# the DNS responder: allow-list, rate limit, bad values on reload (tests/daemon/dnsguard.sh)
	# shellcheck source=tests/daemon/dnsguard.sh
	. tests/daemon/dnsguard.sh
	dnsguard_tests "$SAN_SD" "$W"

	# --request against a daemon that takes the request and never answers: one line after
	# SIPOVLD_CTL_TIMEOUT seconds (default 10), not a hang
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.recv(100); time.sleep(30)' "$W/mute.sock" &
	mute=$!
	for _ in $(seq 50); do [ -S "$W/mute.sock" ] && break; sleep 0.1; done
	t0=$(date +%s%N)
	rc=0
	SIPOVLD_CTL_TIMEOUT=1 timeout 20 "$SAN_SD" --control "$W/mute.sock" --request status >"$W/mute.out" 2>"$W/mute.err" || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ "$rc" = 1 ] && [ "$(cat "$W/mute.err")" = "sipovld: sipovld did not answer on $W/mute.sock within 1 s" ] &&
		[ ! -s "$W/mute.out" ] && [ "$ms" -lt 10000 ]; then
		ok "--request: a daemon that never answers: one line after SIPOVLD_CTL_TIMEOUT ($ms ms)"
	else
		notok "--request: a daemon that never answers: exit $rc after $ms ms: $(head -c 300 "$W/mute.err")"
	fi
	kill "$mute" 2>/dev/null
	wait "$mute" 2>/dev/null

	# --user: the daemon drops to the user after start-up (the socket's directory is its own)
	SOCK=$W/run/sd.sock
	chmod 711 "$W" # as in /run: the user reaches its directory
	printf '{ "control_socket": "%s" }\n' "$SOCK" >"$W/sd2.conf"
	"$SD" --no-kernel -c "$W/sd2.conf" --user nobody 2>"$W/sd2.log" &
	sd=$!
	if sd_wait "$SD"; then
		ps=/proc/$sd/status
		uid=$(awk '/^Uid:/ {print $2 "," $3 "," $4 "," $5}' "$ps")
		gid=$(awk '/^Gid:/ {print $2 "," $3 "," $4 "," $5}' "$ps")
		grp=$(awk '/^Groups:/ {print $2}' "$ps")
		caps=$(awk '/^Cap(Inh|Prm|Eff|Bnd|Amb):/ {printf "%s%s ", $1, $2}' "$ps")
		nnp=$(awk '/^NoNewPrivs:/ {print $2}' "$ps")
		nu=$(id -u nobody) ng=$(id -g nobody)
		# CAP_NET_BIND_SERVICE (10) and CAP_NET_ADMIN (12): 0x1400
		want="CapInh:0000000000000000 CapPrm:0000000000001400 CapEff:0000000000001400 CapBnd:0000000000001400 CapAmb:0000000000000000 "
		if [ "$uid" = "$nu,$nu,$nu,$nu" ] && [ "$gid" = "$ng,$ng,$ng,$ng" ] && [ -z "$grp" ] &&
			[ "$caps" = "$want" ] && [ "$nnp" = 1 ]; then
			ok "--user nobody: uid $nu gid $ng, no supplementary groups, $caps, NoNewPrivs"
		else
			notok "--user nobody: uid $uid gid $gid groups '$grp' NoNewPrivs '$nnp' $caps"
			tail -5 "$W/sd2.log" | sed 's/^/# /'
		fi
		sd_stop "$sd"
		[ ! -e "$SOCK" ] && ok "--user nobody: the control socket is removed at exit" ||
			notok "--user nobody: the control socket is left behind at exit"
	else
		notok "sipovld --no-kernel --user nobody did not answer on its control socket"
		tail -5 "$W/sd2.log" | sed 's/^/# /'
		sd_stop "$sd"
	fi
	# "user" naming the user it already runs as (the unit's User=sipovld with "user":
	# "sipovld" in sipovld.conf): nothing to switch, it starts
	SOCK=$W/run2/sd.sock
	install -d -o nobody -m 0700 "$W/run2"
	printf '{ "control_socket": "%s", "user": "nobody" }\n' "$SOCK" >"$W/sd4.conf"
	chmod 644 "$W/sd4.conf"
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups -- "$SD" --no-kernel -c "$W/sd4.conf" 2>"$W/sd4.log" &
	sd=$!
	if sd_wait "$SD"; then
		ok "\"user\": \"nobody\" started as nobody: runs (nothing to switch)"
	else
		notok "\"user\": \"nobody\" started as nobody: $(grep -v '^$' "$W/sd4.log" | tail -1)"
	fi
	sd_stop "$sd"
	# a start-up that fails at the privilege drop (last step: everything is open by then) undoes
	# it all: here running as nobody with a supplementary group daemon, "user" nobody:daemon
	# (the control socket may be given to that group, the switch is not allowed). Under
	# valgrind: no socket or descriptor left open at exit (the DNS responder's listening and
	# upstream sockets, the event loop's epoll) and nothing left allocated.
	if command -v valgrind >/dev/null; then
		SOCK=$W/run5/sd.sock
		install -d -o nobody -m 0700 "$W/run5"
		printf '{ "control_socket": "%s", "user": "nobody:daemon", "dns_listen": ["127.0.0.1:%s"], "dns_range4": "100.64.0.0/10" }\n' \
			"$SOCK" "$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')" >"$W/sd5.conf"
		chmod 644 "$W/sd5.conf"
		setpriv --reuid=nobody --regid="$(id -g nobody)" --groups="$(getent group daemon | cut -d: -f3)" -- \
			valgrind -q --track-fds=yes --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
			--error-exitcode=99 "$SD" --no-kernel -c "$W/sd5.conf" >"$W/sd5.log" 2>&1
		rc=$?
		open=$(grep -c -E '== Open (AF_|file descriptor [0-9]+:)' "$W/sd5.log")
		inh=$(grep -c '<inherited from parent>' "$W/sd5.log")
		leaked=$(grep -c -E 'in loss record' "$W/sd5.log")
		if [ $rc = 1 ] && grep -q 'cannot become user nobody.*not starting' "$W/sd5.log" &&
			[ "$open" = "$inh" ] && [ "$leaked" = 0 ]; then
			ok "a failed privilege drop at start-up: exit 1 with the reason, no socket or descriptor left open, nothing left allocated (valgrind)"
		else
			notok "a failed privilege drop at start-up: exit $rc, $((open - inh)) descriptors left open, $leaked blocks left allocated"
			grep -E 'not starting|== Open|by 0x.*(main|dns_|zt_|sipv)' "$W/sd5.log" | head -16 | sed 's/^/# /'
		fi
	else
		ok "a failed privilege drop at start-up # SKIP valgrind not installed"
	fi
	if "$SD" --no-kernel -c "$W/sd2.conf" --user no-such-user-sipovl >/dev/null 2>"$W/sd3.log"; then
		notok "--user no-such-user-sipovl must not start"
	elif grep -q "no-such-user-sipovl.*no such user" "$W/sd3.log"; then
		ok "--user no-such-user-sipovl: refused ($(grep -o 'user .*' "$W/sd3.log" | head -1))"
	else
		notok "--user no-such-user-sipovl: no clear error"; sed 's/^/# /' "$W/sd3.log" | head -5
	fi

	# the DNS responder's name table (dns_names_file, issue 15 item 1): restored at start (no
	# service yet: kept), kept over a reload of dns_allow and dns_rate_limit (applied without
	# a restart of the responder) and over one that keeps the range, started over and the file
	# rewritten when the range changes; without dns_names_file, dns-names in systemd's
	# $STATE_DIRECTORY; a truncated file: logged, not restored, sipovld answers its control socket
	SOCK=$W/dn.sock
	dnsp=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	dn_conf() { # RANGE4 DNS_TIMEOUT_MS [MORE_KEYS]
		printf '{ "control_socket": "%s", "dns_listen": ["127.0.0.1:%s"], "dns_upstream": [], "dns_range4": "%s",
			"dns_timeout_ms": %s, "dns_names_file": "%s"%s }\n' "$SOCK" "$dnsp" "$1" "$2" "$W/dn.names" "${3:-}" >"$W/dn.conf"
	}
	dn_names() { sd_status "$SAN_SD" | jq -c '[.dns.names, .dns.names_restored, .dns.names_file_writes, .dns.names_file_errors]'; }
	printf 'sipovl-dns-names 1 100.64.0.0/22 -\n100.64.0.7 pbx.example.ziti\n100.64.1.200 a.voip.example\nend 2\n' >"$W/dn.names"
	dn_conf 100.64.0.0/22 2000
	"$SAN_SD" --no-kernel -c "$W/dn.conf" >"$W/dn.log" 2>&1 &
	dnsd=$!
	if sd_wait "$SAN_SD"; then
		r1=$(dn_names)
		# dns_allow and dns_rate_limit: applied, the responder not restarted (the names not
		# dumped and restored again: no second "keep their addresses")
		dn_conf 100.64.0.0/22 2000 ', "dns_allow": ["127.0.0.0/8", "192.0.2.0/24"], "dns_rate_limit": 5'
		"$SAN_SD" --control "$SOCK" --request reload >/dev/null 2>&1
		ra=$(dn_names)
		ga=$(sd_status "$SAN_SD" | jq -c '[.dns.allow, .dns.rate_limit]')
		ka=$(grep -c 'dns: 2 names keep their addresses' "$W/dn.log")
		dn_conf 100.64.0.0/22 1000 # another dns_* key: the responder restarts, the range kept
		"$SAN_SD" --control "$SOCK" --request reload >/dev/null 2>&1
		r2=$(dn_names)
		dn_conf 100.64.0.0/21 1000
		"$SAN_SD" --control "$SOCK" --request reload >/dev/null 2>&1
		for _ in $(seq 1 50); do # written within a second of each change (the reloads': 2 writes)
			r3=$(dn_names)
			[ "$r3" = '[0,0,2,0]' ] && break
			sleep 0.1
		done
		h3=$(head -1 "$W/dn.names")
	fi
	sd_stop "$dnsd"
	if [ "${r1:-}" = '[2,2,0,0]' ] && [ "${ra:-}" = '[2,2,0,0]' ] && [ "${ka:-}" = 0 ] &&
		[ "${ga:-}" = '[["127.0.0.0/8","192.0.2.0/24"],5]' ] && [ "${r2:-}" = '[2,2,0,0]' ] && [ "${r3:-}" = '[0,0,2,0]' ] &&
		[ "${h3:-}" = "sipovl-dns-names 1 100.64.0.0/21 -" ] &&
		grep -q 'dns: 2 names restored from .*dn.names: their addresses kept' "$W/dn.log" &&
		grep -q 'dns: 2 names keep their addresses' "$W/dn.log" &&
		grep -q 'dns: the virtual ranges changed (the names were 100.64.0.0/22 -, not 100.64.0.0/21 -)' "$W/dn.log"; then
		ok "dns_names_file: 2 names restored at start, kept over a reload of dns_allow and dns_rate_limit (no restart: $ga) and one of dns_timeout_ms, started over when dns_range4 changed (file rewritten: $h3)"
	else
		notok "dns_names_file: start ${r1:-none}, dns_allow reload ${ra:-none} (${ga:-?}, restarts ${ka:-?}), reload ${r2:-none}, range changed ${r3:-none} (names, restored, writes, errors); file ${h3:-?}"
		grep 'dns' "$W/dn.log" | head -8 | sed 's/^/# /'
	fi
	mkdir -p "$W/dnstate"
	printf 'sipovl-dns-names 1 100.64.0.0/21 -\n100.64.0.7 pbx.exa' >"$W/dnstate/dns-names"
	sed -i 's/, "dns_names_file": "[^"]*"//' "$W/dn.conf"
	STATE_DIRECTORY=$W/dnstate "$SAN_SD" --no-kernel -c "$W/dn.conf" >"$W/dn2.log" 2>&1 &
	dnsd=$!
	r4='' f4=''
	sd_wait "$SAN_SD" && r4=$(dn_names) && f4=$(sd_status "$SAN_SD" | jq -r .dns.names_file)
	# a change (the range back to /22: the empty table for it), then SIGTERM at once, before the
	# write a second after the change: written as sipovld stops
	sed -i 's#100.64.0.0/21#100.64.0.0/22#' "$W/dn.conf"
	"$SAN_SD" --control "$SOCK" --request reload >/dev/null 2>&1
	sd_stop "$dnsd"
	h4=$(head -1 "$W/dnstate/dns-names")
	if [ "$r4" = '[0,0,0,0]' ] && [ "$f4" = "$W/dnstate/dns-names" ] && [ "$h4" = "sipovl-dns-names 1 100.64.0.0/22 -" ] &&
		grep -q 'dnstate/dns-names: line 2: not terminated by a newline (truncated file?); not restored' "$W/dn2.log"; then
		ok "dns-names in \$STATE_DIRECTORY, truncated: logged, nothing restored, sipovld runs ($(grep -o 'line 2: not terminated[^;]*' "$W/dn2.log")); a change written at SIGTERM ($h4)"
	else
		notok "dns-names in \$STATE_DIRECTORY, truncated: status ${r4:-none}, names_file ${f4:-none}; after SIGTERM: ${h4:-?}"
		grep 'dns' "$W/dn2.log" | head -5 | sed 's/^/# /'
	fi

	# a write that failed (its directory not there yet) is not forgotten: written at SIGTERM
	# once the directory exists (before: the table counted as saved, never written)
	rm -rf "$W/dnmiss" && mkdir -p "$W/dnmiss"
	sed 's#"dns_range4"#"dns_names_file": "'"$W"'/dnmiss/sub/names", "dns_range4"#' "$W/dn.conf" >"$W/dn5.conf"
	"$SAN_SD" --no-kernel -c "$W/dn5.conf" >"$W/dn5.log" 2>&1 &
	dnsd=$!
	e5=''
	if sd_wait "$SAN_SD"; then
		sed -i 's#100.64.0.0/22#100.64.0.0/21#' "$W/dn5.conf"
		"$SAN_SD" --control "$SOCK" --request reload >/dev/null 2>&1
		for _ in $(seq 1 50); do
			e5=$(sd_status "$SAN_SD" | jq -r '.dns.names_file_errors')
			[ "${e5:-0}" -ge 1 ] 2>/dev/null && break
			sleep 0.1
		done
		mkdir -p "$W/dnmiss/sub"
	fi
	sd_stop "$dnsd"
	h5=$(head -1 "$W/dnmiss/sub/names" 2>/dev/null)
	if [ "${e5:-0}" -ge 1 ] 2>/dev/null && [ "$h5" = "sipovl-dns-names 1 100.64.0.0/21 -" ]; then
		ok "dns_names_file: a write that failed ($e5 errors: no directory) is done at SIGTERM once it can be ($h5)"
	else
		notok "dns_names_file: a failed write: errors ${e5:-?}, after SIGTERM: ${h5:-no file}"
		grep 'dns' "$W/dn5.log" | head -5 | sed 's/^/# /'
	fi

	# make install, in a mount namespace with a private copy of /etc (the user database) and
	# a scratch state directory: creates the system user sipovld and STATEDIR (0700, its own),
	# as the package's postinst does
	mkdir -p "$W/etc" "$W/inst"
	cp -a /etc/. "$W/etc/"
	if unshare --mount sh -c 'mount --bind "$1/etc" /etc && make -s install PREFIX="$1/inst/usr" \
		SYSTEMDUNITDIR="$1/inst/unit" STATEDIR="$1/inst/state" >"$1/install.log" 2>&1 &&
		getent passwd sipovld && stat -c "%U %G %a" "$1/inst/state"' sh "$W" >"$W/install.out" 2>&1 &&
		grep -q "^sipovld:.*:/usr/sbin/nologin$" "$W/install.out" &&
		grep -q "^sipovld sipovld 700$" "$W/install.out"; then
		ok "make install: system user sipovld and its state directory (0700) created"
	else
		notok "make install: system user sipovld and its state directory"
		sed 's/^/# /' "$W/install.out" "$W/install.log" | tail -8
	fi
fi

echo "1..$n"
[ $failed = 0 ] || { echo "# $failed of $n failed"; exit 1; }
exit 0
