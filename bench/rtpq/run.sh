#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# RTP statistics benchmark: instructions per rtpq_update (callgrind, exact) and native CPU ns
# per update, for an RTP stream (1% loss, 0.5% reordered, 0-10 ms jitter), the same with an
# RTCP RR every 250th datagram, and a non-RTP (SIP text) flow.
#
#   bench/rtpq/run.sh            environment: PACKETS (default 200000), SEED (default 1)
#
# The program runs the updates 3 times (best CPU time kept): instructions / update =
# callgrind Ir inside rtpq_update / (3 x datagrams). Method and figures:
# Documentation/benchmarks.md, "RTP statistics".
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-$TOP/build}
BIN=$O/bench/rtpq
PACKETS=${PACKETS:-200000}
SEED=${SEED:-1}

make -s -C "$TOP" O="$O" rtpq-bench
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "# rtpq benchmark: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %10s %14s %12s  %s\n' mode updates instr/update cpu_ns/upd figures
for mode in rtp rtcp other; do
	line=$("$BIN" -m "$mode" -n "$PACKETS" -s "$SEED")
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" --toggle-collect=rtpq_update \
		"$BIN" -m "$mode" -n "$PACKETS" -s "$SEED" >/dev/null 2>"$tmp/vg.err" || { cat "$tmp/vg.err" >&2; exit 1; }
	ir=$(awk '/^totals:/ { print $2 }' "$tmp/cg.out")
	upd=$(echo "$line" | sed -n 's/.*updates=\([0-9]*\).*/\1/p')
	ns=$(echo "$line" | sed -n 's/.*cpu_ns=\([0-9.]*\).*/\1/p')
	printf '%-6s %10s %14s %12s  %s\n' "$mode" "$upd" "$(awk -v ir="$ir" -v u="$upd" 'BEGIN { printf "%.1f", ir / u }')" \
		"$ns" "$(echo "$line" | cut -d' ' -f3-)"
done
