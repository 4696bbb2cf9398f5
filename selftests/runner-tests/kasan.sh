#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runner test (debug kernel only): its TAP says ok, but it reads freed memory (a module):
# the debug kernel's KASAN (or KFENCE) report must fail it.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
ko=$SIPOVL_TOP/build/testmod-$(uname -r)/sipovl_test_uaf.ko
plan 2
check "insmod sipovl_test_uaf.ko" insmod "$ko"
check "rmmod sipovl_test_uaf" rmmod sipovl_test_uaf
done_testing
