#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sipovld's DNS responder against a real Ziti network (sourced by tests/ziti/run.sh, which
# calls dnsresp_tests; or run alone against a network from `zitinet.sh start DIR`:
# tests/ziti/dnsresp.sh DIR, TAP output). sipovld (--no-kernel) dials for zt-client, whose
# services dr-sip (udp+tcp 5060-5061, "PBX.dr.sipovl.test" and "*.voip.dr.sipovl.test") and
# dr-tcp (tcp 5080, "tcponly.dr.sipovl.test") have hostname intercepts; the upstream is
# tests/ziti/fakedns.py. Checked with dig (and kdig when installed):
#   A/AAAA from the virtual ranges, stable, wildcards; NAPTR, SRV _sip._udp/_sip._tcp/_sips._tcp
#   with the intercepted ports; NXDOMAIN/NODATA with SOA; UDP and TCP; other names relayed
#   unchanged (answers, NXDOMAIN), an upstream that does not answer -> SERVFAIL; malformed,
#   short, oversized queries, EDNS version 1; a service whose Dial policy goes loses its name;
#   a flood of names beyond the table: refused and counted, then idle names reclaimed.
# Needs root (fakedns.py binds port 53 on a 127.x address) and dig; skipped otherwise.
#
# In make check (tests/ziti/run.sh). Its first-query point used to fail (8 of 20 runs at load
# 25-30, 2 of 4 at load 20): the readiness wait passed at once, before sipovld answered (jq
# 1.6's -e exits 0 on an empty input), so the first query went out before sipovld had its
# services.

dnsresp_tests() {
	local D=$W/dnsresp SD=$B/san/sipovld P=$((20000 + RANDOM % 20000)) UP sd_pid dns_pid out rc
	if [ "$(id -u)" != 0 ] || ! command -v dig > /dev/null; then
		skip "dnsresp: DNS responder tests" "need root and dig"
		return
	fi
	if [ ! -x "$SD" ]; then
		notok "dnsresp: $SD not built"
		return
	fi
	mkdir -p "$D"
	UP=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).53
	echo "answer 60" > "$D/ctl"
	bg "$D/fakedns.log" python3 "$TOP/tests/ziti/fakedns.py" "$UP" "$D/ctl" "$D/queries.log" \
		up.dr.example=192.0.2.7,2001:db8::7
	dns_pid=$BGPID
	# names of this run only: the controller applies a deleted policy asynchronously, and a
	# service of the same name made again right after can vanish from the next listing
	local R=$RANDOM$RANDOM
	{ cli edge create config dr-sip-icpt-$R intercept.v1 \
		'{"protocols":["udp","tcp"],"addresses":["PBX.dr.sipovl.test","*.voip.dr.sipovl.test"],"portRanges":[{"low":5060,"high":5061}]}' &&
	  cli edge create config dr-tcp-icpt-$R intercept.v1 \
		'{"protocols":["tcp"],"addresses":["tcponly.dr.sipovl.test"],"portRanges":[{"low":5080,"high":5080}]}' &&
	  cli edge create service dr-sip-$R -c dr-sip-icpt-$R && cli edge create service dr-tcp-$R -c dr-tcp-icpt-$R &&
	  cli edge create service-policy dr-dial-$R Dial --service-roles "@dr-sip-$R,@dr-tcp-$R" --identity-roles @zt-client
	} > "$D/cli.out" 2>&1 || { notok "dnsresp: create the services"; diag < "$D/cli.out"; return; }
	# no rate limit (dns_rate_limit 0): the floods below test the names' table, from one client
	# (the rate limit is tests/daemon/dnsguard.sh's and dns-unit's)
	cat > "$D/sipovld.conf" <<CONF
{ "identities": ["$ID/zt-client.json"], "control_socket": "$D/sipovld.sock", "log_level": "info",
  "service_poll_s": 1, "dns_listen": ["127.0.0.1:$P", "[::1]:$P"], "dns_range4": "100.80.0.0/24",
  "dns_range6": "fd00:5150::/120", "dns_upstream": ["$UP"], "dns_timeout_ms": 700, "dns_name_idle_s": 60,
  "dns_rate_limit": 0 }
CONF
	# jq -en 'input | ...': jq 1.6's -e exits 0 on an empty input (no status: sipovld not
	# answering yet), which made this wait end at once and the first query go out before
	# sipovld had its services (the first-query flake: 2 of 4 runs at load ~20)
	dr_ready() {
		"$SD" --control "$D/sipovld.sock" --request status 2>/dev/null |
			jq -en --arg r "$R" 'input | ([.services[] | select((.name == "dr-sip-\($r)" or .name == "dr-tcp-\($r)") and (.intercept.skipped | length) > 0)] |
				length == 2) and .dns.services == 2' > /dev/null 2>&1
	}
	if dr_ready; then
		notok "dnsresp: the readiness check is false while sipovld is not running"
	else
		ok "dnsresp: the readiness check is false while sipovld is not running"
	fi
	bg "$D/sipovld.log" "$SD" --no-kernel -c "$D/sipovld.conf"
	sd_pid=$BGPID
	local t0=$SECONDS ready=
	while [ $((SECONDS - t0)) -lt 180 ]; do # sipovld authenticates and lists its services
		dr_ready && { ready=1; break; }
		sleep 0.25
	done
	if [ -z "$ready" ]; then
		notok "dnsresp: sipovld did not list dr-sip and dr-tcp within 180 s"; tail -5 "$D/sipovld.log" | diag
		kill -TERM "$sd_pid" "$dns_pid" 2>/dev/null
		return
	fi
	ok "dnsresp: sipovld lists dr-sip and dr-tcp with their hostname intercepts, both in the responder's zone ($((SECONDS - t0)) s)"
	Q() { dig @127.0.0.1 -p "$P" +time=3 +tries=1 "$@" 2>&1; }
	S() { Q +short "$@" | tr '\n' ' ' | sed 's/ $//'; }
	expect() { # expect DESCRIPTION WANTED GOT
		if [ "$3" = "$2" ]; then ok "dnsresp: $1: $3"; else notok "dnsresp: $1: got '$3', wanted '$2'"; return 1; fi
	}
	expect "A of PBX.dr.sipovl.test (intercept pattern in upper case)" "100.80.0.87" "$(S pbx.dr.sipovl.test A)" ||
		{ grep -E 'dr-sip|dr-tcp|dns' "$D/sipovld.log" | tail -8 | diag
		  "$SD" --control "$D/sipovld.sock" --request status 2>/dev/null |
			jq -c '.dns, [.services[] | select(.name | startswith("dr-")) | {name, permissions, intercept}]' | diag; }
	out=$(Q pbx.dr.sipovl.test AAAA)
	if grep -q 'flags: qr aa' <<< "$out" && grep -q 'fd00:5150::57$' <<< "$out"; then
		ok "dnsresp: AAAA fd00:5150::57 (the same offset), authoritative (aa)"
	else
		notok "dnsresp: AAAA of pbx"; diag <<< "$out"
	fi
	expect "A again over TCP and from ::1: the same address" "100.80.0.87" \
		"$(dig @::1 -p "$P" +tcp +short +time=3 +tries=1 PbX.Dr.SipOvl.Test A)"
	expect "wildcard *.voip: a.voip.dr.sipovl.test gets its home address" "100.80.0.235" "$(S a.voip.dr.sipovl.test A)"
	expect "NAPTR of pbx: the three transports, TLS preferred" \
		'10 10 "s" "SIPS+D2T" "" _sips._tcp.pbx.dr.sipovl.test. 10 20 "s" "SIP+D2T" "" _sip._tcp.pbx.dr.sipovl.test. 10 30 "s" "SIP+D2U" "" _sip._udp.pbx.dr.sipovl.test.' \
		"$(S pbx.dr.sipovl.test NAPTR | tr ' ' '\n' | paste -d' ' - - - - - - | sort | tr '\n' ' ' | sed 's/ $//')"
	out=$(Q pbx.dr.sipovl.test NAPTR)
	if grep -q 'ADDITIONAL: 6' <<< "$out" && grep -q '^_sips._tcp.pbx.dr.sipovl.test. 60 IN SRV 10 1 5061 pbx.dr.sipovl.test.' <<< "$(tr -s '\t ' ' ' <<< "$out")"; then
		ok "dnsresp: NAPTR's additional section: 3 SRV, A, AAAA (+ OPT)"
	else
		notok "dnsresp: NAPTR's additional section"; diag <<< "$out"
	fi
	expect "SRV _sip._udp.pbx" "10 1 5060 pbx.dr.sipovl.test." "$(S _sip._udp.pbx.dr.sipovl.test SRV)"
	expect "SRV _sip._tcp.pbx over TCP" "10 1 5060 pbx.dr.sipovl.test." "$(S +tcp _sip._tcp.pbx.dr.sipovl.test SRV)"
	expect "SRV _sips._tcp.pbx" "10 1 5061 pbx.dr.sipovl.test." "$(S _sips._tcp.pbx.dr.sipovl.test SRV)"
	expect "SRV _sip._udp.b.voip (wildcard)" "10 1 5060 b.voip.dr.sipovl.test." "$(S _sip._udp.b.voip.dr.sipovl.test SRV)"
	expect "SRV _sip._tcp.tcponly: its single port" "10 1 5080 tcponly.dr.sipovl.test." "$(S _sip._tcp.tcponly.dr.sipovl.test SRV)"
	out=$(Q _sip._udp.tcponly.dr.sipovl.test SRV)
	if grep -q 'status: NXDOMAIN' <<< "$out" && grep -q 'AUTHORITY: 1' <<< "$out" && grep -q 'SOA' <<< "$out"; then
		ok "dnsresp: SRV _sip._udp of a TCP-only service: NXDOMAIN with SOA"
	else
		notok "dnsresp: SRV _sip._udp.tcponly"; diag <<< "$out"
	fi
	out=$(Q pbx.dr.sipovl.test MX)
	if grep -q 'status: NOERROR' <<< "$out" && grep -q 'ANSWER: 0, AUTHORITY: 1' <<< "$out"; then
		ok "dnsresp: MX of pbx: NODATA with SOA"
	else
		notok "dnsresp: MX of pbx"; diag <<< "$out"
	fi
	if command -v kdig > /dev/null; then
		local t k=""
		for t in A AAAA NAPTR; do
			k+="$(kdig @127.0.0.1 -p "$P" +short pbx.dr.sipovl.test "$t" 2>&1 | sort | head -1) / "
		done
		k+=$(kdig @127.0.0.1 -p "$P" +short +tcp _sip._udp.pbx.dr.sipovl.test SRV 2>&1)
		expect "kdig A, AAAA, NAPTR (the preferred), SRV over TCP" \
			'100.80.0.87 / fd00:5150::57 / 10 10 "s" "SIPS+D2T" "" _sips._tcp.pbx.dr.sipovl.test. / 10 1 5060 pbx.dr.sipovl.test.' "$k"
	else
		skip "dnsresp: kdig" "not installed"
	fi
	# other names: relayed unchanged
	expect "relayed: A of up.dr.example" "192.0.2.7" "$(S up.dr.example A)"
	expect "relayed over TCP: AAAA of up.dr.example" "2001:db8::7" "$(S +tcp up.dr.example AAAA)"
	out=$(Q nothere.dr.example A)
	grep -q 'status: NXDOMAIN' <<< "$out" && ok "dnsresp: relayed: the upstream's NXDOMAIN" ||
		{ notok "dnsresp: relayed NXDOMAIN"; diag <<< "$out"; }
	# malformed, short, oversized, unknown opcode, EDNS version 1
	out=$(python3 - "$P" <<'PY'
import socket, struct, sys
p = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
q = b"\x03pbx\x02dr\x06sipovl\x04test\x00\x00\x01\x00\x01"
def ask(m):
    s.sendto(m, ("127.0.0.1", p))
    try:
        r = s.recv(4096)
        return "rcode%d,qd%d" % (r[3] & 15, r[5])
    except socket.timeout:
        return "none"
out = [ask(struct.pack(">HHHHHH", 1, 0x100, 0, 0, 0, 0)),              # QDCOUNT 0
       ask(b"\x00\x02\x01"),                                             # 3 bytes
       ask(struct.pack(">HHHHHH", 3, 0x100, 1, 0, 0, 0) + q + b"x" * 3000),  # oversized: trailing bytes
       ask(struct.pack(">HHHHHH", 4, 0x1100, 1, 0, 0, 0) + q),           # opcode 2
       ask(struct.pack(">HHHHHH", 5, 0x100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01"),  # pointer loop
       ask(struct.pack(">HHHHHH", 6, 0x100, 1, 0, 0, 0) + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01"),  # 64-byte label
       ask(struct.pack(">HHHHHH", 7, 0x100, 1, 0, 0, 0) + q)]            # still answering
print(" ".join(out))
PY
)
	expect "QDCOUNT 0, 3 bytes, 3 KB with trailing bytes, opcode 2, pointer loop, 64-byte label, then a good query" \
		"rcode1,qd0 none rcode1,qd1 rcode4,qd0 rcode1,qd0 rcode1,qd0 rcode0,qd1" "$out"
	out=$(Q +edns=1 +noednsnegotiation pbx.dr.sipovl.test A)
	grep -q 'status: BADVERS' <<< "$out" && ok "dnsresp: EDNS version 1: BADVERS" ||
		{ notok "dnsresp: EDNS version 1"; diag <<< "$out"; }
	echo drop > "$D/ctl"
	out=$(Q up.dr.example A)
	grep -q 'status: SERVFAIL' <<< "$out" && ok "dnsresp: upstream does not answer: SERVFAIL ($(grep -o 'Query time: [0-9]* msec' <<< "$out"), timeout 700 ms)" ||
		{ notok "dnsresp: upstream that does not answer"; diag <<< "$out"; }
	expect "meanwhile our names are answered" "100.80.0.235" "$(S a.voip.dr.sipovl.test A)"
	out=$("$SD" --control "$D/sipovld.sock" --request status 2>/dev/null | jq -c '.dns')
	if jq -en 'input | .enabled and .names == 4 and .upstreams == 1 and .upstream_timeouts == 1 and .formerr >= 4 and
		.refused == 0 and .dropped == 1 and .pending == 0 and .tcp_connections >= 4' <<< "$out" > /dev/null; then
		ok "dnsresp: status dns: 4 names (pbx, a.voip, b.voip, tcponly), 1 upstream timeout, FORMERRs, 1 dropped"
	else
		notok "dnsresp: status dns counters: $out"
	fi
	echo "answer 60" > "$D/ctl"
	# the Dial policy of dr-tcp goes: its name is no longer ours (relayed: the upstream's NXDOMAIN)
	cli edge update service-policy "dr-dial-$R" --service-roles "@dr-sip-$R" > "$D/cli2.out" 2>&1 || diag < "$D/cli2.out"
	for _ in $(seq 1 80); do
		Q tcponly.dr.sipovl.test A | grep -q 'status: NXDOMAIN' && break
		sleep 0.25
	done
	out=$(Q tcponly.dr.sipovl.test A)
	grep -q 'status: NXDOMAIN' <<< "$out" && expect "after dr-tcp went: pbx keeps its address" "100.80.0.87" "$(S pbx.dr.sipovl.test A)" ||
		{ notok "dnsresp: dr-tcp's name still answered after its Dial policy went"; diag <<< "$out"; }
	# a flood of distinct names under *.voip (300, more than the /24's 254 addresses), sent at
	# once: the names the table holds are answered, the rest SERVFAIL and counted; the answers of
	# one read burst share one kernel apply (before: one each). 61 s later (dns_name_idle_s 60)
	# new names are answered again: idle names are reclaimed, least recently used first, but
	# not f0, asked for every 20 s meanwhile (before: every new name SERVFAIL until a restart)
	flood() { # flood PREFIX N: "answered servfail other" of N queries sent at once
		python3 - "$P" "$1" "$2" <<'PY'
import socket, struct, sys, time
p, pre, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
for i in range(n):
    if i and i % 50 == 0:
        time.sleep(0.1)  # in bursts of 50: more at once overflow the listener's socket buffer
    q = b"".join(bytes([len(l)]) + l.encode() for l in ("%s%d.voip.dr.sipovl.test" % (pre, i)).split("."))
    s.sendto(struct.pack(">HHHHHH", i, 0x100, 1, 0, 0, 0) + q + b"\0\0\1\0\1", ("127.0.0.1", p))
got, end = {}, time.time() + 10
s.settimeout(1)
while len(got) < n and time.time() < end:
    try:
        r = s.recv(4096)
    except socket.timeout:
        continue
    rc, an = r[3] & 15, struct.unpack(">H", r[6:8])[0]
    got[struct.unpack(">H", r[:2])[0]] = "a" if rc == 0 and an == 1 else "s" if rc == 2 else "o"
v = list(got.values())
print(v.count("a"), v.count("s"), n - v.count("a") - v.count("s"))
PY
	}
	dst() { "$SD" --control "$D/sipovld.sock" --request status 2>/dev/null | jq -c ".dns | $1"; }
	local n0 k0 fl f0 f0b st2 fl2 fa fs fo
	n0=$(dst .names) k0=$(dst .kernel_applies)
	fl=$(flood f 300)
	st2=$(dst '[.names, .names_refused, .names_reclaimed, .kernel_applies]')
	local want_a=$((254 - n0))
	read -r fa fs fo <<< "$fl"
	if [ "$fa" = "$want_a" ] && [ $((fs + fo)) = $((300 - want_a)) ] && [ "$fo" -le 5 ] &&
		[ "$st2" = "[254,$fs,0,$(jq '.[3]' <<< "$st2")]" ] &&
		[ "$(jq '.[3]' <<< "$st2")" -lt $((k0 + want_a)) ]; then
		ok "dnsresp: a flood of 300 new names in bursts of 50: $want_a answered (the table's 254 less $n0 held), $fs SERVFAIL, counted ($fo unanswered); $(( $(jq '.[3]' <<< "$st2") - k0 )) kernel applies for $want_a names ([names, refused, reclaimed, applies] $st2)"
	else
		notok "dnsresp: flood of 300 names: [answered servfail other] $fl (want $want_a $((300 - want_a)) 0), [names, refused, reclaimed, applies] $st2 (applies before $k0)"
	fi
	f0=$(S f0.voip.dr.sipovl.test A)
	for _ in 1 2 3; do sleep 20.5; f0b=$(S f0.voip.dr.sipovl.test A); [ "$f0b" = "$f0" ] || break; done
	fl2=$(flood g 20)
	st2=$(dst '[.names, .names_refused, .names_reclaimed]')
	if [ "$fl2" = "20 0 0" ] && [ -n "$f0" ] && [ "$(S f0.voip.dr.sipovl.test A)" = "$f0" ] && [ "$f0b" = "$f0" ] &&
		[ "$(jq '.[2]' <<< "$st2")" -ge 20 ] && [ "$(jq '.[0]' <<< "$st2")" -le 254 ] &&
		grep -q "dns: [0-9]* names not used for 60 s and without flows reclaimed" "$D/sipovld.log"; then
		ok "dnsresp: 61 s later 20 new names answered: idle names reclaimed, f0 (asked every 20 s) keeps $f0 ([names, refused, reclaimed] $st2)"
	else
		notok "dnsresp: after 61 s: [answered servfail other] $fl2 (want 20 0 0), f0 '$f0' then '$f0b', [names, refused, reclaimed] $st2"
		grep "dns:" "$D/sipovld.log" | tail -3 | diag
	fi
	# a TCP client that pipelines ~1,800 NAPTR queries in one write and never reads: their
	# answers (404 B each) pass the connection's 256 KiB output bound within one read, and the
	# connection is closed; the queries after it in that read must not touch it again (before:
	# reply() closed it once per remaining query: double free, use after free, n_tconns below 0
	# and every later TCP client refused). sipovld must live on and answer over TCP.
	local pipe_out pipe_a
	pipe_a=$(S pbx.dr.sipovl.test A) # (reclaimed during the idle wait above: perhaps not .1 now)
	pipe_out=$(python3 - "$P" <<'PY'
import socket, struct, sys, time
p = int(sys.argv[1])
q = b"".join(bytes([len(l)]) + l.encode() for l in "pbx.dr.sipovl.test".split(".")) + b"\0\0\x23\0\1"
burst = b"".join(struct.pack(">H", 12 + len(q)) + struct.pack(">HHHHHH", i, 0x100, 1, 0, 0, 0) + q for i in range(1800))
s = socket.create_connection(("127.0.0.1", p))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(burst)
time.sleep(3)
print(len(burst))
PY
)
	local pipe_tcp
	pipe_tcp=$(dig @127.0.0.1 -p "$P" +tcp +short +time=3 +tries=1 pbx.dr.sipovl.test A)
	if kill -0 "$sd_pid" 2>/dev/null && [[ $pipe_a == 100.80.0.* ]] && [ "$pipe_tcp" = "$pipe_a" ] &&
		[ "$(dig @127.0.0.1 -p "$P" +tcp +short +time=3 +tries=1 pbx.dr.sipovl.test A)" = "$pipe_a" ]; then
		ok "dnsresp: a TCP client pipelining 1,800 NAPTR queries ($pipe_out bytes in one write) and reading nothing is closed; sipovld answers over TCP after it"
	else
		notok "dnsresp: after a TCP client pipelining 1,800 NAPTR queries: sipovld $(kill -0 "$sd_pid" 2>/dev/null && echo alive || echo dead), A over TCP '$pipe_tcp' (over UDP before: '$pipe_a')"
		grep -A8 -E "ERROR: AddressSanitizer|double free" "$D/sipovld.log" | head -12 | diag
	fi
	kill -TERM "$sd_pid"; wait "$sd_pid"
	rc=$?
	[ $rc -eq 0 ] && san_clean "$D/sipovld.log" && ok "dnsresp: clean exit (no ASan/UBSan/leak report)" ||
		{ notok "dnsresp: clean exit (exit $rc)"; grep -A10 -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/sipovld.log" | head -20 | diag; }
	kill "$dns_pid" 2>/dev/null; wait "$dns_pid" 2>/dev/null
	{ cli edge delete service-policy "dr-dial-$R"; cli edge delete service "dr-sip-$R"; cli edge delete service "dr-tcp-$R"
	  cli edge delete config "dr-sip-icpt-$R"; cli edge delete config "dr-tcp-icpt-$R"; } > /dev/null 2>&1
}

# run alone: tests/ziti/dnsresp.sh NETDIR
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cd "$(dirname "$0")/../.." || exit 1
	TOP=$PWD
	B=${O:-$TOP/build}
	# shellcheck source=tests/ziti/lib.sh
	. "$TOP/tests/ziti/lib.sh"
	zt_standalone zt-dnsresp "${1:-}"
	dnsresp_tests
	zt_plan
fi
