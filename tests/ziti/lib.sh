# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The preamble shared by the ziti suites (tests/ziti/run.sh, tests/ziti/ha.sh), sourced after
# TOP is set: sanitizer settings, TAP output (ok/notok/skip/diag/check, zt_plan), the work
# directory W with the test network's directory NET, background processes (bg: their pids in
# PIDS) and the cleanup that stops them and the network on exit (ZT_KEEP=1 keeps W, with the
# network's logs in W/netlogs).

ZN=${ZN:-$TOP/tests/ziti/zitinet.sh}
ECHO=${ECHO:-$TOP/tests/ziti/echo.py}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=66
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=67

echo "TAP version 13"
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
diag() { sed 's/^/# /'; }
check() { # desc cmd...   (ok if the command succeeds)
	local d=$1; shift
	if "$@" > "$W/last.out" 2>&1; then ok "$d"; else notok "$d"; tail -15 "$W/last.out" | diag; fi
}
now_ms() { date +%s%3N; }
cli() { "$ZN" cli "$NET" "$@"; }
# wait_file F N: F exists and is not empty within N quarter seconds
wait_file() { local _; for _ in $(seq 1 "$2"); do [ -s "$1" ] && return 0; sleep 0.25; done; return 1; }
# first_ok_after LOG T: ms from T to the first "ok <ms>" line of a probe log after T
first_ok_after() { awk -v t="$2" '$1=="ok" && $2>t {print $2-t; exit}' "$1"; }
wait_ok_after() { # log t bound -> prints ms or nothing
	local r _
	for _ in $(seq 1 $(( $3 / 250 + 8 ))); do
		r=$(first_ok_after "$1" "$2"); [ -n "$r" ] && { echo "$r"; return 0; }
		sleep 0.25
	done
	return 1
}
san_clean() { ! grep -q -E "ERROR: AddressSanitizer|runtime error:|LeakSanitizer" "$1"; }

# zt_need FILE...: the whole suite is skipped (exit 4) unless every FILE is built
zt_need() {
	local f
	for f in "$@"; do
		if [ ! -x "$f" ]; then
			echo "1..0 # SKIP $f not built (run make tests)"
			exit 4
		fi
	done
}

# zt_workdir NAME: W (a new /tmp/NAME.XXXXXX), NET inside it, cleanup on exit
zt_workdir() {
	W=$(mktemp -d "/tmp/$1.XXXXXX")
	NET=$W/net
	PIDS=()
	trap zt_cleanup EXIT
}
zt_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; kill -CONT "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	if [ -n "${ZT_KEEP:-}" ] && [ -d "$NET" ]; then
		mkdir -p "$W/netlogs" && cp -L "$NET"/*.log "$W/netlogs/" 2>/dev/null
	fi
	[ -d "$NET" ] && "$ZN" stop "$NET" >/dev/null 2>&1
	if [ -n "${ZT_KEEP:-}" ]; then echo "# work directory kept: $W"; else rm -rf "$W"; fi
}
# zt_standalone NAME NETDIR: a file of the suite run alone against a standing network (from
# `zitinet.sh start NETDIR`): NET and ID are NETDIR, its env is sourced, W is a new
# /tmp/NAME.XXXXXX; on exit the background processes are stopped and W removed (ZT_KEEP=1
# keeps it), the network left running.
zt_standalone() {
	NET=$(cd "${2:?usage: $0 NETDIR}" && pwd)
	# shellcheck disable=SC2034 # ID: read by the file that sources this one
	ID=$NET
	# shellcheck disable=SC1091
	. "$NET/env"
	W=$(mktemp -d "/tmp/$1.XXXXXX")
	PIDS=()
	trap zt_standalone_cleanup EXIT
}
zt_standalone_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; kill -CONT "$p" 2>/dev/null; done
	if [ -n "${ZT_KEEP:-}" ]; then echo "# work directory kept: $W"; else rm -rf "$W"; fi
}
bg() { # logfile cmd...  (background, pid in $BGPID)
	local log=$1; shift
	"$@" > "$log" 2>&1 &
	BGPID=$!
	PIDS+=("$BGPID")
}

# zt_plan: the TAP plan, and the exit status (0 all passed, 1 any failure)
zt_plan() {
	echo "1..$n"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}
