#!/bin/sh
# Installs the system tools the tests and `make run` use, from Debian's
# packages, when they are missing. Needs root; without it, says what to do.
set -eu
need=""
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v ping >/dev/null 2>&1 || need="$need iputils-ping"
command -v ethtool >/dev/null 2>&1 || need="$need ethtool"
command -v nft >/dev/null 2>&1 || need="$need nftables"
command -v curl >/dev/null 2>&1 || need="$need curl"
command -v wrk >/dev/null 2>&1 || need="$need wrk"
command -v ab >/dev/null 2>&1 || need="$need apache2-utils"
command -v h2load >/dev/null 2>&1 || need="$need nghttp2-client"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing$need; install them (apt-get install$need) or run as root" >&2
	exit 0
fi
echo "deps: installing$need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need >/dev/null
