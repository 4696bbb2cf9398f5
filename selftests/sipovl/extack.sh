#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Formatted extack messages under concurrency (extack.py): failing requests
# from many processes in two namespaces at once each get their own message.
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd python3
load_module
setup_ns NS1 NS2
/usr/bin/python3 "$(dirname "$0")/extack.py" "$NS1" "$NS2" 20
