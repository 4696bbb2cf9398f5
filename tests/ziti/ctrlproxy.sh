# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The controller fault proxy (tests/ziti/ctrlproxy.py) for the fault soak and reauth.sh;
# sourced. Needs TOP, NET (its env loaded: ZN_CTRL_ADDR, ZN_CTRL_NAME).
#   ctrlproxy_start DIR ID [v6]
#                            start the proxy (state and log in DIR, mode "pass") and point
#                            identity file ID at it (ztAPIs left out): on 127.0.0.1, a port
#                            of its own (ztAPI's port changed); v6: on [::1] and the
#                            controller's port (ztAPI https://[::1]:PORT/..., a name the
#                            controller's certificate holds and an address:port its OIDC
#                            issuer check accepts: the legacy client API does not mind the
#                            port, edge-oidc answers 404 to a Host it does not serve);
#                            its pid appended to PIDS; 1 if it did not start
#   ctrlproxy_mode DIR MODE  pass | fail | 503 | refuse (tests/ziti/ctrlproxy.py)

ctrlproxy_mode() {
	echo "$2" > "$1/mode"
}

ctrlproxy_start() {
	local d=$1 id=$2 addr=127.0.0.1 host=127.0.0.1 port
	mkdir -p "$d"
	ctrlproxy_mode "$d" pass
	if [ "${3:-}" = v6 ]; then
		addr=::1 host='[::1]' port=${ZN_CTRL_ADDR##*:}
	else
		port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	fi
	python3 "$TOP/tests/ziti/ctrlproxy.py" "$addr" "$port" "${ZN_CTRL_ADDR##*:}" "$d" \
		"$NET/qs/pki/intermediate-ca-quickstart/certs/server.chain.pem" \
		"$NET/qs/pki/intermediate-ca-quickstart/keys/server.key" \
		"${ZN_CTRL_NAME:-}" "$NET/qs/alt.chain.pem" > "$d/out" 2>&1 &
	PIDS+=("$!")
	for _ in $(seq 1 40); do [ -f "$d/ready" ] && break; sleep 0.1; done
	[ -f "$d/ready" ] || return 1
	python3 - "$id" "$host" "$port" <<'PY'
import json, os, sys, urllib.parse
j = json.load(open(sys.argv[1]))
u = urllib.parse.urlsplit(j["ztAPI"])
j["ztAPI"] = u._replace(netloc="%s:%s" % (sys.argv[2], sys.argv[3])).geturl()
j.pop("ztAPIs", None)
fd = os.open(sys.argv[1] + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, json.dumps(j).encode())
os.close(fd)
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
PY
}
