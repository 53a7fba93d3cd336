// File: services/redis/redis_client.cc
#include "services/redis/redis_client.h"

#include <utility>

#include "absl/synchronization/notification.h"

namespace makegood::redis {
namespace {

// Blocks until `start` answers through the callback it is given.
template <typename Start>
absl::StatusOr<RedisReply> Wait(Start start) {
  absl::Notification done;
  absl::StatusOr<RedisReply> result;
  start([&](absl::StatusOr<RedisReply> reply) {
    result = std::move(reply);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

}  // namespace

absl::StatusOr<RedisReply> RedisClient::CommandSync(
    std::vector<std::string> argv) {
  return Wait(
      [&](Callback done) { Command(std::move(argv), std::move(done)); });
}

absl::StatusOr<RedisReply> RedisClient::EvalSync(
    const LuaScript& script, std::vector<std::string> keys,
    std::vector<std::string> args) {
  return Wait([&](Callback done) {
    Eval(script, std::move(keys), std::move(args), std::move(done));
  });
}

}  // namespace makegood::redis
