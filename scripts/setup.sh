#!/usr/bin/env bash
# Installs everything makegood needs on Debian 12 (system packages through
# apt, build tooling through npm) and builds it. Safe to run again: it only
# installs what is missing and rebuilds what changed.
#
# Environment: MAKEGOOD_BUILD_DIR (default build), MAKEGOOD_CMAKE_ARGS (extra
# arguments for the CMake configure step), MAKEGOOD_BUILD_TARGETS (default:
# everything, tests included).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${MAKEGOOD_BUILD_DIR:-build}"
PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libhiredis-dev libevent-dev libssl-dev nlohmann-json3-dev
  libjemalloc-dev libcurl4-openssl-dev libcpp-jwt-dev prometheus-cpp-dev libicu-dev
  python3 openssl python3-grpcio python3-protobuf python3-redis
  libgtest-dev libgmock-dev libbenchmark-dev
  redis-server redis-tools clang-format
)
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  echo "==> installing Debian packages: ${missing[*]}"
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian package starts a system-wide redis-server; makegood's scripts and
# tests start their own, so leave the system one alone.

if [[ ! -x node_modules/.bin/buf || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "==> installing npm tooling (buf)"
  # `npm install` with the committed lock (not `npm ci`): the lock holds only
  # the platform binaries this registry serves, which `npm ci` refuses as
  # out of sync; `npm install` installs exactly the locked versions.
  npm install --no-audit --no-fund --loglevel=error
fi

echo "==> building in ${BUILD_DIR}"
# shellcheck disable=SC2086  # MAKEGOOD_CMAKE_ARGS is a list of arguments.
cmake -S . -B "$BUILD_DIR" -G Ninja ${MAKEGOOD_CMAKE_ARGS:-} >/dev/null
targets=()
for target in ${MAKEGOOD_BUILD_TARGETS:-}; do targets+=(--target "$target"); done
cmake --build "$BUILD_DIR" -j "$(nproc)" "${targets[@]}"
