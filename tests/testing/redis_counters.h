// File: tests/testing/redis_counters.h
//
// A redis::ClientObserver that counts what the client reports, for tests
// that check the client noticed a timeout, a reconnect or a NOSCRIPT.
//
// Example:
//   RedisCounters counters;
//   options.observer = &counters;  // Declare `counters` before the client.
//   ...
//   EXPECT_EQ(counters.noscript.load(), 1u);
//
// Thread-safety: thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

#include "services/redis/client_observer.h"

namespace makegood::testing {

class RedisCounters final : public redis::ClientObserver {
 public:
  void OnCommandAccepted() override { commands++; }
  void OnCommandDone(absl::Duration /*latency*/, bool ok) override {
    if (!ok) failures++;
  }
  void OnRejectedFull() override { rejected_full++; }
  void OnTimeout() override { timeouts++; }
  void OnConnect() override { connects++; }
  void OnReadyConnections(int ready) override { ready_connections = ready; }
  void OnNoscript() override { noscript++; }
  void OnPrimaryChange() override { primary_changes++; }

  std::atomic<uint64_t> commands{0};
  std::atomic<uint64_t> failures{0};
  std::atomic<uint64_t> rejected_full{0};
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> connects{0};
  std::atomic<int> ready_connections{0};
  std::atomic<uint64_t> noscript{0};
  std::atomic<uint64_t> primary_changes{0};
};

}  // namespace makegood::testing
