#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sipovld worker processes (Documentation/design.md "Workers"), sourced by tests/daemon/run.sh
# (section 3, as root): a sipovld --no-kernel with "workers": 2 (an explicit count: with
# --no-kernel the default is one) lists both in status, both alive, worker 1 a child of the
# primary reporting its counters; a reload (control socket, then SIGHUP) reaches worker 1 (its
# reported udp_idle_timeout_s changes, its reload count rises); a worker killed with SIGKILL
# is started again (new pid, restarts 1, logged with "its flows are lost"); SIGTERM stops the
# workers with the primary; a worker whose primary is killed stops; the default "auto" is one
# worker with --no-kernel and counts the CPUs of the affinity mask (taskset). Flows carried by both
# workers are the VM selftest's (selftests/sipovl/daemon.sh: gw-a with two workers).
# Uses ok/notok from run.sh.

wk_status() { timeout 30 "$1" --control "$2" --request status 2>/dev/null; }

# wk_wait BIN SOCK JQ-EXPR: up to 10 s for status to satisfy the expression
wk_wait() {
	for _ in $(seq 1 100); do
		wk_status "$1" "$2" | jq -en "input | $3" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

workers_tests() { # workers_tests BIN WORKDIR
	local bin=$1 w=$2 sock=$2/wk.sock pid st w1 w1b rc
	printf '{ "control_socket": "%s", "workers": 2, "log_level": "info", "udp_idle_timeout_s": 60 }\n' "$sock" >"$w/wk.conf"
	"$bin" --no-kernel -c "$w/wk.conf" 2>"$w/wk.log" &
	pid=$!
	if ! wk_wait "$bin" "$sock" '(.workers | length) == 2 and all(.workers[]; .alive) and .workers[1].report_age_ms != null'; then
		notok "workers 2: status lists the primary and worker 1, both alive and reporting: $(wk_status "$bin" "$sock" | jq -c '.workers' 2>&1 | head -c 300)"
		tail -5 "$w/wk.log" | sed 's/^/# /'
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return
	fi
	st=$(wk_status "$bin" "$sock")
	w1=$(jq -r '.workers[1].pid' <<<"$st")
	if [ "$(jq -r '.config.workers' <<<"$st")" = 2 ] && [ "$(jq -r '.workers[0].pid' <<<"$st")" = "$pid" ] &&
		[ "$(awk '/^PPid:/ {print $2}' "/proc/$w1/status" 2>/dev/null)" = "$pid" ] &&
		jq -en 'input | (.workers[1].counters | keys) == ([.counters | keys[] | select(. != "datagrams_dropped_late")] | sort) and
			(.workers[1].flows | keys | length) == 4' <<<"$st" >/dev/null; then
		ok "workers 2: status lists the primary (pid $pid) and worker 1 (pid $w1, its child), both alive, worker 1 reporting its counters and flows"
	else
		notok "workers 2: status of the workers: $(jq -c '[.config.workers, .workers]' <<<"$st" | head -c 400)"
	fi
	# a reload reaches worker 1: the control socket's, then SIGHUP's
	printf '{ "control_socket": "%s", "workers": 2, "log_level": "info", "udp_idle_timeout_s": 45 }\n' "$sock" >"$w/wk.conf"
	rc=0
	timeout 30 "$bin" --control "$sock" --request reload >"$w/wk.reload" 2>&1 || rc=$?
	if [ $rc = 0 ] && wk_wait "$bin" "$sock" '.config.udp_idle_timeout_s == 45 and .workers[1].reloads == 1 and
		.workers[1].config.udp_idle_timeout_s == 45 and .workers[1].pid == '"$w1"; then
		ok "workers 2: a reload (control socket) reaches worker 1: udp_idle_timeout_s 60 -> 45 in both, worker 1 not restarted"
	else
		notok "workers 2: reload (exit $rc) did not reach worker 1: $(wk_status "$bin" "$sock" | jq -c '[.config.udp_idle_timeout_s, .workers[1]]' | head -c 300)"
	fi
	printf '{ "control_socket": "%s", "workers": 2, "log_level": "info", "udp_idle_timeout_s": 30 }\n' "$sock" >"$w/wk.conf"
	kill -HUP "$pid"
	if wk_wait "$bin" "$sock" '.config.udp_idle_timeout_s == 30 and .workers[1].reloads == 2 and
		.workers[1].config.udp_idle_timeout_s == 30 and .workers[1].pid == '"$w1"; then
		ok "workers 2: SIGHUP to the primary reaches worker 1: udp_idle_timeout_s 45 -> 30 in both"
	else
		notok "workers 2: SIGHUP did not reach worker 1: $(wk_status "$bin" "$sock" | jq -c '[.config.udp_idle_timeout_s, .workers[1]]' | head -c 300)"
	fi
	# a killed worker is started again
	kill -KILL "$w1"
	if wk_wait "$bin" "$sock" '.workers[1].alive and .workers[1].restarts == 1 and .workers[1].pid != '"$w1"' and
		.workers[1].report_age_ms != null and .workers[1].config.udp_idle_timeout_s == 30' &&
		grep -q "worker 1 (pid $w1) killed by signal 9 after [0-9]* s; its flows are lost; restarting in 1000 ms" "$w/wk.log"; then
		w1b=$(wk_status "$bin" "$sock" | jq -r '.workers[1].pid')
		ok "workers 2: worker 1 killed (SIGKILL): logged, started again (pid $w1 -> $w1b, restarts 1) with the running configuration"
	else
		notok "workers 2: worker 1 killed: not started again: $(wk_status "$bin" "$sock" | jq -c '.workers[1]' | head -c 300)"
		grep -i worker "$w/wk.log" | tail -4 | sed 's/^/# /'
		w1b=$w1
	fi
	# SIGTERM: the workers stop with the primary
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	if [ $rc = 0 ] && ! kill -0 "$w1b" 2>/dev/null && ! grep -qE "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$w/wk.log" &&
		[ "$(grep -c 'worker 1: stopped' "$w/wk.log")" = 1 ]; then
		ok "workers 2: SIGTERM: worker 1 stopped, then the primary (exit 0, no sanitizer report)"
	else
		notok "workers 2: SIGTERM: exit $rc, worker $w1b $(kill -0 "$w1b" 2>/dev/null && echo still running || echo gone)"
		grep -E "stopped|AddressSanitizer|runtime error|LeakSanitizer" "$w/wk.log" | head -5 | sed 's/^/# /'
	fi
	# a worker whose primary dies stops (the primary killed: no SIGTERM to forward)
	"$bin" --no-kernel -c "$w/wk.conf" 2>"$w/wk2.log" &
	pid=$!
	if wk_wait "$bin" "$sock" '.workers[1].alive and .workers[1].report_age_ms != null'; then
		w1=$(wk_status "$bin" "$sock" | jq -r '.workers[1].pid')
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$w1" 2>/dev/null || break; sleep 0.1; done
		if ! kill -0 "$w1" 2>/dev/null; then
			ok "workers 2: the primary killed (SIGKILL): worker 1 (pid $w1) stops"
		else
			notok "workers 2: the primary killed: worker 1 (pid $w1) still runs 5 s later"
			kill -KILL "$w1" 2>/dev/null
		fi
	else
		notok "workers 2: second start: worker 1 not reporting"
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$sock"
	# the default, "auto": one per usable CPU with the kernel (selftests/sipovl/daemon.sh), one with
	# --no-kernel (nothing to spread), said in the log; the usable CPUs are the affinity mask's
	printf '{ "control_socket": "%s", "log_level": "info" }\n' "$sock" >"$w/wk3.conf"
	"$bin" --no-kernel -c "$w/wk3.conf" 2>"$w/wk3.log" &
	pid=$!
	local ncpu
	ncpu=$(nproc)
	if wk_wait "$bin" "$sock" ".config.workers == 1 and .config.workers_setting == \"auto\" and .config.cpus_usable == $ncpu and (.workers | length) == 1" &&
		{ [ "$ncpu" = 1 ] || grep -q "workers: 1 (auto, $ncpu CPUs usable): no kernel" "$w/wk3.log"; }; then
		ok "workers by default \"auto\": with --no-kernel one on $ncpu usable CPUs, and the log says why"
	else
		notok "workers by default: expected \"auto\", 1 of $ncpu with --no-kernel: $(wk_status "$bin" "$sock" | jq -c '[.config, .workers]' | head -c 300) $(grep -m1 'workers:' "$w/wk3.log")"
	fi
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null
	rm -f "$sock"
	if [ "$ncpu" -gt 1 ]; then
		taskset -c 0 "$bin" --no-kernel -c "$w/wk3.conf" 2>"$w/wk4.log" &
		pid=$!
		if wk_wait "$bin" "$sock" ".config.cpus_usable == 1"; then
			ok "workers \"auto\" counts the CPUs of the affinity mask (taskset -c 0: 1 of $ncpu)"
		else
			notok "workers \"auto\" under taskset -c 0: $(wk_status "$bin" "$sock" | jq -c '.config' | head -c 300)"
		fi
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null
	fi
}
