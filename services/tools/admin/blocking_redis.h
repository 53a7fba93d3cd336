// File: services/tools/admin/blocking_redis.h
//
// Redis for a command-line tool: one connection, every call waited for. With
// one connection, pipelined commands and MULTI/EXEC blocks are answered in
// the order they were sent. Also Wait(), which waits for any callback API
// (the tools share the server's RefundStore code).
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

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
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

  absl::StatusOr<redis::RedisReply> Run(Argv argv);

  // Sends every command before waiting for any answer: one round trip.
  std::vector<absl::StatusOr<redis::RedisReply>> Pipeline(
      std::vector<Argv> commands);

  // Each block runs as MULTI ... EXEC (all blocks pipelined), so a block's
  // replies describe one instant. Any error fails the whole call.
  absl::StatusOr<std::vector<std::vector<redis::RedisReply>>> Snapshots(
      std::vector<std::vector<Argv>> blocks);

  absl::StatusOr<redis::RedisReply> Eval(const redis::LuaScript& script,
                                         std::vector<std::string> keys,
                                         std::vector<std::string> args);

  // Calls `batch` with the keys matching `pattern` (of type `type`), each
  // key once (SCAN may repeat keys while Redis rehashes).
  absl::Status Scan(
      const std::string& pattern, const std::string& type,
      absl::FunctionRef<absl::Status(std::vector<std::string>)> batch);

 private:
  explicit BlockingRedis(std::unique_ptr<redis::RedisClient> client)
      : client_(std::move(client)) {}

  std::unique_ptr<redis::RedisClient> client_;
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
