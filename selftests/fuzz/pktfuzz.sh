#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The packet fuzzer and the unload/namespace churn, for the debug kernel (the
# runner fails the file on any KASAN, KFENCE, lockdep, RCU, kmemleak or UBSAN
# report; Documentation/testing.md, "The packet fuzzer").
#
# 1. pktfuzz.py for SIPOVL_PKTFUZZ_SECONDS (default 30): malformed and random
#    IPv4/IPv6 packets from an AF_PACKET socket into the gateway's hooks,
#    against a loaded intercept table replaced all the time, registered
#    daemon sockets and a transparent source range; the valid reference
#    packets in the mix must each arrive where the table says (steered to
#    the daemon, or not: forwarded to the sink, delivered to a local socket
#    or to the socket that owns a transparent-source flow).
#
#      snd s0 10.1.0.2 fd01::2 --- g0 gw (lo 10.9.0.1 fd09::1) g1 --- k0 sink (10.10/16, fd10::/48)
#
# 2. SIPOVL_CHURN_ROUNDS (default 5; at most SIPOVL_CHURN_SECONDS, 240) rounds of: insmod, tables and registered
#    listeners in two namespaces with UDP and TCP traffic running, rmmod with
#    all of it live; meanwhile namespaces with tables, registered sockets and
#    traffic are created and deleted in a loop. Steering must work after it.
#
# SIPOVL_FUZZ_SEED reproduces a run (its seed is printed). `make fuzz` runs
# both longer.
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd ip python3 nft ethtool

BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
CTL=$BIN/sipovlctl
PEER=$BIN/selftests/peer
PY=$(dirname "$0")/pktfuzz.py
GSO_PY=$(dirname "$0")/pktfuzz_gso.py
LOCAL_PY=$(dirname "$0")/pktfuzz_local.py
STATS_PY=$(dirname "$0")/pktfuzz_stats.py
[ -x "$CTL" ] && [ -x "$PEER" ] || bail_out "build first: $CTL $PEER"
SECONDS_FUZZ=${SIPOVL_PKTFUZZ_SECONDS:-30}
ROUNDS=${SIPOVL_CHURN_ROUNDS:-5}
SEED=${SIPOVL_FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}
diag "seed $SEED (SIPOVL_FUZZ_SEED=$SEED reproduces the packets)"

load_module
modprobe -q veth || true
modprobe -q nf_tables || true
TMP=$(mktemp -d)
on_exit rm -rf "$TMP"

# ---- 1. packet fuzzing
setup_ns SND GW SINK
ip link add s0 netns "$SND" address 02:00:00:00:00:02 type veth peer name g0 netns "$GW" address 02:00:00:00:00:01 ||
	bail_out "cannot create veth"
ip link add k0 netns "$SINK" type veth peer name g1 netns "$GW" || bail_out "cannot create veth"
ns_addrs <<-EOF
	$SND s0 10.1.0.2/24
	$SND s0 fd01::2/64
	$GW g0 10.1.0.1/24
	$GW g0 fd01::1/64
	$GW g1 10.3.0.1/24
	$GW g1 fd03::1/64
	$GW lo 10.9.0.1/32
	$GW lo fd09::1/128
	$SINK k0 10.3.0.2/24
	$SINK k0 fd03::2/64
EOF
ip -n "$GW" route add 10.10.0.0/16 via 10.3.0.2
ip -n "$GW" -6 route add fd10::/48 via fd03::2
ip -n "$SINK" route add local 10.10.0.0/16 dev lo
ip -n "$SINK" -6 route add local fd10::/48 dev lo
ip -n "$SINK" route add default via 10.3.0.1
ip -n "$SINK" -6 route add default via fd03::1
# Random destinations of the gateway's own packets go to the sink, which
# does not forward.
ip -n "$GW" route add default via 10.3.0.2
ip -n "$GW" -6 route add default via fd03::2
ip -n "$SND" route add default via 10.1.0.1
ip -n "$SND" -6 route add default via fd01::1
ip netns exec "$GW" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
# Fragment queues: room for the reference datagrams among the fuzzer's
# overlapping and never-completed fragments.
ip netns exec "$GW" sysctl -qw net.ipv4.ipfrag_time=2 net.ipv6.ip6frag_time=2

# start NS NAME CMD...: a background process that prints "ready" when set
# up; its pid in $PID.
start() {
	local ns=$1 name=$2
	shift 2
	ip netns exec "$ns" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	PID=$!
	on_exit kill "$PID"
	busywait 60000 grep -q ready "$TMP/$name.out" >/dev/null ||
		bail_out "$name did not start: $(cat "$TMP/$name.err")"
}
# snap NAME: each namespace's drop counters (pktfuzz_stats.py).
snap() {
	local ns
	for ns in "$SND" "$GW" "$SINK"; do
		ip netns exec "$ns" python3 "$STATS_PY" snap "$TMP/$1.$ns.json"
	done
}
# drops FROM TO [FILE]: the counters that changed, per namespace (all of
# them appended to FILE for the check).
drops() {
	local ns
	for ns in "$SND" "$GW" "$SINK"; do
		diag "drops $1..$2 in ${ns%%-*}: $(python3 "$STATS_PY" diff "$TMP/$1.$ns.json" "$TMP/$2.$ns.json" ${3:+"$3"})"
	done
}
trace_on() {
	[ "${SIPOVL_PKTFUZZ_TRACE:-0}" = 1 ] || return 0
	T=/sys/kernel/tracing
	[ -e $T/trace ] || mount -t tracefs nodev $T 2>/dev/null || T=/sys/kernel/debug/tracing
	echo 16384 >$T/buffer_size_kb
	echo >$T/trace
	echo 1 >$T/events/skb/kfree_skb/enable
}
trace_off() {
	[ "${SIPOVL_PKTFUZZ_TRACE:-0}" = 1 ] || return 0
	echo 0 >$T/events/skb/kfree_skb/enable
	diag "kfree_skb by reason and location: $(sed -n 's/.*location=\([^ ]*\).*reason: \(.*\)/\2@\1/p' $T/trace | sort | uniq -c | sort -rn | head -40 | tr -s ' \n' ' ')"
	diag "trace lines $(wc -l <$T/trace); lost: $(grep -h -i 'entries-in-buffer\|overrun' $T/per_cpu/cpu*/stats 2>/dev/null | tr -s ' \n' ' ')"
}
snap before
trace_on
start "$GW" daemon python3 "$PY" daemon --log "$TMP/daemon.log" --seed "$SEED"
DPID=$PID
start "$SINK" sink python3 "$PY" sink --log "$TMP/sink.log"
SPID=$PID

# GSO/GRO super-packets: g0 (the gateway's side) merges with GRO, s0 sends
# TSO and UDP GSO skbs unsegmented; offloads() switches them while packets
# flow (pktfuzz_gso.py).
ip netns exec "$GW" ethtool -K g0 gro on rx-udp-gro-forwarding on >/dev/null 2>&1 ||
	bail_out "cannot switch GRO on for g0"
ip netns exec "$SND" ethtool -K s0 tso on gso on tx-udp-segmentation on >/dev/null 2>&1 ||
	bail_out "cannot switch TSO and UDP segmentation on for s0"
diag "offloads: $(ip netns exec "$GW" ethtool -k g0 | grep -E '^(generic-receive-offload|rx-udp-gro-forwarding|rx-gro-list):' | tr -s ' \n' ' ')"
offloads() {
	local i=0
	while [ ! -e "$TMP/offloads.stop" ]; do
		case $((i % 4)) in
		0) ip netns exec "$GW" ethtool -K g0 gro on rx-udp-gro-forwarding on rx-gro-list off
		   ip netns exec "$SND" ethtool -K s0 tso on gso on tx-udp-segmentation on ;;
		1) ip netns exec "$GW" ethtool -K g0 gro on rx-gro-list on
		   ip netns exec "$SND" ethtool -K s0 tso off gso off tx-udp-segmentation off ;;
		2) ip netns exec "$GW" ethtool -K g0 gro off
		   ip netns exec "$SND" ethtool -K s0 tso on gso on tx-udp-segmentation on ;;
		3) ip netns exec "$GW" ethtool -K g0 gro on rx-udp-gro-forwarding off rx-gro-list on
		   ip netns exec "$SND" ethtool -K s0 tso off gso on tx-udp-segmentation off ;;
		esac
		i=$((i + 1))
		echo "$i" >"$TMP/offloads.n"
		sleep 2
	done
} >/dev/null 2>&1
offloads &
OPID=$!
on_exit kill "$OPID"
ip netns exec "$SND" python3 "$GSO_PY" --dev s0 --log "$TMP/expected.gso" --seconds "$SECONDS_FUZZ" \
	--seed "$SEED" >"$TMP/gso.out" 2>"$TMP/gso.err" &
GPID=$!
on_exit kill "$GPID"
# LOCAL_OUT: packets the gateway itself originates, from raw sockets,
# transparent sockets and a local user's ordinary sockets (pktfuzz_local.py).
ip netns exec "$GW" python3 "$LOCAL_PY" --log "$TMP/expected.local" --seconds "$SECONDS_FUZZ" \
	--seed "$SEED" >"$TMP/local.out" 2>"$TMP/local.err" &
LPID=$!
on_exit kill "$LPID"
# The reference SYNs and their replies as the gateway's g0 saw them: where one that got no
# reply was lost (before g0, inside the gateway, or after g0) is then in the diagnosis.
if command -v tcpdump >/dev/null 2>&1; then
	ip netns exec "$GW" tcpdump -i g0 -n -U -s 128 -w "$TMP/g0.pcap" "tcp port 8000 or tcp port 9200" \
		>/dev/null 2>"$TMP/tcpdump.err" &
	on_exit kill $!
	busywait 10000 grep -q listening "$TMP/tcpdump.err" >/dev/null || diag "tcpdump on g0 did not start"
fi
rc=0
out=$(ip netns exec "$SND" python3 "$PY" send --dev s0 --log "$TMP/expected" --seconds "$SECONDS_FUZZ" --seed "$SEED" 2>&1) ||
	rc=$?
echo "$out"
if [ $rc = 0 ]; then ok "sender ran $SECONDS_FUZZ s"; else not_ok "sender ran $SECONDS_FUZZ s (exit $rc)"; fi
rc=0
wait "$GPID" || rc=$?
cat "$TMP/gso.out"
if [ $rc = 0 ]; then
	ok "GSO/GRO super-packet sender ran $SECONDS_FUZZ s"
else
	not_ok "GSO/GRO super-packet sender ran $SECONDS_FUZZ s (exit $rc)" "$(tail -5 "$TMP/gso.err")"
fi
rc=0
wait "$LPID" || rc=$?
cat "$TMP/local.out"
if [ $rc = 0 ]; then
	ok "local (LOCAL_OUT) senders ran $SECONDS_FUZZ s"
else
	not_ok "local (LOCAL_OUT) senders ran $SECONDS_FUZZ s (exit $rc)" "$(tail -5 "$TMP/local.err")"
fi
touch "$TMP/offloads.stop"
wait "$OPID" 2>/dev/null || true
diag "offload settings switched $(cat "$TMP/offloads.n" 2>/dev/null || echo 0) times"
sed -n 's/^/# /p' "$TMP/gso.err" "$TMP/local.err" | head -10
# Stragglers (a steered datagram may sit in a queue for a moment).
sleep 1
snap atkill
kill -TERM "$DPID" "$SPID"
rc=0
wait "$DPID" || rc=$?
grep -v '^ready' "$TMP/daemon.out" || true
if [ $rc = 0 ]; then
	ok "the table was replaced all along without an error"
else
	not_ok "the table was replaced all along without an error (daemon exit $rc)" "$(tail -5 "$TMP/daemon.err")"
fi
wait "$SPID" 2>/dev/null || true
trace_off
snap after
drops before atkill
drops atkill after
drops before after "$TMP/drops" >/dev/null
# the reference SYNs' replies the sender's sniffer had no room for (pktfuzz.py)
cat "$TMP/expected.sniffer" >>"$TMP/drops" 2>/dev/null || true
rc=0
out=$(python3 "$PY" check --expected "$TMP/expected" --expected "$TMP/expected.gso" \
	--expected "$TMP/expected.local" --expected "$TMP/expected.local.user" \
	--drops "$TMP/drops" "$TMP/daemon.log" "$TMP/sink.log" "$TMP/expected.replies") || rc=$?
echo "$out"
# each reference SYN without a reply, as g0 saw it (the SYN in, a reply out, or nothing)
for tag in $(sed -n 's/^# reference SYNs without a reply: \([0-9 ]*\) (.*/\1/p' <<<"$out"); do
	read -r _ sport dport fam <<<"$(grep "^$tag " "$TMP/expected.syns")" # (the guest has no /dev/fd: no process substitution)
	[ -f "$TMP/g0.pcap" ] || break
	diag "SYN $tag (IPv$fam, port $sport -> $dport) at g0: $(tcpdump -r "$TMP/g0.pcap" -n -tt "tcp port $sport and tcp port $dport" 2>/dev/null | head -4 | tr '\n' '|')"
done
if [ $rc = 0 ]; then
	ok "reference packets: each one that arrived was steered or not as the table says"
else
	not_ok "reference packets: each one that arrived was steered or not as the table says"
fi
cleanup_ns "$SND" "$GW" "$SINK"
check "module unloads after the packet fuzzing" unload_module
diag "packet fuzzing took ${SECONDS} s"
t0=$SECONDS

# ---- 2. unload and namespace churn under traffic
if [ "$ROUNDS" = 0 ]; then
	skip "unload/namespace churn" "SIPOVL_CHURN_ROUNDS=0"
	done_testing
fi
# Empty nft base chains keep the netfilter static keys enabled across the
# reloads (QEMU TCG can mis-execute code live-patched on another vCPU; see
# replace.sh).
# SIPOVL_CHURN_NS (2; make check: 1) namespaces with listeners and traffic.
setup_ns KEEP L1 L2
LNS=("$L1" "$L2")
[ "${SIPOVL_CHURN_NS:-2}" = 1 ] && LNS=("$L1")
ip netns exec "$KEEP" nft -f - <<'NFT' || bail_out "cannot create the nft keep-alive chains"
table inet sipovl_keys {
	chain pre { type filter hook prerouting priority 0; }
	chain out { type filter hook output priority 0; }
}
NFT
cat >"$TMP/t" <<'EOF'
intercept sip proto udp,tcp addr 10.6.0.0/16,fd06::/48 port 5060-5061
intercept other proto udp addr 10.6.1.0/24 port 1-65535 policy pass
EOF
for ns in "${LNS[@]}"; do
	ip -n "$ns" route add local 10.6.0.0/16 dev lo
	ip -n "$ns" -6 route add local fd06::/48 dev lo
done
insmod "$SIPOVL_KO" || bail_out "insmod failed"
# The traffic's rate: SIPOVL_CHURN_GAP_US between the datagrams of each of
# the four UDP senders, and as many ms between TCP connections (per
# namespace). 1000 us (4,000 datagrams/s) kept both vCPUs of the debug kernel
# busy: rounds of minutes (Documentation/testing.md).
GAP_US=${SIPOVL_CHURN_GAP_US:-20000}
for ns in "${LNS[@]}"; do
	ip netns exec "$ns" "$PEER" blast --udp --dst 10.6.0.9:5060 --count 0 --gap-us "$GAP_US" >/dev/null 2>&1 &
	on_exit kill $!
	ip netns exec "$ns" "$PEER" blast --udp --dst '[fd06::9]:5060' --count 0 --gap-us "$GAP_US" >/dev/null 2>&1 &
	on_exit kill $!
	ip netns exec "$ns" bash -c "while :; do '$PEER' send --tcp --timeout 1 --dst 10.6.0.9:5061 --msg x; sleep $((GAP_US / 1000))e-3; done" >/dev/null 2>&1 &
	on_exit kill $!
done
# cpu_busy: "busy idle" jiffies of all CPUs so far (/proc/stat).
cpu_busy() {
	awk '/^cpu /{ t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, $5 + $6 }' /proc/stat
}

# churn: namespaces with a table, registered sockets and traffic, created and
# deleted until $TMP/stop appears; counts them in $TMP/churned.
churn() {
	local n=0 ns ts
	while [ ! -e "$TMP/stop" ] && [ "$n" -lt "${SIPOVL_CHURN_MAXNS:-1000000}" ]; do
		ts=$SECONDS
		ns=churn-$n-$(mktemp -u XXXXXX)
		ip netns add "$ns" || break
		ip -n "$ns" link set lo up
		ip -n "$ns" route add local 10.6.0.0/16 dev lo
		ip netns exec "$ns" "$CTL" apply "$TMP/t" >/dev/null 2>&1
		ip netns exec "$ns" "$PEER" listen -4 --port 9999 >/dev/null 2>&1 &
		ip netns exec "$ns" "$PEER" blast --udp --dst 10.6.0.9:5060 --count 200 --gap-us 500 >/dev/null 2>&1
		# Delete it with its sockets registered: the processes go with it.
		ip netns pids "$ns" | xargs -r kill -TERM 2>/dev/null
		ip netns del "$ns"
		n=$((n + 1))
		echo "$n" >"$TMP/churned"
		echo "$((SECONDS - ts))" >>"$TMP/churn.times"
	done
}
churn &
CHURN=$!
on_exit kill "$CHURN"

# rmmod_bounded ROUND: rmmod, reporting what it waits in when it takes over
# SIPOVL_RMMOD_TIMEOUT (300 s): a module exit that never ends is a defect.
rmmod_bounded() {
	local pid i
	rmmod sipovl &
	pid=$!
	for i in $(seq 1 "${SIPOVL_RMMOD_TIMEOUT:-300}"); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 1
	done
	if kill -0 "$pid" 2>/dev/null; then
		diag "round $1: rmmod still running after $i s; its kernel stack:"
		sed 's/^/#   /' "/proc/$pid/stack" 2>/dev/null
		return 1
	fi
	wait "$pid"
}

# Rounds stop early (the points say how many ran) once SIPOVL_CHURN_SECONDS
# (default 240) have passed: a loaded host makes the debug kernel slow.
fails=0 done_rounds=0
for r in $(seq 1 "$ROUNDS"); do
	if [ $r -gt 1 ] && [ $((SECONDS - t0)) -ge "${SIPOVL_CHURN_SECONDS:-240}" ]; then
		diag "churn: stopping after $done_rounds rounds ($((SECONDS - t0)) s)"
		break
	fi
	ts=$SECONDS
	read -r b0 i0 <<<"$(cpu_busy)"
	[ -d /sys/module/sipovl ] || insmod "$SIPOVL_KO" || { fails=$((fails + 1)); diag "round $r: insmod failed"; break; }
	t_ins=$((SECONDS - ts))
	lpids=()
	for ns in "${LNS[@]}"; do
		ip netns exec "$ns" "$CTL" apply "$TMP/t" >/dev/null || { fails=$((fails + 1)); diag "round $r: apply failed in $ns"; }
		t_apply=$((SECONDS - ts))
		ip netns exec "$ns" "$PEER" listen -4 --port 9999 >"$TMP/l-$ns.out" 2>/dev/null &
		lpids+=($!)
		ip netns exec "$ns" "$PEER" listen -6 --port 9999 >"$TMP/l6-$ns.out" 2>/dev/null &
		lpids+=($!)
	done
	for ns in "${LNS[@]}"; do
		busywait 60000 grep -q ready "$TMP/l-$ns.out" "$TMP/l6-$ns.out" >/dev/null ||
			{ fails=$((fails + 1)); diag "round $r: listener in $ns not ready"; }
	done
	t_ready=$((SECONDS - ts))
	# Steered traffic reaches the listeners, then unload with all of it live.
	sleep 1
	tr=$SECONDS
	if rmmod_bounded "$r"; then
		done_rounds=$((done_rounds + 1))
	else
		fails=$((fails + 1))
		diag "round $r: rmmod failed"
	fi
	kill "${lpids[@]}" 2>/dev/null
	wait "${lpids[@]}" 2>/dev/null
	read -r b1 i1 <<<"$(cpu_busy)"
	diag "round $r done at $((SECONDS - t0)) s (insmod ${t_ins} s, tables ${t_apply} s, listeners ready ${t_ready} s, rmmod $((SECONDS - tr)) s; CPUs $(((b1 - b0) * 100 / (b1 - b0 + i1 - i0 + 1)))% busy; namespaces churned so far $(cat "$TMP/churned" 2>/dev/null || echo 0))"
	[ $fails = 0 ] || break
done
touch "$TMP/stop"
wait "$CHURN" 2>/dev/null
churned=$(cat "$TMP/churned" 2>/dev/null || echo 0)
if [ $fails = 0 ] && [ $done_rounds -ge 1 ]; then
	ok "$done_rounds unload/reload rounds with live namespaces, registered sockets and traffic"
else
	not_ok "unload/reload rounds with live namespaces, registered sockets and traffic ($done_rounds done, $fails failures)"
fi
if [ "$churned" -gt 0 ]; then
	ok "namespaces with registered sockets created and deleted meanwhile: $churned"
else
	not_ok "namespaces with registered sockets created and deleted meanwhile: none"
fi

diag "churn: $done_rounds rounds in $((SECONDS - t0)) s; seconds per churned namespace: $(tr '\n' ' ' <"$TMP/churn.times" 2>/dev/null)"

# Steering still works after it all.
[ -d /sys/module/sipovl ] || insmod "$SIPOVL_KO" || bail_out "insmod failed"
ip netns exec "$L1" "$CTL" apply "$TMP/t" >/dev/null || bail_out "apply failed"
ip netns exec "$L1" "$PEER" listen -4 --port 9999 >"$TMP/final.out" 2>/dev/null &
on_exit kill $!
busywait 30000 grep -q ready "$TMP/final.out" >/dev/null || bail_out "listener not ready"
out=$(ip netns exec "$L1" "$PEER" send --udp --dst 10.6.0.77:5060 --msg after 2>&1)
if grep -q '^UDP [0-9.]*:[0-9]* 10\.6\.0\.77:5060 after$' <<<"$out"; then
	ok "steering works after the churn"
else
	not_ok "steering works after the churn" "$out"
fi
cleanup_all_ns
check "module unloads at the end" unload_module
done_testing
