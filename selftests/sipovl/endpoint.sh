#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The seed's ip-pool sequence end to end with sipovl.ko (issue 15 item 7; setup in
# daemon-lib.sh, services in tests/daemon/vmnet.sh provision_ep): three endpoint hosts, each
# its own namespace with sipovld in endpoint mode (identities ep-1, ep-2: phones; ep-srv: the
# SIP server), get addresses of pool voip-ips (100.127.9.0/24) from the pool server, which the
# gateway sipovld of site A (identity ep-gw, in gw-a's namespace) hosts (service ep-pool). Their
# kernel intercept of service voip is the pool's range without their own address. The phones
# REGISTER with the server (sipreg.py, a registrar and proxy) through the overlay, phone 1 calls
# phone 2 through it (SIPp), RTP flows both ways between the phones' pool addresses; the
# server's registrations and the callee see the callers' pool addresses. Meanwhile phone A,
# behind the gateway, calls phone 2 at its pool address (service voip-gw): gateways and
# endpoints in one network.
#
#   PA 10.1.0.2 -- ep-gw (GWA, pool server) -- ZT 10.99.0.1 -- E1 10.99.3.2 (phone 1)
#                                                            -- E2 10.99.4.2 (phone 2)
#                                                            -- ES 10.99.5.2 (SIP server)
#
# SIPOVL_DAEMON_DEMO=1: print the demo report too (`make demo SCENARIO=endpoint`), as
# "# demo-ep: " and "# demo-ep-calls: " lines (daemon/demo/demo.sh shows them).
source "$(dirname "$0")/daemon-lib.sh"
require_cmd python3

POOL=100.127.9.0/24
daemon_net endpoint
setup_ns E1 E2 ES
i=3
for e in E1 E2 ES; do
	link "${!e}" u0 10.99.$i.2/24 "$ZT" "e$i" 10.99.$i.1/24
	ip -n "${!e}" route add default via 10.99.$i.1
	i=$((i + 1))
done
for x in ep-1 ep-2 ep-srv ep-gw; do
	[ -f "$SIPOVLD_ZN_DIR/$x.json" ] || bail_out "no identity $x in $NET: rebuild it (make tests)"
done
modprobe -q dummy 2>/dev/null
cat >"$TMP/gw.conf" <<CONF
{ "identities": ["$SIPOVLD_ZN_DIR/ep-gw.json"], "log_level": "debug", "service_poll_s": 2,
  "ip_pool": { "name": "voip-ips", "range": "$POOL", "service": "ep-pool", "lease_file": "$TMP/leases",
               "trust_caller": true } }
CONF
start_gw_only gw "$GWA" -c "$TMP/gw.conf"
# the endpoints check that a dialer's claimed pool address is its own lease (pool_check.c), and
# the test's routers (ziti 1.6) do not say who dials: the caller id is trusted, as ip_pool's
# trust_caller does at the pool server
for x in 1 2 srv; do
	cat >"$TMP/ep$x.conf" <<CONF
{ "identities": ["$SIPOVLD_ZN_DIR/ep-$x.json"], "log_level": "debug", "service_poll_s": 2,
  "source_identity": "caller",
  "endpoint": { "pool": "voip-ips", "service": "ep-pool", "interface": "voip0", "state_file": "$TMP/ep$x.state" } }
CONF
done
start_gw_only ep1 "$E1" -c "$TMP/ep1.conf"
start_gw_only ep2 "$E2" -c "$TMP/ep2.conf"
start_gw_only epsrv "$ES" -c "$TMP/epsrv.conf"

# the SIP scenarios while the daemons start (SIPp is slow to start under TCG): a phone's
# REGISTER, and SIPp's uac_pcap and uas (daemon-lib.sh)
cat >"$TMP/register.xml" <<'XML'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register">
  <send retrans="500">
    <![CDATA[

      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[service]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[service]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Expires: 3600
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
XML
sipp_scenarios

# --- the pool addresses
addr() { st "$1" | jq -r '.endpoint.address // empty' 2>/dev/null; }
all_addrs() { [ -n "$(addr ep1)" ] && [ -n "$(addr ep2)" ] && [ -n "$(addr epsrv)" ]; }
waitfor 240 all_addrs
P1=$(addr ep1) P2=$(addr ep2) PS=$(addr epsrv)
in_pool() { python3 -c 'import ipaddress,sys; sys.exit(ipaddress.ip_address(sys.argv[1]) not in ipaddress.ip_network(sys.argv[2]))' "$1" "$POOL"; }
if [ -n "$P1" ] && [ -n "$P2" ] && [ -n "$PS" ] && in_pool "$P1" && in_pool "$P2" && in_pool "$PS" &&
	[ "$(printf '%s\n' "$P1" "$P2" "$PS" | sort -u | wc -l)" = 3 ]; then
	ok "three endpoints got distinct addresses of $POOL from the pool server: phone 1 $P1, phone 2 $P2, SIP server $PS (t=$(el)s)"
else
	not_ok "three endpoints got distinct pool addresses" "phone 1 '$P1', phone 2 '$P2', server '$PS'" \
		"ep1: $(grep endpoint "$TMP/ep1.log" | tail -3 | tr '\n' '|')" "gw: $(grep -i pool "$TMP/gw.log" | tail -3 | tr '\n' '|')"
	bail_out "no pool addresses"
fi
if_addrs() { ip -n "$1" -j addr show dev voip0 2>/dev/null | jq -r '[.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"] | join(",")'; }
leases=$(grep -v '^sipovl-pool' "$TMP/leases" 2>/dev/null | sort | tr '\n' '|')
if [ "$(if_addrs "$E1")" = "$P1/32" ] && [ "$(if_addrs "$E2")" = "$P2/32" ] && [ "$(if_addrs "$ES")" = "$PS/32" ] &&
	[ "$(grep -c "^\($P1\|$P2\|$PS\) " "$TMP/leases")" = 3 ]; then
	ok "each address on its endpoint's voip0 (/32) and in the pool server's lease file ($leases)"
else
	not_ok "addresses on voip0 and in the lease file" "E1 '$(if_addrs "$E1")' E2 '$(if_addrs "$E2")' ES '$(if_addrs "$ES")'" "leases: $leases"
fi

# --- the services hosted and intercepted; the kernel tables
svc_ready() { # svc_ready SITE SERVICE intercept|host|both
	st "$1" | jq -en --arg s "$2" --arg w "$3" 'input | [.services[] | select(.name == $s) |
		(($w == "host" or .intercept.installed) and ($w == "intercept" or .host.listening))] == [true]' >/dev/null 2>&1
}
eps_ready() { svc_ready ep1 voip both && svc_ready ep2 voip both && svc_ready epsrv voip both &&
	svc_ready ep2 voip-gw host && svc_ready gw voip-gw intercept; }
if waitfor 120 eps_ready; then
	ok "voip intercepted and hosted at the three endpoints, voip-gw hosted at phone 2 and intercepted at ep-gw (t=$(el)s)"
else
	not_ok "services ready" "ep1: $(st ep1 | jq -c '[.services[] | {name, i: .intercept.installed, h: .host.listening}]')" \
		"ep2: $(grep -E 'voip' "$TMP/ep2.log" | tail -3 | tr '\n' '|')" "gw: $(grep voip "$TMP/gw.log" | tail -2 | tr '\n' '|')"
fi
# the kernel's intercept of voip at each endpoint: the pool's range without the endpoint's own
# address (a flow to it is local; intercepting it would loop it back into the overlay)
without() { python3 -c 'import ipaddress,sys,json
n = ipaddress.ip_network(sys.argv[1]); a = ipaddress.ip_network(sys.argv[2] + "/32")
print(json.dumps(sorted(str(p) for p in n.address_exclude(a)), separators=(",", ":")))' "$POOL" "$1"; }
kdsts() { ip netns exec "$1" "$CTL" -j intercept show | jq -c --arg s "$2" '[.[] | select(.name == $s) | .destinations[]] | sort'; }
for e in 1:E1:$P1 2:E2:$P2 srv:ES:$PS; do
	IFS=: read -r x ns a <<<"$e"
	want=$(without "$a") got=$(kdsts "${!ns}" voip)
	if [ "$got" = "$want" ]; then
		ok "ep-$x: sipovl.ko intercepts voip for $POOL without its own $a ($(jq length <<<"$got") prefixes)"
	else
		not_ok "ep-$x: the kernel intercept of voip is $POOL without $a" "want $want" "got $got"
	fi
done
got=$(kdsts "$GWA" voip-gw)
if [ "$got" = "[\"$POOL\"]" ]; then
	ok "ep-gw: sipovl.ko intercepts voip-gw for the whole pool $POOL"
else
	not_ok "ep-gw: the kernel intercept of voip-gw" "got $got"
fi

# --- SIP: registrations, then phone 1 calls phone 2 through the server while phone A (behind
# ep-gw) calls phone 2 directly at its pool address. Counters of what each phone sends and
# receives, by address (the hosting endpoint delivers with the caller's address as source).
nft_phone() { # NS RULES...
	local ns=$1
	shift
	ip netns exec "$ns" nft -f - <<NFT || bail_out "nft in $ns"
table inet t {
	$(for c in "$@"; do echo "counter ${c%%=*} {}"; done)
	chain i {
		type filter hook input priority 0
$(for c in "$@"; do [[ ${c#*=} != in:* ]] || echo "		${c#*=in:} counter name ${c%%=*}"; done)
	}
	chain o {
		type filter hook output priority 0
$(for c in "$@"; do [[ ${c#*=} != out:* ]] || echo "		${c#*=out:} counter name ${c%%=*}"; done)
	}
}
NFT
}
cnt() { ip netns exec "$1" nft -j list counter inet t "$2" 2>/dev/null | jq '.nftables[1].counter.packets // 0'; }
nft_phone "$E1" "rtp_out=out:ip daddr $P2 udp dport 6100" "rtp_back=in:ip saddr $P2 udp sport 6100 ip daddr $P1"
nft_phone "$E2" "rtp_p1=in:ip saddr $P1 udp dport 6100" "rtp_pa=in:ip saddr 10.1.0.2 udp dport 6100" \
	"sip_srv=in:ip saddr $PS udp dport 5060" "sip_pa=in:ip saddr 10.1.0.2 udp dport 5060" \
	"rtp_other=in:ip saddr != { $P1, 10.1.0.2 } udp dport 6100" \
	"echo_p1=out:ip saddr $P2 udp sport 6100 ip daddr $P1" "echo_pa=out:ip saddr $P2 udp sport 6100 ip daddr 10.1.0.2"
nft_phone "$PA" "rtp_out=out:ip daddr $P2 udp dport 6100" "rtp_back=in:ip saddr $P2 udp sport 6100"

bg "$ES" sipreg python3 "$SIPOVL_TOP/selftests/sipovl/sipreg.py" "$PS" 5060 "$TMP/sipreg.log"
reg() { # NS USER ADDR
	(cd "$TMP" && ip netns exec "$1" timeout 60 sipp -sf "$TMP/register.xml" "$PS:5060" -s "$2" -i "$3" -p 5060 -m 1 \
		-recv_timeout 30000 -nostdin >"$TMP/reg_$2.out" 2>&1)
}
reg "$E1" p1 "$P1" & r1=$!
reg "$E2" p2 "$P2" & r2=$!
rc1=0 rc2=0
wait $r1 || rc1=$?
wait $r2 || rc2=$?
if [ $rc1 = 0 ] && [ $rc2 = 0 ] && grep -qx "REGISTER p1 from $P1:[0-9]* contact $P1:5060" "$TMP/sipreg.log" &&
	grep -qx "REGISTER p2 from $P2:[0-9]* contact $P2:5060" "$TMP/sipreg.log" && ! grep -qv "^REGISTER p[12] from \($P1\|$P2\):" "$TMP/sipreg.log"; then
	ok "both phones registered with the SIP server through the overlay; it sees them from their pool addresses ($(tr '\n' '|' <"$TMP/sipreg.log"), t=$(el)s)"
else
	not_ok "phones REGISTER with the SIP server" "sipp exits $rc1 $rc2" "server: $(tr '\n' '|' <"$TMP/sipreg.log")" \
		"p1: $(tail -3 "$TMP/reg_p1.out" | tr '\n' '|')" "ep1: $(grep voip "$TMP/ep1.log" | tail -3 | tr '\n' '|')"
fi

# phone 2: SIPp's UAS (absorbing INVITE retransmissions, daemon-lib.sh) echoing RTP on 6100,
# for both calls
(cd "$TMP" && ip netns exec "$E2" sipp -sf "$TMP/uas.xml" -i "$P2" -p 5060 -t u1 -rtp_echo -mp 6100 -m 2 \
	-nostdin -trace_msg -message_file "$TMP/uas_msgs.log" >"$TMP/uas.out" 2>&1) &
uas=$!
on_exit kill "$uas"
uas_up() { ip netns exec "$E2" ss -Hlnu "sport = :5060" | grep -q 5060; }
waitfor 30 uas_up || diag "phone 2's SIPp UAS not listening after 30 s"
call() { # NS TARGET ADDR MEDIA_PORT NAME
	(cd "$TMP" && ip netns exec "$1" timeout 120 sipp -sf "$TMP/uac_pcap.xml" "$2:5060" -s p2 -i "$3" -p 5062 -mp "$4" \
		-t u1 -m 1 -recv_timeout 30000 -nostdin -trace_stat -stf "$TMP/uac_$5.csv" >"$TMP/uac_$5.out" 2>&1)
}
# datagrams a gateway dropped by design (counted): the pending queue of a flow whose dial has
# not completed (64 datagrams), or late on a full router socket; in CI at 5b39574 the RTP
# flow's dial from ep-gw took 2,796 ms on the loaded guest (its router starved: a latency
# probe unanswered for 3.6 s) and phone A -> 2 delivered 212 of 246
# (0 when the gateway does not answer: no loss is then explained)
gw_dropped() { st "$1" | jq -n '[inputs][0].counters // {} | (.udp_dropped // 0) + (.datagrams_dropped_late // 0)'; }
dr_gw0=$(gw_dropped gw) dr_ep10=$(gw_dropped ep1) dr_ep20=$(gw_dropped ep2)
call "$E1" "$PS" "$P1" 6000 p1 & c1=$!
call "$PA" "$P2" 10.1.0.2 6200 pa & c2=$!
rc1=0 rc2=0
wait $c1 || rc1=$?
wait $c2 || rc2=$?
if [ $rc1 = 0 ] && grep -q "^INVITE p2 from $P1:[0-9]* to $P2:5060" "$TMP/sipreg.log" &&
	grep -q "^BYE p2 from $P1:[0-9]* to $P2:5060" "$TMP/sipreg.log"; then
	ok "phone 1 called phone 2 through the SIP server: INVITE and BYE from $P1, forwarded to $P2 (sipp exit 0, t=$(el)s)"
else
	not_ok "phone 1 calls phone 2 through the SIP server" "sipp exit $rc1: $(tail -3 "$TMP/uac_p1.out" | tr '\n' '|')" \
		"server: $(tr '\n' '|' <"$TMP/sipreg.log")" "ep2: $(grep voip "$TMP/ep2.log" | tail -3 | tr '\n' '|')"
fi
if [ $rc2 = 0 ]; then
	ok "phone A behind the gateway ep-gw called phone 2 at its pool address $P2 (sipp exit 0)"
else
	not_ok "phone A behind ep-gw calls phone 2 at $P2" "sipp exit $rc2: $(tail -3 "$TMP/uac_pa.out" | tr '\n' '|')" \
		"gw: $(grep voip-gw "$TMP/gw.log" | tail -3 | tr '\n' '|')" "ep2: $(grep voip-gw "$TMP/ep2.log" | tail -3 | tr '\n' '|')"
fi
# the demo's view of the calls, while the ended calls are still listed (32 s after their BYE)
if [ -n "${SIPOVL_DAEMON_DEMO:-}" ]; then
	calls_ep1=$(SIPOVLD_CTL_SOCK=$TMP/ep1.sock "$CTL" -s calls 2>&1)
	calls_ep2=$(SIPOVLD_CTL_SOCK=$TMP/ep2.sock "$CTL" -s calls 2>&1)
fi
uas_done() { ! kill -0 "$uas" 2>/dev/null; }
waitfor 30 uas_done || diag "phone 2's UAS still running 30 s after the calls"

# what the callee saw: the INVITEs from the server (carrying phone 1's SDP) and from phone A,
# the RTP from the callers' addresses only, echoed back to them
inv=$(grep -A40 '^INVITE ' "$TMP/uas_msgs.log" 2>/dev/null | grep -E '^(INVITE|c=)' | tr '\n' '|')
e1_out=$(cnt "$E1" rtp_out) e1_back=$(cnt "$E1" rtp_back) pa_out=$(cnt "$PA" rtp_out) pa_back=$(cnt "$PA" rtp_back)
e2_p1=$(cnt "$E2" rtp_p1) e2_pa=$(cnt "$E2" rtp_pa) e2_other=$(cnt "$E2" rtp_other) e2_sip_srv=$(cnt "$E2" sip_srv)
e2_sip_pa=$(cnt "$E2" sip_pa) echo_p1=$(cnt "$E2" echo_p1) echo_pa=$(cnt "$E2" echo_pa)
udp_drops() { ip netns exec "$1" nstat -az UdpRcvbufErrors UdpSndbufErrors 2>/dev/null | awk '/^Udp/ { printf "%s %s ", $1, $2 }'; }
diag "UDP socket buffer drops: phone 1 $(udp_drops "$E1"); phone 2 $(udp_drops "$E2"); server $(udp_drops "$ES"); phone A $(udp_drops "$PA"); ep-gw $(udp_drops "$GWA")"
diag "RTP phone 1 -> 2: sent $e1_out, received from $P1 $e2_p1; echoed $echo_p1, back at phone 1 $e1_back"
diag "RTP phone A -> 2: sent $pa_out, received from 10.1.0.2 $e2_pa; echoed $echo_pa, back at phone A $pa_back; from elsewhere $e2_other"
if grep -q "c=IN IP4 $P1" <<<"$inv" && [ "$e2_sip_srv" -gt 0 ] && [ "$e2_sip_pa" -gt 0 ]; then
	ok "the callee got phone 1's INVITE from the server's $PS with phone 1's pool address in its SDP, phone A's from 10.1.0.2 ($inv)"
else
	not_ok "the callee sees the callers' addresses in SIP" "INVITEs and c= lines: $inv" "SIP from $PS: $e2_sip_srv, from 10.1.0.2: $e2_sip_pa"
fi
# RTP both ways: more than 100 packets each way, and 90 % of them delivered or dropped by the
# sending gateway as counted (DROPPED_OUT at the caller's gateway, DROPPED_BACK at ep-2, which
# echoes both calls); an uncounted loss over 10 % fails
rtp_ok() { # SENT RECEIVED ECHOED BACK DROPPED_OUT DROPPED_BACK
	[ "$2" -gt 100 ] && [ $(($2 + $5)) -gt $(($1 * 9 / 10)) ] &&
		[ "$4" -gt 100 ] && [ $(($4 + $6)) -gt $(($3 * 9 / 10)) ]
}
dr_gw=$(($(gw_dropped gw) - dr_gw0)) dr_ep1=$(($(gw_dropped ep1) - dr_ep10)) dr_ep2=$(($(gw_dropped ep2) - dr_ep20))
diag "datagrams dropped by design during the calls (pending dial, late): ep-gw $dr_gw, ep-1 $dr_ep1, ep-2 $dr_ep2"
if rtp_ok "$e1_out" "$e2_p1" "$echo_p1" "$e1_back" "$dr_ep1" "$dr_ep2" && [ "$e2_other" = 0 ]; then
	ok "RTP both ways between the phones' pool addresses ($P1 -> $P2 $e2_p1 of $e1_out, $dr_ep1 dropped by ep-1 as counted; back $e1_back of $echo_p1; from no other address)"
else
	not_ok "RTP both ways between $P1 and $P2 (> 100 each way and 90 % delivered or counted dropped)" \
		"sent $e1_out, received $e2_p1, ep-1 dropped $dr_ep1, echoed $echo_p1, back $e1_back, ep-2 dropped $dr_ep2, other $e2_other" \
		"ep-1: $(grep -E 'voip.*(connected on|dial)|WARN|<4>' "$TMP/ep1.log" | tail -4 | tr '\n' '|')"
fi
if rtp_ok "$pa_out" "$e2_pa" "$echo_pa" "$pa_back" "$dr_gw" "$dr_ep2"; then
	ok "RTP both ways between phone A (10.1.0.2, behind ep-gw) and phone 2's $P2 ($e2_pa of $pa_out, $dr_gw dropped by ep-gw as counted; back $pa_back of $echo_pa)"
else
	not_ok "RTP both ways between phone A and $P2 (> 100 each way and 90 % delivered or counted dropped)" \
		"sent $pa_out, received $e2_pa, ep-gw dropped $dr_gw, echoed $echo_pa, back $pa_back, ep-2 dropped $dr_ep2" \
		"ep-gw: $(grep -E 'voip-gw.*(connected on|dial)|<4>' "$TMP/gw.log" | tail -4 | tr '\n' '|')"
fi
# the hosting endpoints asked the pool server who holds each claimed pool address, and allowed
# the callers' own: the SIP server (phone 1's REGISTER and INVITE from P1) and phone 2 (the
# server's INVITE from PS, phone 1's RTP from P1)
lc_srv=$(st epsrv | jq -c '.endpoint.lease_checks') lc_ep2=$(st ep2 | jq -c '.endpoint.lease_checks')
if jq -en --argjson a "$lc_srv" --argjson b "$lc_ep2" '$a.allowed > 0 and $b.allowed > 0 and
	$a.refused == 0 and $b.refused == 0 and $a.asked > 0 and $b.asked > 0 and $b.outside > 0' >/dev/null 2>&1; then
	ok "the hosting endpoints checked the callers' claimed pool addresses against their leases (phone A's 10.1.0.2 outside the pool, not asked about): SIP server $lc_srv, phone 2 $lc_ep2"
else
	not_ok "lease checks at the hosting endpoints" "SIP server: $lc_srv" "phone 2: $lc_ep2" \
		"$(grep -h 'claimed source\|who holds' "$TMP/epsrv.log" "$TMP/ep2.log" | tail -4 | tr '\n' '|')"
fi
if [ -n "${SIPOVL_DAEMON_DEMO:-}" ]; then
	{
		echo "pool voip-ips $POOL, served by ep-gw (service ep-pool); each endpoint's address, claimed at start:"
		for e in 1:E1:ep1:"phone 1" 2:E2:ep2:"phone 2" srv:ES:epsrv:"SIP server"; do
			IFS=: read -r x ns site who <<<"$e"
			printf '  ep-%-4s %-13s %-15s on voip0: %-18s kernel intercept of voip: %s prefixes (the pool without it)\n' \
				"$x" "($who)" "$(addr "$site")" "$(if_addrs "${!ns}")" "$(kdsts "${!ns}" voip | jq length)"
		done
		echo "the pool server's lease file ($(grep -vc '^sipovl-pool' "$TMP/leases") leases):"
		grep -v '^sipovl-pool' "$TMP/leases" | sed 's/^/  /'
		echo "ip_pool at ep-gw: $(st gw | jq -c '.ip_pool | {size, leases, served, refused, lease_file_writes}')"
		echo "the SIP server (sipreg.py on $PS:5060) saw, in order:"
		sed 's/^/  /' "$TMP/sipreg.log"
		echo "calls attempted: 2, completed: $(( (rc1 == 0) + (rc2 == 0) )) (phone 1 $P1 -> server $PS -> phone 2 $P2: sipp exit $rc1;" \
			"phone A 10.1.0.2 behind ep-gw -> phone 2 $P2 direct: sipp exit $rc2)"
		echo "the INVITEs phone 2 received (request line, SDP c=): $inv"
		echo "SIP packets at phone 2 from the server's $PS: $e2_sip_srv, from phone A's 10.1.0.2: $e2_sip_pa"
		echo "RTP phone 1 -> phone 2: $e1_out sent by $P1, $e2_p1 received by $P2 from $P1 (from any other source: $e2_other)"
		echo "RTP phone 2 -> phone 1: $echo_p1 echoed by $P2, $e1_back received back at $P1"
		echo "RTP phone A -> phone 2: $pa_out sent by 10.1.0.2, $e2_pa received by $P2 from 10.1.0.2"
		echo "RTP phone 2 -> phone A: $echo_pa echoed by $P2, $pa_back received back at 10.1.0.2"
		for site in ep1 ep2 epsrv; do
			echo "sipovld $site: endpoint $(st "$site" | jq -c '.endpoint | {state, address, claims, claim_failures, lease_checks}')"
			echo "  counters $(st "$site" | jq -c '.counters | {dials_ok, dials_failed, hosted_udp, hosted_refused, packets_to_ziti, packets_from_ziti}')"
		done
		echo "sipovlctl stats at phone 2 (the callee's kernel):"
		ip netns exec "$E2" "$CTL" stats 2>&1 | sed 's/^/  /'
	} | sed 's/^/# demo-ep: /'
	{
		echo "sipovlctl -s calls at phone 1 (ep-1), taken as the calls ended: its call to phone 2, with its media:"
		sed 's/^/  /' <<<"$calls_ep1"
		echo "sipovlctl -s calls at phone 2 (ep-2), the callee of both calls, at the same moment:"
		sed 's/^/  /' <<<"$calls_ep2"
		echo "the CDR lines in the endpoints' logs:"
		for site in ep1 ep2 epsrv; do grep -o 'call ended: .*' "$TMP/$site.log" | sed "s/^/  $site: /"; done
	} | sed 's/^/# demo-ep-calls: /'
fi
diag "t=$(el)s"
cpu_report
done_testing
