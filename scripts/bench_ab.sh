#!/usr/bin/env bash
# Two makegood binaries against each other on one Redis and one data set:
# rounds of A then B, each a fresh server process running one closed-loop
# phase, so that both meet the same machine noise. What each cut of the
# performance work bought was measured this way (docs/PERFORMANCE.md,
# "Issue 14"). Pins makegood and Redis to CPU 0, the load generator to CPU 1.
#
# Usage: scripts/bench_ab.sh BINARY_A BINARY_B [ROUNDS [SECONDS]]
# Environment: AB_MODE [fresh], replay or order (RecordDelivery of new orders
# of members who each rated once: the cost of a reorder), AB_MEMBERS [4000]
# (x 25 orders),
# AB_LIMITS [limits far above the load], AB_SERVER_FLAGS [none],
# MAKEGOOD_BUILD_DIR [build] (for makegood_loadgen).
# Prints one line per phase: QPS, server and Redis CPU µs per call, Redis
# commands per call (INFO commandstats, scripts' own commands included), p99.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 2 ]] || { sed -n 2,13p "$0" >&2; exit 2; }
A="$1" B="$2" ROUNDS="${3:-5}" SECS="${4:-6}"
MODE="${AB_MODE:-fresh}"
LOADGEN="${MAKEGOOD_BUILD_DIR:-build}/services/tools/makegood_loadgen"
LIMITS="${AB_LIMITS:-SubmitRating.member=1000000/s:burst=1000000,SubmitRating.client=1000000/s:burst=1000000}"
read -r -a EXTRA <<<"${AB_SERVER_FLAGS:-}"
for binary in "$A" "$B" "$LOADGEN"; do
  [[ -x "$binary" ]] || { echo "bench_ab: $binary is missing" >&2; exit 1; }
done
WORK="$(mktemp -d)"
redis_pid="" server_pid=""
cleanup() {
  [[ -z "$server_pid" ]] || kill "$server_pid" 2>/dev/null || true
  [[ -z "$redis_pid" ]] || kill "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=""
for _ in $(seq 100); do
  port=$((30000 + RANDOM % 20000))
  listening "$port" || listening $((port + 1)) || break
done
REDIS_PORT="$port" GRPC_PORT=$((port + 1))
taskset -c 0 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK" \
  --save "" --appendonly no --notify-keyspace-events Kt --daemonize no \
  --logfile "$WORK/redis.log" &
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
start() {
  taskset -c 0 "$1" --listen="127.0.0.1:${GRPC_PORT}" \
    --redis="redis://127.0.0.1:${REDIS_PORT}/0" \
    --policy=config/policy/default.textproto --insecure_dev \
    --rate_limits="$LIMITS" "${EXTRA[@]}" 2>>"$WORK/server.log" &
  server_pid=$!
  for _ in $(seq 100); do listening "$GRPC_PORT" && return 0; sleep 0.05; done
  echo "bench_ab: $1 did not start; see $WORK/server.log" >&2
  exit 1
}
stop() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
commands() {
  redis-cli -p "$REDIS_PORT" INFO commandstats | tr -d '\r' |
    awk -F'[:=,]' '/^cmdstat_/ && $1 != "cmdstat_info" { n += $3 } END { print n }'
}
LG=(taskset -c 1 "$LOADGEN" --target="127.0.0.1:${GRPC_PORT}"
  --metadata=x-client-id=makegood-bench --seed=1 --members="${AB_MEMBERS:-4000}"
  --orders_per_member=25 --replay_keys=2000)
start "$A"
"${LG[@]}" --mode=nowork --setup --duration=0s >/dev/null 2>"$WORK/setup.log"
PRIME=()
if [[ "$MODE" == replay ]]; then
  "${LG[@]}" --mode=replay --duration=0s >/dev/null 2>>"$WORK/setup.log"
  PRIME=(--replay_prime=false)
elif [[ "$MODE" == order ]]; then
  # Every member rates a few orders first (most are troubles), so each new
  # order updates open retention windows.
  "${LG[@]}" --mode=fresh --concurrency=64 --duration=4s --warmup=0s \
    >/dev/null 2>>"$WORK/setup.log"
fi
stop
echo "mode ${MODE}, ${ROUNDS} rounds of ${SECS}s; A=${A}; B=${B}"
for round in $(seq "$ROUNDS"); do
  for name in A B; do
    binary="$A"
    [[ "$name" == A ]] || binary="$B"
    start "$binary"
    "${LG[@]}" --mode="$MODE" "${PRIME[@]}" --concurrency=64 \
      --duration="${SECS}s" --warmup=1s >"$WORK/run.json" 2>"$WORK/run.log" &
    loadgen=$!
    sleep 1.2  # The warmup; measured from here for SECS - 1 seconds.
    s0="$(ticks "$server_pid")" r0="$(ticks "$redis_pid")" c0="$(commands)"
    sleep $((SECS - 1))
    s1="$(ticks "$server_pid")" r1="$(ticks "$redis_pid")" c1="$(commands)"
    wait "$loadgen" || true
    node -e '
      const [file, name, round, server, redis, cmds, secs, tck] = process.argv.slice(1);
      const r = JSON.parse(require("fs").readFileSync(file, "utf8"));
      const calls = r.ok_qps * (secs - 1), us = 1e6 / tck;
      console.log(`${name} round ${round}: qps ${r.ok_qps.toFixed(0)}, server_us ${(server * us / calls).toFixed(1)}, ` +
        `redis_us ${(redis * us / calls).toFixed(1)}, commands ${(cmds / calls).toFixed(1)}, p99_us ${r.latency_us.p99}`);' \
      "$WORK/run.json" "$name" "$round" $((s1 - s0)) $((r1 - r0)) $((c1 - c0)) "$SECS" "$(getconf CLK_TCK)"
    stop
  done
done
