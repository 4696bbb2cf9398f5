#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest half of the SIP benchmark (bench/sip/run.sh boots the VM and runs this inside it,
# once). Never run it on the host.
#
# Topology: only the two gateways are in the guest; the phones, the Ziti controller and the
# edge router are on the host, native, each in a network namespace of its own set up by
# bench/sip/run.sh, reached over four virtio-net NICs backed by tap devices there (found here
# by their MAC addresses):
#
#   host PA 10.1.0.2 =tap= l0 10.1.0.1 GWA u0 10.99.1.2 =tap= 10.99.1.1 host ZN 10.99.2.1 =tap= 10.99.2.2 u0 GWB l0 10.2.0.1 =tap= 10.2.0.2 host PB
#   (callers: sip-rtp, SIPp)  (intercept side, guest)   (controller+router 10.99.0.1)   (host side, guest)    (callees: sip-rtp, SIPp)
#
# Why: under TCG a Go router in the guest took most of the guest's 2 vCPUs at 200 packets/s,
# and the RTP generator, its echo and SIPp took much of the rest (the sender was late in
# 74-100 % of its 1 ms slots); out here they neither compete with the tunnelers nor are
# slowed down by the emulation (Documentation/benchmarks.md). What the guest runs: the
# tunneler under test, sipovld hosting at GWB, the kernels' forwarding and NICs.
# The guest asks the host to run sip-rtp and SIPp through files in the results directory
# (/run/sipovl-vm/rpc here; run.sh's serve loop) and reads their output there. The Ziti
# network is the packed one of the sipovld selftest (tests/daemon/vmnet.sh), unpacked on the
# host into $SIPOVL_BENCH_ZN, which the guest reads over 9p (identities, ziti-bin).
#
# Service site-b (10.2.0.0/24, SIP 5060-5061, RTP 7222-7422, sourceIp $src_ip:$src_port) is
# intercepted at GWA by the tunneler under test, one at a time, started afresh for every
# measurement with the same identity (gw-a.json): sipovld (+ sipovl.ko) or the Go tunneler
# `ziti tunnel tproxy` (iptables-nft mangle TPROXY rules, the intercepted CIDR added to lo).
# GWB hosts site-b with sipovld in both cases (the host side is held constant; the callee
# sees the caller's real address either way).
#
# One measurement (tunneler T, N calls): sip-rtp (bench/sip/rtp.c, on the host) runs the
# media of N calls, N UDP flows PA:base+2i -> PB:7222+i at 50 packets/s each, echoed back by
# PB (both directions 50 packets/s), warm-up then a measured window. Right after it (the
# media flows idle, not yet expired) SIPp places new calls from PA (one UDP socket, i.e. one
# new flow through the tunneler, per call; SIPp's built-in uac scenario, no hold) to a SIPp
# UAS on PB at an offered rate (apart from the media, as in the first version, where SIPp
# ran in the guest and starved the media).
# Recorded: RTP loss and one-way latency both ways, round trip; SIPp's successful and failed
# calls and call rate; the tunneler's RSS before the load and 1 s before the window ends
# (sipovld: also its flow count and its own accounting of flow memory).
# Baseline: the same RTP load routed straight through the gateways and the host's namespace
# (no overlay, no tunneler at GWA), the same path as the overlay's packets, for "added
# latency". The gateways drop every forwarded packet (nft) except during the baseline, so
# a flow the tunneler does not intercept cannot reach the other site around the overlay.
#
# Output: "RESULT key=value..." lines (bench/sip/summary.py turns them into the report).
#
# Settings (environment, passed through by the VM runner):
#   SIPOVL_BENCH_BIN       build directory (sipovld, sipovlctl)
#   SIPOVL_BENCH_ZN        the Ziti network's directory on the host (gw-a.json, gw-b.json, ziti-bin)
#   SIPOVL_BENCH_POINTS    concurrent calls per measurement ("2 50 200")
#   SIPOVL_BENCH_ROUNDS    rounds (2); the tunneler order alternates every round
#   SIPOVL_BENCH_TUNNELERS ("sipovld sipovld1 go"): sipovld with its default workers ("auto":
#                          one per vCPU), sipovld with "workers": 1, the Go tunneler
#   SIPOVL_BENCH_WARM      warm-up seconds of the RTP flows before the window (5)
#   SIPOVL_BENCH_SECS      measured window, seconds (15)
#   SIPOVL_BENCH_DRAIN     seconds a packet may still arrive after the window (2)
#   SIPOVL_BENCH_CPS       SIPp's offered call rate, calls/s (10)
#   SIPOVL_BENCH_CALL_SECS seconds of offered calls (10): CPS x CALL_SECS calls
#   SIPOVL_BENCH_MEM_FLOWS flows of the memory measurement at the end (200; 0: none), at
#   SIPOVL_BENCH_MEM_PPS   packets/s each (1), after SIPOVL_BENCH_MEM_WARM s (30)
#   SIPOVL_BENCH_PERF      1: profile both sipovlds (perf, cpu-clock) in each sipovld window
#                          and print the top symbols as "PERF ..." lines (a diagnostic)
#   SIPOVL_BENCH_DIAG      1: print socket queues and counters mid-window ("DIAG ..." lines);
#                          with SIPOVL_BENCH_STRACE=1 also `strace -c` of both sipovlds
source "$SIPOVL_TOP/selftests/lib.sh"
require_root
in_vm || { echo "guest.sh: run me through bench/sip/run.sh" >&2; exit 2; }
require_cmd ip jq iptables-nft nft curl

BIN=${SIPOVL_BENCH_BIN:-$SIPOVL_TOP/build}
D=$BIN/sipovld
CTL=$BIN/sipovlctl
RPC=/run/sipovl-vm/rpc
ZN=${SIPOVL_BENCH_ZN:-}
[ -n "$ZN" ] || { echo "guest.sh: SIPOVL_BENCH_ZN (the Ziti network directory on the host) is not set" >&2; exit 2; }
read -r -a POINTS <<<"${SIPOVL_BENCH_POINTS-2 50 200}" # empty: none (only the memory measurement)
read -r -a TUNS <<<"${SIPOVL_BENCH_TUNNELERS:-sipovld sipovld1 go}"
ROUNDS=${SIPOVL_BENCH_ROUNDS:-2}
WARM=${SIPOVL_BENCH_WARM:-5}
SECS=${SIPOVL_BENCH_SECS:-15}
DRAIN=${SIPOVL_BENCH_DRAIN:-2}
CPS=${SIPOVL_BENCH_CPS:-10}
CALL_SECS=${SIPOVL_BENCH_CALL_SECS:-10}
MEM_FLOWS=${SIPOVL_BENCH_MEM_FLOWS:-200}
MEM_PPS=${SIPOVL_BENCH_MEM_PPS:-1}
MEM_WARM=${SIPOVL_BENCH_MEM_WARM:-30}
PERF=${SIPOVL_BENCH_PERF:-}
DIAG=${SIPOVL_BENCH_DIAG:-}
for f in "$D" "$CTL" "$ZN/gw-a.json" "$ZN/gw-b.json" "$ZN/ziti-bin"; do
	[ -e "$f" ] || { echo "guest.sh: missing $f (make sip-bench; bench/sip/run.sh)" >&2; exit 1; }
done
[[ $MEM_FLOWS =~ ^[0-9]+$ ]] && [ "$MEM_FLOWS" -le 201 ] && [[ $MEM_PPS =~ ^[0-9]+$ ]] && [ "$MEM_PPS" -ge 1 ] &&
	[[ $MEM_WARM =~ ^[0-9]+$ ]] ||
	{ echo "guest.sh: SIPOVL_BENCH_MEM_FLOWS (0..201), _MEM_PPS (1..) or _MEM_WARM: not a number in range" >&2; exit 2; }
for p in ${POINTS[@]+"${POINTS[@]}"}; do
	[[ $p =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 201 ] ||
		{ echo "guest.sh: SIPOVL_BENCH_POINTS: '$p' is not 1..201 (RTP ports 7222-7422)" >&2; exit 2; }
done

say() { printf '%s\n' "$*"; }
T0=$(date +%s)
el() { echo $(($(date +%s) - T0)); }
waitfor() { # waitfor SECONDS CMD...: poll twice a second
	local s=$1 i
	shift
	for ((i = 0; i < s * 2; i++)); do
		"$@" && return 0
		sleep 0.5
	done
	return 1
}

say "## SIP benchmark (guest)"
say "kernel: $(uname -r); $(nproc) vCPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
say "tools: $(iptables-nft --version)"
say "points: ${POINTS[*]} calls; rounds: $ROUNDS; tunnelers: ${TUNS[*]}; warm-up ${WARM}s, window ${SECS}s, drain ${DRAIN}s; SIPp offered ${CPS} calls/s for ${CALL_SECS}s"

load_module
for m in xt_TPROXY nf_tproxy_ipv4 xt_comment xt_mark iptable_mangle nft_compat xt_tcpudp xt_conntrack; do
	modprobe -q "$m" || say "warning: modprobe $m failed"
done
modprobe -q virtio_net || bail_out "no virtio_net module"
setup_ns GWA GWB
nic() { # nic MAC: the guest's interface with that address (the tap NICs of run.sh)
	local d i
	for i in $(seq 1 20); do
		for d in /sys/class/net/*; do
			[ "$(cat "$d/address" 2>/dev/null)" = "$1" ] && { basename "$d"; return 0; }
		done
		sleep 0.5
	done
	return 1
}
nic_to() { # nic_to NS MAC NAME ADDR: a tap NIC into a gateway's namespace
	local i
	i=$(nic "$2") || bail_out "no NIC with MAC $2 (bench/sip/run.sh adds it; SIPOVL_VM_QEMU_ARGS)"
	ip link set "$i" netns "$1"
	ip -n "$1" link set "$i" name "$3"
	ip -n "$1" addr add "$4" dev "$3"
	ip -n "$1" link set "$3" up
}
nic_to "$GWA" 52:54:00:99:01:02 u0 10.99.1.2/24
nic_to "$GWB" 52:54:00:99:02:02 u0 10.99.2.2/24
nic_to "$GWA" 52:54:00:99:03:02 l0 10.1.0.1/24
nic_to "$GWB" 52:54:00:99:04:02 l0 10.2.0.1/24
ip -n "$GWA" route add default via 10.99.1.1
ip -n "$GWB" route add default via 10.99.2.1
# the gateways forward nothing but during the baseline (see above)
forwarding() { # forwarding on|off
	local ns
	for ns in "$GWA" "$GWB"; do
		ip netns exec "$ns" nft delete table inet sipbench 2>/dev/null
		[ "$1" = on ] || ip netns exec "$ns" nft -f - <<-'EOF' || bail_out "nft: cannot block forwarding"
			table inet sipbench {
				chain forward { type filter hook forward priority 0; policy drop; }
			}
		EOF
	done
}
for ns in "$GWA" "$GWB"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
done
forwarding off

TMP=$(mktemp -d)
on_exit rm -rf "$TMP"
if [ -d /run/sipovl-vm ] && [ -w /run/sipovl-vm ]; then
	on_exit bash -c "mkdir -p /run/sipovl-vm/sip && cp $TMP/*.log /run/sipovl-vm/sip/ 2>/dev/null; true"
fi
mkdir -p "$RPC" || bail_out "cannot make $RPC"
# host_run TIMEOUT VERB ARGS...: have the host run VERB (run.sh's serve loop: rtp, calls),
# print its output; fails when the host did not answer in time
host_run() {
	local to=$1 id
	shift
	id=$RPC/$(date +%s%N)-$BASHPID # unique (callers run in subshells: no counter)
	echo "$*" >"$id.tmp" && mv "$id.tmp" "$id.req"
	waitfor "$to" test -e "$id.rc" || { echo "error=host_timeout:$*"; return 1; }
	cat "$id.out"
	return "$(cat "$id.rc")"
}
# the identities in the guest's tmpfs (the host's root is read-only here)
cp "$ZN/gw-a.json" "$ZN/gw-b.json" "$TMP/"
ZITI=$(cat "$ZN/ziti-bin")
[ -x "$ZITI" ] || bail_out "no ziti binary at $ZITI"
# the host's clock against ours (the window times in RESULT lines are the guest's; run.sh
# samples the router's CPU with the host's): a file touched over 9p gets the host's time
if [ -w /run/sipovl-vm ] && touch /run/sipovl-vm/clock; then
	say "clock: host $(stat -c %Y /run/sipovl-vm/clock) guest $(date +%s)"
fi
waitfor 60 ip netns exec "$GWA" curl -sk --max-time 2 -o /dev/null https://10.99.0.1:1280/version ||
	bail_out "the controller at 10.99.0.1:1280 (on the host) is not reachable from GWA"
say "ziti: $ZITI ($("$ZITI" version 2>/dev/null | head -1)); controller reachable at t=$(el)s"

# --- host side: sipovld at GWB, for every measurement
ip netns exec "$GWB" "$D" -i "$TMP/gw-b.json" -l info --control "$TMP/b.sock" \
	--udp-idle-timeout 30 2>"$TMP/gwb.log" &
GWB_PID=$!
on_exit kill "$GWB_PID"
hosted_b() {
	"$D" --control "$TMP/b.sock" --request status 2>/dev/null |
		jq -en 'input | [.services[] | select(.name == "site-b") | .host.listening] == [true]' >/dev/null
}
waitfor 300 hosted_b || bail_out "gw-b: site-b not hosted after 300 s: $(tail -3 "$TMP/gwb.log" | tr '\n' '|')"
say "gw-b hosting site-b at t=$(el)s"

# (the callee, a SIPp UAS on PB, runs on the host for the whole run: run.sh)

# --- the tunneler at GWA
TUN_PID=
go_ready() {
	ip netns exec "$GWA" iptables-nft -t mangle -S NF-INTERCEPT 2>/dev/null | grep -q 'site-b.*udp.*7222:7422'
}
sipovld_ready() {
	"$D" --control "$TMP/a.sock" --request status 2>/dev/null |
		jq -en 'input | [.services[] | select(.name == "site-b") | .intercept.installed] == [true]' >/dev/null
}
start_tun() { # start_tun sipovld|sipovld1|go LOG
	case $1 in
	sipovld | sipovld1)
		[ "$1" = sipovld1 ] && echo '{ "workers": 1 }' >"$TMP/w.conf" || echo '{ }' >"$TMP/w.conf"
		ip netns exec "$GWA" "$D" -c "$TMP/w.conf" -i "$TMP/gw-a.json" -l info --control "$TMP/a.sock" \
			--udp-idle-timeout 30 2>>"$2" &
		TUN_PID=$!
		waitfor 240 sipovld_ready ;;
	go)
		# --cli-agent=false: no agent socket; the DNS resolver on 127.0.0.1:53 of GWA's
		# namespace is left as the Go tunneler sets it up (it is not used here)
		ip netns exec "$GWA" "$ZITI" tunnel tproxy -i "$TMP/gw-a.json" --cli-agent=false \
			>>"$2" 2>&1 &
		TUN_PID=$!
		waitfor 240 go_ready ;;
	esac
}
stop_tun() {
	[ -n "$TUN_PID" ] || return 0
	kill -TERM "$TUN_PID" 2>/dev/null
	waitfor 20 bash -c "! kill -0 $TUN_PID 2>/dev/null" || kill -KILL "$TUN_PID" 2>/dev/null
	wait "$TUN_PID" 2>/dev/null
	TUN_PID=
	# whatever the Go tunneler left behind (it normally removes it on SIGTERM)
	if ip netns exec "$GWA" iptables-nft -t mangle -S NF-INTERCEPT >/dev/null 2>&1; then
		ip netns exec "$GWA" iptables-nft -t mangle -D PREROUTING -j NF-INTERCEPT 2>/dev/null
		ip netns exec "$GWA" iptables-nft -t mangle -F NF-INTERCEPT 2>/dev/null
		ip netns exec "$GWA" iptables-nft -t mangle -X NF-INTERCEPT 2>/dev/null
	fi
	ip -n "$GWA" addr show dev lo | awk '$1 == "inet" && $2 != "127.0.0.1/8" {print $2}' |
		while read -r a; do ip -n "$GWA" addr del "$a" dev lo; done
	return 0
}
on_exit stop_tun
# guest_ticks: "busy total" jiffies of all vCPUs (/proc/stat); busy G0 G1: % of the
# guest's vCPUs busy in between (100 = every vCPU busy all the time)
guest_ticks() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }
busy() {
	local a0 t0 a1 t1
	read -r a0 t0 <<<"$1"
	read -r a1 t1 <<<"$2"
	echo $(((a1 - a0) * 100 / (t1 - t0 > 0 ? t1 - t0 : 1)))
}
# a process and its children (sipovld's worker processes): RSS, and utime + stime
procs() { echo "$1" $(pgrep -P "$1" 2>/dev/null); }
rss_kb() {
	local p t=0
	for p in $(procs "$1"); do t=$((t + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done
	echo $t
}
cpu_ticks() {
	local p t=0
	for p in $(procs "$1"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
	echo $t
}

PORTRUN=0 # every RTP run uses fresh source ports (hosted flows of the previous run may linger)
rtp() { # rtp FLOWS WARM SECS DRAIN [READYFILE|- [PPS]]: prints sip-rtp's result line (run on the host)
	local base=$((10000 + (PORTRUN % 50) * 1000))
	PORTRUN=$((PORTRUN + 1))
	host_run $(($2 + $3 + $4 + 60)) rtp "$1" "$2" "$3" "$4" "$base" "${5:--}" ${6:+"$6"}
}
# warm_up: one short flow until it comes back (API session, Dial session, router channel,
# the host side), then let everything settle
warm_up() {
	local i r
	for i in 1 2 3 4 5 6; do
		r=$(rtp 1 1 2 2)
		grep -q ' back=[1-9]' <<<"$r" && { sleep 3; return 0; }
	done
	return 1
}

# calls NAME: SIPp UAC on PA (on the host, output in $RPC/NAME), new UDP socket per call,
# offered $CPS calls/s for the window; prints "calls_ok= calls_failed= calls_elapsed_s=
# calls_per_s= setup_ms=" (SIPp's stats file: elapsed time in whole seconds, setup = mean
# INVITE->200 time)
calls() {
	local dir=$RPC/$1 rc=0 hdr last
	host_run $((CALL_SECS + 90)) calls "$1" "$CPS" "$CALL_SECS" >/dev/null || rc=$?
	hdr=$(head -1 "$dir/uac.csv" 2>/dev/null)
	last=$(tail -1 "$dir/uac.csv" 2>/dev/null)
	awk -F';' -v rc=$rc -v h="$hdr" -v l="$last" 'BEGIN {
		n = split(h, k, ";"); split(l, v, ";")
		for (i = 1; i <= n; i++) f[k[i]] = v[i]
		split(f["ElapsedTime(C)"], t, ":")
		el = t[1] * 3600 + t[2] * 60 + t[3] + t[4] / 1000
		ok = f["SuccessfulCall(C)"] + 0; bad = f["FailedCall(C)"] + 0
		split(f["ResponseTime1(C)"], r, ":")
		rt = (r[1] * 3600 + r[2] * 60 + r[3]) * 1000 + r[4] / 1000 # HH:MM:SS:microseconds
		cps = el > 0 ? ok / el : 0
		printf "sipp_rc=%d calls_ok=%d calls_failed=%d calls_elapsed_s=%.1f calls_per_s=%.2f setup_ms=%.0f\n",
			rc, ok, bad, el, cps, rt
	}'
}

measure() { # measure TUN N ROUND
	local tun=$1 n=$2 round=$3 m="m-$1-$2-$3" dir="$RPC/m-$1-$2-$3" r c rss0 rss1 fl=- acct=- t_ready load t rp c0 c1 cpu
	local b0 b1 g0 g1 w0 w1
	t=$(date +%s)
	if ! start_tun "$tun" "$TMP/$tun.log"; then
		say "RESULT tun=$tun n=$n round=$round error=not_ready t=$(el)"
		stop_tun
		return
	fi
	t_ready=$(($(date +%s) - t))
	if ! warm_up; then
		say "RESULT tun=$tun n=$n round=$round error=warm_up_failed t=$(el)"
		stop_tun
		return
	fi
	rss0=$(rss_kb "$TUN_PID")
	load=$(cut -d' ' -f1 /proc/loadavg)
	# the media of N calls; RSS and flows sampled 1 s before the window ends
	rtp "$n" "$WARM" "$SECS" "$DRAIN" "$m/window" >"$TMP/$m.rtp" 2>&1 &
	rp=$!
	waitfor $((WARM + 30)) test -e "$dir/window"
	c0=$(cpu_ticks "$TUN_PID") b0=$(cpu_ticks "$GWB_PID") g0=$(guest_ticks) w0=$(date +%s)
	if [ -n "$PERF" ] && [[ $tun == sipovld* ]]; then
		# where both gateways' sipovld spend the window (a diagnostic: perf takes CPU too),
		# and how many TCP connections each gateway opened in it (router, controller)
		opens() { ip netns exec "$1" awk '$1 == "Tcp:" && $2 != "RtoAlgorithm" {print $6}' /proc/net/snmp; }
		local oa0 ob0
		oa0=$(opens "$GWA") ob0=$(opens "$GWB")
		perf record -q -F 499 -e cpu-clock --call-graph dwarf,8192 -p "$TUN_PID,$GWB_PID" -o "$TMP/$m.perf" -- sleep $((SECS - 1)) \
			>"$TMP/$m.perf.log" 2>&1
		perf report -i "$TMP/$m.perf" --stdio --no-children --sort dso,sym -g none --percent-limit 0.7 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -60 | sed "s/^/PERF $m /"
		# who calls the top symbols (callers, down to 5 % of the samples)
		perf report -i "$TMP/$m.perf" --stdio --no-children --sort sym -g graph,5,caller --percent-limit 5 \
			2>/dev/null | grep -v '^#' | grep -v '^$' | head -150 | sed "s/^/PERFG $m /"
		say "PERF $m TCP connections opened in the window: gw-a $(($(opens "$GWA") - oa0)), gw-b $(($(opens "$GWB") - ob0))"
		say "PERF $m controller TLS full/resumed: gw-a $("$D" --control "$TMP/a.sock" --request status 2>/dev/null |
			jq -r '.identities[0] | "\(.controller_tls_full)/\(.controller_tls_resumed)"'), gw-b $("$D" --control "$TMP/b.sock" \
			--request status 2>/dev/null | jq -r '.identities[0] | "\(.controller_tls_full)/\(.controller_tls_resumed)"')"
		tail -n 12 "$TMP/$tun.log" | cut -c1-250 | sed "s/^/PERFLOG $m gw-a /"
		tail -n 12 "$TMP/gwb.log" | cut -c1-250 | sed "s/^/PERFLOG $m gw-b /"
	elif [ -n "$DIAG" ] && [[ $tun == sipovld* ]]; then
		# queues in the middle of the window: UDP receive queues (sum, max) and the router
		# connection's queues in each gateway, and the daemons' counters
		local ns ua0 ub0
		ua0=$(cut -d' ' -f14,15 "/proc/$TUN_PID/stat") ub0=$(cut -d' ' -f14,15 "/proc/$GWB_PID/stat")
		sleep $(((SECS - 1) / 2))
		say "DIAG $m user/system ticks in $(((SECS - 1) / 2)) s: gw-a $ua0 -> $(cut -d' ' -f14,15 "/proc/$TUN_PID/stat"), gw-b $ub0 -> $(cut -d' ' -f14,15 "/proc/$GWB_PID/stat")"
		for ns in "$GWA" "$GWB"; do
			say "DIAG $m $ns udp recv-q sum/max/n: $(ip netns exec "$ns" ss -Huan | awk '{s += $2; if ($2 > m) m = $2; n++} END {print s + 0 "/" m + 0 "/" n}')"
			say "DIAG $m $ns tcp to router (recv-q send-q peer): $(ip netns exec "$ns" ss -Htn state established '( dport = :3022 )' | awk '{print $1, $2, $4}' | tr '\n' ';')"
		done
		say "DIAG $m gw-a counters: $("$D" --control "$TMP/a.sock" --request status 2>/dev/null | jq -c '.counters | {udp_dropped, mem_limit_hits, packets_to_ziti, packets_from_ziti}')"
		say "DIAG $m gw-b counters: $("$D" --control "$TMP/b.sock" --request status 2>/dev/null | jq -c '.counters | {udp_dropped, mem_limit_hits, packets_to_ziti, packets_from_ziti}')"
		if [ -n "${SIPOVL_BENCH_STRACE:-}" ]; then # system calls, 4 s each (strace slows them)
			timeout -s INT 4 strace -c -p "$TUN_PID" -o "$TMP/$m.stra" >/dev/null 2>&1
			timeout -s INT 4 strace -c -p "$GWB_PID" -o "$TMP/$m.strb" >/dev/null 2>&1
			sed "s/^/DIAG $m strace gw-a 4 s: /" "$TMP/$m.stra" | head -16
			sed "s/^/DIAG $m strace gw-b 4 s: /" "$TMP/$m.strb" | head -16
		fi
		sleep $(((SECS - 1) - (SECS - 1) / 2))
	else
		sleep $((SECS - 1))
	fi
	rss1=$(rss_kb "$TUN_PID")
	c1=$(cpu_ticks "$TUN_PID") b1=$(cpu_ticks "$GWB_PID") g1=$(guest_ticks) w1=$(date +%s)
	pct() { echo $((($2 - $1) * 100 / $(getconf CLK_TCK) / (SECS - 1))); } # % of one vCPU
	cpu="$(pct "$c0" "$c1") gwb_cpu_pct=$(pct "$b0" "$b1") guest_busy_pct=$(busy "$g0" "$g1") win0=$w0 win1=$w1"
	if [[ $tun == sipovld* ]]; then
		fl=$("$D" --control "$TMP/a.sock" --request flows 2>/dev/null | jq length)
		acct=$("$D" --control "$TMP/a.sock" --request status 2>/dev/null | jq '.memory.used')
	fi
	wait "$rp"
	r=$(grep -m1 '^flows=' "$TMP/$m.rtp" || echo "error=rtp:$(tr '\n' ' ' <"$TMP/$m.rtp")")
	# then new calls, the media flows idle (measured apart: SIPp would take the guest's CPU
	# from the media and the tunneler)
	c=$(calls "$m")
	stop_tun
	say "RESULT tun=$tun n=$n round=$round $r $c rss0_kb=$rss0 rss1_kb=$rss1 tun_cpu_pct=$cpu tun_flows=$fl acct_bytes=$acct ready_s=$t_ready guest_load=$load t=$(el)"
}

baseline() { # baseline N ROUND: plain routing through the gateways and the host's ZN, no tunneler
	local n=$1 r g0 g1 w0
	forwarding on
	g0=$(guest_ticks) w0=$(($(date +%s) + WARM))
	r=$(rtp "$n" "$WARM" "$SECS" "$DRAIN" 2>&1)
	g1=$(guest_ticks)
	forwarding off
	say "RESULT tun=direct n=$n round=$2 $r guest_busy_pct=$(busy "$g0" "$g1") win0=$w0 win1=$((w0 + SECS)) guest_load=$(cut -d' ' -f1 /proc/loadavg) t=$(el)"
}

# points in the given order (the saturating ones last: their backlog would skew what
# follows), rounds within a point, the tunneler order reversed every other round
for n in ${POINTS[@]+"${POINTS[@]}"}; do
	for ((round = 1; round <= ROUNDS; round++)); do
		order=("${TUNS[@]}")
		if [ $((round % 2)) = 0 ]; then
			order=()
			for ((i = ${#TUNS[@]} - 1; i >= 0; i--)); do order+=("${TUNS[$i]}"); done
		fi
		baseline "$n" "$round"
		for tun in "${order[@]}"; do
			measure "$tun" "$n" "$round"
		done
	done
done
# Memory per flow at rest: MEM_FLOWS flows at MEM_PPS packets/s each (a load the guest
# carries), a long warm-up so that every flow's dial completes, RSS before and at the end of
# the window; per flow = RSS delta / flows whose media came back (sip-rtp's flows_with_echo)
memory() { # memory TUN
	local tun=$1 m="mem-$1" r rss0 rss1 fl=- acct=-
	if ! start_tun "$tun" "$TMP/$tun.log" || ! warm_up; then
		say "RESULT tun=$tun mem=1 n=$MEM_FLOWS round=1 error=not_ready t=$(el)"
		stop_tun
		return
	fi
	rss0=$(rss_kb "$TUN_PID")
	rtp "$MEM_FLOWS" "$MEM_WARM" 10 2 "$m/window" "$MEM_PPS" >"$TMP/$m.rtp" 2>&1 &
	local rp=$!
	waitfor $((MEM_WARM + 30)) test -e "$RPC/$m/window"
	sleep 9
	rss1=$(rss_kb "$TUN_PID")
	if [[ $tun == sipovld* ]]; then
		fl=$("$D" --control "$TMP/a.sock" --request flows 2>/dev/null | jq length)
		acct=$("$D" --control "$TMP/a.sock" --request status 2>/dev/null | jq '.memory.used')
	fi
	wait "$rp"
	stop_tun
	r=$(grep -m1 '^flows=' "$TMP/$m.rtp" || echo "error=rtp:$(tr '\n' ' ' <"$TMP/$m.rtp")")
	say "RESULT tun=$tun mem=1 n=$MEM_FLOWS round=1 pps=$MEM_PPS $r rss0_kb=$rss0 rss1_kb=$rss1 tun_flows=$fl acct_bytes=$acct guest_load=$(cut -d' ' -f1 /proc/loadavg) t=$(el)"
}
if [ "$MEM_FLOWS" -gt 0 ]; then
	for tun in "${TUNS[@]}"; do
		memory "$tun"
	done
fi
say "gw-b counters: $("$D" --control "$TMP/b.sock" --request status 2>/dev/null | jq -c .counters)"
say "done at t=$(el)s"
