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
# 10.99.2.1 that back the guest's two gateway NICs); the VM runner runs inside that namespace
# too, so nothing touches the host's own network. The Ziti network is the packed one of
# `make tests` (tests/daemon/vmnet.sh prepare), unpacked to $O/bench/sip-net. Needs root.
#
#   bench/sip/run.sh [--kernel 6.1|6.12] [--quick]
#
#   --quick   one round, 2 calls, 5 s window (a smoke test)
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

# --- the host half: the Ziti network in namespace $NS
NS=sipbench-$$
ZN=$O/bench/sip-net
ADDR=10.99.0.1
lp=
stop_net() {
	local f p
	set +e
	[ -z "$lp" ] || kill "$lp" 2>/dev/null
	for f in router ctrl; do
		[ -f "$ZN/$f.pid" ] || continue
		p=$(cat "$ZN/$f.pid")
		kill -TERM "$p" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		rm -f "$ZN/$f.pid"
	done
	ip netns del "$NS" 2>/dev/null
	return 0
}
trap stop_net EXIT
trap 'exit 130' INT TERM
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add "$ADDR/32" dev lo
ip netns exec "$NS" sysctl -qw net.ipv4.ip_forward=1
for s in a b; do
	i=$([ $s = a ] && echo 1 || echo 2)
	ip -n "$NS" tuntap add dev "sip$s" mode tap
	ip -n "$NS" addr add "10.99.$i.1/24" dev "sip$s"
	ip -n "$NS" link set "sip$s" up
	# the other site, for the guest's direct baseline only (its gateways drop forwarded
	# packets otherwise)
	ip -n "$NS" route add "10.$i.0.0/24" via "10.99.$i.2" dev "sip$s" onlink
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
echo "# Ziti controller and router on the host (namespace $NS, $ADDR), $("$ZITI" version 2>/dev/null | head -1)" | tee -a "$log"
export SIPOVL_BENCH_ZN=$ZN
tap() { echo "-netdev tap,id=n$1,ifname=sip$1,script=no,downscript=no -device virtio-net-pci,netdev=n$1,mac=52:54:00:99:0$2:02"; }
SIPOVL_VM_QEMU_ARGS="${SIPOVL_VM_QEMU_ARGS:-} $(tap a 1) $(tap b 2)"
export SIPOVL_VM_QEMU_ARGS

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
lp=
cat "$log.load" >>"$log" 2>/dev/null
rm -f "$log.load"
echo "# wall time $(($(date +%s) - start)) s, host load after $(cut -d' ' -f1-3 /proc/loadavg); router and controller logs: $ZN/{router,ctrl}.log" | tee -a "$log"
python3 "$TOP/bench/sip/summary.py" "$log" | tee -a "$log.summary"
cat "$log.summary" >>"$log"
rm -f "$log.summary"
echo "# report kept in $log"
exit "$rc"
