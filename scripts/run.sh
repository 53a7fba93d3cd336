#!/usr/bin/env bash
# One command from a bare Debian 12 machine to a running makegood: installs
# and builds (scripts/setup.sh), starts a local redis-server unless
# MAKEGOOD_REDIS names one, starts makegood with the sample policy, records
# demo data, plays the headline story against it (examples/node/demo.js: a
# premium member rates an order 50 % because the ice cream melted, the
# decision, the refund followed to SUCCEEDED with the measured time, the trust
# budget left, a replayed retry), and prints how to call it. Ctrl-C stops
# everything it started.
#
# Usage: scripts/run.sh [--no-demo] [--cluster] [makegood flags...]
#   --no-demo   serve and record the demo data, but skip the story.
#   --cluster   (or MAKEGOOD_LOCAL_CLUSTER=1) a local Redis Cluster instead of
#               one redis-server: 3 primaries + 3 replicas on 127.0.0.1 ports
#               MAKEGOOD_CLUSTER_PORT (6391) to +5, data in .run/cluster/
#               (scripts/local_cluster.sh; stopped on exit, kept for the
#               next run), makegood on its redis-cluster:// URL.
#
# Environment: MAKEGOOD_LISTEN (default 127.0.0.1:50051), MAKEGOOD_REDIS
# (any redis://, redis-sentinel:// or redis-cluster:// URL, passed through;
# default: a local redis-server on port MAKEGOOD_REDIS_PORT, 6390, with its
# data in .run/), MAKEGOOD_POLICY (default config/policy/default.textproto).
# Extra arguments are passed to makegood (see: makegood --help).
set -euo pipefail
cd "$(dirname "$0")/.."

demo=1
cluster="${MAKEGOOD_LOCAL_CLUSTER:-0}"
server_args=()
for arg in "$@"; do
  case "$arg" in
    --no-demo) demo=0 ;;
    --cluster) cluster=1 ;;
    *) server_args+=("$arg") ;;
  esac
done
if [[ "$cluster" == 1 && -n "${MAKEGOOD_REDIS:-}" ]]; then
  echo "run.sh: --cluster starts a local cluster; MAKEGOOD_REDIS names another Redis: choose one" >&2
  exit 2
fi

MAKEGOOD_BUILD_TARGETS=makegood scripts/setup.sh
BUILD_DIR="${MAKEGOOD_BUILD_DIR:-build}"
BUF=node_modules/.bin/buf
LISTEN="${MAKEGOOD_LISTEN:-127.0.0.1:50051}"
ADMIN_LISTEN="${MAKEGOOD_ADMIN_LISTEN:-127.0.0.1:9464}"
POLICY="${MAKEGOOD_POLICY:-config/policy/default.textproto}"
RUN_DIR=.run
mkdir -p "$RUN_DIR"

pids=()
cluster_dir=""
cleanup() {
  # A second Ctrl-C (or timeout's signal to the whole group) must not cut the
  # cleanup short and leave the cluster nodes running.
  trap '' INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -z "$cluster_dir" ]] || scripts/local_cluster.sh stop "$cluster_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ "$cluster" == 1 ]]; then
  CLUSTER_PORT="${MAKEGOOD_CLUSTER_PORT:-6391}"
  cluster_dir="$RUN_DIR/cluster"
  echo "==> starting a local Redis Cluster: 3 primaries + 3 replicas on 127.0.0.1:${CLUSTER_PORT}-$((CLUSTER_PORT + 5)) (data in ${cluster_dir}/)"
  # Durable like production: AOF fsynced on every write, never evict.
  MAKEGOOD_REDIS="$(scripts/local_cluster.sh start "$cluster_dir" "$CLUSTER_PORT" 3 1 \
    --appendonly yes --appendfsync always --maxmemory-policy noeviction --save "")"
elif [[ -z "${MAKEGOOD_REDIS:-}" ]]; then
  REDIS_PORT="${MAKEGOOD_REDIS_PORT:-6390}"
  echo "==> starting redis-server on 127.0.0.1:${REDIS_PORT} (data in ${RUN_DIR}/)"
  # Durable like production: AOF fsynced on every write, never evict;
  # keyspace notifications of stream writes wake the stream readers.
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$PWD/$RUN_DIR" \
    --appendonly yes --appendfsync always --maxmemory-policy noeviction \
    --notify-keyspace-events Kt \
    --save "" --daemonize no --logfile "$PWD/$RUN_DIR/redis.log" &
  pids+=($!)
  for _ in $(seq 100); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$REDIS_PORT" ping >/dev/null ||
    { echo "redis-server did not start; see ${RUN_DIR}/redis.log" >&2; exit 1; }
  MAKEGOOD_REDIS="redis://127.0.0.1:${REDIS_PORT}/0"
fi

echo "==> starting makegood on ${LISTEN} (policy ${POLICY}, redis ${MAKEGOOD_REDIS})"
# Development mode: plaintext and no credentials, allowed on loopback only
# (production takes --tls_cert/--tls_key and JWT or API keys, see README).
# The settlement worker runs in the same process; metrics on ADMIN_LISTEN.
"$BUILD_DIR/services/server/makegood" --listen="$LISTEN" \
  --redis="$MAKEGOOD_REDIS" --policy="$POLICY" --insecure_dev \
  --settlement_worker --insights_aggregator --admin_listen="$ADMIN_LISTEN" ${server_args[@]+"${server_args[@]}"} &
pids+=($!)

curl_grpc() {  # curl_grpc METHOD [JSON]
  "$BUF" curl --protocol grpc --http2-prior-knowledge ${2:+-d "$2"} \
    "http://${LISTEN}/$1"
}
for _ in $(seq 100); do
  curl_grpc grpc.health.v1.Health/Check 2>/dev/null | grep -q '"SERVING"' && break
  sleep 0.1
done
curl_grpc grpc.health.v1.Health/Check | grep -q '"SERVING"' ||
  { echo "makegood is not serving; see its log above" >&2; exit 1; }

echo "==> recording demo data (member demo-member, order demo-order-1)"
delivered_at=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
curl_grpc makegood.v1.MemberService/UpsertMember \
  '{"member":{"memberId":"demo-member","tier":"premium","memberSince":"2022-03-01T00:00:00Z","flags":["verified"]}}' >/dev/null
curl_grpc makegood.v1.OrderService/RecordDelivery \
  '{"order":{"orderId":"demo-order-1","memberId":"demo-member","storeId":"store-7","courierId":"courier-42","currency":"EUR","totalMinor":"3450","deliveryFeeMinor":"299","lines":[{"lineId":"l1","sku":"ICE-CREAM-VANILLA-500ML","category":"frozen","quantity":2,"amountMinor":"1198"},{"lineId":"l2","sku":"SOURDOUGH-LOAF","category":"bakery","quantity":1,"amountMinor":"450"},{"lineId":"l3","sku":"OAT-MILK-1L","category":"dairy_alt","quantity":3,"amountMinor":"1503"}],"deliveredAt":"'"$delivered_at"'","paymentMethod":"PAYMENT_METHOD_CARD"}}' >/dev/null

if ((demo)); then
  echo
  echo "==> the story (examples/node/demo.js; scripts/run.sh --no-demo skips it)"
  echo
  node examples/node/demo.js --address="$LISTEN" ||
    echo "(the story failed; makegood keeps serving, see its log above)" >&2
fi

cat <<MSG

makegood is serving on ${LISTEN}. Call it with any gRPC client that uses
server reflection, for example buf (installed in node_modules/.bin):

  ${BUF} curl --protocol grpc --http2-prior-knowledge --list-methods http://${LISTEN}
  ${BUF} curl --protocol grpc --http2-prior-knowledge http://${LISTEN}/grpc.health.v1.Health/Check
  ${BUF} curl --protocol grpc --http2-prior-knowledge -d '{"orderId":"demo-order-1"}' \\
      http://${LISTEN}/makegood.v1.OrderService/GetOrder
  ${BUF} curl --protocol grpc --http2-prior-knowledge -d '{"memberId":"demo-member"}' \\
      http://${LISTEN}/makegood.v1.MemberService/GetMember
  ${BUF} curl --protocol grpc --http2-prior-knowledge http://${LISTEN}/makegood.v1.PolicyService/GetPolicy

A backend client to copy (retries, idempotency keys, WatchRefund, auth):
examples/node/makegood_client.js; what to do with each error: docs/CLIENTS.md.

Press Ctrl-C to stop.
MSG
wait "${pids[-1]}"
