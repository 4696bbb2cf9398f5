#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runner test (debug kernel only): its TAP says ok, but it leaks memory (a module
# that drops an allocation): the runner's kmemleak scan must fail it.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
ko=$SIPOVL_TOP/build/testmod-$(uname -r)/sipovl_test_leak.ko
plan 2
check "insmod sipovl_test_leak.ko" insmod "$ko"
check "rmmod sipovl_test_leak" rmmod sipovl_test_leak
done_testing
