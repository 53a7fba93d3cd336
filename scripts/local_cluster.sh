#!/usr/bin/env bash
# A local Redis Cluster on loopback, for scripts/run.sh --cluster and
# scripts/bench.sh (BENCH_REDIS=cluster). No Docker: one redis-server per
# node, daemonized, each with its own directory under DIR.
#
# Usage:
#   scripts/local_cluster.sh start DIR BASEPORT PRIMARIES REPLICAS [redis-server args...]
#       Starts PRIMARIES x (1 + REPLICAS) nodes on 127.0.0.1:BASEPORT,
#       BASEPORT+1, ... (cluster bus on port + 10000), with
#       `notify-keyspace-events Kt` (makegood's stream consumers are woken by
#       it), forms them with `redis-cli --cluster create --cluster-replicas
#       REPLICAS --cluster-yes`, waits until every node says cluster_state:ok
#       and prints the URL makegood takes on stdout:
#       redis-cluster://127.0.0.1:BASEPORT,127.0.0.1:BASEPORT+1,...
#       Extra arguments go to every redis-server (e.g. --appendonly yes).
#       Idempotent: nodes already running from DIR are kept, and a cluster
#       already formed in DIR (nodes.conf, e.g. the previous run's) is
#       restarted as it was, not created again.
#   scripts/local_cluster.sh stop DIR
#       SIGTERM to every node started from DIR, and waits for them to exit.
#       The data stays in DIR.
#   scripts/local_cluster.sh pids DIR
#       The node processes' ids, one per line (e.g. for taskset).
#   scripts/local_cluster.sh primaries DIR
#       host:port of every current primary, one per line.
# Progress goes to stderr. Exits non-zero when a node does not start or the
# cluster does not reach cluster_state:ok within 30 s.
set -euo pipefail

usage() {
  sed -n '5,27p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
log() { echo "local_cluster: $*" >&2; }

alive() { [[ -f $1/redis.pid ]] && kill -0 "$(cat "$1/redis.pid")" 2>/dev/null; }
field() { # field PORT NAME: a CLUSTER INFO field of the node on PORT
  redis-cli -p "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"
}

cmd_start() {
  (($# >= 4)) || usage
  local dir=$1 base=$2 primaries=$3 replicas=$4
  shift 4
  [[ $base =~ ^[0-9]+$ && $primaries =~ ^[0-9]+$ && $replicas =~ ^[0-9]+$ ]] || usage
  ((primaries >= 3)) || { log "a cluster needs at least 3 primaries"; exit 2; }
  local n=$((primaries * (1 + replicas))) ports=() port i
  for ((i = 0; i < n; i++)); do ports+=($((base + i))); done
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)

  for port in "${ports[@]}"; do
    local node=$dir/$port
    mkdir -p "$node"
    if alive "$node"; then
      log "node $port already running (pid $(cat "$node/redis.pid"))"
      continue
    fi
    if redis-cli -p "$port" ping >/dev/null 2>&1; then
      log "port $port is taken by another process; pick another BASEPORT"
      exit 1
    fi
    redis-server --port "$port" --bind 127.0.0.1 --dir "$node" \
      --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 2000 --notify-keyspace-events Kt \
      --daemonize yes --pidfile "$node/redis.pid" --logfile "$node/redis.log" "$@"
  done
  for port in "${ports[@]}"; do
    for _ in $(seq 100); do
      redis-cli -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    redis-cli -p "$port" ping >/dev/null 2>&1 || { log "node $port did not start; see $dir/$port/redis.log"; exit 1; }
  done

  # Formed before (a restart of the same DIR): the nodes find each other
  # again from nodes.conf. New: every node alone and without slots.
  local fresh=1
  for port in "${ports[@]}"; do
    if [[ $(field "$port" cluster_known_nodes) != 1 || $(field "$port" cluster_slots_assigned) != 0 ]]; then fresh=0; fi
  done
  if ((fresh)); then
    local addresses=()
    for port in "${ports[@]}"; do addresses+=("127.0.0.1:$port"); done
    log "creating a cluster of $primaries primaries x $replicas replicas on ports ${ports[0]}-${ports[-1]}"
    redis-cli --cluster create "${addresses[@]}" --cluster-replicas "$replicas" --cluster-yes >"$dir/create.log" 2>&1 ||
      { cat "$dir/create.log" >&2; exit 1; }
  else
    log "cluster in $dir formed before: waiting for it to be ok"
  fi
  local ok=0
  for _ in $(seq 300); do
    ok=1
    for port in "${ports[@]}"; do
      if [[ $(field "$port" cluster_state) != ok || $(field "$port" cluster_known_nodes) != "$n" ]]; then ok=0; break; fi
    done
    ((ok)) && break
    sleep 0.1
  done
  ((ok)) || { log "no cluster_state:ok on all $n nodes after 30 s (redis-cli --cluster check 127.0.0.1:${ports[0]})"; exit 1; }
  local seeds=()
  for port in "${ports[@]}"; do seeds+=("127.0.0.1:$port"); done
  local url
  url="redis-cluster://$(IFS=,; echo "${seeds[*]}")"
  echo "$url" >"$dir/url"
  log "cluster_state:ok on all $n nodes"
  echo "$url"
}

cmd_stop() {
  (($# == 1)) || usage
  local dir=$1 node pid pids=()
  for node in "$dir"/*/; do
    node=${node%/}
    alive "$node" || continue
    pid=$(cat "$node/redis.pid")
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  done
  for pid in ${pids[@]+"${pids[@]}"}; do
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  done
}

cmd_pids() {
  (($# == 1)) || usage
  local node
  for node in "$1"/*/; do
    node=${node%/}
    if alive "$node"; then cat "$node/redis.pid"; fi
  done
}

cmd_primaries() {
  (($# == 1)) || usage
  local node port
  for node in "$1"/*/; do
    node=${node%/}
    alive "$node" || continue
    port=${node##*/}
    if [[ $(redis-cli -p "$port" role 2>/dev/null | head -n 1) == master ]]; then echo "127.0.0.1:$port"; fi
  done
}

(($# >= 1)) || usage
command=$1
shift
case $command in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  pids) cmd_pids "$@" ;;
  primaries) cmd_primaries "$@" ;;
  *) usage ;;
esac
