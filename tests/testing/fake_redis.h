// File: tests/testing/fake_redis.h
//
// A RedisClient (services/redis/redis_client.h) without a server, for unit
// tests of everything above the Redis layer. It records every call and
// answers from a script the test writes:
//
//   FakeRedis redis;
//   redis.On("admit_rating", [](const FakeRedis::Call& call) { ... });
//   redis.Answer("commit_rating", Reply("STALE"));   // The next call only...
//   redis.Inject("commit_rating", FakeRedis::Fault::kLoseReply);  // ...then a
//   fault.
//
// A call's name is the script's name (LuaScript::name) for Eval and the
// upper-cased command (argv[0]) for Command. For each call the fake takes,
// in order: the next queued one-shot entry for that name (an Answer or a
// Fault, in the order they were queued), else the name's handler (On), else
// it answers INTERNAL and records the call as unexpected.
//
// Faults model what a real Redis and network do to a caller:
//   kTimeout     the command never ran; the caller gets UNAVAILABLE;
//   kLoseReply   the command ran (the handler's effects happen) but the reply
//                was lost; the caller gets UNAVAILABLE;
//   kError       Redis answered an error; the caller gets INTERNAL.
// set_ready(false) is a Redis that is down: every call fails UNAVAILABLE at
// once without running, and ready_connections() is 0.
// set_one_slot_per_command(true) is a Redis Cluster: a script or a stream
// read (XREAD, XREADGROUP) whose keys span two hash slots is answered
// INTERNAL "CROSSSLOT ..." without running, as Redis answers it.
//
// Callbacks run inline on the calling thread (so unit tests are
// deterministic), never with the fake's lock held: a callback may issue
// further commands.
//
// Thread-safety: thread-safe.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "services/redis/redis_client.h"

namespace makegood::testing {

class FakeRedis final : public redis::RedisClient {
 public:
  struct Call {
    std::string name;  // Script name or upper-case command.
    const redis::LuaScript* script = nullptr;  // Eval only.
    std::vector<std::string> argv;             // Command only.
    std::vector<std::string> keys;             // Eval only: KEYS.
    std::vector<std::string> args;             // Eval only: ARGV.
  };
  using Handler = std::function<absl::StatusOr<redis::RedisReply>(const Call&)>;

  enum class Fault { kTimeout, kLoseReply, kError };

  // The handler for every call of `name` that no one-shot entry takes.
  void On(std::string name, Handler handler);
  // The next call of `name` gets `reply` (queued behind earlier entries).
  void Answer(std::string name, absl::StatusOr<redis::RedisReply> reply);
  // The next call of `name` suffers `fault` (queued behind earlier entries).
  // kLoseReply runs the name's handler (On) and drops its answer.
  void Inject(std::string name, Fault fault);

  void set_ready(bool ready);
  void set_one_slot_per_command(bool one_slot);

  // Every call so far, in order, and those of one name.
  std::vector<Call> calls() const;
  std::vector<Call> calls(absl::string_view name) const;
  int count(absl::string_view name) const;
  // Calls nothing was scripted for (answered INTERNAL).
  std::vector<Call> unexpected() const;

  // redis::RedisClient:
  void Command(std::vector<std::string> argv, Callback done) override;
  void Eval(const redis::LuaScript& script, std::vector<std::string> keys,
            std::vector<std::string> args, Callback done) override;
  int ready_connections() const override;
  bool one_slot_per_command() const override;

 private:
  struct Entry {
    std::optional<Fault> fault;
    absl::StatusOr<redis::RedisReply> reply;
  };

  void Run(Call call, Callback done);

  mutable absl::Mutex mu_;
  bool ready_ ABSL_GUARDED_BY(mu_) = true;
  bool one_slot_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, Handler, std::less<>> handlers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::deque<Entry>, std::less<>> queued_
      ABSL_GUARDED_BY(mu_);
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<Call> unexpected_ ABSL_GUARDED_BY(mu_);
};

// A client that forwards every call to `client` without owning it: for
// components that take ownership of a client of their own (the stream
// consumer's blocking client) while the test keeps the fake.
std::unique_ptr<redis::RedisClient> Borrow(redis::RedisClient& client);

// Reply builders for scripted answers.
redis::RedisReply Reply(std::string text);  // A bulk string.
redis::RedisReply Reply(int64_t value);     // An integer.
redis::RedisReply Reply(std::vector<redis::RedisReply> elements);  // Array.
redis::RedisReply NilReply();
// A hash as HGETALL answers it: field, value, ... (values as integer text).
std::vector<redis::RedisReply> HashReply(
    const std::vector<std::pair<std::string, int64_t>>& fields);

}  // namespace makegood::testing
