#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The sipovld part of `make demo` (scripts/demo.sh calls it): boots the VM and runs the
# end-to-end selftest selftests/sipovl/daemon.sh with its report enabled: two sites as network
# namespaces joined by a Ziti network, each gateway running sipovl.ko and sipovld; SIPp at
# site A calls SIPp at site B over UDP and TCP with RTP echoed through a port-range intercept.
# Prints the calls attempted and completed, RTP packets each way and `sipovlctl stats`, then
# the test's own verdicts, and last the calls it made (`sipovlctl -s calls` at gw-a) with their
# quality (packets, loss, jitter and MOS each way, from the CDRs). Exit status: the selftest's.
#
#   daemon/demo/demo.sh [--kernel 6.1|6.12]
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${O:-$TOP/build}
for f in "$B/sipovld" "$B/sipovlctl" "$B/selftests/peer" "$B/daemon-zitinet.tar.gz"; do
	[ -e "$f" ] || { echo "demo: $f missing: run make tests first" >&2; exit 1; }
done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "sipovld demo: booting the VM (TCG; the Go controller and router start inside it: ~3-4 minutes)..."
SIPOVL_DAEMON_DEMO=1 SIPOVL_TEST_TIMEOUT=${SIPOVL_TEST_TIMEOUT:-1200} \
	"$TOP/selftests/vm/run.sh" "$@" "$TOP/selftests/sipovl/daemon.sh" >"$out" 2>&1
rc=$?
echo "---- sipovld demo report"
sed -n 's/^.*# demo: //p' "$out"
echo "---- checks"
grep -E '^(not )?ok [0-9]+ sipovl/daemon.sh' "$out" | sed 's/ sipovl\/daemon.sh:/:/'
grep -E '^# results' "$out"
echo "---- the calls the demo made and their quality"
sed -n 's/^.*# demo-calls: //p' "$out"
exit $rc
