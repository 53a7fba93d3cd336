// File: services/population/reorder_queue.h
//
// Reorders waiting for their retention day: a queue of items by due time
// that any number of threads take from as the items come due, earliest
// first. A waiting reorder holds no thread, so a member who orders again
// in 60 retention days does not hold up the others. The caller keeps each
// member's calls in order by queueing only a member's next reorder, and
// its successor once it was placed.
//
// Example:
//   ReorderQueue queue;
//   queue.Add({.due = t, .member = 3, .next = 0});
//   queue.Close();  // no new members; Next() ends once nothing is pending
//   while (std::optional<DueReorder> item = queue.Next()) {
//     ... place it; queue.Add(its successor) if any ...
//     queue.Done();
//   }
//
// Thread-safety: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace makegood::population {

// The caller's handle of one reorder.
struct DueReorder {
  absl::Time due;
  size_t member = 0;  // Which member.
  size_t next = 0;    // Which of the member's reorders.
};

class ReorderQueue {
 public:
  // Queues `item`; it is pending until Done() is called for it.
  void Add(DueReorder item);
  // No more items but successors added while pending ones are handled.
  void Close();
  // Blocks until an item is due and returns it (the earliest first), or
  // returns nullopt once closed with nothing pending.
  std::optional<DueReorder> Next();
  // One item Next() returned was handled (add its successor before).
  void Done();
  // Drops every queued item; Next() returns nullopt from now on.
  void Cancel();

 private:
  struct Later {
    bool operator()(const DueReorder& a, const DueReorder& b) const {
      return a.due > b.due;
    }
  };

  absl::Mutex mu_;
  absl::CondVar changed_;
  std::priority_queue<DueReorder, std::vector<DueReorder>, Later> queue_
      ABSL_GUARDED_BY(mu_);
  // Queued, or handed out and not done.
  int64_t pending_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace makegood::population
