#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sipovld end to end (setup in daemon-lib.sh): two sites joined by a Ziti network, each gateway running sipovl.ko and
# sipovld with its own identity. Checks that Ziti services program the kernel, that TCP and
# UDP (IPv4 and IPv6) cross the overlay both ways with the caller's real source address seen
# by the target, that a port the hosting side does not allow is refused, that a SIP call
# (SIPp, UDP and TCP signalling) with RTP echoed on a port-range intercept completes with the
# callee seeing the caller's real IP, that a UDP stream both phones start at the same moment
# converges on one circuit, that a call with audio and video has both streams' quality in its
# CDR and in sipovlctl calls, that RTP quality under netem loss and jitter is reported within
# tolerance with one-way audio detected, that netem reordering is counted as reordering (what
# the receiving phone saw) and not as loss, that gw-a with two worker processes spreads intercepted
# UDP flows over both and sums them in status, and that SIGTERM removes everything sipovld installed.
#
#   PA 10.1.0.2 fd01::2 -- GWA 10.1.0.1 | 10.99.1.2 -- ZT 10.99.0.1 -- 10.99.2.2 | GWB 10.2.0.1 -- PB 10.2.0.2 fd02::2
#   (phone A)              (gw-a)            (controller+router)          (gw-b)        (SIP server, phone B)
#
# The Ziti network is provisioned on the host by tests/daemon/vmnet.sh (make tests builds
# build/daemon-zitinet.tar.gz) and only run here (see there why).
#
# SIPOVL_DAEMON_DEMO=1: print the demo report (calls, RTP packets each way, sipovlctl stats) too,
# as "# demo: " lines (daemon/demo/demo.sh shows them).
source "$(dirname "$0")/daemon-lib.sh"
SD=$(cd "$(dirname "$0")" && pwd) # av.py, rxorder.py, sipcmp.py

daemon_net daemon
# Each gateway knows which site may claim which sources (source_map; ziti 1.x routers send
# no dialer identity, so the caller id is trusted): a stream both phones start at once
# converges on one circuit only when the hosted dial's dialer was checked as the owner of
# the far phone's address (daemon/flows_pair.c).
SRCMAP='"source_identity": "caller",
  "source_map": { "gw-a": ["10.1.0.0/24", "fd01::/64"], "gw-b": ["10.2.0.0/24", "fd02::/64"] }'
for s in a b; do printf '{ %s }\n' "$SRCMAP" >"$TMP/$s.conf"; done
# gw-a's metrics endpoint (Prometheus), in its namespace
printf '{ %s, "metrics_listen": "127.0.0.1:9477" }\n' "$SRCMAP" >"$TMP/a.conf"
start_gw a "$GWA" -c "$TMP/a.conf" --udp-idle-timeout 30
start_gw b "$GWB" -c "$TMP/b.conf" --udp-idle-timeout 30
gateways_ready

# Each gateway runs the default "workers": "auto", one worker per usable CPU (the guest's
# vCPUs: one in make check, two in make demo) and registers one socket per worker, family and
# protocol.
ncpu=$(nproc)
for g in "a GWA" "b GWB"; do
	set -- $g
	socks=$(ip netns exec "${!2}" "$CTL" -j socket show)
	if jq -en --argjson n "$ncpu" 'input | length == 4 * $n and all(.[]; .members == $n and .alive) and
		([.[] | [.family, .protocol]] | unique | length) == 4' <<<"$socks" >/dev/null &&
		st "$1" | jq -en --argjson n "$ncpu" 'input | .config.workers_setting == "auto" and .config.workers == $n' >/dev/null; then
		ok "gw-$1 (workers auto, $ncpu CPU(s)): $ncpu registered socket(s) per family and protocol"
	else
		not_ok "gw-$1 (workers auto, $ncpu CPU(s)): $ncpu registered socket(s) per family and protocol" "$socks" \
			"$(st "$1" | jq -c '.config' | head -c 300)"
	fi
done

# The kernel table is what the service says.
tbl=$(ip netns exec "$GWA" "$CTL" -j intercept show)
if jq -en 'input | .[] | select(.name == "site-b") | (.destinations | sort) == ["10.2.0.0/24","fd02::/64"] and
	(.ports | length) == 3' <<<"$tbl" >/dev/null; then
	ok "gw-a kernel intercept site-b: CIDRs and port ranges from intercept.v1"
else
	not_ok "gw-a kernel intercept site-b: CIDRs and port ranges from intercept.v1" "$tbl"
fi
src=$(ip netns exec "$GWB" "$CTL" -j config show 2>/dev/null || ip netns exec "$GWB" "$CTL" -j sources show)
if grep -q '10.1.0.0/24' <<<"$src" && grep -q 'fd01::/64' <<<"$src"; then
	ok "gw-b transparent sources = host.v1 allowedSourceAddresses"
else
	not_ok "gw-b transparent sources = host.v1 allowedSourceAddresses" "$src"
fi

# --- plain TCP/UDP across the overlay, real source seen by the target
bg "$PB" eb-u4 "$PEER" echo --udp --bind 10.2.0.2:7000
bg "$PB" eb-t4 "$PEER" echo --tcp --bind 10.2.0.2:7001
bg "$PB" eb-u6 "$PEER" echo --udp --bind '[fd02::2]:7000'
bg "$PB" eb-t6 "$PEER" echo --tcp --bind '[fd02::2]:7001'
bg "$PA" ea-u4 "$PEER" echo --udp --bind 10.1.0.2:7000
bg "$PA" ea-t4 "$PEER" echo --tcp --bind 10.1.0.2:7001

expect "udp4 A->B across the overlay, target sees 10.1.0.2" '^ECHO 10\.1\.0\.2:[0-9]+ u4$' \
	in_pa "$PEER" send --udp --timeout 20 --dst 10.2.0.2:7000 --msg u4
expect "tcp4 A->B across the overlay, target sees 10.1.0.2" '^ECHO 10\.1\.0\.2:[0-9]+ t4$' \
	in_pa "$PEER" send --tcp --timeout 20 --dst 10.2.0.2:7001 --msg t4
expect "udp6 A->B across the overlay, target sees fd01::2" '^ECHO \[fd01::2\]:[0-9]+ u6$' \
	in_pa "$PEER" send --udp --timeout 20 --dst '[fd02::2]:7000' --msg u6
expect "tcp6 A->B across the overlay, target sees fd01::2" '^ECHO \[fd01::2\]:[0-9]+ t6$' \
	in_pa "$PEER" send --tcp --timeout 20 --dst '[fd02::2]:7001' --msg t6
expect "udp4 B->A (the mirror service), target sees 10.2.0.2" '^ECHO 10\.2\.0\.2:[0-9]+ r4$' \
	in_pb "$PEER" send --udp --timeout 20 --dst 10.1.0.2:7000 --msg r4
expect "tcp4 B->A (the mirror service), target sees 10.2.0.2" '^ECHO 10\.2\.0\.2:[0-9]+ r4$' \
	in_pb "$PEER" send --tcp --timeout 20 --dst 10.1.0.2:7001 --msg r4
expect "same source port kept end to end (sourceIp \$src_ip:\$src_port)" '^ECHO 10\.1\.0\.2:41234 port$' \
	in_pa "$PEER" send --udp --timeout 20 --src 10.1.0.2:41234 --dst 10.2.0.2:7000 --msg port

# A port the hosting side does not allow (7002: intercepted at A, not in B's allowedPortRanges).
r0=$(st b | jq '.counters.hosted_refused')
check_fail "tcp to a port host.v1 does not allow is refused" \
	in_pa "$PEER" send --tcp --timeout 15 --dst 10.2.0.2:7002 --msg nope
r1=$(st b | jq '.counters.hosted_refused')
if [ "$r1" -gt "$r0" ] && grep -q 'port 7002 is not in allowedPortRanges' "$TMP/b.log"; then
	ok "gw-b refused it with a reason (hosted_refused $r0 -> $r1)"
else
	not_ok "gw-b refused it with a reason (hosted_refused $r0 -> $r1)" "$(grep -i refus "$TMP/b.log" | tail -3)"
fi
if grep -q 'ziti dial failed.*7002\|7002.*ziti dial failed\|ziti dial failed' "$TMP/a.log"; then
	ok "gw-a logged the failed dial"
else
	not_ok "gw-a logged the failed dial" "$(tail -5 "$TMP/a.log")"
fi
fl=$(st a flows | jq 'length')
diag "gw-a flows now: $fl (t=$(el)s)"

# --- SIP: SIPp UAC at A calls the UAS at B, RTP echoed on the 7222-7422 intercept
sipp_scenarios
nft_counters() { # nft_counters NS: counters of RTP/SIP packets by source
	ip netns exec "$1" nft -f - <<'EOF'
table inet cnt {
	counter rtp_out {}
	counter rtp_in {}
	counter sip_in_real {}
	counter sip_in_other {}
	counter rtp_in_real {}
	counter rtp_in_other {}
	counter rtp_echo {}
	chain out {
		type filter hook output priority 0;
		ip daddr 10.2.0.2 udp dport 7222-7422 counter name rtp_out
		ip daddr 10.1.0.2 udp sport 7222-7422 counter name rtp_echo
	}
	chain in {
		type filter hook input priority 0;
		ip saddr 10.2.0.2 udp sport 7222-7422 counter name rtp_in
		meta l4proto { tcp, udp } th dport 5060 ip saddr 10.1.0.2 counter name sip_in_real
		meta l4proto { tcp, udp } th dport 5060 ip saddr != 10.1.0.2 counter name sip_in_other
		udp dport 7222-7422 ip saddr 10.1.0.2 counter name rtp_in_real
		udp dport 7222-7422 ip saddr != 10.1.0.2 counter name rtp_in_other
	}
}
EOF
}
cnt() { ip netns exec "$1" nft -j list counter inet cnt "$2" | jq '.nftables[] | select(.counter) | .counter.packets'; }
nft_counters "$PA" && nft_counters "$PB" || bail_out "nft counters"

# kdiag LABEL: kernel side of a SIP run, kept in the results (kernel-diag.out): the module's
# counters on both gateways (dropped, src_denied...) and UDP drops (InErrors, RcvbufErrors,
# NoPorts) in every namespace.
kdiag() {
	local ns n
	{
		echo "== $1 (t=$(el)s)"
		for ns in PA GWA GWB PB; do
			n=${!ns}
			echo "$ns udp: $(ip netns exec "$n" awk '/^Udp:/ { if (h == "") h = $0; else v = $0 }
				END { split(h, k); split(v, x); for (i = 2; i in k; i++) printf "%s %s ", k[i], x[i] }' /proc/net/snmp)"
		done
		for ns in GWA GWB; do
			ip netns exec "${!ns}" "$CTL" stats 2>&1 | sed "s/^/$ns stats: /"
		done
	} >>"$TMP/kernel-diag.out" 2>&1
}
kdiag "before SIP"
calls_total=0 calls_ok=0
# calls_watch T: poll gw-a's "sipovlctl calls" until a call is confirmed and RTP moves on the
# flow steered for its media (kept in calls-T.json)
calls_watch() {
	local _
	for _ in $(seq 1 500); do
		SIPOVLD_CTL_SOCK=$TMP/a.sock "$CTL" -j calls >"$TMP/calls-$1.json" 2>/dev/null &&
			jq -en 'input | [.calls[] | select(.state == "confirmed" and .media_flows[0].rtp.packets_to_ziti > 0)] |
				length > 0' "$TMP/calls-$1.json" >/dev/null &&
			return 0
		sleep 0.2
	done
	return 1
}
# the CDRs of calls ended by the caller's BYE, with the RTP quality of their flow (loss, jitter, MOS)
cdrs() {
	grep -Ec "call ended: call_id=.* reason=bye-caller status=200 .* loss_pct=[0-9.]+/[0-9.]+ jitter_ms=[0-9.]+/[0-9.]+ mos=[0-9.]+/[0-9.]+ " \
		"$TMP/$1.log"
}
# The calls of sip_call: SIPp's uac_pcap with 5 s instead of 1 s between the end of its RTP and
# its BYE. The CDR points below want the callee's echo of the caller's RTP counted in the call;
# on make check's starved guests that echo has crossed the overlay seconds late (a CI run of
# 2e1e40d: gw-a's CDR 246/1, the echo arriving after the BYE; gw-b had counted 56 of the 246 by
# then), which is the overlay's latency under that load, not what the points are about.
sed 's#<pause milliseconds="1000"/>#<pause milliseconds="5000"/>#' "$TMP/uac_pcap.xml" >"$TMP/uac_cdr.xml"
grep -q 'milliseconds="5000"' "$TMP/uac_cdr.xml" || bail_out "uac_pcap.xml: no 1000 ms pause before its BYE"
sip_call() { # sip_call TRANSPORT(u1|t1) CALLS
	local t=$1 m=$2 rc=0
	ip netns exec "$PB" sipp -sf "$TMP/uas.xml" -i 10.2.0.2 -p 5060 -t "$t" -rtp_echo -mp 7230 -nostdin \
		-trace_msg -message_file "$TMP/uas-$t"_messages.log -trace_err -error_file "$TMP/uas-$t.err" >"$TMP/uas-$t.out" 2>&1 &
	local uas=$!
	# the UAS is listening (udp or tcp 10.2.0.2:5060) before the UAC starts
	waitfor 20 eval "ip netns exec $PB ss -Hln$([ "$t" = u1 ] && echo u || echo t) 'sport = :5060' | grep -q 10.2.0.2" ||
		diag "SIPp UAS ($t) not listening on 10.2.0.2:5060 after 20 s: $(tail -3 "$TMP/uas-$t.out" | tr '\n' '|')"
	local cdr_a0 cdr_b0 watch wrc=0 tn
	tn=$([ "$t" = u1 ] && echo UDP || echo TCP)
	cdr_a0=$(cdrs a) cdr_b0=$(cdrs b)
	calls_watch "$t" &
	watch=$!
	(cd "$TMP" && ip netns exec "$PA" timeout 120 sipp -sf "$TMP/uac_cdr.xml" 10.2.0.2:5060 -i 10.1.0.2 -p 5061 \
		-t "$t" -m "$m" -l "$m" -r "$m" -mp 7300 -nostdin -timeout 100s -trace_stat -stf "$TMP/uac-$t.csv" \
		-trace_msg -message_file "$TMP/uac-$t"_messages.log -trace_err -error_file "$TMP/uac-$t.err" >"$TMP/uac-$t.out" 2>&1) || rc=$?
	kill "$uas" 2>/dev/null
	wait "$uas" 2>/dev/null
	wait "$watch" || wrc=$?
	kdiag "after SIP $t (sipp exit $rc)"
	local succ fail
	succ=$(tail -1 "$TMP/uac-$t.csv" 2>/dev/null | awk -F';' '{print $16}')
	fail=$(tail -1 "$TMP/uac-$t.csv" 2>/dev/null | awk -F';' '{print $18}')
	calls_total=$((calls_total + m))
	calls_ok=$((calls_ok + ${succ:-0}))
	if [ $rc = 0 ]; then
		ok "SIP over $([ "$t" = u1 ] && echo UDP || echo TCP): $m calls with RTP completed (sipp exit 0, successful ${succ:-?}, failed ${fail:-?}, t=$(el)s)"
	else
		not_ok "SIP over $([ "$t" = u1 ] && echo UDP || echo TCP): $m calls with RTP completed (sipp exit $rc)" \
			"uac: $(grep -ao "Aborting call on [^']*'[^']*'" "$TMP/uac-$t.err" 2>/dev/null | sort | uniq -c | tr '\n' '|')" \
			"uas: $(grep -ao "Aborting call on [^']*'[^']*'" "$TMP/uas-$t.err" 2>/dev/null | sort | uniq -c | tr '\n' '|')" \
			"gw-a: $(tail -5 "$TMP/a.log" | tr '\n' '|')" "gw-b: $(tail -5 "$TMP/b.log" | tr '\n' '|')"
		sed -n '/^== before SIP/,$p' "$TMP/kernel-diag.out" | grep -v '^$' | sed 's/^/#   /' | cut -c1-300
	fi
	# the SIP view (issue 17): the running call listed by sipovlctl calls at gw-a, with the
	# media of both sides from the SDP (the call calls_watch saw with RTP flowing: the other
	# call of the pair may be listed first, just answered, its flow not steered yet); then
	# one CDR per ended call in each gateway's journal
	local run
	run=$(jq -c '[.calls[] | select(.state == "confirmed" and .media_flows[0].rtp.packets_to_ziti > 0)][0] | {caller, callee, codec,
		media: [.streams[] | .side + " " + .rtp], flow: (.media_flows[0].rtp | "\(.flow) \(.local) <-> \(.remote)")}' \
		"$TMP/calls-$t.json" 2>/dev/null)
	if [ $wrc = 0 ] && jq -en 'input | .caller == "sipp@10.1.0.2:5061" and .callee == "service@10.2.0.2:5060" and
		(.media | map(test("^caller 10\\.1\\.0\\.2:[0-9]+$")) | any) and
		(.media | map(test("^callee 10\\.2\\.0\\.2:7230$")) | any) and
		(.flow | test("^intercept-udp 10\\.1\\.0\\.2:[0-9]+ <-> 10\\.2\\.0\\.2:7230$"))' <<<"$run" >/dev/null 2>&1; then
		ok "SIP over $tn: sipovlctl calls lists the running call at gw-a, with the RTP flow steered for its media: $run"
	else
		not_ok "SIP over $tn: sipovlctl calls lists the running call at gw-a" "watch exit $wrc" \
			"$(head -c 1500 "$TMP/calls-$t.json" 2>/dev/null)"
	fi
	# the gateways carry SIP as it is: every message the caller sent reached the callee byte for
	# byte and the other way (SIPp's message logs; a set of distinct messages each way, so that
	# a retransmission counts once), none changed by the SIP view or anything else on the way
	local cmp
	if cmp=$(python3 "$SD/sipcmp.py" "$TMP/uac-$t"_messages.log "$TMP/uas-$t"_messages.log 2>&1); then
		ok "SIP over $tn: the SIP messages arrive unchanged both ways ($cmp)"
	else
		not_ok "SIP over $tn: the SIP messages arrive unchanged both ways" "$cmp"
	fi
	# a CDR is written once the BYE is seen: wait for it (the gateway may be slower than SIPp)
	waitfor 20 eval '[ $(($(cdrs a) - cdr_a0)) -ge "${succ:-1}" ] && [ $(($(cdrs b) - cdr_b0)) -ge "${succ:-1}" ]' || true
	# an ended call (it lingers 32 s) keeps its final RTP quality in sipovlctl calls
	local fin
	fin=$(SIPOVLD_CTL_SOCK=$TMP/a.sock "$CTL" -j calls 2>/dev/null | jq -c '[.calls[] | select(.state == "ended" and
		.end_reason == "bye-caller")][0] | .quality | [.caller_to_callee.packets, .callee_to_caller.packets, .caller_to_callee.mos]' 2>/dev/null)
	if jq -en 'input | .[0] > 0 and .[1] > 0 and .[2] > 1' <<<"$fin" >/dev/null 2>&1; then
		ok "SIP over $tn: an ended call keeps its final RTP quality in sipovlctl calls (packets each way, MOS: $fin)"
	else
		not_ok "SIP over $tn: an ended call's final quality in sipovlctl calls" "got: ${fin:-nothing}"
	fi
	local na nb
	na=$(($(cdrs a) - cdr_a0)) nb=$(($(cdrs b) - cdr_b0))
	if [ "${succ:-0}" -gt 0 ] && [ "$na" = "$succ" ] && [ "$nb" = "$succ" ]; then
		ok "SIP over $tn: one CDR per call ended by BYE in each gateway's journal ($na at gw-a, $nb at gw-b): $(grep 'call ended:' "$TMP/a.log" | tail -1 | sed 's/^.*call ended: //')"
	else
		not_ok "SIP over $tn: one CDR per call ended by BYE in each gateway's journal" \
			"successful calls ${succ:-?}, CDRs gw-a $na gw-b $nb" "$(grep 'call ended:' "$TMP/a.log" | tail -4)"
	fi
	# Each CDR has its own call's RTP: SIPp sends 236 PCMA packets (g711a.pcap) and 10 of
	# telephone-event (dtmf_2833_1.pcap) per call, from the same ports in the UDP and the TCP
	# run (one flow for both: the TCP calls' CDRs once counted the UDP calls' packets too);
	# and the audio's jitter, which the pcap's own timing puts at 0.2-0.8 ms (RFC 3550 A.8 over
	# its timestamps), not the 0.0 of the telephone-event packets at the end of the call.
	local bad
	bad=$(grep -o 'call ended: .*reason=bye-caller .*' "$TMP/a.log" | tail -n "$na" |
		awk '{ p = ""; j = ""; for (i = 1; i <= NF; i++) { if ($i ~ /^packets=/) p = $i; if ($i ~ /^jitter_ms=/) j = $i }
			split(substr(p, 9), pp, "/"); split(substr(j, 11), jj, "/")
			if (!(pp[1] >= 1 && pp[1] <= 246 && jj[1] >= 0.1 && jj[2] >= 0.1)) print }')
	if [ "$na" -gt 0 ] && [ -z "$bad" ]; then
		ok "SIP over $tn: each CDR at gw-a has its own call's RTP (1-246 packets from the caller) and the audio's jitter (>= 0.1 ms each way)"
	else
		not_ok "SIP over $tn: each CDR at gw-a has its own call's RTP and the audio's jitter" "$bad"
	fi
}
sip_call u1 2
sip_call t1 2
sv=$(SIPOVLD_CTL_SOCK=$TMP/a.sock "$CTL" -j calls | jq -c .stats)
if jq -en 'input | .malformed == 0 and .calls_started >= 4 and .limit_hits == 0' <<<"$sv" >/dev/null &&
	! grep -Eqi 'Via: SIP/2\.0|CSeq: [0-9]+ [A-Z]|c=IN IP' "$TMP/a.log" "$TMP/b.log"; then
	ok "SIP view at gw-a: no malformed message, no SIP header or body in the logs ($sv)"
else
	not_ok "SIP view at gw-a: no malformed message, no SIP header or body in the logs" "$sv"
fi

rtp_out=$(cnt "$PA" rtp_out) rtp_in=$(cnt "$PA" rtp_in)
b_rtp_real=$(cnt "$PB" rtp_in_real) b_rtp_other=$(cnt "$PB" rtp_in_other) b_echo=$(cnt "$PB" rtp_echo)
b_sip_real=$(cnt "$PB" sip_in_real) b_sip_other=$(cnt "$PB" sip_in_other)
# UDP datagrams the callee's namespace dropped for a full socket buffer: SIPp's RTP echo
# socket when SIPp gets too little CPU (a loaded host); what it never read it cannot echo.
b_rcvbuf=$(ip netns exec "$PB" awk '/^Udp:/ { if (h == "") { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 } else print $c }' /proc/net/snmp)
diag "RTP A->B sent $rtp_out, received at B $b_rtp_real; B echoed $b_echo (its socket dropped $b_rcvbuf), back at A $rtp_in; at B from 10.1.0.2: RTP $b_rtp_real SIP $b_sip_real; from elsewhere: RTP $b_rtp_other SIP $b_sip_other"
# Each direction on its own, so that the overlay is measured, not SIPp keeping up at B:
# A->B at least 90 % of what A sent; B->A at least 90 % of what B echoed.
if [ "$rtp_out" -gt 100 ] && [ "$b_rtp_real" -gt $((rtp_out * 9 / 10)) ] &&
	[ "$b_echo" -gt 100 ] && [ "$rtp_in" -gt $((b_echo * 9 / 10)) ]; then
	ok "RTP flows both ways through the port-range intercept (A->B $b_rtp_real of $rtp_out, B->A $rtp_in of $b_echo echoed)"
else
	not_ok "RTP flows both ways through the port-range intercept (A->B $b_rtp_real of $rtp_out, B->A $rtp_in of $b_echo echoed; need > 100 each way and 90 %)"
fi
if [ "$b_sip_real" -gt 0 ] && [ "$b_rtp_real" -gt 100 ] && [ "$b_sip_other" = 0 ] && [ "$b_rtp_other" = 0 ]; then
	ok "the callee sees the caller's real IP 10.1.0.2 as the source of SIP and RTP, and no other"
else
	not_ok "the callee sees the caller's real IP 10.1.0.2 as the source of SIP and RTP, and no other"
fi
kst=$(ip netns exec "$GWA" "$CTL" stats 2>&1)
if [ -n "${SIPOVL_DAEMON_DEMO:-}" ]; then
	{
		echo "calls attempted: $calls_total, completed: $calls_ok (SIPp UAC 10.1.0.2 at site A -> UAS 10.2.0.2 at site B; UDP, then TCP signalling)"
		echo "RTP packets A->B: $rtp_out sent by the caller, $b_rtp_real received by the callee from 10.1.0.2 (from any other source: $b_rtp_other)"
		echo "RTP packets B->A: $rtp_in echoed back to the caller"
		echo "SIP packets at the callee from 10.1.0.2: $b_sip_real (from any other source: $b_sip_other)"
		echo "sipovlctl stats on gw-a:"
		sed 's/^/  /' <<<"$kst"
		echo "sipovlctl stats on gw-b:"
		ip netns exec "$GWB" "$CTL" stats 2>&1 | sed 's/^/  /'
		echo "sipovld counters gw-a: $(st a | jq -c .counters)"
		echo "sipovld counters gw-b: $(st b | jq -c .counters)"
	} | sed 's/^/# demo: /'
	# the calls and their quality: daemon/demo/demo.sh prints these last
	{
		echo "sipovlctl -s calls on gw-a (the calls above, ended, with their media):"
		SIPOVLD_CTL_SOCK=$TMP/a.sock "$CTL" -s calls 2>&1 | sed 's/^/  /'
		echo "their quality, from the CDRs in gw-a's journal (each figure caller->callee/callee->caller):"
		grep -o 'call ended: .*' "$TMP/a.log" | awk '
			BEGIN { printf "  %-24s %-10s %8s %-6s %-9s %-11s %-11s %s\n", "call_id", "reason", "duration", "codec",
				"packets", "loss_%", "jitter_ms", "MOS" }
			{ delete v; for (i = 3; i <= NF; i++) { k = $i; sub(/=.*/, "", k); x = $i; sub(/^[^=]*=/, "", x); v[k] = x }
			  printf "  %-24s %-10s %7ss %-6s %-9s %-11s %-11s %s\n", v["call_id"], v["reason"], v["duration_s"], v["codec"],
				v["packets"], v["loss_pct"], v["jitter_ms"], v["mos"] }'
		echo "the CDR lines:"
		grep -o 'call ended: .*' "$TMP/a.log" | sed 's/^/  /'
	} | sed 's/^/# demo-calls: /'
fi

# --- a call with two media streams (issue 17): audio and video in one SDP each way, RTP on
# both. gw-a's CDR has the video's figures ("m1=video packets1=..."), and the ended call keeps
# the final quality of each stream in sipovlctl calls (media_quality; quality is the first's).
# SIPp's built-in scenarios with the SDP's m= line replaced by audio 7330/7340 and video
# 7332/7342 (the UAC holds the call 25 s: the 3 s of RTP each way start after the answer is seen and, at phone B, after the first packet from A crossed the overlay, a few seconds on a loaded guest, and B's RTP has reached gw-a over 10 s late on make check's starved guests: 62 and 80 of 150 within a 15 s hold in a CI run of 2e1e40d, while gw-b had sent all 150); the RTP is av.py's (PT 0 and PT 96, 20 ms apart, 3 s).
av_sdp() { # av_sdp AUDIO_PORT VIDEO_PORT: sed script putting both m= lines in place of SIPp's
	printf 's#^\\( *\\)m=audio \\[media_port\\] RTP/AVP 0#\\1m=audio %s RTP/AVP 0#\n' "$1"
	printf 's#^\\( *\\)a=rtpmap:0 PCMU/8000#&\\n\\1m=video %s RTP/AVP 96\\n\\1a=rtpmap:96 H264/90000#\n' "$2"
}
sipp -sd uac 2>/dev/null | sed "$(av_sdp 7330 7332)" >"$TMP/uac_av.xml"
sed "$(av_sdp 7340 7342)" "$TMP/uas.xml" >"$TMP/uas_av.xml"
[ "$(grep -c 'm=video' "$TMP/uac_av.xml" "$TMP/uas_av.xml" | awk -F: '{ s += $2 } END { print s }')" = 2 ] ||
	diag "two-media scenarios: m=video not put in place ($(grep -c 'm=video' "$TMP/uac_av.xml" "$TMP/uas_av.xml" | tr '\n' ' '))"
AV_N=150
for p in 7340 7342; do
	in_pb python3 "$SD/av.py" 10.2.0.2 $p "$([ $p = 7340 ] && echo 0 || echo 96)" $AV_N >"$TMP/av-b$p.out" 2>&1 &
done
ip netns exec "$PB" sipp -sf "$TMP/uas_av.xml" -i 10.2.0.2 -p 5060 -t u1 -mp 7230 -nostdin \
	-trace_err -error_file "$TMP/uas-av.err" >"$TMP/uas-av.out" 2>&1 &
av_uas=$!
waitfor 20 eval "ip netns exec $PB ss -Hlnu 'sport = :5060' | grep -q 10.2.0.2" ||
	diag "SIPp UAS (two media) not listening on 10.2.0.2:5060 after 20 s: $(tail -3 "$TMP/uas-av.out" | tr '\n' '|')"
waitfor 20 eval '[ "$(cat "$TMP"/av-b7340.out "$TMP"/av-b7342.out 2>/dev/null | grep -c ready)" = 2 ]' ||
	diag "phone B's two RTP senders not ready"
# phone A's two senders, started now and sending once av-go exists (the call answered)
rm -f "$TMP/av-go"
in_pa python3 "$SD/av.py" 10.1.0.2 7330 0 $AV_N 10.2.0.2 7340 "$TMP/av-go" >"$TMP/av-a7330.out" 2>&1 &
av_a1=$!
in_pa python3 "$SD/av.py" 10.1.0.2 7332 96 $AV_N 10.2.0.2 7342 "$TMP/av-go" >"$TMP/av-a7332.out" 2>&1 &
av_a2=$!
waitfor 20 eval '[ "$(cat "$TMP"/av-a7330.out "$TMP"/av-a7332.out 2>/dev/null | grep -c ready)" = 2 ]' ||
	diag "phone A's two RTP senders not ready"
cdr_av0=$(grep -c 'call ended: ' "$TMP/a.log")
(cd "$TMP" && ip netns exec "$PA" timeout 70 sipp -sf "$TMP/uac_av.xml" 10.2.0.2:5060 -i 10.1.0.2 -p 5061 \
	-t u1 -m 1 -d 25000 -mp 7300 -nostdin -timeout 60s -trace_err -error_file "$TMP/uac-av.err" \
	>"$TMP/uac-av.out" 2>&1) &
av_uac=$!
# the RTP once the call is answered (the SDP of both sides known)
waitfor 20 eval "SIPOVLD_CTL_SOCK=$TMP/a.sock $CTL -j calls 2>/dev/null | jq -en 'input | [.calls[] | select(.state == \"confirmed\" and (.streams | length) == 4)] | length > 0' >/dev/null" ||
	diag "the two-media call not confirmed at gw-a within 20 s"
touch "$TMP/av-go"
av_rc=0
wait "$av_uac" || av_rc=$?
wait "$av_a1" "$av_a2" 2>/dev/null
pkill -f "av.py 10.2.0.2" 2>/dev/null
kill "$av_uas" 2>/dev/null
wait "$av_uas" 2>/dev/null
waitfor 20 eval '[ "$(grep -c "call ended: " "$TMP/a.log")" -gt "$cdr_av0" ]' || true
av_cdr=$(grep -o 'call ended: .*' "$TMP/a.log" | tail -n +$((cdr_av0 + 1)) | grep ' m1=video ' | tail -1)
# each way at least 80 % of the 150 sent; the call's own figures (the flows are new)
av_ok() { # av_ok FIELD: FIELD=A/B in the CDR with 120 <= A, B <= 150
	awk -v f="$1" -v n=$AV_N '{ for (i = 1; i <= NF; i++) if (index($i, f "=") == 1) { split(substr($i, length(f) + 2), v, "/")
		exit !(v[1] >= n * 0.8 && v[1] <= n && v[2] >= n * 0.8 && v[2] <= n) } exit 1 }' <<<"$av_cdr"
}
if [ "$av_rc" = 0 ] && av_ok packets && av_ok packets1; then
	ok "two media streams: gw-a's CDR has both streams' RTP (audio, then m1=video): ${av_cdr#call ended: }"
else
	not_ok "two media streams: gw-a's CDR has both streams' RTP (audio, then m1=video)" "sipp exit $av_rc" "cdr: ${av_cdr:-none}" \
		"$(grep -o 'call ended: .*' "$TMP/a.log" | tail -2)" "$(tail -2 "$TMP/uac-av.out" | tr '\n' '|')" \
		"gw-b's CDR: $(grep -o 'call ended: .*' "$TMP/b.log" | grep ' m1=video ' | tail -1)" \
		"the streams' flows and dials at gw-a: $(grep -E '7330|7332|7340|7342|dialing again|came late|replaced by' "$TMP/a.log" | tail -12)" \
		"at gw-b: $(grep -E '7330|7332|7340|7342|dialing again|came late|replaced by' "$TMP/b.log" | tail -12)" \
		"B's senders: $(cat "$TMP/av-b7340.out" "$TMP/av-b7342.out" 2>/dev/null | tr '\n' ' ')"
fi
av_fin=$(SIPOVLD_CTL_SOCK=$TMP/a.sock "$CTL" -j calls 2>/dev/null | jq -c '[.calls[] | select(.state == "ended" and
	(.streams | length) == 4)][0] | [.media_quality[]? | [.media, .caller_to_callee.packets, .callee_to_caller.packets,
	(.caller_to_callee | has("mos"))]]' 2>/dev/null)
# (a MOS for the audio, none for the video: the E-model is for speech)
if jq -en --argjson n $AV_N 'input | length == 2 and .[0][0] == "audio" and .[1][0] == "video" and .[0][3] and (.[1][3] | not) and
	all(.[]; .[1] >= $n * 0.8 and .[1] <= $n and .[2] >= $n * 0.8 and .[2] <= $n)' <<<"$av_fin" >/dev/null 2>&1; then
	ok "two media streams: the ended call keeps each stream's final quality in sipovlctl calls (media_quality: $av_fin)"
else
	not_ok "two media streams: the ended call keeps each stream's final quality in sipovlctl calls" "media_quality: ${av_fin:-nothing}" \
		"$(SIPOVLD_CTL_SOCK=$TMP/a.sock "$CTL" -j calls 2>/dev/null | jq -c '[.calls[] | select(.state == "ended")][0] | .quality' 2>/dev/null)"
fi
av_s=$(SIPOVLD_CTL_SOCK=$TMP/a.sock "$CTL" -s calls 2>/dev/null | grep -c 'final video caller -> callee: [1-9][0-9]* RTP packets')
if [ "${av_s:-0}" -ge 1 ]; then
	ok "two media streams: sipovlctl -s calls shows the ended call's video"
else
	not_ok "two media streams: sipovlctl -s calls shows the ended call's video" \
		"$(SIPOVLD_CTL_SOCK=$TMP/a.sock "$CTL" -s calls 2>&1 | grep -i final | tail -4)"
fi

# --- one RTP stream, one circuit (issue 12 item 11): both phones start sending at the same
# moment, so each gateway intercepts its side before the other's dial arrives. The stream must
# converge on one overlay circuit for both directions, with nothing lost on the way.
cat >"$TMP/phone.py" <<'PY'
import os, socket, sys, time
me, port, peer, pport, go, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((me, port)); s.settimeout(0.005)
got = set(); sent = 0
print("ready", flush=True)
while not os.path.exists(go): time.sleep(0.001)
# listening until 3 s after the other phone sent its last (under load one runs seconds late)
t0 = time.time(); end = None
while True:
    now = time.time()
    if sent < count and now >= t0 + sent * 0.02:
        s.sendto(b"rtp %d" % sent, (peer, pport)); sent += 1
        if sent == count: open(go + "." + me, "w").close()
    if end is None and sent == count and os.path.exists(go + "." + peer): end = now + 3
    if now > t0 + 120: break
    try:
        d, a = s.recvfrom(2048)
        if a == (peer, pport): got.add(d)
    except socket.timeout: pass
    if end and (now > end or len(got) == count): break
print("received %d of %d" % (len(got), count), flush=True)
PY
RACE_N=150
# both phones bound and waiting (python starts slowly in the guest), then both go at once
in_pa python3 "$TMP/phone.py" 10.1.0.2 7310 10.2.0.2 7312 "$TMP/phones.go" $RACE_N >"$TMP/phone-a.out" 2>&1 &
pa_pid=$!
in_pb python3 "$TMP/phone.py" 10.2.0.2 7312 10.1.0.2 7310 "$TMP/phones.go" $RACE_N >"$TMP/phone-b.out" 2>&1 &
pb_pid=$!
waitfor 60 grep -q ready "$TMP/phone-a.out" && waitfor 60 grep -q ready "$TMP/phone-b.out" ||
	diag "the phones did not start: $(cat "$TMP/phone-a.out" "$TMP/phone-b.out")"
declare -A race_log=([a]=$(wc -l <"$TMP/a.log") [b]=$(wc -l <"$TMP/b.log"))
touch "$TMP/phones.go"
wait "$pa_pid" "$pb_pid"
ra=$(grep -o 'received [0-9]*' "$TMP/phone-a.out" | grep -o '[0-9]*$')
rb=$(grep -o 'received [0-9]*' "$TMP/phone-b.out" | grep -o '[0-9]*$')
# the pair's flows at each gateway (their UDP idle timeout is 30 s: still listed)
pair='select((.client // .source) as $x | (.destination // .target) as $y |
	([$x, $y] | sort) == (["10.1.0.2:7310", "10.2.0.2:7312"] | sort))'
fa=$(st a flows | jq -c "[.[] | $pair]")
fb=$(st b flows | jq -c "[.[] | $pair]")
circuits=$(jq -n --argjson a "$fa" --argjson b "$fb" '[$a[], $b[]] | map(select(.type == "intercept-udp")) | length')
split_a=$(jq '[.[] | select(.packets_to_ziti > 0)] | length' <<<"$fa")
split_b=$(jq '[.[] | select(.packets_to_ziti > 0)] | length' <<<"$fb")
merged="$(st a | jq '.counters.udp_circuits_merged // "n/a"') $(st b | jq '.counters.udp_circuits_merged // "n/a"')"
diag "both phones at once: A got ${ra:-?} of $RACE_N, B got ${rb:-?}; circuits dialed for the pair: $circuits; flows sending to ziti: gw-a $split_a gw-b $split_b; udp_circuits_merged a b: $merged"
diag "gw-a flows: $fa"
diag "gw-b flows: $fb"
for g in a b; do
	diag "gw-$g drops: $(st $g | jq -c '.counters | {udp_dropped, datagrams_dropped_late}')"
	tail -n +"$((${race_log[$g]} + 1))" "$TMP/$g.log" | grep -E 'router|again|merged|circuit' | tail -8 | sed "s/^/# gw-$g log: /"
done
if [ "$circuits" = 1 ] && [ "$split_a" -le 1 ] && [ "$split_b" -le 1 ]; then
	ok "both phones sending at once: the stream converged on one circuit (each direction on it alone)"
else
	not_ok "both phones sending at once: one circuit per stream" "circuits dialed: $circuits (want 1)" \
		"flows of the pair sending at gw-a: $split_a, gw-b: $split_b (want <= 1 each)"
fi
if [ "${ra:-0}" -ge $((RACE_N * 95 / 100)) ] && [ "${rb:-0}" -ge $((RACE_N * 95 / 100)) ]; then
	ok "both phones sending at once: each received at least 95 % of the other's packets (A $ra, B $rb of $RACE_N)"
else
	not_ok "both phones sending at once: packets delivered" "A received ${ra:-?}, B ${rb:-?} of $RACE_N (want >= 95 %)"
fi

# --- no hijack of a stream without a source_map (review of issue 12, item 11): gw-b has no
# source_map, so any identity allowed to dial site-b may claim site A's addresses (gw-c here).
# Phone B streams to phone A (intercepted at gw-b, dialed to gw-a); gw-c then dials site-b
# for the reverse address pair. Its hosted flow must not take phone B's stream (before the
# fix gw-b paired them and, 10.2.0.2 being above 10.1.0.2, kept gw-c's circuit: phone B's
# packets went to gw-c and the dialed flow was closed).
echo '{ }' >"$TMP/b.conf"
"$D" --control "$TMP/b.sock" --request reload >"$TMP/b-reload.out" 2>&1 || diag "gw-b reload: $(cat "$TMP/b-reload.out")"
HJ_N=3000 # at most 60 s: phone B stops sending 2 s after gw-c's dial ended
cat >"$TMP/sink.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2]))); s.settimeout(0.2)
peer = (sys.argv[3], int(sys.argv[4])); got = set(); first = last = None; t0 = time.time()
print("ready", flush=True)
while True:
    try:
        d, a = s.recvfrom(2048)
        if a == peer and d.startswith(b"rtp "):
            got.add(d); last = time.time(); first = first or last
    except socket.timeout: pass
    now = time.time()
    # nothing received (the hijack worked, or a channel was lost): give up after 120 s
    if (last and now - last > 5) or len(got) == int(sys.argv[5]) or (not last and now - t0 > 120): break
print("received %d" % len(got), flush=True)
PY
in_pa python3 "$TMP/sink.py" 10.1.0.2 7350 10.2.0.2 7352 $HJ_N >"$TMP/hj-a.out" 2>&1 &
hj_sink=$!
waitfor 60 grep -q ready "$TMP/hj-a.out" || diag "phone A's sink did not start: $(cat "$TMP/hj-a.out")"
in_pb python3 -c 'import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.2.0.2", 7352)); t0 = time.time(); i = 0
while i < int(sys.argv[1]) and not os.path.exists(sys.argv[2]):
    time.sleep(max(0, t0 + i * 0.02 - time.time())); s.sendto(b"rtp %d" % i, ("10.1.0.2", 7350)); i += 1
print("sent %d" % i, flush=True)' $HJ_N "$TMP/hj.stop" >"$TMP/hj-b.out" 2>&1 &
hj_src=$!
hj_flow='[.[] | select(.type == "intercept-udp" and .client == "10.2.0.2:7352" and .connected)] | length == 1'
waitfor 30 bash -c "\"$D\" --control $TMP/b.sock --request flows | jq -en 'input | $hj_flow' >/dev/null" ||
	diag "gw-b has no connected flow for phone B's stream: $(st b flows | jq -c .)"
ip netns exec "$GWA" "$BIN/zt-tool" dial -i "$SIPOVLD_ZN_DIR/gw-c.json" -s site-b --terminator-identity gw-b --udp \
	--count 1 --size 64 --timeout-ms 20000 \
	--app-data '{"dst_protocol":"udp","dst_ip":"10.2.0.2","dst_port":"7352","source_addr":"10.1.0.2:7350"}' \
	>"$TMP/hj-c.out" 2>&1
kill -0 $hj_src 2>/dev/null && hj_during=1 || hj_during=
sleep 2 # phone B's stream goes on a little after the dial
touch "$TMP/hj.stop"
wait $hj_src $hj_sink
hj_a=$(grep -o 'received [0-9]*' "$TMP/hj-a.out" | grep -o '[0-9]*$')
hj_b=$(grep -o 'sent [0-9]*' "$TMP/hj-b.out" | grep -o '[0-9]*$')
diag "hijack attempt: gw-c's dial: $(tail -2 "$TMP/hj-c.out" | tr '\n' '|'); phone A received ${hj_a:-?} of ${hj_b:-?}"
if grep -q "hosting a udp dial from 'gw-c'" "$TMP/b.log" && [ -n "$hj_during" ]; then
	ok "hijack attempt: gw-b hosted gw-c's dial claiming phone A's address while phone B's stream flowed"
else
	not_ok "hijack attempt: gw-c's dial hosted by gw-b during the stream" "stream still running: ${hj_during:-no}" \
		"gw-b: $(grep -i "gw-c\|7352" "$TMP/b.log" | tail -3 | tr '\n' '|')"
fi
if grep -q 'datagram of [0-9]* bytes' "$TMP/hj-c.out"; then
	not_ok "hijack attempt: gw-c received none of phone B's stream" "$(tail -2 "$TMP/hj-c.out" | tr '\n' '|')" \
		"gw-b: $(grep "7352" "$TMP/b.log" | tail -4 | tr '\n' '|')"
else
	ok "hijack attempt: gw-c received none of phone B's stream"
fi
# phone A's count is only shown: a router channel lost under load also costs packets; what
# the hijack did was close phone B's dialed flow in favour of gw-c's circuit
if grep -q "flow host-udp site-b 10.1.0.2:7350 -> 10.2.0.2:7352: one stream, two circuits: keeping the one dialed here" \
	"$TMP/b.log" && ! grep -q "10.2.0.2:7352 -> 10.1.0.2:7350 closed: merged into" "$TMP/b.log"; then
	ok "hijack attempt: gw-b kept phone B's dialed circuit (phone A received ${hj_a:-?} of ${hj_b:-?})"
else
	not_ok "hijack attempt: gw-b kept phone B's dialed circuit" \
		"gw-b: $(grep "7352" "$TMP/b.log" | grep -i "circuit\|merged" | tail -3 | tr '\n' '|')"
fi
printf '{ %s }\n' "$SRCMAP" >"$TMP/b.conf"
"$D" --control "$TMP/b.sock" --request reload >"$TMP/b-reload.out" 2>&1 || diag "gw-b reload: $(cat "$TMP/b-reload.out")"
# --- RTP quality under known impairment (issue 17): netem on phone A's link (its stream only)
# drops RQ_LOSS % at random and delays each packet 40 ms +- RQ_JIT ms (uniform). A sends 750 RTP
# packets (15 s, at least 20 ms apart so that netem does not reorder them; RTP timestamps from
# the moment each is sent: the guest's scheduling is not counted as jitter), B answers with its own stream for 25 s. gw-a reads A's stream from its
# socket with the kernel's receive times: the packets it reports lost must be those netem
# dropped (tc -s qdisc; +-2: ARP/ND leave by the same link); once A is silent while B still sends, gw-a logs one-way audio (rtp_oneway_s, 5 s
# by default). The mean RFC 3550 jitter (sampled while A sends) is compared with 2/3 x RQ_JIT
# (the mean |difference| of two independent delays uniform on +-RQ_JIT): under TCG the guest's
# own stalls can only add to it (measured: 6.78 ms against 6.67 at guest load 2, 6.86-7.03 at
# host load ~20, 12-86 ms at load 32), so the point takes from -30 % to +100 %
# (RQ_JIT_LO/RQ_JIT_HI): wide for the guest's scheduling, narrow enough for a wrong clock
# rate, unit or formula (a factor of 2 or more); SIPOVL_RTPQ_JITTER=0 makes it a diagnostic
# (a host too loaded for it). The jitter figure is checked to +-30 % on the host as well:
# tests/ziti/rtpq.sh.
RQ_LOSS=5 RQ_JIT=10 RQ_JIT_LO=30 RQ_JIT_HI=100
cat >"$TMP/rtpq.py" <<'PY'
import socket, struct, sys, time
me, port, count, ssrc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((me, port))
print("ready", flush=True)
if len(sys.argv) > 5:
    peer = (sys.argv[5], int(sys.argv[6]))
else:
    peer = s.recvfrom(2048)[1]  # answer the first packet's sender
s.setblocking(False)
t0 = time.monotonic(); last = t0 - 1
for seq in range(count):
    # never closer than 20 ms to the previous one (late: lag, no burst), so that netem's
    # +-10 ms cannot reorder them: A.8 then sees independent delays of consecutive packets
    d = max(t0 + seq * 0.02, last + 0.02) - time.monotonic()
    if d > 0:
        time.sleep(d)
    last = time.monotonic()
    ts = int(round((last - t0) * 8000)) & 0xffffffff
    s.sendto(struct.pack(">BBHII", 0x80, 0, seq, ts, ssrc) + b"\xd5" * 160, peer)
    try:
        while s.recv(2048):
            pass
    except BlockingIOError:
        pass
print("sent %d" % count, flush=True)
PY
modprobe -q sch_netem || diag "no sch_netem module"
# Once A's sender has exited, B's stream to it draws ICMP port unreachables that leave by the
# same link and that netem drops too: keep them off it, so that netem's drop count is A's RTP.
in_pa nft -f - <<'NFT' || diag "phone A: nft table rqicmp not created"
table inet rqicmp {
	chain out {
		type filter hook output priority 0;
		icmp type destination-unreachable drop
		icmpv6 type destination-unreachable drop
	}
}
NFT
if in_pa tc qdisc add dev p0 root netem delay 40ms ${RQ_JIT}ms loss ${RQ_LOSS}%; then
	in_pb python3 "$TMP/rtpq.py" 10.2.0.2 7322 1250 2 >"$TMP/rtpq-b.out" 2>&1 &
	rqb=$!
	waitfor 60 grep -q ready "$TMP/rtpq-b.out" || diag "phone B (rtpq) did not start"
	in_pa python3 "$TMP/rtpq.py" 10.1.0.2 7320 750 1 10.2.0.2 7322 >"$TMP/rtpq-a.out" 2>&1 &
	rqa=$!
	rqf='[.[] | select(.client == "10.1.0.2:7320" and .destination == "10.2.0.2:7322")][0].rtp // empty'
	: >"$TMP/rtpq-jitter"
	# only what gw-a logs from now on: an earlier stream may have been one-way for a while (phone
	# B's stream in the hijack test while A is silent, or a late sender under load), and its line
	# must neither end the sampling below before it began nor stand for this stream's
	al0=$(wc -l <"$TMP/a.log")
	ow_new() { tail -n +"$((al0 + 1))" "$TMP/a.log" | grep -o 'one-way audio: no RTP from the local side.*' | head -1; }
	ow0=$(grep -c "one-way audio: no RTP from the local side" "$TMP/a.log")
	[ "$ow0" = 0 ] || diag "gw-a logged one-way audio $ow0 time(s) before this stream"
	for _ in $(seq 1 150); do
		r=$(st a flows | jq -c "$rqf")
		[ -n "$r" ] && echo "$r" >"$TMP/rtpq-last.json"
		jq -r 'select(.to_ziti.packets >= 50 and .to_ziti.packets <= 745) | .to_ziti.jitter_ms' <<<"$r" \
			>>"$TMP/rtpq-jitter" 2>/dev/null
		[ -n "$(ow_new)" ] && break
		sleep 0.5
	done
	r=$(cat "$TMP/rtpq-last.json" 2>/dev/null)
	wait "$rqa"
	# in_pb runs in a subshell: end the python behind it, not only the subshell
	pkill -f "rtpq.py 10.2.0.2 7322" 2>/dev/null
	kill "$rqb" 2>/dev/null
	wait "$rqb" 2>/dev/null
	# what netem dropped on A's link (A's RTP is the only traffic leaving it meanwhile, but for an
	# ARP or ND packet or two)
	nd=$(in_pa tc -s qdisc show dev p0 | awk '{ for (i = 1; i < NF; i++) if ($i == "(dropped") { sub(",", "", $(i + 1)); print $(i + 1); exit } }')
	in_pa tc qdisc del dev p0 root
	lossp=$(jq -r '.to_ziti.loss_percent // empty' <<<"$r")
	lostn=$(jq -r '.to_ziti.lost // empty' <<<"$r")
	rqexp=$(jq -r '.to_ziti.expected // 0' <<<"$r")
	jmean=$(awk '{ s += $1; n++ } END { if (n >= 2) printf "%.3f", s / n }' "$TMP/rtpq-jitter")
	jexp=$(awk -v j=$RQ_JIT 'BEGIN { printf "%.3f", 2 * j / 3 }')
	diag "rtpq gw-a to_ziti: $(jq -c '.to_ziti | {packets, expected, lost, loss_percent, reordered, jitter_ms, mos}' <<<"$r")"
	diag "rtpq gw-a from_ziti: $(jq -c '.from_ziti | {packets, expected, lost, jitter_ms, mos}' <<<"$r")"
	diag "rtpq jitter samples: $(tr '\n' ' ' <"$TMP/rtpq-jitter")"
	# gw-a's count against what netem dropped (a random 5 % of 750 varies: 17 of 750 was seen).
	# RFC 3550 counts from the first packet received to the last: packets dropped before the
	# first or after the last are not in gw-a's "lost", they are the 750 sent less "expected".
	rqall=$((${lostn:-0} + 750 - rqexp))
	if [ -n "$lostn" ] && [ -n "$nd" ] && [ "$nd" -ge 1 ] && [ "$rqexp" -ge 600 ] &&
		[ "$rqall" -le $((nd + 2)) ] && [ "$rqall" -ge $((nd - 2)) ]; then
		ok "RTP with $RQ_LOSS % loss injected on A's link: gw-a reports $lostn lost of $rqexp expected ($lossp %; $rqall of the 750 sent), netem dropped $nd"
	else
		not_ok "RTP with $RQ_LOSS % loss injected on A's link: gw-a reports ${lostn:-nothing} lost of $rqexp expected (${lossp:-?} %; $rqall of the 750 sent), netem dropped ${nd:-?}"
	fi
	if [ "${SIPOVL_RTPQ_JITTER:-1}" = 0 ]; then
		diag "RTP with 40 +- $RQ_JIT ms delay on A's link: gw-a reports jitter ${jmean:-none} ms (netem alone: $jexp; load $(cut -d' ' -f1 /proc/loadavg))"
	elif [ -n "$jmean" ] &&
		awk -v m="$jmean" -v e="$jexp" -v lo=$RQ_JIT_LO -v hi=$RQ_JIT_HI 'BEGIN { exit !(m >= e * (1 - lo / 100) && m <= e * (1 + hi / 100)) }'; then
		ok "RTP with 40 +- $RQ_JIT ms delay on A's link: gw-a reports jitter $jmean ms (expected $jexp -$RQ_JIT_LO/+$RQ_JIT_HI %; guest load $(cut -d' ' -f1 /proc/loadavg))"
	else
		not_ok "RTP with 40 +- $RQ_JIT ms delay on A's link: gw-a reports jitter ${jmean:-none} ms (expected $jexp -$RQ_JIT_LO/+$RQ_JIT_HI %; guest load $(cut -d' ' -f1 /proc/loadavg))" \
			"samples: $(tr '\n' ' ' <"$TMP/rtpq-jitter" | cut -c1-400)"
	fi
	ow=$(ow_new)
	if [ -n "$ow" ]; then
		ok "one-way audio (A silent, B sending) logged by gw-a: $ow"
	else
		not_ok "one-way audio (A silent, B sending) logged by gw-a" "$(grep -c . "$TMP/rtpq-jitter") samples; $(tail -2 "$TMP/rtpq-a.out" "$TMP/rtpq-b.out" | tr '\n' '|')"
	fi
else
	not_ok "netem on phone A's link (tc qdisc add)"
fi
# Reordering: netem sends some of A's packets at once and delays the others 50 ms ("reorder
# 25% 50%": 25 % with 50 % correlation, which netem's correlated generator makes about 7 %
# in effect; 24 of 300 late were seen), so with 20 ms between packets an undelayed one
# overtakes the one or two before it. gw-a reads the stream in that order and forwards it in
# that order over one circuit, so phone B receives the same order. B (rxorder.py) counts the
# packets that arrive behind a higher sequence number and runs a model of sipovld's figures
# (RFC 3550 A.1 as daemon/rtpq.c has it) on its arrival order: gw-a's expected, lost and
# reordered must be the model's exactly. (A.1's probation of the first two packets makes the
# plain late count differ from A.1's at the start: -3 was seen in CI at 31da4d9, gw-a 27, B
# 30; the model has the same probation.) A packet lost between gw-a and B is put back by the
# model wherever gw-a could have seen it; two or more: the plain count within +-2 a packet.
# A stream in which netem put fewer than 10 packets late (it depends on the guest's timing: 9
# on a host at load 8) measures too little: one more stream, from another port, is sent then.
if in_pa tc qdisc add dev p0 root netem delay 50ms reorder 25% 50%; then
	for reo_port in 7326 7328; do
		in_pb python3 "$SD/rxorder.py" 10.2.0.2 7324 >"$TMP/rxorder.out" 2>&1 &
		rxo=$!
		waitfor 60 grep -q ready "$TMP/rxorder.out" || diag "phone B (rxorder) did not start"
		in_pa python3 "$TMP/rtpq.py" 10.1.0.2 $reo_port 300 3 10.2.0.2 7324 >"$TMP/rtpq-reo.out" 2>&1
		wait "$rxo"
		read -r _ bgot _ blate _ <<<"$(tail -1 "$TMP/rxorder.out")"
		[[ ${blate:-x} =~ ^[0-9]+$ ]] && [ "$blate" -lt 10 ] && [ $reo_port = 7326 ] || break
		diag "RTP reordered: netem put only $blate of phone B's packets late; a second stream"
	done
	in_pa tc qdisc del dev p0 root
	ro=$(st a flows | jq -c --arg c "10.1.0.2:$reo_port" '[.[] | select(.client == $c and .destination == "10.2.0.2:7324")][0].rtp.to_ziti // empty |
		{packets, expected, lost, reordered, duplicates}')
	model='' mrc=1
	if [ -n "$ro" ]; then
		read -r -a rocounts <<<"$(jq -r '"\(.expected) \(.lost) \(.reordered)"' <<<"$ro")"
		model=$(python3 "$SD/rxorder.py" --check "$TMP/rxorder.out" 300 "${rocounts[@]}" 2>&1)
		mrc=$?
	fi
	if [ $mrc = 2 ] && [[ ${blate:-x} =~ ^[0-9]+$ ]]; then
		k=$((300 - ${bgot:-0}))
		jq -en --argjson l "$blate" --argjson k $k 'input | .reordered >= $l - 2 * $k - 2 and .reordered <= $l + 2 * $k + 2' <<<"$ro" >/dev/null && mrc=0
		model+=" (plain count within +-$((2 * k + 2)))"
	fi
	if [ -n "$ro" ] && [[ ${blate:-x} =~ ^[0-9]+$ ]] && [ "$blate" -ge 10 ] && [ "${bgot:-0}" -ge 295 ] && [ $mrc = 0 ]; then
		ok "RTP reordered on A's link (netem reorder 25 % 50 %, 50 ms): gw-a reports $(jq -r .reordered <<<"$ro") reordered and $(jq -r .lost <<<"$ro") lost, as the model on phone B's arrival order ($blate of its $bgot packets late): $model"
	else
		not_ok "RTP reordered on A's link: gw-a's figures are the model's on phone B's arrival order" "gw-a: ${ro:-no flow}" \
			"phone B: $(tail -1 "$TMP/rxorder.out")" "model: $model"
	fi
else
	not_ok "netem reorder on phone A's link (tc qdisc add)"
fi
in_pa nft delete table inet rqicmp 2>/dev/null

# --- SIGHUP keeps it running and working
n=$(grep -c 'reloaded: ' "$TMP/a.log")
kill -HUP "$(cat "$TMP/a.pid")"
waitfor 20 eval '[ "$(grep -c "reloaded: " "$TMP/a.log")" -gt '"$n"' ]' || diag "gw-a logged no reload within 20 s of SIGHUP"
expect "after SIGHUP: still working" '^ECHO 10\.1\.0\.2:[0-9]+ hup$' \
	in_pa "$PEER" send --udp --timeout 20 --dst 10.2.0.2:7000 --msg hup

# --- gw-a's metrics: sipovl.ko's drop counters by reason, the same as sipovlctl stats
metrics_drops() { # the five reasons' values, in sipovlctl's order
	ip netns exec "$GWA" curl -s --max-time 10 http://127.0.0.1:9477/metrics |
		awk '/^sipovl_kernel_drops_total\{reason="/ { split($1, k, "\""); v[k[2]] = $2 }
		     END { printf "%s %s %s %s %s", v["no_socket"], v["not_new"], v["martian"], v["local_src"], v["rp_filter"] }'
}
ctl_drops() {
	ip netns exec "$GWA" "$CTL" -j stats | jq -r '.global.drops | "\(.no_socket) \(.not_new) \(.martian) \(.local_src) \(.rp_filter)"'
}
d0=$(ctl_drops) dm=$(metrics_drops) d1=$(ctl_drops)
if [[ $dm =~ ^[0-9]+\ [0-9]+\ [0-9]+\ [0-9]+\ [0-9]+$ ]] && { [ "$dm" = "$d0" ] || [ "$dm" = "$d1" ]; }; then
	ok "gw-a metrics: sipovl_kernel_drops_total by reason as sipovlctl stats (no_socket not_new martian local_src rp_filter: $dm)"
else
	not_ok "gw-a metrics: sipovl_kernel_drops_total by reason" "metrics: '$dm'" "sipovlctl stats: '$d0' / '$d1'"
fi

# --- SIGTERM during a call: the call's CDR (reason stopped) still carries its RTP quality.
# The call holds for two minutes before its BYE (SIPp's uac_pcap ends its call 9 s after the
# ACK: in CI at 12c9de8, on a guest stalled by the host's load, the SIGTERM came after that
# BYE and the CDR said bye-caller).
sed 's#<pause milliseconds="1000"/>#<pause milliseconds="120000"/>#' "$TMP/uac_pcap.xml" >"$TMP/uac_long.xml"
grep -q 'milliseconds="120000"' "$TMP/uac_long.xml" || bail_out "uac_pcap.xml: no 1000 ms pause before its BYE"
ip netns exec "$PB" sipp -sf "$TMP/uas.xml" -i 10.2.0.2 -p 5060 -t u1 -rtp_echo -mp 7230 -nostdin \
	>"$TMP/uas-stop.out" 2>&1 &
st_uas=$!
waitfor 20 eval "ip netns exec $PB ss -Hlnu 'sport = :5060' | grep -q 10.2.0.2" ||
	diag "SIPp UAS not listening on 10.2.0.2:5060 after 20 s: $(tail -3 "$TMP/uas-stop.out" | tr '\n' '|')"
(cd "$TMP" && ip netns exec "$PA" timeout 200 sipp -sf "$TMP/uac_long.xml" 10.2.0.2:5060 -i 10.1.0.2 -p 5061 \
	-t u1 -m 1 -mp 7300 -nostdin -timeout 180s >"$TMP/uac-stop.out" 2>&1) &
st_uac=$!
if calls_watch stop; then
	pid=$(cat "$TMP/a.pid")
	kill -TERM "$pid"
	waitfor 20 bash -c "! kill -0 $pid 2>/dev/null" || not_ok "gw-a: sipovld exits on SIGTERM during a call"
	# the call lasted until the stop (not 0.0: until its ACK), with its flow's loss, jitter, MOS
	if grep -Eq "call ended: call_id=.* reason=stopped status=200 duration_s=([1-9][0-9]*\.[0-9]|0\.[1-9]) .* loss_pct=[0-9.]+/[0-9.]+ jitter_ms=[0-9.]+/[0-9.]+ mos=[0-9.]+/[0-9.]+ " \
		"$TMP/a.log"; then
		ok "SIGTERM during a call: gw-a's CDR (reason stopped) has the call's duration and RTP quality: $(grep -o 'call ended: .*reason=stopped.*' "$TMP/a.log" | tail -1 | sed 's/^call ended: //')"
	else
		not_ok "SIGTERM during a call: gw-a's CDR (reason stopped) has the call's duration and RTP quality" \
			"$(grep -o 'call ended: .*' "$TMP/a.log" | tail -2)"
	fi
else
	not_ok "SIGTERM during a call: the call was confirmed with RTP at gw-a" "$(head -c 300 "$TMP/calls-stop.json" 2>/dev/null)"
fi
kill "$st_uac" "$st_uas" 2>/dev/null
pkill -f "sipp -sf $TMP/uac_long.xml" 2>/dev/null
wait "$st_uac" "$st_uas" 2>/dev/null

# --- gw-a again with two worker processes (Documentation/design.md "Workers"): each
# serves its own sockets of the kernel's group, so intercepted flows spread over both;
# status sums them and lists each worker's. 16 UDP flows (distinct source ports) A->B.
pid=$(cat "$TMP/a.pid")
kill -TERM "$pid" 2>/dev/null # stopped above unless that point failed
waitfor 20 bash -c "! kill -0 $pid 2>/dev/null"
printf '{ %s, "workers": 2 }\n' "$SRCMAP" >"$TMP/a2.conf"
start_gw a "$GWA" -c "$TMP/a2.conf" --udp-idle-timeout 30
waitfor 60 ready a || diag "gw-a (workers 2) not ready after 60 s: $(tail -3 "$TMP/a.log" | tr '\n' '|')"
waitfor 20 eval "st a | jq -en 'input | (.workers | length) == 2 and all(.workers[]; .alive) and .workers[1].identities_ready == 1' >/dev/null 2>&1" ||
	diag "gw-a worker 1 not ready: $(st a | jq -c '.workers[1]' 2>&1 | head -c 300)"
socks=$(ip netns exec "$GWA" "$CTL" -j socket show)
if jq -en 'input | length == 8 and all(.[]; .members == 2 and .alive)' <<<"$socks" >/dev/null; then
	ok "gw-a (workers 2): 2 registered sockets per family and protocol, one of each per worker"
else
	not_ok "gw-a (workers 2): 2 registered sockets per family and protocol" "$socks"
fi
wk_ok=0
for i in $(seq 1 16); do
	# sent again while unanswered, as a UA does (a first dial unanswered at 5 s loses the flow's
	# one datagram: worker 1's first dial, once, on a quiet machine - the router not reading gw-b's
	# channel right after gw-a's restart, Documentation/ziti-client.md); this point is the spread
	out=$(in_pa "$PEER" send --udp --retransmit --timeout 30 --src "10.1.0.2:$((42000 + i))" --dst 10.2.0.2:7000 --msg "w$i" 2>&1) &&
		grep -Eq "^ECHO 10\.1\.0\.2:$((42000 + i)) w$i\$" <<<"$out" && wk_ok=$((wk_ok + 1))
done
sleep 2 # the workers' reports (every second)
wst=$(st a)
w0=$(jq -r '.workers[0].counters.udp_intercepted' <<<"$wst") w1=$(jq -r '.workers[1].counters.udp_intercepted' <<<"$wst")
tot=$(jq -r '.counters.udp_intercepted' <<<"$wst")
fw=$(st a flows | jq -c '[.[] | select(.type == "intercept-udp" and (.client | startswith("10.1.0.2:420"))) | .worker // 0] | group_by(.) | map({(.[0] | tostring): length}) | add')
if [ "$wk_ok" = 16 ] && [ "${w0:-0}" -gt 0 ] && [ "${w1:-0}" -gt 0 ] && [ "$tot" = $((w0 + w1)) ] &&
	jq -en 'input | .["0"] > 0 and .["1"] > 0' <<<"$fw" >/dev/null 2>&1; then
	ok "gw-a (workers 2): 16 of 16 UDP flows echoed, both workers carried some (udp_intercepted $w0 + $w1 = status $tot; flows by worker $fw)"
else
	not_ok "gw-a (workers 2): UDP flows over both workers" "echoed $wk_ok of 16" "udp_intercepted: worker 0 $w0, worker 1 $w1, status $tot" \
		"flows by worker: $fw" "$(jq -c '.workers' <<<"$wst" | head -c 400)"
fi

# --- SIGTERM removes everything it installed
for s in a b; do
	pid=$(cat "$TMP/$s.pid")
	kill -TERM "$pid" 2>/dev/null
	waitfor 20 bash -c "! kill -0 $pid 2>/dev/null" || not_ok "gw-$s: sipovld exits on SIGTERM"
done
if pgrep -f "sipovld --worker" >/dev/null; then
	not_ok "gw-a: no worker process left after SIGTERM" "$(pgrep -fa 'sipovld --worker')"
else
	ok "gw-a: no worker process left after SIGTERM"
fi
for ns in "$GWA" "$GWB"; do
	n=$(ip netns exec "$ns" "$CTL" -j intercept show | jq length)
	cfg=$(ip netns exec "$ns" "$CTL" -j config show 2>&1)
	if [ "$n" = 0 ] && jq -en 'input | (.sockets // [] | map(select(.alive)) | length) == 0 and ((.sources // []) | length) == 0' \
		<<<"$cfg" >/dev/null; then
		ok "${ns%%-*}: after SIGTERM no intercepts, sources or live sockets remain"
	else
		not_ok "${ns%%-*}: after SIGTERM no intercepts, sources or live sockets remain" "intercepts $n" "$cfg"
	fi
done
diag "total $(el)s"
cpu_report
done_testing
