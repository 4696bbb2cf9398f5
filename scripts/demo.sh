#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make demo`: a SIP call with RTP across the overlay in the test VM on
# Debian's 6.1 kernel: two sites, each gateway running sipovl.ko and sipovld,
# joined by a local Ziti network (daemon/demo/demo.sh prints the report); --scenario
# endpoint shows the ip-pool endpoint model instead, --scenario all both (`make demo
# SCENARIO=endpoint|all`; daemon/demo/demo.sh says what each runs).
# --module-only instead loads the freshly built sipovl.ko and shows what
# exists: on the host this re-runs itself inside the VM (selftests/vm/run.sh
# --exec); the part after "In the VM" is what the guest runs.
#
#   scripts/demo.sh [--kernel 6.1|6.12] [--scenario gateway|endpoint|all] [--module-only]
#   (`make demo` builds first)
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ "${SIPOVL_IN_VM:-}" != 1 ]; then
	kernel=6.1 module_only=0 scenario=gateway
	while [ $# -gt 0 ]; do
		case $1 in
		--kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
		--scenario) scenario=${2:?--scenario needs a value}; shift 2 ;;
		--module-only) module_only=1; shift ;;
		*) echo "usage: scripts/demo.sh [--kernel 6.1|6.12] [--scenario gateway|endpoint|all] [--module-only]" >&2; exit 2 ;;
		esac
	done
	if [ $module_only = 0 ]; then
		# The main job: a SIP call with RTP across the overlay (sipovld + sipovl.ko
		# at two sites, a local Ziti network), with a report.
		exec "$TOP/daemon/demo/demo.sh" --scenario "$scenario" --kernel "$kernel"
	fi
	echo "demo: booting Debian's $("$TOP/scripts/kver.sh" "$kernel") kernel in QEMU (TCG)..."
	exec "$TOP/selftests/vm/run.sh" --kernel "$kernel" --exec "$TOP/scripts/demo.sh"
fi

# ---- In the VM ----
step() { printf '\n== %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
CTL=$SIPOVL_TOP/build/sipovlctl

step "guest kernel"
show uname -r

step "load Debian's netfilter modules and the freshly built sipovl.ko"
show modprobe -a nf_tproxy_ipv4 nf_tproxy_ipv6 nf_defrag_ipv4 nf_defrag_ipv6 nf_reject_ipv4 nf_reject_ipv6
show insmod "$SIPOVL_KO"

step "the module"
show lsmod | grep -E '^(Module|sipovl|nf_tproxy)' || true
for f in version srcversion refcnt; do
	[ -r "/sys/module/sipovl/$f" ] && printf '/sys/module/sipovl/%s: %s\n' "$f" "$(cat "/sys/module/sipovl/$f")"
done
if [ -d /sys/module/sipovl/parameters ]; then
	for p in /sys/module/sipovl/parameters/*; do
		[ -r "$p" ] && printf '%s: %s\n' "$p" "$(cat "$p")"
	done
fi

step "its generic netlink family"
show genl ctrl get name sipovl

if [ -x "$CTL" ]; then
	step "sipovlctl talks to it"
	show "$CTL" --version
	show "$CTL" config
	show "$CTL" stats
fi

step "kernel log"
dmesg | grep -i sipovl || true

step "unload"
show rmmod sipovl
dmesg | grep -i sipovl | tail -n 1
echo
echo "demo: done"
