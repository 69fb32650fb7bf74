#!/usr/bin/env bash
# Install every Debian package that tollgate's build, tests, demo and benchmarks
# need. Idempotent: installs only what is missing; safe to run on every build.
set -euo pipefail

PKGS=(
	# build
	make gcc clang llvm pkg-config libc6-dev
	libbpf-dev libxdp-dev bpftool libelf-dev zlib1g-dev
	libinih-dev libsystemd-dev librdkafka-dev libhiredis-dev
	libpq-dev libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev libgnutls28-dev
	libmaxminddb-dev libmaxminddb0
	# tests
	libcmocka-dev libjansson-dev libclang-rt-14-dev
	iproute2 ethtool curl python3 procps util-linux kcat redis-server redis-tools jq openssl
	postgresql mmdb-bin
	# the developer portal's browser test: Debian's Chromium (playwright-core from npm
	# drives it; no browser is ever downloaded) and a font for its screenshots
	chromium fonts-dejavu-core
	# benchmarks
	wrk xdp-tools nginx haproxy
	# bench-peers.sh with BENCH_PROFILE=1
	linux-perf
)

# Node.js and npm for the portal's browser test: Debian's, unless they are there
# already (another nodejs package brings its own npm, which Debian's would conflict with)
{ command -v node && command -v npm; } >/dev/null 2>&1 || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
	exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Packages with services (nginx) must not start them: tests and benchmarks
# start their own instances on free ports.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy"
	chmod 755 "$policy"
	own_policy=1
fi
trap '[ -n "$own_policy" ] && rm -f "$policy"' EXIT
apt-get update -qq || true
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
