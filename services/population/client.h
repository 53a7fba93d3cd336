// File: services/population/client.h
//
// The population's gRPC client of one makegood: the calls a simulated
// member and the report make, each retried (the same request, so
// idempotent) while the server says to come back later (UNAVAILABLE,
// RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, ABORTED), up to 8 attempts.
//
// Example:
//   Client client({.target = "127.0.0.1:50051", .metadata = {...}});
//   v1::GetPolicyResponse policy;
//   grpc::Status s = client.GetPolicy(policy);
//
// Thread-safety: thread-safe (one channel, its stubs are).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "makegood/v1/insights_service.grpc.pb.h"
#include "makegood/v1/member_service.grpc.pb.h"
#include "makegood/v1/order_service.grpc.pb.h"
#include "makegood/v1/policy_service.grpc.pb.h"
#include "makegood/v1/rating_service.grpc.pb.h"
#include "makegood/v1/refund_service.grpc.pb.h"

namespace makegood::population {

struct ClientOptions {
  // host:port of a plaintext makegood.
  std::string target;
  // Sent with every call, e.g. {"x-client-id", "population"}.
  std::vector<std::pair<std::string, std::string>> metadata;
  absl::Duration call_timeout = absl::Seconds(10);
};

class Client {
 public:
  explicit Client(ClientOptions options);

  grpc::Status GetPolicy(v1::GetPolicyResponse& response);
  grpc::Status Upsert(const v1::Member& member);
  grpc::Status Record(const v1::Order& order);
  grpc::Status Rate(const v1::SubmitRatingRequest& request,
                    v1::SubmitRatingResponse& response);
  // Needs the agent or admin role (every role under --insecure_dev).
  grpc::Status RetentionStats(const v1::GetRetentionStatsRequest& request,
                              v1::GetRetentionStatsResponse& response);
  // Need the admin role (every role under --insecure_dev). A name is never
  // reused: a start retried after one that succeeded unseen is refused
  // (FAILED_PRECONDITION); a second mark of a refund changes nothing.
  grpc::Status StartExperiment(const v1::StartExperimentRequest& request,
                               v1::StartExperimentResponse& response);
  grpc::Status GetExperiment(const std::string& name,
                             v1::GetExperimentResponse& response);
  grpc::Status MarkRefundAbusive(const v1::MarkRefundAbusiveRequest& request,
                                 v1::MarkRefundAbusiveResponse& response);

 private:
  template <typename Request, typename Response, typename Method>
  grpc::Status Call(Method method, const Request& request, Response& response);

  const ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::MemberService::Stub> members_;
  std::unique_ptr<v1::OrderService::Stub> orders_;
  std::unique_ptr<v1::RatingService::Stub> ratings_;
  std::unique_ptr<v1::PolicyService::Stub> policies_;
  std::unique_ptr<v1::InsightsService::Stub> insights_;
  std::unique_ptr<v1::RefundService::Stub> refunds_;
};

}  // namespace makegood::population
