# SPDX-License-Identifier: GPL-2.0
# The Ziti network of a VM run's end-to-end tests, run natively on the host; sourced by the
# VM runners (selftests/vm/run.sh, selftests/vm/pkg-root.sh), not run.
#
# Under TCG the Go controller and router took about a third of a test guest's CPU (daemon.sh:
# 90 of 266 guest CPU-seconds; pkg-root's call: 54 of 163), and starved of it they answered
# seconds late: sipovld's controller requests timed out, calls lost their RTP. Here they run
# on the host (native, ~10x cheaper), one network per VM run, in a network namespace of the
# run's own (concurrent runs never meet):
#
#   host netns sipovl-zt-PID: lo 10.99.0.1-3 (the controllers, the router), tap zt0 10.99.254.1/24,
#                             10.0.0.0/8 via the guest (10.99.254.2); QEMU runs in it (it opens
#                             the tap by name there) and gets a virtio NIC, MAC 52:54:00:99:00:02
#   guest:                    daemon-lib.sh moves that NIC into its ZT namespace (10.99.254.2,
#                             10.99.0.0/29 via the host), which then routes between the sites and
#                             the host instead of running Ziti
#
# The guest asks for the network with tests/daemon/vmnet.sh as before: in a guest whose
# results directory has a ztrpc/ directory (made here) its start, start-ha, stop, kill-ctrl,
# start-ctrl and host-cpu are requests (ID.req; the answer in ID.out and ID.rc) served by
# zthost_serve, which runs vmnet.sh here with the state under RESULTS/zt (its logs kept with
# the results). SIPOVL_VM_ZITI=guest keeps the old way (the network inside the guest).
#
#   zthost_up             the namespace and tap; sets ZTHOST_NS and ZTHOST_QEMU (QEMU arguments)
#   zthost_serve DIR      start serving DIR/ztrpc (DIR: the results directory the guest sees);
#                         stops the previous one's network and server first
#   zthost_stop           stop serving and the network (once QEMU has exited)
#   zthost_down           the same, then every process left in the namespace and the namespace
# A runner killed with SIGKILL leaves its namespace: the next zthost_up removes it.

# shellcheck disable=SC2034 # ZTHOST_QEMU: the runners'
ZTHOST_NS='' ZTHOST_QEMU=() ZTHOST_PID='' ZTHOST_DIR=''
ZTHOST_MAC=52:54:00:99:00:02
_ZTHOST_VMNET=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tests/daemon/vmnet.sh

zthost_up() {
	local a n p
	# namespaces of runners that died without their clean-up (SIGKILL): their processes too
	for n in $(ip netns list 2>/dev/null | awk '$1 ~ /^sipovl-zt-[0-9]+$/ { print $1 }'); do
		! kill -0 "${n#sipovl-zt-}" 2>/dev/null || continue
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
		ip netns del "$n" 2>/dev/null || true
	done
	ip netns add "sipovl-zt-$$" || return 1
	ZTHOST_NS=sipovl-zt-$$
	ip -n "$ZTHOST_NS" link set lo up
	for a in 10.99.0.1 10.99.0.2 10.99.0.3; do ip -n "$ZTHOST_NS" addr add "$a/32" dev lo || return 1; done
	ip -n "$ZTHOST_NS" tuntap add dev zt0 mode tap &&
		ip -n "$ZTHOST_NS" addr add 10.99.254.1/24 dev zt0 &&
		ip -n "$ZTHOST_NS" link set zt0 up &&
		ip -n "$ZTHOST_NS" route add 10.0.0.0/8 via 10.99.254.2 dev zt0 onlink || return 1
	ZTHOST_QEMU=(-netdev "tap,id=zt,ifname=zt0,script=no,downscript=no"
		-device "virtio-net-pci,netdev=zt,mac=$ZTHOST_MAC,romfile=")
}

# one request: VERB ARGS... (the guest's: checked before use; the network's tarball only one a
# build made, never one from the results directory the guest writes)
_zthost_one() {
	local v=${1:-} p t=0 _stat _f
	shift || true
	case $v in
	start | start-ha)
		p=$(realpath -e "${1:-}" 2>/dev/null) && [ $# = 1 ] && [ -f "$p" ] && [ ! -L "$1" ] &&
			[[ ${p##*/} =~ ^daemon-zitinet(-ha)?\.tar\.gz$ ]] && [[ $p != "$ZTHOST_DIR"/* ]] ||
			{ echo "zthost: bad request: $v $*"; return 2; }
		"$_ZTHOST_VMNET" stop
		"$_ZTHOST_VMNET" "$v" "$p" "$ZTHOST_NS" ;;
	stop) [ $# = 0 ] || { echo "zthost: bad request: stop $*"; return 2; }; "$_ZTHOST_VMNET" stop ;;
	kill-ctrl)
		[[ ${1:-} =~ ^[123]$ ]] && [[ ${2:-KILL} =~ ^(KILL|TERM|STOP|CONT)$ ]] && [ $# -le 2 ] ||
			{ echo "zthost: bad request: kill-ctrl $*"; return 2; }
		"$_ZTHOST_VMNET" kill-ctrl "$1" "${2:-KILL}" ;;
	start-ctrl)
		[ $# = 1 ] && [[ $1 =~ ^[123]$ ]] || { echo "zthost: bad request: start-ctrl $*"; return 2; }
		"$_ZTHOST_VMNET" start-ctrl "$1" "$ZTHOST_NS" ;;
	tcp-retries2) # the router's TCP (multigw.sh: a gateway dead without a FIN)
		[ $# = 1 ] && [[ $1 =~ ^[1-9][0-9]?$ ]] || { echo "zthost: bad request: tcp-retries2 $*"; return 2; }
		ip netns exec "$ZTHOST_NS" sysctl -qw "net.ipv4.tcp_retries2=$1" ;;
	host-cpu) # the CPU seconds of the namespace's processes but QEMU (the controllers, the router)
		[ $# = 0 ] || { echo "zthost: bad request: host-cpu $*"; return 2; }
		for p in $(ip netns pids "$ZTHOST_NS"); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" != qemu-system-x86 ] || continue
			_stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
			read -r -a _f <<<"${_stat##*) }"
			t=$((t + _f[11] + _f[12] + _f[13] + _f[14]))
		done
		echo "$((t / $(getconf CLK_TCK)))" ;;
	*) echo "zthost: unknown request: $v $*"; return 2 ;;
	esac
}

# The loop: one request at a time, in a child it kills when it is stopped itself. The guest
# can make symbolic links in its results directory: names are checked, links refused, and the
# answer is written to a new file renamed into place (a rename replaces a link).
_zthost_loop() { # DIR
	local d=$1/ztrpc f id req child='' out rc
	set +e
	trap '[ -z "$child" ] || { pkill -TERM -P "$child"; kill "$child"; } 2>/dev/null; exit 0' TERM
	export SIPOVLD_ZN_DIR=$1/zt VMNET_LOCAL=1
	while sleep 0.2; do
		for f in "$d"/*.req; do
			[ -e "$f" ] || continue
			id=${f%.req}
			[[ ${id##*/} =~ ^[0-9]+-[0-9]+$ ]] && [ ! -L "$f" ] || { rm -f "$f"; continue; }
			mv "$f" "$id.run" 2>/dev/null || continue
			req=()
			read -r -a req <"$id.run"
			rm -f "$id.run"
			out=$(mktemp "$d/.out.XXXXXX") || continue
			_zthost_one ${req[@]+"${req[@]}"} >"$out" 2>&1 </dev/null &
			child=$!
			wait "$child"
			rc=$?
			child=''
			mv -f "$out" "$id.out"
			out=$(mktemp "$d/.rc.XXXXXX") && echo "$rc" >"$out" && mv -f "$out" "$id.rc"
		done
	done
}

zthost_serve() { # DIR
	_zthost_stop_serving
	ZTHOST_DIR=$1
	mkdir -p "$1/ztrpc" || return 1
	_zthost_loop "$1" </dev/null >/dev/null 2>&1 &
	ZTHOST_PID=$!
}

# zthost_stop: stop serving, and the network: every process of the namespace but QEMU (none
# once the guest is off)
zthost_stop() { _zthost_stop_serving; }
_zthost_stop_serving() {
	local p
	# (every step may fail: this runs from the runners' exit traps, under set -e)
	[ -z "$ZTHOST_PID" ] || { kill "$ZTHOST_PID" 2>/dev/null; wait "$ZTHOST_PID" 2>/dev/null; } || true
	ZTHOST_PID=''
	[ -z "$ZTHOST_DIR" ] || SIPOVLD_ZN_DIR=$ZTHOST_DIR/zt VMNET_LOCAL=1 "$_ZTHOST_VMNET" stop >/dev/null 2>&1 || true
	if [ -n "$ZTHOST_NS" ]; then
		for p in $(ip netns pids "$ZTHOST_NS" 2>/dev/null); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = qemu-system-x86 ] || kill -KILL "$p" 2>/dev/null || true
		done
	fi
	# the unpacked state but the logs (kept with the results)
	[ -z "$ZTHOST_DIR" ] || find "$ZTHOST_DIR/zt" -mindepth 1 -maxdepth 1 ! -name '*.log' -exec rm -rf {} + 2>/dev/null || true
	ZTHOST_DIR=''
	return 0
}

zthost_down() {
	local p
	_zthost_stop_serving
	[ -n "$ZTHOST_NS" ] || return 0
	for p in $(ip netns pids "$ZTHOST_NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
	ip netns del "$ZTHOST_NS" 2>/dev/null || true
	ZTHOST_NS=''
	return 0
}
