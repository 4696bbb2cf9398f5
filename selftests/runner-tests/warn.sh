#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runner test: its TAP says ok, but it loads a module that WARNs; the runner's
# kernel log check must fail it.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
ko=$SIPOVL_TOP/build/testmod-$(uname -r)/sipovl_test_warn.ko
plan 2
check "insmod sipovl_test_warn.ko" insmod "$ko"
check "rmmod sipovl_test_warn" rmmod sipovl_test_warn
done_testing
