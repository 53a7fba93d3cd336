// File: services/tools/loadgen/call_stats.h
//
// The load generator's clock and figures: monotonic nanoseconds, counts per
// gRPC status code, and exact nearest-rank latency percentiles as JSON.
//
// Thread-safety: pure functions (CodeCounts is a plain array).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "grpcpp/support/status.h"

namespace makegood::loadgen {

constexpr int kStatusCodes = 17;  // grpc::StatusCode 0 (OK) .. 16.

// gRPC's codes are absl's codes (same numbers, same names).
std::string StatusCodeName(int code);

// Counts per grpc::StatusCode.
using CodeCounts = std::array<int64_t, kStatusCodes>;

// The index of `code` in CodeCounts (UNKNOWN for numbers out of range).
int CodeIndex(grpc::StatusCode code);

// {"OK":12,"UNIMPLEMENTED":3}: only the codes that occurred.
std::string CodesJson(const CodeCounts& counts);

// Monotonic nanoseconds; every latency and schedule is on this clock.
inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline void SleepUntilNs(int64_t deadline_ns) {
  int64_t wait = deadline_ns - NowNs();
  if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
}

// Nearest-rank percentile of sorted values, in microseconds.
int64_t PercentileUs(const std::vector<int64_t>& sorted, double p);

// {"p50":..,"p90":..,"p99":..,"p999":..,"max":..,"mean":..} in microseconds,
// or null without samples. Sorts `ns`.
std::string LatencyJson(std::vector<int64_t>& ns);

}  // namespace makegood::loadgen
