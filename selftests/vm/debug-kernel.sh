#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The sipovl debug kernel: Debian's linux-source-6.1 built with KASAN, KFENCE,
# lockdep, PROVE_RCU, kmemleak, DEBUG_OBJECTS and UBSAN from the small config
# in selftests/vm/debug-kernel/config (on top of allnoconfig). Built once per
# machine and cached; see Documentation/testing.md, "The debug kernel".
#
#   debug-kernel.sh build     build it unless the cache is current (quiet when it is)
#   debug-kernel.sh status    exit 0 when the cached kernel is current, 1 when not
#   debug-kernel.sh path      the kernel build directory (KDIR for sipovl.ko)
#   debug-kernel.sh release   its release (uname -r in the guest)
#   debug-kernel.sh image     its bzImage
#   debug-kernel.sh modules   its /lib/modules/<release> (modules.builtin...)
#   debug-kernel.sh key       the cache key
#
# The cache, ${XDG_CACHE_HOME:-$HOME/.cache}/sipovl/debug-kernel/, holds the
# extracted source (src-<package version>/) and one build directory (build/)
# whose stamp (build/.sipovl-key) is the hash of the config fragment, the
# linux-source-6.1 package version, the compiler and this recipe. A build runs
# only when the stamp differs (an incremental kbuild in the same directory),
# under `nice -n SIPOVL_KBUILD_NICE` (default 19; make check gives 0: its
# vm-debug and host-runner lanes wait for the kernel) with SIPOVL_KBUILD_JOBS
# (default: nproc) jobs; its log is build/build.log.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FRAG=$HERE/debug-kernel/config
TARBALL=${SIPOVL_KSRC_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
PKG=linux-source-6.1
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/sipovl/debug-kernel
B=$CACHE/build
# Bump when the way the kernel is built changes (not for comments here).
RECIPE=1

die() { echo "debug-kernel: $*" >&2; exit 1; }

pkg_version() {
	dpkg-query -W -f='${Version}' "$PKG" 2>/dev/null || die "$PKG is not installed (scripts/deps.sh check)"
}

key() {
	{
		echo "recipe $RECIPE"
		echo "$PKG $(pkg_version)"
		gcc --version | head -1
		cat "$FRAG"
	} | sha256sum | cut -c1-16
}

current() { [ -f "$B/.sipovl-key" ] && [ "$(cat "$B/.sipovl-key")" = "$(key)" ]; }

need_current() {
	current || die "the debug kernel is not built or out of date (run selftests/vm/debug-kernel.sh build)"
}

release() { cat "$B/.sipovl-release"; }

build() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	if ! flock -n 9; then
		echo "debug-kernel: another build is running; waiting for it" >&2
		flock 9
	fi
	current && return 0
	local nice=${SIPOVL_KBUILD_NICE:-19}
	[[ $nice =~ ^[0-9]+$ ]] && [ "$nice" -le 19 ] || die "SIPOVL_KBUILD_NICE must be 0-19, not '$nice'"
	[ -r "$TARBALL" ] || die "no $TARBALL (install $PKG: scripts/deps.sh check)"
	local ver src t0 t1 k jobs
	ver=$(pkg_version)
	k=$(key)
	src=$CACHE/src-$ver
	t0=$(date +%s)
	if [ ! -f "$src/.sipovl-extracted" ]; then
		echo "debug-kernel: extracting $TARBALL ($PKG $ver)" >&2
		rm -rf "$src" "$src.tmp" "$B"
		find "$CACHE" -maxdepth 1 -name 'src-*' -exec rm -rf {} +
		mkdir -p "$src.tmp"
		nice -n "$nice" tar -C "$src.tmp" --strip-components=1 -xf "$TARBALL"
		touch "$src.tmp/.sipovl-extracted"
		mv "$src.tmp" "$src"
	fi
	if [ -d "$B" ] && [ "$(readlink "$B/source" 2>/dev/null)" != "$src" ]; then
		rm -rf "$B"
	fi
	mkdir -p "$B"
	rm -f "$B/.sipovl-key"
	jobs=${SIPOVL_KBUILD_JOBS:-$(nproc)}
	echo "debug-kernel: building ($PKG $ver, key $k, $jobs jobs, log $B/build.log); the first build takes a while" >&2
	local mk=(nice -n "$nice" make -C "$src" O="$B" -j"$jobs")
	if ! {
		echo "== $(date -u) key $k; load $(cut -d' ' -f1-3 /proc/loadavg)"
		# allnoconfig with the fragment as its base, then every requested
		# value must have survived olddefconfig.
		# (&&: errexit does not apply inside an if condition)
		"${mk[@]}" KCONFIG_ALLCONFIG="$FRAG" allnoconfig &&
		"${mk[@]}" olddefconfig &&
		"$HERE/debug-kernel.sh" _verify "$B/.config" &&
		"${mk[@]}" all &&
		rm -rf "$B/mods" &&
		"${mk[@]}" INSTALL_MOD_PATH="$B/mods" modules_install &&
		echo "== done $(date -u); load $(cut -d' ' -f1-3 /proc/loadavg)"
	} >>"$B/build.log" 2>&1; then
		tail -n 40 "$B/build.log" >&2
		die "building the debug kernel failed (log: $B/build.log)"
	fi
	"${mk[@]}" -s kernelrelease >"$B/.sipovl-release"
	t1=$(date +%s)
	echo "$k" >"$B/.sipovl-key"
	echo "debug-kernel: built $(release) in $((t1 - t0)) s (load $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$B/build.log" >&2
}

# _verify CONFIG: every option of the fragment has the requested value.
verify() {
	local cfg=$1 line opt want have bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) opt=${line%%=*} want=$line ;;
		"# CONFIG_"*" is not set") opt=${line#\# } opt=${opt%% *} want="# $opt is not set" ;;
		*) continue ;;
		esac
		have=$(grep -E "^(# )?${opt}[= ]" "$cfg" || true)
		[ -n "$have" ] || [ "$want" != "# $opt is not set" ] || continue
		if [ "$have" != "$want" ]; then
			echo "debug-kernel: $want requested, got: ${have:-(absent: dependency missing?)}" >&2
			bad=1
		fi
	done <"$FRAG"
	[ $bad = 0 ] || die "the config fragment did not apply (fix $FRAG)"
}

case ${1:-} in
build) build ;;
status) current ;;
key) key ;;
path) need_current; echo "$B" ;;
release) need_current; release ;;
image) need_current; echo "$B/arch/x86/boot/bzImage" ;;
modules) need_current; echo "$B/mods/lib/modules/$(release)" ;;
_verify) verify "$2" ;;
*) sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
