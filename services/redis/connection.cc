// File: services/redis/connection.cc
#include "services/redis/connection.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/core/log.h"
#include "services/redis/hiredis_conversion.h"
#include "services/redis/sentinels.h"

namespace makegood::redis {

Connection::Connection(int index, ClientState& client, Sentinels* sentinels,
                       Redispatch redispatch)
    : client_(client),
      sentinels_(sentinels),
      redispatch_(std::move(redispatch)),
      index_(index),
      backoff_(
          absl::ToChronoNanoseconds(client.options.reconnect_min_backoff)) {}

Connection::Connection(int index, ClientState& client, RedisAddress address,
                       Redispatch redispatch)
    : Connection(index, client, /*sentinels=*/nullptr, std::move(redispatch)) {
  fixed_address_ = address;
  address_ = std::move(address);
}

Connection::~Connection() {
  Reset(absl::UnavailableError("redis client shut down"));
}

void Connection::Send(std::unique_ptr<PendingCommand> command) {
  if (SendArgv(ctx_, &Connection::OnReply, command.get(), command->argv) !=
      REDIS_OK) {
    client_.Finish(command.get(),
                   absl::UnavailableError("redis connection is not writable"));
    return;
  }
  // hiredis has copied the command into its output buffer.
  if (!command->keep_argv &&
      (command->script == nullptr || command->sent_source)) {
    command->argv = {};
  }
  inflight_.push_back(std::move(command));
}

void Connection::Tick(SteadyTime now) {
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
        client_.observer.OnTimeout();
        Log(LogLevel::kWarning, "redis_command_timeout",
            {{"connection", index_},
             {"inflight", static_cast<int64_t>(inflight_.size())},
             {"timeout", FormatMillis(client_.options.command_timeout)}});
        Reset(absl::UnavailableError(
            absl::StrCat("redis did not answer within ",
                         FormatMillis(client_.options.command_timeout))));
      }
      break;
  }
}

void Connection::PrimaryIs(const RedisAddress& primary) {
  if (ctx_ == nullptr || address_ == primary || !reset_reason_.ok()) return;
  client_.observer.OnPrimaryChange();
  MarkForReset(absl::UnavailableError(
      absl::StrCat("redis primary moved from ", FormatRedisAddress(address_),
                   " to ", FormatRedisAddress(primary))));
}

void Connection::SetState(State state) {
  if (state_ == State::kReady && state != State::kReady) {
    client_.AddReadyConnections(-1);
  } else if (state_ != State::kReady && state == State::kReady) {
    client_.AddReadyConnections(1);
  }
  state_ = state;
}

void Connection::MarkForReset(absl::Status why) {
  if (!reset_reason_.ok()) return;
  reset_reason_ = std::move(why);
  if (state_ == State::kReady) SetState(State::kClosing);
}

void Connection::Connect(SteadyTime now) {
  reset_reason_ = absl::OkStatus();
  if (sentinel_mode()) {
    address_ = {};  // Not known until the sentinels answer.
    SetState(State::kResolving);
    sentinels_->Ask(now, [this](absl::StatusOr<RedisAddress> primary) {
      Resolved(std::move(primary));
    });
    return;
  }
  const RedisOptions& options = client_.options;
  ConnectTo(fixed_address_.has_value()
                ? *fixed_address_
                : RedisAddress{options.host, options.port},
            now);
}

void Connection::Resolved(absl::StatusOr<RedisAddress> primary) {
  if (state_ != State::kResolving) return;
  if (!primary.ok()) {
    ConnectFailed(primary.status().message());
    SetState(State::kDisconnected);
    ScheduleReconnect(SteadyNow());
    return;
  }
  ConnectTo(*std::move(primary), SteadyNow());
}

void Connection::ConnectTo(RedisAddress address, SteadyTime now) {
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
  redisLibeventAttach(ctx, client_.base);
  redisAsyncSetConnectCallback(ctx, &Connection::OnConnect);
  redisAsyncSetDisconnectCallback(ctx, &Connection::OnDisconnect);
  ctx_ = ctx;
  SetState(State::kConnecting);
  connect_deadline_ =
      now + absl::ToChronoNanoseconds(client_.options.connect_timeout);
}

void Connection::ScheduleReconnect(SteadyTime now) {
  next_attempt_ = now + backoff_;
  backoff_ = std::min(backoff_ * 2, absl::ToChronoNanoseconds(
                                        client_.options.reconnect_max_backoff));
}

void Connection::Reset(absl::Status why) {
  if (ctx_ != nullptr) {
    reset_reason_ = why;
    redisAsyncContext* ctx = ctx_;
    ctx_ = nullptr;
    SetState(State::kDisconnected);
    redisAsyncFree(ctx);  // Calls OnReply(nullptr) for each command.
    ScheduleReconnect(SteadyNow());
  }
  while (!inflight_.empty()) {
    std::unique_ptr<PendingCommand> command = std::move(inflight_.front());
    inflight_.pop_front();
    client_.Finish(command.get(), why);
  }
}

void Connection::ConnectFailed(absl::string_view error) {
  if (failed_attempts_++ == 0) {
    Log(LogLevel::kWarning, "redis_connect_failed",
        {{"connection", index_},
         {"addr", address_.host.empty() ? DescribeRedisTarget(client_.options)
                                        : FormatRedisAddress(address_)},
         {"error", error},
         {"note", "retrying with backoff; further failures not logged"}});
  }
}

void Connection::ConnectFailed(const char* error) {
  ConnectFailed(absl::string_view(error != nullptr ? error : ""));
}

void Connection::Lost(bool connecting, const char* error) {
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

void Connection::SendSetup(std::vector<std::string> argv,
                           RedisClient::Callback done) {
  auto command = std::make_unique<PendingCommand>();
  command->argv = std::move(argv);
  command->deadline =
      SteadyNow() + absl::ToChronoNanoseconds(client_.options.command_timeout);
  if (done) {
    command->done = std::move(done);
  } else {
    command->done = [this](absl::StatusOr<RedisReply> reply) {
      if (!reply.ok() && ctx_ != nullptr) {
        Log(LogLevel::kError, "redis_setup_failed",
            {{"connection", index_}, {"error", reply.status().ToString()}});
        MarkForReset(reply.status());
      }
    };
  }
  client_.outstanding.fetch_add(1, std::memory_order_relaxed);
  Send(std::move(command));
}

void Connection::SendAsking() {
  SendSetup({"ASKING"}, [](absl::StatusOr<RedisReply>) {
    // A failed ASKING shows in the answer to the command after it.
  });
}

void Connection::SendRoleCheck() {
  SendSetup({"ROLE"}, [this](absl::StatusOr<RedisReply> reply) {
    if (ctx_ == nullptr || state_ != State::kVerifying || !reset_reason_.ok()) {
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
    client_.observer.OnPrimaryChange();
    std::string why = absl::StrCat("redis at ", FormatRedisAddress(address_),
                                   " answers ROLE ", role, ", not master");
    ConnectFailed(why);
    MarkForReset(absl::UnavailableError(why));
  });
}

void Connection::Established() {
  ever_ready_ = true;
  backoff_ = absl::ToChronoNanoseconds(client_.options.reconnect_min_backoff);
  client_.observer.OnConnect();
  Log(LogLevel::kInfo, "redis_connected",
      {{"connection", index_},
       {"addr", FormatRedisAddress(address_)},
       {"via_sentinel", sentinel_mode()},
       {"failed_attempts", failed_attempts_}});
  failed_attempts_ = 0;
}

void Connection::Demoted() {
  if (ctx_ == nullptr || !reset_reason_.ok()) return;
  client_.observer.OnPrimaryChange();
  Log(LogLevel::kWarning, "redis_primary_demoted",
      {{"connection", index_},
       {"addr", FormatRedisAddress(address_)},
       {"note", "READONLY reply; asking the sentinels for the primary"}});
  MarkForReset(absl::UnavailableError(
      absl::StrCat("redis at ", FormatRedisAddress(address_),
                   " became a replica (READONLY)")));
}

void Connection::OnConnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<Connection*>(ac->data);
  if (self->ctx_ != ac) return;  // Already reset.
  if (status != REDIS_OK) {
    self->Lost(/*connecting=*/true, ac->errstr);
    return;
  }
  if (!self->reset_reason_.ok()) return;  // Dropped at the next tick.
  const RedisOptions& options = self->client_.options;
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

void Connection::OnDisconnect(const redisAsyncContext* ac, int /*status*/) {
  auto* self = static_cast<Connection*>(ac->data);
  if (self->ctx_ != ac) return;  // We freed it ourselves.
  self->Lost(/*connecting=*/false, ac->errstr);
}

void Connection::OnReply(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* self = static_cast<Connection*>(ac->data);
  auto* raw = static_cast<PendingCommand*>(privdata);
  std::unique_ptr<PendingCommand> command;
  auto it = std::find_if(self->inflight_.begin(), self->inflight_.end(),
                         [raw](const std::unique_ptr<PendingCommand>& p) {
                           return p.get() == raw;
                         });
  if (it == self->inflight_.end()) return;  // Already failed by Reset.
  command = std::move(*it);
  self->inflight_.erase(it);

  const auto* error = static_cast<const redisReply*>(reply);
  if (error != nullptr && error->type == REDIS_REPLY_ERROR &&
      command->script != nullptr && !command->sent_source &&
      absl::StartsWith(absl::string_view(error->str, error->len), "NOSCRIPT")) {
    // Redis restarted or flushed its script cache: send the source once.
    self->client_.observer.OnNoscript();
    command->argv[0] = "EVAL";
    command->argv[1] = command->script->source;
    command->sent_source = true;
    self->redispatch_(std::move(command));
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
      if (self->error_reply_handler_ &&
          self->error_reply_handler_(command, text)) {
        return;
      }
      result = ErrorReplyToStatus(text);
      if (self->sentinel_mode() && absl::StartsWith(text, "READONLY")) {
        self->Demoted();
      }
    } else {
      result = ConvertReply(*r);
    }
  }
  self->client_.Finish(command.get(), std::move(result));
}

}  // namespace makegood::redis
