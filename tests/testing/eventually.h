// File: tests/testing/eventually.h
//
// Waiting, bounded, for something that happens asynchronously (a worker
// settles a refund, an aggregator folds an event, a client reconnects) and
// has no completion to wait on.
//
// Example:
//   ASSERT_TRUE(Eventually([&] { return State(id) == "SUCCEEDED"; }));
#pragma once

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace makegood::testing {

// Polls `done` every few milliseconds until it holds (true) or `timeout`
// passes (false, after one last look).
inline bool Eventually(const std::function<bool()>& done,
                       absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return done();
}

}  // namespace makegood::testing
