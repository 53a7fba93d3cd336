// File: services/redis/sentinels.h
//
// Sentinels: asks Redis Sentinel where the primary is, for a HiredisClient
// in Sentinel mode (RedisOptions::sentinels non-empty). Internal to
// services/redis.
//
// One question at a time: Ask() while one is out joins it. The connection to
// the sentinel that answered is kept for the next question; a sentinel that
// fails (refused, closed, an error or malformed answer, no answer within
// sentinel_timeout) is dropped and the next one asked, until each has been
// tried once. Every answer is also given to `on_primary`, and the sentinels
// are asked again every sentinel_check_interval, so that the client can drop
// connections to a server that is no longer the primary.
//
// Example (on the loop thread):
//   Sentinels sentinels(options, base, [&](const RedisAddress& primary) {
//     for (auto& c : connections) c->PrimaryIs(primary);
//   });
//   sentinels.Ask(SteadyNow(), [](absl::StatusOr<RedisAddress> primary) {});
//   // ... and sentinels.Tick(SteadyNow()) every few milliseconds.
//
// Thread-safety: lives on the loop thread only; never frees a hiredis context
// inside a hiredis callback.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/redis/client_state.h"
#include "services/redis/redis_options.h"

struct event_base;
struct redisAsyncContext;
struct redisReply;

namespace makegood::redis {

class Sentinels {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<RedisAddress>)>;
  using PrimaryListener = absl::AnyInvocable<void(const RedisAddress&)>;

  // `options` (sentinels, sentinel_master, sentinel_password, sentinel_timeout,
  // sentinel_check_interval) and `base` must outlive this object.
  Sentinels(const RedisOptions& options, event_base* base,
            PrimaryListener on_primary);

  // Waiting callers are dropped, not called: their connections go too.
  ~Sentinels();

  Sentinels(const Sentinels&) = delete;
  Sentinels& operator=(const Sentinels&) = delete;

  // `done` gets the primary's address, or UNAVAILABLE if no sentinel named
  // it; called on the loop thread, possibly before Ask returns. Not to be
  // called from a hiredis callback.
  void Ask(SteadyTime now, Done done);

  // Times out a question, asks again every sentinel_check_interval, and
  // closes a connection that failed inside a callback.
  void Tick(SteadyTime now);

 private:
  void Query(SteadyTime now);
  void Send(const std::vector<std::string>& args, void* tag);
  // Frees the connection (never from inside its callbacks: they see ctx_
  // cleared and do nothing).
  void Close();
  // The current sentinel did not answer: ask the next, or give up.
  void Failed(absl::string_view why);
  void Answer(absl::StatusOr<RedisAddress> primary);
  // SENTINEL get-master-addr-by-name answers [host, port], or nil for a
  // master it does not know.
  void Answered(const redisReply* reply);

  static void OnConnect(const redisAsyncContext* ac, int status);
  static void OnDisconnect(const redisAsyncContext* ac, int status);
  static void OnReply(redisAsyncContext* ac, void* reply, void* tag);

  const RedisOptions& options_;
  event_base* const base_;
  PrimaryListener on_primary_;
  redisAsyncContext* ctx_ = nullptr;
  // ctx_ failed inside a callback and is freed at the next tick.
  bool broken_ = false;
  // A question is out on ctx_, due by deadline_.
  bool asking_ = false;
  SteadyTime deadline_{};
  SteadyTime next_check_{};
  size_t current_ = 0;  // Index of the sentinel asked.
  size_t tried_ = 0;    // Sentinels that failed the current question.
  std::vector<Done> waiters_;
  std::vector<bool> failing_;  // Per sentinel: failure logged, not recovered.
  std::string last_error_;
  std::optional<RedisAddress> primary_;  // Last answer.
};

}  // namespace makegood::redis
