#include "services/redis/hiredis_client.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "services/core/log.h"

namespace makegood::redis {
namespace {

// Timeouts use the monotonic clock: they measure elapsed time, not business
// time, so they do not go through the injected Clock.
using SteadyTime = std::chrono::steady_clock::time_point;
SteadyTime SteadyNow() { return std::chrono::steady_clock::now(); }

constexpr std::chrono::milliseconds kTickInterval{5};

RedisReply Convert(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
      return RedisReply::String(std::string(r->str, r->len));
    case REDIS_REPLY_STATUS:
      return RedisReply::Status(std::string(r->str, r->len));
    case REDIS_REPLY_INTEGER:
      return RedisReply::Integer(r->integer);
    case REDIS_REPLY_ARRAY: {
      std::vector<RedisReply> elements;
      elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) {
        elements.push_back(Convert(r->element[i]));
      }
      return RedisReply::Array(std::move(elements));
    }
    case REDIS_REPLY_ERROR: {
      RedisReply e;
      e.type = RedisReply::Type::kError;
      e.str.assign(r->str, r->len);
      return e;
    }
    default:
      return RedisReply::Nil();
  }
}

// Errors that pass by themselves (a replica being promoted, a dataset
// loading, a busy script, memory pressure) are UNAVAILABLE: retry later.
absl::Status ErrorReplyToStatus(absl::string_view text) {
  static constexpr absl::string_view kTransient[] = {
      "LOADING", "BUSY",     "READONLY",   "MASTERDOWN",
      "OOM",     "TRYAGAIN", "NOREPLICAS", "CLUSTERDOWN"};
  for (absl::string_view prefix : kTransient) {
    if (absl::StartsWith(text, prefix)) {
      return absl::UnavailableError(absl::StrCat("redis: ", text));
    }
  }
  return absl::InternalError(absl::StrCat("redis: ", text));
}

std::string FormatMillis(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Milliseconds(d), "ms");
}

// Queues `args` (binary-safe) on `ctx`; hiredis copies them. REDIS_OK or
// REDIS_ERR (the context is closing).
int CommandArgv(redisAsyncContext* ctx, redisCallbackFn* fn, void* privdata,
                const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  return redisAsyncCommandArgv(ctx, fn, privdata, static_cast<int>(args.size()),
                               argv.data(), lengths.data());
}

// Tags telling the replies on a sentinel connection apart.
char kSentinelAuthTag;
char kSentinelQuestionTag;

}  // namespace

struct HiredisClient::Pending {
  std::vector<std::string> argv;
  Callback done;
  SteadyTime deadline;
  bool finished = false;
  // Set for EVALSHA: argv is kept until the reply so that a NOSCRIPT answer
  // can be re-sent as EVAL without copying it up front.
  const LuaScript* script = nullptr;
  bool sent_source = false;
};

// One hiredis async connection. Lives on the loop thread only.
//
// Direct mode: kDisconnected -> kConnecting -> kReady.
// Sentinel mode: kDisconnected -> kResolving (the sentinels name the
// primary) -> kConnecting -> kVerifying (ROLE must say master) -> kReady.
// kClosing: a ready connection that must be dropped (reset at the next tick,
// since hiredis does not allow freeing a context inside its callbacks).
class HiredisClient::Connection {
 public:
  Connection(HiredisClient* owner, int index)
      : owner_(owner),
        index_(index),
        backoff_(
            absl::ToChronoNanoseconds(owner->options_.reconnect_min_backoff)) {}

  ~Connection() { Reset(absl::UnavailableError("redis client shut down")); }

  bool ready() const { return state_ == State::kReady; }

  void Send(std::unique_ptr<Pending> pending) {
    if (CommandArgv(ctx_, &Connection::OnReply, pending.get(), pending->argv) !=
        REDIS_OK) {
      owner_->Finish(pending.get(), absl::UnavailableError(
                                        "redis connection is not writable"));
      return;
    }
    // hiredis has copied the command into its output buffer.
    if (pending->script == nullptr || pending->sent_source) pending->argv = {};
    inflight_.push_back(std::move(pending));
  }

  void Tick(SteadyTime now) {
    if (ctx_ != nullptr && !reset_reason_.ok()) {
      Reset(reset_reason_);
      return;
    }
    switch (state_) {
      case State::kDisconnected:
        if (now >= next_attempt_) Connect(now);
        break;
      case State::kResolving:
        break;  // The sentinels answer or give up within their timeouts.
      case State::kConnecting:
        if (now >= connect_deadline_) {
          ConnectFailed("connect timed out");
          Reset(absl::UnavailableError("redis connect timed out"));
        }
        break;
      case State::kVerifying:
      case State::kReady:
      case State::kClosing:
        if (!inflight_.empty() && inflight_.front()->deadline < now) {
          // Redis answers in order: if the oldest command is late, the
          // connection is stalled. Reset it rather than wait forever.
          owner_->timeouts_.fetch_add(1, std::memory_order_relaxed);
          Log(LogLevel::kWarning, "redis_command_timeout",
              {{"connection", index_},
               {"inflight", static_cast<int64_t>(inflight_.size())},
               {"timeout", FormatMillis(owner_->options_.command_timeout)}});
          Reset(absl::UnavailableError(
              absl::StrCat("redis did not answer within ",
                           FormatMillis(owner_->options_.command_timeout))));
        }
        break;
    }
  }

  // Sentinel mode: the sentinels name `primary`. A connection to another
  // server is dropped (it reconnects through the sentinels): after a
  // failover the old primary keeps taking writes until Sentinel demotes it.
  void PrimaryIs(const RedisAddress& primary) {
    if (ctx_ == nullptr || address_ == primary || !reset_reason_.ok()) return;
    owner_->primary_changes_.fetch_add(1, std::memory_order_relaxed);
    MarkForReset(absl::UnavailableError(
        absl::StrCat("redis primary moved from ", FormatRedisAddress(address_),
                     " to ", FormatRedisAddress(primary))));
  }

 private:
  enum class State {
    kDisconnected,
    kResolving,
    kConnecting,
    kVerifying,
    kReady,
    kClosing
  };

  bool sentinel_mode() const { return owner_->sentinels_ != nullptr; }

  void SetState(State state) {
    if (state_ == State::kReady && state != State::kReady) {
      owner_->ready_connections_.fetch_sub(1, std::memory_order_relaxed);
    } else if (state_ != State::kReady && state == State::kReady) {
      owner_->ready_connections_.fetch_add(1, std::memory_order_relaxed);
    }
    state_ = state;
  }

  // Takes the connection out of use now and drops it at the next tick; the
  // first reason given is what its commands in flight fail with.
  void MarkForReset(absl::Status why) {
    if (!reset_reason_.ok()) return;
    reset_reason_ = std::move(why);
    if (state_ == State::kReady) SetState(State::kClosing);
  }

  // Defined after Sentinels.
  void Connect(SteadyTime now);

  void Resolved(absl::StatusOr<RedisAddress> primary) {
    if (state_ != State::kResolving) return;
    if (!primary.ok()) {
      ConnectFailed(primary.status().message());
      SetState(State::kDisconnected);
      ScheduleReconnect(SteadyNow());
      return;
    }
    ConnectTo(*std::move(primary), SteadyNow());
  }

  void ConnectTo(RedisAddress address, SteadyTime now) {
    address_ = std::move(address);
    redisAsyncContext* ctx =
        redisAsyncConnect(address_.host.c_str(), address_.port);
    if (ctx == nullptr || ctx->err != 0) {
      if (ctx != nullptr) {
        ConnectFailed(ctx->errstr);
        redisAsyncFree(ctx);
      }
      SetState(State::kDisconnected);
      ScheduleReconnect(now);
      return;
    }
    ctx->data = this;
    redisLibeventAttach(ctx, owner_->base_);
    redisAsyncSetConnectCallback(ctx, &Connection::OnConnect);
    redisAsyncSetDisconnectCallback(ctx, &Connection::OnDisconnect);
    ctx_ = ctx;
    SetState(State::kConnecting);
    connect_deadline_ =
        now + absl::ToChronoNanoseconds(owner_->options_.connect_timeout);
  }

  void ScheduleReconnect(SteadyTime now) {
    next_attempt_ = now + backoff_;
    backoff_ = std::min(
        backoff_ * 2,
        absl::ToChronoNanoseconds(owner_->options_.reconnect_max_backoff));
  }

  // Drops the connection: every command in flight fails with `why`.
  void Reset(absl::Status why) {
    if (ctx_ != nullptr) {
      reset_reason_ = why;
      redisAsyncContext* ctx = ctx_;
      ctx_ = nullptr;
      SetState(State::kDisconnected);
      redisAsyncFree(ctx);  // Calls OnReply(nullptr) for each command.
      ScheduleReconnect(SteadyNow());
    }
    while (!inflight_.empty()) {
      std::unique_ptr<Pending> pending = std::move(inflight_.front());
      inflight_.pop_front();
      owner_->Finish(pending.get(), why);
    }
  }

  // Logs the first failed attempt of an outage only; retries are quiet.
  void ConnectFailed(absl::string_view error) {
    if (failed_attempts_++ == 0) {
      Log(LogLevel::kWarning, "redis_connect_failed",
          {{"connection", index_},
           {"addr", address_.host.empty()
                        ? DescribeRedisTarget(owner_->options_)
                        : FormatRedisAddress(address_)},
           {"error", error},
           {"note", "retrying with backoff; further failures not logged"}});
    }
  }
  void ConnectFailed(const char* error) {
    ConnectFailed(absl::string_view(error != nullptr ? error : ""));
  }

  // The connection failed or was closed by the server: hiredis frees it.
  void Lost(bool connecting, const char* error) {
    if (connecting) {
      ConnectFailed(error);
    } else {
      Log(LogLevel::kWarning, "redis_disconnected",
          {{"connection", index_},
           {"addr", FormatRedisAddress(address_)},
           {"error", error != nullptr ? error : ""}});
    }
    ctx_ = nullptr;
    SetState(State::kDisconnected);
    ScheduleReconnect(SteadyNow());
  }

  // Sends AUTH/SELECT/ROLE ahead of user commands. Without `done`, a failure
  // drops the connection at the next tick.
  void SendSetup(std::vector<std::string> argv, Callback done = nullptr) {
    auto pending = std::make_unique<Pending>();
    pending->argv = std::move(argv);
    pending->deadline = SteadyNow() + absl::ToChronoNanoseconds(
                                          owner_->options_.command_timeout);
    if (done) {
      pending->done = std::move(done);
    } else {
      pending->done = [this](absl::StatusOr<RedisReply> reply) {
        if (!reply.ok() && ctx_ != nullptr) {
          Log(LogLevel::kError, "redis_setup_failed",
              {{"connection", index_}, {"error", reply.status().ToString()}});
          MarkForReset(reply.status());
        }
      };
    }
    owner_->outstanding_.fetch_add(1, std::memory_order_relaxed);
    Send(std::move(pending));
  }

  // Sentinel mode: the connection is used only once ROLE says "master"; the
  // sentinels may name a server that is no longer (or not yet) the primary.
  void SendRoleCheck() {
    SendSetup({"ROLE"}, [this](absl::StatusOr<RedisReply> reply) {
      if (ctx_ == nullptr || state_ != State::kVerifying ||
          !reset_reason_.ok()) {
        return;
      }
      if (!reply.ok()) {
        MarkForReset(reply.status());
        return;
      }
      std::string role = "(unexpected reply)";
      if (reply->type == RedisReply::Type::kArray && !reply->elements.empty() &&
          reply->elements[0].type == RedisReply::Type::kString) {
        role = reply->elements[0].str;
      }
      if (role == "master") {
        SetState(State::kReady);
        Established();
        return;
      }
      owner_->primary_changes_.fetch_add(1, std::memory_order_relaxed);
      std::string why = absl::StrCat("redis at ", FormatRedisAddress(address_),
                                     " answers ROLE ", role, ", not master");
      ConnectFailed(why);
      MarkForReset(absl::UnavailableError(why));
    });
  }

  // Ready for commands: counts and logs it, and resets the backoff.
  void Established() {
    backoff_ =
        absl::ToChronoNanoseconds(owner_->options_.reconnect_min_backoff);
    owner_->connects_.fetch_add(1, std::memory_order_relaxed);
    Log(LogLevel::kInfo, "redis_connected",
        {{"connection", index_},
         {"addr", FormatRedisAddress(address_)},
         {"via_sentinel", sentinel_mode()},
         {"failed_attempts", failed_attempts_}});
    failed_attempts_ = 0;
  }

  static void OnConnect(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<Connection*>(ac->data);
    if (self->ctx_ != ac) return;  // Already reset.
    if (status != REDIS_OK) {
      self->Lost(/*connecting=*/true, ac->errstr);
      return;
    }
    if (!self->reset_reason_.ok()) return;  // Dropped at the next tick.
    const RedisOptions& options = self->owner_->options_;
    const bool verify = self->sentinel_mode();
    self->SetState(verify ? State::kVerifying : State::kReady);
    if (!options.password.empty()) {
      if (options.username.empty()) {
        self->SendSetup({"AUTH", options.password});
      } else {
        self->SendSetup({"AUTH", options.username, options.password});
      }
    }
    if (options.db != 0) self->SendSetup({"SELECT", absl::StrCat(options.db)});
    if (verify) {
      self->SendRoleCheck();
    } else {
      self->Established();
    }
  }

  static void OnDisconnect(const redisAsyncContext* ac, int /*status*/) {
    auto* self = static_cast<Connection*>(ac->data);
    if (self->ctx_ != ac) return;  // We freed it ourselves.
    self->Lost(/*connecting=*/false, ac->errstr);
  }

  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata) {
    auto* self = static_cast<Connection*>(ac->data);
    auto* raw = static_cast<Pending*>(privdata);
    std::unique_ptr<Pending> pending;
    auto it = std::find_if(
        self->inflight_.begin(), self->inflight_.end(),
        [raw](const std::unique_ptr<Pending>& p) { return p.get() == raw; });
    if (it == self->inflight_.end()) return;  // Already failed by Reset.
    pending = std::move(*it);
    self->inflight_.erase(it);

    const auto* error = static_cast<const redisReply*>(reply);
    if (error != nullptr && error->type == REDIS_REPLY_ERROR &&
        pending->script != nullptr && !pending->sent_source &&
        absl::StartsWith(absl::string_view(error->str, error->len),
                         "NOSCRIPT")) {
      // Redis restarted or flushed its script cache: send the source once.
      self->owner_->noscript_.fetch_add(1, std::memory_order_relaxed);
      pending->argv[0] = "EVAL";
      pending->argv[1] = pending->script->source;
      pending->sent_source = true;
      self->owner_->Dispatch(std::move(pending));
      return;
    }
    absl::StatusOr<RedisReply> result;
    if (reply == nullptr) {
      result = self->reset_reason_.ok()
                   ? absl::UnavailableError("redis connection lost")
                   : self->reset_reason_;
    } else {
      const auto* r = static_cast<const redisReply*>(reply);
      if (r->type == REDIS_REPLY_ERROR) {
        absl::string_view text(r->str, r->len);
        result = ErrorReplyToStatus(text);
        if (self->sentinel_mode() && absl::StartsWith(text, "READONLY")) {
          self->Demoted();
        }
      } else {
        result = Convert(r);
      }
    }
    self->owner_->Finish(pending.get(), std::move(result));
  }

  // Sentinel mode: a READONLY reply; the server became a replica under us.
  void Demoted() {
    if (ctx_ == nullptr || !reset_reason_.ok()) return;
    owner_->primary_changes_.fetch_add(1, std::memory_order_relaxed);
    Log(LogLevel::kWarning, "redis_primary_demoted",
        {{"connection", index_},
         {"addr", FormatRedisAddress(address_)},
         {"note", "READONLY reply; asking the sentinels for the primary"}});
    MarkForReset(absl::UnavailableError(
        absl::StrCat("redis at ", FormatRedisAddress(address_),
                     " became a replica (READONLY)")));
  }

  HiredisClient* const owner_;
  const int index_;
  redisAsyncContext* ctx_ = nullptr;
  State state_ = State::kDisconnected;
  // The server connected to (or last tried).
  RedisAddress address_;
  std::deque<std::unique_ptr<Pending>> inflight_;
  SteadyTime connect_deadline_{};
  SteadyTime next_attempt_{};
  std::chrono::nanoseconds backoff_;
  int64_t failed_attempts_ = 0;
  // Set when the connection must be dropped at the next tick (hiredis does
  // not allow freeing a context from inside its own callbacks).
  absl::Status reset_reason_;
};

// Sentinel mode: asks the sentinels where the primary is. One question at a
// time: Ask() while one is out joins it. The connection to the sentinel that
// answered is kept for the next question; a sentinel that fails (refused,
// closed, an error or malformed answer, no answer within sentinel_timeout)
// is dropped and the next one asked, until each has been tried once.
// Every answer is also given to every connection (PrimaryIs), and the
// sentinels are asked again every sentinel_check_interval.
// Lives on the loop thread only; never frees a context inside a callback.
class HiredisClient::Sentinels {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<RedisAddress>)>;

  explicit Sentinels(HiredisClient* owner)
      : owner_(owner), failing_(owner->options_.sentinels.size(), false) {}

  // Waiting callers are dropped, not called: their connections go too.
  ~Sentinels() {
    waiters_.clear();
    Close();
  }

  Sentinels(const Sentinels&) = delete;
  Sentinels& operator=(const Sentinels&) = delete;

  // `done` gets the primary's address, or UNAVAILABLE if no sentinel named
  // it; called on the loop thread, possibly before Ask returns. Not to be
  // called from a hiredis callback.
  void Ask(SteadyTime now, Done done) {
    waiters_.push_back(std::move(done));
    if (waiters_.size() == 1) {
      tried_ = 0;
      Query(now);
    }
  }

  void Tick(SteadyTime now) {
    if (broken_) Close();
    if (asking_ && now >= deadline_) {
      Failed(absl::StrCat("no answer within ",
                          FormatMillis(owner_->options_.sentinel_timeout)));
      Close();
    }
    if (now >= next_check_) {
      next_check_ = now + absl::ToChronoNanoseconds(
                              owner_->options_.sentinel_check_interval);
      // The answer reaches the connections through PrimaryIs.
      Ask(now, [](absl::StatusOr<RedisAddress>) {});
    }
    if (!asking_ && !waiters_.empty()) {
      Query(now);  // The previous sentinel failed inside a callback.
    }
  }

 private:
  void Query(SteadyTime now) {
    if (broken_) Close();
    const RedisOptions& options = owner_->options_;
    asking_ = true;
    deadline_ = now + absl::ToChronoNanoseconds(options.sentinel_timeout);
    if (ctx_ == nullptr) {
      const RedisAddress& sentinel = options.sentinels[current_];
      redisAsyncContext* ctx =
          redisAsyncConnect(sentinel.host.c_str(), sentinel.port);
      if (ctx == nullptr || ctx->err != 0) {
        std::string error = ctx != nullptr ? ctx->errstr : "out of memory";
        if (ctx != nullptr) redisAsyncFree(ctx);
        Failed(error);
        return;
      }
      ctx->data = this;
      redisLibeventAttach(ctx, owner_->base_);
      redisAsyncSetConnectCallback(ctx, &Sentinels::OnConnect);
      redisAsyncSetDisconnectCallback(ctx, &Sentinels::OnDisconnect);
      ctx_ = ctx;
      if (!options.sentinel_password.empty()) {
        Send({"AUTH", options.sentinel_password}, &kSentinelAuthTag);
      }
    }
    Send({"SENTINEL", "get-master-addr-by-name", options.sentinel_master},
         &kSentinelQuestionTag);
  }

  void Send(const std::vector<std::string>& args, void* tag) {
    if (broken_ || ctx_ == nullptr) return;
    if (CommandArgv(ctx_, &Sentinels::OnReply, tag, args) != REDIS_OK) {
      Failed("connection is not writable");
    }
  }

  // Frees the connection (never from inside its callbacks: they see ctx_
  // cleared and do nothing).
  void Close() {
    broken_ = false;
    if (ctx_ == nullptr) return;
    redisAsyncContext* ctx = ctx_;
    ctx_ = nullptr;
    redisAsyncFree(ctx);
  }

  // The current sentinel did not answer: ask the next, or give up.
  void Failed(absl::string_view why) {
    if (!asking_) return;
    asking_ = false;
    if (ctx_ != nullptr) broken_ = true;  // Closed at the next tick.
    const RedisOptions& options = owner_->options_;
    const std::string sentinel =
        FormatRedisAddress(options.sentinels[current_]);
    if (!failing_[current_]) {
      failing_[current_] = true;
      Log(LogLevel::kWarning, "redis_sentinel_failed",
          {{"sentinel", sentinel},
           {"master", options.sentinel_master},
           {"error", why},
           {"note", "asking the next sentinel; repeats not logged"}});
    }
    last_error_ = absl::StrCat(sentinel, ": ", why);
    current_ = (current_ + 1) % options.sentinels.size();
    if (++tried_ >= options.sentinels.size()) {
      Answer(absl::UnavailableError(absl::StrCat(
          "no sentinel named the redis primary \"", options.sentinel_master,
          "\" (last: ", last_error_, ")")));
    }
  }

  void Answer(absl::StatusOr<RedisAddress> primary) {
    asking_ = false;
    tried_ = 0;
    if (primary.ok()) {
      failing_[current_] = false;
      if (primary_.has_value() && *primary_ != *primary) {
        Log(LogLevel::kWarning, "redis_primary_changed",
            {{"master", owner_->options_.sentinel_master},
             {"from", FormatRedisAddress(*primary_)},
             {"to", FormatRedisAddress(*primary)}});
      }
      primary_ = *primary;
      for (auto& connection : owner_->connections_) {
        connection->PrimaryIs(*primary);
      }
    }
    std::vector<Done> waiters;
    waiters.swap(waiters_);
    for (Done& done : waiters) done(primary);
  }

  // SENTINEL get-master-addr-by-name answers [host, port], or nil for a
  // master it does not know.
  void Answered(const redisReply* reply) {
    if (reply->type == REDIS_REPLY_ERROR) {
      Failed(absl::string_view(reply->str, reply->len));
      return;
    }
    if (reply->type == REDIS_REPLY_NIL) {
      Failed(absl::StrCat("does not know master \"",
                          owner_->options_.sentinel_master, "\""));
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

  static void OnConnect(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<Sentinels*>(ac->data);
    if (self->ctx_ != ac || status == REDIS_OK) return;
    self->ctx_ = nullptr;  // hiredis frees it.
    self->Failed(ac->errstr != nullptr ? ac->errstr : "connect failed");
  }

  static void OnDisconnect(const redisAsyncContext* ac, int /*status*/) {
    auto* self = static_cast<Sentinels*>(ac->data);
    if (self->ctx_ != ac) return;
    self->ctx_ = nullptr;  // hiredis frees it.
    self->broken_ = false;
    self->Failed("connection closed");
  }

  static void OnReply(redisAsyncContext* ac, void* reply, void* tag) {
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

  HiredisClient* const owner_;
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

void HiredisClient::Connection::Connect(SteadyTime now) {
  reset_reason_ = absl::OkStatus();
  if (sentinel_mode()) {
    address_ = {};  // Not known until the sentinels answer.
    SetState(State::kResolving);
    owner_->sentinels_->Ask(now, [this](absl::StatusOr<RedisAddress> primary) {
      Resolved(std::move(primary));
    });
    return;
  }
  const RedisOptions& options = owner_->options_;
  ConnectTo(RedisAddress{options.host, options.port}, now);
}

HiredisClient::HiredisClient(RedisOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<HiredisClient>> HiredisClient::Start(
    RedisOptions options) {
  if (options.connections < 1 || options.connections > 64) {
    return absl::InvalidArgumentError("redis connections must be 1-64");
  }
  if (options.max_outstanding < 1) {
    return absl::InvalidArgumentError("redis max_outstanding must be >= 1");
  }
  if (options.command_timeout <= absl::ZeroDuration() ||
      options.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("redis timeouts must be positive");
  }
  if (!options.sentinels.empty() || !options.sentinel_master.empty()) {
    if (options.sentinels.empty() || options.sentinel_master.empty()) {
      return absl::InvalidArgumentError(
          "redis sentinel mode needs both sentinels and sentinel_master");
    }
    for (const RedisAddress& sentinel : options.sentinels) {
      if (sentinel.host.empty() || sentinel.port < 1 || sentinel.port > 65535) {
        return absl::InvalidArgumentError(
            absl::StrCat("redis sentinel address \"",
                         FormatRedisAddress(sentinel), "\" is not host:port"));
      }
    }
    if (options.sentinel_timeout <= absl::ZeroDuration() ||
        options.sentinel_check_interval <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          "redis sentinel_timeout and sentinel_check_interval must be "
          "positive");
    }
  }
  std::unique_ptr<HiredisClient> client(new HiredisClient(std::move(options)));
  client->base_ = event_base_new();
  if (client->base_ == nullptr) {
    return absl::InternalError("event_base_new failed");
  }
  client->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (client->wake_fd_ < 0) return absl::InternalError("eventfd failed");
  client->wake_event_ =
      event_new(client->base_, client->wake_fd_, EV_READ | EV_PERSIST,
                &HiredisClient::OnWake, client.get());
  client->tick_event_ = event_new(client->base_, -1, EV_PERSIST,
                                  &HiredisClient::OnTick, client.get());
  timeval tick{0, static_cast<suseconds_t>(
                      std::chrono::microseconds(kTickInterval).count())};
  event_add(client->wake_event_, nullptr);
  event_add(client->tick_event_, &tick);
  if (!client->options_.sentinels.empty()) {
    client->sentinels_ = std::make_unique<Sentinels>(client.get());
  }
  for (int i = 0; i < client->options_.connections; ++i) {
    client->connections_.push_back(
        std::make_unique<Connection>(client.get(), i));
  }
  client->thread_ = std::thread([c = client.get()] { c->Run(); });
  return client;
}

HiredisClient::~HiredisClient() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  stopping_fast_.store(true);
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  if (tick_event_ != nullptr) event_free(tick_event_);
  if (wake_event_ != nullptr) event_free(wake_event_);
  if (base_ != nullptr) event_base_free(base_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void HiredisClient::Run() {
  loop_thread_id_.store(std::this_thread::get_id());
  SteadyTime now = SteadyNow();
  if (sentinels_ != nullptr) sentinels_->Tick(now);
  for (auto& connection : connections_) connection->Tick(now);
  event_base_dispatch(base_);
  // Stopping: fail whatever is in flight or queued, still on this thread.
  // The sentinels first: they hold callbacks into the connections.
  sentinels_.reset();
  connections_.clear();
  DrainQueue();
}

void HiredisClient::OnWake(int fd, short /*events*/, void* arg) {
  auto* self = static_cast<HiredisClient*>(arg);
  uint64_t count;
  (void)!read(fd, &count, sizeof(count));
  bool stopping;
  {
    absl::MutexLock lock(&self->mu_);
    stopping = self->stopping_;
  }
  if (stopping) {
    event_base_loopbreak(self->base_);
    return;
  }
  self->DrainQueue();
}

void HiredisClient::OnTick(int /*fd*/, short /*events*/, void* arg) {
  auto* self = static_cast<HiredisClient*>(arg);
  SteadyTime now = SteadyNow();
  if (self->sentinels_ != nullptr) self->sentinels_->Tick(now);
  for (auto& connection : self->connections_) connection->Tick(now);
}

void HiredisClient::DrainQueue() {
  std::vector<std::unique_ptr<Pending>> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(queue_);
  }
  for (std::unique_ptr<Pending>& pending : batch) Dispatch(std::move(pending));
}

void HiredisClient::Dispatch(std::unique_ptr<Pending> pending) {
  for (size_t i = 0; i < connections_.size(); ++i) {
    Connection* candidate =
        connections_[(next_connection_ + i) % connections_.size()].get();
    if (candidate->ready()) {
      next_connection_ = (next_connection_ + i + 1) % connections_.size();
      candidate->Send(std::move(pending));
      return;
    }
  }
  Finish(pending.get(), absl::UnavailableError("redis is not connected"));
}

void HiredisClient::Finish(Pending* pending,
                           absl::StatusOr<RedisReply> result) {
  if (pending->finished) return;
  pending->finished = true;
  if (!result.ok()) failures_.fetch_add(1, std::memory_order_relaxed);
  outstanding_.fetch_sub(1, std::memory_order_relaxed);
  if (options_.observe_latency) {
    // Submitted at deadline - command_timeout.
    options_.observe_latency(absl::FromChrono(SteadyNow() - pending->deadline) +
                             options_.command_timeout);
  }
  Callback done = std::move(pending->done);
  if (done) done(std::move(result));
}

void HiredisClient::Submit(std::unique_ptr<Pending> pending) {
  pending->deadline =
      SteadyNow() + absl::ToChronoNanoseconds(options_.command_timeout);
  if (outstanding_.fetch_add(1, std::memory_order_relaxed) >=
      options_.max_outstanding) {
    rejected_full_.fetch_add(1, std::memory_order_relaxed);
    Finish(pending.get(),
           absl::UnavailableError("too many outstanding redis commands"));
    return;
  }
  commands_.fetch_add(1, std::memory_order_relaxed);
  if (std::this_thread::get_id() == loop_thread_id_.load()) {
    // Issued by a callback on the I/O thread (e.g. a commit after an admit):
    // send it now rather than queue it and wake this very thread.
    if (stopping_fast_.load()) {
      Finish(pending.get(), absl::UnavailableError("redis client shut down"));
    } else {
      Dispatch(std::move(pending));
    }
    return;
  }
  bool wake = false;
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(std::move(pending));
      wake = queue_.size() == 1;
    }
  }
  if (pending != nullptr) {  // Not queued: the client is stopping.
    Finish(pending.get(), absl::UnavailableError("redis client shut down"));
    return;
  }
  if (wake) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
}

void HiredisClient::Command(std::vector<std::string> argv, Callback done) {
  auto pending = std::make_unique<Pending>();
  pending->argv = std::move(argv);
  pending->done = std::move(done);
  Submit(std::move(pending));
}

void HiredisClient::Eval(const LuaScript& script, std::vector<std::string> keys,
                         std::vector<std::string> args, Callback done) {
  auto pending = std::make_unique<Pending>();
  pending->argv.reserve(3 + keys.size() + args.size());
  pending->argv.push_back("EVALSHA");
  pending->argv.push_back(script.sha1);
  pending->argv.push_back(absl::StrCat(keys.size()));
  for (std::string& key : keys) pending->argv.push_back(std::move(key));
  for (std::string& arg : args) pending->argv.push_back(std::move(arg));
  pending->script = &script;
  pending->done = std::move(done);
  Submit(std::move(pending));
}

absl::StatusOr<RedisReply> HiredisClient::CommandSync(
    std::vector<std::string> argv) {
  if (std::this_thread::get_id() == thread_.get_id()) {
    return absl::FailedPreconditionError(
        "CommandSync called on the redis I/O thread");
  }
  return RedisClient::CommandSync(std::move(argv));
}

HiredisClientStats HiredisClient::stats() const {
  HiredisClientStats s;
  s.commands = commands_.load(std::memory_order_relaxed);
  s.failures = failures_.load(std::memory_order_relaxed);
  s.timeouts = timeouts_.load(std::memory_order_relaxed);
  s.connects = connects_.load(std::memory_order_relaxed);
  s.rejected_full = rejected_full_.load(std::memory_order_relaxed);
  s.noscript = noscript_.load(std::memory_order_relaxed);
  s.primary_changes = primary_changes_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace makegood::redis
