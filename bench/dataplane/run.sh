#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Data-plane benchmark: sipovl.ko against iptables TPROXY (nft and legacy
# backends) and nft tproxy with a concatenated interval set, side by side in
# one boot of the test VM (TCG). UDP datagrams/s and TCP connections/s steered
# to a local transparent receiver with 1, 1k and 10k intercepts, and the time
# each takes to load its table. Method and results: Documentation/benchmarks.md,
# "Data plane (VM)".
#
#   bench/dataplane/run.sh [--kernel 6.1|6.12] [--quick] [--load] [--fib] [--old REV] [--perf]
#
#   --quick   one run of 1 s per point, sizes 1 and 1000 (a smoke test)
#   --load    only the load times of sipovlctl apply (10k and 100k), 7 runs
#             each unless SIPOVL_BENCH_LOAD_RUNS says otherwise: the file over
#             the guest's 9p root and copied to the guest's tmpfs
#             (SIPOVL_BENCH_LOAD_TMPFS=0: only 9p), alternating; with
#             SIPOVL_BENCH_LOAD_SERIAL=1 also SIPOVLCTL_SERIAL=1 at 100k
#   --fib     only the anti-spoof FIB pairs and their references (sipovl with 1
#             intercept, the baseline; no load times). Every full run has them:
#             SIPOVL_BENCH_FIB routes (default 100000; 0: none)
#   --old REV with --load: also sipovlctl and sipovl.ko built from git
#             revision REV (in $O/bench/old-REV), alternating with this
#             checkout's in the same boot (old and new side by side)
#   --perf    also profile sipovl and nft (perf, cpu-clock) after measuring
#
# The guest half is bench/dataplane/guest.sh; its SIPOVL_BENCH_* settings may
# be set here (see there). The report is printed and kept in
# build/bench/dataplane-<kernel>-<date>.log. Tables: bench/dataplane/gentables.py
# (SIPOVL_BENCH_SEED, default 1). O= must not be under /tmp, /run or /var (the
# guest has its own tmpfs there).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
O=${O:-$TOP/build}
kernel=6.1 old=
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
	--quick)
		export SIPOVL_BENCH_RUNS=${SIPOVL_BENCH_RUNS:-1} SIPOVL_BENCH_SECONDS=${SIPOVL_BENCH_SECONDS:-1}
		export SIPOVL_BENCH_SIZES=${SIPOVL_BENCH_SIZES:-1 1000} SIPOVL_BENCH_LOAD_RUNS=${SIPOVL_BENCH_LOAD_RUNS:-1}
		shift ;;
	--load)
		export SIPOVL_BENCH_LOAD_ONLY=1 SIPOVL_BENCH_SIZES=1 SIPOVL_BENCH_LOAD_RUNS=${SIPOVL_BENCH_LOAD_RUNS:-7} \
			SIPOVL_BENCH_LOAD_SERIAL=${SIPOVL_BENCH_LOAD_SERIAL:-0} SIPOVL_BENCH_LOAD_TMPFS=${SIPOVL_BENCH_LOAD_TMPFS:-1}
		shift ;;
	--fib)
		export SIPOVL_BENCH_DATAPLANES=sipovl SIPOVL_BENCH_SIZES=1 SIPOVL_BENCH_SKIP_LOAD=1
		shift ;;
	--old) old=${2:?--old needs a git revision}; shift 2 ;;
	--perf) export SIPOVL_BENCH_PERF=1; shift ;;
	-h | --help) sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) echo "bench/dataplane/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
case $O in
/tmp/* | /run/* | /var/*) echo "bench/dataplane/run.sh: O=$O is not visible in the guest" >&2; exit 2 ;;
esac

make -s -C "$TOP" O="$O" dataplane-bench
kver=$("$TOP/scripts/kver.sh" "$kernel")
if [ -n "$old" ]; then
	# The old build: sipovlctl and sipovl.ko of revision $old, from a clean
	# export of that revision (nothing of the work tree).
	rev=$(git -C "$TOP" rev-parse --short "$old^{commit}") || exit 2
	od=$O/bench/old-$rev
	rm -rf "$od/src"
	mkdir -p "$od/src"
	git -C "$TOP" archive "$rev" | tar -x -C "$od/src"
	make -s -C "$od/src" O="$od" "$od/sipovlctl" >/dev/null
	# (kmod-vm builds into the source tree's build/: O= would reach Kbuild)
	make -s -C "$od/src" kmod-vm KVER="$kver" >/dev/null
	cp "$od/src/build/kmod-$kver/sipovl.ko" "$od/sipovl.ko"
	export SIPOVL_BENCH_LOAD_OLD=$od
	echo "# old build: $old = $rev in $od"
fi
tables=$O/bench/dataplane-tables
python3 "$TOP/bench/dataplane/gentables.py" "$tables" --seed "${SIPOVL_BENCH_SEED:-1}" \
	--sizes "$(tr ' ' , <<<"${SIPOVL_BENCH_SIZES:-1 1000 10000}")" --fib "${SIPOVL_BENCH_FIB:-100000}"

export SIPOVL_BENCH_TABLES=$tables SIPOVL_BENCH_BIN=$O
export SIPOVL_VM_MEM=${SIPOVL_VM_MEM:-2048}
# The runner gives an --exec command 600 s; the guest reads VM_EXEC_TIMEOUT from
# its environment, which the kernel fills from unknown command-line words.
limit=${SIPOVL_BENCH_LIMIT:-2400}
export SIPOVL_VM_APPEND="${SIPOVL_VM_APPEND:-} VM_EXEC_TIMEOUT=$limit"

log=$O/bench/dataplane-$kver-$(date +%Y%m%d-%H%M%S).log
echo "# bench/dataplane/run.sh: kernel $kver, host $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$TOP" describe --always --dirty 2>/dev/null)" | tee "$log"
start=$(date +%s)
rc=0
"$TOP/selftests/vm/run.sh" --kernel "$kernel" --exec "$TOP/bench/dataplane/guest.sh" 2>&1 | tee -a "$log" || rc=$?
rc=${PIPESTATUS[0]}
echo "# wall time $(($(date +%s) - start)) s, host load after $(cut -d' ' -f1-3 /proc/loadavg); report kept in $log" | tee -a "$log"
exit "$rc"
