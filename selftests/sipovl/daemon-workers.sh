#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sipovld's SIP view across worker processes (Documentation/design.md "Workers"), against the
# Ziti test network of daemon.sh (setup in daemon-lib.sh): gw-a with two workers, gw-b with one.
# The kernel's flow hash puts a call's SIP flow and its RTP flow at either worker: six calls one
# after the other from the same SIP ports (one SIP flow, at one worker) with six media ports
# (six RTP flows, each at either worker; all six at the SIP's worker 1 time in 64): each call's
# RTP quality is in its one CDR, in sipovlctl calls while it runs and once it has ended,
# whichever worker carried its RTP; gw-a's metrics count every worker's RTP and calls.
# (In its own file: daemon.sh's points fill its 900 s under TCG at load ~10.)
source "$(dirname "$0")/daemon-lib.sh"

daemon_net daemon-workers
SRCMAP='"source_identity": "caller",
  "source_map": { "gw-a": ["10.1.0.0/24", "fd01::/64"], "gw-b": ["10.2.0.0/24", "fd02::/64"] }'
printf '{ %s, "workers": 2, "metrics_listen": "127.0.0.1:9477" }\n' "$SRCMAP" >"$TMP/a.conf"
printf '{ %s }\n' "$SRCMAP" >"$TMP/b.conf"
start_gw a "$GWA" -c "$TMP/a.conf" --udp-idle-timeout 60
start_gw b "$GWB" -c "$TMP/b.conf" --udp-idle-timeout 60
gateways_ready
waitfor 30 eval "st a | jq -en 'input | (.workers | length) == 2 and all(.workers[]; .alive) and .workers[1].identities_ready == 1' >/dev/null 2>&1" ||
	diag "gw-a worker 1 not ready: $(st a | jq -c '.workers[1]' 2>&1 | head -c 300)"
sipp_scenarios

ip netns exec "$PB" sipp -sf "$TMP/uas.xml" -i 10.2.0.2 -p 5060 -t u1 -rtp_echo -mp 7230 -nostdin \
	-trace_err -error_file "$TMP/uas-wk.err" >"$TMP/uas-wk.out" 2>&1 &
wk_uas=$!
waitfor 20 eval "ip netns exec $PB ss -Hlnu 'sport = :5060' | grep -q 10.2.0.2" ||
	diag "SIPp UAS (workers) not listening on 10.2.0.2:5060 after 20 s"
wk_split=0 wk_bad="" wk_sum_a=0 wk_sum_b=0 wk_sipw=""
for mp in 7300 7310 7320 7330 7340 7350; do
	(cd "$TMP" && in_pa timeout 60 sipp -sf "$TMP/uac_pcap.xml" 10.2.0.2:5060 -i 10.1.0.2 -p 5061 -t u1 -m 1 -mp "$mp" \
		-nostdin -timeout 50s -trace_err -error_file "$TMP/uac-wk$mp.err" >"$TMP/uac-wk$mp.out" 2>&1) &
	wk_uac=$!
	# while the call runs: listed with its RTP flow's figures (that flow may be the other worker's)
	wk_run=""
	for _ in $(seq 1 100); do
		kill -0 "$wk_uac" 2>/dev/null || break # the call is over
		wk_run=$(SIPOVLD_CTL_SOCK=$TMP/a.sock "$CTL" -j calls 2>/dev/null | jq -c --arg m "10.1.0.2:$mp" '[.calls[] |
			select(.state == "confirmed" and .media_flows[0].caller_rtp == $m and .media_flows[0].rtp.packets_to_ziti > 0)][0] |
			select(. != null) | .media_flows[0].rtp | {worker: (.worker // 0), packets_to_ziti, mos: .quality.to_ziti.mos}' 2>/dev/null)
		[ -n "$wk_run" ] && break
		sleep 0.2
	done
	wk_rc=0
	wait "$wk_uac" || wk_rc=$?
	waitfor 20 eval '[ "$(grep -c "call ended: .* media=10\.1\.0\.2:$mp," "$TMP/a.log")" -ge 1 ]' || true
	sleep 2 # the workers' reports (every second)
	fl=$(st a flows)
	sw=$(jq -r '[.[] | select(.type == "intercept-udp" and .client == "10.1.0.2:5061") | .worker // 0][0]' <<<"$fl")
	rw=$(jq -r --arg c "10.1.0.2:$mp" '[.[] | select(.type == "intercept-udp" and .client == $c) | .worker // 0][0]' <<<"$fl")
	cdr=$(grep -o "call ended: .* media=10\.1\.0\.2:$mp,.*" "$TMP/a.log")
	pk=$(grep -o ' packets=[0-9]*/[0-9]* ' <<<"$cdr" | tr -d ' ' | cut -d= -f2)
	fin=$(SIPOVLD_CTL_SOCK=$TMP/a.sock "$CTL" -j calls 2>/dev/null | jq -c --arg m "10.1.0.2:$mp" '[.calls[] |
		select(.state == "ended" and any(.streams[]; .side == "caller" and .rtp == $m))][-1] |
		.quality | [.caller_to_callee.packets, .callee_to_caller.packets, .caller_to_callee.mos]' 2>/dev/null)
	wk_sipw="$wk_sipw $sw"
	[ "$sw" != "$rw" ] && [ "$rw" != null ] && [ "$sw" != null ] && wk_split=$((wk_split + 1))
	if [ $wk_rc = 0 ] && [ "$(grep -c . <<<"$cdr")" = 1 ] && [ "${pk%/*}" -gt 0 ] 2>/dev/null && [ "${pk#*/}" -gt 0 ] &&
		jq -en 'input | .[0] > 0 and .[1] > 0 and .[2] > 1' <<<"$fin" >/dev/null 2>&1 &&
		jq -en 'input | .packets_to_ziti > 0 and .mos > 1' <<<"$wk_run" >/dev/null 2>&1; then
		wk_sum_a=$((wk_sum_a + ${pk%/*})) wk_sum_b=$((wk_sum_b + ${pk#*/}))
	else
		wk_bad="$wk_bad | media $mp (SIP at worker $sw, RTP at worker $rw): sipp exit $wk_rc, running ${wk_run:-not listed}, ended ${fin:-nothing}, CDR ${cdr:-none}"
	fi
done
kill "$wk_uas" 2>/dev/null
wait "$wk_uas" 2>/dev/null
if [ -z "$wk_bad" ] && [ "$wk_split" -gt 0 ]; then
	ok "gw-a (workers 2): 6 calls, SIP at worker(s)$wk_sipw, the RTP of $wk_split at the other worker: each call's RTP quality in sipovlctl calls while it ran and once ended, and in its one CDR ($wk_sum_a/$wk_sum_b packets)"
else
	not_ok "gw-a (workers 2): each call's RTP quality whichever worker carried it ($wk_split of 6 calls split)" "${wk_bad# | }"
fi
wk_m=$(ip netns exec "$GWA" curl -s --max-time 10 http://127.0.0.1:9477/metrics)
wk_mp=$(awk '/^sipovld_rtp_packets_total\{direction="to_ziti"\}/ { print $2 }' <<<"$wk_m")
wk_mq=$(awk '/^sipovld_rtp_packets_total\{direction="from_ziti"\}/ { print $2 }' <<<"$wk_m")
wk_mc=$(awk '/^sipovld_calls_started_total / { print $2 }' <<<"$wk_m")
# SIPp sends 246 RTP packets a call (236 PCMA, 10 telephone-event) and the UAS echoes them: the
# six calls' flows carried at least 90 % of 6 x 246 each way, whichever worker carried them (a
# call's flow the metrics miss takes 246 away: at most 1230 of the 1328 needed)
wk_need=$((6 * 246 * 9 / 10))
if [ -n "$wk_mp" ] && [ "${wk_mp%.*}" -ge "$wk_sum_a" ] && [ "${wk_mq%.*}" -ge "$wk_sum_b" ] && [ "$wk_sum_a" -gt 0 ] &&
	[ "${wk_mp%.*}" -ge "$wk_need" ] && [ "${wk_mq%.*}" -ge "$wk_need" ] && [ "$wk_mc" = 6 ]; then
	ok "gw-a (workers 2) metrics: every worker's RTP and calls (sipovld_rtp_packets_total $wk_mp/$wk_mq >= the CDRs' $wk_sum_a/$wk_sum_b and >= $wk_need; calls started $wk_mc)"
else
	not_ok "gw-a (workers 2) metrics: every worker's RTP and calls" "rtp packets to/from ziti '$wk_mp'/'$wk_mq', CDRs $wk_sum_a/$wk_sum_b, need $wk_need; calls started '$wk_mc' (6)"
fi

for s in a b; do
	pid=$(cat "$TMP/$s.pid")
	kill -TERM "$pid" 2>/dev/null
	waitfor 20 bash -c "! kill -0 $pid 2>/dev/null" || not_ok "gw-$s: sipovld exits on SIGTERM"
done
diag "total $(el)s"
cpu_report
done_testing
