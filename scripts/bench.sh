#!/usr/bin/env bash
# The benchmark of docs/PERFORMANCE.md, in one command. Builds makegood and
# makegood_loadgen (scripts/setup.sh), starts its own redis-server (no
# persistence) and makegood on free loopback ports, pins both to one core and
# the load generator to the other, and measures in one run:
#   1. maximum QPS (closed loop) of nowork (Health/Check, the gRPC ceiling of
#      the same binary), fresh ratings and replayed ratings;
#   2. fresh ratings at a fixed rate of half the maximum fresh QPS (open loop:
#      the p99 that matters);
#   3. settlement latency: a fresh makegood with --settlement_worker (card
#      refunds through the sandbox provider, --sandbox=latency=0ms) on the
#      same Redis, emptied first; ratings that move money at fixed rates, each
#      followed by WatchRefund: the time from SubmitRating's reply to the
#      SUCCEEDED message, for wallet and card refunds;
# with Redis commands and server CPU per call from INFO commandstats and
# /proc/<pid>/stat. Prints Markdown tables with the targets beside the
# figures; raw results stay in .run/bench/. Everything it starts is stopped on
# exit. Every makegood is started with --insecure_dev (plaintext on loopback).
#
# Environment (defaults in brackets): MAKEGOOD_BUILD_DIR [build],
# BENCH_DURATION [10s] and BENCH_WARMUP [2s] per phase, BENCH_CONCURRENCY
# [64] calls in flight for the maximum-QPS phases, BENCH_MEMBERS [2000],
# BENCH_ORDERS_PER_MEMBER [25], BENCH_REPLAY_KEYS [2000], BENCH_SEED [1],
# BENCH_SERVER_CPU [0] and BENCH_LOADGEN_CPU [1], BENCH_SKIP_BUILD [0] (1: use
# the binaries already built), BENCH_SERVER [the built makegood] (another
# server binary, e.g. an older build to compare with), BENCH_SECTIONS
# [rating,settlement] (which of 1-2 and 3 to run). Settlement:
# BENCH_SETTLE_RATES ["200 500 1000 half"] ratings/s, "half" = half the maximum
# fresh QPS of section 1 (1000 when section 1 is not run),
# BENCH_SETTLE_INSTRUMENTS ["wallet card"], BENCH_SETTLE_DURATION [10s] and
# BENCH_SETTLE_WARMUP [2s] per run, BENCH_SETTLE_TIMEOUT [15s] (a refund not
# SUCCEEDED by then is an error), BENCH_SANDBOX [latency=0ms],
# BENCH_SETTLE_SERVER_FLAGS [none] (more makegood flags, e.g.
# --settlement_concurrency=128).
#
# Redis: BENCH_REDIS [single] or cluster: a local Redis Cluster of
# BENCH_CLUSTER_PRIMARIES [3] primaries and no replicas
# (scripts/local_cluster.sh, no persistence, pinned with the server), makegood
# on its redis-cluster:// URL. Redis CPU is then the sum over the primaries of
# INFO cpu (used_cpu_sys + used_cpu_user), commands the sum of their INFO
# commandstats, and a table gives each primary's share of the commands and of
# the CPU (the balance). Either way a memory section measures bytes per stored
# order, rating and refund: MEMORY USAGE of up to BENCH_MEMORY_SAMPLE [300]
# keys of each kind (every per-partition stream and sorted set, in full),
# times the number of keys of that kind, after section 1 and after the last
# settlement run, plus INFO memory used_memory per phase.
#
# Persistence: BENCH_PERSISTENCE [none] or always: Redis with an append-only
# file fsynced on every write (production's setting, deploy/k8s). Keyspace
# notifications: BENCH_NOTIFY [Kt] (Redis's notify-keyspace-events; "" turns
# them off, and the stream readers then block on reads over every stream, as
# on a Redis that has them off).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${MAKEGOOD_BUILD_DIR:-build}"
DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-2s}"
CONCURRENCY="${BENCH_CONCURRENCY:-64}"
MEMBERS="${BENCH_MEMBERS:-2000}"
ORDERS_PER_MEMBER="${BENCH_ORDERS_PER_MEMBER:-25}"
REPLAY_KEYS="${BENCH_REPLAY_KEYS:-2000}"
SEED="${BENCH_SEED:-1}"
SERVER_CPU="${BENCH_SERVER_CPU:-0}"
LOADGEN_CPU="${BENCH_LOADGEN_CPU:-1}"
POLICY=config/policy/default.textproto
SECTIONS="${BENCH_SECTIONS:-rating,settlement}"
SETTLE_RATES="${BENCH_SETTLE_RATES:-200 500 1000 half}"
SETTLE_INSTRUMENTS="${BENCH_SETTLE_INSTRUMENTS:-wallet card}"
SETTLE_DURATION="${BENCH_SETTLE_DURATION:-10s}"
SETTLE_WARMUP="${BENCH_SETTLE_WARMUP:-2s}"
SANDBOX="${BENCH_SANDBOX:-latency=0ms}"
SETTLE_TIMEOUT="${BENCH_SETTLE_TIMEOUT:-15s}"
read -r -a SETTLE_SERVER_FLAGS <<<"${BENCH_SETTLE_SERVER_FLAGS:-}"
REDIS_MODE="${BENCH_REDIS:-single}"
CLUSTER_PRIMARIES="${BENCH_CLUSTER_PRIMARIES:-3}"
MEMORY_SAMPLE="${BENCH_MEMORY_SAMPLE:-300}"
IDLE_SECONDS="${BENCH_IDLE_SECONDS:-10}"
PERSISTENCE="${BENCH_PERSISTENCE:-none}"
NOTIFY="${BENCH_NOTIFY-Kt}"
case "$PERSISTENCE" in
  none) REDIS_PERSIST=(--save "" --appendonly no) ;;
  always) REDIS_PERSIST=(--save "" --appendonly yes --appendfsync always) ;;
  *) echo "bench: BENCH_PERSISTENCE must be none or always" >&2; exit 2 ;;
esac
REDIS_PERSIST+=(--notify-keyspace-events "$NOTIFY")
[[ "$REDIS_MODE" == single || "$REDIS_MODE" == cluster ]] ||
  { echo "bench: BENCH_REDIS must be single or cluster" >&2; exit 2; }
section() { [[ ",${SECTIONS}," == *",$1,"* ]]; }
# Limits far above anything one core can offer, so they never reject.
RATE_LIMITS="SubmitRating.member=1000000/s:burst=1000000,SubmitRating.client=1000000/s:burst=1000000"

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  MAKEGOOD_BUILD_TARGETS="makegood makegood_loadgen" scripts/setup.sh
fi
SERVER="${BENCH_SERVER:-$BUILD_DIR/services/server/makegood}"
LOADGEN="$BUILD_DIR/services/tools/makegood_loadgen"
for binary in "$SERVER" "$LOADGEN"; do
  [[ -x "$binary" ]] || { echo "bench: $binary is missing" >&2; exit 1; }
done

OUT="$PWD/.run/bench"
rm -rf "$OUT"
mkdir -p "$OUT"
WORK="$(mktemp -d)"
pids=()
loadgen_pid=""
CLUSTER_DIR=""
cleanup() {
  trap '' INT TERM  # a second signal must not cut the cleanup short
  [[ -z "$loadgen_pid" ]] || kill -TERM "$loadgen_pid" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -z "$CLUSTER_DIR" ]] || scripts/local_cluster.sh stop "$CLUSTER_DIR"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Pinning: server + Redis on one core, the load generator on another.
if (($(nproc) >= 2)); then
  SERVER_PIN=(taskset -c "$SERVER_CPU")
  LOADGEN_PIN=(taskset -c "$LOADGEN_CPU")
  PINNING="server + redis on CPU ${SERVER_CPU}, loadgen on CPU ${LOADGEN_CPU}"
else
  SERVER_PIN=()
  LOADGEN_PIN=()
  PINNING="not pinned (only one CPU)"
  echo "bench: only one CPU: running unpinned, figures will be pessimistic" >&2
fi

# A port nothing listens on (connect refused). Another process may still
# take it before we bind; the start-up checks below would then fail loudly.
free_port() {
  local port
  for _ in $(seq 200); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "bench: no free port found" >&2
  return 1
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# REDIS_NODES: the primaries ("127.0.0.1:PORT"), where commands, CPU and
# memory are counted; REDIS_URL: what makegood is given.
if [[ "$REDIS_MODE" == single ]]; then
REDIS_PORT="$(free_port)"
echo "==> starting redis-server on 127.0.0.1:${REDIS_PORT} (persistence: ${PERSISTENCE}, notify-keyspace-events '${NOTIFY}')"
"${SERVER_PIN[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
  --dir "$WORK" "${REDIS_PERSIST[@]}" --maxmemory-policy noeviction \
  --daemonize no --logfile "$OUT/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 100); do
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$REDIS_PORT" ping >/dev/null ||
  { echo "bench: redis-server did not start; see $OUT/redis.log" >&2; exit 1; }
REDIS_URL="redis://127.0.0.1:${REDIS_PORT}/0"
REDIS_NODES=("127.0.0.1:${REDIS_PORT}")
else
  # CLUSTER_PRIMARIES consecutive free ports whose bus ports (+10000) are
  # free too.
  for _ in $(seq 50); do
    base=$((20000 + RANDOM % 30000))
    taken=0
    for ((i = 0; i < CLUSTER_PRIMARIES; i++)); do
      if listening $((base + i)) || listening $((base + i + 10000)); then taken=1; fi
    done
    ((taken)) || break
  done
  CLUSTER_DIR="$WORK/cluster"
  echo "==> starting a Redis Cluster of ${CLUSTER_PRIMARIES} primaries, no replicas, on 127.0.0.1:${base}-$((base + CLUSTER_PRIMARIES - 1)) (persistence: ${PERSISTENCE})"
  REDIS_URL="$(scripts/local_cluster.sh start "$CLUSTER_DIR" "$base" "$CLUSTER_PRIMARIES" 0 \
    "${REDIS_PERSIST[@]}" --maxmemory-policy noeviction)"
  if ((${#SERVER_PIN[@]})); then
    for pid in $(scripts/local_cluster.sh pids "$CLUSTER_DIR"); do
      taskset -a -cp "$SERVER_CPU" "$pid" >/dev/null
    done
  fi
  mapfile -t REDIS_NODES < <(scripts/local_cluster.sh primaries "$CLUSTER_DIR")
  PINNING="${PINNING/server + redis/server + ${CLUSTER_PRIMARIES} redis primaries}"
fi
PINNING="${PINNING}; Redis persistence: ${PERSISTENCE}; notify-keyspace-events '${NOTIFY}'"
# rcli NODE ARGS...: redis-cli against one node ("127.0.0.1:PORT").
rcli() { local node="$1"; shift; redis-cli -h "${node%:*}" -p "${node##*:}" "$@"; }

GRPC_PORT="$(free_port)"
server_pid=""
# start_server LOG FLAG...: starts makegood in the background (stderr to
# $OUT/LOG), sets server_pid; fails if it exits before it listens.
start_server() {
  local log="$1"
  shift
  "${SERVER_PIN[@]}" "$SERVER" --listen="127.0.0.1:${GRPC_PORT}" \
    --redis="$REDIS_URL" --policy="$POLICY" "$@" \
    2>"$OUT/$log" &
  server_pid=$!
  for _ in $(seq 200); do
    listening "$GRPC_PORT" && return 0
    kill -0 "$server_pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
# start_makegood LOG FLAG...: start_server, but a flag in OPTIONAL_FLAGS that
# this makegood does not know (an older build, "Unknown command line flag")
# is left out and the server started again; DROPPED_FLAGS lists them.
OPTIONAL_FLAGS=" insecure_dev rate_limits "
start_makegood() {
  local log="$1" flag name
  shift
  local flags=("$@")
  DROPPED_FLAGS=()
  while ! start_server "$log" "${flags[@]}"; do
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    name="$(sed -n "s/.*Unknown command line flag '\([a-z_]*\)'.*/\1/p" \
      "$OUT/$log" | head -n 1)"
    if [[ -z "$name" || "$OPTIONAL_FLAGS" != *" $name "* ]]; then
      cat "$OUT/$log" >&2
      return 1
    fi
    echo "bench: this makegood has no --${name} flag (omitted)"
    DROPPED_FLAGS+=("$name")
    local kept=()
    for flag in "${flags[@]}"; do
      [[ "$flag" == "--${name}" || "$flag" == "--${name}="* ]] || kept+=("$flag")
    done
    flags=("${kept[@]}")
  done
  pids+=("$server_pid")
}
# stop_server: SIGTERM to the current makegood, waits for it to drain.
stop_server() {
  [[ -n "$server_pid" ]] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # utime + stime
# Calls per Redis command since start-up, summed over REDIS_NODES; "info"
# (our own probe) left out.
cmdstats() {
  local node
  for node in "${REDIS_NODES[@]}"; do
    rcli "$node" INFO commandstats | tr -d '\r'
  done | awk -F'[:=,]' '/^cmdstat_/ { sub(/^cmdstat_/, "", $1); if ($1 != "info") n[$1] += $3 }
    END { for (c in n) print c, n[c] }' | sort
}
# A node's commands since start-up ("info" left out), its CPU (INFO cpu
# used_cpu_sys + used_cpu_user, µs) and used_memory (bytes).
node_counters() {
  rcli "$1" INFO all | tr -d '\r' | awk -F'[:=,]' '
    /^cmdstat_/ && $1 != "cmdstat_info" { cmds += $3 }
    /^used_cpu_sys:|^used_cpu_user:/ { cpu += $2 }
    /^used_memory:/ { mem = $2 }
    END { printf "%d %d %d\n", cmds, cpu * 1e6, mem }'
}
# counters_all: "NODE cmds cpu_us used_memory" per primary.
counters_all() {
  local node
  for node in "${REDIS_NODES[@]}"; do echo "$node $(node_counters "$node")"; done
}

# run_loadgen NAME FLAG...: one load generator run, pinned; its JSON line goes
# to $OUT/NAME.json, its progress to $OUT/NAME.log. A run with too many errors
# is reported, not fatal (the table shows it).
run_loadgen() {
  local name="$1"
  shift
  local status=0
  # In the background and waited for, so that a signal stops it at once.
  "${LOADGEN_PIN[@]}" "$LOADGEN" --target="127.0.0.1:${GRPC_PORT}" \
    --metadata=x-client-id=makegood-bench --seed="$SEED" --members="$MEMBERS" \
    --orders_per_member="$ORDERS_PER_MEMBER" --replay_keys="$REPLAY_KEYS" \
    "$@" >"$OUT/${name}.json" 2>"$OUT/${name}.log" &
  loadgen_pid=$!
  wait "$loadgen_pid" || status=$?
  loadgen_pid=""
  if ((status == 2)); then
    echo "bench: loadgen ${name} failed:" >&2
    cat "$OUT/${name}.log" >&2
    exit 1
  fi
  ((status == 0)) || echo "    (${name}: more errors than --max_error_ratio; see $OUT/${name}.log)"
}

# measure NAME FLAG...: run_loadgen plus the server's CPU and the Redis
# commands it caused, into $OUT/NAME.cost.
measure() {
  local name="$1"
  cmdstats >"$OUT/${name}.redis.before"
  counters_all >"$OUT/${name}.nodes.before"
  local server_before redis_before=0
  server_before="$(cpu_ticks "$server_pid")"
  [[ "$REDIS_MODE" != single ]] || redis_before="$(cpu_ticks "$redis_pid")"
  run_loadgen "$@"
  local server_after redis_after=0
  server_after="$(cpu_ticks "$server_pid")"
  [[ "$REDIS_MODE" != single ]] || redis_after="$(cpu_ticks "$redis_pid")"
  cmdstats >"$OUT/${name}.redis.after"
  counters_all >"$OUT/${name}.nodes.after"
  {
    echo "server_ticks $((server_after - server_before))"
    # One redis-server: its process's CPU (/proc). A cluster: the sum of
    # the primaries' INFO cpu, in µs.
    if [[ "$REDIS_MODE" == single ]]; then
      echo "redis_ticks $((redis_after - redis_before))"
    else
      awk 'NR == FNR { u[$1] = $3; next } { us += $3 - u[$1] } END { printf "redis_us %d\n", us }' \
        "$OUT/${name}.nodes.before" "$OUT/${name}.nodes.after"
    fi
    awk 'NR == FNR { before[$1] = $2; next }
         { d = $2 - before[$1]; if (d > 0) print "cmd", $1, d }' \
      "$OUT/${name}.redis.before" "$OUT/${name}.redis.after"
    # Per primary: commands, CPU µs, used_memory change.
    awk 'NR == FNR { c[$1] = $2; u[$1] = $3; m[$1] = $4; next }
         { print "node", $1, $2 - c[$1], $3 - u[$1], $4 - m[$1] }' \
      "$OUT/${name}.nodes.before" "$OUT/${name}.nodes.after"
  } >"$OUT/${name}.cost"
}

# memory_snapshot NAME: what the stored data costs, by kind of key, summed
# over REDIS_NODES, into $OUT/NAME.memory as lines
#   kind KIND KEYS SAMPLED SAMPLED_BYTES ENTRIES
# (ENTRIES: stream/sorted set/hash lengths of the sampled keys, for the
# per-partition streams and sorted sets). Kinds: the key without its
# partition tag and ids (key_schema.h), e.g. "order", "refund:events",
# "ledger". Per-entity kinds are sampled (MEMORY_SAMPLE keys per node); the
# per-partition ones (fewer than 200 keys) are measured in full.
memory_snapshot() {
  local name="$1" node
  for node in "${REDIS_NODES[@]}"; do
    rcli "$node" --scan | awk '{
        key = $0; kind = key
        sub(/^mg:\{[^}]*\}:/, "", kind)
        if (kind == key) kind = (key == "mg:meta" ? "meta" : "other")
        else if (kind ~ /^refund:.*:events$/) kind = "refund:events"
        else if (kind ~ /^(refunds:m|refunds:o|rl:m|rl:c):/) { split(kind, p, ":"); kind = p[1] ":" p[2] }
        else if (kind ~ /^ins:/) kind = "insights"
        else if (kind ~ /^[a-z]+:/ && kind !~ /^(ledger|outbox|fu|psp|ratings):/) sub(/:.*/, "", kind)
        print kind, key
      }' >"$WORK/keys"
    awk '{ n[$1]++ } END { for (k in n) print k, n[k] }' "$WORK/keys" >"$WORK/counts"
    # The keys to measure: every one of a kind with < 200 keys, else the
    # first MEMORY_SAMPLE (SCAN order: spread over the slots).
    awk -v sample="$MEMORY_SAMPLE" 'NR == FNR { n[$1] = $2; next }
      n[$1] < 200 || seen[$1]++ < sample { print $1, $2 }' "$WORK/counts" "$WORK/keys" >"$WORK/sample"
    # Two answers per key, pipelined through one redis-cli: MEMORY USAGE
    # (every element: SAMPLES 0; empty if the key expired meanwhile) and
    # TYPE; then its length (entries of a stream, sorted set or hash).
    awk '{ print "MEMORY USAGE " $2 " SAMPLES 0"; print "TYPE " $2 }' "$WORK/sample" |
      rcli "$node" >"$WORK/usage"
    awk -v U="$WORK/usage" '{ getline bytes < U; getline type < U
        if (type == "stream") print "XLEN " $2; else if (type == "zset") print "ZCARD " $2
        else if (type == "hash") print "HLEN " $2; else print "ECHO 0" }' "$WORK/sample" |
      rcli "$node" >"$WORK/lengths"
    awk -v U="$WORK/usage" -v L="$WORK/lengths" 'NR == FNR { n[$1] = $2; next }
        { getline bytes < U; getline type < U; getline len < L
          if (type == "none" || bytes == "") next
          s[$1]++; b[$1] += bytes; e[$1] += len }
        END { for (k in n) printf "kind %s %d %d %d %d\n", k, n[k], s[k], b[k], e[k] }' \
      "$WORK/counts" "$WORK/sample"
  done | awk '{ n[$2] += $3; s[$2] += $4; b[$2] += $5; e[$2] += $6 }
    END { for (k in n) printf "kind %s %d %d %d %d\n", k, n[k], s[k], b[k], e[k] }' | sort >"$OUT/${name}.memory"
  local used=0
  for node in "${REDIS_NODES[@]}"; do
    used=$((used + $(rcli "$node" INFO memory | tr -d '\r' | sed -n 's/^used_memory://p')))
  done
  echo "used_memory $used" >>"$OUT/${name}.memory"
}

RATE_LIMITS_NOTE="--rate_limits set to 1000000/s per member and per client"
half_rate=0
if section rating; then
  echo "==> starting makegood on 127.0.0.1:${GRPC_PORT}"
  start_makegood server.log --insecure_dev --rate_limits="$RATE_LIMITS" || exit 1
  [[ " ${DROPPED_FLAGS[*]} " != *" rate_limits "* ]] ||
    RATE_LIMITS_NOTE="this makegood has no --rate_limits flag (omitted)"
  LOAD=(--duration="$DURATION" --warmup="$WARMUP")
  echo "==> setup: ${MEMBERS} members x ${ORDERS_PER_MEMBER} orders"
  memory_snapshot empty
  run_loadgen setup --mode=nowork --setup --duration=0s
  memory_snapshot setup
  echo "==> nowork, maximum QPS (closed loop, ${CONCURRENCY} in flight)"
  measure nowork --mode=nowork --concurrency="$CONCURRENCY" "${LOAD[@]}"
  echo "==> fresh, maximum QPS"
  measure fresh --mode=fresh --concurrency="$CONCURRENCY" "${LOAD[@]}"
  echo "==> replay: submitting ${REPLAY_KEYS} ratings to replay"
  run_loadgen replay_prime --mode=replay --duration=0s
  echo "==> replay, maximum QPS"
  measure replay --mode=replay --replay_prime=false \
    --concurrency="$CONCURRENCY" "${LOAD[@]}"
  half_rate="$(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(Math.floor((r.ok_qps || 0) / 2));' "$OUT/fresh.json")"
  if ((half_rate > 0)); then
    echo "==> fresh at ${half_rate}/s (half the maximum fresh QPS, open loop)"
    measure fresh_half --mode=fresh --rate="$half_rate" "${LOAD[@]}"
  else
    echo "==> fresh at half load: skipped (no successful fresh rating)"
  fi
  echo "==> memory: MEMORY USAGE by kind of key"
  memory_snapshot rating
  stop_server
fi  # section rating

if section settlement; then
  # Each run gets a makegood of its own, with the settlement worker, on an
  # emptied Redis: otherwise the worker would first settle what an earlier
  # run (or section 1's fresh ratings, tens of thousands) left in the outbox.
  : >"$OUT/settle.runs"
  for rate in $SETTLE_RATES; do
    if [[ "$rate" == half ]]; then
      rate=1000
      ((half_rate <= 0)) || rate="$half_rate"
    fi
    for instrument in $SETTLE_INSTRUMENTS; do
      name="settle_${instrument}_${rate}"
      grep -qx "$name" "$OUT/settle.runs" && continue  # rate listed twice
      stop_server
      for node in "${REDIS_NODES[@]}"; do rcli "$node" FLUSHALL >/dev/null; done
      echo "==> settlement, ${instrument}, ${rate} ratings/s: makegood --settlement_worker (card: sandbox ${SANDBOX}), members and orders"
      if ! start_makegood "${name}.server.log" --insecure_dev \
        --rate_limits="$RATE_LIMITS" --settlement_worker \
        --card_provider=sandbox --sandbox="$SANDBOX" \
        "${SETTLE_SERVER_FLAGS[@]}"; then
        echo "bench: makegood did not start with --settlement_worker; settlement skipped" >&2
        break 2
      fi
      if [[ ! -f "$OUT/idle.cost" ]]; then
        # Once: what an idle server (API, feed, insights, settlement worker)
        # costs Redis, over IDLE_SECONDS after a 3 s settle.
        echo "==> idle: makegood --settlement_worker without load for ${IDLE_SECONDS}s"
        sleep 3
        cmdstats >"$OUT/idle.redis.before"
        counters_all >"$OUT/idle.nodes.before"
        sleep "$IDLE_SECONDS"
        counters_all >"$OUT/idle.nodes.after"
        cmdstats >"$OUT/idle.redis.after"
        {
          echo "seconds $IDLE_SECONDS"
          # INFO cpu of every node (µs), as for a cluster in measure.
          awk 'NR == FNR { u[$1] = $3; next } { us += $3 - u[$1] } END { printf "redis_us %d\n", us }' \
            "$OUT/idle.nodes.before" "$OUT/idle.nodes.after"
          awk 'NR == FNR { before[$1] = $2; next }
               { d = $2 - before[$1]; if (d > 0) print "cmd", $1, d }' \
            "$OUT/idle.redis.before" "$OUT/idle.redis.after"
        } >"$OUT/idle.cost"
      fi
      # Fresh members and orders per run (--id_prefix): every rating is an
      # order's first, by a premium member never refunded before.
      SETTLE=(--mode=settle --instrument="$instrument" --rate="$rate"
        --duration="$SETTLE_DURATION" --warmup="$SETTLE_WARMUP"
        --settle_timeout="$SETTLE_TIMEOUT" --id_prefix="$name")
      run_loadgen "${name}_setup" "${SETTLE[@]}" --setup --setup_only
      echo "==> settlement, ${instrument}, ${rate} ratings/s (open loop), WatchRefund each"
      measure "$name" "${SETTLE[@]}"
      # What the worker had not settled when the last watch ended.
      left=0 dead=0
      for node in "${REDIS_NODES[@]}"; do
        for key in $(rcli "$node" --scan --pattern '*:outbox'); do
          left=$((left + $(rcli "$node" XLEN "$key")))
          dead=$((dead + $(rcli "$node" XLEN "${key}:dead")))
        done
      done
      printf 'outbox_left %s\ndead_letters %s\n' "$left" "$dead" >>"$OUT/${name}.cost"
      memory_snapshot "$name"
      echo "$name" >>"$OUT/settle.runs"
    done
  done
  stop_server
fi  # section settlement

echo
if section rating; then
node - "$OUT" "$CLK_TCK" "$PINNING" "$RATE_LIMITS_NOTE" <<'JS'
const fs = require("fs");
const [out, clkTck, pinning, rateLimitsNote] = process.argv.slice(2);
// INFO commandstats also counts the commands a script runs, so only commands
// a client sends itself are counted here: the script calls (makegood sends
// all its Redis work as scripts). These are calls, not sequential round
// trips: a fresh rating waits for 2 round trips (admit, commit) and a replay
// for 1 (admit); the client-limit lease (one call per batch of the client's
// requests) goes out beside an admit in the same pipelined write.
const ROUND_TRIP_COMMANDS = new Set(["eval", "evalsha", "eval_ro", "evalsha_ro",
  "fcall", "fcall_ro", "script|load", "multi", "exec"]);
const read = (name) => {
  const file = `${out}/${name}.json`;
  if (!fs.existsSync(file)) return null;
  const text = fs.readFileSync(file, "utf8").trim();
  return text ? JSON.parse(text) : null;
};
const cost = (name) => {
  const file = `${out}/${name}.cost`;
  if (!fs.existsSync(file)) return null;
  const c = { cmds: {}, total: 0, roundTrips: 0 };
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "server_ticks") c.server = Number(f[1]);
    if (f[0] === "redis_ticks") c.redis = Number(f[1]);
    if (f[0] === "redis_us") c.redisUs = Number(f[1]);
    if (f[0] === "node") (c.nodes = c.nodes || []).push({ node: f[1], cmds: Number(f[2]), us: Number(f[3]), mem: Number(f[4]) });
    if (f[0] === "cmd") {
      c.cmds[f[1]] = Number(f[2]);
      c.total += Number(f[2]);
      if (ROUND_TRIP_COMMANDS.has(f[1])) c.roundTrips += Number(f[2]);
    }
  }
  return c;
};
const fmt = (x, digits = 0) =>
  x === null || x === undefined || Number.isNaN(x) ? "n/a" : x.toFixed(digits);
const codes = (r) =>
  Object.entries(r.codes).filter(([k]) => k !== "OK")
    .map(([k, v]) => `${k} ${v}`).join(", ") + (r.unexpected ? `, unexpected answer ${r.unexpected}` : "");
const phases = [
  ["nowork", "nowork (Health/Check), max"],
  ["fresh", "fresh rating, max"],
  ["replay", "replayed rating, max"],
  ["fresh_half", "fresh rating at ½ max fresh"],
];
const usPerTick = 1e6 / Number(clkTck);
// Redis CPU: one redis-server's /proc ticks, or a cluster's INFO cpu sum.
const redisUs = (c) => (c.redisUs !== undefined ? c.redisUs : c.redis * usPerTick);
const rows = [];
const results = {};
for (const [name, label] of phases) {
  const r = read(name);
  const c = cost(name);
  results[name] = r;
  if (!r) { rows.push(`| ${label} | not run | | | | | | | | |`); continue; }
  const offered = r.offered_qps > 0 ? `${r.offered_qps}/s` : `closed loop, ${r.concurrency} in flight`;
  const calls = r.total_calls || 0;
  const rating = name !== "nowork";
  const perCall = (x) => (c && calls ? x / calls : null);
  const lat = r.latency_us || {};
  rows.push(`| ${label} | ${offered} | ${fmt(r.ok_qps)} | ${fmt(lat.p50)} | ` +
    `${fmt(lat.p99)} | ${codes(r) || "none"} | ` +
    `${fmt(perCall(c ? c.roundTrips : 0), 2)} | ${fmt(perCall(c ? c.total : 0), 2)} | ` +
    `${fmt(perCall(c ? c.server * usPerTick : 0), 1)} | ` +
    `${fmt(perCall(c ? redisUs(c) : 0), 1)} |`);
  if (c) results[name].cost = c;
  if (c && rating) results[name].counted = Object.entries(c.cmds).map(([k, v]) => `${k} ${v}`).join(", ");
}
console.log(`## makegood benchmark (${new Date().toISOString()}; ${pinning}; ${rateLimitsNote})\n`);
console.log("| phase | offered load | QPS (OK answers) | p50 µs | p99 µs | errors | Redis script calls / call | Redis commands / call (incl. in scripts) | server CPU µs / call | Redis CPU µs / call |");
console.log("|---|---|---:|---:|---:|---|---:|---:|---:|---:|");
rows.forEach((row) => console.log(row));

const ok = (r) => (r && r.ok_qps > 0 ? r.ok_qps : null);
const ratio = (a, b) => (ok(a) && ok(b) ? ok(a) / ok(b) : null);
const verdict = (x, pass) => (x === null ? "n/a" : pass(x) ? "met" : "**missed**");
const fr = ratio(results.fresh, results.nowork);
const rr = ratio(results.replay, results.nowork);
const half = results.fresh_half;
const p99ms = half && half.latency_us ? half.latency_us.p99 / 1000 : null;
console.log("\n| figure | measured | target | |");
console.log("|---|---:|---|---|");
console.log(`| fresh / nowork QPS | ${fmt(fr, 2)} | ≥ 0.35 | ${verdict(fr, (x) => x >= 0.35)} |`);
console.log(`| replay / nowork QPS | ${fmt(rr, 2)} | ≥ 0.60 | ${verdict(rr, (x) => x >= 0.6)} |`);
const lagMs = half && half.send_lag_us ? half.send_lag_us.p99 / 1000 : null;
console.log(`| p99 of fresh at ½ max fresh (${half ? half.offered_qps + "/s" : "not run"}) | ${fmt(p99ms, 2)} ms | ≤ 5 ms | ${verdict(p99ms, (x) => x <= 5)} |`);
console.log(`| … of which the load generator's own send lag, p99 | ${fmt(lagMs, 2)} ms | (noise check) | |`);
const perRating = (name, key) => {
  const r = results[name];
  return r && r.ok > 0 && r.cost && r.total_calls ? r.cost[key] / r.total_calls : null;
};
// Script calls per rating: one per sequential round trip, plus the
// client-limit lease pipelined beside an admit once per batch of the
// client's requests (a few hundredths of a call at these rates).
const trips = (name, want) => {
  const x = perRating(name, "roundTrips");
  return `| Redis script calls per ${name} rating (${want} sequential round trip${want > 1 ? "s" : ""}, plus the client-limit lease once per batch) | ${fmt(x, 2)} | ${want} (DESIGN §3) | ${verdict(x, (v) => v > 0 && v <= want + 0.1)} |`;
};
console.log(trips("fresh", 2));
console.log(trips("replay", 1));
const cpu = (name) => {
  const ticks = perRating(name, "server");
  return ticks === null ? null : ticks * usPerTick;
};
console.log(`| server CPU per fresh / replayed rating | ${fmt(cpu("fresh"), 1)} / ${fmt(cpu("replay"), 1)} µs | (report) | |`);
console.log("\nPer-call figures divide a whole phase (warmup and drain included) by every");
console.log("call the load generator finished in it, whatever its status (n/a in the");
console.log("targets while no call succeeded). Redis figures are the delta of INFO");
console.log("commandstats over the phase, without our own INFO. Round trips count only");
console.log(`commands a client sends itself (${[...ROUND_TRIP_COMMANDS].join(", ")});`);
console.log("commandstats also counts every command run inside a script. Per phase:");
for (const name of ["nowork", "fresh", "replay", "fresh_half"]) {
  const r = results[name];
  if (r && r.cost) {
    const list = Object.entries(r.cost.cmds).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
    console.log(`- ${name}: ${list}`);
  }
}
console.log("(nowork's commands are the server's background health checks; they are in every phase.)");
// The balance over a cluster's primaries: each one's share of the commands
// (INFO commandstats, script-internal commands included) and of the CPU.
const nodes = (results.fresh && results.fresh.cost && results.fresh.cost.nodes) || [];
if (nodes.length > 1) {
  console.log(`\n### Balance over ${nodes.length} primaries (share of the commands / of the Redis CPU in each phase)\n`);
  const shown = phases.filter(([name]) => results[name] && results[name].cost && results[name].cost.nodes);
  console.log(`| primary | ${shown.map(([, label]) => label).join(" | ")} |`);
  console.log(`|---|${shown.map(() => "---:").join("|")}|`);
  nodes.forEach((n, i) => {
    const cells = shown.map(([name]) => {
      const all = results[name].cost.nodes;
      const cmds = all.reduce((a, x) => a + x.cmds, 0);
      const us = all.reduce((a, x) => a + x.us, 0);
      const me = all.find((x) => x.node === n.node) || { cmds: 0, us: 0 };
      return `${fmt(cmds ? (100 * me.cmds) / cmds : null, 1)} % / ${fmt(us ? (100 * me.us) / us : null, 1)} %`;
    });
    console.log(`| primary ${i + 1} (${n.node}) | ${cells.join(" | ")} |`);
  });
  console.log("\nRedis CPU here is the sum over the primaries of INFO cpu (used_cpu_sys +");
  console.log("used_cpu_user) deltas, cluster bus included; commands the sum of their INFO");
  console.log("commandstats. nowork's commands are health checks and slot-map refreshes.");
}
const failed = phases.filter(([name]) => results[name] && results[name].calls > 0 &&
  results[name].error_ratio > results[name].max_error_ratio).map(([name]) => name);
if (failed.length) console.log(`\nPhases with errors above --max_error_ratio: ${failed.join(", ")}.`);
JS
fi  # report of section rating

if section settlement && [[ -s "$OUT/settle.runs" ]]; then
echo
node - "$OUT" "$CLK_TCK" "$PINNING" "$SANDBOX" <<'JS'
const fs = require("fs");
const [out, clkTck, pinning, sandbox] = process.argv.slice(2);
const runs = fs.readFileSync(`${out}/settle.runs`, "utf8").split("\n").filter(Boolean);
const ROUND_TRIP_COMMANDS = new Set(["eval", "evalsha", "eval_ro", "evalsha_ro",
  "fcall", "fcall_ro", "script|load", "multi", "exec"]);
const read = (name) => {
  const file = `${out}/${name}.json`;
  if (!fs.existsSync(file)) return null;
  const text = fs.readFileSync(file, "utf8").trim();
  return text ? JSON.parse(text) : null;
};
const cost = (name) => {
  const file = `${out}/${name}.cost`;
  if (!fs.existsSync(file)) return null;
  const c = { cmds: {}, roundTrips: 0 };
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "server_ticks") c.server = Number(f[1]);
    if (f[0] === "redis_ticks") c.redis = Number(f[1]);
    if (f[0] === "redis_us") c.redisUs = Number(f[1]);
    if (f[0] === "node") (c.nodes = c.nodes || []).push({ node: f[1], cmds: Number(f[2]), us: Number(f[3]), mem: Number(f[4]) });
    if (f[0] === "outbox_left") c.outboxLeft = Number(f[1]);
    if (f[0] === "dead_letters") c.deadLetters = Number(f[1]);
    if (f[0] === "cmd") {
      c.cmds[f[1]] = Number(f[2]);
      if (ROUND_TRIP_COMMANDS.has(f[1])) c.roundTrips += Number(f[2]);
    }
  }
  return c;
};
const ms = (us, digits = 1) => (us === null || us === undefined ? "n/a" : (us / 1000).toFixed(digits));
const usPerTick = 1e6 / Number(clkTck);
console.log(`## Settlement latency (${new Date().toISOString()}; ${pinning}; card refunds: sandbox ${sandbox})\n`);
console.log("Time from SubmitRating's reply to the WatchRefund message saying SUCCEEDED (ms), per instrument and offered load; e2e = from the rating's scheduled send.\n");
console.log("| instrument | offered ratings/s | ratings measured | SUCCEEDED | errors | reply→SUCCEEDED p50 | p90 | p99 | max | e2e p50 | e2e p99 | SubmitRating p99 | first message SETTLING / SUCCEEDED | outbox left / dead letters at the end | server CPU µs / rating | Redis CPU µs / rating | Redis script calls / rating | p99 ≤ 100 ms |");
console.log("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---|");
const commands = [];
for (const name of runs) {
  const r = read(name);
  if (!r || !r.settle) { console.log(`| ${name} | not run | | | | | | | | | | | | | | | | |`); continue; }
  const s = r.settle;
  const c = cost(name);
  const calls = r.total_calls || 0;
  const per = (x) => (c && calls ? (x / calls).toFixed(1) : "n/a");
  const lat = s.reply_to_succeeded_us || {};
  const e2e = s.e2e_us || {};
  const errors = Object.entries(s.outcomes).filter(([k]) => k !== "succeeded")
    .map(([k, v]) => `${k} ${v}`).concat(Object.entries(r.codes).filter(([k]) => k !== "OK")
    .map(([k, v]) => `${k} ${v}`)).join(", ") || "none";
  const first = s.first_state || {};
  // Percentiles cover the SUCCEEDED refunds only: too many errors miss too.
  const verdict = s.succeeded === 0 ? "n/a"
    : lat.p99 > 100000 ? "**missed**"
    : r.error_ratio > r.max_error_ratio ? "**missed** (errors)" : "met";
  console.log(`| ${s.instrument} | ${r.offered_qps} | ${s.ratings} | ${s.succeeded} | ${errors} | ` +
    `${ms(lat.p50)} | ${ms(lat.p90)} | ${ms(lat.p99)} | ${ms(lat.max)} | ${ms(e2e.p50)} | ${ms(e2e.p99)} | ` +
    `${ms(s.submit_us ? s.submit_us.p99 : null)} | ${first.SETTLING || 0} / ${first.SUCCEEDED || 0} | ` +
    `${c && c.outboxLeft !== undefined ? `${c.outboxLeft} / ${c.deadLetters}` : "n/a"} | ` +
    `${c ? per(c.server * usPerTick) : "n/a"} | ${c ? per(c.redisUs !== undefined ? c.redisUs : c.redis * usPerTick) : "n/a"} | ` +
    `${c ? per(c.roundTrips) : "n/a"} | ${verdict} |`);
  if (c) commands.push(`- ${name}: ` + Object.entries(c.cmds).map(([k, v]) => `${k} ${v}`).join(", "));
}
const idle = cost("idle");
if (idle) {
  const seconds = Number(fs.readFileSync(`${out}/idle.cost`, "utf8").match(/^seconds (\d+)/m)[1]);
  const reads = (idle.cmds.xread || 0) + (idle.cmds.xreadgroup || 0);
  const all = Object.values(idle.cmds).reduce((a, b) => a + b, 0);
  console.log(`\nIdle (the first run's makegood, API + settlement worker, before its load, ${seconds} s): ` +
    `Redis CPU ${(idle.redisUs / seconds).toFixed(0)} µs/s; stream reads (XREAD + XREADGROUP) ` +
    `${(reads / seconds).toFixed(1)}/s; all commands ${(all / seconds).toFixed(1)}/s (` +
    Object.entries(idle.cmds).map(([k, v]) => `${k} ${v}`).join(", ") + ").");
}
console.log("\nErrors: rating_failed (SubmitRating not OK), watch_failed (WatchRefund failed,");
console.log("e.g. DEADLINE_EXCEEDED: not final within --settle_timeout), no_refund,");
console.log("final_not_succeeded (FAILED, NEEDS_ATTENTION); the gRPC codes follow.");
console.log("Percentiles are over the SUCCEEDED refunds; a run above 1 % errors misses the");
console.log("target whatever its p99.");
console.log("\nPer-rating figures divide the whole run (warmup and drain included) by every");
console.log("rating in it; they include the settlement worker, the refund feed and the");
console.log("WatchRefund streams. Redis commands per run (INFO commandstats delta):");
commands.forEach((line) => console.log(line));
JS
fi  # report of section settlement
if compgen -G "$OUT/*.memory" >/dev/null; then
echo
node - "$OUT" "$REDIS_MODE" "${#REDIS_NODES[@]}" "$MEMORY_SAMPLE" <<'JS'
const fs = require("fs");
const [out, mode, nodeCount, sample] = process.argv.slice(2);
// What each kind of key belongs to, and how long it lives
// (services/store/key_schema.h, the scripts' PEXPIRE/MAXLEN, config.cc).
const GROUPS = {
  order: ["order", "owner"],
  member: ["member", "mstats", "rl:m"],
  rating: ["rating", "idem", "ratings:t", "decisions", "fu:feedback", "fu:tasks", "insights"],
  refund: ["refund", "refund:events", "refunds:m", "refunds:o", "ledger", "ledger:balances", "outbox",
    "outbox:dead", "attention", "refund_feed", "fu:notifications", "wallet", "psp:sandbox", "goodwill"],
};
const LIFETIME = {
  idem: "--idempotency_ttl (24 h)", "rl:m": "limiter: expires when full again", "rl:c": "limiter: expires when full again",
  insights: "bucket TTL (fold_decision.lua)", agent: "the day", consumers: "membership TTL",
  decisions: "MAXLEN ~1M per partition", "fu:feedback": "MAXLEN ~1M per partition", "fu:tasks": "MAXLEN ~1M per partition",
  "fu:notifications": "MAXLEN ~1M per partition", refund_feed: "MAXLEN ~10k per partition",
  outbox: "until settled (XDEL)",
};
const read = (name) => {
  const file = `${out}/${name}.memory`;
  if (!fs.existsSync(file)) return null;
  const m = { kinds: {}, used: 0 };
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "used_memory") m.used = Number(f[1]);
    if (f[0] !== "kind") continue;
    const [keys, sampled, bytes, entries] = f.slice(2).map(Number);
    const avg = sampled ? bytes / sampled : 0;
    m.kinds[f[1]] = { keys, sampled, avg, total: avg * keys, entries: sampled ? entries / sampled : 0 };
  }
  return m;
};
const count = (m, kind) => (m && m.kinds[kind] ? m.kinds[kind].keys : 0);
const group = (m, g) => GROUPS[g].reduce((a, k) => a + (m.kinds[k] ? m.kinds[k].total : 0), 0);
const fmt = (x) => (x === null || !Number.isFinite(x) ? "n/a" : Math.round(x).toLocaleString("en-US"));
const snapshots = ["setup", "rating"].concat(
  fs.readdirSync(out).filter((f) => /^settle_.*\.memory$/.test(f)).map((f) => f.replace(/\.memory$/, "")).sort());
const empty = read("empty");
console.log(`## Memory (MEMORY USAGE ... SAMPLES 0 of up to ${sample} keys per kind and node, x keys of that kind; redis ${mode}, ${nodeCount} primar${nodeCount === "1" ? "y" : "ies"})\n`);
console.log("| snapshot | orders | bytes / order | members | bytes / member | ratings | bytes / rating | refunds | bytes / refund | keys measured, MB | used_memory − empty, MB |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
const detail = [];
for (const name of snapshots) {
  const m = read(name);
  if (!m) continue;
  const orders = count(m, "order"), members = count(m, "member"), ratings = count(m, "rating"), refunds = count(m, "refund");
  const per = (g, n) => (n ? group(m, g) / n : null);
  const measured = Object.values(m.kinds).reduce((a, k) => a + k.total, 0);
  console.log(`| ${name} | ${orders} | ${fmt(per("order", orders))} | ${members} | ${fmt(per("member", members))} | ` +
    `${ratings} | ${fmt(per("rating", ratings))} | ${refunds} | ${fmt(per("refund", refunds))} | ` +
    `${(measured / 1e6).toFixed(1)} | ${empty ? ((m.used - empty.used) / 1e6).toFixed(1) : "n/a"} |`);
  detail.push([name, m]);
}
console.log("\nbytes / X = the MEMORY USAGE of every key of X's kinds divided by the number of");
console.log("X: order = order hash + owner string; member = member hash + stats + limiter;");
console.log("rating = rating hash + idempotency record + its entries in the partition's");
console.log("ratings-by-time set, decision stream and follow-up streams (+ insights");
console.log("buckets); refund = refund hash + its events stream + its entries in the");
console.log("member's and the order's refund sets, the ledger, the outbox, the refund feed");
console.log("and the notification stream (+ wallet and sandbox records). In `rating`");
console.log("(section 1, no settlement worker) refunds are ACCEPTED and still in the");
console.log("outbox; in `settle_*` they are settled (outbox entries deleted, ledger");
console.log("postings and state changes added).\n");
const last = detail.filter(([name]) => name.startsWith("settle_")).pop() || detail[detail.length - 1];
for (const [name, m] of [...new Set([detail.find(([n]) => n === "rating"), last].filter(Boolean))]) {
  console.log(`Per kind of key, snapshot ${name}:\n`);
  console.log("| kind | keys | bytes / key | entries / key | bytes / entry | lifetime |");
  console.log("|---|---:|---:|---:|---:|---|");
  for (const [kind, k] of Object.entries(m.kinds).sort((a, b) => b[1].total - a[1].total)) {
    console.log(`| ${kind} | ${k.keys} | ${fmt(k.avg)} | ${k.entries ? k.entries.toFixed(1) : ""} | ` +
      `${k.entries ? fmt(k.avg / k.entries) : ""} | ${LIFETIME[kind] || "no expiry"} |`);
  }
  console.log("");
}
JS
fi
echo
echo "Raw results: ${OUT}/ (loadgen JSON lines, logs, Redis commandstats, memory by kind)."
