// File: tests/testing/fake_redis.cc
#include "tests/testing/fake_redis.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/redis/key_slot.h"

namespace makegood::testing {

void FakeRedis::On(std::string name, Handler handler) {
  absl::MutexLock lock(&mu_);
  handlers_[std::move(name)] = std::move(handler);
}

void FakeRedis::Answer(std::string name,
                       absl::StatusOr<redis::RedisReply> reply) {
  absl::MutexLock lock(&mu_);
  queued_[std::move(name)].push_back(Entry{std::nullopt, std::move(reply)});
}

void FakeRedis::Inject(std::string name, Fault fault) {
  absl::MutexLock lock(&mu_);
  queued_[std::move(name)].push_back(
      Entry{fault, absl::UnknownError("unused")});
}

void FakeRedis::set_ready(bool ready) {
  absl::MutexLock lock(&mu_);
  ready_ = ready;
}

std::vector<FakeRedis::Call> FakeRedis::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

std::vector<FakeRedis::Call> FakeRedis::calls(absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  std::vector<Call> out;
  for (const Call& call : calls_) {
    if (call.name == name) out.push_back(call);
  }
  return out;
}

int FakeRedis::count(absl::string_view name) const {
  return static_cast<int>(calls(name).size());
}

std::vector<FakeRedis::Call> FakeRedis::unexpected() const {
  absl::MutexLock lock(&mu_);
  return unexpected_;
}

int FakeRedis::ready_connections() const {
  absl::MutexLock lock(&mu_);
  return ready_ ? 1 : 0;
}

void FakeRedis::set_one_slot_per_command(bool one_slot) {
  absl::MutexLock lock(&mu_);
  one_slot_ = one_slot;
}

bool FakeRedis::one_slot_per_command() const {
  absl::MutexLock lock(&mu_);
  return one_slot_;
}

void FakeRedis::Command(std::vector<std::string> argv, Callback done) {
  Call call;
  call.name = argv.empty() ? "" : absl::AsciiStrToUpper(argv[0]);
  call.argv = std::move(argv);
  Run(std::move(call), std::move(done));
}

void FakeRedis::Eval(const redis::LuaScript& script,
                     std::vector<std::string> keys,
                     std::vector<std::string> args, Callback done) {
  Call call;
  call.name = script.name;
  call.script = &script;
  call.keys = std::move(keys);
  call.args = std::move(args);
  Run(std::move(call), std::move(done));
}

void FakeRedis::Run(Call call, Callback done) {
  if (one_slot_per_command()) {
    // The keys of a script, or the streams of a read (the first half of
    // what follows STREAMS).
    std::vector<std::string> keys = call.keys;
    if (call.name == "XREAD" || call.name == "XREADGROUP") {
      auto streams = std::find(call.argv.begin(), call.argv.end(), "STREAMS");
      if (streams != call.argv.end()) {
        const auto after = static_cast<size_t>(call.argv.end() - streams - 1);
        keys.assign(streams + 1, streams + 1 + after / 2);
      }
    }
    for (const std::string& key : keys) {
      if (redis::KeySlot(key) != redis::KeySlot(keys.front())) {
        {
          absl::MutexLock lock(&mu_);
          calls_.push_back(call);
        }
        done(absl::InternalError(
            "CROSSSLOT Keys in request don't hash to the same slot"));
        return;
      }
    }
  }
  std::optional<Entry> entry;
  Handler handler;
  bool down = false;
  {
    absl::MutexLock lock(&mu_);
    calls_.push_back(call);
    down = !ready_;
    if (!down) {  // A Redis that is down runs nothing and takes no entry.
      auto queued = queued_.find(call.name);
      if (queued != queued_.end() && !queued->second.empty()) {
        entry = std::move(queued->second.front());
        queued->second.pop_front();
      }
      auto found = handlers_.find(call.name);
      if (found != handlers_.end()) handler = found->second;
      if (!entry.has_value() && !handler) unexpected_.push_back(call);
    }
  }
  if (down) {  // Outside the lock: the callback may call again.
    done(absl::UnavailableError("FakeRedis: redis is down"));
    return;
  }
  if (entry.has_value() && !entry->fault.has_value()) {
    done(std::move(entry->reply));
    return;
  }
  if (entry.has_value()) {
    switch (*entry->fault) {
      case Fault::kTimeout:
        done(absl::UnavailableError(
            absl::StrCat("FakeRedis: ", call.name, " timed out")));
        return;
      case Fault::kError:
        done(absl::InternalError(
            absl::StrCat("redis: ERR FakeRedis: ", call.name, " failed")));
        return;
      case Fault::kLoseReply:
        if (handler) handler(call).IgnoreError();  // It ran; lost answer.
        done(absl::UnavailableError(
            absl::StrCat("FakeRedis: the reply to ", call.name, " was lost")));
        return;
    }
  }
  if (!handler) {
    done(absl::InternalError(
        absl::StrCat("FakeRedis: nothing scripted for ", call.name)));
    return;
  }
  done(handler(call));
}

redis::RedisReply Reply(std::string text) {
  return redis::RedisReply::String(std::move(text));
}

std::vector<redis::RedisReply> HashReply(
    const std::vector<std::pair<std::string, int64_t>>& fields) {
  std::vector<redis::RedisReply> out;
  out.reserve(2 * fields.size());
  for (const auto& [field, value] : fields) {
    out.push_back(redis::RedisReply::String(field));
    out.push_back(redis::RedisReply::String(absl::StrCat(value)));
  }
  return out;
}

redis::RedisReply Reply(int64_t value) {
  return redis::RedisReply::Integer(value);
}

redis::RedisReply Reply(std::vector<redis::RedisReply> elements) {
  return redis::RedisReply::Array(std::move(elements));
}

redis::RedisReply NilReply() { return redis::RedisReply::Nil(); }

namespace {

class Borrowed final : public redis::RedisClient {
 public:
  explicit Borrowed(redis::RedisClient& client) : client_(client) {}
  void Command(std::vector<std::string> argv, Callback done) override {
    client_.Command(std::move(argv), std::move(done));
  }
  void Eval(const redis::LuaScript& script, std::vector<std::string> keys,
            std::vector<std::string> args, Callback done) override {
    client_.Eval(script, std::move(keys), std::move(args), std::move(done));
  }
  int ready_connections() const override { return client_.ready_connections(); }
  bool one_slot_per_command() const override {
    return client_.one_slot_per_command();
  }

 private:
  redis::RedisClient& client_;
};

}  // namespace

std::unique_ptr<redis::RedisClient> Borrow(redis::RedisClient& client) {
  return std::make_unique<Borrowed>(client);
}

}  // namespace makegood::testing
