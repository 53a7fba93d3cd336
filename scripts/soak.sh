#!/usr/bin/env bash
# The soak (tests/soak/README.md): a bounded, seeded, randomized run of storms
# of traffic through the public gRPC API while makegood processes and Redis
# are killed, paused and cut off, each storm followed by a quiesce and a check
# of every money invariant against what the clients were told.
#
# Environment: SOAK_SECONDS (default 120), SOAK_SEED (default random; printed
# first, a failing seed replays the same schedule), SOAK_BIN_DIR (default
# build/services), SOAK_KEEP=1 keeps the run's directory, and the fault rates
# SOAK_MAKEGOOD_KILLS, SOAK_REDIS_KILLS, SOAK_PAUSES, SOAK_PROXY_FAULTS (per
# storm). SOAK_REDIS=cluster (or --redis=cluster) runs it on a local Redis
# Cluster of 3 primaries and 3 replicas, with primary kills, node pauses,
# client drops and stalls, and slot moves (SOAK_SLOT_MOVES per storm) as
# its Redis faults. Extra arguments go to tests/soak/soak.py (--help lists
# them).
#
# The last line is: soak: seed S, N storms, K makegood kills, R redis kills,
# V violations. Exit status 0 only without violations and harness errors.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's python3-grpcio, python3-protobuf and python3-redis (scripts/setup.sh
# installs them), whatever python3 comes first in PATH.
PYTHON="${SOAK_PYTHON:-/usr/bin/python3}"
if ! "$PYTHON" -c 'import grpc, google.protobuf, redis, redis.cluster' 2>/dev/null; then
  echo "soak: $PYTHON lacks grpc, protobuf or redis (with redis.cluster); run scripts/setup.sh" >&2
  exit 2
fi
exec "$PYTHON" tests/soak/soak.py "$@"
