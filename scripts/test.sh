#!/usr/bin/env bash
# The whole test suite, from a bare Debian 12 machine: installs what is
# missing, builds with warnings as errors, checks the protos (buf lint) and
# the formatting, then runs every test (unit, integration against a real
# redis-server, end to end against the built binary) with CTest.
#
# Extra arguments go to ctest, e.g.: scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${MAKEGOOD_BUILD_DIR:-build}"
MAKEGOOD_CMAKE_ARGS="-DMAKEGOOD_WERROR=ON ${MAKEGOOD_CMAKE_ARGS:-}" \
  MAKEGOOD_BUILD_DIR="$BUILD_DIR" scripts/setup.sh

echo "==> buf lint"
node_modules/.bin/buf lint

echo "==> format check"
scripts/check-format.sh
deploy/check.sh  # Kubernetes manifests and Dockerfile (deploy/k8s/README.md)

echo "==> tests"
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 -j 2 "$@"
