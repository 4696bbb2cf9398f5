#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The SIPp scenarios of the VM selftests, on the host (TAP version 13; exit 0 pass, 1 fail,
# 4 skipped). selftests/sipovl/sipp-uas.xml is the UAS of dnssip.sh: it must complete calls
# whose INVITE retransmission reaches it after its 200, which is what a gateway's first Ziti
# dial longer than T1 (500 ms) produces. tests/sip/relay.py produces that crossing for every
# call, whatever the load; SIPp's built-in "uas" under the same relay is the control (it
# aborts the call: the reason the scenario exists).
set -u
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
echo "TAP version 13"
for c in sipp python3 ss; do
	command -v "$c" >/dev/null || { echo "1..0 # SKIP $c not installed"; exit 4; }
done
W=$(mktemp -d /tmp/sipovl-sip.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; printf '# %s\n' "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listening() { # listening u|t PORT
	ss -Hln"$1" "sport = :$2" | grep -q .
}
waitfor() { # waitfor SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge "$end" ] && return 1
		sleep 0.1
	done
}

# run NAME CALLS TRANSPORT RELAY(0|1) UAS_ARGS...: one UAS and one UAC of CALLS sequential
# calls, the UAC through the relay when RELAY=1. Sets uac_rc, uas_rc, crossings; the outputs
# stay in $W/NAME.{uas,uac,relay}.out
run() {
	local name=$1 m=$2 t=$3 relay=$4 up rp uas rl=
	shift 4
	up=$(free_port)
	timeout 90 sipp "$@" -i 127.0.0.1 -p "$up" -t "$t" -m "$m" -nostdin >"$W/$name.uas.out" 2>&1 &
	uas=$!
	pids+=("$uas")
	waitfor 30 listening "${t:0:1}" "$up" || echo "# $name: the UAS is not listening on $up after 30 s"
	rp=$up
	if [ "$relay" = 1 ]; then
		rp=$(free_port)
		python3 tests/sip/relay.py "$rp" "$up" 90 >"$W/$name.relay.out" 2>&1 &
		rl=$!
		pids+=("$rl")
		waitfor 30 listening u "$rp" || echo "# $name: the relay is not listening on $rp after 30 s"
	fi
	uac_rc=0
	timeout 90 sipp -sn uac "127.0.0.1:$rp" -i 127.0.0.1 -p "$(free_port)" -t "$t" -m "$m" -l 1 -nostdin \
		-recv_timeout 20000 -max_non_invite_retrans 2 >"$W/$name.uac.out" 2>&1 || uac_rc=$?
	uas_rc=0
	wait "$uas" || uas_rc=$?
	crossings=0
	if [ -n "$rl" ]; then
		kill "$rl" 2>/dev/null
		wait "$rl" 2>/dev/null
		crossings=$(grep -c '^crossing' "$W/$name.relay.out")
	fi
}
# inv_retrans NAME: the INVITE retransmissions the UAS counted (its final screen)
inv_retrans() { awk '$1 == "---------->" && $2 == "INVITE" { r = $4 } END { print r + 0 }' "$W/$1.uas.out"; }

# 1. control: SIPp's built-in UAS aborts a call whose INVITE retransmission follows its 200
run builtin 1 u1 1 -sn uas
if [ "$crossings" = 1 ] && [ "$uac_rc" != 0 ] &&
	grep -q "Aborting call on unexpected message .* while expecting 'ACK'" "$W/builtin.uas.out"; then
	ok "control: SIPp's built-in uas aborts the call when the INVITE retransmission follows its 200 (uac exit $uac_rc)"
else
	notok "control: SIPp's built-in uas aborts the call when the INVITE retransmission follows its 200" \
		"crossings $crossings, uac exit $uac_rc, uas exit $uas_rc" "$(grep -m1 Aborting "$W/builtin.uas.out" | cut -c1-160)"
fi

# 2. the scenario answers each INVITE retransmission with its 200: 3 calls complete
run scenario 3 u1 1 -sf "$TOP/selftests/sipovl/sipp-uas.xml"
r=$(inv_retrans scenario)
if [ "$crossings" = 3 ] && [ "$uac_rc" = 0 ] && [ "$uas_rc" = 0 ] && [ "$r" = 3 ]; then
	ok "sipp-uas.xml over UDP: 3 of 3 calls complete, each INVITE retransmission after the 200 answered"
else
	notok "sipp-uas.xml over UDP: 3 calls with the INVITE retransmission after the 200" \
		"crossings $crossings, INVITE retransmissions counted by the UAS $r, uac exit $uac_rc, uas exit $uas_rc" \
		"$(grep -m2 -E 'Aborting|unexpected' "$W/scenario.uas.out" | cut -c1-160)"
fi

# 3. and over TCP (no retransmissions there), directly
run tcp 3 t1 0 -sf "$TOP/selftests/sipovl/sipp-uas.xml"
# (the UAS's exit status is not used: the UAC closes the connection when done, which fails
# the UAS's last call in its timewait; that the UAS answered the 3 BYEs is checked instead)
bye200=$(awk '$1 == "<----------" && $2 == "200" { r = $3 } END { print r + 0 }' "$W/tcp.uas.out")
if [ "$uac_rc" = 0 ] && [ "$bye200" = 3 ]; then
	ok "sipp-uas.xml over TCP: 3 of 3 calls complete"
else
	notok "sipp-uas.xml over TCP: 3 calls" "uac exit $uac_rc, the UAS's 200 to BYE sent $bye200 times" "$(tail -3 "$W/tcp.uac.out")"
fi

echo "1..$n"
[ "$failed" = 0 ]
