#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# SIP benchmark: concurrent SIP calls with RTP through sipovld (+ sipovl.ko) against the
# official Go tunneler `ziti tunnel tproxy` on the intercept side, in one boot of the test VM
# (TCG), on one Ziti network, the two run alternately. RTP loss and added one-way latency
# p50/p99 with N calls' media flowing, SIPp calls/s during it, and the tunneler's memory per
# flow. Method and results: Documentation/benchmarks.md, "SIP calls (VM)".
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

kver=$("$TOP/scripts/kver.sh" "$kernel")
mkdir -p "$O/bench"
log=$O/bench/sip-$kver-$(date +%Y%m%d-%H%M%S).log
echo "# bench/sip/run.sh: kernel $kver, host $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$TOP" describe --always --dirty 2>/dev/null), $(date -u +%FT%TZ)" | tee "$log"
start=$(date +%s)
# host load average every 30 s while the VM runs (the figures depend on it)
(while sleep 30; do echo "# host load $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)"; done) >>"$log.load" &
lp=$!
trap 'kill $lp 2>/dev/null' EXIT
rc=0
"$TOP/selftests/vm/run.sh" --kernel "$kernel" --keep --exec "$TOP/bench/sip/guest.sh" 2>&1 | tee -a "$log" || rc=$?
rc=${PIPESTATUS[0]}
kill $lp 2>/dev/null
cat "$log.load" >>"$log" 2>/dev/null
rm -f "$log.load"
echo "# wall time $(($(date +%s) - start)) s, host load after $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
python3 "$TOP/bench/sip/summary.py" "$log" | tee -a "$log.summary"
cat "$log.summary" >>"$log"
rm -f "$log.summary"
echo "# report kept in $log"
exit "$rc"
