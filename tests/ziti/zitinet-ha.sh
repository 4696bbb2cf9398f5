# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# A three-controller OpenZiti cluster (raft, "HA") for tests/ziti/zitinet.sh, sourced by it.
#
#   zitinet.sh start-cluster DIR        three controllers ctrl1..3 (one raft cluster, same ziti
#                                       binary) and one edge router r1, provisioned like `start`
#   zitinet.sh kill-ctrl DIR N [SIG]    stop controller N (1..3) with SIG (default KILL: a crash)
#   zitinet.sh start-ctrl DIR N         start controller N again (its raft data is kept)
#   zitinet.sh leader DIR               print N of the raft leader, a running member (waits up
#                                       to 60 s for one)
#
# How the cluster is made (v1.6 doc/ha/quickstart.md): `ziti edge quickstart ha` creates the
# trust root (SPIFFE trust domain sipovl.test), ctrl1's intermediate CA and its server/client
# certificates (spiffe://sipovl.test/controller/ctrl1), a clustered ctrl.yaml (cluster:
# dataDir), bootstraps the raft cluster with the admin (`ziti agent cluster init`) and
# enrolls the router; `ziti edge quickstart join --cluster-member tls:ctrl1` does the same
# for ctrl2 and ctrl3 from the same root and joins them (`ziti agent cluster add`). As in
# `start`, the quickstarts only provision: they are stopped and every controller and the
# router then run as processes of their own, so that each can be killed and restarted. The
# network's env adds ZN_CTRL_ADDRS (the three edge API addresses, ctrl1 first) and
# ZN_CLUSTER=3; ZN_CTRL_ADDR is ctrl1's. `cli` logs in to the first controller that answers.

# ctrl_addr N: edge API / control address of controller N
ctrl_addr() { local a; set -- "$1" $ZN_CTRL_ADDRS; a=$(( $1 + 1 )); echo "${!a}"; }

wait_ctrl_n() { # N
	local a
	a=$(ctrl_addr "$1")
	for _ in $(seq 1 120); do
		curl -sk --max-time 2 "https://$a/version" 2>/dev/null | grep -q '"data"' && return 0
		sleep 0.5
	done
	die "controller $1 did not come up (see $D/ctrl$1.log)"
}

start_ctrl_n() { # N
	local log
	log="$D/ctrl$1.log.$(date +%s%N)"
	: > "$log"; ln -sf "$log" "$D/ctrl$1.log"
	spawn "ctrl$1" "$log" "$ZITI" controller run "$D/qs/ctrl$1/ctrl.yaml"
	wait_ctrl_n "$1"
}

start_router_ha() {
	local log
	log="$D/router.log.$(date +%s%N)"
	: > "$log"; ln -sf "$log" "$D/router.log"
	spawn router "$log" "$ZITI" router run "$D/qs/ctrl1/r1.yaml"
}

# The raft view, from the agent of a running member.
cmd_leader() {
	local i pid out
	for _ in $(seq 1 120); do
		for i in 1 2 3; do
			[ -f "$D/ctrl$i.pid" ] || continue
			pid=$(cat "$D/ctrl$i.pid")
			kill -0 "$pid" 2>/dev/null || continue
			out=$(HOME="$D/home" "$ZITI" agent cluster list -p "$pid" 2>/dev/null) || continue
			# table rows: │ ID │ ADDRESS │ VOTER │ LEADER │ VERSION │ CONNECTED │ ...
			i=$(printf '%s\n' "$out" | awk -F'│' '$5 ~ /true/ { gsub(/[ ]/, "", $2); print $2; exit }')
			# a leader that is not running is a stale view (the members have not noticed yet)
			case $i in ctrl[123]) [ -f "$D/$i.pid" ] && { echo "${i#ctrl}"; return 0; } ;; esac
		done
		sleep 0.5
	done
	die "no raft leader within 60 s"
}

cmd_start_cluster() {
	mkdir -p "$D"
	[ -z "$(ls -A "$D")" ] || die "$D is not empty"
	D=$(cd "$D" && pwd)
	ZITI=${ZN_ZITI:-$(ziti_bin)}
	mkdir -p "$D/home"
	local ports=() p pw i
	while [ ${#ports[@]} -lt 4 ]; do
		p=$(free_port)
		[[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
	done
	pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
	cat > "$D/env" <<EOF
ZITI=$ZITI
ZN_DIR=$D
ZN_CTRL_ADDR=127.0.0.1:${ports[0]}
ZN_CTRL_ADDRS="127.0.0.1:${ports[0]} 127.0.0.1:${ports[1]} 127.0.0.1:${ports[2]}"
ZN_CLUSTER=3
ZN_ROUTER_ADDR=127.0.0.1:${ports[3]}
ZN_ADMIN_PW=$pw
ZN_TCP_ECHO_PORT=$(free_port)
ZN_UDP_ECHO_PORT=$(free_udp_port)
ZN_SESSION_TIMEOUT=${ZN_SESSION_TIMEOUT:-1m}
ZN_CTRL_NAME=ctrl.zt.test
EOF
	load_env
	# 1. provision: ctrl1 bootstraps the cluster (with the router), ctrl2 and ctrl3 join it
	for i in 1 2 3; do
		local how=(ha)
		[ "$i" = 1 ] || how=(join --cluster-member "tls:$(ctrl_addr 1)" --no-router)
		spawn "qs$i" "$D/quickstart$i.log" env HOME="$D/home" ZITI_ROUTER_NAME=r1 \
			ZITI_CTRL_BIND_ADDRESS=127.0.0.1 ZITI_CTRL_EDGE_BIND_ADDRESS=127.0.0.1 \
			"$ZITI" edge quickstart "${how[@]}" --home "$D/qs" --instance-id "ctrl$i" \
			--trust-domain sipovl.test --ctrl-address 127.0.0.1 --ctrl-port "${ports[$((i - 1))]}" \
			--router-address 127.0.0.1 --router-port "${ports[3]}" -u admin -p "$pw"
		local ok=
		for _ in $(seq 1 240); do
			if grep -q "controller and router started" "$D/quickstart$i.log" 2>/dev/null; then ok=1; break; fi
			kill -0 "$(cat "$D/qs$i.pid")" 2>/dev/null || break
			sleep 0.5
		done
		[ -n "$ok" ] || { tail -20 "$D/quickstart$i.log" >&2; die "quickstart of ctrl$i failed"; }
	done
	for i in 3 2 1; do kill_pidfile "$D/qs$i.pid"; done
	# 2. loopback binds, short API session timeout, pre-sized databases (see cmd_start)
	sed -i -e "s/tls:0\.0\.0\.0:${ports[3]}/tls:127.0.0.1:${ports[3]}/g" "$D/qs/ctrl1/r1.yaml"
	local db
	for i in 1 2 3; do
		sed -i -e "s/^\([[:space:]]*\)sessionTimeout:.*/\1sessionTimeout: $ZN_SESSION_TIMEOUT/" "$D/qs/ctrl$i/ctrl.yaml"
		grep -q "sessionTimeout: $ZN_SESSION_TIMEOUT" "$D/qs/ctrl$i/ctrl.yaml" || die "cannot set sessionTimeout (ctrl$i)"
		db="$D/qs/ctrl$i/raft/ctrl-ha.db"
		[ -f "$db" ] || die "no controller database $db"
		[ "$(stat -c %s "$db")" -ge $((256 << 20)) ] || truncate -s 256M "$db"
	done
	# 3. every piece on its own
	for i in 1 2 3; do start_ctrl_n "$i"; done
	cmd_leader > /dev/null
	start_router_ha
	login
	wait_router
	provision
	echo "zitinet: cluster up in $D (controllers $ZN_CTRL_ADDRS, leader ctrl$(cmd_leader), router $ZN_ROUTER_ADDR)" >&2
}

cmd_kill_ctrl() { # N [SIG]
	local f="$D/ctrl$1.pid" pid
	[ -f "$f" ] || die "controller $1 is not running"
	pid=$(cat "$f")
	kill "-${2:-KILL}" "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && die "controller $1 (pid $pid) did not stop"
	rm -f "$f"
}
