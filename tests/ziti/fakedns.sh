# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# A fake resolver for clients that name the controller by host name (sourced by
# tests/ziti/dns.sh and tests/ziti/soak.sh; needs root for unshare -m and port 53).
#
#   fakedns_start DIR NAME=ADDR[,ADDR...]...  tests/ziti/fakedns.py on a random 127.x.y.z:53,
#       answering those names (DIR/queries.log: every query); DIR/ns.sh CMD... runs CMD in a
#       mount namespace whose /etc/resolv.conf names that server and whose /etc/hosts knows
#       only localhost. Sets FD_PID (also in PIDS). 1 when the server did not start.
#   fakedns_mode DIR MODE...     "answer TTL", "delay MS TTL" or "drop" (fakedns.py)
#   fakedns_byname IN OUT NAME   a copy of identity IN whose ztAPI names the controller NAME
#                                (same port; ztAPIs left out)
#   fakedns_usable               0 when this host can run it (root, unshare -m)

fakedns_usable() {
	[ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null
}

fakedns_mode() {
	local d=$1
	shift
	echo "$*" > "$d/control"
}

fakedns_start() {
	local d=$1 ip4 _
	shift
	ip4=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
	printf 'nameserver %s\noptions timeout:5 attempts:2\n' "$ip4" > "$d/resolv.conf"
	printf '127.0.0.1 localhost\n::1 localhost ip6-localhost\n' > "$d/hosts"
	# a script, not a function: started in the background, its pid is the command's own,
	# which then gets our signals
	cat > "$d/ns.sh" <<'NS'
#!/bin/sh
d=$(dirname "$0")
exec unshare -m /bin/sh -c 'mount --bind "$1/resolv.conf" /etc/resolv.conf && mount --bind "$1/hosts" /etc/hosts && shift && exec "$@"' sh "$d" "$@"
NS
	chmod +x "$d/ns.sh"
	[ -e "$d/control" ] || fakedns_mode "$d" answer 0
	[ -e "$d/queries.log" ] || : > "$d/queries.log"
	: > "$d/fakedns.out"
	python3 "$TOP/tests/ziti/fakedns.py" "$ip4" "$d/control" "$d/queries.log" "$@" > "$d/fakedns.out" 2>&1 &
	FD_PID=$!
	PIDS+=("$FD_PID")
	for _ in $(seq 1 80); do [ -s "$d/fakedns.out" ] && return 0; sleep 0.25; done
	return 1
}

fakedns_byname() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, os, sys, urllib.parse
j = json.load(open(sys.argv[1]))
u = urllib.parse.urlsplit(j["ztAPI"])
j["ztAPI"] = u._replace(netloc="%s:%d" % (sys.argv[3], u.port)).geturl()
j.pop("ztAPIs", None)
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    json.dump(j, f)
PY
}
