#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Calls across re-authentication (issue 12, item 7): sipovld (--no-kernel) hosts the UDP echo
# service ra-udp; a paced stream (RTP-like: 160 B every 20 ms, echoed) runs through it while
# sipovld's authentication changes under it (sourced by tests/ziti/run.sh, which calls
# reauth_tests; or alone against a network from `zitinet.sh start DIR`: tests/ziti/reauth.sh
# DIR, TAP output). Measured per case: the longest time without an echo (the gap), the
# datagrams lost, and whether sipovld lost or replaced a router channel meanwhile.
#   1. OIDC (ziti_auth "oidc"), access tokens refreshed every second (ziti_token_refresh_s 1):
#      at least ZT_RA_REFRESHES (3) refreshes during the stream; nothing lost, no channel
#      dropped, gap under ZT_RA_GAP_REFRESH (1000 ms);
#   2. legacy API sessions (ziti_auth "legacy"), sipovld's API session deleted at the
#      controller (what the controller's expiry does) ZT_RA_ROUNDS (3) times during the
#      stream: sipovld authenticates again each time. The router closes the channels of a
#      removed API session (the protocol keeps no circuit across it), so the dialer re-dials:
#      each re-authentication may cost at most ZT_RA_GAP_REAUTH (1000 ms) of echoes and its
#      share of loss (20 ms per datagram). (OIDC API sessions cannot be deleted that way: the
#      controller's api-sessions list does not hold them.)
#   3. OIDC, a forced login from scratch: sipovld reaches the controller through
#      tests/ziti/ctrlproxy.py, which answers every request with HTTP 400 invalid_grant (the
#      token endpoint's refusal of a refresh token) for ZT_RA_RELOGIN_MS (1500 ms) during the
#      stream. The token refresh (every second) refused so, sipovld must
#      drop its tokens and log in again from the start (discovery, authorize, certificate
#      login, code exchange; those fail too until the window ends); the routers keep the
#      channels on the old access token meanwhile. The new login is a new API session, whose
#      token a v1.6.5 router refuses on a channel of the old one ("bearer token api session
#      ids did not match"): sipovld must not offer it there but reconnect its channels at once
#      (no "router refused the refreshed token"), and the dialer re-dials as after case 2.
#      Bounds as in 2: ZT_RA_GAP_REAUTH (1000 ms) of echoes and of loss. (The v1.6.5 controller offers no way
#      to refuse a live refresh token: edge.oidc.refreshTokenDuration sets the access token's
#      duration instead, and a refresh token's revocation is not looked at by its refresh
#      grant; so the proxy refuses it.)
#   4. OIDC, the controller unable to refresh for a while: the proxy answers every request
#      with HTTP 503 for ZT_RA_RELOGIN_MS (a controller that cannot answer; a cluster member
#      without a raft leader answers a refresh 400 server_error, zt-unit's case). sipovld
#      must keep its session: the refresh is sent again (backoff), no login from scratch, and
#      the stream goes on as in 1 (nothing lost, no channel dropped, gap under
#      ZT_RA_GAP_REFRESH). One exception: the switch to 503 resets the relayed connections,
#      and a refresh on one of them may have been carried out with its answer lost; the
#      refresh token is then spent (HTTP 400 server_error "revocation already exists") and
#      exactly one login follows at once (zt-unit has the deterministic case).

ra_api_session() { # sipovld log: the API session it authenticated last
	grep -o 'authenticated: api session [^ ,]*' "$1" 2>/dev/null | tail -1 | awk '{print $4}'
}

ra_terms() { # terminators of ra-udp
	"$ZN" cli "$NET" edge list terminators 'service.name="ra-udp"' -j 2>/dev/null | jq -r '.data | length' 2>/dev/null
}

# ra_case TAG AUTH REFRESH_S ROUNDS [MODE]: sipovld with ziti_auth AUTH (token refresh
# REFRESH_S, 0: default), a stream of 1 + 3 * ROUNDS seconds (at least 8 s); ROUNDS > 0: its API
# session deleted at the controller ROUNDS times, 3 s apart, each once the previous
# re-authentication happened; MODE (refuse, 503): through the fault proxy, every request
# answered so for ZT_RA_RELOGIN_MS from 3 s into the stream. Sets ra_gap ra_lost ra_reauth
# ra_drops ra_refreshes; returns 1 if not measured.
ra_case() {
	local auth=$2 refresh=$3 rounds=$4 log=$W/ra-$2-$1 sd pid s t secs c id=$W/ra-id.json
	ra_gap='' ra_lost='' ra_reauth=0 ra_drops='' ra_refreshes=''
	if [ -n "${5:-}" ]; then
		# the previous case's proxy holds [::1] at the controller's port
		[ -z "${RA_PROXY:-}" ] || { kill "$RA_PROXY" 2>/dev/null; wait "$RA_PROXY" 2>/dev/null; RA_PROXY=''; }
		id=$W/ra-idp.json
		cp "$W/ra-id.json" "$id"
		ctrlproxy_start "$log.proxy" "$id" v6 || { diag < "$log.proxy/out"; return 1; }
		RA_PROXY=${PIDS[-1]}
	fi
	{ printf '{ "identities": ["%s"], "control_socket": "%s.sock", "log_level": "debug",\n' "$id" "$log"
	  printf '  "service_poll_s": 1, "ziti_auth": "%s"' "$auth"
	  [ "$refresh" != 0 ] && printf ', "ziti_token_refresh_s": %s' "$refresh"
	  printf ' }\n'; } > "$log.conf"
	"$B/san/sipovld" --no-kernel -c "$log.conf" > "$log.log" 2>&1 &
	sd=$!
	PIDS+=("$sd")
	c=0
	for _ in $(seq 1 160); do
		c=$(ra_terms); [ "${c:-0}" -ge 1 ] && break
		sleep 0.25
	done
	if [ "${c:-0}" -lt 1 ]; then
		kill -TERM "$sd"; wait "$sd"
		tail -5 "$log.log" | diag
		return 1
	fi
	secs=$((1 + 3 * rounds)); [ $secs -lt 8 ] && secs=8
	"$SAN" dial -i "$ID/zt-host.json" -s ra-udp --udp --count $((secs * 50)) --size 160 --pace-ms 20 \
		--timeout-ms 60000 -v > "$log.dial" 2>&1 &
	pid=$!
	if [ -n "${5:-}" ]; then
		sleep 3
		ctrlproxy_mode "$log.proxy" "$5"
		echo "$5 from $(now_ms)" >> "$log.faults"
		sleep "$(awk -v m="${ZT_RA_RELOGIN_MS:-1500}" 'BEGIN { printf "%.3f", m / 1000 }')"
		ctrlproxy_mode "$log.proxy" pass
		echo "pass from $(now_ms)" >> "$log.faults"
	fi
	for _ in $(seq 1 "$rounds"); do
		sleep 3
		s=$(ra_api_session "$log.log")
		[ -n "$s" ] && "$ZN" cli "$NET" edge delete api-session "$s" > "$W/last.out" 2>&1 || continue
		echo "deleted $s at $(now_ms)" >> "$log.faults"
		t=$(now_ms)
		while [ $(($(now_ms) - t)) -lt 10000 ] && [ "$(ra_api_session "$log.log")" = "$s" ]; do sleep 0.1; done
		[ "$(ra_api_session "$log.log")" != "$s" ] && ra_reauth=$((ra_reauth + 1))
	done
	wait "$pid"
	ra_refreshes=$("$B/sipovld" --control "$log.sock" --request status 2>/dev/null | jq -r '.identities[0].token_refreshes')
	kill -TERM "$sd"
	wait "$sd"
	[ $? = 0 ] && san_clean "$log.log" || { echo "sipovld: exit or sanitizer report" >> "$log.faults"; ra_gap=''; return 1; }
	# channel failures are logged "router NAME: why" (not a connection's, not a socket option)
	ra_drops=$(grep -E 'router [^ ]+: ' "$log.log" | grep -c -v -E ': connection [0-9]+:|TCP_USER_TIMEOUT')
	ra_gap=$(sed -n 's/.*longest gap between echoes \([0-9]*\) ms.*/\1/p' "$log.dial" | tail -1)
	ra_lost=$(sed -n 's/.* \([0-9]*\) lost$/\1/p' "$log.dial" | tail -1)
	[ -n "$ra_gap" ] && [ -n "$ra_lost" ]
}

reauth_tests() {
	local rounds=${ZT_RA_ROUNDS:-3} nref=${ZT_RA_REFRESHES:-3} gref=${ZT_RA_GAP_REFRESH:-1000}
	local greauth=${ZT_RA_GAP_REAUTH:-1000} d b a

	# shellcheck source=tests/ziti/ctrlproxy.sh
	. "$TOP/tests/ziti/ctrlproxy.sh"
	if [ ! -x "$B/san/sipovld" ]; then
		skip "reauth: calls across re-authentication" "$B/san/sipovld not built"
		return
	fi
	"$ZN" cli "$NET" edge list services 'name="ra-udp"' -j 2>/dev/null | grep -q '"name": *"ra-udp"' ||
	{ "$ZN" cli "$NET" edge create config ra-udp-host host.v1 \
		"{\"protocol\":\"udp\",\"address\":\"127.0.0.1\",\"port\":$ZN_UDP_ECHO_PORT}" &&
	  "$ZN" cli "$NET" edge create service ra-udp -e ON -c ra-udp-host &&
	  "$ZN" cli "$NET" edge create service-policy ra-bind Bind --service-roles @ra-udp --identity-roles @zt-client &&
	  "$ZN" cli "$NET" edge create service-policy ra-dial Dial --service-roles @ra-udp --identity-roles @zt-host
	} > "$W/last.out" 2>&1 || { notok "reauth: create the ra-udp service"; diag < "$W/last.out"; return; }
	cp "$ID/zt-client.json" "$W/ra-id.json"
	chmod 600 "$W/ra-id.json"

	d="reauth: paced UDP stream through sipovld (20 ms x 160 B)"
	if ra_case refresh oidc 1 0; then
		if [ "${ra_refreshes:-0}" -ge "$nref" ] && [ "$ra_lost" = 0 ] && [ "$ra_drops" = 0 ] && [ "$ra_gap" -le "$gref" ]; then
			ok "$d across $ra_refreshes OIDC token refreshes: $ra_lost lost, longest gap $ra_gap ms, no router channel dropped"
		else
			notok "$d across OIDC token refreshes: $ra_refreshes refreshes (>= $nref), $ra_lost lost (0), gap $ra_gap ms (<= $gref), $ra_drops channel events (0)"
			grep -E 'WARN|ERR|router|refresh' "$W/ra-oidc-refresh.log" | tail -6 | diag
		fi
	else
		notok "$d across OIDC token refreshes: not measured"; tail -6 "$W/ra-oidc-refresh.dial" "$W/ra-oidc-refresh.faults" 2>/dev/null | diag
	fi
	# 3. a forced login from scratch (OIDC): the refresh refused, the login redone
	if ! python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
		skip "$d across an OIDC login from scratch" "no IPv6 loopback (::1) for the fault proxy"
	elif ra_case relogin oidc 1 0 refuse; then
		local nlog refused pushed
		nlog=$(grep -c 'authenticated: api session .*(OIDC)' "$W/ra-oidc-relogin.log")
		refused=$(grep -c 'OIDC token refresh: HTTP 400.*authenticating again' "$W/ra-oidc-relogin.log")
		pushed=$(grep -c 'router refused the refreshed token' "$W/ra-oidc-relogin.log")
		if [ "$refused" -ge 1 ] && [ "$nlog" -ge 2 ] && [ "$pushed" = 0 ] && [ "$ra_gap" -le "$greauth" ] &&
			[ $((ra_lost * 20)) -le "$greauth" ]; then
			ok "$d across an OIDC login from scratch (token refresh refused with HTTP 400 invalid_grant, every request refused for ${ZT_RA_RELOGIN_MS:-1500} ms): $((nlog - 1)) new login(s), $ra_lost lost, longest gap $ra_gap ms, $ra_drops router channel events (bound $greauth ms)"
		else
			notok "$d across an OIDC login from scratch: $refused refused refresh(es) (>= 1), $((nlog - 1)) new login(s) (>= 1), $pushed new-session token(s) refused by a router on an old channel (0), $ra_lost lost, longest gap $ra_gap ms (bound $greauth ms)"
			grep -E 'WARN|ERR|router|refresh|authenticat' "$W/ra-oidc-relogin.log" | grep -v DEBUG | tail -8 | diag
			tail -8 "$W/ra-oidc-relogin.proxy/proxy.log" | diag
		fi
	else
		notok "$d across an OIDC login from scratch: not measured"; tail -6 "$W/ra-oidc-relogin.dial" "$W/ra-oidc-relogin.faults" 2>/dev/null | diag
	fi
	# 4. the controller unable to refresh for a while (HTTP 503): the session kept, no login
	if ! python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
		skip "$d across OIDC refreshes answered 503" "no IPv6 loopback (::1) for the fault proxy"
	elif ra_case keep oidc 1 0 503; then
		local nlog kept spent reset
		nlog=$(grep -c 'authenticated: api session .*(OIDC)' "$W/ra-oidc-keep.log")
		kept=$(grep -c 'OIDC token refresh: HTTP 503.*the session is kept' "$W/ra-oidc-keep.log")
		# a refresh (one a second) on the connection the proxy reset at the switch to 503 may have
		# been carried out by the controller, its answer lost: the token is spent, and the one
		# login allowed is the one that follows at once (a new API session: the channels of the old
		# one are retired, make before break, so channel events are allowed then; nothing lost)
		spent=$(grep -c 'refresh token was spent.*authenticating again' "$W/ra-oidc-keep.log")
		reset=$(sed -n 's/.* mode 503 (\([0-9]*\) connections reset)$/\1/p' "$W/ra-oidc-keep.proxy/proxy.log" | head -1)
		if [ "$kept" -ge 1 ] && [ "$nlog" = $((1 + spent)) ] && { [ "$spent" = 0 ] || { [ "$spent" = 1 ] && [ "${reset:-0}" -ge 1 ]; }; } &&
			[ "${ra_refreshes:-0}" -ge "$nref" ] && [ "$ra_lost" = 0 ] &&
			{ [ "$ra_drops" = 0 ] || [ "$spent" = 1 ]; } && [ "$ra_gap" -le "$gref" ]; then
			ok "$d across OIDC refreshes answered 503 for ${ZT_RA_RELOGIN_MS:-1500} ms: $kept refused, sent again, the session kept ($((nlog - 1)) new login(s), for $spent refresh token(s) spent by a refresh whose answer the proxy's reset lost), $ra_refreshes refreshes, $ra_lost lost, longest gap $ra_gap ms, $ra_drops router channel events"
		else
			notok "$d across OIDC refreshes answered 503: $kept refresh(es) answered 503 and sent again (>= 1), $((nlog - 1)) new login(s) ($spent: one per refresh token spent, at most 1, and only if the switch reset a connection: ${reset:-0} reset), $ra_refreshes refreshes (>= $nref), $ra_lost lost (0), gap $ra_gap ms (<= $gref), $ra_drops channel events (0 unless a token was spent)"
			grep -E 'WARN|ERR|router|refresh|authenticat' "$W/ra-oidc-keep.log" | grep -v DEBUG | tail -8 | diag
		fi
	else
		notok "$d across OIDC refreshes answered 503: not measured"; tail -6 "$W/ra-oidc-keep.dial" "$W/ra-oidc-keep.faults" 2>/dev/null | diag
	fi
	a=legacy b=$greauth
	if ra_case reauth "$a" 0 "$rounds"; then
		if [ "$ra_reauth" -ge "$rounds" ] && [ "$ra_gap" -le "$b" ] && [ $((ra_lost * 20)) -le $((b * rounds)) ]; then
			ok "$d, $a: $ra_reauth re-authentications after its API session was deleted: longest gap $ra_gap ms, $ra_lost lost (bound $b ms each)"
		else
			notok "$d, $a: $ra_reauth of $rounds re-authentications, longest gap $ra_gap ms, $ra_lost lost (bound $b ms each)"
			grep -E 'WARN|ERR|router|authenticated|no longer' "$W/ra-$a-reauth.log" | tail -8 | diag
			grep -E 'FAILED|router|redial|gap' "$W/ra-$a-reauth.dial" | tail -4 | diag
		fi
	else
		notok "$d, $a re-authentication: not measured"; tail -6 "$W/ra-$a-reauth.dial" "$W/ra-$a-reauth.faults" 2>/dev/null | diag
	fi
}

# run alone: tests/ziti/reauth.sh DIR (a network from zitinet.sh start)
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cd "$(dirname "$0")/../.." || exit 1
	TOP=$PWD
	B=${O:-$TOP/build}
	SAN=$B/san/zt-tool
	p=
	# shellcheck source=tests/ziti/lib.sh
	. "$TOP/tests/ziti/lib.sh"
	zt_standalone zt-ra "${1:-}"
	bg "$W/echo.log" python3 "$ECHO" serve "$ZN_TCP_ECHO_PORT" "$ZN_UDP_ECHO_PORT"
	reauth_tests
	zt_plan
fi
