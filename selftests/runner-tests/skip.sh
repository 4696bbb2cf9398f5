#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runner test: skips the whole file (exit 4); the runner must list it as a skip.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
skip_all "deliberately skipped runner test"
