// File: tests/testing/redis_cluster.h
//
// A real Redis Cluster for integration tests: six redis-server nodes
// (RedisServer::StartClusterNode) on free loopback ports, joined by
// `redis-cli --cluster create ... --cluster-replicas 1` into 3 primaries with
// one replica each, node timeout 2000 ms (../shared/CLUSTER.md), keyspace
// notifications for stream commands on (`notify-keyspace-events Kt`, which
// wakes makegood's stream consumers on a cluster). Start() returns once
// every node reports cluster_state:ok and sees all six.
//
// Besides the URL it offers what tests of resharding and failover need:
// which node serves a slot or a key, the four steps of moving one slot by hand
// (each its own call, so a test can run traffic between them), and killing a
// primary, waiting for its replica to take over and bringing the killed
// node back as a replica, and what each node counted (INFO errorstats and
// commandstats: how often it answered ASK or TRYAGAIN, ran ASKING). Every
// node's scripts are audited as RedisServer's are (script_key_audit.h).
//
// Admin commands go through redis-cli, so they are slow (a process each)
// and meant for set-up and checks, not traffic.
//
// Thread-safety: not thread-safe; owned by one test.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/redis_server.h"

namespace makegood::testing {

class RedisCluster {
 public:
  static constexpr int kNodes = 6;

  // Starts the six nodes, creates the cluster, waits until it is ok.
  static absl::StatusOr<std::unique_ptr<RedisCluster>> Start();

  // Stops every node.
  ~RedisCluster();

  // "redis-cluster://127.0.0.1:p1,127.0.0.1:p2,..." (all six nodes).
  std::string url() const;

  int port(int node) const { return nodes_[node]->port(); }
  RedisServer& node(int node) { return *nodes_[node]; }
  bool alive(int node) const { return alive_[node]; }

  // Runs one command on `node` (redis-cli -p port args...): its output,
  // trimmed; INTERNAL when redis-cli fails or Redis answers an error.
  absl::StatusOr<std::string> Cli(int node,
                                  const std::vector<std::string>& args);

  // The node's cluster id (CLUSTER MYID).
  absl::StatusOr<std::string> NodeId(int node);
  // The live primaries, as node indexes, by what a live node's CLUSTER
  // NODES says.
  absl::StatusOr<std::vector<int>> Primaries();
  // The primary that serves `slot`, by what `asked` (any live node if -1)
  // says.
  absl::StatusOr<int> NodeServingSlot(int slot, int asked = -1);
  // The same for the slot of `key` (hash tags honoured).
  absl::StatusOr<int> NodeServingKey(const std::string& key, int asked = -1);
  // The number of keys `node` holds (DBSIZE) and whether it holds `key`
  // (EXISTS), asked of that node itself.
  absl::StatusOr<int64_t> DbSize(int node);
  absl::StatusOr<bool> Holds(int node, const std::string& key);
  // How often `node` answered with the error `prefix` (INFO errorstats),
  // e.g. "ASK", "TRYAGAIN", "MOVED", "CLUSTERDOWN"; 0 if never.
  absl::StatusOr<int64_t> ErrorCount(int node, const std::string& prefix);
  // How often `node` ran `command` (INFO commandstats), e.g. "asking",
  // "evalsha"; 0 if never.
  absl::StatusOr<int64_t> CommandCalls(int node, const std::string& command);

  // Moving `slot` from primary `source` to primary `target`, one step a
  // call, in this order:
  //   1. on the target: CLUSTER SETSLOT slot IMPORTING <source-id>;
  absl::Status SetSlotImporting(int slot, int source, int target);
  //   2. on the source: CLUSTER SETSLOT slot MIGRATING <target-id>;
  absl::Status SetSlotMigrating(int slot, int source, int target);
  //   3. on the source: MIGRATE of every key of the slot to the target
  //      (CLUSTER GETKEYSINSLOT, in batches), returning how many moved;
  absl::StatusOr<int> MigrateKeys(int slot, int source, int target);
  //   4. on every live primary: CLUSTER SETSLOT slot NODE <target-id>.
  absl::Status SetSlotNode(int slot, int target);

  // SIGKILL of `node`, as in a crash.
  absl::Status Kill(int node);
  // Waits until a replica of the killed primary `killed` is a primary and
  // every live node reports cluster_state:ok; returns that replica.
  absl::StatusOr<int> WaitForPromotion(int killed, absl::Duration timeout);
  // Waits until every live node reports cluster_state:ok and agrees on the
  // primaries.
  absl::Status WaitUntilOk(absl::Duration timeout);
  // Starts the killed `node` again (same port, its nodes.conf kept): it
  // rejoins as a replica of whoever took over its slots. Waits until it
  // has synced and every node reports cluster_state:ok.
  absl::Status RestartAsReplica(int node, absl::Duration timeout);

 private:
  RedisCluster() = default;
  // A live node, or -1.
  int AnyLiveNode() const;
  // The node index listening on "ip:port".
  int NodeAt(const std::string& ip_port) const;
  // What `asked` says in CLUSTER NODES, a line each.
  absl::StatusOr<std::vector<std::vector<std::string>>> ClusterNodes(int asked);
  // The counter `field` of the line `name:` in INFO `section` of `node`
  // ("errorstat_ASK:count=3" -> 3 for name "errorstat_ASK", field "count").
  absl::StatusOr<int64_t> InfoCounter(int node, const std::string& section,
                                      const std::string& name,
                                      const std::string& field);

  std::vector<std::unique_ptr<RedisServer>> nodes_;
  std::vector<bool> alive_;
  std::vector<std::string> ids_;
  // The primary each node replicates (-1: none, a primary).
  std::vector<int> replica_of_;
};

}  // namespace makegood::testing
