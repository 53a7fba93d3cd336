#!/usr/bin/env bash
# The benchmark of docs/PERFORMANCE.md, in one command. Builds makegood and
# makegood_loadgen (scripts/setup.sh), starts its own redis-server (no
# persistence) and makegood on free loopback ports, pins both to one core and
# the load generator to the other, and measures in one run:
#   1. maximum QPS (closed loop) of nowork (Health/Check, the gRPC ceiling of
#      the same binary), fresh ratings and replayed ratings;
#   2. fresh ratings at a fixed rate of half the maximum fresh QPS (open loop:
#      the p99 that matters);
# with Redis commands and server CPU per rating from INFO commandstats and
# /proc/<pid>/stat. Prints a Markdown table with the targets beside the
# figures; raw results stay in .run/bench/. Everything it starts is stopped on
# exit.
#
# Environment (defaults in brackets): MAKEGOOD_BUILD_DIR [build],
# BENCH_DURATION [10s] and BENCH_WARMUP [2s] per phase, BENCH_CONCURRENCY
# [64] calls in flight for the maximum-QPS phases, BENCH_MEMBERS [2000],
# BENCH_ORDERS_PER_MEMBER [25], BENCH_REPLAY_KEYS [2000], BENCH_SEED [1],
# BENCH_SERVER_CPU [0] and BENCH_LOADGEN_CPU [1], BENCH_SKIP_BUILD [0] (1: use
# the binaries already built), BENCH_SERVER [the built makegood] (another
# server binary, e.g. an older build to compare with).
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
cleanup() {
  [[ -z "$loadgen_pid" ]] || kill -TERM "$loadgen_pid" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
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

REDIS_PORT="$(free_port)"
echo "==> starting redis-server on 127.0.0.1:${REDIS_PORT} (no persistence)"
"${SERVER_PIN[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
  --dir "$WORK" --save "" --appendonly no --maxmemory-policy noeviction \
  --daemonize no --logfile "$OUT/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 100); do
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$REDIS_PORT" ping >/dev/null ||
  { echo "bench: redis-server did not start; see $OUT/redis.log" >&2; exit 1; }

GRPC_PORT="$(free_port)"
# start_server [FLAG...]: starts makegood in the background, sets server_pid;
# fails if it exits before it listens.
start_server() {
  "${SERVER_PIN[@]}" "$SERVER" --listen="127.0.0.1:${GRPC_PORT}" \
    --redis="redis://127.0.0.1:${REDIS_PORT}/0" --policy="$POLICY" "$@" \
    2>"$OUT/server.log" &
  server_pid=$!
  for _ in $(seq 200); do
    listening "$GRPC_PORT" && return 0
    kill -0 "$server_pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
echo "==> starting makegood on 127.0.0.1:${GRPC_PORT}"
RATE_LIMITS_NOTE="--rate_limits set to 1000000/s per member and per client"
if ! start_server --rate_limits="$RATE_LIMITS"; then
  wait "$server_pid" 2>/dev/null || true
  if grep -q "Unknown command line flag 'rate_limits'" "$OUT/server.log"; then
    RATE_LIMITS_NOTE="this makegood has no --rate_limits flag (omitted)"
    echo "bench: ${RATE_LIMITS_NOTE}"
    start_server || { cat "$OUT/server.log" >&2; exit 1; }
  else
    cat "$OUT/server.log" >&2
    exit 1
  fi
fi
pids+=("$server_pid")

CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # utime + stime
# Calls per Redis command since start-up; "info" (our own probe) left out.
cmdstats() {
  redis-cli -p "$REDIS_PORT" INFO commandstats | tr -d '\r' |
    awk -F'[:=,]' '/^cmdstat_/ { sub(/^cmdstat_/, "", $1); if ($1 != "info") print $1, $3 }'
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
  local server_before redis_before
  server_before="$(cpu_ticks "$server_pid")"
  redis_before="$(cpu_ticks "$redis_pid")"
  run_loadgen "$@"
  local server_after redis_after
  server_after="$(cpu_ticks "$server_pid")"
  redis_after="$(cpu_ticks "$redis_pid")"
  cmdstats >"$OUT/${name}.redis.after"
  {
    echo "server_ticks $((server_after - server_before))"
    echo "redis_ticks $((redis_after - redis_before))"
    awk 'NR == FNR { before[$1] = $2; next }
         { d = $2 - before[$1]; if (d > 0) print "cmd", $1, d }' \
      "$OUT/${name}.redis.before" "$OUT/${name}.redis.after"
  } >"$OUT/${name}.cost"
}

LOAD=(--duration="$DURATION" --warmup="$WARMUP")
echo "==> setup: ${MEMBERS} members x ${ORDERS_PER_MEMBER} orders"
run_loadgen setup --mode=nowork --setup --duration=0s
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

echo
node - "$OUT" "$CLK_TCK" "$PINNING" "$RATE_LIMITS_NOTE" <<'JS'
const fs = require("fs");
const [out, clkTck, pinning, rateLimitsNote] = process.argv.slice(2);
// INFO commandstats also counts the commands a script runs, so only commands
// a client sends itself are counted here: the script calls (makegood sends
// all its Redis work as scripts). These are calls, not sequential round
// trips: the rating path sends its first two calls (client limit + admit)
// together in one pipelined write and waits once for both, so a fresh rating
// waits for 2 round trips with 3 calls and a replay for 1 with 2 calls.
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
    `${fmt(perCall(c ? c.redis * usPerTick : 0), 1)} |`);
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
// Sequential round trips = script calls minus the client-limit call that is
// pipelined beside admit (present when the client limit is on).
const trips = (name, want, calls) => {
  const x = perRating(name, "roundTrips");
  return `| Redis script calls per ${name} rating (pipelined: ${want} sequential round trip${want > 1 ? "s" : ""}) | ${fmt(x, 2)} | ${calls} calls in ${want} round trip${want > 1 ? "s" : ""} (DESIGN §3: ${want}) | ${verdict(x, (v) => v > 0 && v <= calls + 0.05)} |`;
};
console.log(trips("fresh", 2, 3));
console.log(trips("replay", 1, 2));
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
const failed = phases.filter(([name]) => results[name] && results[name].calls > 0 &&
  results[name].error_ratio > results[name].max_error_ratio).map(([name]) => name);
if (failed.length) console.log(`\nPhases with errors above --max_error_ratio: ${failed.join(", ")}.`);
JS
echo
echo "Raw results: ${OUT}/ (loadgen JSON lines, logs, Redis commandstats)."
