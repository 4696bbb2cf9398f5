#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest half of the DKMS test (selftests/vm/dkms.sh): the module DKMS installed
# for this kernel loads with plain `modprobe sipovl` and unloads again.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

require_root
in_vm || skip_all "runs only in the test VM (selftests/vm/dkms.sh)"
plan 4
kver=$(uname -r)
path=$(modinfo -n sipovl 2>&1)
check "modinfo finds sipovl in /lib/modules/$kver/updates/dkms ($path)" \
	grep -q "^/lib/modules/$kver/updates/dkms/sipovl\.ko" <<<"$path"
check "modprobe sipovl" modprobe sipovl
same_module() {
	local want='' got=''
	want=$(modinfo -F srcversion sipovl) && got=$(cat /sys/module/sipovl/srcversion) &&
		[ "$want" = "$got" ] || { echo "loaded srcversion '$got', DKMS module '$want'"; return 1; }
}
check "the loaded module is the DKMS-built one" same_module
check "modprobe -r sipovl" modprobe -r sipovl
done_testing
