// File: services/tools/admin/blocking_redis.h
//
// Redis for a command-line tool: every call waited for. On a single Redis,
// one connection: pipelined commands and MULTI/EXEC blocks are answered in
// the order they were sent. On a Redis Cluster (a redis-cluster:// URL,
// redis::ClusterClient): each command goes to the primary of its key's
// slot, each MULTI/EXEC block to the primary of its one slot (on that
// node's one connection, so it still describes one instant), and Scan
// walks every primary, since SCAN sees only the keys of the node it runs
// on. Also Wait(), which waits for any callback API (the tools share the
// server's RefundStore code).
//
// Example:
//   MAKEGOOD_ASSIGN_OR_RETURN(auto redis, BlockingRedis::Connect(options));
//   MAKEGOOD_ASSIGN_OR_RETURN(redis::RedisReply pong, redis->Run({"PING"}));
//
// Thread-safety: one thread calls it; the client's callbacks only hand
// replies back to that thread.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "services/redis/cluster_client.h"
#include "services/redis/redis_client.h"
#include "services/redis/redis_options.h"
#include "services/redis/redis_reply.h"

namespace makegood::admin {

using Argv = std::vector<std::string>;

class BlockingRedis {
 public:
  // Connects (waiting up to the connect timeout) and proves the connection
  // with PING; UNAVAILABLE when no connection comes up.
  static absl::StatusOr<std::unique_ptr<BlockingRedis>> Connect(
      redis::RedisOptions options);

  redis::RedisClient& client() { return *client_; }
  // Whether it talks to a Redis Cluster.
  bool cluster() const { return cluster_ != nullptr; }

  absl::StatusOr<redis::RedisReply> Run(Argv argv);

  // Sends every command before waiting for any answer: one round trip.
  std::vector<absl::StatusOr<redis::RedisReply>> Pipeline(
      std::vector<Argv> commands);

  // Each block runs as MULTI ... EXEC (all blocks pipelined), so a block's
  // replies describe one instant. Every key of a block must be in one hash
  // slot (one partition's tag), on a single Redis too, so that what works
  // there works on a cluster: else INVALID_ARGUMENT naming two of them. Any
  // error fails the whole call. On a cluster, a block whose slot is moving
  // to another primary is refused (TRYAGAIN) for as long as some of its keys
  // are missing (moved, or absent like a card refund's wallet key) on the
  // node asked, i.e. until the move ends: it is sent again, up to 10 times
  // a second apart, after the client's own retries.
  absl::StatusOr<std::vector<std::vector<redis::RedisReply>>> Snapshots(
      std::vector<std::vector<Argv>> blocks);

  absl::StatusOr<redis::RedisReply> Eval(const redis::LuaScript& script,
                                         std::vector<std::string> keys,
                                         std::vector<std::string> args);

  // Calls `batch` with the keys matching `pattern` (of type `type`), each
  // key once (SCAN may repeat keys while Redis rehashes). On a cluster,
  // every primary of the slot map is scanned in turn; a slot that moves
  // meanwhile may have its keys seen twice (given once) or, if it moves to
  // a node already scanned, missed, as SCAN itself misses keys added
  // during a scan.
  absl::Status Scan(
      const std::string& pattern, const std::string& type,
      absl::FunctionRef<absl::Status(std::vector<std::string>)> batch);

 private:
  explicit BlockingRedis(std::unique_ptr<redis::RedisClient> client);

  // Calls `issue(i, done)` for i in [0, n) and waits for every `done`.
  using Issue =
      absl::FunctionRef<void(size_t, redis::RedisClient::Callback done)>;
  static std::vector<absl::StatusOr<redis::RedisReply>> Gather(size_t n,
                                                               Issue issue);
  // Cluster: each block as a ClusterClient::Transaction, those refused
  // while their slot moves sent again.
  std::vector<absl::StatusOr<redis::RedisReply>> Transactions(
      const std::vector<std::vector<Argv>>& blocks);
  absl::Status ScanOne(
      const redis::RedisAddress* node, const std::string& pattern,
      const std::string& type, absl::flat_hash_set<std::string>& seen,
      absl::FunctionRef<absl::Status(std::vector<std::string>)> batch);

  std::unique_ptr<redis::RedisClient> client_;
  // client_ when it is a cluster client, else null.
  redis::ClusterClient* cluster_ = nullptr;
};

// Calls `call` with a completion callback and waits for it.
template <typename T>
absl::StatusOr<T> Wait(
    absl::FunctionRef<void(absl::AnyInvocable<void(absl::StatusOr<T>)>)> call) {
  auto state =
      std::make_shared<std::pair<absl::Notification, absl::StatusOr<T>>>();
  call([state](absl::StatusOr<T> result) {
    state->second = std::move(result);
    state->first.Notify();
  });
  state->first.WaitForNotification();
  return std::move(state->second);
}

}  // namespace makegood::admin
