#!/bin/bash
# Install what a fresh Debian 12 machine lacks for building and testing sipovl.
# Idempotent and quiet when everything is present.
#
#   scripts/deps.sh [build|check|demo]
set -euo pipefail

K61_IMG=linux-image-amd64
K61_HDR=linux-headers-amd64
K612_IMG=linux-image-6.12-amd64
K612_HDR=linux-headers-6.12-amd64

pkgs_build="make gcc pkg-config libc6-dev libmnl-dev libsodium-dev libjson-c-dev
	libssl-dev libc-ares-dev libcurl4-openssl-dev libcap-dev $K61_HDR $K612_HDR kmod"
pkgs_check="$pkgs_build $K61_IMG $K612_IMG qemu-system-x86 busybox-static cpio
	iproute2 nftables iptables sip-tester sparse dkms linux-source-6.1 xz-utils
	debhelper dh-dkms debootstrap go-md2man lintian socat jq clang libclang-rt-14-dev valgrind python3 python3-prometheus-client man-db
	bash-completion tcpdump procps psmisc shellcheck rsync iputils-ping curl openssl unzip ethtool
	flex bison bc libelf-dev bind9-dnsutils knot-dnsutils linux-source-6.12 python3-yaml python3-jsonschema baresip-core"

what=${1:-check}
case $what in
build) want=$pkgs_build ;;
check|demo) want=$pkgs_check ;;
*) echo "usage: $0 [build|check|demo]" >&2; exit 2 ;;
esac

missing=()
for p in $want; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = installed ] || missing+=("$p")
done

[ ${#missing[@]} -gt 0 ] || exit 0

echo "deps: installing ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "deps: not root and no sudo: install them as root" >&2; exit 1; }
	SUDO=sudo
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get -q update && $SUDO apt-get -q install -y --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "deps: apt-get failed installing: ${missing[*]}" >&2
	exit 1
fi
