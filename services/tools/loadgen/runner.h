// File: services/tools/loadgen/runner.h
//
// Drives calls: RunBounded (a fixed number with bounded concurrency, for
// setup and priming) and Runner (a Workload closed or open loop over a
// measured window, keeping the statistics).
//
// Thread-safety: Runner's CallSink side is called from gRPC threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "services/tools/loadgen/call_stats.h"
#include "services/tools/loadgen/workload.h"

namespace makegood::loadgen {

// What RunBounded saw.
struct BoundedResult {
  CodeCounts codes{};
  std::vector<bool> ok;  // per call
  std::string first_error;
  double seconds = 0;
};
using StartFn =
    std::function<void(int64_t, std::function<void(const grpc::Status&)>)>;

// Runs calls 0..count-1 with at most `concurrency` in flight and waits for
// all of them. `start(i, done)` starts call i and calls done(status) once.
BoundedResult RunBounded(int64_t count, int concurrency, StartFn start);

// What the run measured.
struct RunStats {
  CodeCounts codes{};       // measured calls, per status
  int64_t unexpected = 0;   // measured calls OK but contradicting the mode
  int64_t total_calls = 0;  // every finished call, warmup and drain included
  std::vector<int64_t> latencies_ns;  // measured calls that succeeded
  int64_t last_done_ns = 0;           // end of the last measured call
  double window_seconds = 0;          // measured window (>= --duration)
  // Open loop: how late each measured call was sent after its due time (the
  // load generator's own share of the latency).
  std::vector<int64_t> send_lag_ns;
  // Calls scheduled (open loop) or started (closed loop) in
  // [measure_from_ns, measure_until_ns) are measured.
  int64_t measure_from_ns = 0;
  int64_t measure_until_ns = 0;
};

struct RunOptions {
  double rate = 0;  // 0 = closed loop
  int concurrency = 64;
  int max_in_flight = 20000;
  absl::Duration warmup;
  absl::Duration duration;
};

// Drives a Workload closed or open loop and keeps the statistics. A call is
// measured if it was scheduled (open loop) or started (closed loop) inside
// [start + warmup, start + warmup + duration).
class Runner : public CallSink {
 public:
  Runner(Workload& workload, RunOptions options)
      : workload_(workload), options_(options) {}

  RunStats Run() {
    int64_t start = NowNs();
    measure_from_ns_ = start + absl::ToInt64Nanoseconds(options_.warmup);
    measure_until_ns_ =
        measure_from_ns_ + absl::ToInt64Nanoseconds(options_.duration);
    if (options_.rate > 0) {
      RunOpenLoop(start);
    } else {
      // Each completion starts the next call in its slot: the in-flight count
      // stays at --concurrency until the window ends.
      closed_loop_ = true;
      in_flight_.store(options_.concurrency);
      for (int i = 0; i < options_.concurrency; ++i) StartCall(NowNs());
      SleepUntilNs(measure_until_ns_);
    }
    // Calls have deadlines, so every one of them ends.
    while (in_flight_.load() > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    absl::MutexLock lock(&mu_);
    RunStats stats = std::move(stats_);
    int64_t window =
        std::max(measure_until_ns_, stats.last_done_ns) - measure_from_ns_;
    stats.window_seconds = static_cast<double>(window) / 1e9;
    stats.send_lag_ns = std::move(send_lag_ns_);
    stats.measure_from_ns = measure_from_ns_;
    stats.measure_until_ns = measure_until_ns_;
    return stats;
  }

  void OnDone(int64_t scheduled_ns, CallResult result) override {
    int64_t now = NowNs();
    int64_t answered = result.done_ns > 0 ? result.done_ns : now;
    bool measured =
        scheduled_ns >= measure_from_ns_ && scheduled_ns < measure_until_ns_;
    {
      absl::MutexLock lock(&mu_);
      ++stats_.total_calls;
      if (measured) {
        stats_.codes[CodeIndex(result.code)]++;
        if (result.unexpected) {
          ++stats_.unexpected;
        } else if (result.code == grpc::OK) {
          stats_.latencies_ns.push_back(answered - scheduled_ns);
        }
        stats_.last_done_ns = std::max(stats_.last_done_ns, now);
      }
    }
    if (closed_loop_ && now < measure_until_ns_) {
      StartCall(now);  // takes over this call's in-flight slot
    } else {
      in_flight_.fetch_sub(1);
    }
  }

 private:
  void StartCall(int64_t scheduled_ns) {
    workload_.Start(next_.fetch_add(1), scheduled_ns, *this);
  }

  // Call i is due at start + i / rate. When behind (the process was
  // descheduled, or the in-flight cap was hit) every due call is sent at
  // once; its latency still counts from its due time.
  void RunOpenLoop(int64_t start) {
    const double interval_ns = 1e9 / options_.rate;
    for (uint64_t i = 0;; ++i) {
      int64_t due =
          start + static_cast<int64_t>(static_cast<double>(i) * interval_ns);
      if (due >= measure_until_ns_) break;
      SleepUntilNs(due);
      while (in_flight_.load() >= options_.max_in_flight) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      in_flight_.fetch_add(1);
      int64_t now = NowNs();
      if (due >= measure_from_ns_) send_lag_ns_.push_back(now - due);
      StartCall(due);
    }
  }

  Workload& workload_;
  const RunOptions options_;
  bool closed_loop_ = false;
  int64_t measure_from_ns_ = 0;
  int64_t measure_until_ns_ = 0;
  std::atomic<uint64_t> next_{0};
  std::atomic<int64_t> in_flight_{0};
  std::vector<int64_t> send_lag_ns_;  // open loop; the sending thread's own
  absl::Mutex mu_;
  RunStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace makegood::loadgen
