#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Shared setup of the sipovld end-to-end selftests (daemon.sh, daemon-update.sh, daemon-ha.sh, multigw.sh);
# sourced, not run.
# Two sites joined by a Ziti network, each gateway running sipovl.ko and sipovld with its own
# identity:
#
#   PA 10.1.0.2 fd01::2 -- GWA 10.1.0.1 | 10.99.1.2 -- ZT 10.99.0.1 -- 10.99.2.2 | GWB 10.2.0.1 -- PB 10.2.0.2 fd02::2
#   (phone A)              (gw-a)            (controller+router)          (gw-b)        (SIP server, phone B)
#
# The Ziti network is provisioned on the host by tests/daemon/vmnet.sh (make tests builds
# build/daemon-zitinet.tar.gz) and run on the host too, by the VM runner
# (selftests/vm/zthost.sh): ZT is then this guest's router to it, through the NIC the runner
# gives the guest (10.99.254.2; the host 10.99.254.1 owns 10.99.0.1-3). With
# SIPOVL_VM_ZITI=guest the network runs here, in ZT, as before (see vmnet.sh why it is
# provisioned on the host either way).
#
#   daemon_net RESULTS_SUBDIR [ha]  topology + Ziti network; logs kept in /run/sipovl-vm/RESULTS_SUBDIR
#                               (loads $SIPOVL_KO, or with DAEMON_MODULE=loaded uses the loaded sipovl;
#                               DAEMON_GWA=init: gw-a is the machine's own network namespace, named
#                               $GWA for ip netns, where a system's sipovld.service runs);
#                               ha: the three-controller cluster of vmnet.sh prepare-ha (ZT owns
#                               10.99.0.1-3, one controller each; build/daemon-zitinet-ha.tar.gz)
#   start_gw SITE NS [ARGS...]  start sipovld for site a|b in NS (extra daemon arguments)
#   start_gw_only SITE NS ARGS...  the same with only ARGS (no -i, -l: a config file's own)
#   gateways_ready              wait until both gateways intercept and host their services
#   sipp_scenarios              $TMP/uac_pcap.xml and $TMP/uas.xml (SIPp's, see there)
# and the helpers st, ready, waitfor, bg, expect, in_pa, in_pb, el.
# shellcheck disable=SC2034 # variables used by the sourcing files
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
require_root
require_cmd ip jq nft sipp curl

BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
D=$BIN/sipovld
PEER=$BIN/selftests/peer
CTL=$BIN/sipovlctl
NET=$BIN/daemon-zitinet.tar.gz
VMNET=$SIPOVL_TOP/tests/daemon/vmnet.sh
[ -x "$D" ] && [ -x "$PEER" ] && [ -x "$CTL" ] || bail_out "build first (make tests): $D $PEER $CTL"
T0=$(date +%s)
el() { echo $(($(date +%s) - T0)); }
SIPOVLD_ZN_DIR=/tmp/sipovld-zn # fixed: the packed state has absolute paths
# the controllers' and router's logs: on the host, in the results directory (zthost.sh)
ZT_ON_HOST=
ZT_LOGS=$SIPOVLD_ZN_DIR
if [ -d /run/sipovl-vm/ztrpc ]; then
	ZT_ON_HOST=1 ZT_LOGS=/run/sipovl-vm/zt
fi

link() { # link NS1 IF1 ADDR1[,ADDR6] NS2 IF2 ADDR2[,ADDR6]
	# made from inside NS1: the kernel looks a new link's name up in the namespace it is asked
	# in, and the names repeat across namespaces (with DAEMON_GWA=init this one is gw-a's)
	ip -n "$1" link add "$2" type veth peer name "$5" netns "$4"
	local a
	for a in ${3//,/ }; do ip -n "$1" addr add "$a" dev "$2" nodad 2>/dev/null || ip -n "$1" addr add "$a" dev "$2"; done
	for a in ${6//,/ }; do ip -n "$4" addr add "$a" dev "$5" nodad 2>/dev/null || ip -n "$4" addr add "$a" dev "$5"; done
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}

# cpu_report: where the guest's CPU went since daemon_net, as a diag line: the Ziti controller
# and router (when they run in this guest), the running sipovld processes, the rest (SIPp, the
# phones, the kernel, the test itself); and the Ziti network's host CPU when it runs there.
# Called before done_testing.
_ticks() { # _ticks PID...: their CPU ticks (their own and their waited-for children's)
	local p t=0 _stat _f
	for p in "$@"; do
		_stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		read -r -a _f <<<"${_stat##*) }"
		t=$((t + _f[11] + _f[12] + _f[13] + _f[14]))
	done
	echo "$t"
}
_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
cpu_report() {
	[ -n "${_busy0:-}" ] || return 0
	local hz all zt sd
	hz=$(getconf CLK_TCK)
	all=$(($(_busy) - _busy0))
	# shellcheck disable=SC2046 # pid lists
	zt=$(_ticks $(ip netns pids "$ZT" 2>/dev/null))
	# shellcheck disable=SC2046
	sd=$(_ticks $(pgrep -x sipovld))
	[ "$all" -gt 0 ] || return 0
	local where="in the guest"
	[ -z "$ZT_ON_HOST" ] || where="in the guest (it runs on the host: $("$VMNET" host-cpu 2>&1) s of host CPU there)"
	diag "guest CPU since the network's start: $((all / hz)) s; ziti controller+router $where $((zt / hz)) s ($((100 * zt / all)) %), sipovld (running processes) $((sd / hz)) s ($((100 * sd / all)) %), the rest $(((all - zt - sd) / hz)) s ($(nproc) vCPU(s), t=$(el)s)"
}

# zt_uplink: the runner's NIC (zthost.sh, MAC 52:54:00:99:00:02) into ZT, which then routes
# between the sites' links and the host's Ziti network (10.99.0.1-3)
zt_uplink() {
	local d i='' n
	modprobe -q virtio_net || bail_out "no virtio_net module"
	# (a NIC that was in a deleted namespace comes back to this one: asynchronously)
	for n in $(seq 1 120); do
		for d in /sys/class/net/*; do
			[ "$(cat "$d/address" 2>/dev/null)" = 52:54:00:99:00:02 ] && { i=${d##*/}; break 2; }
		done
		sleep 0.5
	done
	[ -n "$i" ] || bail_out "no NIC with MAC 52:54:00:99:00:02 (the VM runner's, selftests/vm/zthost.sh)"
	ip link set "$i" netns "$ZT" && ip -n "$ZT" link set "$i" name h0 && ip -n "$ZT" addr add 10.99.254.2/24 dev h0 &&
		ip -n "$ZT" link set h0 up && ip -n "$ZT" route add 10.99.0.0/29 via 10.99.254.1 &&
		ip netns exec "$ZT" sysctl -qw net.ipv4.ip_forward=1 || bail_out "cannot route ZT to the host's Ziti network"
}

daemon_net() { # daemon_net RESULTS_SUBDIR [ha]
	local how=start a
	_busy0=$(_busy)
	if [ "${2:-}" = ha ]; then
		NET=$BIN/daemon-zitinet-ha.tar.gz how=start-ha
		[ -f "$NET" ] || bail_out "no $NET: run make daemon-ha-net (tests/daemon/vmnet.sh prepare-ha $NET)"
	else
		[ -f "$NET" ] || bail_out "no $NET: run make tests (tests/daemon/vmnet.sh prepare $NET)"
	fi
	TMP=$(mktemp -d)
	on_exit rm -rf "$TMP"
	# keep the daemons' logs and SIPp traces in the VM results directory (when run by the runner)
	if [ -d /run/sipovl-vm ] && [ -w /run/sipovl-vm ]; then
		on_exit bash -c "mkdir -p /run/sipovl-vm/$1 && cp $TMP/*.log $TMP/*.err $TMP/*.out $TMP/*.csv $TMP/*.xml $TMP/*.pcap /run/sipovl-vm/$1/ 2>/dev/null; cp $ZT_LOGS/router.log /run/sipovl-vm/$1/ziti-router.log 2>/dev/null; for c in $ZT_LOGS/ctrl*.log; do cp \$c /run/sipovl-vm/$1/ziti-\${c##*/} 2>/dev/null; done; true"
	fi

	# --- the Ziti network, started first: under TCG the controller's start is the longest
	# step (20-60 s), and it needs only its namespace; the rest is built meanwhile.
	setup_ns ZT
	if [ -n "$ZT_ON_HOST" ]; then
		zt_uplink
	else
		for a in 10.99.0.1 10.99.0.2 10.99.0.3; do
			ip -n "$ZT" addr add $a/32 dev lo
			[ $how = start-ha ] || break
		done
	fi
	on_exit "$VMNET" stop
	"$VMNET" $how "$NET" "$ZT" 2>"$TMP/vmnet.err" &
	local vmnet=$!
	on_exit kill "$vmnet"

	# DAEMON_MODULE=loaded: the module is already loaded (the package test's DKMS-built one)
	if [ "${DAEMON_MODULE:-}" = loaded ]; then
		[ -d /sys/module/sipovl ] || bail_out "DAEMON_MODULE=loaded but sipovl is not loaded"
	else
		load_module
	fi
	modprobe -q veth || bail_out "no veth module"
	diag "module loaded (t=$(el)s)"
	if [ "${DAEMON_GWA:-}" = init ]; then
		# a name for PID 1's namespace; never in NS_LIST, whose clean-up kills every process
		# of a namespace: only the name goes on exit
		setup_ns PA GWB PB
		GWA=GWA-init-$(mktemp -u XXXXXXXX)
		ip netns attach "$GWA" 1 || bail_out "ip netns attach $GWA 1"
		on_exit ip netns del "$GWA"
	else
		setup_ns PA GWA GWB PB
	fi
	link "$PA" p0 10.1.0.2/24,fd01::2/64 "$GWA" l0 10.1.0.1/24,fd01::1/64
	link "$GWA" u0 10.99.1.2/24 "$ZT" a0 10.99.1.1/24
	link "$GWB" u0 10.99.2.2/24 "$ZT" b0 10.99.2.1/24
	link "$PB" p0 10.2.0.2/24,fd02::2/64 "$GWB" l0 10.2.0.1/24,fd02::1/64
	ip -n "$PA" route add default via 10.1.0.1
	ip -n "$PA" -6 route add default via fd01::1
	ip -n "$PB" route add default via 10.2.0.1
	ip -n "$PB" -6 route add default via fd02::1
	ip -n "$GWA" route add default via 10.99.1.1
	ip -n "$GWB" route add default via 10.99.2.1
	local ns
	for ns in "$GWA" "$GWB"; do
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	done
	diag "topology up (t=$(el)s)"

	wait "$vmnet" || bail_out "ziti network: $(cat "$TMP/vmnet.err")"
	diag "$(cat "$TMP/vmnet.err") (t=$(el)s)"
}

# --- the gateways
start_gw() { # start_gw SITE NS [ARGS...]
	local site=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$D" -i "$SIPOVLD_ZN_DIR/gw-$site.json" -l debug --control "$TMP/$site.sock" \
		"$@" 2>"$TMP/$site.log" &
	echo $! >"$TMP/$site.pid"
	on_exit kill "$!"
}

start_gw_only() { # start_gw_only SITE NS ARGS...
	local site=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$D" --control "$TMP/$site.sock" "$@" 2>"$TMP/$site.log" &
	echo $! >"$TMP/$site.pid"
	on_exit kill "$!"
}

st() { "$D" --control "$TMP/$1.sock" --request "${2:-status}" 2>/dev/null; }
# ready SITE: the other site's service is intercepted and its own is hosted
ready() {
	local o=a
	[ "$1" = a ] && o=b
	# -n and input: jq 1.6's -e exits 0 on an empty input (the daemon not answering yet)
	st "$1" | jq -en --arg i "site-$o" --arg h "site-$1" 'input |
		([.services[] | select(.name == $i) | .intercept.installed] == [true]) and
		([.services[] | select(.name == $h) | .host.listening] == [true])' >/dev/null 2>&1
}
waitfor() { # waitfor SECONDS CMD...: poll once a second
	local s=$1 i
	shift
	for ((i = 0; i < s; i++)); do
		"$@" && return 0
		sleep 1
	done
	return 1
}
gateways_ready() {
	if waitfor 240 ready a && waitfor 60 ready b; then
		ok "both gateways: Ziti services intercepted and hosted (t=$(el)s)"
	else
		not_ok "both gateways: Ziti services intercepted and hosted" "gw-a: $(tail -5 "$TMP/a.log" | tr '\n' '|')" \
			"gw-b: $(tail -5 "$TMP/b.log" | tr '\n' '|')"
		tail -20 "$ZT_LOGS/router.log" 2>/dev/null | sed 's/^/#   router: /' | cut -c1-300
		bail_out "gateways not ready"
	fi
}

bg() { # bg NS NAME CMD...: start a server, wait for "ready"
	local ns=$1 name=$2
	shift 2
	ip netns exec "$ns" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	on_exit kill $!
	waitfor 10 grep -q ready "$TMP/$name.out" || bail_out "server $name did not start"
}
expect() { # expect DESC PATTERN CMD...
	local desc=$1 pat=$2 out rc=0
	shift 2
	out=$("$@" 2>&1) || rc=$?
	if [ $rc = 0 ] && grep -Eq -- "$pat" <<<"$out"; then
		ok "$desc"
	else
		not_ok "$desc" "expected /$pat/ from: $*" "got (exit $rc): $out" "$(gw_counters)"
	fi
}
# gw_counters: the gateways' flow counters, for a failure's diagnostics (where a datagram went)
gw_counters() {
	local g
	for g in a b; do
		printf 'gw-%s: %s\n' $g "$(st $g 2>/dev/null | jq -c '.counters | {udp_intercepted, dials_ok, dials_failed,
			dial_timeouts, hosted_udp, hosted_udp_redialed, udp_dropped, unmatched, datagrams_dropped_late,
			packets_to_ziti, packets_from_ziti}' 2>/dev/null)"
	done
}
# sipp_scenarios: $TMP/uac_pcap.xml (SIPp's built-in UAC with RTP, pcap paths made absolute)
# and $TMP/uas.xml (the built-in UAS made to absorb INVITE retransmissions, see below)
sipp_scenarios() {
	sipp -sd uac_pcap 2>/dev/null | sed 's#pcap/#/usr/share/sip-tester/#' >"$TMP/uac_pcap.xml"
	# The UAS is SIPp's built-in "uas" scenario plus what a UDP UAS must do with a retransmitted
	# INVITE. The first datagrams of a flow wait for the Ziti dial; on a loaded TCG guest that can
	# take longer than T1 (500 ms), and the UAC's INVITE retransmission then reaches the UAS right
	# behind the original, after the UAS has sent 180 and 200. The built-in scenario (SIPp 3.6.1)
	# only recognises a retransmission of the request that preceded its last send, and the 200
	# follows the 180, so it takes the INVITE for an unexpected message and aborts the call; the
	# UAC's BYE is then never answered ("UDP retransmission timeout"), with nothing lost on the way.
	# Here the UAS absorbs INVITE retransmissions while it waits for the ACK, as RFC 6026 (7.1,
	# "Accepted" state) specifies; its 200 keeps being retransmitted on its own timer until the ACK
	# (a jump back to the 200 would not resend it: SIPp sends nothing new while a retransmission is
	# pending). TCP never retransmits, so the same scenario serves both transports.
	sipp -sd uas 2>/dev/null |
		sed 's#^\( *\)<recv request="ACK"#\1<recv request="INVITE" optional="true"/>\n&#' >"$TMP/uas.xml"
	[ "$(grep -c '<recv request="INVITE"' "$TMP/uas.xml")" = 2 ] || bail_out "sipp -sd uas: unexpected built-in scenario"
}
in_pa() { ip netns exec "$PA" "$@"; }
in_pb() { ip netns exec "$PB" "$@"; }
