#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Matcher benchmark: instructions per mt_lookup (callgrind), compile wall time,
# table size and native lookup time for random tables of 1, 100, 10k and 100k
# intercepts, IPv4 and IPv6.
#
#   bench/matcher/run.sh [sizes...]      default sizes: 1 100 10000 100000
#
# Environment: LOOKUPS (default 200000), MIX (percent of packets aimed at a
# rule, the rest random; default 50), SEED (default 1).
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-$TOP/build}
BIN=$O/matcher/bench
LOOKUPS=${LOOKUPS:-200000}
MIX=${MIX:-50}
SEED=${SEED:-1}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1 100 10000 100000)

make -s -C "$TOP" O="$O" matcher-bench
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "# matcher benchmark: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $LOOKUPS lookups, ${MIX}% aimed at a rule, seed $SEED; instructions: valgrind --tool=callgrind --toggle-collect=mt_lookup"
printf '%-4s %8s %12s %8s %8s %12s %12s %10s %8s\n' fam rules instr/lookup x_vs_1 hits% compile_ms compile_1st memory_KiB ns/lookup
for fam in 4 6; do
	f=
	[ $fam = 6 ] && f=-6
	base=
	for n in "${sizes[@]}"; do
		valgrind --tool=callgrind --instr-atstart=no --toggle-collect=mt_lookup \
			--callgrind-out-file="$tmp/cg.out" \
			"$BIN" $f -n "$n" -l "$LOOKUPS" -m "$MIX" -s "$SEED" >/dev/null 2>"$tmp/vg.err" ||
			{ cat "$tmp/vg.err" >&2; exit 1; }
		ir=$(awk '/^totals:/ { print $2 }' "$tmp/cg.out")
		ipl=$(awk -v ir="$ir" -v l="$LOOKUPS" 'BEGIN { printf "%.1f", ir / l }')
		[ -n "$base" ] || base=$ipl
		ratio=$(awk -v a="$ipl" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
		line=$("$BIN" $f -n "$n" -l "$LOOKUPS" -m "$MIX" -s "$SEED" -r 5)
		get() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
		printf '%-4s %8s %12s %8s %8s %12s %12s %10s %8s\n' "v$fam" "$n" "$ipl" "$ratio" \
			"$(awk -v h="$(get hits)" -v l="$LOOKUPS" 'BEGIN { printf "%.0f", 100 * h / l }')" \
			"$(get compile_best_ms)" "$(get compile_first_ms)" \
			"$(awk -v m="$(get memory)" 'BEGIN { printf "%.1f", m / 1024 }')" \
			"$(get lookup_ns)"
	done
done
