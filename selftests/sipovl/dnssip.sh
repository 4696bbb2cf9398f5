#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sipovld's DNS responder end to end (setup in daemon-lib.sh): phone A knows only the SIP
# server's name, pbx.site-b.sipovl.test, which service pbx-b intercepts by name. gw-a's sipovld
# answers it on 10.1.0.1:53: NAPTR, SRV, then A (RFC 3263, asked with dig), the address from
# its virtual range joins pbx-b's kernel intercept, and SIP calls (SIPp, UDP and TCP) to it
# cross the overlay. Then a SIP client that does RFC 3263 itself (baresip, scripts/deps.sh),
# given only sip:bob@pbx.site-b.sipovl.test, resolves it through gw-a and calls over TCP and UDP. gw-b hosts pbx-b for that name only (allowedAddresses: the name), so a
# call completes only when the dial carries dst_hostname; gw-b resolves it with its own
# resolver (its /etc/hosts, bind-mounted: 10.2.0.2).
source "$(dirname "$0")/daemon-lib.sh"
require_cmd dig

daemon_net dnssip
cat >"$TMP/a.conf" <<CONF
{ "identities": ["$SIPOVLD_ZN_DIR/gw-a.json"], "log_level": "debug", "dns_listen": ["10.1.0.1:53"],
  "dns_range4": "100.64.7.0/24", "dns_upstream": [] }
CONF
start_gw_only a "$GWA" -c "$TMP/a.conf"
printf '127.0.0.1 localhost\n10.2.0.2 pbx.site-b.sipovl.test\n' >"$TMP/hosts"
# shellcheck disable=SC2016 # expanded by the inner shell
ip netns exec "$GWB" unshare -m sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$TMP/hosts" \
	"$D" -i "$SIPOVLD_ZN_DIR/gw-b.json" -l debug --control "$TMP/b.sock" 2>"$TMP/b.log" &
echo $! >"$TMP/b.pid"
on_exit kill "$!"
gateways_ready
pbx_ready() { st b | jq -en 'input | [.services[] | select(.name == "pbx-b") | .host.listening] == [true]' >/dev/null 2>&1; }
waitfor 60 pbx_ready || not_ok "gw-b hosts pbx-b" "$(grep pbx-b "$TMP/b.log" | tail -3)"

q() { in_pa dig @10.1.0.1 +time=5 +tries=2 +short "$@" 2>&1; }
naptr=$(q pbx.site-b.sipovl.test NAPTR | sort | tr '\n' '|')
if grep -q '"SIP+D2U" "" _sip._udp.pbx.site-b.sipovl.test.' <<<"$naptr" &&
	grep -q '"SIP+D2T" "" _sip._tcp.pbx.site-b.sipovl.test.' <<<"$naptr" && ! grep -q SIPS <<<"$naptr"; then
	ok "phone A: NAPTR of pbx.site-b.sipovl.test: SIP+D2U and SIP+D2T (no TLS: 5061 not intercepted)"
else
	not_ok "phone A: NAPTR of pbx.site-b.sipovl.test" "got: $naptr" "$(tail -5 "$TMP/a.log")"
fi
srv_u=$(q _sip._udp.pbx.site-b.sipovl.test SRV)
srv_t=$(q _sip._tcp.pbx.site-b.sipovl.test SRV)
if [ "$srv_u" = "10 1 5060 pbx.site-b.sipovl.test." ] && [ "$srv_t" = "10 1 5060 pbx.site-b.sipovl.test." ]; then
	ok "phone A: SRV _sip._udp and _sip._tcp: 10 1 5060 pbx.site-b.sipovl.test."
else
	not_ok "phone A: SRV of pbx" "udp: $srv_u" "tcp: $srv_t"
fi
addr=$(q "${srv_u##* }" A)
tbl=$(ip netns exec "$GWA" "$CTL" -j intercept show)
if [ "$addr" = 100.64.7.68 ] &&
	jq -en 'input | .[] | select(.name == "pbx-b") | .destinations == ["100.64.7.68/32"]' <<<"$tbl" >/dev/null 2>&1; then
	ok "phone A: A of the SRV target: $addr, in pbx-b's kernel intercept"
else
	not_ok "phone A: A of the SRV target in pbx-b's kernel intercept" "A: $addr" "$(jq -c '.[] | {name, destinations}' <<<"$tbl")"
fi
[ -n "$addr" ] || addr=100.64.7.68

# gw-a fetched pbx-b's Dial session when it answered the name: the first call does not wait
# for the controller (before: the first UDP call's setup took 505-1184 ms under TCG, the
# INVITE retransmitted)
sess_ready() { grep -q 'service pbx-b: Dial session fetched ahead of its dials' "$TMP/a.log"; }
if waitfor 30 sess_ready; then
	diag "gw-a: $(grep -m1 -o 'service pbx-b: Dial session fetched ahead.*' "$TMP/a.log")"
else
	diag "gw-a: pbx-b's Dial session not fetched ahead after 30 s: $(grep -E 'pbx-b.*Dial session|dns: pbx' "$TMP/a.log" | tail -2)"
fi

# --- SIP calls to the resolved address and port (SIPp's built-in uac; the UAS is
# sipp-uas.xml, which answers an INVITE retransmission with its 200: the first call's INVITE
# waits for gw-a's first dial, and when that takes longer than T1 the retransmission reaches
# the UAS after its 200, which SIPp's built-in uas takes for an unexpected message; see the
# file and tests/sip/run.sh)
port=$(awk '{print $3}' <<<"$srv_u")
for t in u1 t1; do
	ip netns exec "$PB" sipp -sf "$SIPOVL_TOP/selftests/sipovl/sipp-uas.xml" -i 10.2.0.2 -p 5060 -t "$t" -m 3 -nostdin >"$TMP/uas_$t.out" 2>&1 &
	uas=$!
	on_exit kill "$uas"
	uas_up() { ip netns exec "$PB" ss -Hln "$([ "$1" = u1 ] && echo -u || echo -t)" 'sport = :5060' | grep -q 5060; }
	waitfor 30 uas_up "$t" || diag "SIPp UAS ($t) not listening after 30 s"
	rc=0
	(cd "$TMP" && in_pa timeout 120 sipp -sn uac "$addr:${port:-5060}" -i 10.1.0.2 -p 5062 -t "$t" -m 3 -l 1 \
		-recv_timeout 30000 -nostdin -trace_stat -stf "$TMP/uac_$t.csv" >"$TMP/uac_$t.out" 2>&1) || rc=$?
	succ=$(tail -1 "$TMP/uac_$t.csv" 2>/dev/null | awk -F';' '{print $16}')
	tn=$([ "$t" = u1 ] && echo UDP || echo TCP)
	if [ $rc = 0 ]; then
		ok "SIP over $tn to $addr:${port:-?} (the name's SRV and A): 3 calls completed (successful ${succ:-?}, t=$(el)s)"
	else
		not_ok "SIP over $tn to $addr:${port:-?}: 3 calls (sipp exit $rc)" "$(tail -3 "$TMP/uac_$t.out")" \
			"gw-a: $(grep -E 'pbx-b|dns' "$TMP/a.log" | tail -3)" "gw-b: $(grep -E 'pbx-b' "$TMP/b.log" | tail -3)"
	fi
	# over UDP the UAS ends by itself after its 3rd call's timewait (4 s): its final screen
	# says whether an INVITE retransmission crossed its 200 (the case sipp-uas.xml handles)
	uas_done() { ! kill -0 "$uas" 2>/dev/null; }
	if [ "$t" = u1 ] && waitfor 30 uas_done; then
		diag "UAS over UDP: INVITE retransmissions received $(awk '$1 == "---------->" && $2 == "INVITE" { print $4 }' "$TMP/uas_$t.out"); gw-a's call setups (INVITE to 200): $(grep -oE 'setup_ms=[0-9]+' "$TMP/a.log" | tr '\n' ' ')"
	fi
	kill "$uas" 2>/dev/null
	wait "$uas" 2>/dev/null
done
# the first dial (UDP) found the Dial session in hand, fetched at the DNS answer
d1=$(grep -m1 'dial pbx-b: connected on router' "$TMP/a.log")
if grep -q 'Dial session in hand' <<<"$d1"; then
	ok "gw-a: pbx-b's Dial session fetched when the name was answered; the first dial did not wait for it (${d1#*: dial pbx-b: })"
else
	not_ok "gw-a: pbx-b's Dial session fetched when the name was answered" "first dial: ${d1:-none logged}" \
		"$(grep -E 'dns: pbx' "$TMP/a.log" | tail -2)"
fi
# gw-b allows pbx-b's dials only to the name: reaching 10.2.0.2 took the dial's dst_hostname
if grep -qE 'service pbx-b: hosting a udp dial .* to 10\.2\.0\.2:5060' "$TMP/b.log" &&
	grep -qE 'service pbx-b: hosting a tcp dial .* to 10\.2\.0\.2:5060' "$TMP/b.log"; then
	ok "gw-b: pbx-b's udp and tcp dials went to 10.2.0.2:5060 (dst_hostname pbx.site-b.sipovl.test, resolved by gw-b)"
else
	not_ok "gw-b: pbx-b dials to 10.2.0.2:5060" "$(grep -E 'pbx-b' "$TMP/b.log" | tail -3)"
fi
# --- a real SIP client that resolves the domain itself (RFC 3263): baresip is given only
# sip:bob@pbx.site-b.sipovl.test and gw-a's responder as its dns_server. Over TCP it asks NAPTR
# (SIP+D2T preferred to SIP+D2U), then SRV _sip._tcp and A; with ;transport=udp, SRV _sip._udp
# then A (RFC 3263 4.1). gw-a's NAPTR answer carries the SRV and A records as additional
# records, its SRV answer the A, and baresip uses them: on 6.12 it asked only NAPTR (TCP) and
# only SRV (UDP), then called 100.64.7.68:5060. tcpdump on phone A's link shows its questions;
# the SIPp UAS on the PBX, reachable only through the overlay, records the INVITE, ACK and BYE.
if command -v baresip >/dev/null 2>&1 && command -v tcpdump >/dev/null 2>&1; then
	mkdir -p "$TMP/bs"
	cat >"$TMP/bs/config" <<CONF
poll_method	epoll
sip_listen	10.1.0.2:5072
dns_server	10.1.0.1:53
module_path	/usr/lib/baresip/modules
audio_player	aubridge,x
audio_source	aubridge,x
module		g711.so
module		aubridge.so
module_tmp	account.so
module_app	menu.so
CONF
	echo '<sip:alice@pbx.site-b.sipovl.test>;regint=0' >"$TMP/bs/accounts"
	for t in t1 u1; do
		tn=$([ "$t" = u1 ] && echo UDP || echo TCP)
		uri=sip:bob@pbx.site-b.sipovl.test$([ "$t" = u1 ] && echo ';transport=udp')
		ip netns exec "$PB" sipp -sf "$SIPOVL_TOP/selftests/sipovl/sipp-uas.xml" \
			-i 10.2.0.2 -p 5060 -t "$t" -m 1 -nostdin -trace_msg -message_file "$TMP/bs_uas_$t.msg" >"$TMP/bs_uas_$t.out" 2>&1 &
		uas=$!
		on_exit kill "$uas"
		waitfor 30 uas_up "$t" || diag "SIPp UAS ($t) not listening after 30 s"
		in_pa tcpdump -i p0 -nn -l -U 'port 53' >"$TMP/bs_dns_$t.txt" 2>"$TMP/bs_tcpdump_$t.err" &
		cap=$!
		on_exit kill "$cap"
		cap_up() { grep -q 'listening on' "$TMP/bs_tcpdump_$t.err"; }
		waitfor 30 cap_up || diag "tcpdump on phone A not listening after 30 s"
		ans0=$(st a | jq -r '.dns.answered' 2>/dev/null)
		in_pa timeout 90 baresip -4 -f "$TMP/bs" -e "/dial $uri" -t 15 >"$TMP/bs_$t.out" 2>&1
		sleep 1
		kill "$cap" 2>/dev/null
		wait "$cap" 2>/dev/null
		ans1=$(st a | jq -r '.dns.answered' 2>/dev/null)
		qs=$(grep -oE '(NAPTR|SRV|A|AAAA)\? [^ ]+' "$TMP/bs_dns_$t.txt" | sort -u | tr '\n' ',')
		# its first question is the one RFC 3263 starts with for that URI; the next steps (SRV,
		# A) may come from the answer's additional section, which gw-a fills (RFC 3403 4.4):
		# baresip (libre) then asks nothing more. Any further question is one of that chain.
		if [ "$t" = t1 ]; then
			first="NAPTR? pbx.site-b.sipovl.test."
			chain="$first,SRV? _sip._tcp.pbx.site-b.sipovl.test.,A? pbx.site-b.sipovl.test."
		else
			first="SRV? _sip._udp.pbx.site-b.sipovl.test."
			chain="$first,A? pbx.site-b.sipovl.test."
		fi
		q1=$(grep -m1 -oE '(NAPTR|SRV|A|AAAA)\? [^ ]+' "$TMP/bs_dns_$t.txt")
		# (no process substitution: the guest has no /dev/fd, and a failed grep would leave this empty)
		tr ',' '\n' <<<"$chain" >"$TMP/bs_chain_$t.txt"
		other=$(tr ',' '\n' <<<"$qs" | grep -v '^$' | grep -vxF -f "$TMP/bs_chain_$t.txt")
		if [ "$q1" = "$first" ] && [ -z "$other" ]; then
			ok "baresip ($tn, given $uri): asked gw-a ${qs%,} (first: $q1; the rest of the chain from the additional section; gw-a answered $((ans1 - ans0)) queries)"
		else
			not_ok "baresip ($tn): its DNS questions to gw-a" "want first: $first, then only: $chain" "got: $qs" \
				"$(tail -3 "$TMP/bs_dns_$t.txt")"
		fi
		msgs=$(grep -oE '^(INVITE|ACK|BYE) sip:' "$TMP/bs_uas_$t.msg" 2>/dev/null | awk '{print $1}' | sort -u | tr '\n' ' ')
		if grep -qa "Call established: $uri" "$TMP/bs_$t.out" && grep -qa "terminated" "$TMP/bs_$t.out" &&
			[ "$msgs" = "ACK BYE INVITE " ]; then
			ok "baresip ($tn): the call to the domain crossed the overlay: established, INVITE/ACK/BYE at the PBX (t=$(el)s)"
		else
			not_ok "baresip ($tn): call to $uri" "at the PBX: ${msgs:-nothing}" \
				"$(grep -aoE '(call|sip|ua|dns)[^[]{0,120}' "$TMP/bs_$t.out" | grep -v '^/' | tail -4)" \
				"gw-a: $(grep -E 'pbx-b|dns' "$TMP/a.log" | tail -2)"
		fi
		kill "$uas" 2>/dev/null
		wait "$uas" 2>/dev/null
	done
else
	diag "baresip or tcpdump not installed (scripts/deps.sh): the RFC 3263 client points are left out"
	for tn in TCP UDP; do
		skip "baresip ($tn): asks NAPTR/SRV/A of the domain" "baresip or tcpdump not installed"
		skip "baresip ($tn): the call to the domain crosses the overlay" "baresip or tcpdump not installed"
	done
fi
expect "other names: REFUSED (no upstream)" 'status: REFUSED' in_pa dig @10.1.0.1 +time=5 +tries=2 example.org A

# --- gw-a with two workers (issue 16). The names are the primary's (its DNS responder), and a
# worker's flow to a name's address must carry the name as well (app_data dst_hostname: gw-b
# hosts pbx-b for the name only): the worker asks the primary (worker_names.c). SIP requests
# from 12 source ports to the name's address (sipovl.ko spreads new flows over the workers by
# a flow hash), each sent again as a SIP UA over UDP does until answered (RFC 3261 timer E:
# 500 ms doubling to 4 s, for 32 s): pbx-b must receive every port's request through gw-b,
# which refuses none. (A single datagram per port asked more: that each first dial completes
# within its 5 s connect timeout. On make check's starved guests 12 dials at once sometimes
# do not, gave up at 5 s, and the datagram was gone; a UA's next retransmission dials again.)
kill "$(cat "$TMP/a.pid")" 2>/dev/null
waitfor 20 eval '! kill -0 "$(cat "$TMP/a.pid")" 2>/dev/null' || diag "gw-a (one worker) did not stop in 20 s"
sed 's/^{ /{ "workers": 2, /' "$TMP/a.conf" >"$TMP/a2.conf"
start_gw_only a "$GWA" -c "$TMP/a2.conf"
wk_ready() {
	st a | jq -en 'input | (.workers | length) == 2 and all(.workers[]; .alive) and .workers[1].identities_ready == 1 and
		([.services[] | select(.name == "pbx-b") | .permissions] | length == 1)' >/dev/null 2>&1
}
waitfor 120 wk_ready || diag "gw-a (workers 2) not ready: $(st a | jq -c '.workers' 2>&1 | head -c 300)"
addr2=$(q pbx.site-b.sipovl.test A)
hb() { st b | jq -r '[.services[] | select(.name == "pbx-b") | .host.accepted, .host.refused] | join(" ")'; }
read -r acc0 ref0 <<<"$(hb)"
# pbx-b: the port each request names, once per port; $TMP/wk-all once all 12 came
bg "$PB" wk-pbx python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.2.0.2", 5060))
print("ready", flush=True)
seen = set()
while len(seen) < 12:
    m = s.recv(2048).decode(errors="replace").split()
    if len(m) == 3 and m[0] == "OPTIONS" and m[2] not in seen:
        seen.add(m[2])
        print("port", m[2], flush=True)
open(sys.argv[1], "w").close()' "$TMP/wk-all"
in_pa python3 -c '
import os, socket, sys, time
ss = []
for p in range(41001, 41013):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.1.0.2", p))
    ss.append((s, b"OPTIONS probe %d" % p))
t0, wait = time.monotonic(), 0.5
while True:
    for s, m in ss:
        s.sendto(m, (sys.argv[1], 5060))
    if time.monotonic() - t0 + wait > 32 or os.path.exists(sys.argv[2]):
        break
    end = time.monotonic() + wait
    while time.monotonic() < end and not os.path.exists(sys.argv[2]):
        time.sleep(0.1)
    if os.path.exists(sys.argv[2]):
        break
    wait = min(wait * 2, 4)' "${addr2:-$addr}" "$TMP/wk-all" 2>&1 | head -3
waitfor 10 test -e "$TMP/wk-all" || true
# A worker's counters reach the primary's status in its report, once a second (workers.c): wait
# for a report from every worker made after all 12 requests arrived, or a fast run reads the
# counters of before its flows (make check, vm-6.1: worker 1 showed u 0 while worker 0 had 5 of
# the 12 flows).
t_all=$(date +%s%3N)
wk0=$(st a | jq -c '[.workers[] | {u: .counters.udp_intercepted, age: .report_age_ms}]' 2>&1)
reports_fresh() {
	local since=$(($(date +%s%3N) - t_all))
	st a | jq -en --argjson since "$since" 'input | [.workers[1:][] | .report_age_ms] |
		length >= 1 and all(.[]; . != null and . < $since)' >/dev/null 2>&1
}
fresh=yes
waitfor 10 reports_fresh || fresh="no: not every worker reported within 10 s ($(st a | jq -c '[.workers[].report_age_ms]' 2>&1))"
diag "gw-a (workers 2): per worker when all 12 had arrived: $wk0; after $(($(date +%s%3N) - t_all)) ms every worker had reported since: $fresh"
read -r acc1 ref1 <<<"$(hb)"
got=$(grep -c '^port ' "$TMP/wk-pbx.out")
wk=$(st a | jq -c '[.workers[] | {q: .counters.worker_name_questions, t: .counters.worker_name_timeouts, u: .counters.udp_intercepted,
	to: .counters.dial_timeouts}]')
if [ "$fresh" = yes ] && [ "$got" = 12 ] && [ "$ref1" = "$ref0" ] && [ "$((acc1 - acc0))" -ge 12 ] &&
	jq -en 'input | .[1].u >= 1 and .[1].q >= .[1].u and .[1].t == 0 and .[0].q == 0' <<<"$wk" >/dev/null 2>&1; then
	ok "gw-a (workers 2): the flows from 12 ports to $addr2 (the name's address) carried the name: pbx-b received each port's request through gw-b, which refused none ($((acc1 - acc0)) dials hosted; per worker: $wk; q: names asked of the primary, to: dials timed out)"
else
	not_ok "gw-a (workers 2): flows to the name's address carry the name" \
		"pbx-b received the requests of $got of 12 ports; gw-b pbx-b: accepted $((acc1 - acc0)) (want >= 12), refused $((ref1 - ref0)) (want 0)" \
		"per worker (q: names asked, t: unanswered, u: udp flows, to: dials timed out): $wk; reports fresh: $fresh" \
		"gw-b: $(grep -E 'pbx-b' "$TMP/b.log" | tail -3)"
fi
# The name's answer (addr2's query above) fetched the Dial session in every process, not only in
# the primary that answered: sipovl.ko may steer the caller's flow to any worker
# (WMSG_PREPARE). Before, a worker fetched its own at its first dial (run.sh's default 2
# vCPUs gave gw-a 2 workers in the first part too, whose "Dial session fetched when the name
# was answered" then failed: "worker 1: ... (Dial session fetched in 10 ms)"). The log line is
# libzt's for a fetch zt_dial_prepare started (a dial's own fetch does not print it).
p2=$(grep -m1 'worker 1: .*service pbx-b: Dial session fetched ahead of its dials' "$TMP/a.log")
d2=$(grep -m1 'worker 1: .*dial pbx-b: connected on router' "$TMP/a.log")
if [ -n "$p2" ]; then
	ok "gw-a (workers 2): worker 1 fetched pbx-b's Dial session when the primary answered the name (${p2#*service pbx-b: }; its first dial: ${d2#*: dial pbx-b: })"
else
	not_ok "gw-a (workers 2): worker 1's Dial session fetched when the name was answered" "first dial: ${d2:-none logged}" \
		"$(grep -E 'worker 1: .*(Dial session|pbx-b)' "$TMP/a.log" | head -3)"
fi
cpu_report
done_testing
