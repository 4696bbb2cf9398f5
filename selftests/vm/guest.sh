#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest half of the VM runner: runs inside the VM, switched to the host's
# root (see selftests/vm/init), with the run's results directory writable at
# /run/sipovl-vm. Never run this on the host.
#
# Protocol with the host (selftests/vm/run.sh), all files in /run/sipovl-vm:
#   env       written by the host: SIPOVL_* settings, VM_MODE, VM_TESTS, ...
#   started   written once the guest is up (contents: uname -r)
#   current   "<deadline seconds> <what>", rewritten at every phase; the host
#             kills the VM when a phase outlives its deadline (hung guest)
#   tap       TAP test points and "# " comment lines, appended as files finish
#   N-name.log / N-name.dmesg   each test file's output and kernel log
#   out       exec mode: the command's output
#   done      the guest's exit status, written last
set -uo pipefail

R=/run/sipovl-vm
[ -f "$R/env" ] || { echo "guest.sh: no $R/env: not in the test VM?" >&2; exit 1; }
# shellcheck source=/dev/null
source "$R/env"

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=${TERM:-linux}
export SIPOVL_IN_VM=1
export SIPOVL_TOP SIPOVL_KO SIPOVL_KVER
cd /tmp || exit 1

# Kernel log lines that fail the test file that produced them. Besides what any
# kernel prints, the debug kernel's reports (selftests/vm/debug-kernel.sh):
# KASAN/KFENCE ("BUG: KASAN: ...", "BUG: KFENCE: ..."), UBSAN, lockdep
# ("WARNING: possible circular locking dependency detected", "inconsistent lock
# state", "turning off the locking correctness validator"), PROVE_RCU
# ("suspicious RCU usage"), DEBUG_ATOMIC_SLEEP ("BUG: sleeping function called
# from invalid context"), DEBUG_OBJECTS ("ODEBUG: ... object type: ...") and
# kmemleak ("unreferenced object", appended to the file's kernel log by
# kmemleak_check).
DMESG_BAD='(^|[^A-Za-z0-9_])BUG([: ]|$)|WARNING:|Oops|KASAN|UBSAN|KFENCE|refcount_t|unregister_netdevice: waiting|general protection fault|Call Trace|Kernel panic|soft lockup|hard LOCKUP|rcu: INFO|self-detected stall|blocked for more than|list_(add|del) corruption|unreferenced object|suspected memory leak|stack-protector|stack segment|possible (circular|recursive) locking|inconsistent lock state|suspicious RCU usage|sleeping function called from invalid context|ODEBUG: .*object type|DEBUG_LOCKS_WARN_ON|turning off the locking correctness validator|non-static key'
KMEMLEAK=/sys/kernel/debug/kmemleak
# Taint bits that mean something went wrong: M(4) B(5) D(7) W(9) L(14).
TAINT_BAD=$(((1 << 4) | (1 << 5) | (1 << 7) | (1 << 9) | (1 << 14)))
TAINT_LETTERS=(P F S R M B U D A W C I O E L K X T)

tap() { printf '%s\n' "$@" >>"$R/tap"; }
phase() { printf '%s %s\n' "$1" "$2" >"$R/current"; }
point=${VM_POINT_START:-0}

taint_names() {
	local bits=$1 i s=
	for i in "${!TAINT_LETTERS[@]}"; do
		((bits & (1 << i))) && s+=${TAINT_LETTERS[$i]}
	done
	echo "$s"
}

# check_kernel FILE TAINT_BEFORE: print why the kernel log / taint is bad.
check_kernel() {
	local dmesg=$1 before=$2 after gained bad
	bad=$(grep -E -m 20 -- "$DMESG_BAD" "$dmesg")
	after=$(cat /proc/sys/kernel/tainted)
	gained=$(((after & ~before) & TAINT_BAD))
	if [ -n "$bad" ]; then
		echo "kernel log:"
		# Show the first report with some context.
		grep -E -m 1 -B 2 -A 45 -- "$DMESG_BAD" "$dmesg"
	fi
	if ((gained)); then
		echo "kernel taint gained: $(taint_names "$gained")"
	fi
}

# kmemleak_check FILE: on a kernel with kmemleak (the debug kernel), scan for
# leaks and append what it reports to FILE (a kernel log: "unreferenced object"
# fails the test file). kmemleak reports only objects older than 5 s that two
# scans found unreferenced, hence scan, pause, scan. The reported objects are
# then cleared so that the next file starts clean.
kmemleak_check() {
	local out=$1
	[ -w "$KMEMLEAK" ] || return 0
	echo scan >"$KMEMLEAK" 2>/dev/null || return 0
	sleep "${SIPOVL_KMEMLEAK_PAUSE:-6}"
	echo scan >"$KMEMLEAK"
	cat "$KMEMLEAK" >>"$out"
	echo clear >"$KMEMLEAK"
}

# Leftovers of a test file: processes, network namespaces, the module.
cleanup_leftovers() {
	local self=$$ p pids=() ns problems=()
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = 1 ] || [ "$p" = "$self" ] || [ "$p" = "$BASHPID" ] && continue
		# kernel threads have an empty cmdline
		[ -s "/proc/$p/cmdline" ] || continue
		pids+=("$p")
	done
	if [ ${#pids[@]} -gt 0 ]; then
		local cmds
		cmds=$(for p in "${pids[@]}"; do tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null; echo; done | sort -u | head -5)
		kill -KILL "${pids[@]}" 2>/dev/null
		echo "killed leftover processes: $(echo "$cmds" | paste -sd';')"
	fi
	ns=$(ip netns list 2>/dev/null | cut -d' ' -f1)
	if [ -n "$ns" ]; then
		problems+=("left network namespaces behind: $(echo "$ns" | paste -sd' ')")
		for p in $ns; do ip netns del "$p" 2>/dev/null; done
	fi
	if [ -d /sys/module/sipovl ]; then
		problems+=("left the sipovl module loaded")
		rmmod sipovl 2>&1 | sed 's/^/rmmod: /'
	fi
	[ ${#problems[@]} -eq 0 ] || printf 'FAIL: %s\n' "${problems[@]}"
}

test_timeout() {
	local t=$1 dir s
	if [ -n "${SIPOVL_TEST_TIMEOUT:-}" ]; then
		echo "$SIPOVL_TEST_TIMEOUT"
		return
	fi
	dir=$(dirname "$t")
	s=$(sed -n 's/^timeout=\([0-9][0-9]*\)$/\1/p' "$dir/settings" 2>/dev/null | tail -1)
	# the debug kernel runs everything a few times slower (run.sh)
	echo $((${s:-$VM_TIMEOUT_DEFAULT} * ${VM_TIMEOUT_SCALE:-1}))
}

# run_file IDX PATH: run one selftest file, append its TAP to $R/tap.
run_file() {
	local idx=$1 t=$2 name base to log dm before rc start secs
	name=${t#"$SIPOVL_TOP"/}
	name=${name#selftests/}
	base=$(basename "$t")
	to=$(test_timeout "$t")
	log=$R/$idx-$base.log
	dm=$R/$idx-$base.dmesg

	phase $((to + ${SIPOVL_VM_GRACE:-30})) "$name"
	printf '%s %s %s\n' "$idx" "$name" "$to" >"$R/running"
	before=$(cat /proc/sys/kernel/tainted)
	dmesg -C
	echo "sipovl-vm: running $name" >/dev/kmsg
	local wd
	wd=$(mktemp -d /tmp/selftest.XXXXXX)
	start=$(date +%s)
	(cd "$wd" && exec timeout -k 10 "$to" "$t") >"$log" 2>&1 </dev/null
	rc=$?
	secs=$(($(date +%s) - start))
	phase 120 "$name (checks)"

	local leftovers kern
	leftovers=$(cleanup_leftovers 2>&1)
	rm -rf "$wd"
	phase $((120 + ${SIPOVL_KMEMLEAK_PAUSE:-6} + 120)) "$name (checks)"
	dmesg -c >"$dm" 2>&1
	kmemleak_check "$dm"
	kern=$(check_kernel "$dm" "$before")

	# Re-number the file's own test points into the run's TAP stream.
	local line plan='' n_points=0 n_fail=0 bail='' desc
	local comments=()
	while IFS= read -r line || [ -n "$line" ]; do
		if [[ $line =~ ^(not\ )?ok([[:space:]]+[0-9]+)?([[:space:]]+-)?[[:space:]]*(.*)$ ]]; then
			n_points=$((n_points + 1))
			desc=${BASH_REMATCH[4]}
			point=$((point + 1))
			if [ -n "${BASH_REMATCH[1]}" ]; then
				n_fail=$((n_fail + 1))
				comments+=("not ok $point $name: $desc")
			else
				comments+=("ok $point $name: $desc")
			fi
		elif [[ $line =~ ^1\.\.([0-9]+) ]]; then
			plan=${BASH_REMATCH[1]}
			comments+=("# $line")
		elif [[ $line =~ ^Bail\ out! ]]; then
			bail=$line
			comments+=("# $line")
		elif [[ $line =~ ^TAP\ version ]]; then
			:
		else
			comments+=("# $line")
		fi
	done <"$log"
	tap "${comments[@]+"${comments[@]}"}"

	local why=()
	case $rc in
	0 | 4) ;;
	124 | 137) why+=("TIMEOUT after ${to}s") ;;
	*) why+=("exit=$rc") ;;
	esac
	if [ "$rc" = 0 ] && [ "$n_fail" -gt 0 ]; then
		why+=("exit 0 but $n_fail test points failed")
	fi
	if [ -n "$plan" ] && [ "$plan" != "$n_points" ] && [ "$rc" != 4 ]; then
		why+=("planned $plan test points, got $n_points")
	fi
	[ -z "$bail" ] || why+=("bailed out")
	if [ -n "$kern" ]; then
		why+=("kernel reported a problem")
		tap "# --- kernel log of $name ---"
		tap "$(sed 's/^/# /' <<<"$kern")"
	fi
	if [ -n "$leftovers" ]; then
		tap "$(sed 's/^/# /' <<<"$leftovers")"
		grep -q '^FAIL: ' <<<"$leftovers" && why+=("did not clean up")
	fi

	point=$((point + 1))
	local res=0
	if [ ${#why[@]} -gt 0 ]; then
		local IFS=";"
		tap "not ok $point $name # $(printf "%s; " "${why[@]}" | sed "s/; $//") (${secs}s)"
		res=1
	elif [ "$rc" = 4 ]; then
		local reason
		reason=$(grep -m1 -o 'SKIP.*' "$log" | sed 's/^SKIP[: ]*//')
		tap "ok $point $name # SKIP ${reason:-exit status 4}"
	else
		tap "ok $point $name (${secs}s)"
	fi
	echo "$idx" >"$R/completed"
	rm -f "$R/running"
	return $res
}

boot_check() {
	local dm=$R/boot.dmesg kern failed=0
	dmesg -c >"$dm" 2>&1
	kmemleak_check "$dm"
	point=$((point + 1))
	if [ "$(uname -r)" != "$SIPOVL_KVER" ]; then
		tap "not ok $point boot: expected kernel $SIPOVL_KVER, running $(uname -r)"
		failed=1
	fi
	kern=$(check_kernel "$dm" 0)
	if [ -n "$kern" ]; then
		tap "$(sed 's/^/# /' <<<"$kern")"
		tap "not ok $point boot: kernel $SIPOVL_KVER booted with a clean log"
		failed=1
	elif [ $failed = 0 ]; then
		tap "ok $point boot: kernel $SIPOVL_KVER booted with a clean log"
	fi
	return $failed
}

uname -r >"$R/started"
status=0

case $VM_MODE in
tests)
	boot_check || status=1
	idx=0
	for t in "${VM_TESTS[@]}"; do
		idx=$((idx + 1))
		run_file "$idx" "$t" || status=1
	done
	;;
exec)
	phase "${VM_EXEC_TIMEOUT:-600}" "exec"
	before=$(cat /proc/sys/kernel/tainted)
	dmesg -c >"$R/boot.dmesg" 2>&1
	cd "$VM_CWD" 2>/dev/null || cd /tmp || exit 1
	(exec timeout -k 10 "${VM_EXEC_TIMEOUT:-600}" "${VM_EXEC[@]}") >>"$R/out" 2>&1 </dev/null
	status=$?
	phase 120 "exec (checks)"
	leftovers=$(cleanup_leftovers 2>&1)
	dmesg -c >"$R/exec.dmesg" 2>&1
	kmemleak_check "$R/exec.dmesg"
	kern=$(check_kernel "$R/exec.dmesg" "$before")
	if [ -n "$kern" ]; then
		printf '%s\n' "sipovl-vm: the kernel reported a problem:" "$kern" >>"$R/out"
		status=1
	fi
	if grep -q '^FAIL: ' <<<"$leftovers"; then
		printf '%s\n' "sipovl-vm: $leftovers" >>"$R/out"
		status=1
	fi
	;;
shell)
	phase 999999999 shell
	cat <<-EOF >/dev/ttyS0
	sipovl-vm: kernel $(uname -r); the host's root is mounted read-only, /tmp /run /var are tmpfs.
	  SIPOVL_KO=$SIPOVL_KO
	  insmod "\$SIPOVL_KO"; run a selftest: $SIPOVL_TOP/selftests/sipovl/<file>.sh
	  'exit' (or Ctrl-D) powers the VM off; Ctrl-A X kills it.
	EOF
	cd "$SIPOVL_TOP" || true
	PS1='sipovl-vm:\w# ' setsid -c bash --norc -i <>/dev/ttyS0 >&0 2>&0
	;;
*)
	echo "guest.sh: unknown VM_MODE=$VM_MODE" >&2
	status=1
	;;
esac

phase 60 shutdown
echo "$status" >"$R/done"
sync
exit "$status"
