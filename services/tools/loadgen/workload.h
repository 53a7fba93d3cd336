// File: services/tools/loadgen/workload.h
//
// A Workload is one kind of call the runner repeats; a CallSink receives the
// end of each call. The workloads: nowork, fresh and replay
// (rating_workloads.h) and settle (settle_workload.h).
#pragma once

#include <cstdint>

#include "grpcpp/support/status.h"

namespace makegood::loadgen {

// Outcome of one call.
struct CallResult {
  grpc::StatusCode code = grpc::OK;
  // OK, but the answer contradicts the mode (see --max_error_ratio).
  bool unexpected = false;
  // When the call's answer that counts arrived, if not when OnDone runs
  // (settle: the SUCCEEDED message, before the stream closes). 0 = now.
  int64_t done_ns = 0;
};

// Receives the end of each call. Implementations are thread-safe.
class CallSink {
 public:
  virtual ~CallSink() = default;
  // `scheduled_ns` is what the call was started with.
  virtual void OnDone(int64_t scheduled_ns, CallResult result) = 0;
};

// One kind of call the runner repeats.
class Workload {
 public:
  virtual ~Workload() = default;
  // Starts call number `n` of the run (0, 1, 2, ...; each once). Calls
  // sink.OnDone(scheduled_ns, ...) exactly once, on a gRPC thread, when the
  // call ends. Thread-safe.
  virtual void Start(uint64_t n, int64_t scheduled_ns, CallSink& sink) = 0;
};

}  // namespace makegood::loadgen
