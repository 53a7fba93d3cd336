// File: services/redis/command_loop.h
//
// CommandLoop: the I/O thread of a Redis client (HiredisClient,
// ClusterClient), internal to services/redis. It owns the libevent loop,
// the queue of commands handed over by other threads (one eventfd wakes the
// loop per batch), the 5 ms tick that checks deadlines and reconnects, and
// the cap of outstanding commands. What a client does with a command
// (Dispatch), on each tick (Tick) and when it stops (Stop) is its own.
//
// Thread-safety: Submit and on_loop_thread are thread-safe; the hooks run on
// the loop thread only.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "services/redis/client_state.h"

struct event;

namespace makegood::redis {

class CommandLoop {
 public:
  struct Hooks {
    // Sends a command or completes it (it must do one or the other).
    absl::AnyInvocable<void(std::unique_ptr<PendingCommand>)> dispatch;
    // Every tick, and once before the loop starts.
    absl::AnyInvocable<void(SteadyTime)> tick;
    // On the loop thread once it stops, before the queue is drained (with
    // `dispatch`, which must then fail what it is given).
    absl::AnyInvocable<void()> stop;
  };

  // `state` must outlive this object; state.base is set by Init.
  explicit CommandLoop(ClientState& state) : state_(state) {}
  // Stops the thread if still running, then frees the event loop.
  ~CommandLoop();

  CommandLoop(const CommandLoop&) = delete;
  CommandLoop& operator=(const CommandLoop&) = delete;

  // Creates the event loop (state.base), its wake-up and its tick.
  absl::Status Init();
  // Starts the I/O thread.
  void Start(Hooks hooks);
  // Stops the I/O thread and waits for it; commands still queued fail.
  void Stop();

  // Sets the command's deadline, applies max_outstanding, and hands it to
  // `dispatch` on the loop thread (at once when called there).
  void Submit(std::unique_ptr<PendingCommand> command);

  bool on_loop_thread() const {
    return std::this_thread::get_id() == thread_.get_id();
  }

 private:
  void Run();
  void DrainQueue();
  static void OnWake(int fd, short events, void* arg);
  static void OnTick(int fd, short events, void* arg);

  ClientState& state_;
  Hooks hooks_;
  event* wake_event_ = nullptr;
  event* tick_event_ = nullptr;
  int wake_fd_ = -1;
  std::thread thread_;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<PendingCommand>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // The I/O thread's id (set when it starts) and a lock-free copy of
  // stopping_, so commands issued from callbacks skip the queue.
  std::atomic<std::thread::id> loop_thread_id_{};
  std::atomic<bool> stopping_fast_{false};
};

}  // namespace makegood::redis
