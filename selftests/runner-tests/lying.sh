#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runner test: prints a failing point and a short plan, yet exits 0; the runner
# must not believe the exit status.
echo "TAP version 13"
echo "1..3"
echo "ok 1 fine"
echo "not ok 2 broken"
exit 0
