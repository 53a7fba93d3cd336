#!/usr/bin/env bash
# The unit and integration tests under AddressSanitizer + UndefinedBehaviorSanitizer
# (clang). Builds everything in its own directory (default build-asan) with
#   -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# plus libFuzzer's coverage instrumentation (-fsanitize=fuzzer-no-link), so the
# same directory also holds the fuzz targets of scripts/fuzz.sh: CI builds once.
#
# Environment: MAKEGOOD_ASAN_BUILD_DIR (default build-asan);
# MAKEGOOD_SANITIZE_BUILD_ONLY=1 builds (MAKEGOOD_BUILD_TARGETS, default all)
# and runs nothing (scripts/fuzz.sh uses it). Extra arguments go to ctest
# (default: -L 'unit|integration').
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${MAKEGOOD_ASAN_BUILD_DIR:-build-asan}"

# clang 14 and its runtimes (ASan, UBSan, libFuzzer live in libclang-rt-14-dev).
# scripts/setup.sh installs the rest (libraries, redis-server, buf).
EXTRA_PACKAGES=(clang llvm libclang-rt-14-dev)
missing=()
for package in "${EXTRA_PACKAGES[@]}"; do
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

# Debian's gRPC, protobuf, abseil, hiredis are not instrumented; ASan still
# checks every access our code makes. No suppression and no relaxed check is
# needed (ODR, alloc-dealloc-mismatch and container-overflow checks stay on,
# as by default). The options only make failures loud:
#   detect_leaks=1               LeakSanitizer on (the default, stated);
#   UBSan print_stacktrace=1     a stack with every UBSan report;
#   UBSan halt_on_error=1        any report fails the test (the code is also
#                                built with -fno-sanitize-recover=undefined).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

MAKEGOOD_BUILD_DIR="$BUILD_DIR" \
  MAKEGOOD_CMAKE_ARGS="-DCMAKE_CXX_COMPILER=clang++ -DMAKEGOOD_SANITIZE=ON -DMAKEGOOD_FUZZ=ON ${MAKEGOOD_CMAKE_ARGS:-}" \
  scripts/setup.sh

if [[ "${MAKEGOOD_SANITIZE_BUILD_ONLY:-0}" == 1 ]]; then exit 0; fi

echo "==> unit and integration tests under ASan + UBSan"
if (($# == 0)); then set -- -L 'unit|integration'; fi
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 900 -j 2 "$@"
