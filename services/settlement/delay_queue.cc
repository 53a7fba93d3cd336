#include "services/settlement/delay_queue.h"

#include <utility>

namespace makegood::settlement {

DelayQueue::DelayQueue() : thread_([this] { Run(); }) {}

DelayQueue::~DelayQueue() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void DelayQueue::RunAfter(absl::Duration delay,
                          absl::AnyInvocable<void()> task) {
  absl::MutexLock lock(&mu_);
  tasks_.emplace(absl::Now() + delay, std::move(task));
}

void DelayQueue::Run() {
  while (true) {
    absl::AnyInvocable<void()> task;
    {
      absl::MutexLock lock(&mu_);
      auto due = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stopping_ ||
               (!tasks_.empty() && tasks_.begin()->first <= absl::Now());
      };
      while (!due()) {
        absl::Time wake = tasks_.empty() ? absl::Now() + absl::Milliseconds(50)
                                         : tasks_.begin()->first;
        mu_.AwaitWithDeadline(absl::Condition(&due), wake);
      }
      if (tasks_.empty()) return;  // Stopping with nothing left.
      task = std::move(tasks_.begin()->second);
      tasks_.erase(tasks_.begin());
    }
    task();
  }
}

}  // namespace makegood::settlement
