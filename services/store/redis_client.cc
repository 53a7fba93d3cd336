#include "services/store/redis_client.h"

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
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "services/core/log.h"

namespace makegood::store {
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

}  // namespace

struct RedisClient::Pending {
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
class RedisClient::Connection {
 public:
  Connection(RedisClient* owner, int index)
      : owner_(owner),
        index_(index),
        backoff_(
            absl::ToChronoNanoseconds(owner->options_.reconnect_min_backoff)) {}

  ~Connection() { Reset(absl::UnavailableError("redis client shut down")); }

  bool ready() const { return state_ == State::kReady; }

  void Send(std::unique_ptr<Pending> pending) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    argv.reserve(pending->argv.size());
    lengths.reserve(pending->argv.size());
    for (const std::string& arg : pending->argv) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    if (redisAsyncCommandArgv(ctx_, &Connection::OnReply, pending.get(),
                              static_cast<int>(argv.size()), argv.data(),
                              lengths.data()) != REDIS_OK) {
      owner_->Finish(pending.get(), absl::UnavailableError(
                                        "redis connection is not writable"));
      return;
    }
    // hiredis has copied the command into its output buffer.
    if (pending->script == nullptr || pending->sent_source) pending->argv = {};
    inflight_.push_back(std::move(pending));
  }

  void Tick(SteadyTime now) {
    switch (state_) {
      case State::kDisconnected:
        if (now >= next_attempt_) Connect(now);
        break;
      case State::kConnecting:
        if (now >= connect_deadline_) {
          ConnectFailed("connect timed out");
          Reset(absl::UnavailableError("redis connect timed out"));
        }
        break;
      case State::kReady:
        if (!reset_reason_.ok()) {
          Reset(reset_reason_);
        } else if (!inflight_.empty() && inflight_.front()->deadline < now) {
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

 private:
  enum class State { kDisconnected, kConnecting, kReady };

  void SetState(State state) {
    if (state_ == State::kReady && state != State::kReady) {
      owner_->ready_connections_.fetch_sub(1, std::memory_order_relaxed);
    } else if (state_ != State::kReady && state == State::kReady) {
      owner_->ready_connections_.fetch_add(1, std::memory_order_relaxed);
    }
    state_ = state;
  }

  void Connect(SteadyTime now) {
    const RedisOptions& options = owner_->options_;
    reset_reason_ = absl::OkStatus();
    redisAsyncContext* ctx =
        redisAsyncConnect(options.host.c_str(), options.port);
    if (ctx == nullptr || ctx->err != 0) {
      if (ctx != nullptr) {
        ConnectFailed(ctx->errstr);
        redisAsyncFree(ctx);
      }
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
        now + absl::ToChronoNanoseconds(options.connect_timeout);
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
  void ConnectFailed(const char* error) {
    if (failed_attempts_++ == 0) {
      Log(LogLevel::kWarning, "redis_connect_failed",
          {{"connection", index_},
           {"error", error != nullptr ? error : ""},
           {"note", "retrying with backoff; further failures not logged"}});
    }
  }

  // The connection failed or was closed by the server: hiredis frees it.
  void Lost(bool connecting, const char* error) {
    if (connecting) {
      ConnectFailed(error);
    } else {
      Log(LogLevel::kWarning, "redis_disconnected",
          {{"connection", index_}, {"error", error != nullptr ? error : ""}});
    }
    ctx_ = nullptr;
    SetState(State::kDisconnected);
    ScheduleReconnect(SteadyNow());
  }

  // Sends AUTH/SELECT ahead of user commands; a failure resets at next tick.
  void SendSetup(std::vector<std::string> argv) {
    auto pending = std::make_unique<Pending>();
    pending->argv = std::move(argv);
    pending->deadline = SteadyNow() + absl::ToChronoNanoseconds(
                                          owner_->options_.command_timeout);
    pending->done = [this](absl::StatusOr<RedisReply> reply) {
      if (!reply.ok() && ctx_ != nullptr) {
        Log(LogLevel::kError, "redis_setup_failed",
            {{"connection", index_}, {"error", reply.status().ToString()}});
        reset_reason_ = reply.status();
      }
    };
    owner_->outstanding_.fetch_add(1, std::memory_order_relaxed);
    Send(std::move(pending));
  }

  static void OnConnect(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<Connection*>(ac->data);
    if (self->ctx_ != ac) return;  // Already reset.
    if (status != REDIS_OK) {
      self->Lost(/*connecting=*/true, ac->errstr);
      return;
    }
    const RedisOptions& options = self->owner_->options_;
    self->SetState(State::kReady);
    if (!options.password.empty()) {
      if (options.username.empty()) {
        self->SendSetup({"AUTH", options.password});
      } else {
        self->SendSetup({"AUTH", options.username, options.password});
      }
    }
    if (options.db != 0) self->SendSetup({"SELECT", absl::StrCat(options.db)});
    self->backoff_ = absl::ToChronoNanoseconds(options.reconnect_min_backoff);
    self->owner_->connects_.fetch_add(1, std::memory_order_relaxed);
    Log(LogLevel::kInfo, "redis_connected",
        {{"connection", self->index_},
         {"addr", absl::StrCat(options.host, ":", options.port)},
         {"failed_attempts", self->failed_attempts_}});
    self->failed_attempts_ = 0;
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
        result = ErrorReplyToStatus(absl::string_view(r->str, r->len));
      } else {
        result = Convert(r);
      }
    }
    self->owner_->Finish(pending.get(), std::move(result));
  }

  RedisClient* const owner_;
  const int index_;
  redisAsyncContext* ctx_ = nullptr;
  State state_ = State::kDisconnected;
  std::deque<std::unique_ptr<Pending>> inflight_;
  SteadyTime connect_deadline_{};
  SteadyTime next_attempt_{};
  std::chrono::nanoseconds backoff_;
  int64_t failed_attempts_ = 0;
  // Set when the connection must be dropped at the next tick (hiredis does
  // not allow freeing a context from inside its own callbacks).
  absl::Status reset_reason_;
};

absl::Status ParseRedisUrl(absl::string_view url, RedisOptions* options) {
  auto bad = [url](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis URL \"", url, "\": ", why,
                     " (want redis://[[user]:password@]host[:port][/db])"));
  };
  constexpr absl::string_view kScheme = "redis://";
  if (!absl::StartsWith(url, kScheme)) return bad("must start with redis://");
  absl::string_view rest = url.substr(kScheme.size());
  RedisOptions parsed = *options;
  parsed.username.clear();
  parsed.password.clear();
  parsed.port = 6379;
  parsed.db = 0;
  if (size_t at = rest.rfind('@'); at != absl::string_view::npos) {
    absl::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    if (colon == absl::string_view::npos) {
      return bad("credentials must be user:password or :password");
    }
    parsed.username = std::string(userinfo.substr(0, colon));
    parsed.password = std::string(userinfo.substr(colon + 1));
  }
  auto all_digits = [](absl::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
      return c >= '0' && c <= '9';
    });
  };
  if (size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    absl::string_view db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db.empty() && (!all_digits(db) || !absl::SimpleAtoi(db, &parsed.db) ||
                        parsed.db > 1000)) {
      return bad("database must be a number 0-1000");
    }
  }
  absl::string_view host = rest;
  std::optional<absl::string_view> port;
  if (absl::StartsWith(rest, "[")) {  // [IPv6]:port
    size_t close = rest.find(']');
    if (close == absl::string_view::npos) return bad("unclosed [ in host");
    host = rest.substr(1, close - 1);
    absl::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("unexpected text after ]");
      port = after.substr(1);
    }
  } else {
    size_t colon = rest.find(':');
    if (colon != absl::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (absl::StrContains(*port, ':')) {
        return bad("an IPv6 host must be written in brackets, e.g. [::1]:6379");
      }
    }
  }
  if (host.empty()) return bad("host is empty");
  if (absl::StrContains(host, ' ')) return bad("host contains a space");
  if (port.has_value() &&
      (!all_digits(*port) || !absl::SimpleAtoi(*port, &parsed.port))) {
    return bad("port must be a number");
  }
  if (parsed.port < 1 || parsed.port > 65535) return bad("port out of range");
  parsed.host = std::string(host);
  *options = std::move(parsed);
  return absl::OkStatus();
}

RedisClient::RedisClient(RedisOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<RedisClient>> RedisClient::Start(
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
  std::unique_ptr<RedisClient> client(new RedisClient(std::move(options)));
  client->base_ = event_base_new();
  if (client->base_ == nullptr) {
    return absl::InternalError("event_base_new failed");
  }
  client->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (client->wake_fd_ < 0) return absl::InternalError("eventfd failed");
  client->wake_event_ =
      event_new(client->base_, client->wake_fd_, EV_READ | EV_PERSIST,
                &RedisClient::OnWake, client.get());
  client->tick_event_ = event_new(client->base_, -1, EV_PERSIST,
                                  &RedisClient::OnTick, client.get());
  timeval tick{0, static_cast<suseconds_t>(
                      std::chrono::microseconds(kTickInterval).count())};
  event_add(client->wake_event_, nullptr);
  event_add(client->tick_event_, &tick);
  for (int i = 0; i < client->options_.connections; ++i) {
    client->connections_.push_back(
        std::make_unique<Connection>(client.get(), i));
  }
  client->thread_ = std::thread([c = client.get()] { c->Run(); });
  return client;
}

RedisClient::~RedisClient() {
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

void RedisClient::Run() {
  loop_thread_id_.store(std::this_thread::get_id());
  SteadyTime now = SteadyNow();
  for (auto& connection : connections_) connection->Tick(now);
  event_base_dispatch(base_);
  // Stopping: fail whatever is in flight or queued, still on this thread.
  connections_.clear();
  DrainQueue();
}

void RedisClient::OnWake(int fd, short /*events*/, void* arg) {
  auto* self = static_cast<RedisClient*>(arg);
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

void RedisClient::OnTick(int /*fd*/, short /*events*/, void* arg) {
  auto* self = static_cast<RedisClient*>(arg);
  SteadyTime now = SteadyNow();
  for (auto& connection : self->connections_) connection->Tick(now);
}

void RedisClient::DrainQueue() {
  std::vector<std::unique_ptr<Pending>> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(queue_);
  }
  for (std::unique_ptr<Pending>& pending : batch) Dispatch(std::move(pending));
}

void RedisClient::Dispatch(std::unique_ptr<Pending> pending) {
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

void RedisClient::Finish(Pending* pending, absl::StatusOr<RedisReply> result) {
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

void RedisClient::Submit(std::unique_ptr<Pending> pending) {
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

void RedisClient::Command(std::vector<std::string> argv, Callback done) {
  auto pending = std::make_unique<Pending>();
  pending->argv = std::move(argv);
  pending->done = std::move(done);
  Submit(std::move(pending));
}

void RedisClient::Eval(const LuaScript& script, std::vector<std::string> keys,
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

absl::StatusOr<RedisReply> RedisClient::CommandSync(
    std::vector<std::string> argv) {
  if (std::this_thread::get_id() == thread_.get_id()) {
    return absl::FailedPreconditionError(
        "CommandSync called on the redis I/O thread");
  }
  absl::Notification done;
  absl::StatusOr<RedisReply> result;
  Command(std::move(argv), [&](absl::StatusOr<RedisReply> reply) {
    result = std::move(reply);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

RedisClientStats RedisClient::stats() const {
  RedisClientStats s;
  s.commands = commands_.load(std::memory_order_relaxed);
  s.failures = failures_.load(std::memory_order_relaxed);
  s.timeouts = timeouts_.load(std::memory_order_relaxed);
  s.connects = connects_.load(std::memory_order_relaxed);
  s.rejected_full = rejected_full_.load(std::memory_order_relaxed);
  s.noscript = noscript_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace makegood::store
