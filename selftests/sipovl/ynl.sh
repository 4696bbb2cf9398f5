#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The YNL spec (Documentation/netlink/specs/sipovl.yaml) driven by the
# kernel's own ynl tool (ynl.py; the tool: scripts/ynl.sh's copy of Debian's
# linux-source-6.12, built by make tests), compared with sipovlctl -j and
# with the family and policy the running kernel reports through nlctrl.
source "$(dirname "$0")/../lib.sh"
require_root
require_cmd python3
BIN=${SIPOVL_BIN:-$SIPOVL_TOP/build}
YNL=$BIN/ynl-6.12
CTL=${SIPOVL_CTL:-${SIPOVLCTL:-$BIN/sipovlctl}}
[ -f "$YNL/tools/net/ynl/cli.py" ] || bail_out "no ynl at $YNL (make tests, or scripts/ynl.sh)"
[ -x "$CTL" ] || bail_out "no sipovlctl at $CTL (make)"
/usr/bin/python3 -c 'import yaml, jsonschema' 2>/dev/null || bail_out "python3-yaml and python3-jsonschema are needed (scripts/deps.sh check)"
load_module
setup_ns NS
rc=0
ip netns exec "$NS" /usr/bin/python3 "$(dirname "$0")/ynl.py" "$YNL" \
	"$SIPOVL_TOP/Documentation/netlink/specs/sipovl.yaml" "$CTL" "$NS" || rc=$?
exit $rc
