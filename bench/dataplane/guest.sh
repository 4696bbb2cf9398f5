#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest half of the data-plane benchmark (bench/dataplane/run.sh boots the VM
# and runs this inside it, once). Never run it on the host.
#
# For every data plane and table size a pair of namespaces:
#
#   cli 10.1.0.2 --veth-- 10.1.0.1 gw (dummy0 10.2.0.1/24; dp-sink on :9999)
#
# cli sends to 10.2.0.77 (UDP :5060, TCP :5061), which gw's table steers to its
# transparent sink. One more pair is the baseline: 10.2.0.77 is local to its gw
# and a plain socket receives (no table, no steering). The tables are loaded
# once; then one dp-load process alternates between all pairs (the order
# rotated every run, so slow drifts of the host hit all alike) and the summary
# reports medians, and ratios as medians of per-run ratios.
#
# Settings (environment, passed through by the VM runner):
#   SIPOVL_BENCH_TABLES      directory of bench/dataplane/gentables.py output
#   SIPOVL_BENCH_BIN         build directory (dp-sink, dp-load, sipovlctl)
#   SIPOVL_BENCH_RUNS        runs per measurement (7)
#   SIPOVL_BENCH_SECONDS     seconds of traffic per measurement (1)
#   SIPOVL_BENCH_SIZES       table sizes ("1 1000 10000")
#   SIPOVL_BENCH_DATAPLANES  ("sipovl nft iptables-nft iptables-legacy")
#   SIPOVL_BENCH_PROTOS      ("udp tcp")
#   SIPOVL_BENCH_PARALLEL    TCP connects in flight (16)
#   SIPOVL_BENCH_LOAD_RUNS   runs of each load-time measurement (3)
#   SIPOVL_BENCH_NFT_CAP     seconds nft -f may take before it is abandoned (600)
#   SIPOVL_BENCH_PERF        1: profile sipovl and nft at the largest size
#                            with perf after the measurements
#   SIPOVL_BENCH_LOAD_ONLY   1: only sipovl's load times (and, with
#                            SIPOVL_BENCH_PERF, a profile of apply 100k)
#   SIPOVL_BENCH_FIB         routes of the large FIB (100000; 0: no FIB pairs).
#                            The anti-spoof lookups of a new flow (the local-
#                            source check, and the reverse-path lookup with
#                            rp_filter 1) against the gateway's FIB: 1-intercept
#                            sipovl pairs with rp_filter 1 (sipovl+rpf), with
#                            the FIB's routes (sipovl+fib), with both
#                            (sipovl+fib+rpf), and the baseline with the routes
#                            (local+fib), measured in the same rotation as
#                            sipovl/1 and local/0 (small FIB, rp_filter 0);
#                            needs $SIPOVL_BENCH_TABLES/fib-N.batch
#   SIPOVL_BENCH_SKIP_LOAD   1: no load-time measurements
source "$SIPOVL_TOP/selftests/lib.sh"
require_root
in_vm || { echo "guest.sh: run me through bench/dataplane/run.sh" >&2; exit 2; }

BIN=${SIPOVL_BENCH_BIN:-$SIPOVL_TOP/build}
TAB=${SIPOVL_BENCH_TABLES:?SIPOVL_BENCH_TABLES is not set}
RUNS=${SIPOVL_BENCH_RUNS:-7}
SECS=${SIPOVL_BENCH_SECONDS:-1}
read -r -a SIZES <<<"${SIPOVL_BENCH_SIZES:-1 1000 10000}"
read -r -a DPS <<<"${SIPOVL_BENCH_DATAPLANES:-sipovl nft iptables-nft iptables-legacy}"
read -r -a PROTOS <<<"${SIPOVL_BENCH_PROTOS:-udp tcp}"
PAR=${SIPOVL_BENCH_PARALLEL:-16}
LOAD_RUNS=${SIPOVL_BENCH_LOAD_RUNS:-3}
NFT_CAP=${SIPOVL_BENCH_NFT_CAP:-600}
CTL=$BIN/sipovlctl
SINK=$BIN/bench/dp-sink
LOAD=$BIN/bench/dp-load
for f in "$CTL" "$SINK" "$LOAD"; do
	[ -x "$f" ] || { echo "guest.sh: missing $f (make dataplane-bench)" >&2; exit 1; }
done
DST_UDP=10.2.0.77:5060
DST_TCP=10.2.0.77:5061
PORT=9999

TMP=$(mktemp -d)
on_exit rm -rf "$TMP"
RAW=$TMP/raw
: >"$RAW"

say() { printf '%s\n' "$*"; }
ms_now() { date +%s%3N; }
t_start=$(ms_now)
elapsed() { echo $((($(ms_now) - t_start) / 1000)); }

# ---- what we run on ----------------------------------------------------------
say "## data-plane benchmark"
say "kernel: $(uname -r) ($(uname -v))"
say "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) vCPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
say "accel: $(grep -qw hypervisor /proc/cpuinfo && echo 'hypervisor flag set;') TCG unless SIPOVL_VM_KVM=1 on the host"
say "tools: $(nft --version), $(iptables-nft --version), $(iptables-legacy --version)"
say "runs: $RUNS x ${SECS}s per point; sizes: ${SIZES[*]}; data planes: ${DPS[*]}; TCP connects in flight: $PAR"

load_module
modprobe -q veth || bail_out "no veth module"
modprobe -q dummy || bail_out "no dummy module"
for m in xt_TPROXY nft_tproxy iptable_mangle nf_tables nft_compat xt_mark; do
	modprobe -q "$m" || say "warning: modprobe $m failed"
done

# ---- load times --------------------------------------------------------------
# time_cmd NS CMD...: run CMD in namespace NS; prints CMD's wall milliseconds
# (measured inside the namespace, so without ip-netns-exec's own setup; CMD's
# output goes to fd 3). Returns CMD's status.
time_cmd() {
	local ns=$1
	shift
	# shellcheck disable=SC2016
	ip netns exec "$ns" bash -c 's=$EPOCHREALTIME; "$@" >&3 2>&1; rc=$?; e=$EPOCHREALTIME
		echo $(( (${e/./} - ${s/./}) / 1000 )); exit $rc' time_cmd "$@"
}
# time_here CMD...: the same without a namespace.
time_here() {
	# shellcheck disable=SC2016
	bash -c 's=$EPOCHREALTIME; "$@" >&3 2>&1; rc=$?; e=$EPOCHREALTIME
		echo $(( (${e/./} - ${s/./}) / 1000 )); exit $rc' time_here "$@"
}
exec 3>>"$TMP/load.log"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

say ""
say "## load times (each into an empty table in a fresh namespace; wall ms)"
[ "${SIPOVL_BENCH_SKIP_LOAD:-0}" != 1 ] || say "(skipped: SIPOVL_BENCH_SKIP_LOAD=1)"
declare -A LOADMS=() LOADRANGE=()
# Variants of sipovlctl apply measured in every run, in an order rotated from
# run to run so that slow drifts of the host hit all alike:
#   9p      the file over the guest's 9p root (as every figure before)
#   tmpfs   the file copied to the guest's own tmpfs first (a gateway reads
#           its configuration from local disk), SIPOVL_BENCH_LOAD_TMPFS=1
#   serial  SIPOVLCTL_SERIAL=1 (no streaming; 100k only), SIPOVL_BENCH_LOAD_SERIAL=1
#   old-*   the same with the sipovlctl (and sipovl.ko, when there is one) in
#           SIPOVL_BENCH_LOAD_OLD, a build of an older commit: old and new side
#           by side in one boot (the module is swapped with rmmod/insmod
#           before each run that needs the other one)
# Every run also times /bin/true and `sipovlctl --version` (process start).
OLD=${SIPOVL_BENCH_LOAD_OLD:-}
if [ -n "$OLD" ] && [ ! -x "$OLD/sipovlctl" ]; then
	say "warning: no $OLD/sipovlctl: no old/new comparison"
	OLD=
fi
LOCAL=$TMP/local
mkdir -p "$LOCAL"
cur_ko=new
use_ko() {
	local want=$1 ko=$SIPOVL_KO
	[ "$want" != "$cur_ko" ] || return 0
	[ "$want" = new ] || ko=$OLD/sipovl.ko
	if [ "$want" = new ] || [ -f "$OLD/sipovl.ko" ]; then
		rmmod sipovl && insmod "$ko" || bail_out "cannot switch sipovl.ko to $want"
	fi
	cur_ko=$want
}
variants=(9p)
[ "${SIPOVL_BENCH_LOAD_TMPFS:-0}" != 1 ] || variants+=(tmpfs)
if [ -n "$OLD" ]; then
	for v in "${variants[@]}"; do variants+=("old-$v"); done
fi
[ "${SIPOVL_BENCH_LOAD_SERIAL:-0}" != 1 ] || variants+=(serial)
say "variants: ${variants[*]}; old build: ${OLD:-none}"
FIB=${SIPOVL_BENCH_FIB:-100000}
SKIP_LOAD=${SIPOVL_BENCH_SKIP_LOAD:-0}
for n in 10000 100000; do
	[ "$SKIP_LOAD" != 1 ] || break
	f=$TAB/sipovl-load-$n.conf
	[ -f "$f" ] || continue
	cp "$f" "$LOCAL/"
	declare -A lvals=()
	for i in $(seq 1 "$LOAD_RUNS"); do
		# Rotate the order by one every run.
		order=()
		for k in "${!variants[@]}"; do
			order+=("${variants[$(((k + i) % ${#variants[@]}))]}")
		done
		ms=$(time_here /bin/true) || true
		ms2=$(time_here "$CTL" --version) || true
		say "RAWSTART n=$n run=$i true_ms=$ms ctl_version_ms=$ms2"
		lvals[start-true]+="$ms "
		lvals[start-ctl]+="$ms2 "
		for v in "${order[@]}"; do
			[ "$v" != serial ] || [ "$n" = 100000 ] || continue
			ctl=$CTL file=$f
			case $v in old-*) ctl=$OLD/sipovlctl; use_ko old ;; *) use_ko new ;; esac
			case $v in *tmpfs) file=$LOCAL/${f##*/} ;; esac
			setup_ns LD
			rc=0
			if [ "$v" = serial ]; then
				ms=$(SIPOVLCTL_TIMING=1 SIPOVLCTL_SERIAL=1 time_cmd "$LD" "$ctl" apply "$file") || rc=$?
			else
				ms=$(SIPOVLCTL_TIMING=1 time_cmd "$LD" "$ctl" apply "$file") || rc=$?
			fi
			[ $rc = 0 ] || say "sipovl apply $n ($v) failed: $(tail -3 "$TMP/load.log")"
			say "RAWLOAD sipovl-apply n=$n mode=$v run=$i ms=$ms $(grep 'timing:' "$TMP/load.log" | tail -1 | sed 's/^sipovlctl: //')"
			lvals[sipovl-$n-$v]+="$ms "
			cleanup_ns "$LD"
		done
	done
	use_ko new
	for key in "${!lvals[@]}"; do
		k=$key
		case $key in start-*) k=$key-$n ;; esac
		# shellcheck disable=SC2086 # a list of numbers
		LOADMS[$k]=$(printf '%s\n' ${lvals[$key]} | median)
		# shellcheck disable=SC2086
		LOADRANGE[$k]=$(printf '%s\n' ${lvals[$key]} | sort -g | sed -n '1p;$p' | paste -sd-)
	done
	unset lvals
done
# For the data-plane summary below.
LOADMS[sipovl-10000]=${LOADMS[sipovl-10000-9p]:-}
LOADMS[sipovl-100000]=${LOADMS[sipovl-100000-9p]:-}

# perf_apply: profile one sipovlctl apply of 100k intercepts into a fresh namespace.
perf_apply() {
	[ -f "$TAB/sipovl-load-100000.conf" ] && command -v perf >/dev/null || return 0
	say ""
	say "## perf: sipovlctl apply of 100000 intercepts (cpu-clock, all CPUs)"
	setup_ns LD
	SIPOVLCTL_TIMING=1 perf record -q -a -g -e cpu-clock -F 2000 -o "$TMP/perf.data" -- \
		ip netns exec "$LD" "$CTL" apply "$TAB/sipovl-load-100000.conf" 2>&1 | grep timing
	perf report -q -i "$TMP/perf.data" --stdio --no-children --sort comm,sym --percent-limit 0.7 -g none 2>/dev/null |
		grep -v '^$' | head -50
	say "inclusive (children), sipovlctl only:"
	perf report -q -i "$TMP/perf.data" --stdio --children --comm sipovlctl --sort sym --percent-limit 1.5 -g none 2>/dev/null |
		grep -v '^$' | head -70
	say "call graphs of sipovlctl's top symbols (callers below each):"
	perf report -q -i "$TMP/perf.data" --stdio --no-children --comm sipovlctl --sort sym \
		-g caller,0.5,callee,function,percent --percent-limit 1.5 2>/dev/null |
		grep -v '^$' | head -160
	cleanup_ns "$LD"
}

if [ "${SIPOVL_BENCH_LOAD_ONLY:-0}" = 1 ]; then
	say ""
	say "### sipovl load times (wall ms, $LOAD_RUNS runs: median, min-max), guest load $(cut -d' ' -f1-3 /proc/loadavg)"
	for key in $(printf '%s\n' "${!LOADRANGE[@]}" | sort); do
		say "| $key | ${LOADMS[$key]} | ${LOADRANGE[$key]} |"
	done
	[ "${SIPOVL_BENCH_PERF:-0}" != 1 ] || perf_apply
	say ""
	say "total guest time $(elapsed)s"
	exit 0
fi
for be in nft legacy; do
	f=$TAB/ipt-udp-10000.rules
	[ -f "$f" ] && [ "$SKIP_LOAD" != 1 ] || continue
	vals=()
	for i in $(seq 1 "$LOAD_RUNS"); do
		setup_ns LD
		ms=$(time_cmd "$LD" "iptables-$be-restore" "$f") || say "iptables-$be-restore failed: $(tail -3 "$TMP/load.log")"
		n=$(ip netns exec "$LD" "iptables-$be-save" -t mangle | grep -c TPROXY)
		say "RAWLOAD iptables-$be-restore rules=$n run=$i ms=$ms"
		vals+=("$ms")
		cleanup_ns "$LD"
		# Do not spend minutes on it: one run is enough when it takes > 10 s.
		[ "$ms" -lt 10000 ] || break
	done
	LOADMS[iptables-$be-10000]=$(printf '%s\n' "${vals[@]}" | median)
done
say "load phase done at $(elapsed)s"

# ---- data-plane namespaces -----------------------------------------------------
declare -A CLI=() GW=() SINKPID=() SINKOUT=() SINKCTL=() STATE=()

plumb_tproxy() { # fwmark 1 -> table 100 -> local delivery
	local ns=$1
	ip -n "$ns" rule add fwmark 0x1/0x1 lookup 100
	ip -n "$ns" route add local 0.0.0.0/0 dev lo table 100
}

# setup_dp DP N: DP is a data plane, optionally with +fib (the large FIB's
# routes in gw's main table) and +rpf (rp_filter 1 on gw).
setup_dp() {
	local dp=$1 n=$2 k=$1/$2 c g ms rc=0 reg="" fms
	setup_ns C G
	c=$C g=$G
	CLI[$k]=$c GW[$k]=$g
	ip link add c0 netns "$c" type veth peer name g0 netns "$g"
	ip -n "$c" addr add 10.1.0.2/24 dev c0
	ip -n "$g" addr add 10.1.0.1/24 dev g0
	ip -n "$g" link add d0 type dummy
	# IPv4 only on dummy0, so that its TX counter counts escaped packets alone.
	ip netns exec "$g" sysctl -qw net.ipv6.conf.d0.disable_ipv6=1
	ip -n "$g" addr add 10.2.0.1/24 dev d0
	ip -n "$c" link set c0 up
	ip -n "$g" link set g0 up
	ip -n "$g" link set d0 up
	ip -n "$c" route add default via 10.1.0.1
	ip netns exec "$g" sysctl -qw net.ipv4.ip_forward=1
	case $dp in
	*+rpf*)
		ip netns exec "$g" sysctl -qw net.ipv4.conf.all.rp_filter=1 \
			net.ipv4.conf.g0.rp_filter=1 net.ipv4.conf.d0.rp_filter=1
		;;
	esac
	case $dp in
	*+fib*)
		fms=$(time_cmd "$g" ip -batch "$TAB/fib-$FIB.batch") || rc=$?
		say "RAWLOAD fib dp=$dp routes=$(ip -n "$g" -4 route show table main | wc -l) ms=$fms rc=$rc"
		LOADMS[fib-$dp]=$fms
		[ $rc = 0 ] || { STATE[$k]="ip -batch of the FIB failed (exit $rc)"; return 0; }
		;;
	esac
	case ${dp%%+*} in
	local)
		# Baseline: the destination is a local address, a plain socket
		# receives it; no table, no steering (the path's ceiling).
		ip -n "$g" addr add 10.2.0.77/32 dev lo
		ms=0
		reg="--port ${DST_UDP##*:} --tcp-port ${DST_TCP##*:}"
		;;
	sipovl)
		ms=$(SIPOVLCTL_TIMING=1 time_cmd "$g" "$CTL" apply "$TAB/sipovl-$n.conf") || rc=$?
		reg=--register
		;;
	iptables-nft | iptables-legacy)
		plumb_tproxy "$g"
		ms=$(time_cmd "$g" "$dp-restore" "$TAB/ipt-$n.rules") || rc=$?
		;;
	nft)
		plumb_tproxy "$g"
		ms=$(time_cmd "$g" timeout "$NFT_CAP" nft -f "$TAB/nft-$n.nft") || rc=$?
		;;
	*) bail_out "unknown data plane $dp" ;;
	esac
	say "RAWLOAD setup dp=$dp n=$n ms=$ms rc=$rc"
	LOADMS[setup-$dp-$n]=$ms
	if [ $rc != 0 ]; then
		STATE[$k]="load failed (exit $rc after ${ms} ms)"
		[ $rc != 124 ] || STATE[$k]="load abandoned after the ${NFT_CAP} s cap"
		say "$dp n=$n: ${STATE[$k]}: $(tail -3 "$TMP/load.log")"
		return 0
	fi
	SINKOUT[$k]=$TMP/sink-${dp}-$n.out
	SINKCTL[$k]=$TMP/sink-${dp}-$n.sock
	# shellcheck disable=SC2086
	ip netns exec "$g" taskset -c 1 "$SINK" --port $PORT $reg --ctl "${SINKCTL[$k]}" \
		>"${SINKOUT[$k]}" 2>"${SINKOUT[$k]}.err" &
	SINKPID[$k]=$!
	on_exit kill "${SINKPID[$k]}"
	busywait 10000 grep -q ready "${SINKOUT[$k]}" >/dev/null ||
		bail_out "dp-sink did not start in $dp/$n: $(cat "${SINKOUT[$k]}.err")"
	STATE[$k]=ok
}

say ""
say "## setting up ${#DPS[@]} data planes x ${#SIZES[@]} sizes, and the baseline"
setup_dp local 0
for n in "${SIZES[@]}"; do
	for dp in "${DPS[@]}"; do
		setup_dp "$dp" "$n"
	done
done
# The anti-spoof FIB pairs, beside their references sipovl/1 and local/0.
FIBKEYS=()
if [ "$FIB" != 0 ]; then
	if [ ! -f "$TAB/fib-$FIB.batch" ] || [ ! -f "$TAB/sipovl-1.conf" ]; then
		say "warning: no $TAB/fib-$FIB.batch or sipovl-1.conf: no FIB pairs"
		FIB=0
	else
		[ -n "${STATE[sipovl/1]:-}" ] || setup_dp sipovl 1
		FIBKEYS=(sipovl/1 sipovl+rpf/1 sipovl+fib/1 sipovl+fib+rpf/1 local+fib/0)
		for k in "${FIBKEYS[@]:1}"; do
			setup_dp "${k%/*}" "${k#*/}"
		done
	fi
fi
say "setup done at $(elapsed)s"

# targets: dp-load bench targets of every data plane and size that loaded,
# and the baseline (local/0).
targets() {
	local k
	for k in local/0 $(for n in "${SIZES[@]}"; do for dp in "${DPS[@]}"; do echo "$dp/$n"; done; done) \
		${FIBKEYS[@]+"${FIBKEYS[@]}"}; do
		[ "${STATE[$k]:-}" != ok ] || printf '%s,%s,%s\n' "$k" "${CLI[$k]}" "${SINKCTL[$k]}"
	done | awk -F, '!seen[$1]++'
}

# bench PROTO RUNS SECONDS: alternating measurements over all targets; RAW lines.
bench() {
	local dst=$DST_UDP t
	[ "$1" = udp ] || dst=$DST_TCP
	targets >"$TMP/targets"
	mapfile -t t <"$TMP/targets"
	[ ${#t[@]} -gt 0 ] || return 0
	"$LOAD" bench "$1" --dst "$dst" --runs "$2" --seconds "$3" --parallel "$PAR" --cpu 0 "${t[@]}"
}

# Sanity (and warm-up): every data plane steers the benchmark's flows to its sink.
for proto in udp tcp; do
	bench $proto 1 0.3 >"$TMP/sanity"
	while read -r _ p k _ _ _ _ got _; do
		[ "$got" -gt 0 ] && continue
		STATE[$k]="does not steer $p"
		say "warning: $k ${STATE[$k]}"
	done <"$TMP/sanity"
done
say "lsmod (conntrack must not be loaded: it would tax every data plane): $(lsmod | awk 'NR > 1 { print $1 }' | grep -E '^(nf_|xt_|nft_|ip_tables|iptable|x_tables|sipovl)' | sort | paste -sd' ')"

# ---- measurements ---------------------------------------------------------------
# Packets that escaped steering are forwarded to gw's dummy0 (10.2.0.0/24):
# its TX counter counts them.
d0_tx() { ip -n "$1" -s -j link show d0 | jq '.[0].stats64.tx.packets'; }
declare -A D0=()
for k in "${!STATE[@]}"; do
	[ "${STATE[$k]}" = ok ] && [ "$k" != local/0 ] && D0[$k]=$(d0_tx "${GW[$k]}")
done

say ""
say "## measurements"
for proto in "${PROTOS[@]}"; do
	bench "$proto" "$RUNS" "$SECS" | tee -a "$RAW"
	say "$proto done at $(elapsed)s, load $(cut -d' ' -f1-3 /proc/loadavg)"
done

# sipovl's own view of the largest table: everything steered, nothing else.
nmax=${SIZES[${#SIZES[@]} - 1]}
if [ "${STATE[sipovl/$nmax]:-}" = ok ]; then
	say "sipovl stats at n=$nmax: $(ip netns exec "${GW[sipovl/$nmax]}" "$CTL" stats | head -1)"
fi

for k in $(printf '%s\n' "${!D0[@]}" | sort); do
	esc=$(($(d0_tx "${GW[$k]}") - ${D0[$k]}))
	[ "$esc" = 0 ] || say "ESCAPED $k: $esc packets were forwarded to dummy0 instead of being steered"
done
say "escape check done (no ESCAPED line: no packet escaped steering)"

# ---- summary -------------------------------------------------------------------
med() { awk -v p="$1" -v k="$2/$3" '$1 == "RAW" && $2 == p && $3 == k { print $12 }' "$RAW" | median; }
# pratio PROTO KEY_A KEY_B: median over runs of rate(A) / rate(B) in the same run.
pratio() {
	awk -v p="$1" -v a="$2" -v b="$3" '$1 == "RAW" && $2 == p && ($3 == a || $3 == b) { r[$3, $4] = $12; runs[$4] }
		END { for (i in runs) if (r[b, i] > 0 && ((a, i) in r)) printf "%.3f\n", r[a, i] / r[b, i] }' "$RAW" |
		median | awk '{ if ($1 == "-") print "-"; else printf "%.2f", $1 }'
}

say ""
say "## summary: medians of $RUNS runs (${SECS} s each); ratios: median of the per-run ratios"
for proto in "${PROTOS[@]}"; do
	unit="datagrams/s received"
	[ "$proto" = udp ] || unit="connections/s completed"
	say ""
	say "### $proto, $unit"
	hdr="| data plane |"
	sep="|---|"
	for n in "${SIZES[@]}"; do
		hdr+=" $n |"
		sep+="---:|"
	done
	hdr+=" ${nmax} / ${SIZES[0]} | ${nmax} / nft ${nmax} | ${SIZES[0]} / baseline |"
	sep+="---:|---:|---:|"
	say "$hdr"
	say "$sep"
	for dp in "${DPS[@]}"; do
		row="| $dp |"
		for n in "${SIZES[@]}"; do
			if [ "${STATE[$dp/$n]:-}" = ok ]; then
				row+=" $(med "$proto" "$dp" "$n") |"
			else
				row+=" (${STATE[$dp/$n]:-not run}) |"
			fi
		done
		row+=" $(pratio "$proto" "$dp/$nmax" "$dp/${SIZES[0]}") | $(pratio "$proto" "$dp/$nmax" "nft/$nmax") | $(pratio "$proto" "$dp/${SIZES[0]}" local/0) |"
		say "$row"
	done
	say "| baseline: local socket, no table | $(med "$proto" local 0) |"
done

if [ "$FIB" != 0 ]; then
	say ""
	say "### anti-spoof FIB lookups: 1 intercept, small FIB (connected routes) or $FIB routes, rp_filter 0 or 1"
	say "ratios: median of the per-run ratios to the reference in the last column"
	say "| pair | udp/s | tcp/s | udp ratio | tcp ratio | reference |"
	say "|---|---:|---:|---:|---:|---|"
	for k in "${FIBKEYS[@]}"; do
		ref=sipovl/1
		case $k in local*) ref=local/0 ;; esac
		if [ "${STATE[$k]:-}" != ok ]; then
			say "| $k | (${STATE[$k]:-not run}) | | | | |"
			continue
		fi
		say "| $k | $(med udp "${k%/*}" "${k#*/}") | $(med tcp "${k%/*}" "${k#*/}") | $(pratio udp "$k" "$ref") | $(pratio tcp "$k" "$ref") | $ref |"
	done
	say "| sipovl+fib+rpf/1 vs sipovl+rpf/1 | | | $(pratio udp sipovl+fib+rpf/1 sipovl+rpf/1) | $(pratio tcp sipovl+fib+rpf/1 sipovl+rpf/1) | sipovl+rpf/1 |"
	say "| sipovl+fib/1 vs local+fib/0 | | | $(pratio udp sipovl+fib/1 local+fib/0) | $(pratio tcp sipovl+fib/1 local+fib/0) | local+fib/0 |"
	for k in sipovl+rpf/1 sipovl+fib+rpf/1; do
		[ "${STATE[$k]:-}" = ok ] || continue
		say "$k: IPReversePathFilter drops $(ip netns exec "${GW[$k]}" nstat -asz TcpExtIPReversePathFilter | awk '$1 == "TcpExtIPReversePathFilter" { print $2 }'), sipovl stats: $(ip netns exec "${GW[$k]}" "$CTL" stats | head -1)"
	done
fi

say ""
say "### spread: min-max of the $RUNS runs"
cut -d, -f1 "$TMP/targets" >"$TMP/targets.keys"
for proto in "${PROTOS[@]}"; do
	while read -r k; do
		say "$proto $k: $(awk -v p="$proto" -v k="$k" '$1 == "RAW" && $2 == p && $3 == k { print $12 }' "$RAW" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) print lo "-" hi; else print "-" }')"
	done <"$TMP/targets.keys"
done

say ""
say "### load times (wall ms; medians of up to $LOAD_RUNS runs for the first four)"
say "| what | ms |"
say "|---|---:|"
for key in sipovl-10000 sipovl-100000 iptables-nft-10000 iptables-legacy-10000; do
	say "| $key | ${LOADMS[$key]:--} |"
done
for n in "${SIZES[@]}"; do
	for dp in "${DPS[@]}"; do
		say "| setup $dp $n (one run) | ${LOADMS[setup-$dp-$n]:--} |"
	done
done
for k in ${FIBKEYS[@]+"${FIBKEYS[@]}"}; do
	[ -z "${LOADMS[fib-${k%/*}]:-}" ] || say "| ip -batch of $FIB routes, ${k%/*} (one run) | ${LOADMS[fib-${k%/*}]} |"
done
say ""
say "load log (last lines):"
tail -n 20 "$TMP/load.log" | sed 's/^/  /'

# ---- optional profile ------------------------------------------------------------
if [ "${SIPOVL_BENCH_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
	for dp in sipovl nft iptables-legacy; do
		k=$dp/$nmax
		[ "${STATE[$k]:-}" = ok ] || continue
		say ""
		say "## perf: udp $k (cpu-clock, all CPUs, 3 s of traffic)"
		perf record -q -a -e cpu-clock -F 2000 -o "$TMP/perf.data" -- \
			ip netns exec "${CLI[$k]}" taskset -c 0 "$LOAD" udp --dst $DST_UDP --seconds 3
		# CPU 0: the sender, with the whole receive path (veth runs it in
		# the sender's softirq); CPU 1: the sink.
		perf report -q -i "$TMP/perf.data" --stdio --sort cpu,sym 2>/dev/null >"$TMP/perf.txt"
		say "top symbols:"
		head -n 15 "$TMP/perf.txt"
		say "data-plane symbols:"
		grep -E 'sipovl|mt_|nft_|ipt_|xt_|tproxy|pipapo' "$TMP/perf.txt" | head -n 15
	done
fi
[ "${SIPOVL_BENCH_PERF:-0}" != 1 ] || perf_apply
say ""
say "total guest time $(elapsed)s"
