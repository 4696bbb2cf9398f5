# SPDX-License-Identifier: GPL-2.0
# Shared by the Ziti benchmarks (run.sh, hostpps.sh), sourced after they set ZN (zitinet.sh),
# W (their work directory), NET (the network's directory under it) and KEEP (keep W if set).
# The caller sets `trap bench_cleanup EXIT`.
PIDS=()
bench_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	[ ! -d "$NET" ] || "$ZN" stop "$NET" >/dev/null 2>&1 || true
	if [ -n "${KEEP:-}" ]; then echo "work directory kept: $W" >&2; else rm -rf "$W"; fi
}
log() { echo "[$(date +%T)] $*" >&2; }
port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_${1:-STREAM}); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
# utime+stime in clock ticks of a list of pids
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
HZ=$(getconf CLK_TCK)
bg() { # name cmd...   (pid of the command itself in $BGPID)
	local n=$1; shift
	"$@" > "$W/$n.log" 2>&1 &
	BGPID=$!
	PIDS+=("$BGPID")
}
