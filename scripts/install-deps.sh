#!/usr/bin/env bash
# Installs every package that the build, the tests and the benchmarks need, from Debian's
# archive (and, for the S3 test server only, npm). Idempotent: when everything is present it
# only checks and returns in about a second. Services that packages start on install (etcd,
# redis) are stopped and disabled: tests start their own on free ports.
set -euo pipefail

APT_PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git clang-format
  # libraries chosen once (DEVELOPERS.md)
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  liburing-dev libucx-dev ucx-utils libcurl4-openssl-dev libcivetweb-dev libcpp-httplib-dev
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libssl-dev libxxhash-dev libre2-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  pybind11-dev python3-pybind11 python3-dev python3-pytest python3-numpy
  # test and benchmark servers/tools
  etcd-server etcd-client redis-server redis-tools iperf3 fio nodejs awscli
  iproute2 procps psmisc curl
)
S3RVER_VERSION=3.7.1

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${#missing[@]} Debian packages: ${missing[*]}"
  # Keep packages that start daemons on install (etcd, redis) from starting them.
  policy_rc=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy_rc" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy_rc" >/dev/null
    $SUDO chmod +x "$policy_rc"
    created_policy=1
  fi
  trap '[ $created_policy -eq 1 ] && $SUDO rm -f "$policy_rc"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm: nodesource's nodejs ships its own npm; Debian's npm package conflicts with it.
if ! command -v npm >/dev/null 2>&1; then
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm
fi

# Stop and disable services that the packages may have started; tests run their own.
for svc in etcd redis-server; do
  if command -v systemctl >/dev/null 2>&1 && systemctl list-unit-files "$svc.service" >/dev/null 2>&1; then
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
  if command -v service >/dev/null 2>&1; then
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
  fi
done

# s3rver (S3-compatible test server), pinned, installed into a tool prefix outside the repo.
S3RVER_PREFIX="${MC_TOOLS_PREFIX:-/opt/mooncake-tools}"
if [ ! -x "$S3RVER_PREFIX/node_modules/.bin/s3rver" ] || \
   ! grep -q "\"version\": \"$S3RVER_VERSION\"" "$S3RVER_PREFIX/node_modules/s3rver/package.json" 2>/dev/null; then
  echo "install-deps: installing s3rver@$S3RVER_VERSION into $S3RVER_PREFIX"
  $SUDO mkdir -p "$S3RVER_PREFIX"
  $SUDO npm install --prefix "$S3RVER_PREFIX" --no-audit --no-fund --loglevel=error "s3rver@$S3RVER_VERSION"
fi

echo "install-deps: all dependencies present"
