#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A throw-away OpenZiti test network on loopback for the native client tests.
# ZN_ZITI=PATH runs the network with that ziti binary instead of the cached one.
#
#   zitinet.sh bin                      print the path of the cached ziti CLI (build it once)
#   zitinet.sh bin-shortcert            ziti with a test knob (built once, cached; the first of
#                                       ZITI_VERSIONS already built, else the first): while
#                                       the file named by ZITI_TEST_CLIENT_CERT_SECONDS_FILE (in
#                                       the controller's environment) holds a number N, identity
#                                       client certificates it signs (enrollment, extension) are
#                                       valid N seconds (v1.6 hard-codes one year)
#   zitinet.sh start DIR                create the network under DIR (must not exist or be empty)
#   zitinet.sh env DIR                  print the network's variables (source-able)
#   zitinet.sh cli DIR ARGS...          run `ziti ARGS...` as the logged-in admin
#   zitinet.sh restart-router DIR [S]   stop the edge router, wait S seconds (default 1), start it
#   zitinet.sh restart-controller DIR [S]
#   zitinet.sh add-router DIR NAME      add one more edge router NAME (public, not a tunneler)
#   zitinet.sh router-stop|router-start|router-kill|router-pause|router-resume DIR NAME
#                                       stop (TERM) / start / SIGKILL / SIGSTOP (silently dead:
#                                       its sockets stay open) / SIGCONT one router (r1 is the
#                                       quickstart's)
#   zitinet.sh stop DIR                 stop everything started here and remove DIR
#   zitinet.sh start-cluster|kill-ctrl|start-ctrl|leader DIR ...
#                                       a three-controller raft cluster (tests/ziti/zitinet-ha.sh)
#
# `start` runs `ziti edge quickstart` (controller + router, loopback addresses, free ports, a
# temporary --home inside DIR) only to provision the PKI, database and router; it then stops
# the quickstart and runs the controller and the router as separate processes (bound to
# 127.0.0.1) so that each can be restarted on its own. ZN_ROUTERS=N (default 1) makes `start`
# add routers r2..rN (add-router); their addresses are ZN_ROUTER_ADDR_<name> in the env file. The controller's API session timeout
# is set to ZN_SESSION_TIMEOUT (default 1m, the controller's minimum), its OIDC access token
# lifetime to ZN_OIDC_TOKEN_DURATION (default 1m, the minimum too).
#
# The ziti CLI (a test peer only; the product never needs Go) is built once with the Go
# toolchain and cached in ${XDG_CACHE_HOME:-$HOME/.cache}/sipovl/ziti-<version>/ziti.
# ZITI_VERSIONS lists the tags tried in order (default "v1.6.5 v1.6.0": the newest release
# whose dependencies the Go module proxy serves, see mod_fallback, else the old end of the
# test matrix; Documentation/ziti-client.md).
set -euo pipefail

CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/sipovl
ZITI_VERSIONS=${ZITI_VERSIONS:-"v1.6.5 v1.6.0"}

die() { echo "zitinet: $*" >&2; exit 1; }

# The Go toolchain fetched when the machine has none recent enough: the official
# golang.org/toolchain module from the Go module proxy (what `GOTOOLCHAIN=go1.24.13`
# would download), checked against the zip's SHA-256. That digest was taken from a zip
# whose module hash Go itself verified against the checksum database
# (h1:5sgfUhn9QCgVl4UYj32GrIYFHI3bi2UX55tNfupXwxc=).
GO_TC_VERSION=go1.24.13
GO_TC_SHA256=d2b048367a3d1a748b87f756fa06df12ce3b419e1d5f2a3612acb8950d615f9f
GOPROXY_URL=${GOPROXY_URL:-https://proxy.golang.org}

# go_ok GO: GO is a Go toolchain of at least 1.24 (ziti v1.6 needs it).
go_ok() {
	local v
	v=$("$1" env GOVERSION 2>/dev/null) || return 1
	v=${v#go}
	local major=${v%%.*} rest=${v#*.}
	local minor=${rest%%[!0-9]*}
	[ "$major" -gt 1 ] 2>/dev/null || { [ "$major" = 1 ] && [ "${minor:-0}" -ge 24 ]; }
}

fetch_go() {
	local mod="v0.0.1-$GO_TC_VERSION.linux-amd64" dst="$CACHE/$GO_TC_VERSION"
	local zip="$CACHE/$GO_TC_VERSION.zip"
	[ "$(uname -m)" = x86_64 ] || die "no Go >= 1.24 found (and only x86_64 toolchains are fetched)"
	command -v unzip >/dev/null || die "unzip is missing (scripts/deps.sh installs it)"
	mkdir -p "$CACHE"
	echo "zitinet: fetching the Go $GO_TC_VERSION toolchain from $GOPROXY_URL once (cached in $dst)..." >&2
	curl -fsS --retry 3 -o "$zip.tmp" "$GOPROXY_URL/golang.org/toolchain/@v/$mod.zip" ||
		die "could not download golang.org/toolchain@$mod from $GOPROXY_URL"
	echo "$GO_TC_SHA256  $zip.tmp" | sha256sum -c --quiet - >/dev/null 2>&1 ||
		{ rm -f "$zip.tmp"; die "golang.org/toolchain@$mod: SHA-256 mismatch, not used"; }
	rm -rf "$dst.tmp" && mkdir -p "$dst.tmp"
	unzip -q "$zip.tmp" -d "$dst.tmp" || die "could not unpack $zip.tmp"
	rm -rf "$dst" && mv "$dst.tmp/golang.org/toolchain@$mod" "$dst" && rm -rf "$dst.tmp" "$zip.tmp"
	go_ok "$dst/bin/go" || die "the fetched toolchain in $dst does not run"
}

# Print a Go toolchain >= 1.24: on PATH, /usr/local/go, or fetched into the cache.
find_go() {
	local g
	for g in "$(command -v go 2>/dev/null)" /usr/local/go/bin/go "$CACHE/$GO_TC_VERSION/bin/go"; do
		[ -n "$g" ] && [ -x "$g" ] && go_ok "$g" && { echo "$g"; return 0; }
	done
	fetch_go && echo "$CACHE/$GO_TC_VERSION/bin/go"
}

# The first of ZITI_VERSIONS that is built, provided every tag before it was tried and could
# not be built (ziti-<tag>.failed): a newer tag added to the list is tried once even where an
# older one is cached. Status 1: a build is needed.
ziti_cached() {
	local v
	for v in $ZITI_VERSIONS; do
		if [ -x "$CACHE/ziti-$v/ziti" ]; then echo "$CACHE/ziti-$v/ziti"; return 0; fi
		[ -f "$CACHE/ziti-$v.failed" ] || return 1
	done
	return 1
}

# ziti_build GO DIR OUT: build ziti's command in the module source DIR (the same flags for
# every build here, so that builds share Go's build cache).
ziti_build() {
	(cd "$2" && GOPROXY="file://$CACHE/goproxy|$GOPROXY_URL" GOTOOLCHAIN=local CGO_ENABLED=0 \
		GOFLAGS=-mod=mod "$1" build -trimpath -o "$3" ./ziti)
}

# Print the cached binary (building it if needed). Quiet when present.
ziti_bin() {
	local v
	if v=$(ziti_cached); then echo "$v"; return 0; fi
	local go
	go=$(find_go) || die "no Go toolchain (need go >= 1.24 to build the ziti test peer)"
	mkdir -p "$CACHE"
	# One build per machine: concurrent builds (several checkouts' `make tests`) would each
	# compile the same thousand packages and write the same output. Wait for the first, then
	# take what it cached.
	exec 8>"$CACHE/.ziti-build.lock"
	flock 8
	if v=$(ziti_cached); then exec 8>&-; echo "$v"; return 0; fi
	for v in $ZITI_VERSIONS; do
		[ -f "$CACHE/ziti-$v.failed" ] && continue
		local out="$CACHE/ziti-$v" log="$CACHE/ziti-$v.build.log"
		mkdir -p "$out"
		echo "zitinet: building ziti $v once (cached in $out)..." >&2
		# Built inside the downloaded module with -trimpath, exactly as ziti_bin_shortcert
		# builds its variant: the two then share Go's build cache (measured: the variant
		# after this build 28 CPU-seconds, against 369 for this one; `go install pkg@v`
		# without -trimpath shared nothing with it). The module's go.sum verifies every
		# dependency; only the ziti module itself bypasses the checksum DB, which may be
		# unreachable.
		local dir
		dir=$(ziti_src "$go" "$v" 2>>"$log") || dir=''
		if [ -n "$dir" ] && ziti_build "$go" "$dir" "$out/ziti.tmp" >>"$log" 2>&1; then
			mv "$out/ziti.tmp" "$out/ziti"
			echo "$out/ziti"; return 0
		fi
		# The proxy serves some modules' zip but refuses their go.mod (403; ziti v1.6.5:
		# channel/v4 v4.2.13, storage v0.4.20): serve those go.mod files, taken from the
		# zips, from a local file:// proxy tried first. Go checks every go.mod and zip
		# against the ziti module's go.sum, so nothing unverified is built.
		if [ -n "$dir" ] && mod_fallback "$go" "$log" &&
			ziti_build "$go" "$dir" "$out/ziti.tmp" >>"$log" 2>&1; then
			mv "$out/ziti.tmp" "$out/ziti"
			echo "$out/ziti"; return 0
		fi
		echo "zitinet: ziti $v could not be built (see $log; not tried again while $CACHE/ziti-$v.failed exists)" >&2
		rm -rf "$out"
		date > "$CACHE/ziti-$v.failed"
	done
	die "could not build any of: $ZITI_VERSIONS"
}

# mod_fallback GO LOG: for every "MODULE@VERSION: reading .../VERSION.mod: 403" in LOG, put
# that module's go.mod (from its zip, in the module cache or fetched from the proxy) into the
# local proxy $CACHE/goproxy. Status 1 when LOG names none or a zip is refused as well.
mod_fallback() {
	local go=$1 log=$2 mc m v esc zip dst n=0
	mc=$("$go" env GOMODCACHE)
	while read -r m v; do
		esc=$(printf '%s' "$m" | sed 's/[A-Z]/!\L&/g')
		dst="$CACHE/goproxy/$esc/@v"
		[ -s "$dst/$v.mod" ] && { n=$((n + 1)); continue; }
		zip="$mc/cache/download/$esc/@v/$v.zip"
		if [ ! -s "$zip" ]; then
			mkdir -p "$CACHE/goproxy.tmp"
			zip="$CACHE/goproxy.tmp/$(printf '%s' "$esc" | tr / _)@$v.zip"
			curl -fsS --retry 3 -o "$zip" "$GOPROXY_URL/$esc/@v/$v.zip" 2>>"$log" || return 1
		fi
		mkdir -p "$dst"
		unzip -p "$zip" "$m@$v/go.mod" > "$dst/$v.mod.tmp" 2>>"$log" && [ -s "$dst/$v.mod.tmp" ] ||
			{ rm -f "$dst/$v.mod.tmp"; return 1; }
		mv "$dst/$v.mod.tmp" "$dst/$v.mod"
		echo "zitinet: $m@$v: go.mod refused by the proxy, taken from its zip" >&2
		n=$((n + 1))
	done < <(sed -n 's|^.* \([^ ]*\)@\(v[^:]*\): reading [^ ]*/@v/v[^ ]*\.mod: 403.*$|\1 \2|p' "$log" | sort -u)
	rm -rf "$CACHE/goproxy.tmp"
	[ "$n" -gt 0 ]
}

# The ziti module's source directory for version $2 (downloaded into the module cache).
ziti_src() {
	local go=$1 v=$2
	(cd /tmp && GONOSUMDB=github.com/openziti/ziti GOFLAGS=-mod=mod \
		"$go" mod download -json "github.com/openziti/ziti@$v" 2>/dev/null |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}

# ziti built from a copy of its module source with one change: common/cert's ClientSigner takes the validity of the
# client certificates it signs from the file named by ZITI_TEST_CLIENT_CERT_SECONDS_FILE, read
# at each signature (no file, no variable: one year, as upstream), so that a test can make
# certificates that expire within the run; nothing else in the binary changes.
ziti_bin_shortcert() {
	local v='' x out go dir ov
	# the first of ZITI_VERSIONS whose variant is cached; else the first whose plain build is
	# cached, else the first: its variant is built from its source (no plain build needed)
	for x in $ZITI_VERSIONS; do
		[ -x "$CACHE/ziti-$x-shortcert/ziti" ] && { echo "$CACHE/ziti-$x-shortcert/ziti"; return 0; }
	done
	for x in $ZITI_VERSIONS; do [ -x "$CACHE/ziti-$x/ziti" ] && { v=$x; break; }; done
	v=${v:-${ZITI_VERSIONS%% *}}
	out="$CACHE/ziti-$v-shortcert"
	if [ -x "$out/ziti" ]; then echo "$out/ziti"; return 0; fi
	go=$(find_go) || die "no Go toolchain"
	mkdir -p "$out"
	exec 7>"$out/.lock"
	flock 7
	if [ -x "$out/ziti" ]; then exec 7>&-; echo "$out/ziti"; return 0; fi
	dir=$(ziti_src "$go" "$v") && [ -n "$dir" ] && [ -f "$dir/common/cert/cert.go" ] ||
		die "no source for ziti $v in the Go module cache"
	# (go build -overlay may not replace files in the module cache: build a writable copy)
	ov="$out/src"
	rm -rf "$ov" && cp -r "$dir" "$ov" && chmod -R u+w "$ov" || die "cannot copy $dir"
	# the second "NotAfter: time.Now().AddDate(1, 0, 0)," (no comment after it) is ClientSigner.SignCsr's
	awk '/NotAfter: *time\.Now\(\)\.AddDate\(1, 0, 0\),$/ && ++n == 1 {
		sub(/time\.Now\(\)\.AddDate\(1, 0, 0\)/, "testClientNotAfter()") } { print }' \
		"$dir/common/cert/cert.go" > "$ov/common/cert/cert.go"
	grep -q 'testClientNotAfter()' "$ov/common/cert/cert.go" || die "ziti $v: ClientSigner NotAfter not found"
	cat > "$ov/common/cert/testcert.go" <<'GO'
package cert

import (
	"os"
	"strconv"
	"strings"
	"time"
)

func testClientNotAfter() time.Time {
	if f := os.Getenv("ZITI_TEST_CLIENT_CERT_SECONDS_FILE"); f != "" {
		if b, err := os.ReadFile(f); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
				return time.Now().Add(time.Duration(n) * time.Second)
			}
		}
	}
	return time.Now().AddDate(1, 0, 0)
}
GO
	echo "zitinet: building ziti $v with the client certificate validity knob once (cached in $out)..." >&2
	# (the go.mod files ziti_bin had to take from their zips: see mod_fallback)
	ziti_build "$go" "$ov" "$out/ziti.tmp" > "$out/build.log" 2>&1 ||
		{ tail -5 "$out/build.log" >&2; die "ziti $v (shortcert) could not be built (see $out/build.log)"; }
	mv "$out/ziti.tmp" "$out/ziti"
	rm -rf "$ov"
	exec 7>&-
	echo "$out/ziti"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
free_udp_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# run a command in its own session, record its pid
spawn() { # name logfile cmd...
	local name=$1 log=$2; shift 2
	setsid "$@" >"$log" 2>&1 < /dev/null &
	echo $! > "$D/$name.pid"
}

kill_pidfile() { # pidfile
	local f=$1 pid
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -f "$f"
}

load_env() {
	[ -f "$D/env" ] || die "no network in $D"
	# shellcheck disable=SC1091
	. "$D/env"
}

zcli() { HOME="$D/home" "$ZITI" "$@"; }

login() { # the first controller that answers (a cluster lists several in ZN_CTRL_ADDRS)
	local a
	for _ in $(seq 1 30); do
		for a in ${ZN_CTRL_ADDRS:-$ZN_CTRL_ADDR}; do
			if zcli edge login "$a" -u admin -p "$ZN_ADMIN_PW" -y >/dev/null 2>&1; then
				return 0
			fi
		done
		sleep 1
	done
	die "cannot log in to ${ZN_CTRL_ADDRS:-$ZN_CTRL_ADDR}"
}

wait_ctrl() {
	for _ in $(seq 1 120); do
		curl -sk --max-time 2 "https://$ZN_CTRL_ADDR/version" 2>/dev/null | grep -q '"data"' && return 0
		sleep 0.5
	done
	die "controller did not come up (see $D/ctrl.log)"
}

wait_router() {
	for _ in $(seq 1 120); do
		if zcli edge list edge-routers 'name="r1"' -j 2>/dev/null | grep -q '"isOnline": *true'; then
			return 0
		fi
		sleep 0.5
	done
	die "router did not come online (see $D/router.log)"
}

start_ctrl() {
	local log
	log="$D/ctrl.log.$(date +%s%N)"
	: > "$log"; ln -sf "$log" "$D/ctrl.log"
	spawn ctrl "$log" "$ZITI" controller run "$D/qs/ctrl.yaml"
	wait_ctrl
}
start_router() {
	local log
	log="$D/router.log.$(date +%s%N)"
	: > "$log"; ln -sf "$log" "$D/router.log"
	spawn router "$log" "$ZITI" router run "$D/qs/r1.yaml"
}

# routers other than r1: pid file router-NAME.pid, logs router-NAME.log.*
router_pidfile() { [ "$1" = r1 ] && echo "$D/router.pid" || echo "$D/router-$1.pid"; }
start_router_n() { # name
	local log
	[ "$1" = r1 ] && { start_router; return; }
	[ -f "$D/qs/$1.yaml" ] || die "no router $1 in $D"
	log="$D/router-$1.log.$(date +%s%N)"
	: > "$log"; ln -sf "$log" "$D/router-$1.log"
	spawn "router-$1" "$log" "$ZITI" router run "$D/qs/$1.yaml"
}
wait_router_n() { # name
	for _ in $(seq 1 120); do
		zcli edge list edge-routers "name=\"$1\"" -j 2>/dev/null | grep -q '"isOnline": *true' && return 0
		sleep 0.5
	done
	die "router $1 did not come online"
}
signal_router() { # name signal
	local f pid
	f=$(router_pidfile "$1")
	[ -f "$f" ] || die "router $1 is not running"
	pid=$(cat "$f")
	kill "-$2" -- "-$pid" 2>/dev/null || kill "-$2" "$pid"
}

# One more edge router: created at the controller (attribute public, so the quickstart's
# policies give it every identity and service), configured like r1 on its own port (no
# tunnel binding), enrolled, started, online.
add_router() { # name
	local n=$1 rp
	case $n in r1|*[!a-z0-9-]*|'') die "bad router name '$n'" ;; esac
	[ -f "$D/qs/$n.yaml" ] && die "router $n exists"
	rp=$(free_port)
	zcli edge create edge-router "$n" -a public -o "$D/qs/$n.jwt" >/dev/null || die "cannot create router $n"
	sed -e "s|/qs/r1\.|/qs/$n.|g" -e "s|127\.0\.0\.1:${ZN_ROUTER_ADDR##*:}|127.0.0.1:$rp|g" \
		-e '/^  - binding: tunnel/,/^$/d' "$D/qs/r1.yaml" > "$D/qs/$n.yaml"
	grep -q "127.0.0.1:$rp" "$D/qs/$n.yaml" && ! grep -q "binding: tunnel" "$D/qs/$n.yaml" ||
		die "cannot derive $n.yaml from r1.yaml"
	HOME="$D/home" "$ZITI" router enroll "$D/qs/$n.yaml" --jwt "$D/qs/$n.jwt" > "$D/qs/$n.enroll.log" 2>&1 ||
		{ tail -5 "$D/qs/$n.enroll.log" >&2; die "cannot enroll router $n"; }
	echo "ZN_ROUTER_ADDR_$n=127.0.0.1:$rp" | tr '-' '_' >> "$D/env"
	start_router_n "$n"
	wait_router_n "$n"
}

# A second controller certificate for the host name ZN_CTRL_NAME (chosen by SNI through the
# controller's alt_server_certs), so that a client can name the controller by a host name
# that is not localhost (c-ares answers localhost itself) and resolve it through a test DNS
# server (tests/ziti/dns.sh). Same key, signed by the quickstart's intermediate CA.
alt_cert() {
	local pki=$D/qs/pki/intermediate-ca-quickstart
	openssl req -new -key "$pki/keys/server.key" -subj "/CN=$ZN_CTRL_NAME" -out "$D/qs/alt.csr" 2>/dev/null &&
		printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$ZN_CTRL_NAME" > "$D/qs/alt.ext" &&
		openssl x509 -req -in "$D/qs/alt.csr" -CA "$pki/certs/intermediate-ca-quickstart.cert" \
			-CAkey "$pki/keys/intermediate-ca-quickstart.key" -CAcreateserial -days 7 -extfile "$D/qs/alt.ext" \
			-out "$D/qs/alt.cert" 2>/dev/null || die "cannot mint the $ZN_CTRL_NAME certificate"
	cat "$D/qs/alt.cert" "$pki/certs/intermediate-ca-quickstart.cert" > "$D/qs/alt.chain.pem"
	sed -i -e "s|^\([[:space:]]*\)#alt_server_certs:.*|\1alt_server_certs:\n\1  - server_cert: \"$D/qs/alt.chain.pem\"\n\1    server_key: \"$pki/keys/server.key\"|" \
		"$D/qs/ctrl.yaml"
	grep -q "alt.chain.pem" "$D/qs/ctrl.yaml" || die "cannot add the $ZN_CTRL_NAME certificate to ctrl.yaml"
}

cmd_start() {
	mkdir -p "$D"
	[ -z "$(ls -A "$D")" ] || die "$D is not empty"
	D=$(cd "$D" && pwd)
	ZITI=${ZN_ZITI:-$(ziti_bin)}
	mkdir -p "$D/home"
	local cp rp pw
	cp=$(free_port); rp=$(free_port)
	while [ "$rp" = "$cp" ]; do rp=$(free_port); done
	pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
	cat > "$D/env" <<EOF
ZITI=$ZITI
ZN_DIR=$D
ZN_CTRL_ADDR=127.0.0.1:$cp
ZN_ROUTER_ADDR=127.0.0.1:$rp
ZN_ADMIN_PW=$pw
ZN_TCP_ECHO_PORT=$(free_port)
ZN_UDP_ECHO_PORT=$(free_udp_port)
ZN_SESSION_TIMEOUT=${ZN_SESSION_TIMEOUT:-1m}
ZN_OIDC_TOKEN_DURATION=${ZN_OIDC_TOKEN_DURATION:-1m}
ZN_CTRL_NAME=ctrl.zt.test
EOF
	load_env
	# 1. provision with the quickstart
	spawn qs "$D/quickstart.log" env HOME="$D/home" ZITI_ROUTER_NAME=r1 \
		ZITI_CTRL_BIND_ADDRESS=127.0.0.1 ZITI_CTRL_EDGE_BIND_ADDRESS=127.0.0.1 \
		"$ZITI" edge quickstart --home "$D/qs" --ctrl-address 127.0.0.1 --ctrl-port "$cp" \
		--router-address 127.0.0.1 --router-port "$rp" -u admin -p "$pw"
	local ok=
	for _ in $(seq 1 240); do
		if grep -q "controller and router started" "$D/quickstart.log" 2>/dev/null; then ok=1; break; fi
		kill -0 "$(cat "$D/qs.pid")" 2>/dev/null || break
		sleep 0.5
	done
	[ -n "$ok" ] || { tail -20 "$D/quickstart.log" >&2; die "quickstart failed"; }
	kill_pidfile "$D/qs.pid"
	# 2. loopback binds and the short API session timeout, then run the pieces separately
	sed -i -e "s/tls:0\.0\.0\.0:$rp/tls:127.0.0.1:$rp/g" "$D/qs/r1.yaml"
	sed -i -e "s/^\([[:space:]]*\)sessionTimeout:.*/\1sessionTimeout: $ZN_SESSION_TIMEOUT/" "$D/qs/ctrl.yaml"
	grep -q "sessionTimeout: $ZN_SESSION_TIMEOUT" "$D/qs/ctrl.yaml" || die "cannot set sessionTimeout"
	# OIDC access tokens of ZN_OIDC_TOKEN_DURATION (default 1m, the controller's minimum) so
	# that clients refresh them within a test; legacy API sessions are unaffected
	grep -q '^edge:$' "$D/qs/ctrl.yaml" || die "no edge section in ctrl.yaml"
	sed -i -e "/^edge:\$/a\\  oidc:\\n    accessTokenDuration: $ZN_OIDC_TOKEN_DURATION" "$D/qs/ctrl.yaml"
	grep -q "accessTokenDuration: $ZN_OIDC_TOKEN_DURATION" "$D/qs/ctrl.yaml" || die "cannot set accessTokenDuration"
	# The controller keeps terminator peer data (the hosts' public keys) as slices of bbolt's
	# memory map without copying them (controller/db/terminator_store.go loadEntity, v1.6.0 and
	# v1.6.3 alike). Once the database outgrows the mapped size bbolt re-maps it, and the next
	# circuit to such a terminator crashes the controller ("fatal error: fault", SIGSEGV in
	# channel.EncodeU32ToBytesMap from CreateCircuitResponse.ToMessage); under load the window
	# is wide enough to hit. Pre-size the file (sparse; bbolt's own growth leaves zero tails
	# too) so that the map is 256 MiB from the start and never moves during a run.
	local db
	db=$(sed -n 's/^db:[[:space:]]*"\{0,1\}\([^"]*\)"\{0,1\}[[:space:]]*$/\1/p' "$D/qs/ctrl.yaml")
	[ -n "$db" ] && [ -f "$db" ] || die "no controller database in $D/qs/ctrl.yaml"
	[ "$(stat -c %s "$db")" -ge $((256 << 20)) ] || truncate -s 256M "$db"
	alt_cert
	start_ctrl
	start_router
	login
	wait_router
	provision
	local i
	for i in $(seq 2 "${ZN_ROUTERS:-1}"); do add_router "r$i"; done
	echo "zitinet: up in $D (controller $ZN_CTRL_ADDR, router $ZN_ROUTER_ADDR)" >&2
}

# Identities, configs, services and policies used by tests/ziti/run.sh.
#   zt-client  (#clients)  our dialer          go-client (#clients)  ziti tunnel proxy
#   zt-host    (#zt-hosts) our host            go-host   (#go-hosts) ziti tunnel host
# Services hosted by Go have attribute #go-hosted and a host.v1 config pointing at the local
# echo servers; services hosted by us have #zt-hosted. "-e" = encryptionRequired.
provision() {
	local id
	for id in zt-client:clients go-client:clients zt-host:zt-hosts go-host:go-hosts zt-other:nobody; do
		zcli edge create identity "${id%%:*}" -a "${id##*:}" -o "$D/${id%%:*}.jwt" >/dev/null
		zcli edge enroll "$D/${id%%:*}.jwt" -o "$D/${id%%:*}.json" >/dev/null 2>&1 ||
			die "enroll ${id%%:*} failed"
		# key material: sipovld refuses identity files others can read (the CLI writes 0644)
		chmod 600 "$D/${id%%:*}.json"
	done
	zcli edge create config echo-tcp-host host.v1 \
		"{\"protocol\":\"tcp\",\"address\":\"127.0.0.1\",\"port\":$ZN_TCP_ECHO_PORT}" >/dev/null
	zcli edge create config echo-udp-host host.v1 \
		"{\"protocol\":\"udp\",\"address\":\"127.0.0.1\",\"port\":$ZN_UDP_ECHO_PORT}" >/dev/null
	zcli edge create config sip-intercept intercept.v1 \
		'{"protocols":["udp","tcp"],"addresses":["10.99.0.0/24"],"portRanges":[{"low":5060,"high":5061}]}' >/dev/null
	zcli edge create service go-tcp-e2e -e ON -c echo-tcp-host,sip-intercept -a go-hosted >/dev/null
	zcli edge create service go-tcp-plain -e OFF -c echo-tcp-host -a go-hosted >/dev/null
	zcli edge create service go-udp-e2e -e ON -c echo-udp-host -a go-hosted >/dev/null
	zcli edge create service go-udp-plain -e OFF -c echo-udp-host -a go-hosted >/dev/null
	local s
	for s in zt-e2e:ON zt-plain:OFF zt-udp-e2e:ON zt-udp-plain:OFF zt-nohost:ON zt-readd:ON zt-fault:ON \
		zt-sink:ON zt-expire:ON zt-addr:ON; do
		zcli edge create service "${s%%:*}" -e "${s##*:}" -a zt-hosted >/dev/null
	done
	zcli edge create service-policy dial-all Dial --service-roles '#go-hosted,#zt-hosted' \
		--identity-roles '#clients' >/dev/null
	zcli edge create service-policy bind-go Bind --service-roles '#go-hosted' --identity-roles '#go-hosts' >/dev/null
	zcli edge create service-policy bind-zt Bind --service-roles '#zt-hosted' --identity-roles '#zt-hosts' >/dev/null
}

cmd_stop() {
	[ -d "$D" ] || return 0
	local f
	for f in "$D"/*.pid; do [ -e "$f" ] && kill_pidfile "$f"; done
	# nothing started from DIR may survive
	local left
	left=$(pgrep -f -- "$D/" | grep -v -x -e "$$" -e "$PPID" || true)
	if [ -n "$left" ]; then
		echo "zitinet: killing leftovers: $left" >&2
		# shellcheck disable=SC2086
		kill -KILL $left 2>/dev/null || true
	fi
	rm -rf "$D"
}

# shellcheck source=tests/ziti/zitinet-ha.sh
. "$(dirname "$0")/zitinet-ha.sh"

what=${1:-}
case $what in
start-cluster|kill-ctrl|start-ctrl|leader)
	[ $# -ge 2 ] || { echo "usage: $0 $what DIR" >&2; exit 2; }
	D=$2; w=$what; shift 2
	case $w in
	start-cluster) cmd_start_cluster ;;
	kill-ctrl) load_env; cmd_kill_ctrl "$@" ;;
	start-ctrl) load_env; start_ctrl_n "$1" ;;
	leader) load_env; cmd_leader ;;
	esac
	exit 0 ;;
bin) ziti_bin; exit 0 ;;
bin-shortcert) ziti_bin_shortcert; exit 0 ;;
start|stop|env|cli|restart-router|restart-controller) ;;
add-router|router-stop|router-start|router-kill|router-pause|router-resume|ctrl-pause|ctrl-resume) ;;
*) echo "usage: $0 bin|bin-shortcert|start|stop|env|cli|restart-router|restart-controller|add-router|router-stop|router-start|router-kill|router-pause|router-resume|ctrl-pause|ctrl-resume DIR [...]" >&2; exit 2 ;;
esac
[ $# -ge 2 ] || { echo "usage: $0 $what DIR" >&2; exit 2; }
D=$2
shift 2
case $what in
start) cmd_start ;;
stop) cmd_stop ;;
env) load_env; cat "$D/env" ;;
cli) load_env; login; zcli "$@" ;;
restart-router)
	load_env; kill_pidfile "$D/router.pid"; sleep "${1:-1}"; start_router; login; wait_router ;;
restart-controller)
	load_env; kill_pidfile "$D/ctrl.pid"; sleep "${1:-1}"; start_ctrl ;;
add-router) load_env; login; add_router "${1:?router name}" ;;
router-stop) load_env; kill_pidfile "$(router_pidfile "${1:?router name}")" ;;
router-start)
	load_env; [ -f "$(router_pidfile "${1:?router name}")" ] && die "router $1 is running"
	start_router_n "$1"; login; wait_router_n "$1" ;;
router-kill) load_env; signal_router "${1:?router name}" KILL; rm -f "$(router_pidfile "$1")" ;;
ctrl-pause) load_env; kill -STOP "$(cat "$D/ctrl.pid")" ;;
ctrl-resume) load_env; kill -CONT "$(cat "$D/ctrl.pid")" ;;
router-pause) load_env; signal_router "${1:?router name}" STOP ;;
router-resume) load_env; signal_router "${1:?router name}" CONT ;;
esac
