// File: services/tools/loadgen/rating_workloads.h
//
// The throughput workloads: nowork (Health/Check, the gRPC ceiling), fresh
// (SubmitRating with a new key each call) and replay (SubmitRating
// re-sending submitted keys; answers must say replayed).
//
// Thread-safety: Start is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "makegood/v1/rating_service.grpc.pb.h"
#include "services/tools/loadgen/connections.h"
#include "services/tools/loadgen/workload.h"

namespace makegood::loadgen {

namespace v1 = ::makegood::v1;

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

// nowork: Health/Check, answered by grpc++'s health service from memory.
class NoWorkWorkload : public Workload {
 public:
  NoWorkWorkload(Connections& connections, absl::Duration timeout)
      : connections_(connections), timeout_(timeout) {}

  void Start(uint64_t n, int64_t scheduled_ns, CallSink& sink) override {
    struct Call {
      grpc::ClientContext context;
      HealthCheckResponse response;
    };
    auto* call = new Call;
    connections_.Prepare(call->context, timeout_, /*with_metadata=*/false);
    connections_.Health(n).async()->Check(
        &call->context, &request_, &call->response,
        [call, scheduled_ns, &sink](grpc::Status status) {
          CallResult result{status.error_code(), false};
          result.unexpected = status.ok() && call->response.status() !=
                                                 HealthCheckResponse::SERVING;
          delete call;
          sink.OnDone(scheduled_ns, result);
        });
  }

 private:
  Connections& connections_;
  absl::Duration timeout_;
  const HealthCheckRequest request_;  // service "": the whole server.
};

// fresh: SubmitRating with a key never sent before. Ratings cycle through
// precomputed (member, order) templates; only the key is new per call.
class FreshWorkload : public Workload {
 public:
  FreshWorkload(Connections& connections, absl::Duration timeout,
                const Dataset& dataset, std::string key_prefix)
      : connections_(connections),
        timeout_(timeout),
        key_prefix_(std::move(key_prefix)) {
    templates_.reserve(static_cast<size_t>(dataset.orders()));
    for (int64_t pair = 0; pair < dataset.orders(); ++pair) {
      templates_.push_back(dataset.MakeRating(pair));
    }
  }

  void Start(uint64_t n, int64_t scheduled_ns, CallSink& sink) override {
    struct Call {
      grpc::ClientContext context;
      v1::SubmitRatingRequest request;
      v1::SubmitRatingResponse response;
    };
    auto* call = new Call;
    call->request = templates_[n % templates_.size()];
    call->request.set_idempotency_key(absl::StrCat(key_prefix_, n));
    connections_.Prepare(call->context, timeout_, /*with_metadata=*/true);
    connections_.Rating(n).async()->SubmitRating(
        &call->context, &call->request, &call->response,
        [call, scheduled_ns, &sink](grpc::Status status) {
          CallResult result{status.error_code(), false};
          result.unexpected = status.ok() && call->response.replayed();
          delete call;
          sink.OnDone(scheduled_ns, result);
        });
  }

 private:
  Connections& connections_;
  absl::Duration timeout_;
  std::string key_prefix_;
  std::vector<v1::SubmitRatingRequest> templates_;
};

// replay: SubmitRating re-sending requests (same key, same payload) that
// were submitted before; every answer must say replayed.
class ReplayWorkload : public Workload {
 public:
  ReplayWorkload(Connections& connections, absl::Duration timeout,
                 std::vector<v1::SubmitRatingRequest> requests)
      : connections_(connections),
        timeout_(timeout),
        requests_(std::move(requests)) {}

  void Start(uint64_t n, int64_t scheduled_ns, CallSink& sink) override {
    struct Call {
      grpc::ClientContext context;
      v1::SubmitRatingResponse response;
    };
    auto* call = new Call;
    connections_.Prepare(call->context, timeout_, /*with_metadata=*/true);
    connections_.Rating(n).async()->SubmitRating(
        &call->context, &requests_[n % requests_.size()], &call->response,
        [call, scheduled_ns, &sink](grpc::Status status) {
          CallResult result{status.error_code(), false};
          result.unexpected = status.ok() && !call->response.replayed();
          delete call;
          sink.OnDone(scheduled_ns, result);
        });
  }

 private:
  Connections& connections_;
  absl::Duration timeout_;
  const std::vector<v1::SubmitRatingRequest> requests_;
};

}  // namespace makegood::loadgen
