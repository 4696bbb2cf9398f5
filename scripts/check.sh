#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Everything `make check` runs, after scripts/deps.sh (see Documentation/testing.md):
#
#   build     make tests (the module and all userspace, -Werror)
#   static    sparse (C=2) on kmod/ for 6.1 and 6.12: no warnings;
#             the YNL spec against the kernel's schema (scripts/ynl.sh);
#             checkpatch.pl --no-tree -f on kmod/*.[ch]: no errors;
#             and shellcheck (-S warning) on the test infrastructure's scripts
#   host-*    every executable tests/*/run.sh (TAP)
#   vm-6.1    the VM selftests (selftests/vm/run.sh: every file) on Debian's 6.1 kernel,
#             but the daemon end-to-end files that run on 6.12 (VM_E2E_6_1 below)
#   vm-6.12   the same suite on Debian 12's 6.12 kernel, but the end-to-end files
#             that run on 6.1 (SIPOVL_CHECK_E2E=both: every file on both)
#   kernel-debug  build the debug kernel (KASAN, KFENCE, lockdep, PROVE_RCU,
#             kmemleak, DEBUG_OBJECTS, UBSAN: selftests/vm/debug-kernel.sh)
#             unless it is cached in ~/.cache/sipovl/debug-kernel
#   vm-debug  on the debug kernel, the VM selftests chosen for make check (the
#             full set: make check-debug) and the netlink fuzzer for 60 s
#   dkms      make deb; apt install of the .debs on this host (DKMS builds for 6.1 and
#             6.12), the unit's systemd-analyze verify and security, upgrade, purge,
#             lintian (selftests/vm/dkms-deb.sh; its VM call: SIPOVL_DKMS_DEB_VM=1)
#   pkg-root  the .debs in a fresh Debian 12 root (debootstrap), DKMS for two kernels'
#             headers, the root booted with its own systemd running sipovld.service, which
#             carries a SIP call while apt upgrades sipovl (and sipovl-dkms, a DKMS build
#             in the guest, with SIPOVL_PKG_ROOT_DKMS_UPGRADE=1: make check-full), purge on
#             the running system (selftests/vm/pkg-root.sh)
#
#   scripts/check.sh [SUITE...]   (default: all; e.g. `scripts/check.sh static vm-6.1`)
#
# After the build, the suites run from one queue in lanes (SIPOVL_CHECK_JOBS,
# default one per CPU plus one: a TCG guest keeps about 0.9 of a CPU busy and the
# host suites wait on timers and sockets, so one lane per CPU left a quarter of
# the CPUs idle): kernel-debug, the two VM suites and pkg-root first, then the
# others longest first (the queue below) in whichever lane frees first. The
# daemon end-to-end VM files run on one kernel each (VM_E2E_6_1 below).
# vm-debug and host-runner (which
# boots the debug kernel too) wait for kernel-debug: while it builds (the first
# time on a machine), the other lane takes the suites after them. Results print
# in the order above, each with its wall and CPU seconds and the load average.
#
# Every TAP test point of every suite is counted; failures are printed with
# their diagnostics. The summary line is `N passed, M failed`; skipped points
# are listed by name after it. Exits 1 if anything failed. Logs:
# build/check/last/<suite>.log.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$TOP"
# Logs of this run (others may run check in the same checkout at the same time).
mkdir -p "$TOP/build/check"
LOGS=$(mktemp -d "$TOP/build/check/run-$(date +%Y%m%d-%H%M%S)-XXXX")
ln -sfn "$(basename "$LOGS")" "$TOP/build/check/last"
trap 'touch "$LOGS/.finished"' EXIT
# shellcheck disable=SC2012
{ ls -1dt "$TOP"/build/check/run-*/.finished 2>/dev/null || true; } | tail -n +6 | xargs -r dirname | xargs -r rm -rf

want=("$@")
jobs=${SIPOVL_CHECK_JOBS:-$(($(nproc) + 1))}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "check: SIPOVL_CHECK_JOBS must be a positive number, not '$jobs'"; exit 2; }
case ${SIPOVL_CHECK_E2E:-split} in
split | both) ;;
*) echo "check: SIPOVL_CHECK_E2E must be split or both, not '$SIPOVL_CHECK_E2E'"; exit 2 ;;
esac
wanted() {
	[ ${#want[@]} -eq 0 ] && return 0
	local w
	for w in "${want[@]}"; do
		[[ $1 == "$w" || $1 == "$w"-* ]] && return 0
	done
	return 1
}

passed=0 failed=0
failures=() skips=()
suites=()
t_start=$(date +%s)

# run_suite NAME CMD...: run a TAP-producing command, count its test points
# into $LOGS/NAME.res (read back by collect_suite), print a progress line.
run_suite() {
	local name=$1 log=$LOGS/$1.log res=$LOGS/$1.res rc=0 t0 line desc n_pass=0 n_fail=0 n_skip=0 n=0 u sy
	local fl=() sl=()
	shift
	wanted "$name" || return 0
	t0=$(date +%s)
	# CPU seconds (user + system) of the suite and everything it waited for
	# (QEMU included): what the lanes share, unlike wall time.
	local TIMEFORMAT='%0U %0S' cpu
	{ time "$@" >"$log" 2>&1 </dev/null || rc=$?; } 2>"$res.cpu"
	read -r u sy <"$res.cpu" || true
	cpu=$((${u:-0} + ${sy:-0}))
	while IFS= read -r line; do
		[[ $line =~ ^(not\ )?ok([[:space:]]+[0-9]+)?([[:space:]]+-)?[[:space:]]*(.*)$ ]] || continue
		n=$((n + 1))
		desc=${BASH_REMATCH[4]}
		if [ -n "${BASH_REMATCH[1]}" ]; then
			n_fail=$((n_fail + 1))
			fl+=("$name: $desc")
		elif [[ $desc =~ \#[[:space:]]*[Ss][Kk][Ii][Pp] ]]; then
			n_skip=$((n_skip + 1))
			sl+=("$name: $desc")
		else
			n_pass=$((n_pass + 1))
		fi
	done <"$log"
	if [ "$rc" = 4 ] && [ $n = 0 ]; then
		n_skip=1
		sl+=("$name # SKIP $(grep -m1 -o 'SKIP.*' "$log" | sed 's/^SKIP *//')")
	elif [ "$rc" != 0 ] && [ "$rc" != 4 ] && [ $n_fail = 0 ]; then
		n_fail=1
		fl+=("$name: exited with status $rc but reported no failing test point")
	elif [ $n = 0 ] && [ "$rc" = 0 ]; then
		n_fail=1
		fl+=("$name: produced no test points")
	fi
	{
		echo "counts $n_pass $n_fail $n_skip $rc"
		[ ${#fl[@]} -eq 0 ] || printf 'F %s\n' "${fl[@]}"
		[ ${#sl[@]} -eq 0 ] || printf 'S %s\n' "${sl[@]}"
	} >"$res.tmp"
	mv "$res.tmp" "$res"
	printf 'check: %-14s %3d passed, %d failed, %d skipped (%ds, cpu %ds, load %s)\n' \
		"$name" "$n_pass" "$n_fail" "$n_skip" $(($(date +%s) - t0)) "$cpu" "$(cut -d' ' -f1-3 /proc/loadavg)"
	# the VM suites' files, slowest first (each file's closing point ends "(Ns)"): where the time went
	sed -n 's/^\(not \)\{0,1\}ok [0-9]* [a-z]*\/\([^ ]*\.sh\)\( # exit=[0-9]*\)\{0,1\} (\([0-9]*\)s)$/\4 \2/p' "$log" |
		sort -rn | head -12 | awk 'NR == 1 { printf "check: %-14s files:", "" } { printf " %s %ss", $2, $1 } END { if (NR) print "" }'
}

# collect_suite NAME: add a finished suite to the totals, show its failures.
collect_suite() {
	local name=$1 log=$LOGS/$1.log res=$LOGS/$1.res kind rest p f s rc
	wanted "$name" || return 0
	if [ ! -f "$res" ]; then
		failed=$((failed + 1))
		failures+=("$name: did not run to completion")
		return
	fi
	read -r _ p f s rc <"$res"
	passed=$((passed + p))
	failed=$((failed + f))
	while read -r kind rest; do
		case $kind in
		F) failures+=("$rest") ;;
		S) skips+=("$rest") ;;
		esac
	done <"$res"
	if [ "$f" -gt 0 ]; then
		echo "--- $name: failures (full log: $log) ---"
		failure_context "$log"
		[ "$rc" = 0 ] || [ "$rc" = 1 ] || [ "$rc" = 4 ] || tail -n 20 "$log" | sed 's/^/  /'
	fi
}

# Print each failing point with the diagnostics around it: up to 30 lines
# since the previous test point, and up to 30 lines after it.
failure_context() {
	awk '
		/^not ok / { for (i = 0; i < n; i++) print "  " buf[i]; print "  " $0; n = 0; after = 30; next }
		/^ok / { n = 0; after = 0; next }
		after > 0 { print "  " $0; after--; next }
		{ if (n == 30) { for (i = 1; i < 30; i++) buf[i - 1] = buf[i]; n = 29 } buf[n++] = $0 }
	' "$1"
}

# ---- static checks (TAP) ----
CHECKPATCH_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/sipovl/checkpatch-6.1
checkpatch() {
	local f=$CHECKPATCH_DIR/checkpatch.pl src=/usr/src/linux-source-6.1.tar.xz
	if [ ! -x "$f" ]; then
		[ -f "$src" ] || { echo "no $src (apt install linux-source-6.1)" >&2; return 1; }
		mkdir -p "$CHECKPATCH_DIR"
		tar -xJf "$src" -C "$CHECKPATCH_DIR" --strip-components=2 \
			linux-source-6.1/scripts/checkpatch.pl linux-source-6.1/scripts/spelling.txt \
			linux-source-6.1/scripts/const_structs.checkpatch
	fi
	"$f" "$@"
}

static_checks() {
	local n=0 k kver out checks files f errs
	echo "TAP version 13"
	for k in 6.1 6.12; do
		n=$((n + 1))
		if ! kver=$(KVER_HEADERS_ONLY=1 scripts/kver.sh $k 2>&1); then
			echo "not ok $n sparse on kmod/ ($k): $kver"
			continue
		fi
		out=$(make -C "$TOP" --no-print-directory kmod-sparse KVER="$kver" 2>&1) || {
			echo "not ok $n sparse on kmod/ ($kver): the build failed"
			sed 's/^/# /' <<<"$out"
			continue
		}
		# Proof that sparse looked at every source file: one CHECK line each.
		checks=$(grep -Ec '^ +CHECK +.*/kmod/[^/]+\.c$' <<<"$out" || true)
		files=$(ls kmod/*.c | wc -l)
		if [ "$checks" != "$files" ]; then
			echo "not ok $n sparse on kmod/ ($kver): sparse checked $checks of $files files"
			sed 's/^/# /' <<<"$out"
		elif grep -Eq ': (warning|error):' <<<"$out"; then
			echo "not ok $n sparse on kmod/ ($kver): $(grep -Ec ': (warning|error):' <<<"$out") warnings"
			grep -E ': (warning|error):' <<<"$out" | sed 's/^/# /'
		else
			echo "ok $n sparse on kmod/ ($kver): $files files, no warnings"
		fi
	done
	# A kernel without br_netfilter (the IS_ENABLED paths of kmod/compat.h).
	n=$((n + 1))
	if ! kver=$(KVER_HEADERS_ONLY=1 scripts/kver.sh 6.1 2>&1); then
		echo "not ok $n kmod/ builds without CONFIG_BRIDGE_NETFILTER: $kver"
	elif out=$(make -C "$TOP" --no-print-directory kmod-nobrnf KVER="$kver" 2>&1); then
		echo "ok $n kmod/ builds without CONFIG_BRIDGE_NETFILTER ($kver)"
	else
		echo "not ok $n kmod/ builds without CONFIG_BRIDGE_NETFILTER ($kver)"
		sed 's/^/# /' <<<"$out"
	fi
	for f in kmod/*.[ch]; do
		n=$((n + 1))
		if ! out=$(checkpatch --no-tree -f --terse --no-summary --show-types "$f" 2>&1); then
			:
		fi
		errs=$(grep -c ': ERROR:' <<<"$out" || true)
		if [ "$errs" -gt 0 ] || ! [ -x "$CHECKPATCH_DIR/checkpatch.pl" ]; then
			echo "not ok $n checkpatch $f: $errs errors"
		else
			echo "ok $n checkpatch $f: no errors"
		fi
		[ -z "$out" ] || sed 's/^/# /' <<<"$out"
	done
	for f in scripts/*.sh selftests/lib.sh selftests/vm/*.sh selftests/runner-tests/*.sh selftests/fuzz/*.sh \
		selftests/sipovl/*.sh tests/*/*.sh .ci/run; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		if out=$(shellcheck -x -P SCRIPTDIR -S warning -s bash "$f" 2>&1); then
			echo "ok $n shellcheck $f"
		else
			echo "not ok $n shellcheck $f"
			sed 's/^/# /' <<<"$out"
		fi
	done
	# The YNL spec against the kernel's schema (Debian's linux-source-6.12).
	local ynl
	n=$((n + 1))
	if ! ynl=$(scripts/ynl.sh 2>&1); then
		echo "not ok $n YNL spec: no ynl tool: $ynl"
	elif out=$(/usr/bin/python3 - "$ynl/tools/net/ynl" Documentation/netlink/specs/sipovl.yaml \
		"$ynl/Documentation/netlink/genetlink-legacy.yaml" 2>&1 <<-'EOF'
			import sys
			sys.path.insert(0, sys.argv[1])
			from lib import SpecFamily
			f = SpecFamily(sys.argv[2], sys.argv[3])
			print('%d attribute sets, %d operations' % (len(f.attr_sets), len(f.msgs)))
		EOF
	); then
		echo "ok $n YNL spec Documentation/netlink/specs/sipovl.yaml validates against genetlink-legacy.yaml: $out"
	else
		echo "not ok $n YNL spec Documentation/netlink/specs/sipovl.yaml fails genetlink-legacy.yaml"
		sed 's/^/# /' <<<"$out"
	fi
	# The man pages render without a groff warning (what lintian's groff-message reports:
	# a line of sipovld.8.md that starts with a dot is a roff request; 120 columns as lintian).
	local m page warn
	m=$(mktemp -d)
	n=$((n + 1))
	if out=$(scripts/sipovld-man.sh check "$m/sipovld.8" 2>&1); then
		warn=
		for page in "$m/sipovld.8" Documentation/sipovlctl.8; do
			# tbl's "table wider than line width" (two lines) is not lintian's: the status
			# request's table is wide
			out=$(LC_ALL=C.UTF-8 MANWIDTH=120 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null |
				sed '/^warning: file .*, around line [0-9]*:$/{N;/\n  table wider than line width$/d}')
			[ -z "$out" ] || warn+="$(basename "$page"): $out"$'\n'
		done
		if [ -z "$warn" ]; then
			echo "ok $n man pages sipovld.8 (go-md2man) and sipovlctl.8 render without a groff warning"
		else
			echo "not ok $n man pages: groff warns"
			sed 's/^/# /' <<<"$warn"
		fi
	else
		echo "not ok $n sipovld.8 from Documentation/sipovld.8.md: go-md2man failed"
		sed 's/^/# /' <<<"$out"
	fi
	rm -rf "$m"
	# make install / install-dkms stage every file where Debian expects it.
	local d want missing
	d=$(mktemp -d)
	n=$((n + 1))
	want="usr/sbin/sipovlctl usr/sbin/sipovld usr/share/man/man8/sipovlctl.8
		usr/share/bash-completion/completions/sipovlctl lib/systemd/system/sipovld.service
		etc/sipovld usr/src/sipovl-$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' dkms.conf)/dkms.conf"
	if out=$(make -s -C "$TOP" --no-print-directory install install-dkms DESTDIR="$d" 2>&1); then
		missing=
		for f in $want; do [ -e "$d/$f" ] || missing="$missing $f"; done
		for f in kmod/*.c kmod/*.h uapi/linux/sipovl.h Kbuild; do
			cmp -s "$f" "$d"/usr/src/sipovl-*/"$f" || missing="$missing usr/src/.../$f"
		done
		# the unit runs as sipovld from the start: its configuration directory must be
		# readable (searchable) by others, as the package's is
		[ "$(stat -c %a "$d/etc/sipovld" 2>/dev/null)" = 755 ] || missing="$missing etc/sipovld(mode $(stat -c %a "$d/etc/sipovld" 2>/dev/null), not 755)"
		if [ -z "$missing" ] && [ -x "$d/usr/sbin/sipovld" ]; then
			echo "ok $n make install, install-dkms (DESTDIR): $(find "$d" -type f | wc -l) files in place"
		else
			echo "not ok $n make install, install-dkms (DESTDIR): missing or different:$missing"
		fi
	else
		echo "not ok $n make install, install-dkms (DESTDIR) failed"
		sed 's/^/# /' <<<"$out"
	fi
	rm -rf "$d"
	echo "1..$n"
}

# ---- the debug kernel (TAP) ----
kernel_debug() {
	local dk=selftests/vm/debug-kernel.sh t0 out
	echo "TAP version 13"
	echo "1..1"
	if "$dk" status; then
		echo "ok 1 debug kernel $("$dk" release): cached ($("$dk" key))"
		return 0
	fi
	t0=$(date +%s)
	# Not niced (debug-kernel.sh's default is nice 19): vm-debug and host-runner wait for
	# it, and niced beside the two VM lanes it got about a third of a CPU (1,714 s of wall
	# time for 526 CPU-seconds in the cold run of 2026-12-05, Documentation/testing.md).
	if out=$(SIPOVL_KBUILD_NICE=${SIPOVL_KBUILD_NICE:-0} "$dk" build 2>&1); then
		echo "ok 1 debug kernel $("$dk" release): built in $(($(date +%s) - t0))s (load $(cut -d' ' -f1-3 /proc/loadavg))"
	else
		echo "not ok 1 debug kernel: the build failed"
		sed 's/^/# /' <<<"$out"
		return 1
	fi
}

# vm_debug: the VM selftests on the debug kernel. In make check a chosen few
# (VM_DEBUG_FILES; why these: Documentation/testing.md, "The debug kernel")
# the netlink fuzzer for SIPOVL_FUZZ_SECONDS (default 60) and the packet
# fuzzer for SIPOVL_PKTFUZZ_SECONDS (20) with one light unload/namespace
# churn round (SIPOVL_CHURN_ROUNDS=1, one namespace with traffic at 10
# datagrams/s per sender, one namespace churned: SIPOVL_CHURN_NS,
# SIPOVL_CHURN_GAP_US, SIPOVL_CHURN_MAXNS); make fuzz runs the long churn
# (Documentation/testing.md, "The packet fuzzer"); with
# SIPOVL_VM_DEBUG_FILES=all (make check-debug) every file but the daemon
# end-to-end ones (SIPOVL_VM_DEBUG_EXCLUDE, default "daemon.sh dnssip.sh daemon-ha.sh endpoint.sh
# daemon-update.sh multigw.sh": they stay on the Debian kernels), then the fuzzer.
VM_DEBUG_FILES="netns.sh"
vm_debug() {
	local t x files=()
	if [ "${SIPOVL_VM_DEBUG_FILES:-}" = all ]; then
		files+=("$TOP/selftests/vm/smoke.sh")
		for t in "$TOP"/selftests/sipovl/*.sh; do
			[ -x "$t" ] || continue
			for x in ${SIPOVL_VM_DEBUG_EXCLUDE-daemon.sh daemon-update.sh dnssip.sh daemon-ha.sh endpoint.sh multigw.sh}; do
				[ "$(basename "$t")" != "$x" ] || continue 2
			done
			files+=("$t")
		done
	else
		for t in ${SIPOVL_VM_DEBUG_FILES:-$VM_DEBUG_FILES}; do
			files+=("$TOP/selftests/sipovl/$t")
		done
	fi
	files+=("$TOP/selftests/fuzz/nlfuzz.sh" "$TOP/selftests/fuzz/pktfuzz.sh")
	SIPOVL_FUZZ_SECONDS=${SIPOVL_FUZZ_SECONDS:-60} SIPOVL_PKTFUZZ_SECONDS=${SIPOVL_PKTFUZZ_SECONDS:-20} \
		SIPOVL_CHURN_ROUNDS=${SIPOVL_CHURN_ROUNDS:-1} SIPOVL_CHURN_NS=${SIPOVL_CHURN_NS:-1} \
		SIPOVL_CHURN_GAP_US=${SIPOVL_CHURN_GAP_US:-100000} SIPOVL_CHURN_MAXNS=${SIPOVL_CHURN_MAXNS:-1} \
		selftests/vm/run.sh --kernel debug "${files[@]}"
}

# The daemon end-to-end files (those that source daemon-lib.sh: a Ziti network,
# gateways and SIP calls in the guest) test sipovld with the module; what the
# module does on each kernel is the kernel selftests' concern, and those run on
# both. In make check each end-to-end file runs on one kernel: those named in
# VM_E2E_6_1 on 6.1, the others on 6.12 (each would add 2-6 minutes of TCG to
# both VM suites, the run's critical path). SIPOVL_CHECK_E2E=both runs every
# one on both kernels (make check-full).
VM_E2E_6_1="daemon-update.sh daemon-workers.sh dnssip.sh endpoint.sh"
# Left out of the VM suites: daemon-ha.sh (run by name, Documentation/testing.md) and, but in
# make check-full, multigw.sh (8-16 minutes of TCG alone: "Two gateways at one site" there).
VM_EXCLUDE_DEFAULT="daemon-ha.sh"
[ "${SIPOVL_CHECK_E2E:-split}" = both ] || VM_EXCLUDE_DEFAULT+=" multigw.sh"
# e2e_elsewhere KERNEL: the end-to-end files that run on the other kernel
e2e_elsewhere() {
	local t b on
	[ "${SIPOVL_CHECK_E2E:-split}" != both ] || return 0
	for t in "$TOP"/selftests/sipovl/*.sh; do
		[ -x "$t" ] && grep -q 'daemon-lib\.sh' "$t" || continue
		b=$(basename "$t")
		case " $VM_E2E_6_1 " in
		*" $b "*) on=6.1 ;;
		*) on=6.12 ;;
		esac
		[ "$on" = "$1" ] || printf '%s ' "$b"
	done
}

# ---- build ----
if ! out=$(make -s -j"$(nproc)" -C "$TOP" tests 2>&1); then
	echo "$out" | tail -n 40
	echo "check: the build failed (make tests)"
	echo "0 passed, 1 failed"
	exit 1
fi
passed=$((passed + 1))

# The suites go into one queue, the longest first (the two VM suites, then
# pkg-root), and SIPOVL_CHECK_JOBS lanes (default: CPUs + 1) each take the next
# suite as soon as they are free. So the two VM suites start side by side, with
# pkg-root in the third lane (its make deb serves dkms too), and the others
# fill in whichever lane frees first. SIPOVL_CHECK_JOBS=1 runs them one after
# the other in that order.
# The guests of vm-6.1, vm-6.12 and pkg-root get one vCPU (SIPOVL_CHECK_VM_CPUS, default 1);
# vm-debug's keep two (SIPOVL_VM_CPUS, default 2: lockdep and KASAN see the module's code run
# on two CPUs at once). Three two-vCPU TCG guests on a 2-CPU host spent about twice the CPU
# time for the same tests (guest spinlocks, IPIs and TLB shootdowns waiting on a vCPU thread
# the host has not scheduled): steer, replace, police and endpoint.sh on both kernels at once,
# on a quiet 2-CPU machine, took 536 s wall and 510 s CPU (6.1), 507 s and 478 s (6.12) with
# two vCPUs each, and 289 s / 258 s, 277 s / 247 s with one (Documentation/testing.md).
VM_CPUS=${SIPOVL_CHECK_VM_CPUS:-1}
[[ $VM_CPUS =~ ^[1-9][0-9]*$ ]] || { echo "check: SIPOVL_CHECK_VM_CPUS must be a positive number, not '$VM_CPUS'"; exit 2; }
# ctl_scale KERNEL: the size of ctl-scale.sh's big table. Its 100,000 intercepts (apply,
# dumps during changes, round trips, JSON: 235 s of TCG per kernel in a fresh-clone run)
# run on 6.12; 6.1 runs the same points with 20,000 (the module's code is the same on
# both; the dumps still span many messages and restart when interrupted), 100,000 on both
# with SIPOVL_CHECK_E2E=both (make check-full). make bench measures the scale.
ctl_scale() {
	if [ "$1" = 6.12 ] || [ "${SIPOVL_CHECK_E2E:-split}" = both ]; then echo 100000; else echo 20000; fi
}
host_suites=()
for t in tests/*/run.sh; do
	[ -x "$t" ] || continue
	s=${t#tests/}
	host_suites+=("host-${s%/run.sh}:$t")
done
run_job() {
	case $1 in
	vm-6.1 | vm-6.12)
		SIPOVL_VM_EXCLUDE="${SIPOVL_VM_EXCLUDE-$VM_EXCLUDE_DEFAULT} $(e2e_elsewhere "${1#vm-}")" \
			SIPOVL_CTL_SCALE=${SIPOVL_CTL_SCALE:-$(ctl_scale "${1#vm-}")} \
			SIPOVL_VM_CPUS=$VM_CPUS run_suite "$1" selftests/vm/run.sh --kernel "${1#vm-}"
		;;
	kernel-debug) run_suite kernel-debug kernel_debug ;;
	vm-debug) run_suite vm-debug vm_debug ;;
	static) run_suite static static_checks ;;
	# dkms-deb.sh's call in the VM (the DKMS module loaded, the packaged sipovld
	# across a restart) is a subset of pkg-root's: make check runs pkg-root's
	dkms) SIPOVL_DKMS_DEB_VM=${SIPOVL_DKMS_DEB_VM:-0} run_suite dkms selftests/vm/dkms-deb.sh --kernel 6.1 ;;
	pkg-root) SIPOVL_VM_CPUS=$VM_CPUS run_suite pkg-root selftests/vm/pkg-root.sh ;;
	host-*)
		local hs
		for hs in "${host_suites[@]}"; do
			[ "${hs%%:*}" != "$1" ] || run_suite "$1" "${hs#*:}"
		done
		;;
	esac
}
# The longest first (in fresh-clone runs at 8e09284: pkg-root 860 s, vm-debug 737,
# host-ziti 474, host-runner 433, dkms 202 with its VM, host-matcher 158,
# host-ziti-cert 121, static 83), then the other host suites.
queue=(kernel-debug vm-6.1 vm-6.12 pkg-root vm-debug host-ziti host-runner dkms host-matcher host-ziti-cert static)
for hs in ${host_suites[@]+"${host_suites[@]}"}; do
	case " ${queue[*]} " in *" ${hs%%:*} "*) continue ;; esac
	queue+=("${hs%%:*}")
done
printf '%s\n' "${queue[@]}" >"$LOGS/.queue"
# ready JOB: JOB may start (what it needs has finished, or is not part of this run).
ready() {
	case $1 in
	vm-debug | host-runner) ! wanted kernel-debug || [ -f "$LOGS/kernel-debug.res" ] ;;
	*) return 0 ;;
	esac
}
# next_job: print the first ready suite of the queue and remove it (lanes share
# it). Status 1: the queue is empty; 2: only suites that must wait are left.
next_job() {
	local job='' j rc=1
	{
		flock 9
		while read -r j; do
			rc=2
			if ready "$j"; then
				job=$j
				break
			fi
		done <"$LOGS/.queue"
		[ -z "$job" ] || sed -i "/^$job\$/d" "$LOGS/.queue"
	} 9>>"$LOGS/.queue.lock"
	[ -n "$job" ] || return $rc
	echo "$job"
}
lane() {
	local job rc
	while :; do
		rc=0
		job=$(next_job) || rc=$?
		case $rc in
		0) run_job "$job" ;;
		2) sleep 5 ;;
		*) break ;;
		esac
	done
}
# Every lane is a child of this shell, none runs in it: a suite's CPU time is
# then its lane's children only (a lane run here would also be charged the CPU
# of the other lanes when this shell reaps them).
lane_pids=()
for ((i = 0; i < jobs; i++)); do
	lane &
	lane_pids+=($!)
done
trap 'kill ${lane_pids[*]} 2>/dev/null || true; touch "$LOGS/.finished"' EXIT
for p in "${lane_pids[@]}"; do wait "$p" || true; done

suites=(static)
for hs in ${host_suites[@]+"${host_suites[@]}"}; do suites+=("${hs%%:*}"); done
suites+=(vm-6.1 vm-6.12 kernel-debug vm-debug dkms pkg-root)
for s in "${suites[@]}"; do
	collect_suite "$s"
done

echo "check: $(($(date +%s) - t_start))s (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
if [ ${#skips[@]} -gt 0 ]; then
	echo "skipped (${#skips[@]}):"
	printf '  %s\n' "${skips[@]}"
fi
[ "$failed" = 0 ]
