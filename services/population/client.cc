#include "services/population/client.h"

#include "absl/time/clock.h"

namespace makegood::population {
namespace {

bool Retryable(grpc::StatusCode code) {
  return code == grpc::UNAVAILABLE || code == grpc::RESOURCE_EXHAUSTED ||
         code == grpc::DEADLINE_EXCEEDED || code == grpc::ABORTED;
}

}  // namespace

Client::Client(ClientOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  channel_ = grpc::CreateCustomChannel(
      options_.target, grpc::InsecureChannelCredentials(), args);
  members_ = v1::MemberService::NewStub(channel_);
  orders_ = v1::OrderService::NewStub(channel_);
  ratings_ = v1::RatingService::NewStub(channel_);
  policies_ = v1::PolicyService::NewStub(channel_);
  insights_ = v1::InsightsService::NewStub(channel_);
  refunds_ = v1::RefundService::NewStub(channel_);
}

template <typename Request, typename Response, typename Method>
grpc::Status Client::Call(Method method, const Request& request,
                          Response& response) {
  grpc::Status status;
  for (int attempt = 0; attempt < 8; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(
        absl::ToChronoTime(absl::Now() + options_.call_timeout));
    for (const auto& [key, value] : options_.metadata) {
      context.AddMetadata(key, value);
    }
    status = method(&context, request, &response);
    if (status.ok() || !Retryable(status.error_code())) return status;
    absl::SleepFor(absl::Milliseconds(100) * (attempt + 1));
  }
  return status;
}

grpc::Status Client::GetPolicy(v1::GetPolicyResponse& response) {
  return Call(
      [&](grpc::ClientContext* c, const v1::GetPolicyRequest& r,
          v1::GetPolicyResponse* out) {
        return policies_->GetPolicy(c, r, out);
      },
      v1::GetPolicyRequest(), response);
}

grpc::Status Client::Upsert(const v1::Member& member) {
  v1::UpsertMemberRequest request;
  *request.mutable_member() = member;
  v1::UpsertMemberResponse response;
  return Call(
      [&](grpc::ClientContext* c, const v1::UpsertMemberRequest& r,
          v1::UpsertMemberResponse* out) {
        return members_->UpsertMember(c, r, out);
      },
      request, response);
}

grpc::Status Client::Record(const v1::Order& order) {
  v1::RecordDeliveryRequest request;
  *request.mutable_order() = order;
  v1::RecordDeliveryResponse response;
  return Call(
      [&](grpc::ClientContext* c, const v1::RecordDeliveryRequest& r,
          v1::RecordDeliveryResponse* out) {
        return orders_->RecordDelivery(c, r, out);
      },
      request, response);
}

grpc::Status Client::Rate(const v1::SubmitRatingRequest& request,
                          v1::SubmitRatingResponse& response) {
  return Call(
      [&](grpc::ClientContext* c, const v1::SubmitRatingRequest& r,
          v1::SubmitRatingResponse* out) {
        return ratings_->SubmitRating(c, r, out);
      },
      request, response);
}

grpc::Status Client::RetentionStats(const v1::GetRetentionStatsRequest& request,
                                    v1::GetRetentionStatsResponse& response) {
  return Call(
      [&](grpc::ClientContext* c, const v1::GetRetentionStatsRequest& r,
          v1::GetRetentionStatsResponse* out) {
        return insights_->GetRetentionStats(c, r, out);
      },
      request, response);
}

grpc::Status Client::StartExperiment(const v1::StartExperimentRequest& request,
                                     v1::StartExperimentResponse& response) {
  return Call(
      [&](grpc::ClientContext* c, const v1::StartExperimentRequest& r,
          v1::StartExperimentResponse* out) {
        return policies_->StartExperiment(c, r, out);
      },
      request, response);
}

grpc::Status Client::GetExperiment(const std::string& name,
                                   v1::GetExperimentResponse& response) {
  v1::GetExperimentRequest request;
  request.set_name(name);
  return Call(
      [&](grpc::ClientContext* c, const v1::GetExperimentRequest& r,
          v1::GetExperimentResponse* out) {
        return policies_->GetExperiment(c, r, out);
      },
      request, response);
}

grpc::Status Client::MarkRefundAbusive(
    const v1::MarkRefundAbusiveRequest& request,
    v1::MarkRefundAbusiveResponse& response) {
  return Call(
      [&](grpc::ClientContext* c, const v1::MarkRefundAbusiveRequest& r,
          v1::MarkRefundAbusiveResponse* out) {
        return refunds_->MarkRefundAbusive(c, r, out);
      },
      request, response);
}

}  // namespace makegood::population
