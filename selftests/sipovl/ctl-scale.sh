#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sipovlctl at scale against the real kernel module: concurrent applies leave
# one table or the other, dumps during changes are consistent (interrupted
# dumps restarted), and 100k intercepts apply, show, round-trip and print as
# JSON correctly (timings as TAP comments; `make bench` measures them).
#
# Runs in the VM (selftests/vm/run.sh selftests/sipovl/ctl-scale.sh). Uses
# $SIPOVL_CTL if set (e.g. build/san/sipovlctl), else build/sipovlctl. SIPOVL_CTL_SCALE=N (the runner passes it
# to the guest; CTL_SCALE outside it) changes the size of the big table (default 100000; make
# check runs 100000 on 6.12 and 20000 on 6.1: scripts/check.sh).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

require_root
in_vm || skip_all "runs only in the test VM (selftests/vm/run.sh)"
require_cmd jq python3 setpriv ip awk

CTL=${SIPOVL_CTL:-${SIPOVLCTL:-$SIPOVL_TOP/build/sipovlctl}}
[ -x "$CTL" ] || bail_out "no sipovlctl at $CTL (make)"
SCALE=${SIPOVL_CTL_SCALE:-${CTL_SCALE:-100000}}
[[ $SCALE =~ ^[1-9][0-9]*$ ]] && [ "$SCALE" -ge 1000 ] || bail_out "SIPOVL_CTL_SCALE must be a number of at least 1000, not '$SCALE'"

tmp=$(mktemp -d)
on_exit rm -rf "$tmp"

[ -d /sys/module/sipovl ] || load_module
setup_ns NS

# ctl ARGS...: sipovlctl in $NS.
ctl() { "$CTL" -n "$NS" "$@"; }

# run ARGS...: sets rc, out, err.
run() {
	rc=0
	ctl "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# expect_out DESC WANT ARGS...: exit 0, stdout exactly WANT, stderr empty.
expect_out() {
	local desc=$1 want=$2
	shift 2
	run "$@"
	if [ $rc = 0 ] && [ "$out" = "$want" ] && [ -z "$err" ]; then
		ok "$desc"
	else
		not_ok "$desc" "args: $*" "exit $rc, stderr: $err" "stdout:" "$out" "want:" "$want"
	fi
}

# same DESC FILE1 FILE2: byte-identical files.
same() {
	if cmp -s "$2" "$3"; then ok "$1"; else not_ok "$1" "$(diff "$2" "$3" | head -10)"; fi
}

# ---- concurrent applies ------------------------------------------------------------------------------------------------
# Two tables with disjoint names and their own transparent sources; every
# observed table is exactly one of them, and after each round the sources are
# those of the winning table (apply sends them with the commit).
{
	echo "sources 192.0.2.0/24"
	awk 'BEGIN { for (i = 1; i <= 1000; i++) printf "intercept a-%d id %d proto udp addr 10.%d.%d.0/24 port 5060\n", i, i, int(i / 256), i % 256 }'
} >"$tmp/ta.conf"
{
	echo "sources 198.51.100.0/24"
	awk 'BEGIN { for (i = 1; i <= 1000; i++) printf "intercept b-%d id %d proto tcp addr 172.16.%d.%d/32 port 443\n", i, i + 5000, int(i / 256), i % 256 }'
} >"$tmp/tb.conf"
ctl apply "$tmp/ta.conf" && ctl intercept show --config >"$tmp/ta.full" && grep -v '^sources' "$tmp/ta.full" >"$tmp/ta.canon"
ctl apply "$tmp/tb.conf" && ctl intercept show --config >"$tmp/tb.full" && grep -v '^sources' "$tmp/tb.full" >"$tmp/tb.canon"
# A reader dumps the table during the race: each dump is one whole table.
(
	i=0
	while [ ! -e "$tmp/race.done" ] && [ $i -lt 2000 ]; do
		SIPOVLCTL_TIMING=1 ctl intercept show --config 2>>"$tmp/dump.timing" | grep -v '^sources' >"$tmp/dump"
		if ! cmp -s "$tmp/dump" "$tmp/ta.canon" && ! cmp -s "$tmp/dump" "$tmp/tb.canon"; then
			cp "$tmp/dump" "$tmp/dump.bad"
		fi
		i=$((i + 1))
	done
) &
reader=$!
mixed=0 fails=0 seen_a=0 seen_b=0
for _ in $(seq 1 5); do
	ctl apply "$tmp/ta.conf" 2>>"$tmp/race.err" & p1=$!
	ctl apply "$tmp/tb.conf" 2>>"$tmp/race.err" & p2=$!
	wait $p1 || fails=$((fails + 1))
	wait $p2 || fails=$((fails + 1))
	ctl intercept show --config >"$tmp/after"
	if cmp -s "$tmp/after" "$tmp/ta.full"; then
		seen_a=$((seen_a + 1))
	elif cmp -s "$tmp/after" "$tmp/tb.full"; then
		seen_b=$((seen_b + 1))
	else
		mixed=$((mixed + 1))
	fi
done
touch "$tmp/race.done"
wait $reader
diag "concurrent apply: 5 rounds, table A won $seen_a, table B won $seen_b"
diag "dumps during the race: $(grep -c 'timing: dump' "$tmp/dump.timing"), restarted after NLM_F_DUMP_INTR: $(awk '/timing: dump/ { r += $(NF - 1) } END { print r + 0 }' "$tmp/dump.timing") times"
grep -v 'timing: dump' "$tmp/dump.timing" >"$tmp/dump.errors"
if [ $fails = 0 ] && [ $mixed = 0 ]; then
	ok "concurrent applies (2 x 1000 intercepts and sources, 5 rounds): one table with its sources or the other, never a mix"
else
	not_ok "concurrent applies: one table with its sources or the other" "failed applies: $fails, mixed tables: $mixed" \
		"$(head -3 "$tmp/race.err" 2>/dev/null)"
fi
if [ ! -e "$tmp/dump.bad" ] && [ ! -s "$tmp/dump.errors" ]; then
	ok "dumps during concurrent applies: each is one whole table"
else
	not_ok "dumps during concurrent applies: each is one whole table" \
		"$(head -3 "$tmp/dump.errors")" "$(wc -l <"$tmp/dump.bad" 2>&1) lines: $(head -c 300 "$tmp/dump.bad" 2>&1)"
fi

# ---- scale -----------------------------------------------------------------------------------------------------------------
awk -v n="$SCALE" 'BEGIN { for (i = 0; i < n; i++)
	printf "intercept svc-%d id %d proto udp addr 10.%d.%d.0/24,fd00:%x:%x::/64 port %d,%d-%d\n",
		i, i + 1, int(i / 256) % 256, i % 256, int(i / 65536), i % 65536, 1000 + i % 50000, 60000, 60000 + i % 5000 }' >"$tmp/big.conf"
ctl intercept flush
t0=$(date +%s%N)
SIPOVLCTL_TIMING=1 run apply "$tmp/big.conf"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
diag "apply of $SCALE intercepts into an empty table: $ms ms (VM; target < 2000 ms, measured by make bench)"
diag "${err#sipovlctl: }"
if [ $rc = 0 ] && [[ $err == "sipovlctl: timing: $SCALE intercepts: parse "*" ms, table add "*" ms, commit "*" ms" ]]; then
	ok "apply of $SCALE intercepts ($ms ms)"
else
	not_ok "apply of $SCALE intercepts" "exit $rc: $err"
fi
# Show the big table while another process keeps changing it: the kernel flags
# the dump interrupted (NLM_F_DUMP_INTR) and sipovlctl restarts it. The output
# is one consistent table, with or without the temporary intercept 900001.
SIPOVLCTL_TIMING=1 ctl intercept show >"$tmp/big.race" 2>"$tmp/big.race.err" &
dumper=$!
changes=0
while kill -0 $dumper 2>/dev/null && [ $changes -lt 6 ]; do
	ctl intercept add tmp-race id 900001 proto udp addr 192.0.2.0/24 port 9 && ctl intercept del 900001
	changes=$((changes + 1))
done
wait $dumper; rc=$?
grep -v '^900001: ' "$tmp/big.race" >"$tmp/big.show"
restarts=$(sed -n 's/.*timing: dump of [0-9]* intercepts: .* ms, \([0-9]*\) restarts$/\1/p' "$tmp/big.race.err")
diag "dump of $SCALE intercepts during $changes add/del pairs: restarted ${restarts:-?} times"
lines=$(wc -l <"$tmp/big.show")
mid=$((SCALE / 2))
want_first="1: svc-0 proto udp addr 10.0.0.0/24,fd00::/64 port 1000,60000 policy drop"
want_mid=$(python3 -c '
import ipaddress, sys
i = int(sys.argv[1])
v6 = ipaddress.IPv6Network(((0xfd00 << 112) | ((i >> 16) << 96) | ((i & 0xffff) << 80), 64))
hi = 60000 + i % 5000
r = "60000" if hi == 60000 else "60000-%d" % hi
print("%d: svc-%d proto udp addr 10.%d.%d.0/24,%s port %d,%s policy drop" %
      (i + 1, i, (i // 256) % 256, i % 256, v6, 1000 + i % 50000, r))' "$mid")
got_mid=$(sed -n "$((mid + 1))p" "$tmp/big.show")
if [ $rc = 0 ] && [ "$lines" = "$SCALE" ] && [ "$(head -1 "$tmp/big.show")" = "$want_first" ] &&
	[ "$got_mid" = "$want_mid" ] && [ "$(tail -1 "$tmp/big.show" | cut -d: -f1)" = "$SCALE" ] &&
	[ "$(cut -d: -f1 "$tmp/big.show" | sort -n -c 2>&1)" = "" ] &&
	[ "$(grep -vc '^sipovlctl: timing: dump' "$tmp/big.race.err")" = 0 ]; then
	ok "show of $SCALE intercepts during changes: count, order and spot checks"
else
	not_ok "show of $SCALE intercepts during changes" "exit $rc, $lines lines: $(head -3 "$tmp/big.race.err")" \
		"first: $(head -1 "$tmp/big.show")" "mid:   $got_mid" "want:  $want_mid"
fi
if [ "${restarts:-0}" -gt 0 ]; then
	ok "interrupted dump restarted ($restarts times)"
else
	skip "interrupted dump restarted" "no change landed inside the dump this run"
fi
t0=$(date +%s%N)
ctl intercept show --config >"$tmp/big.canon1"
t1=$(date +%s%N)
diag "show --config of $SCALE intercepts: $(((t1 - t0) / 1000000)) ms"
t0=$(date +%s%N)
ctl apply "$tmp/big.canon1"; rc=$?
t1=$(date +%s%N)
diag "apply of $SCALE intercepts replacing $SCALE: $(((t1 - t0) / 1000000)) ms"
[ $rc = 0 ] && ok "re-apply of $SCALE intercepts" || not_ok "re-apply of $SCALE intercepts" "exit $rc"
ctl intercept show --config >"$tmp/big.canon2"
same "$SCALE intercepts: show --config round trip byte-identical" "$tmp/big.canon1" "$tmp/big.canon2"
run -j intercept show
if [ $rc = 0 ] && [ "$(jq -r "length, .[$mid].name" <<<"$out" | tr '\n' ' ')" = "$SCALE svc-$mid " ]; then
	ok "show -j of $SCALE intercepts parsed by jq"
else
	not_ok "show -j of $SCALE intercepts parsed by jq" "exit $rc: ${err:0:200}"
fi
unset out
expect_out "flush of $SCALE intercepts" "" intercept flush
expect_out "empty after flush" "" intercept show

done_testing
