#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sipovld host tests (TAP version 13). Exit 0 all pass, 1 any failure, 4 all skipped.
#
#   1. unit tests of the I/O-free configuration model (ASan/UBSan build)
#   2. a bounded libFuzzer run of the same parsers (DAEMON_FUZZ_SECONDS, default 20)
#
# Everything with a Ziti network and sipovl.ko (intercept and host sides, transparency, SIP
# calls, reload, SIGTERM cleanup) is the VM selftest selftests/sipovl/daemon.sh; service updates,
# UDP idle timeout, memory bound, SIGHUP reload, bad input and identities are daemon-update.sh.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${O:-$PWD/build}
UNIT=$B/san/daemon-unit
FUZZ=$B/fuzz/daemon-fuzz
FUZZ_SECONDS=${DAEMON_FUZZ_SECONDS:-20}

echo "TAP version 13"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

for f in "$UNIT" "$FUZZ"; do
	[ -x "$f" ] || { echo "1..0 # SKIP $f not built (run make tests)"; exit 4; }
done
W=$(mktemp -d /tmp/sipovld-test.XXXXXX)
trap 'rm -rf "$W"' EXIT

# 1. unit tests: their TAP points become ours
"$UNIT" >"$W/unit.out" 2>&1
urc=$?
while IFS= read -r l; do
	case $l in
	"ok "*) ok "unit: ${l#ok * - }" ;;
	"not ok "*) notok "unit: ${l#not ok * - }" ;;
	esac
done <"$W/unit.out"
if [ $urc != 0 ] || ! grep -q '^1\.\.' "$W/unit.out"; then
	notok "unit test program exited $urc"
	grep -v '^ok' "$W/unit.out" | head -30 | sed 's/^/# /'
fi

# 2. fuzzing (libFuzzer exits 0 when nothing was found in the time given)
if "$FUZZ" -help=1 >/dev/null 2>&1; then
	mkdir -p "$W/corpus"
	for s in tests/daemon/corpus/*; do [ -f "$s" ] && cp "$s" "$W/corpus/"; done
	if "$FUZZ" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -artifact_prefix="$B/fuzz/daemon-" "$W/corpus" >"$W/fuzz.out" 2>&1; then
		ok "fuzz: $(grep -o 'Done [0-9]* runs' "$W/fuzz.out" | tail -1) in ${FUZZ_SECONDS}s, no crash"
	else
		notok "fuzz: crash or sanitizer report"
		grep -E 'ERROR|SUMMARY|Test unit written' "$W/fuzz.out" | head -10 | sed 's/^/# /'
	fi
else
	notok "fuzz: $FUZZ does not run"
fi

echo "1..$n"
[ $failed = 0 ] || { echo "# $failed of $n failed"; exit 1; }
exit 0
