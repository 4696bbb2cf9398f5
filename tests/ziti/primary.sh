#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# primary_address (daemon/primary.c): the hosting precedence follows the site's VRRP address
# (sourced by tests/ziti/run.sh, which calls primary_tests; or run alone against a network from
# `zitinet.sh start DIR`: tests/ziti/primary.sh DIR, TAP; root: it makes a dummy interface, or
# an ifb one where the host has no dummy driver).
#
# sipovld (--no-kernel) hosts two services: pa-tr with allowedSourceAddresses (transparent
# sources: follows the address) and pa-own without (keeps host.v1's precedence, default), with
# "primary_address" 198.18.77.1, which no interface holds at start. The controller's terminators
# must show: pa-tr default; after the address is put on a dummy interface (as keepalived does
# on the new VRRP master), pa-tr required within PA_BOUND_MS (3000) and pa-own still default;
# after the address is removed, pa-tr default again. The status document reports the state.
# The same as multigw.sh's failover in the VM, where the second gateway takes the address
# over from a silently dead first one; before primary_address sipovld refused the key.

PA_BOUND_MS=${PA_BOUND_MS:-3000}
PA_ADDR=198.18.77.1
PA_IF=ztpa$$

primary_tests() {
	local D=$W/primary sd=$B/sipovld pid t0 p ms
	if [ ! -x "$sd" ]; then
		notok "primary: $sd not built"
		return
	fi
	if [ "$(id -u)" != 0 ]; then
		skip "primary: primary_address follows an interface address" "needs root (a dummy interface)"
		return
	fi
	mkdir -p "$D"
	pa_cleanup() {
		ip link del "$PA_IF" 2>/dev/null
		{ cli edge delete service-policy pa-bind; cli edge delete service pa-tr; cli edge delete service pa-own
		  cli edge delete config pa-tr-host; cli edge delete config pa-own-host; } > /dev/null 2>&1
	}
	pa_cleanup
	{ cli edge create config pa-tr-host host.v1 '{"protocol":"udp","address":"127.0.0.1","port":9,
		"allowedSourceAddresses":["10.1.0.0/24"]}' &&
	  cli edge create config pa-own-host host.v1 '{"protocol":"udp","address":"127.0.0.1","port":9}' &&
	  cli edge create service pa-tr -c pa-tr-host && cli edge create service pa-own -c pa-own-host &&
	  cli edge create service-policy pa-bind Bind --service-roles @pa-tr,@pa-own --identity-roles @zt-client
	} > "$D/cli.out" 2>&1 || { notok "primary: create the pa-tr and pa-own services"; diag < "$D/cli.out"; pa_cleanup; return; }
	cat > "$D/sipovld.conf" <<CONF
{ "identities": ["$ID/zt-client.json"], "control_socket": "$D/sipovld.sock", "log_level": "info",
  "service_poll_s": 1, "primary_address": "$PA_ADDR" }
CONF
	bg "$D/sipovld.log" "$sd" --no-kernel -c "$D/sipovld.conf"
	pid=$BGPID
	pa_prec() { # SERVICE: the precedences of its terminators, sorted, or nothing
		cli edge list terminators "service.name=\"$1\"" -j 2>/dev/null | jq -r '[.data[].precedence] | sort | join(" ")' 2>/dev/null
	}
	pa_wait() { # SERVICE WANT TRIES(quarter s): 0 when its terminators are all WANT
		local _ got
		for _ in $(seq 1 "$3"); do
			got=$(pa_prec "$1")
			[ -n "$got" ] && [ -z "$(tr ' ' '\n' <<<"$got" | grep -vx "$2")" ] && return 0
			sleep 0.25
		done
		return 1
	}
	if pa_wait pa-tr default 160 && pa_wait pa-own default 40; then
		ok "primary: address not held: pa-tr terminators $(pa_prec pa-tr), pa-own $(pa_prec pa-own)"
	else
		notok "primary: address not held: pa-tr default (got '$(pa_prec pa-tr)'), pa-own default (got '$(pa_prec pa-own)')"
		tail -5 "$D/sipovld.log" | diag
	fi
	p=$("$sd" --control "$D/sipovld.sock" --request status 2>/dev/null | jq -c '.primary_address')
	if [ "$p" = "{\"address\":\"$PA_ADDR\",\"held\":false,\"precedence\":\"default\"}" ]; then
		ok "primary: status $p"
	else
		notok "primary: status primary_address not held (got $p)"
	fi
	# a dummy interface (ifb where the host has no dummy driver: both only hold addresses)
	{ ip link add "$PA_IF" type dummy 2>/dev/null || ip link add "$PA_IF" type ifb; } && ip addr add "$PA_ADDR/32" dev "$PA_IF"
	t0=$(now_ms)
	if pa_wait pa-tr required $((PA_BOUND_MS / 250)); then
		ms=$(($(now_ms) - t0))
		if pa_wait pa-own default 1; then
			ok "primary: address added: pa-tr required after $ms ms (bound $PA_BOUND_MS), pa-own $(pa_prec pa-own)"
		else
			notok "primary: address added: pa-own kept default (got '$(pa_prec pa-own)')"
		fi
	else
		notok "primary: address added: pa-tr required within $PA_BOUND_MS ms (got '$(pa_prec pa-tr)')"
		grep -i "primary\|precedence" "$D/sipovld.log" | tail -5 | diag
	fi
	p=$("$sd" --control "$D/sipovld.sock" --request status 2>/dev/null |
		jq -c '[.primary_address.held, ([.services[] | select(.name == "pa-tr" or .name == "pa-own") | "\(.name) \(.host.precedence)"] | sort)]')
	if [ "$p" = '[true,["pa-own default","pa-tr required"]]' ]; then
		ok "primary: status held, pa-tr required, pa-own default"
	else
		notok "primary: status after the address was added (got $p)"
	fi
	ip addr del "$PA_ADDR/32" dev "$PA_IF"
	t0=$(now_ms)
	if pa_wait pa-tr default $((PA_BOUND_MS / 250)); then
		ok "primary: address removed: pa-tr default after $(($(now_ms) - t0)) ms"
	else
		notok "primary: address removed: pa-tr default within $PA_BOUND_MS ms (got '$(pa_prec pa-tr)')"
	fi
	kill -TERM "$pid"
	wait "$pid"
	pa_cleanup
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cd "$(dirname "$0")/../.." || exit 1
	TOP=$PWD
	B=${O:-$TOP/build}
	# shellcheck source=tests/ziti/lib.sh
	. "$TOP/tests/ziti/lib.sh"
	zt_standalone zt-primary "${1:-}"
	primary_tests
	zt_plan
fi
