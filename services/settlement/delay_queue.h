// File: services/settlement/delay_queue.h
//
// Runs callbacks after a delay on one thread of its own: the sandbox
// provider's simulated latency. Callbacks must not block.
//
// Example:
//   DelayQueue queue;
//   queue.RunAfter(absl::Milliseconds(5), [] { ... });
//
// Thread-safety: RunAfter is thread-safe. The destructor runs nothing more:
// callbacks still waiting are run at once (so every promise is kept) and the
// thread is joined.
#pragma once

#include <map>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace makegood::settlement {

class DelayQueue {
 public:
  DelayQueue();
  ~DelayQueue();
  DelayQueue(const DelayQueue&) = delete;
  DelayQueue& operator=(const DelayQueue&) = delete;

  void RunAfter(absl::Duration delay, absl::AnyInvocable<void()> task);

 private:
  void Run();

  absl::Mutex mu_;
  std::multimap<absl::Time, absl::AnyInvocable<void()>> tasks_
      ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace makegood::settlement
