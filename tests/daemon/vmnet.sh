#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Ziti network of the sipovld VM selftest (selftests/sipovl/daemon.sh) and demo.
#
#   vmnet.sh prepare OUT.tar.gz   (host) provision a network once and pack it (in a private
#                                 mount namespace: concurrent builds do not share $ZD)
#   vmnet.sh start NS             (guest) unpack it to $ZD and run the controller and the
#                                 router in network namespace NS (which must own 10.99.0.1)
#   vmnet.sh stop                 (guest) stop them
#   vmnet.sh prepare-ha OUT.tar.gz  (host) the same services on a three-controller raft cluster
#                                 (ctrl1..3 at 10.99.0.1-3:1280, router r1 at 10.99.0.1:3022),
#                                 OIDC access tokens of 1 minute; the gateways' identities name
#                                 ctrl1 as ztAPI and all three in ztAPIs (admin-guide.md, HA)
#   vmnet.sh start-ha TARBALL NS  (guest) run the three controllers and the router in NS (which
#                                 must own 10.99.0.1-3); kill-ctrl N / leader as zitinet-ha.sh
#
# In a VM run whose runner serves the network on the host (selftests/vm/zthost.sh: the guest's
# /run/sipovl-vm/ztrpc exists; the default), start, start-ha, stop, kill-ctrl and start-ctrl
# are requests to the host, which runs this script there (VMNET_LOCAL=1, $SIPOVLD_ZN_DIR under
# the run's results); the guest unpacks the state only for the identities, and NS is the
# guest's router towards the host (daemon-lib.sh). host-cpu prints the host's Ziti CPU seconds.
#
# Why: under TCG (no KVM on these machines) `ziti edge quickstart` inside the guest times out
# waiting for its own controller (measured: fails after 98 s), and every `ziti` CLI call
# costs seconds. So the PKI, database, router enrollment, identities, configs, services and
# policies are made on the host, in a throw-away network namespace that owns the address the
# guest will use (10.99.0.1), and the guest only runs `ziti controller run` and `ziti router
# run` from the unpacked state. Absolute paths inside the state are $ZD in both places.
#
# The services are the seed's model reduced to two sites (Documentation/admin-guide.md):
#   site-b  intercepted by gw-a: 10.2.0.0/24 + fd02::/64, tcp+udp, SIP 5060-5061, test 7000-7002,
#           RTP 7222-7422; hosted by gw-b forwarding protocol/address/port, allowed ports
#           exclude 7002 (refusal test), allowedSourceAddresses 10.1.0.0/24 + fd01::/64
#   site-a  the mirror image (gw-b intercepts site A, gw-a hosts it)
#   gw-c    a third identity that may dial site-b (and so claim site A's sources): the
#           hijack test of daemon.sh
#   pbx-b   intercepted by gw-a by name (pbx.site-b.sipovl.test, DNS responder), udp+tcp 5060;
#           hosted by gw-b for that name (forwardAddress, allowedAddresses the name)
#   ep-pool, voip, voip-gw  the seed's ip-pool endpoints (identities ep-1, ep-2, ep-srv, ep-gw;
#           selftests/sipovl/endpoint.sh): provision_ep below
set -euo pipefail

ZD=${SIPOVLD_ZN_DIR:-/tmp/sipovld-zn}
ADDR=10.99.0.1
CPORT=1280
RPORT=3022
TOP=$(cd "$(dirname "$0")/../.." && pwd)

die() { echo "vmnet: $*" >&2; exit 1; }

# the packed state's absolute paths are the guest's $ZD; unpacked anywhere else (the host side
# of a VM run) they are rewritten
PACKED_ZD=/tmp/sipovld-zn
unpack() { # TARBALL [ids]: all of it, or (ids) only the identities and the CLI's state
	rm -rf "$ZD"
	if [ "${2:-}" = ids ]; then
		tar -C / -xzf "$1" --wildcards "${PACKED_ZD#/}/*.json" "${PACKED_ZD#/}/home" "${PACKED_ZD#/}/ziti-bin"
	elif [ "$ZD" = "$PACKED_ZD" ]; then
		tar -C / -xzf "$1"
	else
		mkdir -p "$ZD"
		tar -C "$ZD" -xzf "$1" --strip-components=2 "${PACKED_ZD#/}"
		{ grep -rlI --include='*.yaml' --include='*.yml' "$PACKED_ZD" "$ZD" || true; } | xargs -r sed -i "s#$PACKED_ZD#$ZD#g"
	fi
}

# the host's side of a VM run (see above)
RPC=/run/sipovl-vm/ztrpc
on_host() { [ -z "${VMNET_LOCAL:-}" ] && [ -d "$RPC" ]; }
rpc() { # rpc TIMEOUT VERB ARGS...: ask the host, its output on stderr, its status ours
	local to=$1 id i rc
	shift
	id=$RPC/$(date +%s%N)-$$
	echo "$*" >"$id.tmp" && mv "$id.tmp" "$id.req"
	for ((i = 0; i < to * 5; i++)); do
		[ -e "$id.rc" ] && break
		sleep 0.2
	done
	[ -e "$id.rc" ] || { rm -f "$id.req"; die "the host did not answer '$*' within ${to} s (selftests/vm/zthost.sh)"; }
	cat "$id.out" >&2
	rc=$(cat "$id.rc")
	rm -f "$id".*
	return "$rc"
}

zcli() { HOME="$ZD/home" ip netns exec "$NS" "$ZITI" "$@"; }

provision() {
	local site other net6 onet6 net onet
	zcli edge login "$ADDR:$CPORT" -u admin -p admin -y >/dev/null
	for site in a b c; do
		zcli edge create identity "gw-$site" -a "gw-$site" -o "$ZD/gw-$site.jwt" >/dev/null
		zcli edge enroll "$ZD/gw-$site.jwt" -o "$ZD/gw-$site.json" >/dev/null 2>&1 || die "enroll gw-$site"
		chmod 600 "$ZD/gw-$site.json" # sipovld refuses key material others can read
	done
	for site in a b; do
		if [ $site = a ]; then other=b; net=10.1.0.0/24; net6=fd01::/64; onet=10.2.0.0/24; onet6=fd02::/64
		else other=a; net=10.2.0.0/24; net6=fd02::/64; onet=10.1.0.0/24; onet6=fd01::/64; fi
		zcli edge create config "site-$site-intercept" intercept.v1 "{
		  \"protocols\":[\"tcp\",\"udp\"], \"addresses\":[\"$net\",\"$net6\"],
		  \"portRanges\":[{\"low\":5060,\"high\":5061},{\"low\":7000,\"high\":7002},{\"low\":7222,\"high\":7422}],
		  \"sourceIp\":\"\$src_ip:\$src_port\",
		  \"dialOptions\":{\"identity\":\"gw-$site\",\"connectTimeoutSeconds\":10}}" >/dev/null
		zcli edge create config "site-$site-host" host.v1 "{
		  \"forwardProtocol\":true, \"allowedProtocols\":[\"tcp\",\"udp\"],
		  \"forwardAddress\":true, \"allowedAddresses\":[\"$net\",\"$net6\"],
		  \"forwardPort\":true,
		  \"allowedPortRanges\":[{\"low\":5060,\"high\":5061},{\"low\":7000,\"high\":7001},{\"low\":7222,\"high\":7422}],
		  \"allowedSourceAddresses\":[\"$onet\",\"$onet6\"],
		  \"listenOptions\":{\"bindUsingEdgeIdentity\":true}}" >/dev/null
		zcli edge create service "site-$site" -c "site-$site-intercept,site-$site-host" >/dev/null
		zcli edge create service-policy "site-$site-dial" Dial --service-roles "@site-$site" \
			--identity-roles "#gw-$other" >/dev/null
		zcli edge create service-policy "site-$site-bind" Bind --service-roles "@site-$site" \
			--identity-roles "#gw-$site" >/dev/null
	done
	# gw-c: a third site allowed to dial site-b (and to claim site-b's allowedSourceAddresses,
	# which are site A's), for the hijack test in daemon.sh; it hosts nothing
	zcli edge create service-policy site-b-dial-c Dial --service-roles @site-b --identity-roles "#gw-c" >/dev/null
	# pbx-b: the SIP server of site B by name, intercepted by gw-a's DNS responder and hosted
	# by gw-b for that name only (the dial's dst_hostname; selftests/sipovl/dnssip.sh)
	zcli edge create config pbx-b-intercept intercept.v1 '{"protocols":["udp","tcp"],
	  "addresses":["pbx.site-b.sipovl.test"], "portRanges":[{"low":5060,"high":5060}]}' >/dev/null
	zcli edge create config pbx-b-host host.v1 '{"forwardProtocol":true, "allowedProtocols":["udp","tcp"],
	  "forwardAddress":true, "allowedAddresses":["pbx.site-b.sipovl.test"], "port":5060}' >/dev/null
	zcli edge create service pbx-b -c pbx-b-intercept,pbx-b-host >/dev/null
	zcli edge create service-policy pbx-b-dial Dial --service-roles @pbx-b --identity-roles "#gw-a" >/dev/null
	zcli edge create service-policy pbx-b-bind Bind --service-roles @pbx-b --identity-roles "#gw-b" >/dev/null
	provision_ep
}

# The seed's ip-pool endpoints (selftests/sipovl/endpoint.sh): ep-1, ep-2 (phones) and ep-srv
# (SIP server), role #ep, run sipovld in endpoint mode with pool voip-ips (100.127.9.0/24),
# served through ep-pool by ep-gw, a gateway sipovld that also hosts the pool. voip is the seed's
# service between endpoints (dialOptions.identity $intercepted_ip, sourceIp and
# listenOptions.identity $ip_pool[voip-ips]); voip-gw lets ep-gw's site (10.1.0.0/24) call an
# endpoint, the phone's own address as the source (a gateway has no pool address).
provision_ep() {
	local x pool=100.127.9.0/24 ports='{"low":5060,"high":5060},{"low":6000,"high":6999}'
	for x in ep-1 ep-2 ep-srv ep-gw; do
		zcli edge create identity "$x" -a "$([ $x = ep-gw ] && echo ep-gw || echo ep)" -o "$ZD/$x.jwt" >/dev/null
		zcli edge enroll "$ZD/$x.jwt" -o "$ZD/$x.json" >/dev/null 2>&1 || die "enroll $x"
		chmod 600 "$ZD/$x.json"
	done
	zcli edge create service ep-pool >/dev/null
	zcli edge create service-policy ep-pool-bind Bind --service-roles @ep-pool --identity-roles "#ep-gw" >/dev/null
	zcli edge create service-policy ep-pool-dial Dial --service-roles @ep-pool --identity-roles "#ep" >/dev/null
	zcli edge create config voip-intercept intercept.v1 "{\"protocols\":[\"udp\",\"tcp\"],
	  \"addresses\":[\"$pool\"], \"portRanges\":[$ports],
	  \"dialOptions\":{\"identity\":\"\$intercepted_ip\"}, \"sourceIp\":\"\$ip_pool[voip-ips]\"}" >/dev/null
	zcli edge create config voip-gw-intercept intercept.v1 "{\"protocols\":[\"udp\",\"tcp\"],
	  \"addresses\":[\"$pool\"], \"portRanges\":[$ports],
	  \"dialOptions\":{\"identity\":\"\$intercepted_ip\"}, \"sourceIp\":\"\$src_ip:\$src_port\"}" >/dev/null
	for x in voip:"$pool" voip-gw:10.1.0.0/24; do
		zcli edge create config "${x%%:*}-host" host.v1 "{\"forwardProtocol\":true, \"allowedProtocols\":[\"udp\",\"tcp\"],
		  \"forwardAddress\":true, \"allowedAddresses\":[\"$pool\"], \"forwardPort\":true,
		  \"allowedPortRanges\":[$ports], \"allowedSourceAddresses\":[\"${x#*:}\"],
		  \"listenOptions\":{\"identity\":\"\$ip_pool[voip-ips]\"}}" >/dev/null
		x=${x%%:*}
		zcli edge create service "$x" -c "$x-intercept,$x-host" >/dev/null
		zcli edge create service-policy "$x-bind" Bind --service-roles "@$x" --identity-roles "#ep" >/dev/null
	done
	zcli edge create service-policy voip-dial Dial --service-roles @voip --identity-roles "#ep" >/dev/null
	zcli edge create service-policy voip-gw-dial Dial --service-roles @voip-gw --identity-roles "#ep-gw" >/dev/null
}

cmd_prepare() {
	local out=$1 ok=
	[ "$(id -u)" = 0 ] || die "prepare needs root (a network namespace)"
	# v1.6.0 until the VM selftests have passed on the newer default (a daemon.sh run on v1.6.5
	# at load 23 timed out after its UDP calls: not known yet whether the release or the load).
	# The binary is v1.6.0's certificate-knob variant, which tests/ziti-cert builds anyway: with
	# ZITI_TEST_CLIENT_CERT_SECONDS_FILE unset (never set here) it signs for one year like the
	# plain build, and a cold machine then builds ziti twice (v1.6.5, this) instead of three times.
	ZITI=$(ZITI_VERSIONS=${VMNET_ZITI_VERSIONS:-v1.6.0} "$TOP/tests/ziti/zitinet.sh" bin-shortcert) ||
		die "no ziti binary"
	private_zd prepare "$out"
	pid=
	trap '[ -z "$pid" ] || { kill -TERM $pid 2>/dev/null; sleep 1; kill -KILL $pid 2>/dev/null; }; ip netns del $NS 2>/dev/null' EXIT
	prep_ns "$ADDR"
	HOME="$ZD/home" ZITI_ROUTER_NAME=r1 ZITI_CTRL_EDGE_IP_OVERRIDE=$ADDR ZITI_ROUTER_IP_OVERRIDE=$ADDR setsid ip netns exec "$NS" "$ZITI" edge quickstart --home "$ZD/qs" \
		--ctrl-address "$ADDR" --ctrl-port "$CPORT" --router-address "$ADDR" --router-port "$RPORT" \
		-u admin -p admin >"$ZD/quickstart.log" 2>&1 </dev/null &
	pid=$!
	for _ in $(seq 1 240); do
		grep -q "controller and router started" "$ZD/quickstart.log" && { ok=1; break; }
		kill -0 $pid 2>/dev/null || break
		sleep 0.5
	done
	[ -n "$ok" ] || { tail -20 "$ZD/quickstart.log" >&2; die "quickstart failed"; }
	provision
	kill -TERM $pid
	for _ in $(seq 1 50); do kill -0 $pid 2>/dev/null || break; sleep 0.2; done
	kill -KILL $pid 2>/dev/null || true
	pid=
	ls "$ZD"/qs/*.yaml >/dev/null || die "no configuration written"
	handshake_30s "$ZD/qs/ctrl.yaml" "$ZD/qs/r1.yaml"
	pack "$out"
}

# private_zd MODE OUT: $ZD is a fixed path (the guest's), and builds in other checkouts may
# prepare a network at the same time: work in a private mount namespace, on a tmpfs of our own
# over $ZD (re-executes this script there).
private_zd() {
	if [ -z "${VMNET_PRIVATE_ZD:-}" ]; then
		mkdir -p "$ZD"
		VMNET_PRIVATE_ZD=1 exec unshare --mount --propagation private "$0" "$1" "$2"
	fi
	mount -t tmpfs -o mode=0755 vmnet-prepare "$ZD" || die "cannot mount a tmpfs on $ZD"
	mkdir -p "$ZD/home"
}

prep_ns() { # prep_ns ADDR...: the throw-away namespace $NS owning ADDR...
	local a
	NS=sipovld-prep-$$
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	for a in "$@"; do ip -n "$NS" addr add "$a/32" dev lo; done
}

# TLS handshakes on the controller's and router's listeners: 5 s by default, which a TCG
# guest on a loaded host misses (the controller logs "handshake failed: context deadline
# exceeded"; the client, curl or a Ziti SDK, sees the connection dropped).
handshake_30s() { # YAML...
	local y
	for y in "$@"; do
		[ -f "$y" ] || die "no $y"
		! grep -q '^tls:' "$y" || die "$y already has a tls: section"
		printf '\ntls:\n  handshakeTimeout: 30s\n' >>"$y"
	done
}

pack() { # pack OUT: $ZD (sparse files kept sparse) into OUT
	rm -f "$ZD"/*.jwt
	echo "$ZITI" >"$ZD/ziti-bin" # the guest sees the host's root: same path there
	mkdir -p "$(dirname "$1")"
	tar -C / --sparse -czf "$1.tmp" "${ZD#/}"
	mv "$1.tmp" "$1"
	echo "vmnet: network packed in $1" >&2
}

# The three-controller cluster (prepare-ha), made as tests/ziti/zitinet-ha.sh makes it (v1.6's
# doc/ha/quickstart.md): `quickstart ha` bootstraps ctrl1 (trust domain sipovl.test) and enrolls
# r1, `quickstart join` adds ctrl2 and ctrl3. Each controller binds its own address (one port,
# 1280, for the control plane and the edge APIs). Provisioned through ctrl1 while all three run.
HA_CTRLS="10.99.0.1 10.99.0.2 10.99.0.3"
cmd_prepare_ha() {
	local out=$1 i a ok how y db ztapis
	pids=()
	[ "$(id -u)" = 0 ] || die "prepare-ha needs root (a network namespace)"
	# v1.6.5: the newest release that builds here (ziti-client.md, Tested)
	ZITI=$(ZITI_VERSIONS=${VMNET_HA_ZITI_VERSIONS:-v1.6.5} "$TOP/tests/ziti/zitinet.sh" bin) || die "no ziti binary"
	private_zd prepare-ha "$out"
	trap '[ ${#pids[@]} = 0 ] || { kill -TERM "${pids[@]}" 2>/dev/null; sleep 1; kill -KILL "${pids[@]}" 2>/dev/null; }; ip netns del $NS 2>/dev/null' EXIT
	# shellcheck disable=SC2086
	prep_ns $HA_CTRLS
	i=0
	for a in $HA_CTRLS; do
		i=$((i + 1))
		how=(ha)
		[ $i = 1 ] || how=(join --cluster-member "tls:$ADDR:$CPORT" --no-router)
		HOME="$ZD/home" ZITI_ROUTER_NAME=r1 ZITI_CTRL_BIND_ADDRESS=$a ZITI_CTRL_EDGE_BIND_ADDRESS=$a \
			ZITI_CTRL_EDGE_IP_OVERRIDE=$a ZITI_ROUTER_IP_OVERRIDE=$ADDR setsid ip netns exec "$NS" \
			"$ZITI" edge quickstart "${how[@]}" --home "$ZD/qs" --instance-id "ctrl$i" --trust-domain sipovl.test \
			--ctrl-address "$a" --ctrl-port "$CPORT" --router-address "$ADDR" --router-port "$RPORT" \
			-u admin -p admin >"$ZD/quickstart$i.log" 2>&1 </dev/null &
		pids+=($!)
		ok=
		for _ in $(seq 1 480); do
			grep -q "controller and router started" "$ZD/quickstart$i.log" && { ok=1; break; }
			kill -0 "${pids[$((i - 1))]}" 2>/dev/null || break
			sleep 0.5
		done
		[ -n "$ok" ] || { tail -20 "$ZD/quickstart$i.log" >&2; die "quickstart of ctrl$i failed"; }
	done
	provision
	for i in 2 1 0; do
		kill -TERM "${pids[$i]}" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "${pids[$i]}" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "${pids[$i]}" 2>/dev/null || true
	done
	pids=()
	for i in 1 2 3; do
		y=$ZD/qs/ctrl$i/ctrl.yaml
		[ -f "$y" ] || die "no $y"
		# OIDC access tokens of 1 minute (the controller's minimum): sipovld refreshes them at
		# half their lifetime, so every 30 s during a call
		grep -q '^edge:$' "$y" || die "no edge section in $y"
		sed -i -e '/^edge:$/a\  oidc:\n    accessTokenDuration: 1m' "$y"
		grep -q 'accessTokenDuration: 1m' "$y" || die "cannot set accessTokenDuration in $y"
		# pre-sized database (tests/ziti/zitinet.sh says why; sparse, kept so by pack)
		db=$ZD/qs/ctrl$i/raft/ctrl-ha.db
		[ -f "$db" ] || die "no controller database $db"
		[ "$(stat -c %s "$db")" -ge $((256 << 20)) ] || truncate -s 256M "$db"
	done
	handshake_30s "$ZD"/qs/ctrl[123]/ctrl.yaml "$ZD/qs/ctrl1/r1.yaml"
	# the gateways' identities: ztAPI ctrl1, ztAPIs every member (what admin-guide.md tells)
	ztapis=$(for a in $HA_CTRLS; do printf '"https://%s:%s/edge/client/v1",' "$a" "$CPORT"; done)
	for i in a b c; do
		jq --argjson l "[${ztapis%,}]" '.ztAPI = $l[0] | .ztAPIs = $l' "$ZD/gw-$i.json" >"$ZD/gw-$i.json.tmp" &&
			chmod 600 "$ZD/gw-$i.json.tmp" && mv "$ZD/gw-$i.json.tmp" "$ZD/gw-$i.json" || die "cannot edit gw-$i.json"
	done
	pack "$out"
}

# start_ha: the three controllers at once (raft needs two for a leader), then the router
cmd_start_ha() {
	local tarball=$1 t0 i a up
	[ -f "$tarball" ] || die "no $tarball (run: $0 prepare-ha $tarball)"
	if on_host; then unpack "$tarball" ids; rpc 1500 start-ha "$tarball"; return; fi
	unpack "$tarball"
	ZITI=$(cat "$ZD/ziti-bin")
	[ -x "$ZITI" ] || die "no ziti binary at $ZITI (recorded when the network was prepared)"
	t0=$(date +%s)
	for i in 1 2 3; do start_ctrl_n "$i"; done
	i=0
	for a in $HA_CTRLS; do
		i=$((i + 1))
		up=
		for _ in $(seq 1 900); do
			ip netns exec "$NS" curl -sk --max-time 2 "https://$a:$CPORT/version" 2>/dev/null | grep -q '"data"' && { up=1; break; }
			sleep 0.5
		done
		[ -n "$up" ] || die "controller ctrl$i did not come up (see $ZD/ctrl$i.log)"
	done
	echo "vmnet: controllers up after $(($(date +%s) - t0)) s" >&2
	setsid ip netns exec "$NS" "$ZITI" router run "$ZD/qs/ctrl1/r1.yaml" >"$ZD/router.log" 2>&1 </dev/null &
	echo $! >"$ZD/router.pid"
}

start_ctrl_n() { # N: controller N (its log appended to: a restart keeps the first run's)
	if on_host; then rpc 60 start-ctrl "$1"; return; fi
	ZITI=$(cat "$ZD/ziti-bin")
	setsid ip netns exec "$NS" "$ZITI" controller run "$ZD/qs/ctrl$1/ctrl.yaml" >>"$ZD/ctrl$1.log" 2>&1 </dev/null &
	echo $! >"$ZD/ctrl$1.pid"
}

cmd_kill_ctrl() { # N [SIG]: stop controller N (SIGKILL: a crash)
	local f="$ZD/ctrl$1.pid" pid
	if on_host; then rpc 60 kill-ctrl "$1" "${2:-KILL}"; return; fi
	[ -f "$f" ] || die "controller $1 is not running"
	pid=$(cat "$f")
	kill "-${2:-KILL}" "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && die "controller $1 (pid $pid) did not stop"
	rm -f "$f"
}

cmd_start() {
	local tarball=$1 t0 up
	[ -f "$tarball" ] || die "no $tarball (run: $0 prepare $tarball)"
	if on_host; then unpack "$tarball" ids; rpc 600 start "$tarball"; return; fi
	unpack "$tarball"
	ZITI=$(cat "$ZD/ziti-bin")
	[ -x "$ZITI" ] || die "no ziti binary at $ZITI (recorded when the network was prepared)"
	t0=$(date +%s)
	setsid ip netns exec "$NS" "$ZITI" controller run "$ZD/qs/ctrl.yaml" >"$ZD/ctrl.log" 2>&1 </dev/null &
	echo $! >"$ZD/ctrl.pid"
	up=
	for _ in $(seq 1 600); do
		ip netns exec "$NS" curl -sk --max-time 2 "https://$ADDR:$CPORT/version" 2>/dev/null | grep -q '"data"' && { up=1; break; }
		sleep 0.5
	done
	# (no second probe: under TCG one 2 s probe can time out right after a good one)
	[ -n "$up" ] || die "controller did not come up (see $ZD/ctrl.log)"
	echo "vmnet: controller up after $(($(date +%s) - t0)) s" >&2
	setsid ip netns exec "$NS" "$ZITI" router run "$ZD/qs/r1.yaml" >"$ZD/router.log" 2>&1 </dev/null &
	echo $! >"$ZD/router.pid"
}

cmd_stop() {
	local f pid
	if on_host; then rpc 60 stop; return; fi
	for f in "$ZD/router.pid" "$ZD"/ctrl*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		rm -f "$f"
	done
}

case ${1:-} in
prepare) [ $# = 2 ] || die "usage: $0 prepare OUT.tar.gz"; cmd_prepare "$2" ;;
start) [ $# = 3 ] || die "usage: $0 start TARBALL NS"; NS=$3; cmd_start "$2" ;;
stop) cmd_stop ;;
prepare-ha) [ $# = 2 ] || die "usage: $0 prepare-ha OUT.tar.gz"; cmd_prepare_ha "$2" ;;
start-ha) [ $# = 3 ] || die "usage: $0 start-ha TARBALL NS"; NS=$3; cmd_start_ha "$2" ;;
kill-ctrl) [ $# -ge 2 ] || die "usage: $0 kill-ctrl N [SIG]"; cmd_kill_ctrl "$2" "${3:-}" ;;
start-ctrl) [ $# = 3 ] || die "usage: $0 start-ctrl N NS"; NS=$3; start_ctrl_n "$2" ;;
host-cpu) on_host || die "host-cpu: the network is not on the host"; rpc 30 host-cpu 2>&1 ;;
tcp-retries2) # N [NS]: the router's net.ipv4.tcp_retries2 (NS: its namespace when it runs here)
	[[ ${2:-} =~ ^[1-9][0-9]?$ ]] || die "usage: $0 tcp-retries2 N [NS]"
	if on_host; then rpc 30 tcp-retries2 "$2"; else [ -n "${3:-}" ] || die "tcp-retries2: NS?"; ip netns exec "$3" sysctl -qw "net.ipv4.tcp_retries2=$2"; fi ;;
*) echo "usage: $0 prepare OUT.tar.gz | start TARBALL NS | stop | prepare-ha OUT.tar.gz | start-ha TARBALL NS | kill-ctrl N [SIG] | start-ctrl N NS | host-cpu | tcp-retries2 N [NS]" >&2; exit 2 ;;
esac
