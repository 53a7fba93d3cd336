#include "services/population/reorder_queue.h"

#include "absl/time/clock.h"

namespace makegood::population {

void ReorderQueue::Add(DueReorder item) {
  absl::MutexLock lock(&mu_);
  queue_.push(item);
  ++pending_;
  // A waiter may be sleeping until a later item's due time.
  changed_.SignalAll();
}

void ReorderQueue::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  changed_.SignalAll();
}

std::optional<DueReorder> ReorderQueue::Next() {
  absl::MutexLock lock(&mu_);
  while (true) {
    if (cancelled_ || (closed_ && pending_ == 0)) return std::nullopt;
    if (queue_.empty()) {
      changed_.Wait(&mu_);
      continue;
    }
    const absl::Time due = queue_.top().due;
    if (absl::Now() >= due) {
      DueReorder item = queue_.top();
      queue_.pop();
      return item;
    }
    changed_.WaitWithDeadline(&mu_, due);
  }
}

void ReorderQueue::Done() {
  absl::MutexLock lock(&mu_);
  if (--pending_ == 0) changed_.SignalAll();
}

void ReorderQueue::Cancel() {
  absl::MutexLock lock(&mu_);
  pending_ -= static_cast<int64_t>(queue_.size());
  queue_ = {};
  closed_ = true;
  cancelled_ = true;
  changed_.SignalAll();
}

}  // namespace makegood::population
