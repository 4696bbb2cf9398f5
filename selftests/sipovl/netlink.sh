#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The generic netlink API message by message (netlink.py): bad input, extack
# messages, transactions, 100k-intercept dumps, lookups, permissions.
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd python3 setpriv
load_module
rc=0
setup_ns NS
ip netns exec "$NS" /usr/bin/python3 "$(dirname "$0")/netlink.py" || rc=$?
exit $rc
