#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runner test: fails (one point fails, exit 1); the runner must report it.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
plan 2
ok "a passing point"
not_ok "a deliberately failing point" "expected 1, got 2"
done_testing
