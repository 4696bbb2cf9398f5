#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The sipovld part of `make demo` (scripts/demo.sh calls it): boots the VM and runs an
# end-to-end selftest with its report enabled, in one of two models (--scenario; `make demo
# SCENARIO=...`):
#
# gateway (the default): selftests/sipovl/daemon.sh. Two sites as network namespaces joined by
#   a Ziti network, each gateway running sipovl.ko and sipovld; SIPp at site A calls SIPp at
#   site B over UDP and TCP with RTP echoed through a port-range intercept. Prints the calls
#   attempted and completed, RTP packets each way and `sipovlctl stats`, then the test's own
#   verdicts, and last the calls it made (`sipovlctl -s calls` at gw-a) with their quality
#   (packets, loss, jitter and MOS each way, from the CDRs).
# endpoint: selftests/sipovl/endpoint.sh, the seed's ip-pool model. Three endpoint hosts (two
#   phones and a SIP server, sipovld in endpoint mode) get addresses of pool voip-ips from the
#   pool server (the gateway sipovld of site A), the phones REGISTER with the server through
#   the overlay, phone 1 calls phone 2 through it and phone A behind the gateway calls phone 2
#   at its pool address, RTP both ways. Prints the pool addresses, the leases, what the SIP
#   server and the callee saw (from which addresses), RTP packets each way, the endpoints'
#   status, then the verdicts and the calls.
# all: both, one after the other in one boot of the VM.
#
# Every figure is the run's own. Exit status: the selftests'.
#
#   daemon/demo/demo.sh [--scenario gateway|endpoint|all] [--kernel 6.1|6.12]
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${O:-$TOP/build}
scenario=gateway args=()
while [ $# -gt 0 ]; do
	case $1 in
	--scenario) scenario=${2:-}; shift 2 || shift ;;
	--kernel) args+=(--kernel "${2:?--kernel needs a value}"); shift 2 ;;
	*) echo "usage: daemon/demo/demo.sh [--scenario gateway|endpoint|all] [--kernel 6.1|6.12]" >&2; exit 2 ;;
	esac
done
case $scenario in
gateway) files=(daemon.sh) ;;
endpoint) files=(endpoint.sh) ;;
all) files=(daemon.sh endpoint.sh) ;;
*) echo "demo: unknown scenario '$scenario': gateway, endpoint or all" >&2; exit 2 ;;
esac
for f in "$B/sipovld" "$B/sipovlctl" "$B/selftests/peer" "$B/daemon-zitinet.tar.gz"; do
	[ -e "$f" ] || { echo "demo: $f missing: run make tests first" >&2; exit 1; }
done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "sipovld demo ($scenario): booting the VM (TCG; the Ziti controller and router run on this host)..."
SIPOVL_DAEMON_DEMO=1 SIPOVL_TEST_TIMEOUT=${SIPOVL_TEST_TIMEOUT:-1200} \
	"$TOP/selftests/vm/run.sh" "${args[@]}" "${files[@]/#/$TOP/selftests/sipovl/}" >"$out" 2>&1
rc=$?
report() { # report FILE TITLE PREFIX: the report lines, the file's verdicts, then its calls
	echo "---- sipovld demo report: $2"
	sed -n "s/^.*# $3: //p" "$out"
	echo "---- checks ($1)"
	grep -E "^(not )?ok [0-9]+ sipovl/$1" "$out" | sed "s/ sipovl\/$1:/:/"
	echo "---- the calls the demo made and their quality ($1)"
	sed -n "s/^.*# $3-calls: //p" "$out"
}
for f in "${files[@]}"; do
	case $f in
	daemon.sh) report daemon.sh "the gateway model (two sites, sipovl.ko + sipovld gateways)" demo ;;
	endpoint.sh) report endpoint.sh "the endpoint model (ip-pool voip-ips, sipovld on each SIP host)" demo-ep ;;
	esac
done
echo "----"
grep -E '^# results' "$out"
# no verdict at all (the VM did not boot, a file bailed out): the runner's last words
grep -qE '^(not )?ok [0-9]+ sipovl/' "$out" || { echo "demo: no test result; the run's last lines:"; tail -n 25 "$out"; }
exit $rc
