// File: services/api/policy_service.h
//
// makegood.v1.PolicyService: read the active policy, validate candidates and
// simulate them (SimulatePolicy) over given cases or over the decisions
// recorded in a past window, against the active policy. A simulation moves
// no money and writes nothing.
//
// Where a simulation runs: the handler validates the request and builds the
// candidate engine; recorded decisions are read with one script per
// partition, all pipelined (store::RatingRecordStore); deciding the cases
// (two engine calls each, up to 100000 cases) runs on a worker thread owned
// by the service, so neither gRPC's callback threads nor the Redis I/O
// thread (which the rating hot path shares) waits on it. At most
// kMaxConcurrentSimulations run or wait at once; more are UNAVAILABLE.
//
// Thread-safety: thread-safe; handlers never block.
#pragma once

#include <atomic>
#include <memory>

#include "absl/time/time.h"
#include "makegood/v1/policy_service.grpc.pb.h"
#include "services/api/experiment_rpcs.h"
#include "services/auth/authenticator.h"
#include "services/core/clock.h"
#include "services/policy_file/policy_document.h"
#include "services/rpc/unary_handler.h"
#include "services/store/rating_record_store.h"

namespace makegood::api {

class PolicyService final
    : public makegood::v1::PolicyService::CallbackService {
 public:
  // Recorded decisions simulated when RecordedWindow.max_cases is 0, and the
  // most a request may ask for (also the most cases given inline).
  static constexpr int kDefaultMaxCases = 10'000;
  static constexpr int kMaxCases = 100'000;
  // The longest recorded window.
  static constexpr absl::Duration kMaxWindow = absl::Hours(31 * 24);
  // Differences and case errors returned (all are counted).
  static constexpr int kMaxDifferences = 1000;
  static constexpr int kMaxCaseErrors = 100;
  static constexpr int kMaxConcurrentSimulations = 4;

  // Does not take ownership; all must outlive the service. Recorded
  // decisions are read through a store::RatingRecordStore over `redis` and
  // `keys`. Starts the simulation worker thread; the destructor joins it
  // after running what is queued (the server is shut down first, so nothing
  // new arrives).
  // `shadow` (may be null) is the candidate decided beside the active policy;
  // GetPolicy reports it.
  PolicyService(const auth::Authenticator& auth,
                const policy_file::ActivePolicy& policy,
                redis::RedisClient& redis, const store::KeySchema& keys,
                const Clock& clock,
                const policy_file::ActivePolicy* shadow = nullptr,
                experiments::ExperimentWatcher* experiments = nullptr);
  ~PolicyService() override;

  PolicyService(const PolicyService&) = delete;
  PolicyService& operator=(const PolicyService&) = delete;

  grpc::ServerUnaryReactor* GetPolicy(
      grpc::CallbackServerContext* context,
      const makegood::v1::GetPolicyRequest* request,
      makegood::v1::GetPolicyResponse* response) override;

  grpc::ServerUnaryReactor* ValidatePolicy(
      grpc::CallbackServerContext* context,
      const makegood::v1::ValidatePolicyRequest* request,
      makegood::v1::ValidatePolicyResponse* response) override;

  grpc::ServerUnaryReactor* SimulatePolicy(
      grpc::CallbackServerContext* context,
      const makegood::v1::SimulatePolicyRequest* request,
      makegood::v1::SimulatePolicyResponse* response) override;

  // Policy experiments (api/experiment_rpcs.h, services/experiments/): the
  // work runs on the worker thread, behind any simulation in progress.
  grpc::ServerUnaryReactor* StartExperiment(
      grpc::CallbackServerContext* context,
      const makegood::v1::StartExperimentRequest* request,
      makegood::v1::StartExperimentResponse* response) override;
  grpc::ServerUnaryReactor* GetExperiment(
      grpc::CallbackServerContext* context,
      const makegood::v1::GetExperimentRequest* request,
      makegood::v1::GetExperimentResponse* response) override;
  grpc::ServerUnaryReactor* StopExperiment(
      grpc::CallbackServerContext* context,
      const makegood::v1::StopExperimentRequest* request,
      makegood::v1::StopExperimentResponse* response) override;

 private:
  class Worker;

  // Runs a validated simulation of `candidate` (at most
  // kMaxConcurrentSimulations at once) and finishes the call.
  void Simulate(grpc::CallbackServerContext* context,
                const makegood::v1::SimulatePolicyRequest* request,
                makegood::v1::SimulatePolicyResponse* response,
                std::shared_ptr<const policy::PolicyEngine> candidate,
                rpc::Finish finish_call);

  const auth::Authenticator& auth_;
  const policy_file::ActivePolicy& policy_;
  const policy_file::ActivePolicy* const shadow_;
  store::RatingRecordStore records_;
  const Clock& clock_;
  // Simulations admitted and not yet finished.
  std::atomic<int> simulations_{0};
  ExperimentRpcs experiment_rpcs_;
  std::unique_ptr<Worker> worker_;
};

}  // namespace makegood::api
