#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runner test: never finishes by itself; the per-file timeout must kill it
# (the guest stays usable) and report a failure.
echo "TAP version 13"
echo "1..1"
echo "# sleeping forever"
sleep 100000
echo "ok 1 woke up"
