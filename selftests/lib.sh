#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Helpers for sipovl's selftests (bash). Source it first thing:
#
#   #!/bin/bash
#   source "$(dirname "$0")/../lib.sh"
#   require_cmd ip nft
#   plan 2
#   setup_ns NS1 NS2
#   load_module
#   check "family registered" genl_family_exists sipovl
#   ...
#   done_testing
#
# Conventions (Documentation/testing.md): TAP 13 on stdout; exit 0 pass,
# 1 fail, 4 skip. Everything the test creates lives in network namespaces with
# random suffixes (setup_ns) and is removed on exit, with the module unloaded.
# Register further cleanup with on_exit, never with `trap ... EXIT`.
# Do not clear the kernel log: the runner checks it after every file.

# shellcheck disable=SC2034
ksft_pass=0 ksft_fail=1 ksft_xfail=2 ksft_skip=4

SIPOVL_TOP=${SIPOVL_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SIPOVL_KO=${SIPOVL_KO:-}
WAIT_TIMEOUT=${WAIT_TIMEOUT:-20}
BUSYWAIT_TIMEOUT=$((WAIT_TIMEOUT * 1000))

_tap_n=0 _tap_fail=0 _tap_skip=0 _tap_plan='' _tap_header=0
NS_LIST=()
_on_exit=()
_module_loaded_by_us=0

_tap_header() {
	[ $_tap_header = 1 ] && return
	_tap_header=1
	echo "TAP version 13"
}

# plan N: announce N test points.
plan() {
	_tap_header
	_tap_plan=$1
	echo "1..$1"
}

# diag MSG...: a TAP comment line.
diag() { printf '# %s\n' "$*"; }

ok() {
	_tap_header
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n $*"
}

# not_ok DESC [DETAIL...]: a failed test point; DETAIL lines become comments.
not_ok() {
	_tap_header
	_tap_n=$((_tap_n + 1))
	_tap_fail=$((_tap_fail + 1))
	echo "not ok $_tap_n $1"
	shift
	local l
	for l in "$@"; do diag "$l"; done
}

# skip DESC REASON: a skipped test point.
skip() {
	_tap_header
	_tap_n=$((_tap_n + 1))
	_tap_skip=$((_tap_skip + 1))
	echo "ok $_tap_n $1 # SKIP $2"
}

# check DESC CMD...: one test point, passing when CMD succeeds. CMD's output is
# shown (as comments) only when it fails.
check() {
	local desc=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if [ $rc = 0 ]; then
		ok "$desc"
	else
		not_ok "$desc" "command failed (exit $rc): $*"
		[ -z "$out" ] || sed 's/^/#   /' <<<"$out"
	fi
	return $rc
}

# check_fail DESC CMD...: one test point, passing when CMD fails.
check_fail() {
	local desc=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if [ $rc != 0 ]; then
		ok "$desc"
		return 0
	fi
	not_ok "$desc" "command unexpectedly succeeded: $*"
	[ -z "$out" ] || sed 's/^/#   /' <<<"$out"
	return 1
}

# done_testing: print the plan if none was given, exit with the TAP status:
# 1 if anything failed, 4 if every point was skipped, else 0.
done_testing() {
	[ -n "$_tap_plan" ] || plan "$_tap_n"
	if [ $_tap_fail -gt 0 ]; then
		diag "$_tap_fail of $_tap_n failed"
		exit $ksft_fail
	fi
	if [ "$_tap_n" -gt 0 ] && [ $_tap_skip = "$_tap_n" ]; then
		exit $ksft_skip
	fi
	exit $ksft_pass
}

# skip_all REASON: skip the whole file.
skip_all() {
	_tap_header
	echo "1..0 # SKIP $*"
	exit $ksft_skip
}

# bail_out REASON: abort the whole file as failed.
bail_out() {
	_tap_header
	echo "Bail out! $*"
	exit $ksft_fail
}

require_root() {
	[ "$(id -u)" = 0 ] || skip_all "needs root"
}

# require_cmd CMD...: skip the file when a tool is missing.
require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_all "$c not installed"
	done
}

# on_exit CMD...: run CMD when the test exits (last registered runs first).
on_exit() {
	local q
	printf -v q '%q ' "$@"
	_on_exit=("$q" ${_on_exit[@]+"${_on_exit[@]}"})
}

_lib_exit() {
	local rc=$? c
	set +e
	for c in ${_on_exit[@]+"${_on_exit[@]}"}; do
		eval "$c" >/dev/null 2>&1
	done
	cleanup_all_ns
	[ $_module_loaded_by_us = 0 ] || unload_module >/dev/null 2>&1
	exit $rc
}
trap _lib_exit EXIT

# setup_ns VAR...: create one network namespace per VAR, named VAR-<random>,
# with lo up; the name is stored in $VAR. Removed on exit.
setup_ns() {
	local var name
	for var in "$@"; do
		name=$var-$(mktemp -u XXXXXXXX)
		ip netns add "$name" || bail_out "cannot create network namespace $name"
		NS_LIST+=("$name")
		ip -n "$name" link set lo up
		printf -v "$var" '%s' "$name"
	done
}

# cleanup_ns NAME...: delete namespaces (and everything in them) now.
cleanup_ns() {
	local ns i
	for ns in "$@"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "$ns" 2>/dev/null
		for i in "${!NS_LIST[@]}"; do
			[ "${NS_LIST[$i]}" != "$ns" ] || unset 'NS_LIST[i]'
		done
	done
	return 0
}

cleanup_all_ns() {
	[ ${#NS_LIST[@]} -eq 0 ] || cleanup_ns "${NS_LIST[@]}"
}

# ns_addrs: for each line "NS DEV ADDR/LEN" on stdin, add the address to the
# device in that namespace (IPv6 without DAD) and set the device up.
ns_addrs() {
	local ns dev addr
	while read -r ns dev addr; do
		case $addr in
		*:*) ip -n "$ns" addr add "$addr" dev "$dev" nodad ;;
		*) ip -n "$ns" addr add "$addr" dev "$dev" ;;
		esac
		ip -n "$ns" link set "$dev" up
	done
}

# topo_gateway: the client / gateway / server topology of the steering tests,
# in new namespaces $CLI, $GW and $SRV (veth pairs need the veth module):
#
#   cli c0 10.1.0.2 fd01::2 --- g0 10.1.0.1 fd01::1  gw  g1 10.2.0.1 fd02::1 --- s0 10.2.0.2 fd02::2 srv
#
# The client and the server route everything through the gateway, which
# forwards (IPv4 and IPv6). Links up, IPv6 addresses without DAD.
topo_gateway() {
	setup_ns CLI GW SRV
	ip link add c0 netns "$CLI" type veth peer name g0 netns "$GW" ||
		bail_out "cannot create veth (modprobe veth?)"
	ip link add s0 netns "$SRV" type veth peer name g1 netns "$GW" ||
		bail_out "cannot create veth (modprobe veth?)"
	ns_addrs <<-EOF
		$CLI c0 10.1.0.2/24
		$CLI c0 fd01::2/64
		$GW g0 10.1.0.1/24
		$GW g0 fd01::1/64
		$GW g1 10.2.0.1/24
		$GW g1 fd02::1/64
		$SRV s0 10.2.0.2/24
		$SRV s0 fd02::2/64
	EOF
	ip -n "$CLI" route add default via 10.1.0.1
	ip -n "$CLI" -6 route add default via fd01::1
	ip -n "$SRV" route add default via 10.2.0.1
	ip -n "$SRV" -6 route add default via fd02::1
	ip netns exec "$GW" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

# load_module [PARAM=VALUE...]: insmod the freshly built sipovl.ko ($SIPOVL_KO);
# unloaded on exit.
load_module() {
	[ -n "$SIPOVL_KO" ] || bail_out "SIPOVL_KO is not set (run me with selftests/vm/run.sh)"
	[ -f "$SIPOVL_KO" ] || bail_out "no module at SIPOVL_KO=$SIPOVL_KO"
	# Debian's modules the overlay depends on.
	modprobe -q nf_tproxy_ipv4 2>/dev/null || true
	modprobe -q nf_tproxy_ipv6 2>/dev/null || true
	modprobe -q nf_defrag_ipv4 2>/dev/null || true
	modprobe -q nf_defrag_ipv6 2>/dev/null || true
	modprobe -q nf_reject_ipv4 2>/dev/null || true
	modprobe -q nf_reject_ipv6 2>/dev/null || true
	insmod "$SIPOVL_KO" "$@" || bail_out "insmod $SIPOVL_KO failed"
	_module_loaded_by_us=1
}

unload_module() {
	if [ -d /sys/module/sipovl ]; then
		rmmod sipovl || return 1
	fi
	_module_loaded_by_us=0
}

# busywait TIMEOUT_MS CMD...: retry CMD until it succeeds or TIMEOUT_MS passes;
# returns CMD's last status and prints its last output.
busywait() {
	local timeout_ms=$1 start now out rc
	shift
	start=$(date +%s%3N)
	while :; do
		rc=0
		out=$("$@" 2>&1) || rc=$?
		now=$(date +%s%3N)
		if [ $rc = 0 ] || [ $((now - start)) -ge "$timeout_ms" ]; then
			[ -z "$out" ] || echo "$out"
			return $rc
		fi
		sleep 0.05
	done
}

# slowwait TIMEOUT_S CMD...: like busywait, polling every 0.1 s, in seconds.
slowwait() {
	local s=$1
	shift
	busywait $((s * 1000)) "$@"
}

# in_vm: true inside the runner's VM (tests may refuse to run on a host).
in_vm() { [ "${SIPOVL_IN_VM:-}" = 1 ]; }
