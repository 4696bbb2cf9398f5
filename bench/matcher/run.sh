#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Matcher benchmark: instructions per mt_lookup and per mt_compile (callgrind),
# compile time, table size and native lookup time for tables of 1, 100, 10k
# and 100k intercepts, IPv4 and IPv6: random tables (generator:
# bench/matcher/bench.c) and adversarial shapes (tests/matcher/shapes.h).
#
#   bench/matcher/run.sh [sizes...]      default sizes: 1 100 10000 100000
#
# Environment: LOOKUPS (default 200000), MIX (percent of packets aimed at a
# rule in the random tables, the rest random; default 50), SEED (default 1),
# SHAPES (default "random src srcnest nest ports overlap dense"), FAMS
# (default "4 6").
#
# Columns: shape; instr/lookup = callgrind Ir inside mt_lookup / lookups; x_vs_1 =
# ratio to the 1-intercept table of the same shape; hit% = lookups that matched; compile_Minstr =
# callgrind Ir inside mt_compile; compile_ms = best of 5 (wall), compile_cpu_ms
# = best of 5 (process CPU time); memory = mt_memory(); cpu_ns/lookup = native
# CPU time per lookup over 5 passes of the packets (cache effects included).
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-$TOP/build}
BIN=$O/matcher/bench
LOOKUPS=${LOOKUPS:-200000}
MIX=${MIX:-50}
SEED=${SEED:-1}
SHAPES=${SHAPES:-random src srcnest nest ports overlap dense}
FAMS=${FAMS:-4 6}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1 100 10000 100000)

make -s -C "$TOP" O="$O" matcher-bench
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cg() {
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$@" \
		>/dev/null 2>"$tmp/vg.err" || { cat "$tmp/vg.err" >&2; exit 1; }
	awk '/^totals:/ { print $2 }' "$tmp/cg.out"
}

echo "# matcher benchmark: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $LOOKUPS lookups, random tables: ${MIX}% aimed at a rule; shapes: half hits, half near misses; seed $SEED"
printf '%-8s %-4s %7s %12s %7s %5s %14s %11s %14s %11s %10s\n' shape fam rules instr/lookup x_vs_1 hit% \
	compile_Minstr compile_ms compile_cpu_ms memory_KiB cpu_ns/lookup
for shape in $SHAPES; do
	t=
	[ "$shape" = random ] || t="-t $shape"
	for fam in $FAMS; do
		f=
		[ "$fam" = 6 ] && f=-6
		base=
		for n in "${sizes[@]}"; do
			# shellcheck disable=SC2086
			if ! line=$("$BIN" $f $t -n "$n" -l "$LOOKUPS" -m "$MIX" -s "$SEED" -r 5 2>"$tmp/err"); then
				printf '%-8s %-4s %7s %s\n' "$shape" "v$fam" "$n" "compile refused: $(cat "$tmp/err")"
				continue
			fi
			# shellcheck disable=SC2086
			ir=$(cg --instr-atstart=no --toggle-collect=mt_lookup \
				"$BIN" $f $t -n "$n" -l "$LOOKUPS" -m "$MIX" -s "$SEED")
			# shellcheck disable=SC2086
			cir=$(cg --toggle-collect=mt_compile "$BIN" $f $t -n "$n" -l 0 -s "$SEED")
			ipl=$(awk -v ir="$ir" -v l="$LOOKUPS" 'BEGIN { printf "%.1f", ir / l }')
			[ -n "$base" ] || base=$ipl
			get() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
			printf '%-8s %-4s %7s %12s %7s %5s %14s %11s %14s %11s %10s\n' "$shape" "v$fam" "$n" "$ipl" \
				"$(awk -v a="$ipl" -v b="$base" 'BEGIN { printf "%.2f", a / b }')" \
				"$(awk -v h="$(get hits)" -v l="$LOOKUPS" 'BEGIN { printf "%.0f", 100 * h / l }')" \
				"$(awk -v c="$cir" 'BEGIN { printf "%.1f", c / 1e6 }')" \
				"$(get compile_best_ms)" "$(get compile_cpu_ms)" \
				"$(awk -v m="$(get memory)" 'BEGIN { printf "%.1f", m / 1024 }')" \
				"$(get lookup_cpu_ns)"
		done
	done
done
