#!/usr/bin/env bash
# Runs the scripts of deploy/k8s/components/redis-cluster (init, readiness,
# preStop, creation Job) against six local redis-servers, as the pods would:
#   - init writes each node's config; the Job forms the cluster (3 + 3) and,
#     run again, leaves it alone;
#   - every node turns ready;
#   - a primary's preStop hands its slots to its replica;
#   - a full restart where every node gets a new IP (the init rewrites
#     nodes.conf from the names) comes back to cluster_state:ok.
# Each node listens on 127.B.1.N:6379 (B random, N = ordinal + 1; then
# 127.B.2.N after the "restart"); the pod names resolve through a private
# /etc/hosts in a mount namespace (unshare -m, so root is needed). The scripts' fixed paths
# (/config, /conf, /data, /scripts) are mapped to per-node directories.
# Usage: deploy/check/redis-cluster-scripts.sh   (exit 0: all passed)
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ ${1:-} != --inside ]]; then
  if ! command -v redis-server >/dev/null || ! command -v yq >/dev/null; then
    echo "needs redis-server and yq" >&2
    exit 1
  fi
  exec unshare -m "$0" --inside
fi

work=$(mktemp -d /tmp/redis-cluster-scripts.XXXXXX)
cleanup() {
  for ((i = 0; i < 6; i++)); do
    if [[ -f $work/n$i/pid ]]; then kill "$(cat "$work/n$i/pid")" 2>/dev/null || true; fi
  done
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT
ns=test-ns
net=127.$((10 + RANDOM % 200))
svc=redis-cluster-headless
export REDISCLI_AUTH=test-password
name() { echo "redis-cluster-$1.$svc.$ns.svc"; }

# The scripts, their fixed paths pointed at directory $NODE.
cm=deploy/k8s/components/redis-cluster/configmap.yaml
# shellcheck disable=SC2016  # $NODE, ${POD_NAME} are meant literally here.
for key in redis.conf redis-cluster-init.sh redis-cluster-ready.sh redis-cluster-prestop.sh redis-cluster-create.sh; do
  yq -r --arg k "$key" '.data[$k]' "$cm" |
    sed -e 's|/config/|$NODE/config/|g; s|/conf/|$NODE/conf/|g; s|/data/|$NODE/data/|g; s|^dir /data$|dir $NODE/data|' \
      -e 's|\$(hostname)|${POD_NAME}|g' >"$work/$key"
done
# redis-cli without -h talks to "its" node, as in the pod.
mkdir -p "$work/bin"
# shellcheck disable=SC2016  # a script for later.
printf '#!/bin/sh\ncase " $* " in *" -h "*) exec /usr/bin/redis-cli "$@";; esac\nexec /usr/bin/redis-cli -h "$NODE_IP" "$@"\n' >"$work/bin/redis-cli"
chmod +x "$work/bin/redis-cli"
export PATH="$work/bin:$PATH"

hosts() { # $1 = third octet
  cp /etc/hosts "$work/hosts"
  for ((i = 0; i < 6; i++)); do echo "$net.$1.$((i + 1)) $(name $i)" >>"$work/hosts"; done
  mount --bind "$work/hosts" /etc/hosts
}
start() { # $1 = third octet
  for ((i = 0; i < 6; i++)); do
    local node=$work/n$i ip=$net.$1.$((i + 1))
    mkdir -p "$node/config" "$node/conf" "$node/data"
    sed "s|\$NODE|$node|g" "$work/redis.conf" >"$node/config/redis.conf"
    NODE=$node POD_NAME=redis-cluster-$i POD_IP=$ip NAMESPACE=$ns SERVICE_NAME=$svc \
      REDIS_PASSWORD=$REDISCLI_AUTH REDIS_MAXMEMORY=64mb \
      sh -c "$(sed "s|\$NODE|$node|g" "$work/redis-cluster-init.sh")" >"$node/init.log"
    # Local only: its own address, no fsync per write, in the background.
    printf 'bind %s\nappendfsync no\ndaemonize yes\npidfile %s/pid\nlogfile %s/log\ncluster-node-timeout 2000\n' \
      "$ip" "$node" "$node" >>"$node/conf/redis.conf"
    (cd "$node" && redis-server "$node/conf/redis.conf")
  done
}
stop() {
  for ((i = 0; i < 6; i++)); do
    kill "$(cat "$work/n$i/pid")"
    while [[ -f $work/n$i/pid ]]; do sleep 0.1; done
  done
}
node_run() { # node_run I SCRIPT: run a pod script on node I
  NODE=$work/n$1 NODE_IP=$(getent hosts "$(name "$1")" | awk '{print $1}') sh "$work/$2"
}
check() { printf '  %-60s' "$1"; }
pass() { echo ok; }
die() { echo FAILED; echo "$@" >&2; exit 1; }
wait_ready() {
  for ((t = 0; t < 100; t++)); do
    local all=1
    for ((i = 0; i < 6; i++)); do node_run "$i" redis-cluster-ready.sh >/dev/null 2>&1 || all=0; done
    ((all)) && return 0
    sleep 0.2
  done
  return 1
}

echo "==> redis-cluster component scripts"
hosts 1
start 1
check "not ready before the cluster is formed"
node_run 0 redis-cluster-ready.sh >/dev/null 2>&1 && die "ready before the cluster exists"
pass
check "creation Job forms 3 primaries + 3 replicas"
STATEFULSET=redis-cluster SERVICE_NAME=$svc NAMESPACE=$ns REDIS_CLUSTER_SIZE=6 sh "$work/redis-cluster-create.sh" >"$work/create.log" 2>&1 ||
  die "$(cat "$work/create.log")"
info=$(redis-cli -h "$(name 0)" cluster info | tr -d '\r')
if ! grep -q cluster_state:ok <<<"$info" || ! grep -q cluster_known_nodes:6 <<<"$info" || ! grep -q cluster_size:3 <<<"$info"; then
  die "$info"
fi
pass
check "Kt keyspace notifications, AOF, announced hostnames"
[[ $(redis-cli -h "$(name 3)" config get notify-keyspace-events | tail -n 1) == *K*t* || $(redis-cli -h "$(name 3)" config get notify-keyspace-events | tail -n 1) == *t*K* ]] || die "notify-keyspace-events"
[[ $(redis-cli -h "$(name 3)" config get appendonly | tail -n 1) == yes ]] || die appendonly
redis-cli -h "$(name 0)" cluster slots | grep -q "redis-cluster-.\.$svc\.$ns\.svc" || die "CLUSTER SLOTS does not give host names"
pass
check "creation Job run again: nothing to do"
STATEFULSET=redis-cluster SERVICE_NAME=$svc NAMESPACE=$ns REDIS_CLUSTER_SIZE=6 sh "$work/redis-cluster-create.sh" >"$work/create2.log" 2>&1 ||
  die "$(cat "$work/create2.log")"
grep -q "formed already" "$work/create2.log" || die "$(cat "$work/create2.log")"
pass
check "all nodes ready"
wait_ready || die "not all ready"
pass
check "preStop of a primary: its replica takes over"
primary=-1
for ((i = 0; i < 6; i++)); do
  [[ $(redis-cli -h "$(name $i)" role | head -n 1) == master ]] && { primary=$i; break; }
done
node_run "$primary" redis-cluster-prestop.sh >"$work/prestop.log" 2>&1 || die "$(cat "$work/prestop.log")"
[[ $(redis-cli -h "$(name $primary)" role | head -n 1) == slave ]] || die "node $primary still a primary: $(cat "$work/prestop.log")"
check_ok=$(redis-cli -h "$(name $primary)" cluster info | tr -d '\r' | grep -c cluster_state:ok || true)
((check_ok == 1)) || die "cluster not ok after the failover"
pass
check "preStop of a replica does nothing"
node_run "$primary" redis-cluster-prestop.sh >/dev/null 2>&1 || die "replica preStop failed"
[[ $(redis-cli -h "$(name $primary)" role | head -n 1) == slave ]] || die "changed role"
pass
check "full restart, every node on a new IP: back to ok"
redis-cli -h "$(name 0)" -c set "{p0}probe" kept >/dev/null
stop
umount /etc/hosts
hosts 2
start 2
wait_ready || die "not ready after the restart: $(redis-cli -h "$(name 0)" cluster nodes)"
[[ $(redis-cli -h "$(name 1)" -c get "{p0}probe") == kept ]] || die "data lost"
pass
echo "redis-cluster component scripts: all passed"
