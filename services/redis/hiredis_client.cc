// File: services/redis/hiredis_client.cc
#include "services/redis/hiredis_client.h"

#include <event2/event.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "services/redis/client_state.h"
#include "services/redis/connection.h"
#include "services/redis/sentinels.h"

namespace makegood::redis {
namespace {

constexpr std::chrono::milliseconds kTickInterval{5};

}  // namespace

HiredisClient::HiredisClient(RedisOptions options)
    : state_(std::make_unique<ClientState>(std::move(options))) {}

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
  ClientState& state = *client->state_;
  state.base = event_base_new();
  if (state.base == nullptr) {
    return absl::InternalError("event_base_new failed");
  }
  client->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (client->wake_fd_ < 0) return absl::InternalError("eventfd failed");
  client->wake_event_ =
      event_new(state.base, client->wake_fd_, EV_READ | EV_PERSIST,
                &HiredisClient::OnWake, client.get());
  client->tick_event_ = event_new(state.base, -1, EV_PERSIST,
                                  &HiredisClient::OnTick, client.get());
  timeval tick{0, static_cast<suseconds_t>(
                      std::chrono::microseconds(kTickInterval).count())};
  event_add(client->wake_event_, nullptr);
  event_add(client->tick_event_, &tick);
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
  if (state_->base != nullptr) event_base_free(state_->base);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void HiredisClient::Run() {
  loop_thread_id_.store(std::this_thread::get_id());
  SteadyTime now = SteadyNow();
  if (sentinels_ != nullptr) sentinels_->Tick(now);
  for (auto& connection : connections_) connection->Tick(now);
  event_base_dispatch(state_->base);
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
    event_base_loopbreak(self->state_->base);
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
  std::vector<std::unique_ptr<PendingCommand>> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(queue_);
  }
  for (std::unique_ptr<PendingCommand>& command : batch) {
    Dispatch(std::move(command));
  }
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

void HiredisClient::Submit(std::unique_ptr<PendingCommand> command) {
  ClientState& state = *state_;
  command->deadline =
      SteadyNow() + absl::ToChronoNanoseconds(state.options.command_timeout);
  if (state.outstanding.fetch_add(1, std::memory_order_relaxed) >=
      state.options.max_outstanding) {
    state.observer.OnRejectedFull();
    state.Finish(command.get(),
                 absl::UnavailableError("too many outstanding redis commands"));
    return;
  }
  state.observer.OnCommandAccepted();
  if (std::this_thread::get_id() == loop_thread_id_.load()) {
    // Issued by a callback on the I/O thread (e.g. a commit after an admit):
    // send it now rather than queue it and wake this very thread.
    if (stopping_fast_.load()) {
      state.Finish(command.get(),
                   absl::UnavailableError("redis client shut down"));
    } else {
      Dispatch(std::move(command));
    }
    return;
  }
  bool wake = false;
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(std::move(command));
      wake = queue_.size() == 1;
    }
  }
  if (command != nullptr) {  // Not queued: the client is stopping.
    state.Finish(command.get(),
                 absl::UnavailableError("redis client shut down"));
    return;
  }
  if (wake) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
}

void HiredisClient::Command(std::vector<std::string> argv, Callback done) {
  auto command = std::make_unique<PendingCommand>();
  command->argv = std::move(argv);
  command->done = std::move(done);
  Submit(std::move(command));
}

void HiredisClient::Eval(const LuaScript& script, std::vector<std::string> keys,
                         std::vector<std::string> args, Callback done) {
  auto command = std::make_unique<PendingCommand>();
  command->argv.reserve(3 + keys.size() + args.size());
  command->argv.push_back("EVALSHA");
  command->argv.push_back(script.sha1);
  command->argv.push_back(absl::StrCat(keys.size()));
  for (std::string& key : keys) command->argv.push_back(std::move(key));
  for (std::string& arg : args) command->argv.push_back(std::move(arg));
  command->script = &script;
  command->done = std::move(done);
  Submit(std::move(command));
}

absl::StatusOr<RedisReply> HiredisClient::CommandSync(
    std::vector<std::string> argv) {
  if (std::this_thread::get_id() == thread_.get_id()) {
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
