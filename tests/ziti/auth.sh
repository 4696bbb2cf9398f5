#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Who may claim which source, and calls across re-authentication (sourced by
# tests/ziti/run.sh, which calls srcmap_tests; or run alone against a network from
# `zitinet.sh start DIR`: tests/ziti/auth.sh DIR, TAP output; AUTH_TESTS="posture_tests ..."
# runs some of them).
#
#   srcmap_tests: sipovld (--no-kernel) hosts sm-svc (and sm-udp: redial_tests below), a TCP echo whose host.v1 admits the
#   sources 127.0.10.0/24 and 127.0.20.0/24 (allowedSourceAddresses). Its source_map gives
#   127.0.10.0/24 to go-client ("site A") and 127.0.20.0/24 to zt-host ("site B"). Dials with
#   app_data source_addr:
#     - with the default source_identity "router": the test network's routers (ziti 1.x) do
#       not authenticate the dialer, so even A's own source is refused;
#     - with source_identity "caller": B claiming 127.0.10.5 (A's) is refused, with a log line
#       naming identity, claimed source and service; A claiming it and B claiming 127.0.20.5
#       are hosted (the echo comes back through the transparent socket).
# Needs root (transparent sockets); skipped otherwise.

srcmap_tests() {
	local D=$W/srcmap sd=${SD:-$B/san/sipovld} pid rc ready auth
	if [ "$(id -u)" != 0 ]; then
		skip "source map: tests" "need root (transparent sockets)"
		return
	fi
	mkdir -p "$D"
	{ cli edge create config sm-udp-host host.v1 \
		"{\"protocol\":\"udp\",\"address\":\"127.0.0.1\",\"port\":$ZN_UDP_ECHO_PORT,\"allowedSourceAddresses\":[\"127.0.10.0/24\"]}" &&
	  cli edge create service sm-udp -c sm-udp-host &&
	  cli edge create service-policy sm-udp-bind Bind --service-roles @sm-udp --identity-roles @zt-other &&
	  cli edge create service-policy sm-udp-dial Dial --service-roles @sm-udp --identity-roles @go-client &&
	  cli edge create config sm-host host.v1 \
		"{\"protocol\":\"tcp\",\"address\":\"127.0.0.1\",\"port\":$ZN_TCP_ECHO_PORT,\"allowedSourceAddresses\":[\"127.0.10.0/24\",\"127.0.20.0/24\"]}" &&
	  cli edge create service sm-svc -c sm-host &&
	  cli edge create service-policy sm-bind Bind --service-roles @sm-svc --identity-roles @zt-other &&
	  cli edge create service-policy sm-dial Dial --service-roles @sm-svc --identity-roles @zt-host,@go-client
	} > "$D/cli.out" 2>&1 || { notok "source map: create the sm-svc service"; diag < "$D/cli.out"; return; }
	cp "$ID/zt-other.json" "$D/site.json"
	cat > "$D/sipovld.conf" <<CONF
{ "identities": ["$D/site.json"], "control_socket": "$D/sipovld.sock", "log_level": "debug",
  "service_poll_s": 1 }
CONF
	"$sd" --no-kernel -c "$D/sipovld.conf" > "$D/sipovld.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	ready=
	for _ in $(seq 1 240); do
		"$sd" --control "$D/sipovld.sock" --request status 2>/dev/null |
			jq -en 'input | [.services[] | select(.name == "sm-svc") | .host.listening] == [true]' > /dev/null 2>&1 &&
			{ ready=1; break; }
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.25
	done
	if [ -z "$ready" ]; then
		notok "source map: sipovld hosting sm-svc"; tail -8 "$D/sipovld.log" | diag
		kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
		return
	fi
	# ziti_auth is not set: the default, auto, takes OIDC, which every ziti the suite runs on
	# (v1.6.0, v1.6.5) offers (OIDC_AUTH and edge-oidc in /version)
	# (the identity's context is made again when its $tunneler_id.name arrives, and a context
	# not yet authenticated reports "legacy": wait for the authentication of the current one)
	for _ in $(seq 1 120); do
		auth=$("$sd" --control "$D/sipovld.sock" --request status 2>/dev/null | jq -r '[.identities[].auth] | join(",")')
		[ "$auth" = oidc ] && break
		sleep 0.25
	done
	if [ "$auth" = oidc ]; then
		ok "ziti_auth default (auto): sipovld authenticated with OIDC, the controller offers it"
	else
		notok "ziti_auth default (auto): sipovld should authenticate with OIDC (status auth: '$auth')"
		grep -E 'controller .*authentication|authenticated' "$D/sipovld.log" | head -3 | diag
	fi
	# the source map comes with a reload (a daemon that does not know it keeps running without)
	cat > "$D/sipovld.conf" <<CONF
{ "identities": ["$D/site.json"], "control_socket": "$D/sipovld.sock", "log_level": "debug",
  "service_poll_s": 1,
  "source_map": { "go-client": ["127.0.10.0/24"], "zt-host": ["127.0.20.0/24", "fd20::/64"] } }
CONF
	"$sd" --control "$D/sipovld.sock" --request reload > "$D/reload.out" 2>&1 &&
		ok "source map: reload with a source_map" ||
		{ notok "source map: reload with a source_map"; diag < "$D/reload.out"; }
	# dial IDENTITY SOURCE -> exit status of a 1000-byte echo; output in $D/dial.out
	sm_dial() {
		"$SAN" dial -i "$ID/$1.json" -s sm-svc --bytes 1000 --timeout-ms 20000 \
			--app-data "{\"source_addr\":\"$2\"}" > "$D/dial.out" 2>&1
	}
	# default source_identity "router": ziti 1.x routers send no dialer identity
	if sm_dial go-client 127.0.10.5; then
		notok "source map, source_identity router: a dial without a router-authenticated identity must be refused"
	elif grep -q "the router did not authenticate the dialer" "$D/dial.out"; then
		ok "source map, source_identity router: go-client's own source refused, the router sent no dialer identity (ziti 1.x)"
	else
		notok "source map, source_identity router: refusal reason"; tail -4 "$D/dial.out" | diag
	fi
	sed -i 's/"service_poll_s": 1,/"service_poll_s": 1, "source_identity": "caller",/' "$D/sipovld.conf"
	"$sd" --control "$D/sipovld.sock" --request reload > "$D/reload.out" 2>&1 ||
		{ notok "source map: reload with source_identity caller"; diag < "$D/reload.out"; }
	# site B claims a phone of site A
	if sm_dial zt-host 127.0.10.5; then
		notok "source map: zt-host (site B) claiming 127.0.10.5 (site A's) was hosted"
	elif grep -q "not in the source_map of identity 'zt-host'" "$D/dial.out" &&
		grep -q "service sm-svc: refused a dial from identity 'zt-host': claimed source 127.0.10.5 refused" "$D/sipovld.log"; then
		ok "source map: zt-host (site B) claiming 127.0.10.5 (site A's) refused; logged with identity, source and service"
	else
		notok "source map: zt-host claiming 127.0.10.5: refusal reason or log line"
		tail -3 "$D/dial.out" | diag; grep "sm-svc" "$D/sipovld.log" | tail -3 | diag
	fi
	check "source map: go-client (site A) claiming 127.0.10.5 is hosted (1000-byte echo)" sm_dial go-client 127.0.10.5
	check "source map: zt-host (site B) claiming 127.0.20.5 is hosted (1000-byte echo)" sm_dial zt-host 127.0.20.5
	redial_tests
	rc=$("$sd" --control "$D/sipovld.sock" --request status 2>/dev/null | jq -r '.counters.hosted_src_refused // 0')
	[ "${rc:-0}" -ge 2 ] && ok "source map: hosted_src_refused counts the refusals ($rc)" ||
		notok "source map: hosted_src_refused=$rc (expected at least 2)"
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	[ $rc -eq 0 ] && san_clean "$D/sipovld.log" && ok "clean exit: sipovld (source map) (exit 0, no ASan/UBSan/leak report)" ||
		{ notok "clean exit: sipovld (source map) (exit $rc)"; grep -A12 -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/sipovld.log" | head -30 | diag; }
	cli edge delete service-policy sm-udp-dial > /dev/null 2>&1
	cli edge delete service-policy sm-udp-bind > /dev/null 2>&1
	cli edge delete service sm-udp > /dev/null 2>&1
	cli edge delete config sm-udp-host > /dev/null 2>&1
	cli edge delete service-policy sm-dial > /dev/null 2>&1
	cli edge delete service-policy sm-bind > /dev/null 2>&1
	cli edge delete service sm-svc > /dev/null 2>&1
	cli edge delete config sm-host > /dev/null 2>&1
}

# redial_tests (inside srcmap_tests: sipovld hosts sm-udp, a UDP echo admitting the sources
# 127.0.10.0/24, which the source map gives to go-client): a dialer whose circuit moved dials
# again for the same source and target while the old hosted flow is still open (the far side
# re-dials a live UDP flow before this side saw the old circuit close). The new dial must
# replace the old flow, not add a second one with the same address pair (two sockets on one
# four-tuple, the target's datagrams split between them), and its datagrams must come back.
redial_tests() {
	local ready='' hold redial n2 ctr
	for _ in $(seq 1 120); do
		"$sd" --control "$D/sipovld.sock" --request status 2>/dev/null |
			jq -en 'input | [.services[] | select(.name == "sm-udp") | .host.listening] == [true]' > /dev/null 2>&1 &&
			{ ready=1; break; }
		sleep 0.25
	done
	[ -n "$ready" ] || { notok "re-dial: sipovld hosting sm-udp"; tail -5 "$D/sipovld.log" | diag; return; }
	udp_dial() { # udp_dial OUT ARGS... &: go-client dials sm-udp claiming 127.0.10.7:40000
		local out=$1
		shift
		exec "$SAN" dial -i "$ID/go-client.json" -s sm-udp --udp --size 64 --timeout-ms 30000 \
			--app-data '{"source_addr":"127.0.10.7:40000"}' "$@" > "$out" 2>&1
	}
	# the first circuit: connected, holding (its one datagram would go after 20 s)
	udp_dial "$D/redial-1.out" --count 1 --hold --linger-ms 20000 &
	hold=$!
	PIDS+=("$hold")
	flows_of() {
		"$sd" --control "$D/sipovld.sock" --request flows 2>/dev/null |
			jq '[.[] | select(.type == "host-udp" and .source == "127.0.10.7:40000")] | length'
	}
	for _ in $(seq 1 120); do [ "$(flows_of)" = 1 ] && break; sleep 0.25; done
	# that dialer is gone without a word (its router died; here: stopped), its circuit still
	# open at the router and at sipovld, when it dials again
	kill -STOP "$hold"
	# the re-dial, while the first is open: counted once it is hosted (it echoes for 3 s)
	udp_dial "$D/redial-2.out" --count 150 --pace-ms 20 &
	redial=$!
	PIDS+=("$redial")
	for _ in $(seq 1 120); do
		[ "$(grep -c "hosting a udp dial from 'go-client' .* from 127.0.10.7:40000" "$D/sipovld.log")" -ge 2 ] && break
		sleep 0.25
	done
	n2=$(flows_of)
	"$sd" --control "$D/sipovld.sock" --request flows > "$D/redial-flows.json" 2>&1
	ctr=$("$sd" --control "$D/sipovld.sock" --request status 2>/dev/null | jq -r '.counters.hosted_udp_redialed // "n/a"')
	if wait "$redial"; then
		ok "re-dial: the new dial's 150 datagrams came back through sipovld"
	else
		notok "re-dial: the new dial's datagrams"; tail -3 "$D/redial-2.out" | diag
	fi
	if [ "$n2" = 1 ] && [ "$ctr" = 1 ]; then
		ok "re-dial: one hosted flow for the address pair, the old one replaced (hosted_udp_redialed $ctr)"
	else
		notok "re-dial: hosted flows for 127.0.10.7:40000 -> the echo: $n2 (want 1), hosted_udp_redialed $ctr (want 1)"
		grep "127.0.10.7:40000" "$D/sipovld.log" | tail -4 | diag
		jq -c '.[] | select(.type == "host-udp")' "$D/redial-flows.json" | diag
	fi
	kill -KILL "$hold" 2>/dev/null
	wait "$hold" 2>/dev/null

	# A late attempt: the dialer gave its attempt 1 up (no answer in time), sent attempt 2,
	# which is hosted and carrying the stream, and only now does attempt 1's Dial reach this
	# side (sipovld dialers number each attempt of a dial in app_data's sipovl_dial). It must
	# be refused: replacing attempt 2's flow would send the target's datagrams into a circuit
	# the dialer has given up, and close the one it uses.
	late_dial() { # late_dial OUT ATTEMPT ARGS... &: go-client dials sm-udp claiming 127.0.10.8:40000
		local out=$1 n=$2
		shift 2
		exec "$SAN" dial -i "$ID/go-client.json" -s sm-udp --udp --size 64 --timeout-ms 30000 \
			--app-data "{\"source_addr\":\"127.0.10.8:40000\",\"sipovl_dial\":\"5eed00005eed0000/$n\"}" "$@" > "$out" 2>&1
	}
	local late2 late1 rc1 ctr2 n3
	late_dial "$D/late-2.out" 2 --count 200 --pace-ms 20 &
	late2=$!
	PIDS+=("$late2")
	for _ in $(seq 1 120); do
		[ "$("$sd" --control "$D/sipovld.sock" --request flows 2>/dev/null |
			jq '[.[] | select(.type == "host-udp" and .source == "127.0.10.8:40000")] | length')" = 1 ] && break
		sleep 0.1
	done
	late_dial "$D/late-1.out" 1 --count 1 &
	late1=$!
	rc1=0
	wait "$late1" || rc1=$?
	n3=$("$sd" --control "$D/sipovld.sock" --request flows 2>/dev/null |
		jq '[.[] | select(.type == "host-udp" and .source == "127.0.10.8:40000")] | length')
	ctr2=$("$sd" --control "$D/sipovld.sock" --request status 2>/dev/null | jq -r '.counters.hosted_udp_redialed // "n/a"')
	if [ "$rc1" != 0 ] && grep -q 'attempt 1 of this dial came late' "$D/late-1.out" && [ "$n3" = 1 ] && [ "$ctr2" = "$ctr" ]; then
		ok "re-dial: a late attempt 1 of a dial whose attempt 2 is hosted is refused ($(grep -o 'attempt 1 of this dial came late[^"]*' "$D/late-1.out" | head -1)), the flow kept"
	else
		notok "re-dial: a late attempt 1 of a dial whose attempt 2 is hosted: exit $rc1 (want refused), hosted flows $n3 (want 1), hosted_udp_redialed $ctr2 (want $ctr)"
		tail -3 "$D/late-1.out" | diag
		grep "127.0.10.8:40000" "$D/sipovld.log" | tail -4 | diag
	fi
	if wait "$late2" && grep -q ' 0 lost$' "$D/late-2.out"; then
		ok "re-dial: attempt 2's 200 datagrams all came back across the late attempt"
	else
		notok "re-dial: attempt 2's datagrams across the late attempt"; tail -3 "$D/late-2.out" | diag
	fi
}

# posture_tests: services whose Dial policies require posture checks. ps-ok needs an OS check
# (Linux >= 1.0.0) and, when this host has Ethernet addresses, a MAC check listing them; ps-bad
# needs Windows. Fresh identities (no posture data yet at the controller) dial with our client,
# legacy and OIDC: ps-ok works (OS and MAC answered before the context is ready), ps-bad is
# refused (409 INVALID_POSTURE) with one line saying which answered check still fails.
posture_tests() {
	local D=$W/posture zt=${SAN:-$B/san/zt-tool} macs roles=@ps-os i mode out
	mkdir -p "$D"
	macs=$(ip -j link 2>/dev/null | jq -r '[.[] | select(.link_type == "ether" and .address != "00:00:00:00:00:00") | .address] | join(",")')
	{ cli edge create posture-check os ps-os --os "Linux:>=1.0.0" &&
	  cli edge create posture-check os ps-os-win --os "Windows:>=1.0.0" &&
	  { [ -z "$macs" ] || { cli edge create posture-check mac ps-mac -m "$macs" && roles=@ps-os,@ps-mac; }; } &&
	  cli edge create service ps-ok && cli edge create service ps-bad &&
	  cli edge create service-policy ps-bind Bind --service-roles @ps-ok,@ps-bad --identity-roles @zt-host &&
	  cli edge create service-policy ps-dial-ok Dial --service-roles @ps-ok --identity-roles '#ps' --posture-check-roles "$roles" &&
	  cli edge create service-policy ps-dial-bad Dial --service-roles @ps-bad --identity-roles '#ps' --posture-check-roles @ps-os-win &&
	  for i in 1 2; do
		cli edge create identity "ps-id$i" -a ps,clients -o "$D/ps-id$i.jwt" &&
		"${SD:-$B/san/sipovld}" enroll "$D/ps-id$i.jwt" -o "$D/ps-id$i.json" || exit 1
	  done
	} > "$D/cli.out" 2>&1 || { notok "posture: create checks, services, identities"; tail -5 "$D/cli.out" | diag; return; }
	"$zt" host -i "$ID/zt-host.json" -s ps-ok,ps-bad --ready-file "$D/host.ready" > "$D/host.log" 2>&1 &
	PIDS+=("$!")
	for _ in $(seq 1 240); do [ -s "$D/host.ready" ] && break; sleep 0.25; done
	[ -s "$D/host.ready" ] || { notok "posture: our host binds ps-ok, ps-bad"; tail -5 "$D/host.log" | diag; return; }
	i=0
	for mode in legacy oidc; do
		i=$((i + 1))
		if "$zt" dial --auth "$mode" -i "$D/ps-id$i.json" -s ps-ok --bytes 1000 --timeout-ms 30000 -v \
			> "$D/ok-$mode.log" 2>&1 && grep -q "posture responses accepted" "$D/ok-$mode.log"; then
			ok "posture: $mode: a fresh identity dials ps-ok (checks OS${macs:+, MAC}: answered before ready)"
		else
			notok "posture: $mode: a fresh identity dials ps-ok (checks OS${macs:+, MAC})"
			grep -E "posture|FAILED|dial:" "$D/ok-$mode.log" | tail -5 | diag
		fi
		"$zt" dial --auth "$mode" -i "$D/ps-id$i.json" -s ps-bad --bytes 1000 --timeout-ms 30000 > "$D/bad-$mode.log" 2>&1
		out=$(grep -c "its OS posture check still fails with this host's answer" "$D/bad-$mode.log")
		if grep -q "INVALID_POSTURE" "$D/bad-$mode.log" && [ "$out" = 1 ]; then
			ok "posture: $mode: ps-bad (Windows only) refused, one line saying the answered OS check still fails"
		else
			notok "posture: $mode: ps-bad should be refused with one line (got $out)"
			grep -E "posture|FAILED|dial:" "$D/bad-$mode.log" | tail -5 | diag
		fi
	done
	# The controller keeps posture answers in memory: restarted, it has none for ps-id1 (whose
	# API session lives on) and removes its Dial session. A client dialing every 300 ms must
	# answer again and fetch a new session ("session closed" from the router), not stay refused.
	local pp t_back res good=0
	"$zt" probe -i "$D/ps-id1.json" -s ps-ok --interval-ms 300 --poll-ms 1000 -v --log "$D/probe.log" \
		> "$D/probe.err" 2>&1 &
	pp=$!
	PIDS+=("$pp")
	for _ in $(seq 1 60); do grep -q '^ok' "$D/probe.log" 2>/dev/null && break; sleep 0.25; done
	"$TOP/tests/ziti/zitinet.sh" restart-controller "$NET" 1 > "$D/restart.log" 2>&1
	t_back=$(now_ms)
	for _ in $(seq 1 80); do
		res=$(awk -v t="$t_back" '$1 != "log" && $2 >= t { print $1 }' "$D/probe.log" | tail -5 | tr '\n' ' ')
		[ "$res" = "ok ok ok ok ok " ] && { good=1; break; }
		sleep 0.25
	done
	kill "$pp" 2>/dev/null
	wait "$pp" 2>/dev/null
	if [ "$good" = 1 ] && grep -q "posture responses: sending them again" "$D/probe.err"; then
		ok "posture: after a controller restart (answers lost) the dials work again: answered again, new Dial session" \
			"($(awk -v t="$t_back" '$1 == "fail" && $2 >= t' "$D/probe.log" | wc -l) refused after the restart)"
	else
		notok "posture: dials after a controller restart (last results: ${res:-none})"
		grep -E "posture|WARN" "$D/probe.err" | tail -4 | diag
		awk -v t="$t_back" '$1 == "fail" && $2 >= t' "$D/probe.log" | tail -2 | diag
	fi
	san_clean "$D/ok-legacy.log" && san_clean "$D/ok-oidc.log" && san_clean "$D/bad-legacy.log" &&
		san_clean "$D/bad-oidc.log" && san_clean "$D/probe.err" && ok "posture: no ASan/UBSan/leak report" ||
		notok "posture: sanitizer report in the dials' logs"
}

# posture_process_tests: a service whose Dial policy needs a PROCESS check (Linux, a copy of
# sleep(1) at a path of this test, with the SHA-512 of that file as the only valid hash). A
# fresh identity probes it every 500 ms with our client: refused while the program is not
# running; started, the client sees it at its next look (every 10 s), answers, and the dials
# work; stopped, they are refused again. The hash must be the one the controller compares.
posture_process_tests() {
	local D=$W/posture-proc zt=${SAN:-$B/san/zt-tool} agent hash pp ap t_start t_stop t_ok='' t_fail='' res
	mkdir -p "$D"
	agent=$D/posture-agent
	cp /bin/sleep "$agent" && chmod 755 "$agent"
	hash=$(sha512sum "$agent" | cut -d' ' -f1)
	{ cli edge create posture-check process ps-proc Linux "$agent" --hash-sigs "$hash" &&
	  cli edge create service ps-proc &&
	  cli edge create service-policy ps-proc-bind Bind --service-roles @ps-proc --identity-roles @zt-host &&
	  cli edge create service-policy ps-proc-dial Dial --service-roles @ps-proc --identity-roles '#psproc' \
		--posture-check-roles @ps-proc &&
	  cli edge create identity ps-id3 -a psproc,clients -o "$D/ps-id3.jwt" &&
	  "${SD:-$B/san/sipovld}" enroll "$D/ps-id3.jwt" -o "$D/ps-id3.json"
	} > "$D/cli.out" 2>&1 || { notok "posture PROCESS: create the check, service, identity"; tail -5 "$D/cli.out" | diag; return; }
	"$zt" host -i "$ID/zt-host.json" -s ps-proc --ready-file "$D/host.ready" > "$D/host.log" 2>&1 &
	PIDS+=("$!")
	for _ in $(seq 1 240); do [ -s "$D/host.ready" ] && break; sleep 0.25; done
	[ -s "$D/host.ready" ] || { notok "posture PROCESS: our host binds ps-proc"; tail -5 "$D/host.log" | diag; return; }
	"$zt" probe -i "$D/ps-id3.json" -s ps-proc --interval-ms 500 --poll-ms 1000 -v --log "$D/probe.log" \
		> "$D/probe.err" 2>&1 &
	pp=$!
	PIDS+=("$pp")
	nres() { cat "$D/probe.log" 2>/dev/null | grep -c "^$1"; }
	for _ in $(seq 1 80); do [ "$(nres fail)" -ge 4 ] && break; sleep 0.25; done
	res=$(nres ok)
	if [ "$(nres fail)" -ge 4 ] && [ "$res" = 0 ]; then
		ok "posture PROCESS: $(basename "$agent") not running: dials refused ($(nres fail) so far)"
	else
		notok "posture PROCESS: dials while the program is not running (ok $res, fail $(nres fail))"
		tail -3 "$D/probe.log" | diag
	fi
	"$agent" 3600 &
	ap=$!
	PIDS+=("$ap")
	t_start=$(now_ms)
	for _ in $(seq 1 120); do
		t_ok=$(awk -v t="$t_start" '$1 == "ok" && $2 >= t { print $2; exit }' "$D/probe.log")
		[ -n "$t_ok" ] && break
		sleep 0.25
	done
	if [ -n "$t_ok" ] && grep -q '"typeId":"PROCESS"' "$D/probe.err"; then
		ok "posture PROCESS: started: the dials work $((t_ok - t_start)) ms later (the answer: running, its SHA-512)"
	else
		notok "posture PROCESS: the dials should work within 30 s of the program's start"
		grep -E "posture|PROCESS" "$D/probe.err" | tail -4 | diag
		tail -2 "$D/probe.log" | diag
	fi
	kill -KILL "$ap" 2>/dev/null
	wait "$ap" 2>/dev/null
	t_stop=$(now_ms)
	for _ in $(seq 1 120); do
		t_fail=$(awk -v t="$t_stop" '$1 == "fail" && $2 >= t { print $2; exit }' "$D/probe.log")
		res=$(awk -v t="$t_stop" '$1 != "log" && $2 >= t { print $1 }' "$D/probe.log" | tail -3 | tr '\n' ' ')
		[ -n "$t_fail" ] && [ "$res" = "fail fail fail " ] && break
		sleep 0.25
	done
	kill "$pp" 2>/dev/null
	wait "$pp" 2>/dev/null
	if [ -n "$t_fail" ] && [ "$res" = "fail fail fail " ]; then
		ok "posture PROCESS: stopped: the dials refused again $((t_fail - t_stop)) ms later"
	else
		notok "posture PROCESS: the dials should be refused within 30 s of the program's end (last: ${res:-none})"
		grep -E "posture|PROCESS" "$D/probe.err" | tail -4 | diag
	fi
	san_clean "$D/probe.err" && ok "posture PROCESS: no ASan/UBSan/leak report" ||
		notok "posture PROCESS: sanitizer report in the probe's log"
}

# pool_counted SOCK: wait (10 s at most) until the pool server at SOCK has counted its service's
# terminators and found only its own (ip_pool.exclusive_check_s: a server gives no new lease
# before that; design.md "Exactly one pool server")
pool_counted() {
	for _ in $(seq 1 40); do
		[ "$("${SD:-$B/san/sipovld}" --control "$1" --request status 2>/dev/null | jq -r '.ip_pool.exclusive.verdict')" = only ] && return 0
		sleep 0.25
	done
	return 1
}

# pool_tests: sipovld (--no-kernel) serves the ip-pool voip-ips (100.127.0.0/24) as the Ziti
# service ip-pool, hosted by zt-other; zt-client and zt-host claim through it with zt-tool
# request. The test routers (ziti 1.x) do not say who dials, so the owner is the caller id
# (ip_pool.trust_caller); without trust_caller the dial is refused, saying so. Leases are
# stable, exclusive, kept in the lease file across a restart, and released on request.
pool_tests() {
	local D=$W/pool sd=${SD:-$B/san/sipovld} zt=${SAN:-$B/san/zt-tool} pid a b r rc
	mkdir -p "$D"
	{ cli edge create service ip-pool &&
	  cli edge create service-policy pool-bind Bind --service-roles @ip-pool --identity-roles @zt-other &&
	  cli edge create service-policy pool-dial Dial --service-roles @ip-pool --identity-roles @zt-client,@zt-host
	} > "$D/cli.out" 2>&1 || { notok "ip-pool: create the ip-pool service"; diag < "$D/cli.out"; return; }
	cp "$ID/zt-other.json" "$D/pool-server.json"
	pool_conf() { # trust_caller
		cat > "$D/sipovld.conf" <<CONF
{ "identities": ["$D/pool-server.json"], "control_socket": "$D/sipovld.sock", "log_level": "info",
  "service_poll_s": 1,
  "ip_pool": { "name": "voip-ips", "range": "100.127.0.0/24", "service": "ip-pool",
               "lease_file": "$D/leases", "trust_caller": $1 } }
CONF
	}
	pool_up() { # log: start sipovld, wait until it hosts ip-pool
		"$sd" --no-kernel -c "$D/sipovld.conf" > "$D/$1" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		for _ in $(seq 1 240); do
			grep -q "service ip-pool: hosting" "$D/$1" && { pool_counted "$D/sipovld.sock"; return 0; }
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		return 1
	}
	pool_down() {
		kill -TERM "$pid" 2>/dev/null; wait "$pid"; rc=$?
	}
	# a reply without its options (" lease_s=N": tests/daemon/pool_unit.c and endpoint.sh check them)
	req() {
		local out rc=0
		out=$("$zt" request -i "$ID/$1.json" -s ip-pool --send "$2" --timeout-ms 30000 2> "$D/req.err") || rc=$?
		[ -z "$out" ] || sed 's/ [a-z_]*=[^ ]*//g' <<<"$out"
		return $rc
	}
	pool_conf true
	if ! pool_up sipovld.log; then
		notok "ip-pool: sipovld serves voip-ips on ip-pool"; tail -5 "$D/sipovld.log" | diag; pool_down; return
	fi
	ok "ip-pool: sipovld with ip_pool starts and hosts the service ip-pool"
	a=$(req zt-client "claim voip-ips"); b=$(req zt-client "claim voip-ips")
	if [[ $a =~ ^ok\ 100\.127\.0\.[0-9]+$ ]] && [ "$a" = "$b" ]; then
		ok "ip-pool: zt-client claims an address of the range, the same one twice ($a)"
	else
		notok "ip-pool: zt-client's claims: '$a', '$b'"; diag < "$D/req.err"
	fi
	r=$(req zt-host "claim voip-ips ${a#ok }")
	b=$(req zt-host "claim voip-ips")
	if [[ $r == "err taken"* ]] && [[ $b =~ ^ok\ 100\.127\.0\.[0-9]+$ ]] && [ "$b" != "$a" ]; then
		ok "ip-pool: zt-host cannot take zt-client's address ($r) and gets another ($b)"
	else
		notok "ip-pool: zt-host's claims: '$r', '$b' (zt-client holds '$a')"; diag < "$D/req.err"
	fi
	pool_down
	if [ "$(grep -c '^100\.127\.0\.' "$D/leases" 2>/dev/null)" = 2 ] && grep -qE "^${a#ok } zt-client [0-9]+$" "$D/leases"; then
		ok "ip-pool: both leases in the lease file ($(head -1 "$D/leases"))"
	else
		notok "ip-pool: the lease file"; diag < "$D/leases"
	fi
	if pool_up sipovld2.log && [ "$(req zt-client "claim voip-ips")" = "$a" ]; then
		ok "ip-pool: after a restart zt-client gets its address again"
	else
		notok "ip-pool: after a restart"; tail -3 "$D/sipovld2.log" | diag
	fi
	r=$(req zt-client "release voip-ips")
	if [ "$r" = ok ] && [ "$(grep -c '^100\.127\.0\.' "$D/leases")" = 1 ] && ! grep -q " zt-client " "$D/leases"; then
		ok "ip-pool: release: the lease is gone from the file"
	else
		notok "ip-pool: release: '$r'"; diag < "$D/leases"
	fi
	r=$("$sd" --control "$D/sipovld.sock" --request status 2>/dev/null | jq -c '.ip_pool | [.name, .range, .leases, .served]')
	[ "$r" = '["voip-ips","100.127.0.0/24",1,2]' ] && ok "ip-pool: status shows the pool ($r)" ||
		notok "ip-pool: status ip_pool $r, expected [\"voip-ips\",\"100.127.0.0/24\",1,2] (2 served since the restart)"
	pool_down
	# one router, listenOptions' default maxConnections 3: the bindings that find the router taken
	# by their siblings retry quietly while the service is hosted
	r=$(cat "$D/sipovld.log" "$D/sipovld2.log" | grep -c "<4>.*host ip-pool: cannot reach edge router")
	[ "$r" = 0 ] && ok "ip-pool: no warning for the bindings that find the only router taken" ||
		notok "ip-pool: $r warnings 'cannot reach edge router' while the service was hosted"
	[ "$rc" = 0 ] && san_clean "$D/sipovld.log" && san_clean "$D/sipovld2.log" &&
		ok "ip-pool: clean exits (no ASan/UBSan/leak report)" || notok "ip-pool: sipovld exit $rc or sanitizer report"
	pool_conf false
	if pool_up sipovld3.log && ! r=$(req zt-host "claim voip-ips") &&
		grep -q "the router did not say who dials (routers before ziti 2.0) and ip_pool.trust_caller is off" "$D/sipovld3.log"; then
		ok "ip-pool: without trust_caller a 1.x router's dial is refused, saying why"
	else
		notok "ip-pool: without trust_caller: reply '$r'"; tail -3 "$D/sipovld3.log" | diag
	fi
	pool_down
	pool_slow_disk_tests
	pool_conns_tests
}

# pool_slow_disk_tests (from pool_tests): the lease file's fsync takes 3 s (slowfsync.so); a
# claim is answered once its lease is on disk, one made meanwhile after its own write, and
# sipovld answers meanwhile (the write was on the event loop: a status request waited for the
# fsync). Then the fsync fails (EIO): the change is refused and undone.
pool_slow_disk_tests() {
	local D=$W/pool sd=${SD:-$B/san/sipovld} zt=${SAN:-$B/san/zt-tool} pid rc cp t0 t1 t2 ts r q wp tw
	cat > "$D/slow.conf" <<CONF
{ "identities": ["$D/pool-server.json"], "control_socket": "$D/slow.sock", "log_level": "info",
  "service_poll_s": 1,
  "ip_pool": { "name": "voip-ips", "range": "100.127.0.0/24", "service": "ip-pool",
               "lease_file": "$D/slow.leases", "trust_caller": true } }
CONF
	rm -f "$D/slow.leases" "$D/slow.leases.tmp"
	LD_PRELOAD=$B/slowfsync.so SLOW_FSYNC_MS=3000 ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0 \
		"$sd" --no-kernel -c "$D/slow.conf" > "$D/sipovld-slow.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for _ in $(seq 1 240); do grep -q "service ip-pool: hosting" "$D/sipovld-slow.log" && break; sleep 0.25; done
	pool_counted "$D/slow.sock"
	t0=$(now_ms)
	{ "$zt" request -i "$ID/zt-host.json" -s ip-pool --send "claim voip-ips" --timeout-ms 30000 > "$D/slow-claim.out" 2>&1
	  now_ms > "$D/slow-claim.t"; } &
	cp=$!
	# the new lease file is written, its fsync under way: sipovld must still answer at once
	for _ in $(seq 1 200); do [ -e "$D/slow.leases.tmp" ] && break; sleep 0.05; done
	# a "who" with FIN (one request, as zt-tool and the endpoints before sessions send it) waits
	# behind the write: answered after it, then closed (not kept open for a next question)
	{ "$zt" request -i "$ID/zt-host.json" -s ip-pool --send "who voip-ips 100.127.0.250" --timeout-ms 30000 > "$D/slow-who.out" 2>&1
	  now_ms > "$D/slow-who.t"; } &
	wp=$!
	q=$(now_ms)
	r=$("$sd" --control "$D/slow.sock" --request status 2>/dev/null | jq -cn 'input | .ip_pool.leases')
	ts=$(($(now_ms) - q))
	# a second claim meanwhile waits its turn: answered after its own write
	"$zt" request -i "$ID/zt-client.json" -s ip-pool --send "claim voip-ips" --timeout-ms 30000 > "$D/slow-claim2.out" 2>&1
	t2=$(($(now_ms) - t0))
	wait "$cp" "$wp"
	t1=$(($(cat "$D/slow-claim.t") - t0))
	tw=$(($(cat "$D/slow-who.t") - t0))
	if [ -n "$r" ] && [ "$ts" -lt 1000 ]; then
		ok "ip-pool: sipovld answers status in $ts ms while the lease file's fsync takes 3 s"
	else
		notok "ip-pool: status during a 3 s fsync took $ts ms (answer '$r'; want < 1000 ms)"
	fi
	r=$(sed 's/ [a-z_]*=[^ ]*//g' "$D/slow-claim.out")
	if grep -q "^ok 100\.127\.0\." <<<"$r" && [ "$t1" -ge 3000 ] && grep -qF "${r#ok }" "$D/slow.leases"; then
		ok "ip-pool: the claim is answered ($r) after its lease is on disk ($t1 ms with a 3 s fsync)"
	else
		notok "ip-pool: claim during a slow fsync: '$r' after $t1 ms (want an address after >= 3000 ms)"
		tail -3 "$D/sipovld-slow.log" | diag
	fi
	if grep -q "^err nolease" "$D/slow-who.out" && [ "$tw" -lt $((t1 + 5000)) ]; then
		ok "ip-pool: a who sent with FIN during the write is answered after it and closed ($tw ms; the claim $t1 ms)"
	else
		notok "ip-pool: who with FIN during a slow fsync: '$(head -c 200 "$D/slow-who.out")' after $tw ms (the claim $t1 ms; want within 5 s of it)"
	fi
	q=$(sed 's/ [a-z_]*=[^ ]*//g' "$D/slow-claim2.out")
	if grep -q "^ok 100\.127\.0\." <<<"$q" && [ "$q" != "$r" ] && [ "$t2" -ge 6000 ] && grep -qF "${q#ok }" "$D/slow.leases"; then
		ok "ip-pool: a claim made during that write is answered after its own ($q, $t2 ms)"
	else
		notok "ip-pool: second claim during a slow fsync: '$q' after $t2 ms (want another address after >= 6000 ms)"
	fi
	kill -TERM "$pid" 2>/dev/null; wait "$pid"; rc=$?
	[ "$rc" = 0 ] && san_clean "$D/sipovld-slow.log" &&
		ok "ip-pool: clean exit after the slow-disk claims (no ASan/UBSan/leak report)" ||
		{ notok "ip-pool: sipovld exit $rc or sanitizer report (slow disk)"; tail -12 "$D/sipovld-slow.log" | diag; }
	# the disk fails: zt-host's release is refused and its lease kept
	LD_PRELOAD=$B/slowfsync.so SLOW_FSYNC_MS=0 SLOW_FSYNC_FAIL=1 ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0 \
		"$sd" --no-kernel -c "$D/slow.conf" > "$D/sipovld-eio.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for _ in $(seq 1 240); do grep -q "service ip-pool: hosting" "$D/sipovld-eio.log" && break; sleep 0.25; done
	pool_counted "$D/slow.sock"
	r=$("$zt" request -i "$ID/zt-host.json" -s ip-pool --send "release voip-ips" --timeout-ms 30000 2>&1)
	q=$("$sd" --control "$D/slow.sock" --request status 2>/dev/null |
		jq -cn 'input | .ip_pool | [.leases, .lease_file_write_errors]')
	if [ "${r%% lease file*}" = "err store" ] && [ "$q" = "[2,1]" ] && grep -q "fsync: Input/output error; the change is undone" "$D/sipovld-eio.log"; then
		ok "ip-pool: a lease file that cannot be written: '$r', the release undone (leases, write errors $q)"
	else
		notok "ip-pool: write error: reply '$r', [leases, write errors] $q (want 'err store ...', [2,1])"
		grep "ip_pool" "$D/sipovld-eio.log" | tail -3 | diag
	fi
	kill -TERM "$pid" 2>/dev/null; wait "$pid"; rc=$?
	[ "$rc" = 0 ] && san_clean "$D/sipovld-eio.log" &&
		ok "ip-pool: clean exit after the disk error (no ASan/UBSan/leak report)" ||
		{ notok "ip-pool: sipovld exit $rc or sanitizer report (disk error)"; tail -12 "$D/sipovld-eio.log" | diag; }
}

# pool_conns_tests (from pool_tests): the pool server's connections end when their identity
# stops (zt_ctx_free closed them without on_close: each leaked a slot of the 64 and its
# memory) and when a dialer holds one idle past ip_pool.idle_timeout_s.
pool_conns_tests() {
	local D=$W/pool sd=${SD:-$B/san/sipovld} zt=${SAN:-$B/san/zt-tool} pid rc dp t0 life open ids
	pool_conf4() { # identities (JSON list items)
		cat > "$D/sipovld4.conf" <<CONF
{ "identities": [$1], "control_socket": "$D/sipovld4.sock", "log_level": "info", "service_poll_s": 1,
  "ip_pool": { "name": "voip-ips", "range": "100.127.0.0/24", "service": "ip-pool",
               "lease_file": "$D/leases", "trust_caller": true, "idle_timeout_s": 4 } }
CONF
	}
	popen() { "$sd" --control "$D/sipovld4.sock" --request status 2>/dev/null | jq -en 'input | .ip_pool.connections_open'; }
	cp "$ID/zt-host.json" "$D/other.json"
	ids="\"$D/pool-server.json\", \"$D/other.json\""
	pool_conf4 "$ids"
	"$sd" --no-kernel -c "$D/sipovld4.conf" > "$D/sipovld4.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for _ in $(seq 1 240); do grep -q "service ip-pool: hosting" "$D/sipovld4.log" && break; sleep 0.25; done
	pool_counted "$D/sipovld4.sock"
	"$zt" dial -i "$ID/zt-client.json" -s ip-pool --mode recv --bytes 0 --timeout-ms 20000 > "$D/hold.log" 2>&1 &
	dp=$!
	for _ in $(seq 1 40); do [ "$(popen)" = 1 ] && break; sleep 0.1; done
	open=$(popen)
	pool_conf4 "\"$D/other.json\""
	"$sd" --control "$D/sipovld4.sock" --request reload > "$D/reload.out" 2>&1
	sleep 0.5
	if [ "$open" = 1 ] && [ "$(popen)" = 0 ]; then
		ok "ip-pool: a connection of an identity removed by a reload is closed with it (open 1, then 0)"
	else
		notok "ip-pool: identity removed with a connection open: open '$open', then '$(popen)'"
		tail -3 "$D/sipovld4.log" | diag
	fi
	kill "$dp" 2>/dev/null
	wait "$dp" 2>/dev/null
	pool_conf4 "$ids"
	"$sd" --control "$D/sipovld4.sock" --request reload > "$D/reload.out" 2>&1
	for _ in $(seq 1 240); do [ "$(grep -c "service ip-pool: hosting" "$D/sipovld4.log")" -ge 2 ] && break; sleep 0.25; done
	t0=$(now_ms)
	"$zt" dial -i "$ID/zt-client.json" -s ip-pool --mode recv --bytes 0 --timeout-ms 20000 > "$D/idle.log" 2>&1
	life=$(($(now_ms) - t0))
	r=$("$sd" --control "$D/sipovld4.sock" --request status 2>/dev/null |
		jq -cn 'input | .ip_pool | [.connections_open, .connections_idle_closed]')
	if [ "$life" -ge 3500 ] && [ "$life" -le 12000 ] && [ "$r" = "[0,1]" ]; then
		ok "ip-pool: a dialer that sends nothing is closed after ip_pool.idle_timeout_s 4 ($life ms; open, idle-closed $r)"
	else
		notok "ip-pool: an idle connection lived $life ms (idle_timeout_s 4; open, idle-closed '$r')"
		tail -3 "$D/sipovld4.log" | diag
	fi
	kill -TERM "$pid" 2>/dev/null; wait "$pid"; rc=$?
	[ "$rc" = 0 ] && san_clean "$D/sipovld4.log" &&
		ok "ip-pool: clean exit after the connection tests (no ASan/UBSan/leak report)" ||
		{ notok "ip-pool: sipovld exit $rc or sanitizer report"; grep -A6 "LeakSanitizer\|ERROR:" "$D/sipovld4.log" | head -12 | diag; }
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cd "$(dirname "$0")/../.." || exit 1
	TOP=$PWD
	B=${O:-$TOP/build}
	SAN=${SAN:-$B/san/zt-tool}
	SD=${SD:-$B/san/sipovld}
	# shellcheck source=tests/ziti/lib.sh
	. "$TOP/tests/ziti/lib.sh"
	zt_standalone zt-auth "${1:-}"
	bg "$W/echo.log" python3 "$ECHO" serve "$ZN_TCP_ECHO_PORT" "$ZN_UDP_ECHO_PORT"
	# AUTH_TESTS: some of them (default: all)
	for t in ${AUTH_TESTS:-srcmap_tests posture_tests posture_process_tests pool_tests}; do
		"$t"
	done
	zt_plan
fi
