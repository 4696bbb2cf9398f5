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
set -euo pipefail

ZD=${SIPOVLD_ZN_DIR:-/tmp/sipovld-zn}
ADDR=10.99.0.1
CPORT=1280
RPORT=3022
TOP=$(cd "$(dirname "$0")/../.." && pwd)

die() { echo "vmnet: $*" >&2; exit 1; }

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
	# $ZD is a fixed path (the guest's), and builds in other checkouts may prepare a network
	# at the same time: work in a private mount namespace, on a tmpfs of our own over $ZD.
	if [ -z "${VMNET_PRIVATE_ZD:-}" ]; then
		mkdir -p "$ZD"
		VMNET_PRIVATE_ZD=1 exec unshare --mount --propagation private "$0" prepare "$out"
	fi
	mount -t tmpfs -o mode=0755 vmnet-prepare "$ZD" || die "cannot mount a tmpfs on $ZD"
	NS=sipovld-prep-$$
	mkdir -p "$ZD/home"
	ip netns add "$NS"
	pid=
	trap '[ -z "$pid" ] || { kill -TERM $pid 2>/dev/null; sleep 1; kill -KILL $pid 2>/dev/null; }; ip netns del $NS 2>/dev/null' EXIT
	ip -n "$NS" link set lo up
	ip -n "$NS" addr add "$ADDR/32" dev lo
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
	# TLS handshakes on the controller's and router's listeners: 5 s by default, which a TCG
	# guest on a loaded host misses (the controller logs "handshake failed: context deadline
	# exceeded"; the client, curl or a Ziti SDK, sees the connection dropped).
	local y
	for y in "$ZD/qs/ctrl.yaml" "$ZD/qs/r1.yaml"; do
		[ -f "$y" ] || die "no $y"
		! grep -q '^tls:' "$y" || die "$y already has a tls: section"
		printf '\ntls:\n  handshakeTimeout: 30s\n' >>"$y"
	done
	rm -f "$ZD"/*.jwt
	echo "$ZITI" >"$ZD/ziti-bin" # the guest sees the host's root: same path there
	mkdir -p "$(dirname "$out")"
	tar -C / -czf "$out.tmp" "${ZD#/}"
	mv "$out.tmp" "$out"
	echo "vmnet: network packed in $out" >&2
}

cmd_start() {
	local tarball=$1 t0 up
	[ -f "$tarball" ] || die "no $tarball (run: $0 prepare $tarball)"
	rm -rf "$ZD"
	tar -C / -xzf "$tarball"
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
	for f in "$ZD/router.pid" "$ZD/ctrl.pid"; do
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
*) echo "usage: $0 prepare OUT.tar.gz | start TARBALL NS | stop" >&2; exit 2 ;;
esac
