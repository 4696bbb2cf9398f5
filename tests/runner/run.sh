#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Tests of the VM runner itself (TAP): it must report a failing selftest, a
# kernel WARN, a per-file timeout, a lying exit status, a leaked namespace, a
# hung guest and a kernel panic as failures with a non-zero exit, and pass a
# clean run. Uses selftests/runner-tests/ (misbehaving on purpose) on 6.1; on
# the debug kernel (selftests/vm/debug-kernel.sh), a leak, a use-after-free and
# a lock-order inversion must fail the file that caused them.
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$TOP/selftests/lib.sh"
RT=$TOP/selftests/runner-tests
RUN=$TOP/selftests/vm/run.sh

require_cmd qemu-system-x86_64
kver=$("$TOP/scripts/kver.sh" 6.1) || bail_out "no Debian 6.1 kernel installed"
out=$(make -s -C "$TOP" testmod KVER="$kver" 2>&1) || bail_out "building the test modules failed: $out"

# has DESC PATTERN: the last runner output contains an ERE line match.
has() {
	if grep -Eq -- "$2" <<<"$out"; then
		ok "$1"
	else
		not_ok "$1" "no line matching /$2/ in the runner's output:"
		sed 's/^/#   /' <<<"$out"
	fi
}
status_is() {
	if [ "$rc" = "$2" ]; then ok "$1"; else not_ok "$1" "exit status $rc, expected $2"; fi
}
# points_consistent: the trailing plan matches the number of test points.
points_consistent() {
	local n plan
	n=$(grep -Ec '^(not )?ok [0-9]+' <<<"$out")
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' <<<"$out" | tail -1)
	if [ -n "$plan" ] && [ "$plan" = "$n" ]; then ok "$1"; else not_ok "$1" "plan '$plan', $n points"; fi
}

# F: the out-of-tree copies of the module's sources (scripts/ksync.sh, used by make kmod-vm,
# kmod-sparse, kmod-nobrnf, testmod) never leave an object newer than a changed source: a
# source edited while a build ran (mtime between the copy and the object) and one rewritten
# with the same size and mtime must both come out newer than the object, so make rebuilds it.
ksync_dir=$(mktemp -d)
ksync_edit() { # FILE CONTENT MTIME
	printf '%s\n' "$2" >"$1" && touch -d "$3" "$1"
}
ksync_newer() { # DESC: dst/a.c has src/a.c's content and is newer than dst/a.o
	if cmp -s "$ksync_dir/src/a.c" "$ksync_dir/dst/a.c" && [ "$ksync_dir/dst/a.c" -nt "$ksync_dir/dst/a.o" ]; then
		ok "$1"
	else
		not_ok "$1" "copy $(cat "$ksync_dir/dst/a.c") $(stat -c %y "$ksync_dir/dst/a.c"), object $(stat -c %y "$ksync_dir/dst/a.o")"
	fi
}
mkdir -p "$ksync_dir/src" "$ksync_dir/dst"
ksync_edit "$ksync_dir/src/a.c" "int a;" "2026-01-01 00:00:00"
"$TOP/scripts/ksync.sh" "$ksync_dir/src/" "$ksync_dir/dst/"
touch -d "2026-01-01 00:00:05" "$ksync_dir/dst/a.o"          # the build's object
ksync_edit "$ksync_dir/src/a.c" "int b;" "2026-01-01 00:00:03" # edited during that build
"$TOP/scripts/ksync.sh" "$ksync_dir/src/" "$ksync_dir/dst/"
ksync_newer "F: a source edited during a build is copied newer than its object"
touch -d "1 minute ago" "$ksync_dir/dst/a.o"                  # rebuilt
mtime=$(stat -c %y "$ksync_dir/src/a.c")
ksync_edit "$ksync_dir/src/a.c" "int c;" "$mtime"              # same size, same mtime
"$TOP/scripts/ksync.sh" "$ksync_dir/src/" "$ksync_dir/dst/"
ksync_newer "F: a source rewritten with the same size and mtime is copied too"
rm -rf "$ksync_dir"

usage_rc() { "$RUN" --bogus >/dev/null 2>&1; [ $? = 2 ]; }
check "usage error exits 2" usage_rc

# A: misbehaving selftests in one VM; the guest survives them all.
out=$(SIPOVL_TEST_TIMEOUT=10 "$RUN" --no-build --kernel "$kver" "$RT/pass.sh" "$RT/skip.sh" \
	"$RT/fail.sh" "$RT/lying.sh" "$RT/warn.sh" "$RT/timeout.sh" "$RT/leak.sh" 2>&1)
rc=$?
status_is "failures make the runner exit 1" 1
has "the boot is checked" '^ok [0-9]+ boot: kernel .* booted with a clean log$'
has "a passing file passes" '^ok [0-9]+ runner-tests/pass\.sh \('
has "inner test points are reported" '^ok [0-9]+ runner-tests/pass\.sh: false fails$'
has "a skipped file is a named skip" '^ok [0-9]+ runner-tests/skip\.sh # SKIP deliberately skipped'
has "a failing file fails" '^not ok [0-9]+ runner-tests/fail\.sh # exit=1'
has "its failing point is named" '^not ok [0-9]+ runner-tests/fail\.sh: a deliberately failing point$'
has "exit 0 with a failed point fails" '^not ok [0-9]+ runner-tests/lying\.sh # exit 0 but 1 test points failed; planned 3 test points, got 2'
has "a kernel WARN fails the file that caused it" '^not ok [0-9]+ runner-tests/warn\.sh # kernel reported a problem'
has "the WARN is shown" '^# \[ *[0-9.]+\] WARNING: CPU: [0-9]+ PID: [0-9]+ at .*sipovl_test_warn\.c'
has "the W taint is reported" '^# kernel taint gained: W$'
has "the per-file timeout kills a stuck test" '^not ok [0-9]+ runner-tests/timeout\.sh # TIMEOUT after 10s'
has "a leaked network namespace fails the file" '^not ok [0-9]+ runner-tests/leak\.sh # did not clean up'
has "totals are exact" '^# Totals: pass:9 fail:7 xfail:0 xpass:0 skip:1 error:0$'
points_consistent "A: plan matches the test points"

# B: a guest that hangs for good, then one that panics; the rest still runs.
out=$(SIPOVL_TEST_TIMEOUT=5 SIPOVL_VM_GRACE=10 "$RUN" --no-build --kernel "$kver" \
	"$RT/hang.sh" "$RT/panic.sh" "$RT/pass.sh" 2>&1)
rc=$?
status_is "a hung or panicking guest makes the runner exit 1" 1
has "a hung guest is killed and reported" "^not ok [0-9]+ runner-tests/hang\.sh # the guest hung: 'runner-tests/hang\.sh' outlived its 15s deadline"
has "the hung guest's console log is shown" '^# \[ *[0-9.]+\] sipovl_test_hang: stopping the machine on purpose$'
has "a kernel panic is reported against its file" '^not ok [0-9]+ runner-tests/panic\.sh # the VM stopped unexpectedly'
has "the panic is shown" '^# \[ *[0-9.]+\] Kernel panic - not syncing: sysrq triggered crash'
has "the VM is rebooted for the remaining files" '^ok [0-9]+ runner-tests/pass\.sh \('
has "B: totals are exact" '^# Totals: pass:6 fail:2 xfail:0 xpass:0 skip:0 error:0$'
points_consistent "B: plan matches the test points"

# C: a clean run exits 0.
out=$("$RUN" --no-build --kernel "$kver" "$RT/pass.sh" "$RT/skip.sh" 2>&1)
rc=$?
status_is "a clean run exits 0" 0
has "C: totals are exact" '^# Totals: pass:4 fail:0 xfail:0 xpass:0 skip:1 error:0$'

# E: the debug kernel's checkers (selftests/vm/debug-kernel.sh; built here when not cached):
# a leak (kmemleak), a use-after-free (KASAN) and an AB-BA lock order (lockdep) each fail the
# file that caused it, and a clean file after them passes (nothing carries over).
E() {
	local dk=$TOP/selftests/vm/debug-kernel.sh dkver dkdir
	if ! out=$("$dk" build 2>&1) || ! dkver=$("$dk" release) || ! dkdir=$("$dk" path); then
		not_ok "E: the debug kernel builds" "$out"
		return
	fi
	ok "E: the debug kernel builds"
	if ! out=$(make -s -C "$TOP" testmod KVER="$dkver" KDIR="$dkdir" 2>&1); then
		not_ok "E: the test modules build for the debug kernel" "$out"
		return
	fi
	# lockdep before KASAN: a KASAN report taints the kernel (B), which turns lockdep
	# off for the rest of the boot (debug_locks_off), so lockdep.sh after kasan.sh
	# passed (seen in the first run of this section).
	out=$("$RUN" --no-build --kernel debug "$RT/kmemleak.sh" "$RT/lockdep.sh" "$RT/kasan.sh" \
		"$RT/pass.sh" 2>&1)
	rc=$?
	status_is "E: kernel reports make the runner exit 1" 1
	has "E: the debug kernel boots with a clean log (kmemleak included)" \
		'^ok [0-9]+ boot: kernel [^ ]*-sipovl-debug booted with a clean log$'
	has "E: a leak fails the file that caused it" '^not ok [0-9]+ runner-tests/kmemleak\.sh # kernel reported a problem'
	has "E: kmemleak's report is shown, with the leaked bytes" '^# +unreferenced object 0x[0-9a-f]+ \(size [0-9]+\):$'
	has "E: ... the leaked object is the module's" '^# +73 69 70 6f 76 6c 5f 74 65 73 74 5f 6c 65 61 6b +sipovl_test_leak'
	has "E: a use-after-free fails the file that caused it" '^not ok [0-9]+ runner-tests/kasan\.sh # kernel reported a problem'
	has "E: the KASAN report is shown" '^# .*BUG: (KASAN: [a-z-]*use-after-free|KFENCE: use-after-free read) in sipovl_test_uaf_init'
	has "E: an AB-BA lock order fails the file that caused it" '^not ok [0-9]+ runner-tests/lockdep\.sh # kernel reported a problem'
	has "E: the lockdep report is shown" '^# .*WARNING: possible circular locking dependency detected'
	has "E: a clean file after them passes" '^ok [0-9]+ runner-tests/pass\.sh \('
	has "E: totals are exact" '^# Totals: pass:10 fail:3 xfail:0 xpass:0 skip:0 error:0$'
	points_consistent "E: plan matches the test points"
}
# SIPOVL_DEBUG_KERNEL=0 leaves it out (e.g. while iterating on the runner on a machine
# without the cached kernel: building it takes a while the first time).
if [ "${SIPOVL_DEBUG_KERNEL:-1}" != 0 ]; then
	E
else
	skip "E: the debug kernel's checkers" "SIPOVL_DEBUG_KERNEL=0"
fi

# Z: selftests/vm/zthost.sh, the host side of the VM tests' Ziti network, with no guest: its
# namespace and tap, and the requests a guest may write into its results directory. Bad ones
# are refused with a clear error and change nothing; a link the guest plants is never followed.
zt_tests() {
	local d id out victim
	source "$TOP/selftests/vm/zthost.sh"
	d=$(mktemp -d "$TOP/build/zthost-test.XXXXXX")
	victim=$d/victim
	zt_req() { # zt_req ID REQUEST...: the answer "RC OUTPUT" (10 s at most)
		echo "${*:2}" >"$d/ztrpc/$1.tmp" && mv "$d/ztrpc/$1.tmp" "$d/ztrpc/$1.req"
		for _ in $(seq 1 50); do [ -e "$d/ztrpc/$1.rc" ] && break; sleep 0.2; done
		echo "$(cat "$d/ztrpc/$1.rc" 2>/dev/null) $(tr '\n' ' ' <"$d/ztrpc/$1.out" 2>/dev/null)"
	}
	if ! zthost_up || ! zthost_serve "$d"; then
		not_ok "Z: zthost.sh makes its namespace and serves requests"
		zthost_down
		rm -rf "$d"
		return
	fi
	if ip -n "$ZTHOST_NS" addr show dev lo | grep -q '10.99.0.3/32' && ip -n "$ZTHOST_NS" link show zt0 >/dev/null 2>&1; then
		ok "Z: zthost.sh's namespace owns 10.99.0.1-3 and has the tap zt0"
	else
		not_ok "Z: zthost.sh's namespace" "$(ip -n "$ZTHOST_NS" addr 2>&1 | head -c 300)"
	fi
	out=$(zt_req 1-1 tcp-retries2 6)
	[ "$out" = "0 " ] && [ "$(ip netns exec "$ZTHOST_NS" sysctl -n net.ipv4.tcp_retries2)" = 6 ] &&
		ok "Z: tcp-retries2 6 is set in the namespace" || not_ok "Z: tcp-retries2 6" "answer '$out'"
	cp "$TOP/build/daemon-zitinet.tar.gz" "$d/daemon-zitinet.tar.gz" 2>/dev/null || : >"$d/daemon-zitinet.tar.gz"
	local bad=("start /etc/passwd" "start $d/daemon-zitinet.tar.gz" "kill-ctrl 1 HUP" "kill-ctrl 4"
		"tcp-retries2 0" "tcp-retries2 6;reboot" "start-ctrl x" "stop now" "bogus") all=1 i=1 r
	for r in "${bad[@]}"; do
		i=$((i + 1))
		out=$(zt_req "2-$i" "$r")
		[[ $out == "2 zthost: "*"request: $r"* ]] || { all=0; diag "request '$r': answer '$out'"; }
	done
	[ $all = 1 ] && [ -z "$(ls "$d/zt" 2>/dev/null)" ] && [ "$(ip netns pids "$ZTHOST_NS" | wc -l)" = 0 ] &&
		ok "Z: ${#bad[@]} bad requests (a file not a build's network, the network from the results, bad signal, controller, value, verb) refused naming the request; nothing started or unpacked" ||
		not_ok "Z: bad requests must be refused"
	ln -s "$victim" "$d/ztrpc/3-1.out"
	out=$(zt_req 3-1 stop)
	ln -s /etc/hostname "$d/ztrpc/3-2.req"
	sleep 1
	if [ "$out" = "0 " ] && [ ! -e "$victim" ] && [ ! -L "$d/ztrpc/3-1.out" ] && [ ! -e "$d/ztrpc/3-2.req" ] && [ ! -e "$d/ztrpc/3-2.out" ]; then
		ok "Z: a planted link as an answer file is replaced, not followed; a request that is a link is removed unread"
	else
		not_ok "Z: links in the results directory" "answer '$out', victim $([ -e "$victim" ] && echo written || echo absent)" "$(ls -la "$d/ztrpc" | head -c 400)"
	fi
	ns=$ZTHOST_NS
	zthost_down
	if ! ip netns list | grep -qw "$ns"; then ok "Z: zthost_down removes the namespace"; else not_ok "Z: $ns left"; fi
	rm -rf "$d"
}
if [ "$(id -u)" = 0 ]; then
	zt_tests
else
	skip "Z: zthost.sh" "needs root (a network namespace)"
fi

# D: --exec passes output and exit status through.
out=$(cd "$RT" && "$RUN" --no-build --kernel "$kver" --exec sh -c 'echo "hello from $(uname -r) in $PWD"; exit 3' 2>&1)
rc=$?
status_is "--exec returns the command's exit status" 3
has "--exec shows the output, runs in the caller's directory" "^hello from $kver in $RT\$"
done_testing
