#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: every benchmark, one after the other (they would disturb each
# other's figures if run together), each printing its own report:
#
#   matcher    bench/matcher/run.sh    callgrind instructions per lookup/compile (host)
#   dataplane  bench/dataplane/run.sh  sipovl.ko vs iptables/nft TPROXY, load times (VM)
#   ziti       bench/ziti/run.sh       our edge client vs the Go tunneler (host, Ziti network)
#   hostpps    bench/ziti/hostpps.sh   sipovld's hosting CPU per datagram vs a minimal relay's (host)
#   sip        bench/sip/run.sh        SIP calls + RTP: sipovld vs `ziti tunnel tproxy` (VM)
#   rtpq       bench/rtpq/run.sh       callgrind instructions per RTP statistics update (host)
#
#   scripts/bench.sh [NAME...]         default: all of them, in that order
#
# Each report is also kept under build/bench/ (see each script's header).
# Methods and recorded results: Documentation/benchmarks.md. The exit status is
# non-zero when any benchmark failed to run; the figures themselves are not
# judged here (targets are discussed in Documentation/benchmarks.md).
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$TOP" || exit 1

all=(matcher dataplane ziti hostpps sip rtpq)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")

failed=()
for b in "${names[@]}"; do
	s=bench/$b/run.sh
	[ "$b" != hostpps ] || s=bench/ziti/hostpps.sh
	if [ ! -x "$s" ]; then
		echo "bench: unknown benchmark '$b' (have: ${all[*]})" >&2
		failed+=("$b")
		continue
	fi
	echo "=== bench $b ($s), $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
	t0=$(date +%s)
	if "$s"; then
		echo "=== bench $b: done in $(($(date +%s) - t0)) s"
	else
		rc=$?
		echo "=== bench $b: FAILED (exit $rc) after $(($(date +%s) - t0)) s"
		failed+=("$b")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "bench: failed: ${failed[*]}" >&2
	exit 1
fi
