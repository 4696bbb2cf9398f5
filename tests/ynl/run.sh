#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Host tests of the YNL spec Documentation/netlink/specs/sipovl.yaml with the
# kernel's YNL tool (scripts/ynl.sh: Debian's linux-source-6.12):
#   - the spec validates against the genetlink-legacy schema and the ynl
#     library resolves it;
#   - ynl-gen-c.py renders a uAPI header from it, and every constant of that
#     header equals uapi/linux/sipovl.h's, and every constant of
#     uapi/linux/sipovl.h comes from the spec (or is a helper checked for what
#     it means): the spec and the header cannot drift apart (uapi_cmp.py);
#   - the checks catch drift: a spec with an attribute left out, a header with
#     a value changed and a spec with an unknown key each fail.
# The spec against the running kernel (ops, policies): selftests/sipovl/ynl.sh.
#
#   tests/ynl/run.sh          (after `make tests`; O= selects the build dir)
#
# TAP 13 on stdout; exit 0 when every point passed, 1 otherwise.
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
O=${O:-$TOP/build}
SPEC=$TOP/Documentation/netlink/specs/sipovl.yaml
HDR=$TOP/uapi/linux/sipovl.h
PY=/usr/bin/python3

n=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() {
	n=$((n + 1)); failed=$((failed + 1))
	echo "not ok $n - $1"; shift
	local l; for l in "$@"; do echo "#   $l"; done
}

echo "TAP version 13"
if ! YNL=$("$TOP/scripts/ynl.sh" "$O/ynl-6.12" 2>&1); then
	echo "not ok 1 - the kernel's ynl tool: $YNL"
	echo "1..1"
	exit 1
fi
SCHEMA=$YNL/Documentation/netlink/genetlink-legacy.yaml

# validate SPEC: the schema (jsonschema), then the ynl library's resolution.
validate() {
	"$PY" - "$YNL/tools/net/ynl" "$1" "$SCHEMA" <<-'PYEOF'
		import sys
		sys.path.insert(0, sys.argv[1])
		from lib import SpecFamily
		f = SpecFamily(sys.argv[2], sys.argv[3])
		print('%d attribute sets, %d operations, %d definitions' %
		      (len(f.attr_sets), len(f.msgs), len(f.consts)))
	PYEOF
}

# gen SPEC OUT: ynl-gen-c.py's uAPI header for SPEC. It looks for the schema
# beside the spec's directory and the kernel's root by its MAINTAINERS file.
gen() {
	local d
	d=$(mktemp -d "$tmp/tree.XXXX")
	mkdir -p "$d/Documentation/netlink/specs"
	: >"$d/MAINTAINERS"
	cp "$YNL"/Documentation/netlink/genetlink*.yaml "$d/Documentation/netlink/"
	cp "$1" "$d/Documentation/netlink/specs/sipovl.yaml"
	(cd "$YNL/tools/net/ynl" && "$PY" ynl-gen-c.py --mode uapi --header \
		--spec "$d/Documentation/netlink/specs/sipovl.yaml" -o "$2")
}

if out=$(validate "$SPEC" 2>&1); then
	ok "the spec validates against genetlink-legacy.yaml (6.12) and resolves: $out"
else
	not_ok "the spec validates against genetlink-legacy.yaml (6.12)" "$out"
fi
if out=$(gen "$SPEC" "$tmp/gen.h" 2>&1) && [ -s "$tmp/gen.h" ]; then
	ok "ynl-gen-c.py renders the uAPI header ($(grep -c . "$tmp/gen.h") lines)"
else
	not_ok "ynl-gen-c.py renders the uAPI header" "$out"
fi
out=$(TAP_START=$((n + 1)) "$PY" "$TOP/tests/ynl/uapi_cmp.py" "$tmp/gen.h" "$HDR" 2>&1)
rc=$?
echo "$out" | grep -v '^points '
pts=$(sed -n 's/^points //p' <<<"$out")
if [ -z "$pts" ]; then
	not_ok "uapi_cmp.py ran" "$out"
else
	n=$((n + pts))
	[ $rc = 0 ] || failed=$((failed + 1))
fi

# The checks catch drift.
# 1. the spec without the stats set's "replies": every later counter moves.
"$PY" - "$SPEC" "$tmp/drift.yaml" <<-'PYEOF'
	import sys, yaml
	s = yaml.safe_load(open(sys.argv[1]))
	st = [a for a in s['attribute-sets'] if a['name'] == 'stats'][0]
	st['attributes'] = [a for a in st['attributes'] if a['name'] != 'replies']
	with open(sys.argv[2], 'w') as f:
	    f.write(open(sys.argv[1]).readline())
	    yaml.safe_dump(s, f, sort_keys=False)
	PYEOF
if gen "$tmp/drift.yaml" "$tmp/drift.h" >/dev/null 2>&1 &&
	out=$("$PY" "$TOP/tests/ynl/uapi_cmp.py" "$tmp/drift.h" "$HDR" 2>&1); then
	not_ok "a spec without stats.replies is caught" "$out"
elif grep -q 'not ok.*same value' <<<"$out" && grep -q 'SIPOVL_STATS_A_SRC_DENIED' <<<"$out"; then
	ok "a spec without stats.replies is caught (SIPOVL_STATS_A_SRC_DENIED and the later counters differ)"
else
	not_ok "a spec without stats.replies is caught" "$out"
fi
# 2. the header with SIPOVL_PROTO_UDP changed.
sed 's/SIPOVL_PROTO_UDP = 1U << 1,/SIPOVL_PROTO_UDP = 1U << 2,/' "$HDR" >"$tmp/drift2.h"
if cmp -s "$HDR" "$tmp/drift2.h"; then
	not_ok "a header with SIPOVL_PROTO_UDP changed is caught" "the edit did not apply"
elif out=$("$PY" "$TOP/tests/ynl/uapi_cmp.py" "$tmp/gen.h" "$tmp/drift2.h" 2>&1); then
	not_ok "a header with SIPOVL_PROTO_UDP changed is caught" "$out"
elif grep -q 'SIPOVL_PROTO_UDP: spec 2, header 4' <<<"$out" && grep -q '__SIPOVL_PROTO_ALL = 5, expected 3' <<<"$out"; then
	ok "a header with SIPOVL_PROTO_UDP changed is caught (and __SIPOVL_PROTO_ALL)"
else
	not_ok "a header with SIPOVL_PROTO_UDP changed is caught" "$out"
fi
# 3. an unknown key in the spec.
sed 's/^    name: tuple$/    name: tuple\n    bogus-key: 1/' "$SPEC" >"$tmp/bad.yaml"
if cmp -s "$SPEC" "$tmp/bad.yaml"; then
	not_ok "a spec with an unknown key fails the schema" "the edit did not apply"
elif out=$(validate "$tmp/bad.yaml" 2>&1); then
	not_ok "a spec with an unknown key fails the schema" "$out"
elif grep -q "bogus-key" <<<"$out"; then
	ok "a spec with an unknown key fails the schema"
else
	not_ok "a spec with an unknown key fails the schema" "$out"
fi

echo "1..$n"
[ $failed = 0 ]
