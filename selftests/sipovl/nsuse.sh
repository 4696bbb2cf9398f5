#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# What a network namespace that anyone can create (unshare -Urn) costs and
# can make sipovl hold:
#  - defragmentation (and with it the netfilter hooks) is registered only in
#    namespaces that configure sipovl (first configuration change), not in
#    every namespace; a failed first change leaves none. Seen through IPv4
#    reassembly: fragments that a router namespace without forwarding drops
#    are reassembled first (Ip ReasmReqds) only where nf_defrag is on;
#  - intercept memory of one namespace (its table, with the compiled matcher,
#    and its open transactions) is bounded by the module parameter
#    max_ns_bytes: growing a transaction or the table past it fails with
#    E2BIG and a message naming the limit. Run as an unprivileged user in
#    `unshare -Urn` (the VM guest switches to its root, so it may create user
#    namespaces); where that fails (a chroot: EPERM) as root in a fresh
#    namespace (the bound does not depend on who asks).
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd python3 setpriv unshare ping
load_module
DIR=$(cd "$(dirname "$0")" && pwd)

setup_ns A R
ip link add va netns "$A" type veth peer name vr netns "$R"
ip -n "$A" addr add 10.99.0.1/24 dev va
ip -n "$R" addr add 10.99.0.2/24 dev vr
ip -n "$A" link set va up
ip -n "$R" link set vr up
ip -n "$A" route add 10.98.0.0/16 via 10.99.0.2
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=0

# reasm: fragments R reassembled while A sent 3 fragmented pings through it.
reasm() {
	local before after
	before=$(ip netns exec "$R" awk '/^Ip: [0-9]/ { print $15 }' /proc/net/snmp)
	ip netns exec "$A" ping -q -c 3 -i 0.2 -W 1 -s 3000 10.98.0.1 >/dev/null 2>&1
	after=$(ip netns exec "$R" awk '/^Ip: [0-9]/ { print $15 }' /proc/net/snmp)
	echo $((after - before))
}
[ "$(ip netns exec "$R" awk '/^Ip: / { print $15; exit }' /proc/net/snmp)" = ReasmReqds ] ||
	bail_out "unexpected /proc/net/snmp layout"

genl() {
	ip netns exec "$R" python3 -c "
import os, sys; sys.path.insert(0, '$DIR'); from nl import *
g = Genl()
try:
    $1
    print('done')
except Error as e:
    print('refused', e.errno, e.msg)
"
}

n=$(reasm)
if [ "$n" = 0 ]; then
	ok "a namespace that never configured sipovl does not defragment (0 fragments reassembled)"
else
	not_ok "a namespace that never configured sipovl does not defragment ($n fragments reassembled)"
fi
out=$(genl "g.cmd(CMD_SOCKET_REGISTER, s32(A_SOCKET_FD, os.open('/dev/null', os.O_RDONLY)))")
[[ $out == refused* ]] || not_ok "registering a non-socket fails ($out)"
n=$(reasm)
if [ "$n" = 0 ]; then
	ok "a failed first change leaves defragmentation off (0 fragments reassembled)"
else
	not_ok "a failed first change leaves defragmentation off ($n fragments reassembled)"
fi
out=$(genl "g.cmd(CMD_INTERCEPT_ADD, intercept(1, 'one'))")
n=$(reasm)
if [ "$out" = "done" ] && [ "$n" -ge 6 ]; then
	ok "the first intercept enables defragmentation and the hooks ($n fragments reassembled)"
else
	not_ok "the first intercept enables defragmentation and the hooks ($out, $n fragments reassembled)"
fi
genl "g.cmd(CMD_INTERCEPT_FLUSH)" >/dev/null

# Memory bound: a transaction grown to 8 MiB, the table through single adds
# (each compiles the whole table) to 256 KiB. The limit bounds the compile's
# peak too (below): for these intercepts (256 sources each) the compile needs
# about 12 kB of scratch per intercept besides its ~5 kB, so the table is
# refused once its intercepts reach about a quarter of the limit: at least
# an eighth must fit.
P=/sys/module/sipovl/parameters/max_ns_bytes
if [ -w $P ]; then
	old=$(cat $P)
	on_exit "echo $old > $P"
	ok "module parameter max_ns_bytes (default $old)"
else
	not_ok "module parameter max_ns_bytes"
fi
if setpriv --reuid=65534 --regid=65534 --clear-groups unshare -Urn true 2>/dev/null; then
	how=(setpriv --reuid=65534 --regid=65534 --clear-groups unshare -Urn)
	who="unprivileged, in unshare -Urn"
else
	diag "user namespaces cannot be created here (a chroot?): as root in a fresh namespace"
	setup_ns M
	how=(ip netns exec "$M")
	who="fresh namespace"
fi
for phase in txn:$((8 << 20)) table:$((256 << 10)); do
	what=${phase%%:*} limit=${phase#*:}
	[ ! -w $P ] || echo "$limit" >$P
	res=$("${how[@]}" python3 "$DIR/nsuse.py" "$what" "$limit" 2>&1)
	echo "$res" | sed 's/^/# /'
	read -r _ n bytes err msg <<<"$(echo "$res" | grep "^$what ")"
	if [ "${err:-0}" = 7 ] && [ "${bytes:-0}" -le "$limit" ] &&
		[ "${bytes:-0}" -ge $((limit / 8)) ] && [[ $msg == *"$limit"* ]]; then
		ok "$who, $what: E2BIG after $n intercepts (~$bytes of $limit bytes): $msg"
	else
		not_ok "$who, $what: E2BIG at the limit of $limit bytes (got $n intercepts, ~${bytes:-?} bytes, errno ${err:-?} $msg)"
	fi
done

# The peak: while a table compiles, the namespace's intercept memory (the
# table's intercepts, the rules array, the compile's scratch and the matcher
# it builds) stays within max_ns_bytes too, not only the table it leaves.
# Measured with the memory cgroup (the kernel's allocations are
# GFP_KERNEL_ACCOUNT) of a transaction committing a table 1.5 times the limit
# in a new namespace (E2BIG): its peak (memory.peak) less its charge just
# before the commit (memory.current, read by the process itself: the process,
# its messages and the transaction's intercepts), i.e. what the commit's
# compile allocated. Allowed over the limit: 1 MiB (per-CPU charge batches of
# 256 KiB, netlink buffers). (Until 2026-12-04 the process's own memory was
# taken from a second run that only built the messages: that estimate varied
# by megabytes between runs, 0.9 to 3.6 MB "over" with the same module.)
peak_limit=$((2 << 20))
CG=$(mktemp -d)
on_exit rmdir "$CG"
if mount -t cgroup2 none "$CG" 2>/dev/null; then
	on_exit umount "$CG"
	echo +memory >"$CG/cgroup.subtree_control" 2>/dev/null
fi
if [ -w $P ] && [ -e "$CG/cgroup.subtree_control" ] &&
	grep -qw memory "$CG/cgroup.subtree_control"; then
	echo "$peak_limit" >$P
	if [ "${how[0]}" = ip ]; then # the same namespace still holds the table above
		setup_ns M2
		how=(ip netns exec "$M2")
	fi
	mkdir "$CG/run"
	on_exit rmdir "$CG/run"
	# shellcheck disable=SC2016 # $$ is the inner shell's
	PEAK_CG="$CG/run" sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG/run" \
		"${how[@]}" python3 "$DIR/nsuse.py" peak "$peak_limit" >"$CG.run.out" 2>&1
	peak=$(cat "$CG/run/memory.peak")
	sed 's/^/# /' "$CG.run.out"
	read -r _ n _ err before msg <"$CG.run.out"
	rm -f "$CG.run.out"
	[[ $before =~ ^[0-9]+$ ]] || before=$peak
	over=$((peak - before - peak_limit))
	if [ "${err:-0}" = 7 ] && [ "$over" -le $((1 << 20)) ]; then
		ok "$who, compile peak: E2BIG committing $n intercepts, peak $((peak - before)) bytes above the charge before the commit, for a limit of $peak_limit"
	else
		not_ok "$who, compile peak within the limit" "E2BIG? errno ${err:-?} committing $n intercepts: $msg" \
			"peak $((peak - before)) bytes above the charge before the commit (cgroup peak $peak, before $before) for a limit of $peak_limit"
	fi
else
	skip "$who, compile peak within the limit" "no writable max_ns_bytes or no cgroup2 memory controller"
fi
done_testing
