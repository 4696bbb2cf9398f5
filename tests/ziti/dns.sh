#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Name resolution of the native Ziti client (sourced by tests/ziti/run.sh, which calls
# dns_tests; or run alone against a network from `zitinet.sh start DIR`:
# tests/ziti/dns.sh DIR, TAP output).
#
# The client runs in a private mount namespace (unshare -m) whose /etc/resolv.conf names a
# fake DNS server (tests/ziti/fakedns.py on a random 127.x.y.z:53) and whose /etc/hosts does
# not know the controller's host name, so every lookup of it goes to that server. The identity
# names the controller by a DNS name of its certificate. Measured:
#   1. a live paced datagram flow (RTP-like, 20 ms) while the server answers each query 3 s
#      late (TTL 0, so every controller request looks the name up again): the largest echo
#      latency of a datagram must stay far below the resolver delay (blocking getaddrinfo in
#      the event loop: ~3 s);
#   2. a name that resolves to an unreachable address first (::1, where the controller does
#      not listen) and a working one second: the client must try the second;
#   3. TTL honoured: answers with TTL 60 while the client makes a controller request every
#      500 ms for 6 s: one query per record type;
#   4. a resolver that never answers: a clear error, and the client recovers by itself once
#      the resolver answers again;
#   5. sipovld (--no-kernel, in the namespace) hosting a UDP service whose host.v1 address is
#      a host name: a live paced flow through it while new dials to the service each wait 3 s
#      for the resolver: the live flow's echo latency must stay far below 3 s; and a hosted TCP
#      service whose address resolves to ::1 (nothing listens) then 127.0.0.1: the second is
#      tried.
# Needs root (mount namespace, port 53); skipped otherwise.

dns_tests() {
	local D=$W/dns name rc pid lat over lost n_slow t_slow
	# shellcheck source=tests/ziti/fakedns.sh
	. "$TOP/tests/ziti/fakedns.sh"
	if ! fakedns_usable; then
		skip "dns: resolver tests" "need root and unshare -m"
		return
	fi
	mkdir -p "$D"
	# a host name the controller has a certificate for (zitinet.sh alt_cert; not localhost,
	# which c-ares answers itself)
	name=${ZN_CTRL_NAME:-}
	if [ -z "$name" ]; then
		skip "dns: resolver tests" "the test network has no ZN_CTRL_NAME (made by an older zitinet.sh)"
		return
	fi
	fakedns_byname "$ID/zt-client.json" "$D/byname.json" "$name"
	dns_mode() { fakedns_mode "$D" "$@"; }
	local in_ns=$D/ns.sh
	paced() { # zt-tool dial --pace-ms output -> "latency_max over_100ms lost"
		sed -n 's/^dial: paced [0-9]* ms: latency max \([0-9]*\) ms.*, \([0-9]*\) datagrams over 100 ms, \([0-9]*\) lost$/\1 \2 \3/p' "$1"
	}
	dns_queries() { # since-epoch-ms -> number of queries for $name logged after it
		awk -v t="$1" -v n="$name" '$1 > t && $2 == n' "$D/queries.log" | wc -l
	}
	: > "$D/queries.log"
	dns_mode answer 0
	fakedns_start "$D" "$name=127.0.0.1" "echo.zt.test=127.0.0.1" "echo2.zt.test=::1,127.0.0.1" ||
		{ notok "dns: fake DNS server did not start"; diag < "$D/fakedns.out"; return; }
	local dns_pid=$FD_PID

	# 1. a paced datagram flow while every controller lookup takes 3 s
	local t0
	dns_mode answer 0
	t0=$(now_ms)
	bg "$D/flow.out" "$in_ns" "$SAN" dial -i "$D/byname.json" -s zt-udp-e2e --udp --count 400 --size 172 \
		--pace-ms 20 --poll-ms 1000 --timeout-ms 60000 -v
	pid=$BGPID
	for _ in $(seq 1 120); do grep -q "connected (id" "$D/flow.out" && break; sleep 0.25; done
	t_slow=$(now_ms)
	dns_mode delay 3000 0
	wait "$pid"
	rc=$?
	dns_mode answer 0
	n_slow=$(awk -v t="$t_slow" -v n="$name" '$1 > t && $2 == n && $3 == "A"' "$D/queries.log" | wc -l)
	read -r lat over lost < <(paced "$D/flow.out")
	if [ $rc -eq 0 ] && [ -n "$lat" ] && [ "$n_slow" -ge 2 ] && [ "$lat" -lt 1000 ] && san_clean "$D/flow.out"; then
		ok "dns: a live datagram flow (1 per 20 ms, 8 s) while $n_slow controller lookups took 3 s each: echo latency max $lat ms, $over datagrams over 100 ms, $lost lost"
	else
		notok "dns: live datagram flow while the resolver answers 3 s late (exit $rc, latency max ${lat:-?} ms, ${over:-?} over 100 ms, ${lost:-?} lost, $n_slow slow lookups; bound 1000 ms)"
		grep -E "^dial:|FAILED|WARN|ERROR" "$D/flow.out" | tail -6 | diag
	fi

	# 2. first address unreachable, second works
	kill "$dns_pid"; wait "$dns_pid" 2>/dev/null
	: > "$D/fakedns.out"
	fakedns_start "$D" "$name=::1,127.0.0.1" "echo.zt.test=127.0.0.1" "echo2.zt.test=::1,127.0.0.1"
	dns_pid=$FD_PID
	dns_mode answer 0
	"$in_ns" "$SAN" services -i "$D/byname.json" > "$D/two.out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && grep -q "^zt-udp-e2e " "$D/two.out" && san_clean "$D/two.out"; then
		ok "dns: $name resolves to ::1 (nothing listens) then 127.0.0.1: the second address is tried and works"
	else
		notok "dns: every address tried (::1 refused, then 127.0.0.1) (exit $rc)"; tail -4 "$D/two.out" | diag
	fi

	# back to one address for the rest
	kill "$dns_pid"; wait "$dns_pid" 2>/dev/null
	: > "$D/fakedns.out"
	fakedns_start "$D" "$name=127.0.0.1" "echo.zt.test=127.0.0.1" "echo2.zt.test=::1,127.0.0.1"
	dns_pid=$FD_PID

	# 3. TTL honoured
	dns_mode answer 60
	t0=$(now_ms)
	"$in_ns" "$SAN" dial -i "$D/byname.json" -s zt-udp-e2e --udp --count 300 --size 172 --pace-ms 20 \
		--poll-ms 500 --timeout-ms 60000 > "$D/ttl.out" 2>&1
	rc=$?
	local q
	q=$(dns_queries "$t0")
	if [ $rc -eq 0 ] && [ "$q" -le 2 ] && [ "$q" -ge 1 ] && san_clean "$D/ttl.out"; then
		ok "dns: answers with TTL 60 s are cached: $q queries for $name (A+AAAA) during 6 s of controller polls every 500 ms"
	else
		notok "dns: TTL cache: $q queries for $name during 6 s of polls every 500 ms with TTL 60 (exit $rc; want 1-2)"
		tail -3 "$D/ttl.out" | diag
	fi

	# 4. a resolver that never answers: clear error, recovery once it answers
	dns_mode drop
	: > "$D/drop.log"
	t0=$(now_ms)
	bg "$D/drop.err" "$in_ns" "$SAN" probe -i "$D/byname.json" -s zt-e2e --interval-ms 500 --log "$D/drop.log" -v
	pid=$BGPID
	local seen=
	for _ in $(seq 1 120); do
		grep -q -E "cannot resolve $name" "$D/drop.err" 2>/dev/null && { seen=1; break; }
		sleep 0.25
	done
	if [ -n "$seen" ]; then
		ok "dns: resolver silent: a clear error after $(( $(now_ms) - t0 )) ms: $(grep -o -E "cannot resolve $name.{0,60}" "$D/drop.err" | head -1)"
	else
		notok "dns: resolver silent: no clear error within 30 s"; tail -4 "$D/drop.err" | diag
	fi
	dns_mode answer 0
	local t1 r
	t1=$(now_ms)
	r=$(wait_ok_after "$D/drop.log" "$t1" 30000)
	if [ -n "$r" ]; then
		ok "dns: resolver answers again: the client retried by itself, first good dial ${r} ms later"
	else
		notok "dns: no good dial within 30 s after the resolver answered again"; tail -4 "$D/drop.log" | diag
	fi
	kill -TERM "$pid"; wait "$pid"
	rc=$?
	[ $rc -eq 0 ] && san_clean "$D/drop.err" && ok "dns: clean exit after the resolver faults (no ASan/UBSan/leak report)" ||
		{ notok "dns: clean exit after the resolver faults (exit $rc)"; grep -A10 -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/drop.err" | head -20 | diag; }

	# 5. sipovld hosting a service whose target is a host name
	local SD=$B/san/sipovld sd_pid
	if [ ! -x "$SD" ]; then
		notok "dns: $SD not built"
	else
		# (left over from an earlier run against the same network)
		{ cli edge delete service-policy dns-bind; cli edge delete service-policy dns-dial
		  cli edge delete service dns-udp; cli edge delete config dns-udp-host
		  cli edge delete service dns-tcp; cli edge delete config dns-tcp-host; } > /dev/null 2>&1
		{ cli edge create config dns-udp-host host.v1 \
			"{\"protocol\":\"udp\",\"address\":\"echo.zt.test\",\"port\":$ZN_UDP_ECHO_PORT}" &&
		  cli edge create config dns-tcp-host host.v1 \
			"{\"protocol\":\"tcp\",\"address\":\"echo2.zt.test\",\"port\":$ZN_TCP_ECHO_PORT}" &&
		  cli edge create service dns-udp -c dns-udp-host && cli edge create service dns-tcp -c dns-tcp-host &&
		  cli edge create service-policy dns-bind Bind --service-roles @dns-udp,@dns-tcp --identity-roles @zt-client &&
		  cli edge create service-policy dns-dial Dial --service-roles @dns-udp,@dns-tcp --identity-roles @zt-host
		} > "$D/cli.out" 2>&1 || { notok "dns: create the dns-udp service"; diag < "$D/cli.out"; }
		cat > "$D/sipovld.conf" <<CONF
{ "identities": ["$ID/zt-client.json"], "control_socket": "$D/sipovld.sock", "log_level": "info",
  "service_poll_s": 1 }
CONF
		dns_mode answer 0
		bg "$D/sipovld.log" "$in_ns" "$SD" --no-kernel -c "$D/sipovld.conf"
		sd_pid=$BGPID
		for _ in $(seq 1 160); do
			"$SD" --control "$D/sipovld.sock" --request status 2>/dev/null |
				jq -en 'input | [.services[] | select(.name == "dns-udp" or .name == "dns-tcp") | .host.listening] == [true, true]' \
				> /dev/null 2>&1 && break
			sleep 0.25
		done
		# the router may learn of the terminator a little after sipovld's BindSuccess
		for _ in $(seq 1 40); do
			"$FAST" dial -i "$ID/zt-host.json" -s dns-udp --udp --count 1 --size 100 --timeout-ms 5000 \
				> "$D/ready.out" 2>&1 && break
			sleep 0.5
		done
		bg "$D/hflow.out" "$SAN" dial -i "$ID/zt-host.json" -s dns-udp --udp --count 400 --size 172 --pace-ms 20 \
			--timeout-ms 60000 -v
		pid=$BGPID
		for _ in $(seq 1 120); do grep -q "connected (id" "$D/hflow.out" && break; sleep 0.25; done
		sleep 1
		t_slow=$(now_ms)
		dns_mode delay 3000 0
		local k newpids=()
		for k in 1 2 3; do
			"$FAST" dial -i "$ID/zt-host.json" -s dns-udp --udp --count 1 --size 100 --timeout-ms 20000 \
				> "$D/hnew$k.out" 2>&1 &
			newpids+=("$!")
			PIDS+=("$!")
			sleep 1
		done
		wait "$pid"
		rc=$?
		dns_mode answer 0
		n_slow=$(awk -v t="$t_slow" '$1 > t && $2 == "echo.zt.test" && $3 == "A"' "$D/queries.log" | wc -l)
		lat=; over=; lost=
		read -r lat over lost < <(paced "$D/hflow.out")
		if [ $rc -eq 0 ] && [ -n "$lat" ] && [ "$n_slow" -ge 2 ] && [ "$lat" -lt 1000 ]; then
			ok "dns: sipovld hosting: a live datagram flow (1 per 20 ms, 8 s) while $n_slow new dials waited 3 s for the target's name: echo latency max $lat ms, $over datagrams over 100 ms, $lost lost"
		else
			notok "dns: sipovld hosting: live flow while new dials wait 3 s for the resolver (exit $rc, latency max ${lat:-?} ms, ${over:-?} over 100 ms, ${lost:-?} lost, $n_slow slow lookups; bound 1000 ms)"
			grep -E "^dial:|FAILED" "$D/hflow.out" | tail -4 | diag; grep -E "dns-udp" "$D/sipovld.log" | tail -4 | diag
		fi
		wait "${newpids[@]}"
		"$SAN" dial -i "$ID/zt-host.json" -s dns-tcp --bytes 10000 --timeout-ms 20000 > "$D/tcp2.out" 2>&1
		rc=$?
		if [ $rc -eq 0 ] && san_clean "$D/tcp2.out"; then
			ok "dns: sipovld hosting TCP to echo2.zt.test = ::1 (nothing listens), 127.0.0.1: the second address is tried, 10 KB echoed"
		else
			notok "dns: sipovld hosting TCP to a name whose first address refuses (exit $rc)"
			grep -E "FAILED|dial:" "$D/tcp2.out" | tail -3 | diag; grep "dns-tcp" "$D/sipovld.log" | tail -3 | diag
		fi
		kill -TERM "$sd_pid"; wait "$sd_pid"
		rc=$?
		[ $rc -eq 0 ] && san_clean "$D/sipovld.log" && ok "dns: clean exit: sipovld after hosted dials to a host name (exit 0, no ASan/UBSan/leak report)" ||
			{ notok "dns: clean exit: sipovld (exit $rc)"; grep -A10 -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/sipovld.log" | head -20 | diag; }
	fi
	kill "$dns_pid" 2>/dev/null; wait "$dns_pid" 2>/dev/null
}

# run alone: tests/ziti/dns.sh NETDIR
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cd "$(dirname "$0")/../.." || exit 1
	TOP=$PWD
	B=${O:-$TOP/build}
	SAN=$B/san/zt-tool
	FAST=$B/zt-tool
	# shellcheck source=tests/ziti/lib.sh
	. "$TOP/tests/ziti/lib.sh"
	zt_standalone zt-dns "${1:-}"
	# what run.sh runs for these tests: an echo host for zt-e2e and zt-udp-e2e, the echo server
	bg "$W/echo.log" python3 "$ECHO" serve "$ZN_TCP_ECHO_PORT" "$ZN_UDP_ECHO_PORT"
	bg "$W/host.log" "$SAN" host -i "$ID/zt-host.json" -s zt-e2e,zt-udp-e2e:udp --ready-file "$W/host.ready"
	wait_file "$W/host.ready" 120 || { echo "Bail out! host not ready"; tail "$W/host.log"; exit 1; }
	dns_tests
	zt_plan
fi
