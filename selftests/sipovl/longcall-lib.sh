#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A SIP call that lasts as long as a test needs, across daemon-lib.sh's two sites (sourced
# after daemon-lib.sh and daemon_net; used by the package tests selftests/vm/dkms-deb-guest.sh
# and selftests/vm/pkg-call-guest.sh, which restart or upgrade gateway A in the middle of it).
#
# SIPp's UAC at phone A (10.1.0.2) calls the UAS at phone B (10.2.0.2), which echoes the RTP
# (the 7222-7422 intercept). The UAC plays its 8 s recording again and again until an INFO in
# the dialog (longcall_end) arrives, then hangs up with BYE.
#
#   longcall_start           scenarios, nft counters, the UAS, then the UAC (pids $lc_uas, $lc_uac;
#                            the INVITE's time $lc_t0)
#   longcall_rtp NS          RTP packets that arrived in NS with the far phone's own source
#                            address: at $PB from 10.1.0.2, at $PA from 10.2.0.2 (the far side
#                            sees the caller's real address, not a gateway's)
#   longcall_rtp_out NS      RTP packets NS sent towards the other phone
#   longcall_sip_in          SIP datagrams that arrived at $PB from 10.1.0.2
#   longcall_end             send the INFO that ends the UAC's loop, wait for SIPp; 0 when the
#                            UAC ended with BYE and 200 (its statistics: one successful call),
#                            else why in $lc_err (not in a subshell: it waits for the UAC)
# shellcheck disable=SC2034 # lc_* used by the sourcing files

longcall_start() {
	sipp -sd uac_pcap 2>/dev/null | sed 's#pcap/#/usr/share/sip-tester/#' | awk '
		/<!-- Play a pre-recorded PCAP file/ {
			skip = 1
			print "  <label id=\"1\"/>"
			print "  <nop>"
			print "    <action>"
			print "      <exec play_pcap_audio=\"/usr/share/sip-tester/g711a.pcap\"/>"
			print "    </action>"
			print "  </nop>"
			print "  <recv request=\"INFO\" timeout=\"8000\" ontimeout=\"1\"/>"
			next
		}
		/<!-- Play an out of band DTMF/ { skip = 0 }
		!skip { print }' >"$TMP/uac.xml"
	grep -q 'recv request="INFO"' "$TMP/uac.xml" && [ "$(grep -c 'g711a.pcap' "$TMP/uac.xml")" = 1 ] ||
		bail_out "sipp -sd uac_pcap: unexpected built-in scenario"
	# the UAS absorbs INVITE retransmissions while it waits for the ACK (daemon.sh says why)
	sipp -sd uas 2>/dev/null |
		sed 's#^\( *\)<recv request="ACK"#\1<recv request="INVITE" optional="true"/>\n&#' >"$TMP/uas.xml"
	# counters: only the far phone's own address counts as "from the far phone"
	local ns far me
	for ns in "$PA" "$PB"; do
		if [ "$ns" = "$PA" ]; then me=10.1.0.2 far=10.2.0.2; else me=10.2.0.2 far=10.1.0.2; fi
		ip netns exec "$ns" nft -f - <<EOF || bail_out "nft counters"
table inet lc {
	counter rtp {}
	counter rtp_out {}
	counter sip {}
	chain in {
		type filter hook input priority 0;
		ip saddr $far ip daddr $me udp dport 7222-7422 counter name rtp
		ip saddr $far ip daddr $me udp sport 7222-7422 udp dport != 7222-7422 counter name rtp
		ip saddr $far ip daddr $me udp dport 5060-5061 counter name sip
	}
	chain out {
		type filter hook output priority 0;
		ip saddr $me ip daddr $far udp sport 7222-7422 counter name rtp_out
		ip saddr $me ip daddr $far udp dport 7222-7422 udp sport != 7222-7422 counter name rtp_out
	}
}
EOF
	done
	# SIPp ends itself after 120 stalls of its main loop over 500 ms (its watchdog), which a
	# TCG guest starved by a loaded host makes during a long call: pkg-root's UAC ended so
	# during the upgrade at host load 20-25 (121 trips). What is tested is the call's RTP and
	# its end with BYE and 200, not SIPp's scheduling: no limit on the trips. The call may
	# last up to LONGCALL_MAX_S seconds (default 1200: the guest's apt under such load;
	# pkg-root's DKMS upgrade in the guest needs more).
	local wd="-watchdog_minor_maxtriggers 1000000 -watchdog_major_maxtriggers 1000000"
	local max=${LONGCALL_MAX_S:-1200}
	# shellcheck disable=SC2086 # $wd: options
	ip netns exec "$PB" sipp -sf "$TMP/uas.xml" -i 10.2.0.2 -p 5060 -t u1 -rtp_echo -mp 7230 -nostdin $wd \
		-trace_err -error_file "$TMP/uas.err" >"$TMP/uas.out" 2>&1 &
	lc_uas=$!
	on_exit kill "$lc_uas"
	waitfor 20 eval "ip netns exec $PB ss -Hlnu 'sport = :5060' | grep -q 10.2.0.2" || diag "SIPp UAS not listening after 20 s"
	lc_t0=$(date +%s)
	# shellcheck disable=SC2086 # $wd: options
	(cd "$TMP" && ip netns exec "$PA" timeout "$max" sipp -sf "$TMP/uac.xml" 10.2.0.2:5060 -i 10.1.0.2 -p 5061 -t u1 $wd \
		-m 1 -mp 7300 -nostdin -timeout "$((max - 20))s" -cid_str 'pkgtest-%u' -trace_stat -stf "$TMP/uac.csv" \
		-trace_err -error_file "$TMP/uac.err" >"$TMP/uac.out" 2>&1) &
	lc_uac=$!
	on_exit kill "$lc_uac"
}

_lc_counter() { # _lc_counter NS NAME
	ip netns exec "$1" nft -j list counter inet lc "$2" | jq '.nftables[] | select(.counter) | .counter.packets'
}
longcall_rtp() { _lc_counter "$1" rtp; }
longcall_rtp_out() { _lc_counter "$1" rtp_out; }
longcall_sip_in() { _lc_counter "$PB" sip; }

longcall_end() {
	# the INFO (Call-ID from -cid_str), sent to the UAC locally
	ip netns exec "$PA" python3 -c '
import socket
m = ("INFO sip:sipp@10.1.0.2:5061 SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.0.2:5999;branch=z9hG4bK-pkgtest\r\n"
     "From: <sip:test@10.1.0.2>;tag=pkgtest\r\nTo: <sip:sipp@10.1.0.2:5061>\r\nCall-ID: pkgtest-1\r\n"
     "CSeq: 1 INFO\r\nContent-Length: 0\r\n\r\n")
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(m.encode(), ("10.1.0.2", 5061))' ||
		diag "could not send the INFO that ends the call"
	local rc=0 succ
	wait "$lc_uac" || rc=$?
	succ=$(tail -1 "$TMP/uac.csv" 2>/dev/null | awk -F';' '{print $16}')
	kill "$lc_uas" 2>/dev/null
	lc_err="SIPp exit $rc, successful calls ${succ:-?}: $(tail -c 400 "$TMP/uac.err" 2>/dev/null | tr '\n' '|')"
	[ $rc = 0 ] && [ "$succ" = 1 ]
}
