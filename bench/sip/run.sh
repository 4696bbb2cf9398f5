#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# SIP benchmark: concurrent SIP calls with RTP through sipovld (+ sipovl.ko) against the
# official Go tunneler `ziti tunnel tproxy` on the intercept side, in one boot of the test VM
# (TCG), on one Ziti network, the two run alternately. RTP loss and added one-way latency
# p50/p99 with N calls' media flowing, SIPp calls/s after it, and the tunneler's memory per
# flow. Method and results: Documentation/benchmarks.md, "SIP calls (VM)".
#
# The Ziti controller and edge router run here on the host, natively, in a network namespace
# of their own (sipbench-PID: 10.99.0.1 on its lo, tap devices sipa 10.99.1.1 and sipb
# 10.99.2.1 that back the guest's two gateway uplinks); the phones too (sipbench-pa-PID
# 10.1.0.2 and sipbench-pb-PID 10.2.0.2, each bridged in sipbench-PID to a tap that backs a
# gateway's LAN NIC): sip-rtp and SIPp run here, natively, when the guest asks (serve
# below). Only the two gateways are in the guest (bench/sip/guest.sh has the picture). The
# VM runner runs inside sipbench-PID, so nothing touches the host's own network. The Ziti
# network is the packed one of `make tests` (tests/daemon/vmnet.sh prepare), unpacked to
# $O/bench/sip-net. Needs root.
#
#   bench/sip/run.sh [--kernel 6.1|6.12] [--quick]
#
#   --quick   one round, 2 calls, 5 s window, memory with 10 flows (a smoke test)
#
# The guest half is bench/sip/guest.sh; its SIPOVL_BENCH_* settings may be set here (see
# there). The report is printed and kept in build/bench/sip-<kernel>-<date>.log (the
# guest's raw output, then the summary of bench/sip/summary.py). O= must not be under
# /tmp, /run or /var (the guest has its own tmpfs there).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
O=${O:-$TOP/build}
kernel=6.1
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
	--quick)
		export SIPOVL_BENCH_ROUNDS=${SIPOVL_BENCH_ROUNDS:-1} SIPOVL_BENCH_POINTS=${SIPOVL_BENCH_POINTS:-2}
		export SIPOVL_BENCH_SECS=${SIPOVL_BENCH_SECS:-5}
		export SIPOVL_BENCH_MEM_FLOWS=${SIPOVL_BENCH_MEM_FLOWS:-10} SIPOVL_BENCH_MEM_WARM=${SIPOVL_BENCH_MEM_WARM:-10}
		shift ;;
	-h | --help) sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) echo "bench/sip/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
case $O in
/tmp/* | /run/* | /var/*) echo "bench/sip/run.sh: O=$O is not visible in the guest" >&2; exit 2 ;;
esac

# sipovld, sipovlctl, the RTP tool, and the packed Ziti network (tests/daemon/vmnet.sh,
# part of `make tests`)
make -s -C "$TOP" O="$O" sip-bench "$O/daemon-zitinet.tar.gz"

export SIPOVL_BENCH_BIN=$O
export SIPOVL_VM_MEM=${SIPOVL_VM_MEM:-2048}
# The runner gives an --exec command 600 s (3 rounds took over 3600 s at host load 10-15);
# the guest reads VM_EXEC_TIMEOUT from its
# environment, which the kernel fills from unknown command-line words.
limit=${SIPOVL_BENCH_LIMIT:-5400}
export SIPOVL_VM_APPEND="${SIPOVL_VM_APPEND:-} VM_EXEC_TIMEOUT=$limit"
[ "$(id -u)" = 0 ] || { echo "bench/sip/run.sh: needs root (a network namespace with tap devices)" >&2; exit 2; }

kver=$("$TOP/scripts/kver.sh" "$kernel")
mkdir -p "$O/bench"
log=$O/bench/sip-$kver-$(date +%Y%m%d-%H%M%S).log
echo "# bench/sip/run.sh: kernel $kver, host $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$TOP" describe --always --dirty 2>/dev/null), $(date -u +%FT%TZ)" | tee "$log"
start=$(date +%s)

# --- the host half: the Ziti network in namespace $NS, the phones in $PA and $PB
NS=sipbench-$$
PA=sipbench-pa-$$
PB=sipbench-pb-$$
ZN=$O/bench/sip-net
ADDR=10.99.0.1
lp='' sp='' uas=''
stop_net() {
	local f p n
	set +e
	for p in $lp $sp $uas; do kill "$p" 2>/dev/null; done
	for f in router ctrl; do
		[ -f "$ZN/$f.pid" ] || continue
		p=$(cat "$ZN/$f.pid")
		kill -TERM "$p" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		rm -f "$ZN/$f.pid"
	done
	for n in "$PA" "$PB" "$NS"; do ip netns del "$n" 2>/dev/null; done
	return 0
}
trap stop_net EXIT
trap 'exit 130' INT TERM
for n in "$NS" "$PA" "$PB"; do
	ip netns add "$n"
	ip -n "$n" link set lo up
done
ip -n "$NS" addr add "$ADDR/32" dev lo
ip netns exec "$NS" sysctl -qw net.ipv4.ip_forward=1
# the guest's uplinks: taps sipa, sipb (QEMU opens them by name in its namespace, $NS)
for i in 1 2; do
	t=sip$([ $i = 1 ] && echo a || echo b)
	ip -n "$NS" tuntap add dev "$t" mode tap
	ip -n "$NS" addr add "10.99.$i.1/24" dev "$t"
	ip -n "$NS" link set "$t" up
	# the phones' networks, for the guest's direct baseline only (its gateways drop
	# forwarded packets otherwise)
	ip -n "$NS" route add "10.$i.0.0/24" via "10.99.$i.2" dev "$t" onlink
done
# the phones: taps pa0, pb0 (also in $NS, for QEMU), each bridged to a veth into the
# phone's namespace
for i in 1 2; do
	p=$([ $i = 1 ] && echo "$PA" || echo "$PB") s=$([ $i = 1 ] && echo a || echo b)
	ip -n "$NS" tuntap add dev "p${s}0" mode tap
	ip -n "$NS" link add "br$s" type bridge
	ip -n "$NS" link add "v$s" type veth peer name p0 netns "$p"
	ip -n "$NS" link set "p${s}0" master "br$s"
	ip -n "$NS" link set "v$s" master "br$s"
	for d in "p${s}0" "v$s" "br$s"; do ip -n "$NS" link set "$d" up; done
	ip -n "$p" addr add "10.$i.0.2/24" dev p0
	ip -n "$p" link set p0 up
	ip -n "$p" route add default via "10.$i.0.1"
done
# the packed network has its absolute paths under /tmp/sipovld-zn: unpacked here instead
rm -rf "$ZN"
mkdir -p "$ZN"
tar -C "$ZN" -xzf "$O/daemon-zitinet.tar.gz" --strip-components=2 tmp/sipovld-zn
sed -i "s#/tmp/sipovld-zn#$ZN#g" "$ZN"/qs/*.yaml
ZITI=$(cat "$ZN/ziti-bin")
[ -x "$ZITI" ] || { echo "bench/sip/run.sh: no ziti binary at $ZITI (make tests)" >&2; exit 1; }
setsid ip netns exec "$NS" "$ZITI" controller run "$ZN/qs/ctrl.yaml" >"$ZN/ctrl.log" 2>&1 </dev/null &
echo $! >"$ZN/ctrl.pid"
up=
for _ in $(seq 1 120); do
	ip netns exec "$NS" curl -sk --max-time 2 "https://$ADDR:1280/version" 2>/dev/null | grep -q '"data"' && { up=1; break; }
	sleep 0.5
done
[ -n "$up" ] || { tail -5 "$ZN/ctrl.log" >&2; echo "bench/sip/run.sh: the controller did not come up (see $ZN/ctrl.log)" >&2; exit 1; }
setsid ip netns exec "$NS" "$ZITI" router run "$ZN/qs/r1.yaml" >"$ZN/router.log" 2>&1 </dev/null &
echo $! >"$ZN/router.pid"
echo "# Ziti controller and router on the host (namespace $NS, $ADDR): $ZITI" | tee -a "$log"
export SIPOVL_BENCH_ZN=$ZN
tap() { echo "-netdev tap,id=n$1,ifname=$1,script=no,downscript=no -device virtio-net-pci,netdev=n$1,mac=52:54:00:99:0$2:02"; }
SIPOVL_VM_QEMU_ARGS="${SIPOVL_VM_QEMU_ARGS:-} $(tap sipa 1) $(tap sipb 2) $(tap pa0 3) $(tap pb0 4)"
export SIPOVL_VM_QEMU_ARGS
export SIPOVL_VM_ZITI=none # this network, not the runner's (selftests/vm/zthost.sh)

# the callee: a SIPp UAS on PB for the whole run (the selftest's scenario: SIPp's uas that
# absorbs INVITE retransmissions while it waits for the ACK; see selftests/sipovl/daemon.sh)
{ sipp -sd uas 2>/dev/null || true; } |
	sed 's#^\( *\)<recv request="ACK"#\1<recv request="INVITE" optional="true"/>\n&#' >"$ZN/uas.xml"
ip netns exec "$PB" sipp -sf "$ZN/uas.xml" -i 10.2.0.2 -p 5060 -t u1 -nostdin -max_socket 900 \
	-trace_err -error_file "$ZN/uas.err" >"$ZN/uas.out" 2>&1 &
uas=$!
grep -q '<recv request="INVITE" optional="true"/>' "$ZN/uas.xml" ||
	{ echo "bench/sip/run.sh: no UAS scenario from sipp -sd uas" >&2; exit 1; }
echo "# $(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*') on the host (UAS in $PB, UAC in $PA)" | tee -a "$log"

# The guest's requests (guest.sh host_run): ID.req in the results directory's rpc/,
# "rtp FLOWS WARM SECS DRAIN BASEPORT READY|- [PPS]" or "calls NAME CPS SECONDS"; the output goes
# to ID.out, the exit status to ID.rc. Each runs in the background (the guest samples
# CPU while the media flow).
num() { [[ $1 =~ ^[0-9]+$ ]] && [ "${#1}" -le 6 ]; }
tapdrops() { # frames dropped by the taps towards the guest: pa0 pb0 sipa sipb
	local t
	for t in pa0 pb0 sipa sipb; do
		ip netns exec "$NS" cat "/sys/class/net/$t/statistics/tx_dropped" 2>/dev/null || echo 0
	done | tr '\n' ' '
}
name() { [[ $1 =~ ^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)?$ ]] && [[ $1 != *..* ]]; }
serve_one() { # serve_one RPCDIR VERB ARGS...
	local d=$1 v=$2
	shift 2
	case $v in
	rtp)
		[ $# = 6 ] || [ $# = 7 ] && num "$1" && num "$2" && num "$3" && num "$4" && num "$5" && name "$6" &&
			num "${7:-50}" || { echo "serve: bad rtp request: $*"; return 2; }
		local ready=()
		[ "$6" = - ] || { mkdir -p "$d/$(dirname "$6")"; ready=(--ready "$d/$6"); }
		# with the frames the host's taps dropped on their way into the guest meanwhile
		# (QEMU did not take them in time: the guest's NIC queue was full), appended to
		# sip-rtp's result line
		local d0 d1 out rc=0
		d0=$(tapdrops)
		out=$("$O/bench/sip-rtp" --a-ns "/var/run/netns/$PA" --b-ns "/var/run/netns/$PB" --a 10.1.0.2 --b 10.2.0.2 \
			--a-port "$5" --b-port 7222 --flows "$1" --warm-s "$2" --secs "$3" --drain-s "$4" --pps "${7:-50}" \
			"${ready[@]}" 2>&1) || rc=$?
		d1=$(tapdrops)
		echo "$out" | awk -v d0="$d0" -v d1="$d1" '/^flows=/ {
			split(d0, a); split(d1, b); split("pa0 pb0 sipa sipb", n)
			for (i = 1; i <= 4; i++) $0 = $0 " tapdrop_" n[i] "=" (b[i] - a[i])
		} 1'
		return $rc ;;
	calls)
		[ $# = 3 ] && name "$1" && num "$2" && num "$3" || { echo "serve: bad calls request: $*"; return 2; }
		mkdir -p "$d/$1"
		(cd "$d/$1" && ip netns exec "$PA" timeout $(($3 + 60)) sipp -sn uac 10.2.0.2:5060 -i 10.1.0.2 -t un \
			-r "$2" -m $(($2 * $3)) -l $(($2 * 10)) -nostdin -timeout $(($3 + 20))s -max_socket 900 \
			-trace_stat -stf uac.csv -trace_err -error_file uac.err >uac.out 2>&1) ;;
	*) echo "serve: unknown request $v"; return 2 ;;
	esac
}
serve() {
	local d=$TOP/build/vm/last/rpc f id req
	set +e
	while sleep 0.2; do
		for f in "$d"/*.req; do
			[ -e "$f" ] || continue
			id=${f%.req}
			mv "$f" "$id.run" 2>/dev/null || continue
			read -r -a req <"$id.run"
			(serve_one "$d" "${req[@]}" >"$id.out" 2>&1; echo $? >"$id.rc.tmp"; mv "$id.rc.tmp" "$id.rc") &
		done
	done
}
serve &
sp=$!

# every 2 s: host load average and the CPU time (utime+stime, clock ticks) of the router,
# the controller and QEMU, for summary.py (the guest's RESULT lines carry its window times)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
(
	set +e
	rp=$(cat "$ZN/router.pid") cp=$(cat "$ZN/ctrl.pid")
	while sleep 2; do
		qp=$(ip netns pids "$NS" 2>/dev/null | while read -r p; do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = qemu-system-x86 ] && echo "$p"; done | head -1)
		echo "# host t=$(date +%s) load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /) router_ticks=$(ticks "$rp") ctrl_ticks=$(ticks "$cp") qemu_ticks=$(ticks "${qp:-0}") hz=$(getconf CLK_TCK)"
	done
) >>"$log.load" &
lp=$!
rc=0
ip netns exec "$NS" "$TOP/selftests/vm/run.sh" --kernel "$kernel" --keep --exec "$TOP/bench/sip/guest.sh" 2>&1 | tee -a "$log" || rc=$?
rc=${PIPESTATUS[0]}
stop_net
lp='' sp='' uas=''
cat "$log.load" >>"$log" 2>/dev/null
rm -f "$log.load"
echo "# wall time $(($(date +%s) - start)) s, host load after $(cut -d' ' -f1-3 /proc/loadavg); router and controller logs: $ZN/{router,ctrl}.log" | tee -a "$log"
python3 "$TOP/bench/sip/summary.py" "$log" | tee -a "$log.summary"
cat "$log.summary" >>"$log"
rm -f "$log.summary"
echo "# report kept in $log"
exit "$rc"
