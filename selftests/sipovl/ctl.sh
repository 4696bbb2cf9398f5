#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sipovlctl against the real kernel module: every command, the kernel's error
# messages shown verbatim, missing module and missing privileges, the apply
# round trip, JSON, events, sockets and netns isolation. Concurrent applies
# and 100k intercepts are in ctl-scale.sh.
#
# Runs in the VM (selftests/vm/run.sh selftests/sipovl/ctl.sh). Uses
# $SIPOVL_CTL if set (e.g. build/san/sipovlctl), else build/sipovlctl.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

require_root
in_vm || skip_all "runs only in the test VM (selftests/vm/run.sh)"
require_cmd jq python3 setpriv ip awk

CTL=${SIPOVL_CTL:-${SIPOVLCTL:-$SIPOVL_TOP/build/sipovlctl}}
[ -x "$CTL" ] || bail_out "no sipovlctl at $CTL (make)"

tmp=$(mktemp -d)
chmod 755 "$tmp"	# read by the unprivileged checks
on_exit rm -rf "$tmp"

[ -d /sys/module/sipovl ] || load_module
setup_ns NS NS2

# ctl ARGS...: sipovlctl in $NS.
ctl() { "$CTL" -n "$NS" "$@"; }

# run ARGS...: sets rc, out, err.
run() {
	rc=0
	ctl "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# expect_out DESC WANT ARGS...: exit 0, stdout exactly WANT, stderr empty.
expect_out() {
	local desc=$1 want=$2
	shift 2
	run "$@"
	if [ $rc = 0 ] && [ "$out" = "$want" ] && [ -z "$err" ]; then
		ok "$desc"
	else
		not_ok "$desc" "args: $*" "exit $rc, stderr: $err" "stdout:" "$out" "want:" "$want"
	fi
}

# expect_err DESC RC MSG ARGS...: exit RC, exactly one stderr line
# "sipovlctl: MSG", nothing on stdout.
expect_err() {
	local desc=$1 want_rc=$2 msg=$3
	shift 3
	run "$@"
	if [ "$rc" = "$want_rc" ] && [ "$err" = "sipovlctl: $msg" ] && [ -z "$out" ]; then
		ok "$desc"
	else
		not_ok "$desc" "args: $*" "exit $rc (want $want_rc)" "stderr: $err" \
			"want:   sipovlctl: $msg" "stdout: ${out:0:300}"
	fi
}

# same DESC FILE1 FILE2: byte-identical files.
same() {
	if cmp -s "$2" "$3"; then ok "$1"; else not_ok "$1" "$(diff "$2" "$3" | head -10)"; fi
}

# ---- intercept add / show ------------------------------------------------------
expect_out "empty table: show prints nothing" "" intercept show
expect_out "add sip-eu (kernel picks id 1)" "" \
	intercept add sip-eu proto udp,tcp addr 10.2.0.0/16,fd00:2::/48 port 5060-5061
expect_out "show: one line per intercept" \
	"1: sip-eu proto tcp,udp addr 10.2.0.0/16,fd00:2::/48 port 5060-5061 policy drop" intercept show
run -j intercept add rtp id 5 proto udp addr 10.3.0.0/16 port 10000-20000,30000 src 10.1.0.0/16 policy pass
if [ $rc = 0 ] && jq -en 'input | .id == 5 and .name == "rtp" and .protocols == ["udp"] and
	.ports == [{"low":10000,"high":20000},{"low":30000,"high":30000}] and
	.sources == ["10.1.0.0/16"] and .policy == "pass"' <<<"$out" >/dev/null; then
	ok "add -j prints the new intercept as JSON"
else
	not_ok "add -j prints the new intercept as JSON" "exit $rc: $err" "$out"
fi
ctl intercept add web id 3 proto tcp addr 192.0.2.0/24 port 443 >/dev/null 2>&1
expect_out "show: sorted by id, every field" \
"1: sip-eu proto tcp,udp addr 10.2.0.0/16,fd00:2::/48 port 5060-5061 policy drop
3: web proto tcp addr 192.0.2.0/24 port 443 policy drop
5: rtp proto udp addr 10.3.0.0/16 port 10000-20000,30000 src 10.1.0.0/16 policy pass" intercept show
expect_out "show NAME" "3: web proto tcp addr 192.0.2.0/24 port 443 policy drop" intercept show web
expect_out "show ID" "5: rtp proto udp addr 10.3.0.0/16 port 10000-20000,30000 src 10.1.0.0/16 policy pass" \
	intercept show 5
expect_out "show NAME --config" \
	"intercept web id 3 proto tcp addr 192.0.2.0/24 port 443 policy drop" intercept show web --config
expect_out "show -s: counters on the same line" \
	"3: web proto tcp addr 192.0.2.0/24 port 443 policy drop packets 0 bytes 0 flows 0 drops 0 passes 0 rejects 0" \
	-s intercept show web

# ---- kernel errors, verbatim ------------------------------------------------------------
expect_err "add: duplicate name (kernel extack)" 1 \
	'intercept add: name "sip-eu" already used by intercept 1 (File exists)' \
	intercept add sip-eu proto udp addr 10.9.0.0/16 port 1
expect_err "add: duplicate id (kernel extack)" 1 \
	'intercept add: intercept id 5 already exists (File exists)' \
	intercept add other id 5 proto udp addr 10.9.0.0/16 port 1
expect_err "del: unknown id (kernel extack)" 1 \
	'intercept del: no intercept with id 77 (No such file or directory)' intercept del 77
expect_err "del: unknown name (kernel extack)" 1 \
	'intercept del: no intercept named "nope" (No such file or directory)' intercept del nope
expect_err "show: unknown name (kernel extack)" 1 \
	'intercept show: no intercept named "nope" (No such file or directory)' intercept show nope
expect_err "replace: unknown id (kernel extack)" 1 \
	'intercept replace: no intercept with id 42 (No such file or directory)' \
	intercept replace x id 42 proto udp addr 10.9.0.0/16 port 1
expect_err "replace: unknown name (kernel extack)" 1 \
	'intercept replace: no intercept named "ghost" (No such file or directory)' \
	intercept replace ghost proto udp addr 10.9.0.0/16 port 1
expect_err "replace: rename onto a used name (kernel extack)" 1 \
	'intercept replace: name "rtp" already used by intercept 5 (File exists)' \
	intercept replace rtp id 3 proto tcp addr 192.0.2.0/24 port 443
expect_err "bad argument: nothing sent, token named" 2 \
	'bad prefix "10.2.0.1/16": host bits set (did you mean 10.2.0.0/16?)' \
	intercept add y proto udp addr 10.2.0.1/16 port 1
expect_out "failed commands changed nothing" \
"1: sip-eu proto tcp,udp addr 10.2.0.0/16,fd00:2::/48 port 5060-5061 policy drop
3: web proto tcp addr 192.0.2.0/24 port 443 policy drop
5: rtp proto udp addr 10.3.0.0/16 port 10000-20000,30000 src 10.1.0.0/16 policy pass" intercept show

# ---- replace / del -----------------------------------------------------------------------
expect_out "replace by name" "" intercept replace web proto tcp,udp addr 192.0.2.0/24 port 443,8443
expect_out "replace by name: new definition shown" \
	"3: web proto tcp,udp addr 192.0.2.0/24 port 443,8443 policy drop" intercept show 3
expect_out "replace by id renames" "" intercept replace www id 3 proto tcp addr 192.0.2.0/24 port 443 policy pass
expect_out "replace by id: renamed" "3: www proto tcp addr 192.0.2.0/24 port 443 policy pass" intercept show 3
expect_out "del by name" "" intercept del www
expect_out "del by id" "" intercept del 5
expect_out "after del" "1: sip-eu proto tcp,udp addr 10.2.0.0/16,fd00:2::/48 port 5060-5061 policy drop" intercept show

# ---- JSON ---------------------------------------------------------------------------------
ctl intercept add rtp id 5 proto udp addr 10.3.0.0/16 port 10000-20000 src 10.1.0.0/16 policy pass >/dev/null
run -j -s intercept show
if [ $rc = 0 ] && jq -en 'input | length == 2 and .[0].id == 1 and .[0].destinations == ["10.2.0.0/16","fd00:2::/48"] and
	.[0].stats.packets == 0 and .[1].name == "rtp" and .[1].policy == "pass"' <<<"$out" >/dev/null; then
	ok "show -j -s: parsed by jq"
else
	not_ok "show -j -s: parsed by jq" "exit $rc: $err" "$out"
fi
run -j -p intercept show
if [ $rc = 0 ] && python3 -c 'import json,sys; d=json.load(sys.stdin); assert [i["id"] for i in d] == [1, 5]' <<<"$out"; then
	ok "show -j -p: parsed by python"
else
	not_ok "show -j -p: parsed by python" "$out"
fi

# ---- the ASan/UBSan build over every netlink path ------------------------------------------
SAN=${SIPOVL_CTL_SAN:-$SIPOVL_TOP/build/san/sipovlctl}
if [ -x "$SAN" ]; then
	printf 'sources 10.1.0.0/16\nintercept sip-eu id 1 proto tcp,udp addr 10.2.0.0/16,fd00:2::/48 port 5060-5061\nintercept rtp id 5 proto udp addr 10.3.0.0/16 port 10000-20000 src 10.1.0.0/16 policy pass\n' >"$tmp/san.conf"
	san_bad=()
	while read -r -a args; do
		rc=0
		ASAN_OPTIONS=detect_leaks=1 "$SAN" -n "$NS" "${args[@]}" >"$tmp/san.out" 2>"$tmp/san.err" </dev/null || rc=$?
		[ $rc = 0 ] && [ ! -s "$tmp/san.err" ] || san_bad+=("${args[*]}: exit $rc: $(head -c 300 "$tmp/san.err")")
	done <<EOF2
-n $NS2 intercept show
-n $NS2 -j intercept show
-n $NS2 stats
intercept show
-s intercept show
-j -s -p intercept show
intercept show --config
intercept show 1
intercept show rtp --config
intercept add san-tmp proto udp addr 10.9.0.0/16,fd00:9::/64 port 1,2-3 src 10.1.0.0/16
-j intercept add san-tmp2 id 77 proto tcp addr 10.8.0.0/16 port 4
intercept replace san-tmp proto udp addr 10.9.0.0/16 port 5 policy pass
intercept del san-tmp
intercept del 77
apply --check $tmp/san.conf
-j apply --check $tmp/san.conf
apply $tmp/san.conf
stats
stats rtp
-j stats
config show
-j config show
sources show
-j sources show
sources set 10.1.0.0/16,fd00:1::/48
sources flush
socket show
socket unregister
lookup proto udp src 10.1.0.1 dst 10.3.0.1 dport 15000
-j lookup proto udp src 10.7.0.1 dst 10.3.0.1 dport 15000
lookup proto tcp src fd00:1::1 dst fd00:2::1 dport 5060 sport 40000
stats reset
EOF2
	if [ ${#san_bad[@]} = 0 ]; then
		ok "ASan/UBSan build: every netlink command path runs clean"
	else
		not_ok "ASan/UBSan build: every netlink command path runs clean" "${san_bad[@]}"
	fi
	rc=0
	"$SAN" -n "$NS" intercept del 4242 >/dev/null 2>"$tmp/san.err" || rc=$?
	if [ $rc = 1 ] && [ "$(cat "$tmp/san.err")" = "sipovlctl: intercept del: no intercept with id 4242 (No such file or directory)" ]; then
		ok "ASan/UBSan build: kernel error path clean"
	else
		not_ok "ASan/UBSan build: kernel error path clean" "exit $rc: $(head -c 300 "$tmp/san.err")"
	fi
	ctl apply "$tmp/san.conf" && ctl sources flush
else
	not_ok "sanitizer build present" "no $SAN (make tests)"
fi

# ---- stats ---------------------------------------------------------------------------------
run stats
if [ $rc = 0 ] && grep -qx 'global: lookups [0-9]* steered [0-9]* passed [0-9]* dropped [0-9]* errors [0-9]* replies [0-9]* src_denied [0-9]* rejected [0-9]* icmp_errors [0-9]*' <<<"$out" &&
	grep -qx 'intercept 1 sip-eu: packets 0 bytes 0 flows 0 drops 0 passes 0 rejects 0' <<<"$out" &&
	grep -qx 'intercept 5 rtp: packets 0 bytes 0 flows 0 drops 0 passes 0 rejects 0' <<<"$out"; then
	ok "stats: global and per-intercept lines"
else
	not_ok "stats: global and per-intercept lines" "exit $rc: $err" "$out"
fi
expect_out "stats show NAME" "intercept 5 rtp: packets 0 bytes 0 flows 0 drops 0 passes 0 rejects 0" stats show rtp
expect_out "stats NAME" "intercept 5 rtp: packets 0 bytes 0 flows 0 drops 0 passes 0 rejects 0" stats rtp
expect_err "stats: unknown intercept" 1 \
	'stats: no intercept with id 9 (No such file or directory)' stats show 9
run -j stats
if [ $rc = 0 ] && jq -en 'input | (.global | has("lookups") and has("src_denied") and has("rejected")) and (.intercepts | length == 2) and
	.intercepts[1].stats.passes == 0 and .intercepts[1].stats.rejects == 0' <<<"$out" >/dev/null; then
	ok "stats -j: parsed by jq"
else
	not_ok "stats -j: parsed by jq" "$out"
fi
run -j stats reset
if [ $rc = 0 ] && jq -en 'input | has("lookups")' <<<"$out" >/dev/null; then ok "stats reset -j"; else not_ok "stats reset -j" "exit $rc: $err"; fi

# ---- sources, socket, config, lookup ------------------------------------------------------------
expect_out "sources: empty" "" sources show
expect_out "sources set" "" sources set 10.1.0.0/16,fd00:1::/48
expect_out "sources show" $'10.1.0.0/16\nfd00:1::/48' sources
run -j sources show
[ $rc = 0 ] && [ "$(jq -c . <<<"$out")" = '["10.1.0.0/16","fd00:1::/48"]' ] &&
	ok "sources -j" || not_ok "sources -j" "$out"
expect_out "socket show: none registered" "" socket show
SOCKREG=${SOCKREG:-$SIPOVL_TOP/build/ctl/sockreg}
if [ -x "$SOCKREG" ]; then
	ip netns exec "$NS" "$SOCKREG" udp inet 5999 >"$tmp/sockreg.out" 2>&1 &
	sockreg=$!
	on_exit kill "$sockreg"
	slowwait 20 grep -q registered "$tmp/sockreg.out" >/dev/null
	ino=$(awk '/^registered/ { print $3 }' "$tmp/sockreg.out")
	expect_out "socket show: a socket registered through libsipovl" \
		"socket inet udp port 5999 alive member 0/1 inode $ino" socket show
	run -j socket show
	[ $rc = 0 ] && [ "$(jq -c . <<<"$out")" = '[{"family":"inet","protocol":"udp","port":5999,"alive":true,"member":0,"members":1,"inode":'"$ino"'}]' ] &&
		ok "socket show -j" || not_ok "socket show -j" "$out $err"
	# A second socket joins the group (SIPOVL_F_SOCKET_JOIN); closed, it leaves it.
	ip netns exec "$NS" "$SOCKREG" udp inet 5998 join >"$tmp/sockreg2.out" 2>&1 &
	sockreg2=$!
	on_exit kill "$sockreg2"
	slowwait 20 grep -q registered "$tmp/sockreg2.out" >/dev/null
	ino2=$(awk '/^registered/ { print $3 }' "$tmp/sockreg2.out")
	expect_out "socket show: a group of two members" \
		"socket inet udp port 5999 alive member 0/2 inode $ino"$'\n'"socket inet udp port 5998 alive member 1/2 inode $ino2" socket show
	run -j socket show
	[ $rc = 0 ] && jq -en --argjson a "$ino" --argjson b "$ino2" \
		'input | map([.port, .member, .members, .inode]) == [[5999, 0, 2, $a], [5998, 1, 2, $b]]' <<<"$out" >/dev/null &&
		ok "socket show -j: members with index, group size and inode" || not_ok "socket show -j: members" "$out $err"
	kill "$sockreg2"; wait "$sockreg2" 2>/dev/null
	one_left() { [ "$(ctl socket show)" = "socket inet udp port 5999 alive member 0/1 inode $ino" ]; }
	slowwait 20 one_left >/dev/null
	expect_out "socket show: the closed member is gone, the other kept" \
		"socket inet udp port 5999 alive member 0/1 inode $ino" socket show
	expect_out "socket unregister family inet proto tcp" "" socket unregister family inet proto tcp
	expect_out "socket show: the UDP registration is kept" "socket inet udp port 5999 alive member 0/1 inode $ino" socket show
	expect_out "socket unregister family inet proto udp" "" socket unregister family inet proto udp
	expect_out "socket show: unregistered" "" socket show
	kill "$sockreg"; wait "$sockreg" 2>/dev/null
else
	not_ok "socket registration helper built" "no $SOCKREG (make tests)"
fi
expect_out "socket unregister: all" "" socket unregister
expect_out "socket unregister: one" "" socket unregister family inet6 proto udp
run config show
if [ $rc = 0 ] && grep -qx 'generation [0-9]*' <<<"$out" && grep -qx 'intercepts 2' <<<"$out" &&
	grep -qx 'sources 10.1.0.0/16,fd00:1::/48' <<<"$out"; then
	ok "config show"
else
	not_ok "config show" "$out $err"
fi
run -j config show
[ $rc = 0 ] && jq -en 'input | .intercepts == 2 and .sockets == [] and (.sources | length == 2)' <<<"$out" >/dev/null &&
	ok "config show -j" || not_ok "config show -j" "$out"
expect_out "lookup: match" "1 sip-eu" lookup proto udp src 10.1.2.3 dst 10.2.3.4 dport 5061
expect_out "lookup: IPv6 match" "1 sip-eu" lookup proto tcp src fd00:1::1 dst fd00:2::5 dport 5060
expect_out "lookup: allowed source" "5 rtp" lookup proto udp src 10.1.0.9 dst 10.3.0.1 dport 15000
expect_out "lookup: source not allowed" "no match" lookup proto udp src 10.7.0.9 dst 10.3.0.1 dport 15000
expect_out "lookup: port outside" "no match" lookup proto udp src 10.1.2.3 dst 10.2.3.4 dport 5062
run -j lookup proto udp src 10.1.2.3 dst 10.2.3.4 dport 5060
[ $rc = 0 ] && jq -en 'input | .id == 1 and .name == "sip-eu"' <<<"$out" >/dev/null &&
	ok "lookup -j" || not_ok "lookup -j" "$out"

# ---- netns isolation ---------------------------------------------------------------------------------
expect_out "other namespace: empty table" "" -n "$NS2" intercept show
run intercept show
[ "$(wc -l <<<"$out")" = 2 ] && ok "own namespace still has its 2 intercepts" || not_ok "own namespace table" "$out"
expect_err "unknown namespace" 1 'cannot enter network namespace "nons-x": No such file or directory' \
	-n nons-x intercept show

# ---- apply round trip ------------------------------------------------------------------------------------
cat >"$tmp/a.conf" <<'EOF'
# a table
sources 10.1.0.0/16
intercept sip-eu id 1 proto udp,tcp addr 10.2.0.0/16,fd00:2::/48 port 5060-5061 src 10.1.0.0/16
intercept "media relay" proto udp addr 0.0.0.0/0,::/0 port 10000-20000 policy pass
intercept web id 9 proto tcp addr 192.0.2.1 port 443,8443
EOF
expect_out "apply a file" "" apply "$tmp/a.conf"
ctl intercept show --config >"$tmp/show1" 2>&1
cat >"$tmp/want1" <<'EOF'
sources 10.1.0.0/16
intercept sip-eu id 1 proto tcp,udp addr 10.2.0.0/16,fd00:2::/48 port 5060-5061 src 10.1.0.0/16 policy drop
intercept "media relay" id 2 proto udp addr 0.0.0.0/0,::/0 port 10000-20000 policy pass
intercept web id 9 proto tcp addr 192.0.2.1/32 port 443,8443 policy drop
EOF
same "show --config prints the applied table canonically" "$tmp/show1" "$tmp/want1"
ctl intercept flush && ctl sources flush
expect_out "apply the output of show --config" "" apply "$tmp/show1"
ctl intercept show --config >"$tmp/show2" 2>&1
same "show --config > f; apply f; show --config: byte-identical" "$tmp/show1" "$tmp/show2"
ctl apply - <"$tmp/show2" && ctl intercept show --config >"$tmp/show3" 2>&1
same "apply - (stdin) round trip" "$tmp/show1" "$tmp/show3"
expect_out "apply --check: valid file" "" apply --check "$tmp/a.conf"
printf 'intercept a proto udp addr 10.0.0.0/8 port 1\nintercept b proto udp addr 10.0.0.1/8 port 1\n' >"$tmp/bad.conf"
expect_err "apply: bad line named, nothing changed" 2 \
	"$tmp/bad.conf:2: bad prefix \"10.0.0.1/8\": host bits set (did you mean 10.0.0.0/8?)" apply "$tmp/bad.conf"
ctl intercept show --config >"$tmp/show4" 2>&1
same "table unchanged after a rejected apply" "$tmp/show1" "$tmp/show4"
printf 'intercept a proto udp addr 10.0.0.0/8 port 1\n' >"$tmp/one.conf"
expect_out "apply --check changes nothing" "" apply --check "$tmp/one.conf"
ctl intercept show --config >"$tmp/show5" 2>&1
same "table unchanged after apply --check" "$tmp/show1" "$tmp/show5"
expect_out "apply an empty file: empty table" "" apply /dev/null
expect_out "empty table after applying an empty file" "sources 10.1.0.0/16" intercept show --config

# ---- monitor ---------------------------------------------------------------------------------------------------
ctl monitor >"$tmp/mon" 2>"$tmp/mon.err" &
mon=$!
ctl -j monitor >"$tmp/monj" 2>&1 &
monj=$!
on_exit kill "$mon" "$monj"
sleep 1
ctl intercept add m1 id 11 proto udp addr 10.11.0.0/16 port 1
ctl intercept replace m1 id 11 proto udp addr 10.11.0.0/16 port 2
ctl intercept del m1
ctl apply "$tmp/one.conf"
ctl sources set 10.1.0.0/16
ctl intercept flush
sleep 1
kill "$mon" "$monj" 2>/dev/null
wait "$mon" "$monj" 2>/dev/null
sed -i 's/ generation [0-9]*$/ generation G/' "$tmp/mon"
cat >"$tmp/mon.want" <<'EOF'
intercept add id 11 name m1 generation G
intercept replace id 11 name m1 generation G
intercept del id 11 name m1 generation G
table commit generation G
sources set generation G
intercept flush generation G
EOF
same "monitor: one line per event" "$tmp/mon" "$tmp/mon.want"
if [ "$(jq -s -c 'map(.event)' "$tmp/monj" 2>&1)" = '["intercept_add","intercept_replace","intercept_del","table_commit","sources_set","intercept_flush"]' ] &&
	jq -s -e '.[0].id == 11 and .[0].name == "m1" and (.[0].generation | type == "number")' "$tmp/monj" >/dev/null; then
	ok "monitor -j: one JSON object per event"
else
	not_ok "monitor -j: one JSON object per event" "$(head -c 600 "$tmp/monj")"
fi

# ---- permissions ---------------------------------------------------------------------------------------------------
nobody() {
	ip netns exec "$NS" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		--inh-caps=-all --bounding-set=-all "$CTL" "$@"
}
perm() {
	local desc=$1 rc=0 e
	shift
	e=$(nobody "$@" 2>&1 >/dev/null) || rc=$?
	if [ $rc = 1 ] && [ "$e" = "sipovlctl: permission denied: CAP_NET_ADMIN required" ]; then
		ok "$desc"
	else
		not_ok "$desc" "exit $rc: $e"
	fi
}
perm "unprivileged: show" intercept show
perm "unprivileged: add" intercept add x proto udp addr 10.0.0.0/8 port 1
perm "unprivileged: apply" apply "$tmp/one.conf"
perm "unprivileged: monitor" monitor
perm "unprivileged: stats" stats
rc=0; nobody apply --check "$tmp/one.conf" >/dev/null 2>&1 || rc=$?
[ $rc = 0 ] && ok "unprivileged: apply --check needs no privileges" || not_ok "unprivileged: apply --check" "exit $rc"

# ---- module not loaded -----------------------------------------------------------------------------------------------
if unload_module; then
	expect_err "module unloaded: clear message" 1 "sipovl module not loaded (modprobe sipovl)" intercept show
	expect_err "module unloaded: apply" 1 "sipovl module not loaded (modprobe sipovl)" apply "$tmp/one.conf"
	expect_err "module unloaded: monitor" 1 "sipovl module not loaded (modprobe sipovl)" monitor
	load_module
else
	not_ok "rmmod sipovl" "$(lsmod | grep sipovl)"
fi
expect_out "module reloaded: empty table" "" intercept show

done_testing
