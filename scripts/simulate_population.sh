#!/usr/bin/env bash
# Runs the simulated population (config/population/default.textproto) through
# makegood's public gRPC API and prints its decision-quality report per
# currency: a table, then one JSON line (docs/POPULATION.md explains both).
#
# Without --target it starts its own redis-server (a free loopback port, data
# in a temporary directory, thrown away) and makegood (loopback port chosen
# by the server, --insecure_dev, the policy of --policy), runs the population
# against them and stops both. With --target it only runs the population
# against that server (plaintext; give a fresh --prefix to rerun against a
# server that holds an earlier run).
#
# With --retention, members also order again after their troubles (the
# population file's retention model) and the server's retention cohorts
# (InsightsService.GetRetentionStats) are compared with what they did; the
# fresh server then runs the insights aggregator (whose sweeper closes the
# windows), a settlement worker (refunds succeed, so paid and net value are
# real), --retention_day=DAY and a sweep interval of a quarter day. It takes
# 90 retention days after the last member's troubles (18 s at 200ms).
#
# With --experiment=FILE (config/population/experiment_*.textproto), the
# tool starts that policy experiment before the members come and reports
# its arms and verdict at the end; the fresh server then runs the insights
# aggregator, whose guardrail check runs every 200ms.
#
# Usage: scripts/simulate_population.sh [--seeds=1,2,3] [--target=HOST:PORT]
#          [--policy=FILE] [--config=FILE] [--retention] [--retention_day=D]
#          [--experiment=FILE] [makegood_population flags...]
#   --seeds=LIST   seeds, comma separated (default 1,2,3)
#   --target=H:P   an already running makegood instead of a fresh one
#   --policy=FILE  the policy of the fresh server (default
#                  config/policy/default.textproto)
#   --config=FILE  the population (default config/population/default.textproto)
#   --retention    reorders after troubles, compared with the server's counts
#   --retention_day=D  a retention day, e.g. 200ms (the default); implies
#                  --retention
#   --experiment=FILE  a policy experiment beside the population (an
#                  ExperimentPlan, e.g. config/population/experiment_leaky.textproto)
# Other flags go to makegood_population (see: makegood_population --help),
# e.g. --currencies=KRW,EUR, --format=json, --concurrency=16.
#
# Environment: MAKEGOOD_BUILD_DIR (default build). Exit status: the tool's
# (0, or 1 when calls failed or the retention counts differ, 2 on bad
# input).
set -euo pipefail
cd "$(dirname "$0")/.."

seeds=1,2,3
target=""
policy=config/policy/default.textproto
config=config/population/default.textproto
tool_args=()
retention=""
retention_day=200ms
experiment=""
for arg in "$@"; do
  case "$arg" in
    --seeds=*) seeds="${arg#--seeds=}" ;;
    --retention) retention=1 ;;
    --retention_day=*) retention=1; retention_day="${arg#--retention_day=}" ;;
    --experiment=*) experiment="${arg#--experiment=}"; tool_args+=("$arg") ;;
    --target=*) target="${arg#--target=}" ;;
    --policy=*) policy="${arg#--policy=}" ;;
    --config=*) config="${arg#--config=}" ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) tool_args+=("$arg") ;;
  esac
done

if [[ -n "$retention" ]]; then
  if [[ "$retention_day" =~ ^([0-9]+)(ms|s)$ ]]; then
    retention_ms="${BASH_REMATCH[1]}"
    [[ "${BASH_REMATCH[2]}" == ms ]] || retention_ms=$((retention_ms * 1000))
  else
    echo "--retention_day: want milliseconds or seconds, e.g. 200ms" >&2
    exit 2
  fi
fi

BUILD_DIR="${MAKEGOOD_BUILD_DIR:-build}"
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja >/dev/null
fi
targets=(makegood_population)
[[ -n "$target" ]] || targets+=(makegood)
nice ninja -C "$BUILD_DIR" "${targets[@]}" >&2
TOOL="$BUILD_DIR/services/population/makegood_population"

pids=()
tmp=""
cleanup() {
  trap '' INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -z "$tmp" ]] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "$target" ]]; then
  tmp="$(mktemp -d -t makegood-population.XXXXXX)"
  redis_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  echo "==> redis-server on 127.0.0.1:${redis_port} (data in ${tmp}, thrown away)" >&2
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$tmp" \
    --appendonly no --save "" --notify-keyspace-events Kt \
    --daemonize no --logfile "$tmp/redis.log" &
  pids+=($!)
  for _ in $(seq 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$redis_port" ping >/dev/null ||
    { echo "redis-server did not start; see $tmp/redis.log" >&2; exit 1; }

  # Decisions only: no settlement worker, no insights (they would compete for
  # the same cores), unless retention is tracked. Port 0: the server picks
  # one and logs it.
  server_args=()
  if [[ -n "$retention" ]]; then
    sweep="$((retention_ms / 4 > 10 ? retention_ms / 4 : 10))ms"
    server_args+=(--insights_aggregator --settlement_worker
      --retention_day="$retention_day" --retention_sweep_interval="$sweep")
  fi
  if [[ -n "$experiment" ]]; then
    [[ -n "$retention" ]] || server_args+=(--insights_aggregator)
    server_args+=(--experiment_guard_interval=200ms)
  fi
  echo "==> makegood (policy ${policy}${retention:+, retention day ${retention_day}})" >&2
  "$BUILD_DIR/services/server/makegood" --listen=127.0.0.1:0 \
    --redis="redis://127.0.0.1:${redis_port}/0" --policy="$policy" \
    --insecure_dev ${server_args[@]+"${server_args[@]}"} \
    >"$tmp/makegood.log" 2>&1 &
  pids+=($!)
  port=""
  for _ in $(seq 200); do
    port="$(grep -o '"event":"serving"[^}]*"port":[0-9]*' "$tmp/makegood.log" 2>/dev/null |
      grep -o '[0-9]*$' | head -1 || true)"
    [[ -n "$port" ]] && break
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z "$port" ]]; then
    echo "makegood did not start serving; its log:" >&2
    cat "$tmp/makegood.log" >&2
    exit 1
  fi
  target="127.0.0.1:${port}"
fi

[[ -z "$retention" ]] ||
  tool_args+=(--retention --retention_day="$retention_day")
echo "==> population (${config}, seeds ${seeds}) against ${target}" >&2
status=0
"$TOOL" --target="$target" --config="$config" --seeds="$seeds" \
  ${tool_args[@]+"${tool_args[@]}"} || status=$?
exit "$status"
