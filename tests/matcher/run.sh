#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Matcher test suite (kmod/matcher*.c), TAP version 13 on stdout.
#
#   tests/matcher/run.sh            everything (about a minute)
#   FUZZ_TIME=60 tests/matcher/run.sh
#
# Runs: the unit tests (ASan/UBSan build), the randomized differential test
# against the naive reference matcher, a check that the differential test
# catches seeded bugs (mutants of the matcher), the libFuzzer target for
# FUZZ_TIME seconds, kernel-constraint checks (frame size, no VLA, no FP) and,
# when kernel headers are installed, a kbuild W=1 + sparse build.
# Exit status: 0 if every test passed, 1 otherwise.

set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-$TOP/build}
B=$O/matcher
FUZZ_TIME=${FUZZ_TIME:-20}
CC=${CC:-gcc}
n=0
failed=0

ok() {
	n=$((n + 1))
	echo "ok $n - $*"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $*"
}

diag() {
	sed 's/^/# /'
}

# Turn the "ok - x" / "not ok - x" lines of a test program into numbered TAP
# points, pass "# " lines through and report the program's exit status.
# A crash or a failure with no "not ok" line still fails (the status point).
run_prog() {
	local name=$1 out rc line
	shift
	out=$("$@" 2>&1)
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "$name: ${line#ok - }" ;;
		"not ok - "*) not_ok "$name: ${line#not ok - }" ;;
		"#"*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done <<<"$out"
	if [ $rc -eq 0 ]; then
		ok "$name: exit status 0"
	else
		not_ok "$name: exit status $rc"
	fi
}

echo "TAP version 13"

if out=$(make -s -C "$TOP" O="$O" matcher-tests 2>&1); then
	ok "build unit (ASan/UBSan), diff and fuzz binaries"
else
	not_ok "build unit (ASan/UBSan), diff and fuzz binaries"
	echo "$out" | diag
	echo "1..$n"
	exit 1
fi

run_prog "unit (ASan/UBSan)" "$B/unit-san"
run_prog "unit (-O2)" "$B/unit"
run_prog "differential" "$B/diff" 400 1
run_prog "differential, tiny limits (ASan/UBSan)" "$B/diff-stress" 80 1

# The matcher's files: kmod/matcher*.c and their headers.
mt_src=("$TOP"/kmod/matcher*.c)
mt_hdr=("$TOP"/kmod/matcher*.h)

# The differential test must fail on broken matchers: build mutants of
# the matcher's files and require a mismatch for each.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mutants=(
	's/if (kv\[lo + half\].key <= key)/if (kv[lo + half].key < key)/'
	's/e\[m\].key = (u64)(e\[m\].hi - e\[m\].lo) << 32 | r->id;/e[m].key = (u64)(e[m].hi - e[m].lo) << 32 | (u32)~r->id;/'
	's/while (unlikely(c >= MT_CONT \&\& c < MT_SMAP)) {/while (0) {/'
	's/if (key < dn->lo)/if (key <= dn->lo)/'
	's/if (def != MT_NONE \&\& e\[i\].key > e\[def\].key)/if (def != MT_NONE)/'
	's/if (sp \&\& b->stk\[2 \* sp - 1\] < k)/if (0)/'
	's/\t\tp = 1;/\t\tp = 0;/'
	's/if (!++a->lo)/if (!++a->lo \&\& 0)/'
	's/ret = mt_intern(b, ol + 1, len, MT_PAR | bl,/ret = mt_intern(b, ol + 1, len, bl_p[1],/'
	's/if (mt_pchild(cur) \&\& cur - MT_SMAP >= b->pmark) {/if (mt_pchild(cur)) {/'
	's/for (i = n; i-- > 0;) {/for (i = 0; i < n; i++) {/'
	's/32 - mt_fls32(dn->piv - key);/31 - mt_fls32(dn->piv - key);/'
	's/return 128 - (dh ? 64 + mt_fls64(dh) : mt_fls64(dl));/return 127 - (dh ? 64 + mt_fls64(dh) : mt_fls64(dl));/'
	's/return c >= MT_PEND ? -1 : (s32)c;/return c == MT_END ? -1 : (s32)c;/'
	's/idx <<= 32 - MT_PBITS - sh;/idx <<= 31 - MT_PBITS - sh;/'
	's/if (ah - dn->lo.hi - (al < dn->lo.lo))/if (0)/'
)
caught=0
for i in "${!mutants[@]}"; do
	m=${mutants[$i]}
	mkdir -p "$tmp/m"
	rm -f "$tmp"/m/*
	applied=0
	for f in "${mt_src[@]}" "${mt_hdr[@]}"; do
		sed "$m" "$f" >"$tmp/m/${f##*/}"
		cmp -s "$f" "$tmp/m/${f##*/}" || applied=1
	done
	if [ $applied -eq 0 ]; then
		echo "# mutant $i did not apply: $m"
		continue
	fi
	if ! $CC -std=c11 -D_GNU_SOURCE -O1 -I"$tmp/m" -I"$TOP" -o "$tmp/diff" \
		"$TOP/tests/matcher/diff.c" "$tmp"/m/matcher*.c 2>"$tmp/err"; then
		echo "# mutant $i does not compile: $m"
		diag <"$tmp/err"
		continue
	fi
	if "$tmp/diff" 40 1 >/dev/null 2>&1; then
		echo "# mutant $i survived: $m"
	else
		caught=$((caught + 1))
	fi
done
if [ $caught -eq ${#mutants[@]} ]; then
	ok "differential test catches ${#mutants[@]}/${#mutants[@]} seeded bugs"
else
	not_ok "differential test catches $caught/${#mutants[@]} seeded bugs"
fi

# Fuzzing, bounded in time, with a persistent corpus under build/.
mkdir -p "$B/fuzz-corpus"
if out=$(cd "$B" && ./fuzz -max_total_time="$FUZZ_TIME" -timeout=10 \
	-rss_limit_mb=2048 fuzz-corpus 2>&1); then
	ok "libFuzzer ${FUZZ_TIME}s: $(echo "$out" | grep -o 'Done [0-9]* runs.*' | tail -1)"
else
	not_ok "libFuzzer ${FUZZ_TIME}s"
	echo "$out" | tail -40 | diag
fi

# Kernel constraints checked with the host compiler: no VLA, no floating
# point (general registers only), frames under 512 bytes.
out=
for f in "${mt_src[@]}"; do
	out+=$($CC -std=gnu11 -O2 -Wall -Wextra -Werror -Wvla -Wframe-larger-than=512 \
		-mgeneral-regs-only -fno-builtin -I"$TOP" -c "$f" \
		-o "$tmp/kc.o" 2>&1) || out+="${out:+$'\n'}$f: the compile failed"
done
if [ -z "$out" ]; then
	ok "matcher (${#mt_src[@]} files): no VLA, no FP, stack frames < 512 bytes"
else
	not_ok "matcher (${#mt_src[@]} files): no VLA, no FP, stack frames < 512 bytes"
	echo "$out" | diag
fi

# Kernel build (W=1) with sparse, out of tree in a scratch directory.
KVER=${KVER:-$(ls -1 /usr/src 2>/dev/null | sed -n 's/^linux-headers-\(6\.1\.[0-9-]*-amd64\)$/\1/p' | sort -V | tail -1)}
KDIR=${KDIR:-/usr/src/linux-headers-$KVER}
if [ -n "$KVER" ] && [ -d "$KDIR" ] && command -v sparse >/dev/null; then
	mkdir -p "$tmp/kb"
	cp "${mt_src[@]}" "${mt_hdr[@]}" "$tmp/kb/"
	printf '// SPDX-License-Identifier: GPL-2.0\n#include <linux/module.h>\nMODULE_LICENSE("GPL");\nMODULE_DESCRIPTION("matcher build test");\n' >"$tmp/kb/mtmod.c"
	objs=$(for f in "${mt_src[@]}"; do f=${f##*/}; printf '%s ' "${f%.c}.o"; done)
	printf 'obj-m := mtk.o\nmtk-y := %smtmod.o\nccflags-y += -Wframe-larger-than=512 -Werror\n' "$objs" >"$tmp/kb/Kbuild"
	if out=$(make -s -C "$KDIR" M="$tmp/kb" W=1 C=2 modules 2>&1) &&
	   ! echo "$out" | grep -E 'warning|error' | grep -q matcher; then
		ok "kernel build of the matcher against $KVER: W=1 and sparse clean"
	else
		not_ok "kernel build of the matcher against $KVER: W=1 and sparse clean"
		echo "$out" | diag
	fi
else
	ok "kernel build of the matcher # SKIP no kernel headers or sparse"
fi

echo "1..$n"
[ $failed -eq 0 ] || exit 1
exit 0
