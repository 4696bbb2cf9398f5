#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runner test: passes.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
plan 2
check "true succeeds" true
check_fail "false fails" false
done_testing
