// File: services/redis/redis_client.h
//
// The seam between makegood and Redis: everything above the Redis layer
// (stores, the rating and goodwill flows, the settlement worker, insights)
// talks to this interface and never to hiredis. Production uses
// HiredisClient (hiredis_client.h: single node or Sentinel) or ClusterClient
// (cluster_client.h: Redis Cluster), started by StartRedisClient
// (redis_client_factory.h); unit tests use
// testing::FakeRedis (tests/testing/fake_redis.h), which answers with
// scripted replies and injects faults without a redis-server.
//
// The contract every implementation keeps, and callers rely on:
//   - `done` runs exactly once, on an implementation thread (for
//     HiredisClient the I/O thread): it must not block; it may issue further
//     commands;
//   - UNAVAILABLE: Redis unreachable, timed out, connection lost, at
//     capacity, or a transient error answer (LOADING, BUSY, READONLY,
//     MASTERDOWN, OOM, TRYAGAIN, NOREPLICAS, CLUSTERDOWN). The command may
//     still have run (the reply was lost), so every write makegood sends is
//     idempotent;
//   - INTERNAL: Redis answered with an error (the message has its text);
//   - Eval runs a script atomically; keys are passed in `keys` (KEYS) and
//     every key a script touches is one of them.
//
// Thread-safety: implementations are thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "services/redis/lua_script.h"
#include "services/redis/redis_reply.h"

namespace makegood::redis {

class RedisClient {
 public:
  using Callback = absl::AnyInvocable<void(absl::StatusOr<RedisReply>)>;

  virtual ~RedisClient() = default;

  // Sends `argv` (binary-safe).
  virtual void Command(std::vector<std::string> argv, Callback done) = 0;

  // Runs `script` with `keys` as KEYS and `args` as ARGV.
  virtual void Eval(const LuaScript& script, std::vector<std::string> keys,
                    std::vector<std::string> args, Callback done) = 0;

  // Connections ready to send; 0 means commands fail at once (fail closed).
  virtual int ready_connections() const = 0;

  // Whether one command may name keys of one hash slot only (Redis
  // Cluster): then a read over several partitions' streams is one command
  // per slot (streams/stream_read.h).
  virtual bool one_slot_per_command() const { return false; }

  // Blocking convenience for tools, tests, start-up and the stream
  // consumers' own clients. Never call it from a callback or a gRPC handler.
  virtual absl::StatusOr<RedisReply> CommandSync(std::vector<std::string> argv);
  absl::StatusOr<RedisReply> EvalSync(const LuaScript& script,
                                      std::vector<std::string> keys,
                                      std::vector<std::string> args);
};

}  // namespace makegood::redis
