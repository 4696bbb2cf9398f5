#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runner test (debug kernel only): its TAP says ok, but it takes two locks in both orders
# (a module): the debug kernel's lockdep report must fail it.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
ko=$SIPOVL_TOP/build/testmod-$(uname -r)/sipovl_test_lockdep.ko
plan 2
check "insmod sipovl_test_lockdep.ko" insmod "$ko"
check "rmmod sipovl_test_lockdep" rmmod sipovl_test_lockdep
done_testing
