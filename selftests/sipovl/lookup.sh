#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# SIPOVL_CMD_LOOKUP during a 100k-intercept commit (lookup.py): answered
# without waiting for the namespace's configuration lock, with the generation
# of the table it answered from.
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd python3
load_module
rc=0
setup_ns NS
ip netns exec "$NS" /usr/bin/python3 "$(dirname "$0")/lookup.py" || rc=$?
exit $rc
