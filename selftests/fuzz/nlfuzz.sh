#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The netlink fuzzer (nlfuzz.py) for SIPOVL_FUZZ_SECONDS (default 60) in a
# fresh namespace, with namespaces of its own created and deleted under load;
# on the debug kernel the runner fails it on any KASAN, lockdep, RCU,
# kmemleak... report. SIPOVL_FUZZ_SEED reproduces a run (its seed is printed).
# `make fuzz` runs it longer (Documentation/testing.md).
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd python3
load_module
setup_ns NS
args=(--seconds "${SIPOVL_FUZZ_SECONDS:-60}")
[ -z "${SIPOVL_FUZZ_SEED:-}" ] || args+=(--seed "$SIPOVL_FUZZ_SEED")
rc=0
ip netns exec "$NS" /usr/bin/python3 "$(dirname "$0")/nlfuzz.py" "${args[@]}" || rc=$?
cleanup_all_ns
# The namespaces the fuzzer deleted go away asynchronously (cleanup_net):
# the module must unload after them, and nothing may be left behind.
if ! unload_module; then
	echo "# rmmod sipovl failed after the fuzzing"
	rc=1
fi
exit $rc
