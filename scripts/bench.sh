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
server_pid=""
# start_server LOG FLAG...: starts makegood in the background (stderr to
# $OUT/LOG), sets server_pid; fails if it exits before it listens.
start_server() {
  local log="$1"
  shift
  "${SERVER_PIN[@]}" "$SERVER" --listen="127.0.0.1:${GRPC_PORT}" \
    --redis="redis://127.0.0.1:${REDIS_PORT}/0" --policy="$POLICY" "$@" \
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

RATE_LIMITS_NOTE="--rate_limits set to 1000000/s per member and per client"
half_rate=0
if section rating; then
  echo "==> starting makegood on 127.0.0.1:${GRPC_PORT}"
  start_makegood server.log --insecure_dev --rate_limits="$RATE_LIMITS" || exit 1
  [[ " ${DROPPED_FLAGS[*]} " != *" rate_limits "* ]] ||
    RATE_LIMITS_NOTE="this makegood has no --rate_limits flag (omitted)"
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
      redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
      echo "==> settlement, ${instrument}, ${rate} ratings/s: makegood --settlement_worker (card: sandbox ${SANDBOX}), members and orders"
      if ! start_makegood "${name}.server.log" --insecure_dev \
        --rate_limits="$RATE_LIMITS" --settlement_worker \
        --card_provider=sandbox --sandbox="$SANDBOX" \
        "${SETTLE_SERVER_FLAGS[@]}"; then
        echo "bench: makegood did not start with --settlement_worker; settlement skipped" >&2
        break 2
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
      for key in $(redis-cli -p "$REDIS_PORT" --scan --pattern '*:outbox'); do
        left=$((left + $(redis-cli -p "$REDIS_PORT" XLEN "$key")))
        dead=$((dead + $(redis-cli -p "$REDIS_PORT" XLEN "${key}:dead")))
      done
      printf 'outbox_left %s\ndead_letters %s\n' "$left" "$dead" >>"$OUT/${name}.cost"
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
    `${c ? per(c.server * usPerTick) : "n/a"} | ${c ? per(c.redis * usPerTick) : "n/a"} | ` +
    `${c ? per(c.roundTrips) : "n/a"} | ${verdict} |`);
  if (c) commands.push(`- ${name}: ` + Object.entries(c.cmds).map(([k, v]) => `${k} ${v}`).join(", "));
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
echo
echo "Raw results: ${OUT}/ (loadgen JSON lines, logs, Redis commandstats)."
