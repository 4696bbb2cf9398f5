#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run sipovl's selftests in a QEMU guest booting an installed Debian kernel.
# See Documentation/testing.md.
#
#   selftests/vm/run.sh [options] [TEST...]
#
# TEST is a selftest executable (default: selftests/vm/smoke.sh and every
# executable selftests/sipovl/*.sh but those named in SIPOVL_VM_EXCLUDE, default
# "daemon-ha.sh multigw.sh": see Documentation/testing.md). Prints TAP 13 on stdout; exits 0 when
# everything passed or skipped, 1 when anything failed, 2 on usage errors.
#
# Options:
#   --kernel VER   6.1 (default), 6.12, a full release (/boot/vmlinuz-VER), or
#                  debug: the KASAN/lockdep/kmemleak kernel of
#                  selftests/vm/debug-kernel.sh (built first when not cached)
#   --ko PATH      module the guest sees as $SIPOVL_KO
#                  (default: build it: build/kmod-<release>/sipovl.ko)
#   --no-build     do not build the module first
#   --shell        interactive shell in the guest instead of tests
#   --exec CMD...  run CMD in the guest, its output raw on stdout, its status
#                  the exit status (the kernel log is checked as for tests)
#   --keep         keep the results directory even when everything passed
#   -h, --help
#
# Environment: SIPOVL_VM_KVM=1 (use KVM instead of TCG), SIPOVL_VM_CPUS (2),
# SIPOVL_VM_MEM (1024, MiB), SIPOVL_VM_APPEND (extra kernel arguments),
# SIPOVL_VM_QEMU_ARGS (extra QEMU arguments, split at white space; e.g. the
# tap network devices of bench/sip/run.sh),
# SIPOVL_VM_ZITI (host: the end-to-end tests' Ziti network runs natively on the host,
# selftests/vm/zthost.sh, the default for tests and --exec when run as root, but on the debug
# kernel and with tap NICs in SIPOVL_VM_QEMU_ARGS; guest: inside the guest, as before; none:
# no NIC, and an end-to-end file would run it in the guest: bench/sip/run.sh, which runs its own),
# SIPOVL_VM_BOOT_TIMEOUT (120 s; debug kernel 400 s), SIPOVL_VM_TIMEOUT
# (overall cap, 7200 s), SIPOVL_TEST_TIMEOUT (per test file; default: the
# directory's `settings` timeout=, else 300 s, times SIPOVL_VM_TIMEOUT_SCALE:
# 1, the debug kernel 3), SIPOVL_VM_RESTARTS (2: reboots after a dead guest).
# The debug kernel boots with pci=noacpi (QEMU's ACPI _PRT method times out in
# the AML interpreter under KASAN + lockdep in TCG, so ACPI does not route
# interrupts: the MP table does) and a 60 s RCU stall timeout (21 s is too
# short for a KASAN kernel under TCG on a loaded host; a real stall still shows).
# Every other SIPOVL_* variable is passed through to the guest.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VM=$TOP/selftests/vm
prog=selftests/vm/run.sh

die() { echo "$prog: $*" >&2; exit 2; }
usage() { sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

kernel=6.1 ko='' build=1 mode=tests keep=0
tests=() exec_cmd=()
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) [ $# -ge 2 ] || die "--kernel needs a value"; kernel=$2; shift 2 ;;
	--kernel=*) kernel=${1#*=}; shift ;;
	--ko) [ $# -ge 2 ] || die "--ko needs a value"; ko=$2; shift 2 ;;
	--ko=*) ko=${1#*=}; shift ;;
	--no-build) build=0; shift ;;
	--shell) mode=shell; shift ;;
	--exec) mode='exec'; shift; exec_cmd=("$@"); break ;;
	--keep) keep=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; tests+=("$@"); break ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) tests+=("$1"); shift ;;
	esac
done
[ "$mode" != exec ] || [ ${#exec_cmd[@]} -gt 0 ] || die "--exec needs a command"

case $TOP in
*[[:space:]]*) die "the checkout path must not contain white space: $TOP" ;;
esac

# The kernel: its release, image, build tree (KDIR) and module directory.
if [ "$kernel" = debug ]; then
	"$VM/debug-kernel.sh" build || exit 1
	kver=$("$VM/debug-kernel.sh" release) || exit 1
	vmlinuz=$("$VM/debug-kernel.sh" image)
	kdir=$("$VM/debug-kernel.sh" path)
	kmods=$("$VM/debug-kernel.sh" modules)
	kappend="pci=noacpi rcupdate.rcu_cpu_stall_timeout=60"
	boot_timeout=${SIPOVL_VM_BOOT_TIMEOUT:-400}
	timeout_scale=${SIPOVL_VM_TIMEOUT_SCALE:-3}
else
	kver=$("$TOP/scripts/kver.sh" "$kernel") || exit 1
	vmlinuz=/boot/vmlinuz-$kver
	kdir=/usr/src/linux-headers-$kver
	kmods=/lib/modules/$kver
	kappend=
	boot_timeout=${SIPOVL_VM_BOOT_TIMEOUT:-120}
	timeout_scale=${SIPOVL_VM_TIMEOUT_SCALE:-1}
fi
case $timeout_scale in
'' | *[!0-9]* | 0) die "SIPOVL_VM_TIMEOUT_SCALE must be a positive integer: $timeout_scale" ;;
esac
[ -r "$vmlinuz" ] || die "cannot read $vmlinuz (install linux-image-$kver)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (scripts/deps.sh check)"

if [ -z "$ko" ]; then
	ko=$TOP/build/kmod-$kver/sipovl.ko
	if [ $build = 1 ]; then
		if ! out=$(make -s -C "$TOP" kmod-vm KVER="$kver" KDIR="$kdir" 2>&1); then
			echo "$out" >&2
			echo "$prog: building sipovl.ko for $kver failed" >&2
			exit 1
		fi
	fi
fi
ko=$(realpath -m "$ko")

# Test list: absolute paths of executables inside the checkout.
if [ "$mode" = tests ] && [ ${#tests[@]} -eq 0 ]; then
	tests=("$VM/smoke.sh")
	for t in "$TOP"/selftests/sipovl/*.sh; do
		for x in ${SIPOVL_VM_EXCLUDE-daemon-ha.sh multigw.sh}; do
			[ "$(basename "$t")" != "$x" ] || continue 2
		done
		[ -x "$t" ] && tests+=("$t")
	done
fi
abs_tests=()
for t in ${tests[@]+"${tests[@]}"}; do
	a=$(realpath -e "$t" 2>/dev/null) || die "no such test: $t"
	[ -x "$a" ] || die "not executable: $t"
	case $a in
	"$TOP"/*) ;;
	*) die "tests must live inside the checkout ($TOP): $t" ;;
	esac
	abs_tests+=("$a")
done

# Initramfs, cached per kernel; rebuilt when its inputs change.
mkdir -p "$TOP/build/vm"
initrd=$TOP/build/vm/initramfs-$kver.cpio.gz
if [ ! -s "$initrd" ] || [ "$VM/init" -nt "$initrd" ] || [ "$VM/mkinitramfs.sh" -nt "$initrd" ] ||
	[ "$kmods/modules.dep" -nt "$initrd" ]; then
	"$VM/mkinitramfs.sh" "$kver" "$initrd" "$kmods" || exit 1
fi

# Results directory, exported writable to the guest. The newest 10 finished
# ones are kept (runs still going, maybe someone else's, are never touched).
res=$(mktemp -d "$TOP/build/vm/run-$kver-$(date +%Y%m%d-%H%M%S)-XXXX")
ln -sfn "$(basename "$res")" "$TOP/build/vm/last"
# shellcheck disable=SC2012
{ ls -1dt "$TOP"/build/vm/run-*/.finished 2>/dev/null || true; } | tail -n +11 | xargs -r dirname | xargs -r rm -rf || true

accel=(-accel tcg -cpu max)
[ "${SIPOVL_VM_KVM:-0}" != 1 ] || accel=(-accel kvm -cpu host)

# The Ziti network on the host (selftests/vm/zthost.sh): a network namespace of this run's,
# QEMU inside it with a NIC on its tap
source "$VM/zthost.sh"
ziti_where=${SIPOVL_VM_ZITI:-host}
case $ziti_where in
host)
	# not without root (a namespace), for --shell, for the debug kernel (built without
	# virtio-net) and with the caller's own tap NICs (QEMU opens a tap by name in its own
	# namespace) unless asked for by name
	[ "$mode" != shell ] && [ "$(id -u)" = 0 ] || ziti_where=guest
	[ -n "${SIPOVL_VM_ZITI:-}" ] || { [ "$kernel" != debug ] && [[ ${SIPOVL_VM_QEMU_ARGS:-} != *tap* ]]; } ||
		ziti_where=guest ;;
guest | none) ;;
*) die "SIPOVL_VM_ZITI must be host, guest or none: $ziti_where" ;;
esac

qemu_pid=
cleanup() {
	[ -z "$qemu_pid" ] || kill "$qemu_pid" 2>/dev/null || true
	zthost_down
	[ ! -d "$res" ] || touch "$res/.finished"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "$ziti_where" = host ]; then
	zthost_up || die "cannot make the network namespace of the Ziti network (selftests/vm/zthost.sh)"
fi

# write_env POINT_START TEST...: the guest's settings.
write_env() {
	local dir=$1 start=$2 v
	shift 2
	{
		printf 'SIPOVL_TOP=%q\nSIPOVL_KO=%q\nSIPOVL_KVER=%q\n' "$TOP" "$ko" "$kver"
		printf 'VM_MODE=%q\nVM_TIMEOUT_DEFAULT=%q\nVM_POINT_START=%q\n' "$mode" 300 "$start"
		printf 'VM_TIMEOUT_SCALE=%q\n' "$timeout_scale"
		printf 'VM_CWD=%q\n' "$PWD"
		printf 'VM_TESTS=('; printf '%q ' "$@"; printf ')\n'
		printf 'VM_EXEC=('; printf '%q ' ${exec_cmd[@]+"${exec_cmd[@]}"}; printf ')\n'
		for v in $(compgen -e SIPOVL_); do
			case $v in SIPOVL_TOP | SIPOVL_KO | SIPOVL_KVER | SIPOVL_VM_TIMEOUT_SCALE) continue ;; esac
			printf 'export %s=%q\n' "$v" "${!v}"
		done
	} >"$dir/env"
}

# boot DIR SERIAL: start the VM with DIR as its results directory.
boot() {
	local dir=$1 serial=$2
	# no_timer_check: a TCG guest on a loaded host can miss the timer IRQ
	# check's few ticks and panic with "IO-APIC + timer doesn't work!" (seen
	# on 6.12 guests at host load ~30); the emulated timer does work.
	local append="console=ttyS0 panic=-1 quiet loglevel=4 no_timer_check sipovl.top=$TOP${kappend:+ $kappend} ${SIPOVL_VM_APPEND:-}"
	qemu_cmd=(qemu-system-x86_64 "${accel[@]}" -smp "${SIPOVL_VM_CPUS:-2}" -m "${SIPOVL_VM_MEM:-1024}"
		-nodefaults -display none -no-reboot -monitor none
		-kernel "$vmlinuz" -initrd "$initrd" -append "$append"
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
		-virtfs "local,path=$dir,mount_tag=results,security_model=none,multidevs=remap"
		-serial "$serial")
	local extra
	read -r -a extra <<<"${SIPOVL_VM_QEMU_ARGS:-}"
	qemu_cmd+=(${extra[@]+"${extra[@]}"})
	if [ "$ziti_where" = host ]; then
		zthost_serve "$dir" || die "cannot serve the Ziti network's requests in $dir"
		qemu_cmd=(ip netns exec "$ZTHOST_NS" "${qemu_cmd[@]}" "${ZTHOST_QEMU[@]}")
	fi
}

# Print the complete new lines of FILE beyond byte offset ${off[FILE]}.
declare -A off=()
stream() {
	local f=$1 chunk part
	[ -f "$f" ] || return 0
	local LC_ALL=C
	chunk=$(tail -c +$((${off[$f]:-0} + 1)) "$f"; echo x)
	chunk=${chunk%x}
	[[ $chunk == *$'\n'* ]] || return 0
	part=${chunk%$'\n'*}
	printf '%s\n' "$part"
	off[$f]=$((${off[$f]:-0} + ${#part} + 1))
}

# watch DIR FILE: wait for the VM, streaming FILE; kill it when it hangs.
# Sets $why to the reason when the VM was killed.
watch() {
	local dir=$1 f=$2 t0 now deadline what mt
	local boot_to=$boot_timeout cap=${SIPOVL_VM_TIMEOUT:-7200}
	why=
	t0=$(date +%s)
	while kill -0 "$qemu_pid" 2>/dev/null; do
		stream "$f"
		now=$(date +%s)
		if [ ! -e "$dir/started" ]; then
			if ((now - t0 > boot_to)); then
				why="the guest did not come up within ${boot_to}s"
			fi
		elif [ -e "$dir/current" ] && read -r deadline what <"$dir/current"; then
			mt=$(stat -c %Y "$dir/current")
			if ((now - mt > deadline)); then
				why="the guest hung: '$what' outlived its ${deadline}s deadline"
			fi
		fi
		if [ -z "$why" ] && ((now - t0 > cap)); then
			why="the VM ran longer than SIPOVL_VM_TIMEOUT=${cap}s"
		fi
		if [ -n "$why" ]; then
			kill "$qemu_pid" 2>/dev/null || true
			break
		fi
		sleep 0.5
	done
	wait "$qemu_pid" 2>/dev/null || true
	qemu_pid=
	stream "$f"
}

# console_tail DIR: the end of the guest's console; when a kernel report
# (panic, BUG, oops, WARNING) starts earlier, from that report on (at most
# 150 lines), so the report's first line is never cut off.
console_tail() {
	local dir=$1 log=$1/console.log total first start
	total=$(wc -l <"$log" 2>/dev/null || echo 0)
	start=$((total > 40 ? total - 39 : 1))
	first=$(grep -n -m1 -E 'Kernel panic|BUG:|Oops|general protection fault|WARNING:|UBSAN:' "$log" 2>/dev/null | cut -d: -f1 || true)
	if [ -n "$first" ] && ((first < start)); then
		start=$((total - first >= 150 ? total - 149 : first))
	fi
	echo "--- console log (lines $start-$total of $log) ---"
	tail -n +"$start" "$log" 2>/dev/null | tr -d '\r'
	if [ -s "$dir/qemu.log" ]; then
		echo "--- qemu stderr ---"
		tail -n 10 "$dir/qemu.log"
	fi
}

case $mode in
shell)
	write_env "$res" 0
	boot "$res" mon:stdio
	echo "$prog: booting $kver (Ctrl-A X quits QEMU); results in $res" >&2
	"${qemu_cmd[@]}"
	exit 0
	;;
exec)
	write_env "$res" 0
	boot "$res" "file:$res/console.log"
	: >"$res/out"
	"${qemu_cmd[@]}" 2>"$res/qemu.log" &
	qemu_pid=$!
	watch "$res" "$res/out"
	[ "$ziti_where" != host ] || zthost_stop
	if [ ! -s "$res/done" ]; then
		echo "$prog: ${why:-the VM stopped before the command finished (kernel panic?)}" >&2
		console_tail "$res" >&2
		echo "$prog: results in $res" >&2
		exit 1
	fi
	rc=$(cat "$res/done")
	[ "$rc" = 0 ] || [ $keep = 1 ] || echo "$prog: results in $res" >&2
	[ "$rc" != 0 ] || [ $keep = 1 ] || rm -rf "$res"
	exit "$rc"
	;;
esac

# Tests: boot, and after a dead guest boot again for the tests not yet run.
echo "TAP version 13"
point=0 restarts=0 boot_retries=0
remaining=("${abs_tests[@]}")
all=$res/tap
: >"$all"
part=0
while :; do
	part=$((part + 1))
	dir=$res
	if [ $part -gt 1 ]; then
		dir=$res/boot$part
		mkdir -p "$dir"
	fi
	write_env "$dir" "$point" ${remaining[@]+"${remaining[@]}"}
	boot "$dir" "file:$dir/console.log"
	: >"$dir/tap"
	"${qemu_cmd[@]}" 2>"$dir/qemu.log" &
	qemu_pid=$!
	watch "$dir" "$dir/tap"
	[ "$ziti_where" != host ] || zthost_stop
	[ "$dir" = "$res" ] || cat "$dir/tap" >>"$all"
	last=$(grep -Eo '^(not )?ok [0-9]+' "$dir/tap" | grep -Eo '[0-9]+$' | tail -1 || true)
	point=${last:-$point}
	[ -s "$dir/done" ] && break

	# A stray int3 in the kernel's own boot, before the harness started: QEMU's TCG racing the
	# kernel's live text patching (static keys) across vCPUs (seen on 6.12 in sched_clock_cpu
	# during initcalls). Nothing of ours has run yet: boot again, at most twice.
	if [ -z "$why" ] && [ ! -e "$dir/started" ] && [ "$boot_retries" -lt 2 ] &&
		grep -q 'Oops: int3' "$dir/console.log" 2>/dev/null; then
		boot_retries=$((boot_retries + 1))
		{
			console_tail "$dir" | sed 's/^/# /'
			echo "# the guest kernel hit a stray int3 while booting, before any test ran (QEMU TCG racing the kernel's text patching): booting again"
		} | tee -a "$all"
		continue
	fi
	# The guest died or hung: blame the test file that was running.
	reason=${why:-the VM stopped unexpectedly (kernel panic?)}
	# QEMU says so when something else killed it (another user's cleanup, the OOM killer...)
	if [ -z "$why" ] && sig=$(grep -m1 -o 'terminating on signal [0-9]* from pid [0-9]*' "$dir/qemu.log" 2>/dev/null); then
		reason="QEMU was killed from outside, not by the runner (qemu: $sig)"
	fi
	ran=0
	point=$((point + 1))
	ran=$(cat "$dir/completed" 2>/dev/null || echo 0)
	if [ -s "$dir/running" ]; then
		read -r ridx rname _ <"$dir/running"
		ran=$ridx
		base=$(basename "${remaining[$((ridx - 1))]}")
		{
			echo "# --- output of $rname (until the VM stopped) ---"
			sed 's/^/# /' "$dir/$ridx-$base.log" 2>/dev/null || true
			console_tail "$dir" | sed 's/^/# /'
			echo "not ok $point $rname # $reason; results in $dir"
		} | tee -a "$all"
	else
		{
			console_tail "$dir" | sed 's/^/# /'
			echo "not ok $point vm: kernel $kver # $reason; results in $dir"
		} | tee -a "$all"
		# Not even the boot check finished: rebooting would not help.
		[ -e "$dir/started" ] && [ "$ran" -gt 0 ] || break
	fi
	remaining=("${remaining[@]:$ran}")
	[ ${#remaining[@]} -gt 0 ] || break
	restarts=$((restarts + 1))
	if [ $restarts -gt "${SIPOVL_VM_RESTARTS:-2}" ]; then
		for t in "${remaining[@]}"; do
			point=$((point + 1))
			echo "not ok $point ${t#"$TOP"/selftests/} # not run: the VM died $restarts times" | tee -a "$all"
		done
		break
	fi
	echo "# rebooting the VM for the ${#remaining[@]} remaining test file(s)"
done

echo "1..$point"
pass=$(grep -Ec '^ok [0-9]+' "$all" || true)
skip=$(grep -Ec '^ok [0-9]+.*# SKIP' "$all" || true)
fail=$(grep -Ec '^not ok [0-9]+' "$all" || true)
echo "# Totals: pass:$((pass - skip)) fail:$fail xfail:0 xpass:0 skip:$skip error:0"
if [ "$fail" -gt 0 ]; then
	echo "# results, console and kernel logs: $res" >&2
	exit 1
fi
[ $keep = 1 ] || rm -rf "$res"
exit 0
