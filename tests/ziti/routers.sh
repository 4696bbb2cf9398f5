#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Two edge routers: router selection and failover of the native Ziti client and sipovld
# (sourced by tests/ziti/run.sh, which calls routers_tests; or run alone against a network from
# `zitinet.sh start DIR`: tests/ziti/routers.sh DIR, TAP output). A second router r2 is added
# to the network if it has none. Measured:
#   1. hosting: sipovld (--no-kernel) binds its hosted UDP service rt-udp on both routers
#      (two terminators at the controller);
#   2. first dial while one router is silently dead (SIGSTOP: TCP connects, TLS never
#      answers): a fresh client dials the unhosted zt-nohost and must have the router's
#      answer ("no terminators") within ZT_RT_FIRST_BOUND ms (default 4000), whichever of the
#      two routers is the dead one (one listed first waited out the 15 s connect timeout);
#   3. a paced UDP stream (RTP-like: 160 B every 20 ms, echoed by the target behind sipovld)
#      while the router carrying it is killed (SIGKILL), then, once it is back and sipovld
#      bound on it again, while the router carrying a new stream is stopped (SIGSTOP): the
#      longest time without an echo (the gap; to the end of the stream if the echoes never
#      came back) and the datagrams lost, with bounds ZT_RT_GAP_KILL (1000 ms) and
#      ZT_RT_GAP_STOP (1000 ms) on the gap and on the loss (20 ms per datagram lost): a call's RTP
#      resumes within one second whether its router dies or stops answering;
#   4. the only router up paused 2 s under a paced stream: the circuit is kept (rt_lone_pause).
# ZT_RT_SOAK=N repeats scenario 3 N times (make soak).

rt_log_router() { # log: the router a dial connected on ("connected on router rN"), or ss
	local r
	r=$(grep -o "connected on router [a-z0-9-]*" "$1" 2>/dev/null | tail -1 | awk '{print $4}')
	if [ -z "$r" ] && [ -n "${2:-}" ]; then
		local p a
		p=$(ss -tnpH state established 2>/dev/null | grep "pid=$2," | awk '{print $4}' | sort -u)
		for a in $p; do
			[ "$a" = "$ZN_ROUTER_ADDR" ] && r=r1
			[ "$a" = "${ZN_ROUTER_ADDR_r2:-none}" ] && r=r2
		done
		[ "$(echo "$p" | grep -c .)" = 1 ] || r=
	fi
	echo "$r"
}

# rt_stream FAULT TAG: paced stream through sipovld, FAULT its router after 2 s: kill, pause
# (stopped until the caller resumes it) or pause2s (stopped for 2 s, then resumed).
# Sets rt_gap rt_lost rt_router; returns 1 if the stream could not be measured.
rt_stream() {
	local fault=$1 log=$W/rt-$2.log pid r t
	rt_gap='' rt_lost='' rt_router=''
	"$SAN" dial -i "$ID/zt-host.json" -s rt-udp --udp --count 400 --size 160 --pace-ms 20 \
		--timeout-ms 60000 -v > "$log" 2>&1 &
	pid=$!
	for _ in $(seq 1 80); do
		r=$(rt_log_router "$log" "$pid")
		[ -n "$r" ] && break
		sleep 0.1
	done
	rt_router=$r
	if [ -z "$r" ]; then
		kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
		return 1
	fi
	sleep 2
	t=$(now_ms)
	if [ "$fault" = kill ]; then
		"$ZN" router-kill "$NET" "$r" > "$W/rt-fault.log" 2>&1
	else
		"$ZN" router-pause "$NET" "$r" > "$W/rt-fault.log" 2>&1
		[ "$fault" = pause2s ] && sleep 2 && "$ZN" router-resume "$NET" "$r" > "$W/rt-fault.log" 2>&1
	fi
	echo "fault $fault $r at $t (done at $(now_ms))" >> "$log.faults"
	wait "$pid"
	rt_gap=$(sed -n 's/.*longest gap between echoes \([0-9]*\) ms.*/\1/p' "$log" | tail -1)
	rt_lost=$(sed -n 's/.* \([0-9]*\) lost$/\1/p' "$log" | tail -1)
	[ -n "$rt_gap" ] && [ -n "$rt_lost" ]
}

# 4. The only router up (r2 stopped) stops answering for 2 s (paused, as a host short of CPU
# does) while a paced stream goes through it: its channels are kept, so the stream's circuit
# lives on and what was sent meanwhile arrives late, not lost (the channels were closed
# after 1.3 s: the circuit was gone and the stream dialed again once the router was back).
rt_lone_pause() {
	local early all l0 bound=30000
	l0=$(wc -l < "$W/rt-sipovld.log")
	"$ZN" router-stop "$NET" r2 > "$W/rt-fault.log" 2>&1
	for _ in $(seq 1 80); do [ "$(rt_terms)" -le 1 ] && break; sleep 0.25; done
	rt_stream pause2s lone
	# sipovld's and the dialer's log lines since this scenario began (the earlier scenarios
	# close a stopped router's channels). A lone channel may be closed only once its probe has
	# been unanswered lone_timeout_ms (30000, the default): the paused router, once
	# resumed, must answer what it was sent meanwhile, and a host short of CPU (a cold make
	# check's load, other clients of the same router) can take that long; any earlier close
	# is the defect this scenario is for.
	{ sed 's/^/dialer: /' "$W/rt-lone.log"; tail -n +"$((l0 + 1))" "$W/rt-sipovld.log" | sed 's/^/sipovld: /'; } |
		grep -v DEBUG > "$W/rt-lone.lines"
	early=$(grep -o "latency probe not answered within [0-9]* ms" "$W/rt-lone.lines" | awk -v b=$bound '$6 < b' | wc -l)
	all=$(grep -c "latency probe not answered\|dialing again" "$W/rt-lone.lines")
	if [ "$rt_router" = r1 ] && [ -n "$rt_lost" ] && [ "$rt_lost" -le 12 ] && [ "$early" = 0 ]; then
		ok "routers: the only router paused 2 s under a paced stream: circuit kept, $rt_lost of 400 lost, no channel closed before ${bound} ms without an answer ($all close or redial lines)"
	else
		notok "routers: the only router ($rt_router) paused 2 s: ${rt_lost:-?} of 400 lost (want <= 12), $early channel closes before ${bound} ms without an answer (want 0; $all close or redial lines)"
		grep "latency probe\|dialing again\|keeping its circuits\|answered after\|r1" "$W/rt-lone.lines" | tail -12 | diag
		diag < "$W/rt-lone.log.faults"
	fi
	"$ZN" router-start "$NET" r2 > "$W/last.out" 2>&1 || { notok "routers: restart r2"; diag < "$W/last.out"; }
}

rt_terms() { # number of distinct routers holding a terminator of rt-udp
	"$ZN" cli "$NET" edge list terminators 'service.name="rt-udp"' -j 2>/dev/null |
		jq -r '[.data[].router.name] | unique | length' 2>/dev/null
}

rt_wait_terms() { # N tries: wait until rt-udp has terminators on N routers
	local c=0
	for _ in $(seq 1 "$2"); do
		c=$(rt_terms); [ "${c:-0}" -ge "$1" ] && break
		sleep 0.25
	done
	echo "${c:-0}"
}

routers_tests() {
	local SDR=$B/san/sipovld SDPID t0 t1 r c ok1 d why stopped i rounds=${ZT_RT_SOAK:-1}
	local first_bound=${ZT_RT_FIRST_BOUND:-4000} gap_kill=${ZT_RT_GAP_KILL:-1000} gap_stop=${ZT_RT_GAP_STOP:-1000}

	if [ ! -x "$SDR" ]; then
		skip "routers: failover tests" "$SDR not built"
		return
	fi
	if [ -z "${ZN_ROUTER_ADDR_r2:-}" ]; then
		if ! "$ZN" add-router "$NET" r2 > "$W/rt-add.log" 2>&1; then
			notok "routers: add a second edge router r2"; tail -5 "$W/rt-add.log" | diag
			return
		fi
		# shellcheck disable=SC1091
		. "$NET/env"
	fi
	ok "routers: second edge router r2 online ($ZN_ROUTER_ADDR_r2)"
	"$ZN" cli "$NET" edge list services 'name="rt-udp"' -j 2>/dev/null | grep -q '"name": *"rt-udp"' ||
	{ "$ZN" cli "$NET" edge create config rt-udp-host host.v1 \
		"{\"protocol\":\"udp\",\"address\":\"127.0.0.1\",\"port\":$ZN_UDP_ECHO_PORT}" &&
	  "$ZN" cli "$NET" edge create service rt-udp -e ON -c rt-udp-host &&
	  "$ZN" cli "$NET" edge create service-policy rt-bind Bind --service-roles @rt-udp --identity-roles @zt-client &&
	  "$ZN" cli "$NET" edge create service-policy rt-dial Dial --service-roles @rt-udp --identity-roles @zt-host
	} > "$W/last.out" 2>&1 || { notok "routers: create the rt-udp service"; diag < "$W/last.out"; return; }
	cat > "$W/rt-sipovld.conf" <<CONF
{ "identities": ["$ID/zt-client.json"], "control_socket": "$W/rt-sipovld.sock", "log_level": "info",
  "service_poll_s": 1 }
CONF
	"$SDR" --no-kernel -c "$W/rt-sipovld.conf" > "$W/rt-sipovld.log" 2>&1 &
	SDPID=$!
	PIDS+=("$SDPID")

	# 1. terminators on both routers
	c=$(rt_wait_terms 2 120)
	if [ "$c" -ge 2 ]; then
		ok "routers: sipovld hosts rt-udp with terminators on $c routers"
	else
		notok "routers: sipovld hosts rt-udp on at least 2 routers (terminators on $c)"
		grep -i "bound\|rt-udp" "$W/rt-sipovld.log" | tail -5 | diag
	fi
	# a binding of the group losing the race for a router at start is not the admin's problem
	if ! grep -q '^<[0-4]>service rt-udp: hosting' "$W/rt-sipovld.log"; then
		ok "routers: no warning or error about hosting rt-udp while its bindings shared out the routers"
	else
		notok "routers: a warning about hosting rt-udp at start"; grep '^<[0-4]>' "$W/rt-sipovld.log" | head -3 | diag
	fi

	# 2. first dial with one router silently dead
	for r in r1 r2; do
		"$ZN" router-pause "$NET" "$r" > "$W/last.out" 2>&1 || { notok "routers: pause $r"; diag < "$W/last.out"; continue; }
		t0=$(now_ms)
		"$SAN" dial -i "$ID/zt-client.json" -s zt-nohost --timeout-ms 30000 > "$W/rt-first.log" 2>&1
		t1=$(now_ms)
		"$ZN" router-resume "$NET" "$r" > /dev/null 2>&1
		why=$(grep -o -E "refused by network.{0,40}|cannot reach.{0,60}|timed out.{0,30}" "$W/rt-first.log" | head -1)
		if [ $((t1 - t0)) -le "$first_bound" ] && grep -q "refused by network" "$W/rt-first.log"; then
			ok "routers: first dial with $r stopped (SIGSTOP) reached the other router in $((t1 - t0)) ms ($why)"
		else
			notok "routers: first dial with $r stopped: $((t1 - t0)) ms (bound $first_bound ms): $why"
		fi
	done
	# let the resumed router's control channel settle before the streams
	c=$(rt_wait_terms 2 80)

	# 3. live UDP stream, its router killed, then (another stream) its router stopped
	for i in $(seq 1 "$rounds"); do
		for f in kill pause; do
			d="routers: paced UDP stream through sipovld (20 ms, 400 x 160 B), its router"
			[ "$f" = kill ] && d="$d killed (SIGKILL)" || d="$d stopped (SIGSTOP)"
			[ "$rounds" -gt 1 ] && d="$d, round $i"
			local bound=$gap_kill
			[ "$f" = pause ] && bound=$gap_stop
			if rt_stream "$f" "$f$i"; then
				# what was sent during the gap is lost, nothing more (20 ms per datagram)
				if [ "$rt_gap" -le "$bound" ] && [ $((rt_lost * 20)) -le "$bound" ]; then
					ok "$d ($rt_router): longest gap $rt_gap ms, $rt_lost lost (bound $bound ms)"
				else
					notok "$d ($rt_router): longest gap $rt_gap ms, $rt_lost lost (bound $bound ms)"
					grep -E "FAILED|router|redial" "$W/rt-$f$i.log" | tail -6 | diag
				fi
			else
				notok "$d: stream not measured (router '$rt_router')"; tail -6 "$W/rt-$f$i.log" | diag
			fi
			stopped=$rt_router
			[ -z "$stopped" ] && continue
			if [ "$f" = pause ]; then
				"$ZN" router-resume "$NET" "$stopped" > /dev/null 2>&1
			else
				"$ZN" router-start "$NET" "$stopped" > "$W/last.out" 2>&1 ||
					{ notok "routers: restart $stopped"; diag < "$W/last.out"; }
			fi
			# sipovld binds again on the router that came back
			t0=$(now_ms)
			c=$(rt_wait_terms 2 160)
			if [ "$c" -ge 2 ]; then
				[ "$f" = kill ] && ok "routers: sipovld bound rt-udp on $stopped again, terminators on $c routers after $(($(now_ms) - t0)) ms"
			else
				notok "routers: sipovld re-binds on $stopped after it came back (terminators on $c routers)"
			fi
		done
	done
	rt_lone_pause
	kill -TERM "$SDPID"
	wait "$SDPID"
	ok1=$?
	if [ "$ok1" = 0 ] && ! grep -q -E "ERROR: AddressSanitizer|runtime error:|LeakSanitizer" "$W/rt-sipovld.log" \
		"$W"/rt-*.log; then
		ok "routers: sipovld and the dialers exit cleanly after the router faults (no ASan/UBSan/leak report)"
	else
		notok "routers: sipovld exit $ok1 after the router faults, or a sanitizer report"
		grep -h -A12 -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$W"/rt-*.log | head -30 | diag
	fi
}

# run alone: tests/ziti/routers.sh DIR (a network from zitinet.sh start)
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cd "$(dirname "$0")/../.." || exit 1
	TOP=$PWD
	B=${O:-$TOP/build}
	SAN=$B/san/zt-tool
	# shellcheck source=tests/ziti/lib.sh
	. "$TOP/tests/ziti/lib.sh"
	zt_standalone zt-rt "${1:-}"
	bg "$W/echo.log" python3 "$ECHO" serve "$ZN_TCP_ECHO_PORT" "$ZN_UDP_ECHO_PORT"
	routers_tests
	zt_plan
fi
