#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sipovld end to end against an HA controller cluster (issue 13's "Done when"): the two sites of
# daemon.sh (setup in daemon-lib.sh), joined by a Ziti network of three controllers (one raft
# cluster, ziti v1.6.5, OIDC access tokens of 1 minute) and one router, provisioned on the host
# by tests/daemon/vmnet.sh prepare-ha. The gateways authenticate with OIDC (sipovld's default
# "auto"); their identities name ctrl1 as ztAPI and the three members in ztAPIs.
#
#   PA 10.1.0.2 -- GWA | 10.99.1.2 -- ZT ctrl1..3 10.99.0.1-3:1280, r1 10.99.0.1:3022 -- 10.99.2.2 | GWB -- PB 10.2.0.2
#
# One SIP call (SIPp over UDP, as daemon.sh) from phone A to phone B with CALL_S seconds of
# PCMA RTP (rtplong.py: one packet every 20 ms, numbered), echoed by phone B. During it:
#   - every gateway's access token is refreshed at least twice (at half its 60 s lifetime)
#     and neither logs in again (status token_refreshes, logins; the refresh is pushed to the
#     router in place: the call's circuits stay);
#   - KILL_AT s after the call is up, the controller gw-a uses (status "controller") is killed
#     (SIGKILL); gw-a must fail over to another member;
#   - after the kill a new service (site-b-new: UDP 10.2.0.2:7500, intercepted by gw-a, hosted
#     by gw-b) is created on a surviving member; both gateways must apply it within
#     CHANGE_S and a datagram through it must reach phone B from phone A's real address.
# The call must complete (SIPp exit 0), phone B must receive the RTP from 10.1.0.2:7300 (and
# SIP from 10.1.0.2 only), and, each way (tcpdump on the phones' links), the RTP lost and the
# longest time between two packets must stay within LOSS_MAX packets (5 %) and GAP_MAX_MS (why
# these bounds: Documentation/testing.md, "The HA end-to-end test").
#
# Knobs (for showing that the test can fail; both are asserted against, not skipped):
#   SIPOVL_HA_AUTH=legacy   the gateways use legacy API sessions (ziti_auth "legacy")
#   SIPOVL_HA_ZTAPIS=0      the gateways' identities name ctrl1 alone (no ztAPIs)
#   SIPOVL_HA_CALL_S (90), SIPOVL_HA_KILL_AT (20)
source "$(dirname "$0")/daemon-lib.sh"
SD=$(cd "$(dirname "$0")" && pwd)
CALL_S=${SIPOVL_HA_CALL_S:-90}
KILL_AT=${SIPOVL_HA_KILL_AT:-20}
CHANGE_S=60
SKIP=250
LOSS_MAX=$(((CALL_S * 50 - SKIP) * 5 / 100))
GAP_MAX_MS=5000
AUTH=${SIPOVL_HA_AUTH:-auto}
require_cmd tcpdump python3

daemon_net daemon-ha ha
if [ "${SIPOVL_HA_ZTAPIS:-1}" = 0 ]; then
	for s in a b; do
		jq 'del(.ztAPIs)' "$SIPOVLD_ZN_DIR/gw-$s.json" >"$TMP/gw.json" && cat "$TMP/gw.json" >"$SIPOVLD_ZN_DIR/gw-$s.json"
	done
	diag "SIPOVL_HA_ZTAPIS=0: the gateways' identities name ctrl1 alone"
fi
for s in a b; do printf '{ "ziti_auth": "%s" }\n' "$AUTH" >"$TMP/$s.conf"; done
start_gw a "$GWA" -c "$TMP/a.conf"
start_gw b "$GWB" -c "$TMP/b.conf"
gateways_ready

idj() { st "$1" | jq -c ".identities[0] | {auth, logins, token_refreshes, controller, controller_switches}"; }
ida0=$(idj a) idb0=$(idj b)
if jq -en --argjson b "$idb0" 'input as $a | [$a, $b] | all(.auth == "oidc" and .logins == 1)' <<<"$ida0" >/dev/null; then
	ok "both gateways authenticated once with OIDC: gw-a $ida0, gw-b $idb0"
else
	not_ok "both gateways authenticated once with OIDC" "gw-a $ida0" "gw-b $idb0"
fi

# --- the call: captures on both phones' links, the UAS at B, the UAC at A
python3 "$SD/rtplong.py" gen "$TMP/long.rtp" "$CALL_S"
sipp_scenarios
sed -e "s#/usr/share/sip-tester/g711a.pcap#$TMP/long.rtp#" \
	-e "s#<pause milliseconds=\"8000\"/>#<pause milliseconds=\"$((CALL_S * 1000 + 500))\"/>#" \
	"$TMP/uac_pcap.xml" >"$TMP/uac_long.xml"
grep -q "$TMP/long.rtp" "$TMP/uac_long.xml" && grep -q "milliseconds=\"$((CALL_S * 1000 + 500))\"" "$TMP/uac_long.xml" ||
	bail_out "sipp -sd uac_pcap: unexpected built-in scenario"
for p in PA PB; do
	ip netns exec "${!p}" tcpdump -U -n -i p0 -w "$TMP/$p.pcap" udp >"$TMP/tcpdump-$p.err" 2>&1 &
	echo $! >"$TMP/tcpdump-$p.pid"
	on_exit kill "$!"
done
waitfor 30 eval 'grep -q "listening on" "$TMP/tcpdump-PA.err" && grep -q "listening on" "$TMP/tcpdump-PB.err"' ||
	diag "tcpdump: $(cat "$TMP"/tcpdump-*.err)"
ip netns exec "$PB" sipp -sf "$TMP/uas.xml" -i 10.2.0.2 -p 5060 -t u1 -rtp_echo -mp 7230 -nostdin \
	-trace_err -error_file "$TMP/uas.err" >"$TMP/uas.out" 2>&1 &
uas=$!
on_exit kill $uas
waitfor 20 eval "ip netns exec $PB ss -Hlnu 'sport = :5060' | grep -q 10.2.0.2" || diag "SIPp UAS not listening after 20 s"
bg "$PB" echo-7500 "$PEER" echo --udp --bind 10.2.0.2:7500
t_call=$(date +%s)
(cd "$TMP" && ip netns exec "$PA" timeout $((CALL_S + 120)) sipp -sf "$TMP/uac_long.xml" 10.2.0.2:5060 -i 10.1.0.2 -p 5061 \
	-t u1 -m 1 -mp 7300 -nostdin -timeout $((CALL_S + 100))s -trace_err -error_file "$TMP/uac.err" >"$TMP/uac.out" 2>&1) &
uac=$!
on_exit kill $uac
# the call is up when gw-a lists it confirmed with RTP on its media flow
confirmed() {
	SIPOVLD_CTL_SOCK=$TMP/a.sock "$CTL" -j calls 2>/dev/null |
		jq -en 'input | [.calls[] | select(.state == "confirmed" and .media_flows[0].rtp.packets_to_ziti > 0)] | length > 0' >/dev/null 2>&1
}
# until: waitfor by the clock (each probe may take up to 10 s, sipovld's request timeout, when
# a gateway does not answer in time: waitfor's count of probes would then be minutes)
until_s() { # until_s SECONDS CMD...
	local end=$(($(date +%s) + $1))
	shift
	while [ "$(date +%s)" -lt $end ]; do
		"$@" && return 0
		sleep 1
	done
	return 1
}
if until_s 60 confirmed; then
	ok "the call is up: confirmed at gw-a with RTP on its media flow $(($(date +%s) - t_call)) s after the INVITE"
else
	not_ok "the call is up: confirmed at gw-a with RTP on its media flow within 60 s" "$(tail -3 "$TMP/uac.out" | tr '\n' '|')"
fi
ida1=$(idj a) idb1=$(idj b)
t_up=$(date +%s)

# --- KILL_AT s after the call is up: the controller gw-a uses is killed
while [ $(($(date +%s) - t_up)) -lt "$KILL_AT" ]; do sleep 1; done
cur=$(jq -r .controller <<<"$ida1")
case $cur in
10.99.0.[123]:1280) kn=${cur#10.99.0.} kn=${kn%:1280} ;;
*) kn=1; diag "gw-a reports no cluster member as its controller ('$cur'): killing ctrl1" ;;
esac
t_kill=$(date +%s.%N)
if "$VMNET" kill-ctrl "$kn" 2>"$TMP/kill.err"; then
	ok "ctrl$kn (10.99.0.$kn, the controller gw-a uses) killed with SIGKILL $(($(date +%s) - t_call)) s into the call"
else
	not_ok "ctrl$kn killed" "$(cat "$TMP/kill.err")"
fi
alive=()
for i in 1 2 3; do [ "$i" = "$kn" ] || alive+=("10.99.0.$i:1280"); done

# --- a service change on a surviving member, made after the kill. Through the management API
# with curl (the ziti CLI costs seconds per call under TCG); writes fail until the surviving
# members have elected a leader, so each request is retried.
mgmt() { # mgmt METHOD PATH [JSON]: the reply's body; status 1 unless 2xx
	local out code
	out=$(ip netns exec "$ZT" curl -sk --max-time 10 -X "$1" -H "zt-session: $ztok" -H 'content-type: application/json' \
		${3:+-d "$3"} -w '\n%{http_code}' "https://$ctl_addr/edge/management/v1$2" 2>&1)
	code=${out##*$'\n'}
	printf '%s\n' "${out%$'\n'*}"
	[[ $code == 2?? ]]
}
mgmt_retry() { # mgmt_retry METHOD PATH [JSON]: until 2xx, at most until t_change + CHANGE_S
	local out
	while :; do
		out=$(mgmt "$@") && { printf '%s\n' "$out"; return 0; }
		echo "$1 $2: $out" >>"$TMP/mgmt.err"
		[ "$(date +%s)" -lt $((t_change + CHANGE_S)) ] || return 1
		sleep 1
	done
}
t_change=$(date +%s)
ztok='' ctl_addr=''
while [ -z "$ztok" ] && [ "$(date +%s)" -lt $((t_change + CHANGE_S)) ]; do
	for ctl_addr in "${alive[@]}"; do
		ztok=$(ip netns exec "$ZT" curl -sk --max-time 10 -H 'content-type: application/json' \
			-d '{"username":"admin","password":"admin"}' "https://$ctl_addr/edge/management/v1/authenticate?method=password" |
			jq -r '.data.token // empty' 2>/dev/null)
		[ -z "$ztok" ] || break
	done
	[ -n "$ztok" ] || sleep 1
done
change_ok=
if [ -n "$ztok" ] &&
	ict=$(mgmt_retry GET '/config-types?filter=name%3D%22intercept.v1%22' | jq -r '.data[0].id // empty') && [ -n "$ict" ] &&
	hct=$(mgmt_retry GET '/config-types?filter=name%3D%22host.v1%22' | jq -r '.data[0].id // empty') && [ -n "$hct" ] &&
	ic=$(mgmt_retry POST /configs "{\"name\":\"site-b-new-intercept\",\"configTypeId\":\"$ict\",\"data\":{
		\"protocols\":[\"udp\"],\"addresses\":[\"10.2.0.2/32\"],\"portRanges\":[{\"low\":7500,\"high\":7500}],
		\"sourceIp\":\"\$src_ip:\$src_port\",\"dialOptions\":{\"identity\":\"gw-b\",\"connectTimeoutSeconds\":10}}}" |
		jq -r '.data.id // empty') && [ -n "$ic" ] &&
	hc=$(mgmt_retry POST /configs "{\"name\":\"site-b-new-host\",\"configTypeId\":\"$hct\",\"data\":{
		\"forwardProtocol\":true,\"allowedProtocols\":[\"udp\"],\"forwardAddress\":true,\"allowedAddresses\":[\"10.2.0.2/32\"],
		\"forwardPort\":true,\"allowedPortRanges\":[{\"low\":7500,\"high\":7500}],\"allowedSourceAddresses\":[\"10.1.0.0/24\"],
		\"listenOptions\":{\"bindUsingEdgeIdentity\":true}}}" | jq -r '.data.id // empty') && [ -n "$hc" ] &&
	sv=$(mgmt_retry POST /services "{\"name\":\"site-b-new\",\"configs\":[\"$ic\",\"$hc\"],\"encryptionRequired\":true}" |
		jq -r '.data.id // empty') && [ -n "$sv" ] &&
	mgmt_retry POST /service-policies "{\"name\":\"site-b-new-dial\",\"type\":\"Dial\",\"semantic\":\"AnyOf\",
		\"serviceRoles\":[\"@$sv\"],\"identityRoles\":[\"#gw-a\"]}" >/dev/null &&
	mgmt_retry POST /service-policies "{\"name\":\"site-b-new-bind\",\"type\":\"Bind\",\"semantic\":\"AnyOf\",
		\"serviceRoles\":[\"@$sv\"],\"identityRoles\":[\"#gw-b\"]}" >/dev/null; then
	change_ok=1
	t_changed=$(date +%s)
	ok "service site-b-new created on $ctl_addr with ctrl$kn down ($((t_changed - t_change)) s after the kill, the election included)"
else
	t_changed=$(date +%s)
	not_ok "service site-b-new created on a surviving member with ctrl$kn down" "$(tail -3 "$TMP/mgmt.err" 2>/dev/null | cut -c1-300)"
fi
new_applied() {
	st a | jq -en 'input | [.services[] | select(.name == "site-b-new") | .intercept.installed] == [true]' >/dev/null 2>&1 &&
		st b | jq -en 'input | [.services[] | select(.name == "site-b-new") | .host.listening] == [true]' >/dev/null 2>&1
}
if [ -n "$change_ok" ] && until_s "$CHANGE_S" new_applied; then
	ok "site-b-new applied by both gateways (intercepted at gw-a, hosted at gw-b) $(($(date +%s) - t_changed)) s after the change"
	expect "a datagram through site-b-new reaches phone B from phone A's real address" '^ECHO 10\.1\.0\.2:[0-9]+ new$' \
		in_pa "$PEER" send --udp --timeout 20 --dst 10.2.0.2:7500 --msg new
else
	not_ok "site-b-new applied by both gateways within $CHANGE_S s" "gw-a: $(st a | jq -c '[.services[] | select(.name == "site-b-new")]')" \
		"gw-b: $(st b | jq -c '[.services[] | select(.name == "site-b-new")]')" "$(grep -i 'controller\|service' "$TMP/a.log" | tail -4 | tr '\n' '|' | cut -c1-600)"
	not_ok "a datagram through site-b-new reaches phone B (not tried)"
fi
ida2=$(idj a)
if [ "$(jq -r .controller <<<"$ida2")" != "$cur" ] && grep -q "controller $cur failed .*continuing with" "$TMP/a.log"; then
	ok "gw-a failed over from ctrl$kn: $(grep -o "controller $cur failed .*continuing with.*" "$TMP/a.log" | head -1)"
else
	not_ok "gw-a failed over from ctrl$kn" "status $ida2" "$(grep -i 'controller' "$TMP/a.log" | tail -4 | tr '\n' '|' | cut -c1-600)"
fi

# --- the end of the call
rc=0
wait $uac || rc=$?
t_end=$(date +%s)
kill $uas 2>/dev/null
ida3=$(idj a) idb3=$(idj b)
if [ $rc = 0 ]; then
	ok "the call completed: SIPp exit 0 after $((t_end - t_call)) s ($CALL_S s of RTP)"
else
	not_ok "the call completed (SIPp exit $rc after $((t_end - t_call)) s)" \
		"uac: $(grep -ao "Aborting call on [^']*'[^']*'" "$TMP/uac.err" 2>/dev/null | sort | uniq -c | tr '\n' '|')" \
		"$(tail -5 "$TMP/uac.out" | tr '\n' '|')"
fi
# token refreshes during the call (ida1: just after the call was up; ida3: after its end), no login
for s in a b; do
	if [ $s = a ]; then x=$ida1 y=$ida3; else x=$idb1 y=$idb3; fi
	if jq -en --argjson x "$x" 'input as $y | $y.auth == "oidc" and $y.token_refreshes - $x.token_refreshes >= 2 and
		$y.logins == 1' <<<"$y" >/dev/null && ! grep -q 'authenticating again' "$TMP/$s.log"; then
		ok "gw-$s: $(jq -n --argjson x "$x" --argjson y "$y" '$y.token_refreshes - $x.token_refreshes') OIDC token refreshes during the call, no new login ($y)"
	else
		not_ok "gw-$s: at least 2 OIDC token refreshes during the call and no new login" "during the call: $x" "after: $y" \
			"$(grep -i 'refresh\|authenticat' "$TMP/$s.log" | tail -4 | tr '\n' '|' | cut -c1-600)"
	fi
done

# --- what the phones saw
sleep 1
for p in PA PB; do kill "$(cat "$TMP/tcpdump-$p.pid")" 2>/dev/null; done
sleep 1
ab=$(python3 "$SD/rtplong.py" stat "$TMP/PB.pcap" --to 10.2.0.2:7230 --split "$t_kill" --skip "$SKIP")
ba=$(python3 "$SD/rtplong.py" stat "$TMP/PA.pcap" --from 10.2.0.2:7230 --split "$t_kill" --skip "$SKIP")
sent=$(python3 "$SD/rtplong.py" stat "$TMP/PA.pcap" --to 10.2.0.2:7230)
diag "RTP sent by phone A: $sent"
diag "RTP A->B at phone B: $ab"
diag "RTP B->A (echoed) at phone A: $ba"
sip_other=$(tcpdump -r "$TMP/PB.pcap" -n 'udp dst port 5060 and not src host 10.1.0.2' 2>/dev/null | wc -l)
sip_real=$(tcpdump -r "$TMP/PB.pcap" -n 'udp dst port 5060 and src host 10.1.0.2' 2>/dev/null | wc -l)
if jq -en 'input | .sources == ["10.1.0.2:7300"] and .packets > 0' <<<"$ab" >/dev/null && [ "$sip_real" -gt 0 ] && [ "$sip_other" = 0 ]; then
	ok "phone B sees phone A's real address: RTP from 10.1.0.2:7300 only, SIP from 10.1.0.2 only ($sip_real datagrams)"
else
	not_ok "phone B sees phone A's real address" "RTP sources $(jq -c .sources <<<"$ab")" "SIP from 10.1.0.2: $sip_real, from elsewhere: $sip_other"
fi
# Counted from packet SKIP (5 s into the call) to the end: the first packets of a call wait for
# its media flow's dial, which a TCG guest makes slow (daemon.sh's concern, not this test's).
n=$((CALL_S * 50))
for dir in "A->B:$ab" "B->A:$ba"; do
	v=${dir#*:}
	if jq -en --argjson n "$n" --argjson s "$SKIP" --argjson l "$LOSS_MAX" --argjson g "$GAP_MAX_MS" \
		'input | .first == $s and .last == $n - 1 and .lost <= $l and .gap_ms <= $g' <<<"$v" >/dev/null; then
		ok "RTP ${dir%%:*} across the refreshes and the kill: $(jq -r '"\(.lost) lost of \(.last - .first + 1), longest gap \(.gap_ms) ms at \(.gap_at_s) s; before the kill \(.before.lost) lost, longest gap \(.before.gap_ms) ms; after it \(.after.lost), \(.after.gap_ms) ms"' <<<"$v") (bounds $LOSS_MAX, $GAP_MAX_MS ms)"
	else
		not_ok "RTP ${dir%%:*}: packets $SKIP to $((n - 1)) with at most $LOSS_MAX lost and no gap over $GAP_MAX_MS ms" "$v"
	fi
done
diag "gw-a at the end: $ida3; gw-b: $idb3; load $(cut -d' ' -f1-3 /proc/loadavg)"
diag "total $(el)s"
cpu_report
done_testing
