#!/bin/sh
# deps: install every build, test and benchmark dependency on Debian 12 with apt-get
set -eu

PKGS="make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
libinih-dev libsystemd-dev libcurl4-openssl-dev libjansson-dev libssl-dev
libmicrohttpd-dev libcap-dev libcmocka-dev python3 procps util-linux
libcap2-bin iproute2 stress-ng prometheus-node-exporter rpm dpkg-dev
debootstrap systemd-container"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	echo "deps: all present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing:$missing (run 'make deps' as root)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
