#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Conntrack helpers stay off sipovl's flows (issue 11, item 4): with the SIP
# helper (nf_conntrack_sip, nf_nat_sip) assigned by the admin's "ct helper
# set" rules and NAT on the gateway, the helper rewrites the addresses inside
# SIP messages of NATed connections. sipovl carries SIP across the overlay
# as the phones sent it: a steered flow's messages (a DNATed INVITE, the
# daemon's answer) and the daemon's own transparent-origin messages through
# a masqueraded WAN must arrive byte for byte. A forwarded, DNATed INVITE
# (no intercept) shows that the helper is at work in this setup.
#
#   cli 10.1.0.2 fd01::2 --- gw 10.1.0.1 fd01::1 | 10.2.0.1 fd02::1 --- srv 10.2.0.2 fd02::2
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd ip nft python3

BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
CTL=$BIN/sipovlctl
[ -x "$CTL" ] || bail_out "build first: $CTL"
PY=(/usr/bin/python3 "$(dirname "$0")/sipalg.py")

load_module
modprobe -q veth || bail_out "no veth module"
modprobe -a nf_tables nft_ct nft_nat nft_masq nf_conntrack nf_nat nf_conntrack_sip nf_nat_sip 2>&1 | sed 's/^/# /'
topo_gateway

in_gw() { ip netns exec "$GW" "$@"; }
ctl() { in_gw "$CTL" "$@"; }
TMP=$(mktemp -d)
on_exit rm -rf "$TMP"

check "intercept add" ctl intercept add sip proto udp addr 10.2.0.0/16,fd02::/32 port 5060
check "sources set" ctl sources set 10.1.0.0/16,fd01::/64
# The SIP helper on every SIP flow, forwarded, local in and local out; a port
# forward (DNAT) for the intercepted .77 and the forwarded .78; masquerade on
# the WAN (g1).
check "helper and nat rules" in_gw nft -f - <<'NFT'
table inet alg {
	ct helper sip {
		type "sip" protocol udp;
		l3proto inet;
	}
	chain pre {
		type filter hook prerouting priority filter;
		udp dport { 5060, 5070 } ct helper set "sip"
	}
	chain out {
		type filter hook output priority filter;
		udp dport { 5060, 5070 } ct helper set "sip"
	}
}
table inet nat {
	chain pre {
		type nat hook prerouting priority dstnat;
		ip daddr 10.2.0.77 udp dport 5060 dnat ip to 10.2.0.2
		ip6 daddr fd02::77 udp dport 5060 dnat ip6 to fd02::2
		ip daddr 10.2.0.78 udp dport 5070 dnat ip to 10.2.0.2
		ip6 daddr fd02::78 udp dport 5070 dnat ip6 to fd02::2
	}
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "g1" masquerade
	}
}
NFT

# server_start NAME ADDR PORT FROM FPORT TO TPORT: the server waits for one INVITE.
server_start() {
	local name=$1
	shift
	ip netns exec "$SRV" "${PY[@]}" server "$@" >"$TMP/$name" 2>&1 &
	on_exit kill $!
	busywait 20000 grep -q ready "$TMP/$name" >/dev/null || bail_out "server $name did not start: $(cat "$TMP/$name")"
}
# server_result DESC NAME WANT: the server printed WANT ("same" or "changed").
server_result() {
	local got
	busywait 35000 test "$(wc -l <"$TMP/$2")" -ge 2 >/dev/null
	got=$(sed -n 2p "$TMP/$2")
	if { [ "$3" = same ] && [ "$got" = same ]; } || { [ "$3" = changed ] && [ -n "$got" ] && [ "$got" != same ] &&
		[[ $got != nothing* ]]; }; then
		ok "$1"
	else
		not_ok "$1" "want $3, got: ${got:-nothing}"
	fi
}

for v in 4 6; do
	if [ $v = 4 ]; then
		ph=10.1.0.2 nat77=10.2.0.77 nat78=10.2.0.78 pbx=10.2.0.2 caller=10.1.0.99
	else
		ph=fd01::2 nat77=fd02::77 nat78=fd02::78 pbx=fd02::2 caller=fd01::99
	fi
	# The helper is at work: a forwarded INVITE to the port forward is rewritten.
	server_start fwd$v "$pbx" 5070 "$ph" 5062 "$nat78" 5070
	ip netns exec "$CLI" "${PY[@]}" phone "$ph" "$nat78" 5070 >/dev/null 2>&1 &
	server_result "ipv$v control: the SIP helper rewrites a forwarded INVITE through the port forward" fwd$v changed

	in_gw "${PY[@]}" gw-steer "$CLI" "$ph" "$nat77" "$pbx" >"$TMP/steer$v" 2>&1
	n=0
	while IFS='|' read -r res desc diag; do
		case $res in
		ok) ok "ipv$v steered: $desc" ;;
		"not ok") not_ok "ipv$v steered: $desc" "$diag" ;;
		*) continue ;;
		esac
		n=$((n + 1))
	done <"$TMP/steer$v"
	[ $n = 2 ] || not_ok "ipv$v steered: the daemon side ran to its end" "$(cat "$TMP/steer$v")"

	server_start org$v "$pbx" 5060 "$caller" 5060 "$pbx" 5060
	out=$(in_gw "${PY[@]}" gw-origin "$caller" "$pbx" 2>&1) || diag "gw-origin: ${out##*$'\n'}"
	server_result "ipv$v transparent origin through masquerade: the INVITE reaches the server as the daemon sent it" org$v same
done
done_testing
