// File: services/redis/command_loop.cc
#include "services/redis/command_loop.h"

#include <event2/event.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <utility>

namespace makegood::redis {
namespace {

constexpr std::chrono::milliseconds kTickInterval{5};

}  // namespace

CommandLoop::~CommandLoop() {
  Stop();
  if (tick_event_ != nullptr) event_free(tick_event_);
  if (wake_event_ != nullptr) event_free(wake_event_);
  if (state_.base != nullptr) event_base_free(state_.base);
  state_.base = nullptr;
  if (wake_fd_ >= 0) close(wake_fd_);
}

absl::Status CommandLoop::Init() {
  state_.base = event_base_new();
  if (state_.base == nullptr) {
    return absl::InternalError("event_base_new failed");
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return absl::InternalError("eventfd failed");
  wake_event_ = event_new(state_.base, wake_fd_, EV_READ | EV_PERSIST,
                          &CommandLoop::OnWake, this);
  tick_event_ =
      event_new(state_.base, -1, EV_PERSIST, &CommandLoop::OnTick, this);
  timeval tick{0, static_cast<suseconds_t>(
                      std::chrono::microseconds(kTickInterval).count())};
  event_add(wake_event_, nullptr);
  event_add(tick_event_, &tick);
  return absl::OkStatus();
}

void CommandLoop::Start(Hooks hooks) {
  hooks_ = std::move(hooks);
  thread_ = std::thread([this] { Run(); });
}

void CommandLoop::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  stopping_fast_.store(true);
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void CommandLoop::Run() {
  loop_thread_id_.store(std::this_thread::get_id());
  hooks_.tick(SteadyNow());
  event_base_dispatch(state_.base);
  // Stopping: fail whatever is in flight or queued, still on this thread.
  hooks_.stop();
  DrainQueue();
}

void CommandLoop::OnWake(int fd, short /*events*/, void* arg) {
  auto* self = static_cast<CommandLoop*>(arg);
  uint64_t count;
  (void)!read(fd, &count, sizeof(count));
  bool stopping;
  {
    absl::MutexLock lock(&self->mu_);
    stopping = self->stopping_;
  }
  if (stopping) {
    event_base_loopbreak(self->state_.base);
    return;
  }
  self->DrainQueue();
}

void CommandLoop::OnTick(int /*fd*/, short /*events*/, void* arg) {
  auto* self = static_cast<CommandLoop*>(arg);
  self->hooks_.tick(SteadyNow());
}

void CommandLoop::DrainQueue() {
  std::vector<std::unique_ptr<PendingCommand>> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(queue_);
  }
  for (std::unique_ptr<PendingCommand>& command : batch) {
    hooks_.dispatch(std::move(command));
  }
}

void CommandLoop::Submit(std::unique_ptr<PendingCommand> command) {
  ClientState& state = state_;
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
      hooks_.dispatch(std::move(command));
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

}  // namespace makegood::redis
