// File: services/redis/hiredis_client.cc
#include "services/redis/hiredis_client.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "services/redis/client_state.h"
#include "services/redis/command_loop.h"
#include "services/redis/connection.h"
#include "services/redis/sentinels.h"

namespace makegood::redis {

HiredisClient::HiredisClient(RedisOptions options)
    : state_(std::make_unique<ClientState>(std::move(options))),
      loop_(std::make_unique<CommandLoop>(*state_)) {}

absl::StatusOr<std::unique_ptr<HiredisClient>> HiredisClient::Start(
    RedisOptions options) {
  if (!options.cluster_nodes.empty()) {
    return absl::InvalidArgumentError(
        "a redis-cluster:// URL needs the cluster client "
        "(redis::StartRedisClient), not HiredisClient");
  }
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
  ClientState& state = *client->state_;
  if (absl::Status s = client->loop_->Init(); !s.ok()) return s;
  if (!state.options.sentinels.empty()) {
    client->sentinels_ = std::make_unique<Sentinels>(
        state.options, state.base,
        [c = client.get()](const RedisAddress& primary) {
          for (auto& connection : c->connections_) {
            connection->PrimaryIs(primary);
          }
        });
  }
  for (int i = 0; i < state.options.connections; ++i) {
    client->connections_.push_back(std::make_unique<Connection>(
        i, state, client->sentinels_.get(),
        [c = client.get()](std::unique_ptr<PendingCommand> command) {
          c->Dispatch(std::move(command));
        }));
  }
  HiredisClient* c = client.get();
  client->loop_->Start(CommandLoop::Hooks{
      .dispatch =
          [c](std::unique_ptr<PendingCommand> command) {
            c->Dispatch(std::move(command));
          },
      .tick = [c](SteadyTime now) { c->Tick(now); },
      // The sentinels first: they hold callbacks into the connections.
      .stop =
          [c] {
            c->sentinels_.reset();
            c->connections_.clear();
          },
  });
  return client;
}

HiredisClient::~HiredisClient() { loop_->Stop(); }

void HiredisClient::Tick(SteadyTime now) {
  if (sentinels_ != nullptr) sentinels_->Tick(now);
  for (auto& connection : connections_) connection->Tick(now);
}

void HiredisClient::Dispatch(std::unique_ptr<PendingCommand> command) {
  for (size_t i = 0; i < connections_.size(); ++i) {
    Connection* candidate =
        connections_[(next_connection_ + i) % connections_.size()].get();
    if (candidate->ready()) {
      next_connection_ = (next_connection_ + i + 1) % connections_.size();
      candidate->Send(std::move(command));
      return;
    }
  }
  state_->Finish(command.get(),
                 absl::UnavailableError("redis is not connected"));
}

void HiredisClient::Command(std::vector<std::string> argv, Callback done) {
  auto command = std::make_unique<PendingCommand>();
  command->argv = std::move(argv);
  command->done = std::move(done);
  loop_->Submit(std::move(command));
}

void HiredisClient::Eval(const LuaScript& script, std::vector<std::string> keys,
                         std::vector<std::string> args, Callback done) {
  loop_->Submit(EvalShaCommand(script, std::move(keys), std::move(args),
                               std::move(done)));
}

absl::StatusOr<RedisReply> HiredisClient::CommandSync(
    std::vector<std::string> argv) {
  if (loop_->on_loop_thread()) {
    return absl::FailedPreconditionError(
        "CommandSync called on the redis I/O thread");
  }
  return RedisClient::CommandSync(std::move(argv));
}

int HiredisClient::ready_connections() const {
  return state_->ready_connections.load(std::memory_order_relaxed);
}

const RedisOptions& HiredisClient::options() const { return state_->options; }

}  // namespace makegood::redis
