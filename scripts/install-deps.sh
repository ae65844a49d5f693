#!/bin/sh
# Installs what aiopslab needs from Debian packages. Idempotent: when every
# package is present it only checks and returns within a second.
set -e
PKGS="build-essential pkg-config libjansson-dev libyaml-dev libsqlite3-dev libuv1-dev
      libmicrohttpd-dev libcurl4-openssl-dev libpq-dev libhiredis-dev
      haproxy wrk nginx-light redis-server memcached postgresql python3 curl procps iproute2
      clang libclang-rt-14-dev prometheus strace"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >&2
