#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sipovld's DNS responder is not an open resolver nor an amplifier (sipovld(8), "DNS
# responder": dns_allow, dns_rate_limit), sourced by tests/daemon/run.sh (section 3, as root).
# In a network namespace of its own (unshare -n), on lo: sipovld --no-kernel listens on
# 10.99.0.1/24, relays to a stand-in upstream on 127.0.0.1 that answers every query with 20 A
# records (tests/daemon/dnsguard.py). With the default configuration (no dns_allow, no
# dns_rate_limit): a client of the listen address's subnet (10.99.0.5) is answered; one from
# outside it (192.0.2.7) gets REFUSED, counted (refused_source), and nothing reaches the
# upstream; a flood of 1000 UDP queries in 0.5 s from one client is answered in full up to the
# rate (100 a second, burst 100), the rest half truncated (TC, empty: the client retries over
# TCP), half dropped, and relayed no more; its TCP retry, and another client, are answered. A
# reload with a malformed dns_allow prefix or a negative dns_rate_limit fails naming the key and
# value, and the running configuration stays; a valid one applies without a restart.
# Uses ok/notok from run.sh.

dg_status() { timeout 30 "$1" --control "$2" --request status 2>/dev/null; }

# run inside the namespace: TAP-like lines "ok - ..." / "not ok - ..." for dnsguard_tests
dg_inner() { # dg_inner BIN WORKDIR
	local bin=$1 w=$2 sock=$2/dg.sock py=tests/daemon/dnsguard.py up pid r st n0 n1 f
	ip link set lo up && ip addr add 10.99.0.1/24 dev lo && ip addr add 10.99.0.5/24 dev lo &&
		ip addr add 10.99.0.6/24 dev lo && ip addr add 192.0.2.7/32 dev lo || {
		echo "not ok - dnsguard: cannot set up the namespace's addresses"
		return
	}
	python3 "$py" upstream 127.0.0.1 5300 "$w/dg.up" &
	up=$!
	printf '{ "control_socket": "%s", "log_level": "info", "dns_listen": ["10.99.0.1:53"], "dns_upstream": ["127.0.0.1:5300"] }\n' \
		"$sock" >"$w/dg.conf"
	"$bin" --no-kernel -c "$w/dg.conf" 2>"$w/dg.log" &
	pid=$!
	for _ in $(seq 1 100); do dg_status "$bin" "$sock" >/dev/null && [ -s "$w/dg.up" ] && break; sleep 0.1; done
	r=$(python3 "$py" query 10.99.0.5 10.99.0.1 53 pbx.other.example)
	[ "$r" = "rcode=0 tc=0 an=20" ] && echo "ok - dns: a client of the listen address's subnet (10.99.0.5) is answered (relayed: $r)" ||
		echo "not ok - dns: a client of the listen address's subnet (10.99.0.5): $r"
	n0=$(cat "$w/dg.up")
	r=$(python3 "$py" query 192.0.2.7 10.99.0.1 53 pbx.other.example)
	n1=$(cat "$w/dg.up")
	st=$(dg_status "$bin" "$sock")
	if [ "$r" = "rcode=5 tc=0 an=0" ] && [ "$n0" = "$n1" ] && [ "$(jq -r '.dns.refused_source' <<<"$st")" = 1 ] &&
		grep -q 'dns: 192.0.2.7:[0-9]* refused: not in dns_allow (1 refused in all' "$w/dg.log"; then
		echo "ok - dns: a client outside dns_allow (192.0.2.7, default: the listen address's subnet and loopback) gets REFUSED, not relayed, counted (refused_source 1), logged ($(grep -o 'dns: 192.0.2.7.*refused: not in dns_allow' "$w/dg.log" | head -1))"
	else
		echo "not ok - dns: a client outside dns_allow (192.0.2.7): $r, upstream queries $n0 -> $n1, refused_source $(jq -c '.dns.refused_source' <<<"$st")"
	fi
	r=$(python3 "$py" query 192.0.2.7 10.99.0.1 53 pbx.other.example tcp)
	[ "$r" = none ] && [ "$(cat "$w/dg.up")" = "$n1" ] &&
		echo "ok - dns: a TCP client outside dns_allow is closed at once, not relayed" ||
		echo "not ok - dns: a TCP client outside dns_allow: $r"
	n0=$(cat "$w/dg.up")
	f=$(python3 "$py" flood 10.99.0.5 10.99.0.1 53 1000 0.5)
	n1=$(cat "$w/dg.up")
	st=$(dg_status "$bin" "$sock")
	# 0.5 s at 100 a second after a burst of 100: about 150 answered in full (a margin for timing)
	local full tc none
	full=$(sed -n 's/.*full=\([0-9]*\).*/\1/p' <<<"$f")
	tc=$(sed -n 's/.* tc=\([0-9]*\).*/\1/p' <<<"$f")
	none=$(sed -n 's/.*none=\([0-9]*\).*/\1/p' <<<"$f")
	if [ -n "$full" ] && [ "$full" -ge 100 ] && [ "$full" -le 220 ] && [ "$tc" -ge 300 ] && [ "$none" -ge 300 ] &&
		[ $((n1 - n0)) -le 220 ] && [ "$(jq -r '.dns.rate_limited_tc' <<<"$st")" = "$tc" ]; then
		echo "ok - dns: a flood of 1000 UDP queries in 0.5 s from one client (dns_rate_limit 100): $f; relayed $((n1 - n0)); status $(jq -c '{rate_limited_tc: .dns.rate_limited_tc, rate_limited_dropped: .dns.rate_limited_dropped}' <<<"$st")"
	else
		echo "not ok - dns: a flood of 1000 UDP queries in 0.5 s from one client: $f; relayed $((n1 - n0)); status $(jq -c '.dns' <<<"$st" | head -c 600)"
	fi
	r=$(python3 "$py" query 10.99.0.5 10.99.0.1 53 pbx.other.example tcp)
	local r2
	r2=$(python3 "$py" query 10.99.0.6 10.99.0.1 53 pbx.other.example)
	[ "$r" = "rcode=0 tc=0 an=20" ] && [ "$r2" = "rcode=0 tc=0 an=20" ] &&
		echo "ok - dns: right after the flood its client's TCP retry ($r) and another client over UDP ($r2) are answered" ||
		echo "not ok - dns: right after the flood: its client over TCP: $r; another client over UDP: $r2"
	# bad values on reload: an error naming key and value, the running configuration kept
	local bad ok_n=0 allow0
	allow0=$(dg_status "$bin" "$sock" | jq -c '[.dns.allow, .dns.rate_limit]')
	for bad in '"dns_allow": ["10.99.0.0/33"]' '"dns_allow": ["10.99.0.0/24", "pbx.example"]' '"dns_rate_limit": -1' \
		'"dns_rate_slip": 11'; do
		printf '{ "control_socket": "%s", "log_level": "info", "dns_listen": ["10.99.0.1:53"], "dns_upstream": ["127.0.0.1:5300"], %s }\n' \
			"$sock" "$bad" >"$w/dg.conf"
		: >"$w/dg.log.mark"
		if ! timeout 60 "$bin" --control "$sock" --request reload >/dev/null 2>&1 &&
			[ "$(dg_status "$bin" "$sock" | jq -c '[.dns.allow, .dns.rate_limit]')" = "$allow0" ] &&
			[ "$(python3 "$py" query 192.0.2.7 10.99.0.1 53 pbx.other.example)" = "rcode=5 tc=0 an=0" ]; then
			ok_n=$((ok_n + 1))
		else
			echo "# reload with $bad: not refused, or the running configuration changed"
		fi
	done
	local msgs
	msgs=$(grep -o -E 'dns_(allow\[[0-9]\]|rate_limit|rate_slip): [^ ]*' "$w/dg.log" | sort -u | tr '\n' ' ')
	if [ $ok_n = 4 ] && grep -q 'dns_allow\[0\]: "10.99.0.0/33"' "$w/dg.log" && grep -q 'dns_allow\[1\]: "pbx.example"' "$w/dg.log" &&
		grep -q 'dns_rate_limit: -1' "$w/dg.log" && grep -q 'dns_rate_slip: 11' "$w/dg.log"; then
		echo "ok - dns: reloads with a malformed dns_allow prefix, a hostname, a negative dns_rate_limit, dns_rate_slip 11: refused naming key and value ($msgs), running configuration kept ($allow0)"
	else
		echo "not ok - dns: bad dns_allow / dns_rate_limit on reload: $ok_n of 4 refused with the configuration kept; log: $msgs"
	fi
	printf '{ "control_socket": "%s", "log_level": "info", "dns_listen": ["10.99.0.1:53"], "dns_upstream": ["127.0.0.1:5300"], "dns_allow": ["192.0.2.0/24"] }\n' \
		"$sock" >"$w/dg.conf"
	timeout 60 "$bin" --control "$sock" --request reload >/dev/null 2>&1
	r=$(python3 "$py" query 192.0.2.7 10.99.0.1 53 pbx.other.example)
	r2=$(python3 "$py" query 10.99.0.6 10.99.0.1 53 pbx.other.example)
	[ "$r" = "rcode=0 tc=0 an=20" ] && [ "$r2" = "rcode=5 tc=0 an=0" ] &&
		echo "ok - dns: a reload to dns_allow [\"192.0.2.0/24\"] applies at once: 192.0.2.7 answered, 10.99.0.6 REFUSED" ||
		echo "not ok - dns: a reload to dns_allow [\"192.0.2.0/24\"]: 192.0.2.7 $r, 10.99.0.6 $r2"
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	kill "$up" 2>/dev/null
	wait "$up" 2>/dev/null
	if grep -qE "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$w/dg.log"; then
		echo "not ok - dns guard: sipovld (ASan/UBSan) exited with a sanitizer report"
		grep -A8 -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$w/dg.log" | head -20 | sed 's/^/# /'
	fi
}

dnsguard_tests() { # dnsguard_tests BIN WORKDIR
	local l
	if ! unshare -n true 2>/dev/null; then
		ok "dns guard # SKIP needs unshare -n"
		return
	fi
	while IFS= read -r l; do
		case $l in
		"ok - "*) ok "${l#ok - }" ;;
		"not ok - "*) notok "${l#not ok - }" ;;
		*) echo "$l" ;;
		esac
	done < <(unshare -n bash -c '. tests/daemon/dnsguard.sh && dg_inner "$1" "$2"' sh "$1" "$2" 2>&1)
}

if [ "${1:-}" = --standalone ]; then # tests/daemon/dnsguard.sh --standalone BIN: this file alone
	ok() { echo "ok - $*"; }
	notok() { echo "not ok - $*"; }
	W=$(mktemp -d /tmp/dnsguard.XXXXXX)
	dnsguard_tests "$2" "$W"
	rm -rf "$W"
fi
