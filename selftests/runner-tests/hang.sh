#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runner test: hangs the whole guest (insmod of a module that stops every CPU
# for good: not even the per-file timeout can act); the host must
# kill the VM and report the hang with the console log.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
plan 1
insmod "$SIPOVL_TOP/build/testmod-$(uname -r)/sipovl_test_hang.ko"
ok "unreachable"
done_testing
