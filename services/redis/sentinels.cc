// File: services/redis/sentinels.cc
#include "services/redis/sentinels.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "services/core/log.h"
#include "services/redis/hiredis_conversion.h"

namespace makegood::redis {
namespace {

// Tags telling the replies on a sentinel connection apart.
char kSentinelAuthTag;
char kSentinelQuestionTag;

}  // namespace

Sentinels::Sentinels(const RedisOptions& options, event_base* base,
                     PrimaryListener on_primary)
    : options_(options),
      base_(base),
      on_primary_(std::move(on_primary)),
      failing_(options.sentinels.size(), false) {}

Sentinels::~Sentinels() {
  waiters_.clear();
  Close();
}

void Sentinels::Ask(SteadyTime now, Done done) {
  waiters_.push_back(std::move(done));
  if (waiters_.size() == 1) {
    tried_ = 0;
    Query(now);
  }
}

void Sentinels::Tick(SteadyTime now) {
  if (broken_) Close();
  if (asking_ && now >= deadline_) {
    Failed(absl::StrCat("no answer within ",
                        FormatMillis(options_.sentinel_timeout)));
    Close();
  }
  if (now >= next_check_) {
    next_check_ =
        now + absl::ToChronoNanoseconds(options_.sentinel_check_interval);
    // The answer reaches the connections through on_primary_.
    Ask(now, [](absl::StatusOr<RedisAddress>) {});
  }
  if (!asking_ && !waiters_.empty()) {
    Query(now);  // The previous sentinel failed inside a callback.
  }
}

void Sentinels::Query(SteadyTime now) {
  if (broken_) Close();
  asking_ = true;
  deadline_ = now + absl::ToChronoNanoseconds(options_.sentinel_timeout);
  if (ctx_ == nullptr) {
    const RedisAddress& sentinel = options_.sentinels[current_];
    redisAsyncContext* ctx =
        redisAsyncConnect(sentinel.host.c_str(), sentinel.port);
    if (ctx == nullptr || ctx->err != 0) {
      std::string error = ctx != nullptr ? ctx->errstr : "out of memory";
      if (ctx != nullptr) redisAsyncFree(ctx);
      Failed(error);
      return;
    }
    ctx->data = this;
    redisLibeventAttach(ctx, base_);
    redisAsyncSetConnectCallback(ctx, &Sentinels::OnConnect);
    redisAsyncSetDisconnectCallback(ctx, &Sentinels::OnDisconnect);
    ctx_ = ctx;
    if (!options_.sentinel_password.empty()) {
      Send({"AUTH", options_.sentinel_password}, &kSentinelAuthTag);
    }
  }
  Send({"SENTINEL", "get-master-addr-by-name", options_.sentinel_master},
       &kSentinelQuestionTag);
}

void Sentinels::Send(const std::vector<std::string>& args, void* tag) {
  if (broken_ || ctx_ == nullptr) return;
  if (SendArgv(ctx_, &Sentinels::OnReply, tag, args) != REDIS_OK) {
    Failed("connection is not writable");
  }
}

void Sentinels::Close() {
  broken_ = false;
  if (ctx_ == nullptr) return;
  redisAsyncContext* ctx = ctx_;
  ctx_ = nullptr;
  redisAsyncFree(ctx);
}

void Sentinels::Failed(absl::string_view why) {
  if (!asking_) return;
  asking_ = false;
  if (ctx_ != nullptr) broken_ = true;  // Closed at the next tick.
  const std::string sentinel = FormatRedisAddress(options_.sentinels[current_]);
  if (!failing_[current_]) {
    failing_[current_] = true;
    Log(LogLevel::kWarning, "redis_sentinel_failed",
        {{"sentinel", sentinel},
         {"master", options_.sentinel_master},
         {"error", why},
         {"note", "asking the next sentinel; repeats not logged"}});
  }
  last_error_ = absl::StrCat(sentinel, ": ", why);
  current_ = (current_ + 1) % options_.sentinels.size();
  if (++tried_ >= options_.sentinels.size()) {
    Answer(absl::UnavailableError(absl::StrCat(
        "no sentinel named the redis primary \"", options_.sentinel_master,
        "\" (last: ", last_error_, ")")));
  }
}

void Sentinels::Answer(absl::StatusOr<RedisAddress> primary) {
  asking_ = false;
  tried_ = 0;
  if (primary.ok()) {
    failing_[current_] = false;
    if (primary_.has_value() && *primary_ != *primary) {
      Log(LogLevel::kWarning, "redis_primary_changed",
          {{"master", options_.sentinel_master},
           {"from", FormatRedisAddress(*primary_)},
           {"to", FormatRedisAddress(*primary)}});
    }
    primary_ = *primary;
    on_primary_(*primary);
  }
  std::vector<Done> waiters;
  waiters.swap(waiters_);
  for (Done& done : waiters) done(primary);
}

void Sentinels::Answered(const redisReply* reply) {
  if (reply->type == REDIS_REPLY_ERROR) {
    Failed(absl::string_view(reply->str, reply->len));
    return;
  }
  if (reply->type == REDIS_REPLY_NIL) {
    Failed(absl::StrCat("does not know master \"", options_.sentinel_master,
                        "\""));
    return;
  }
  RedisAddress primary;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
      reply->element[0]->type != REDIS_REPLY_STRING ||
      reply->element[1]->type != REDIS_REPLY_STRING ||
      reply->element[0]->len == 0 ||
      !ParsePort(
          absl::string_view(reply->element[1]->str, reply->element[1]->len),
          &primary.port)) {
    Failed("unexpected answer to SENTINEL get-master-addr-by-name");
    return;
  }
  primary.host.assign(reply->element[0]->str, reply->element[0]->len);
  Answer(std::move(primary));
}

void Sentinels::OnConnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<Sentinels*>(ac->data);
  if (self->ctx_ != ac || status == REDIS_OK) return;
  self->ctx_ = nullptr;  // hiredis frees it.
  self->Failed(ac->errstr != nullptr ? ac->errstr : "connect failed");
}

void Sentinels::OnDisconnect(const redisAsyncContext* ac, int /*status*/) {
  auto* self = static_cast<Sentinels*>(ac->data);
  if (self->ctx_ != ac) return;
  self->ctx_ = nullptr;  // hiredis frees it.
  self->broken_ = false;
  self->Failed("connection closed");
}

void Sentinels::OnReply(redisAsyncContext* ac, void* reply, void* tag) {
  auto* self = static_cast<Sentinels*>(ac->data);
  if (self->ctx_ != ac || self->broken_) return;
  if (reply == nullptr) {  // hiredis is freeing the connection.
    self->ctx_ = nullptr;
    self->Failed("connection lost");
    return;
  }
  const auto* r = static_cast<const redisReply*>(reply);
  if (tag == &kSentinelAuthTag) {
    if (r->type == REDIS_REPLY_ERROR) {
      self->Failed(absl::StrCat("AUTH: ", absl::string_view(r->str, r->len)));
    }
    return;
  }
  self->Answered(r);
}

}  // namespace makegood::redis
