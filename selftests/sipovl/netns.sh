#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Network namespace teardown frees everything sipovl holds for the namespace:
# tables, intercepts, counters, source ranges, registered sockets. Ten namespaces each get 10k intercepts; the kernel's slab,
# per-CPU and vmalloc usage must grow while they exist and come back when
# they are deleted, and the module must then unload.
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd ip

BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
CTL=$BIN/sipovlctl
PEER=$BIN/selftests/peer
[ -x "$CTL" ] && [ -x "$PEER" ] || bail_out "build first: $CTL $PEER"
load_module

TMP=$(mktemp -d)
on_exit rm -rf "$TMP"
for i in $(seq 1 10000); do
	printf 'intercept n%d id %d proto udp,tcp addr 10.%d.%d.0/24,fd00:%x::/64 port 5060,7000-8000\n' \
		"$i" "$i" $((i >> 8 & 255)) $((i & 255)) "$i"
done >"$TMP/t"

# Kernel memory that sipovl's objects live in, in kB.
kmem() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	awk '/^(Slab|Percpu|VmallocUsed):/ { s += $2 } END { print s }' /proc/meminfo
}

base=$(kmem)
names=()
for i in $(seq 1 10); do
	ns=nsx$i-$(mktemp -u XXXXXX)
	ip netns add "$ns"
	on_exit ip netns del "$ns"
	names+=("$ns")
	ip netns exec "$ns" "$CTL" apply "$TMP/t" || bail_out "apply failed in $ns"
	ip netns exec "$ns" "$CTL" sources set 10.200.0.0/16 || bail_out "sources failed in $ns"
	# Registered daemon sockets: the kernel holds them until the daemon
	# closes them (the process is killed before the namespace is deleted).
	ip netns exec "$ns" "$PEER" listen -4 --port 9999 >/dev/null 2>&1 &
done
sleep 1
peak=$(kmem)
for ns in "${names[@]}"; do
	ip netns pids "$ns" | xargs -r kill
	ip netns del "$ns"
done
grow=$((peak - base))
diag "kernel memory: base $base kB, with 10 namespaces $peak kB (+$grow kB)"
if [ $grow -ge 20000 ]; then
	ok "10 namespaces x 10k intercepts take measurable memory (+$grow kB)"
else
	not_ok "10 namespaces x 10k intercepts take measurable memory (+$grow kB, want >= 20000)"
fi

# Namespace cleanup and RCU frees are asynchronous: wait for them.
back() {
	now=$(kmem)
	[ $((now - base)) -le $((grow / 10)) ]
}
slowwait 60 back || true
back || true
diag "after deleting them: $now kB ($((now - base)) kB above base)"
if [ $((now - base)) -le $((grow / 10)) ]; then
	ok "namespace teardown returned the memory (within 10% of the growth)"
else
	not_ok "namespace teardown returned the memory (still $((now - base)) kB above base of $grow kB growth)"
fi
check "module unloads afterwards" unload_module
done_testing
