#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runner test: passes but leaves a network namespace behind; the runner must
# fail it for not cleaning up.
set -euo pipefail
echo "TAP version 13"
echo "1..1"
ip netns add "leaky-$$"
echo "ok 1 created a namespace and forgot it"
