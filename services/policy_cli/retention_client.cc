#include "services/policy_cli/retention_client.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "makegood/v1/insights_service.grpc.pb.h"

namespace makegood::policy_cli {

namespace v1 = ::makegood::v1;

absl::StatusOr<v1::GetRetentionStatsResponse> FetchRetentionStats(
    const std::string& target, const Metadata& metadata,
    const v1::GetRetentionStatsRequest& request, absl::Duration timeout) {
  std::unique_ptr<v1::InsightsService::Stub> stub =
      v1::InsightsService::NewStub(
          grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  for (const auto& [key, value] : metadata) context.AddMetadata(key, value);
  v1::GetRetentionStatsResponse response;
  const grpc::Status status =
      stub->GetRetentionStats(&context, request, &response);
  if (status.ok()) return response;
  // grpc::StatusCode and absl::StatusCode share their values.
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  return absl::Status(code, absl::StrCat("GetRetentionStats at ", target, ": ",
                                         absl::StatusCodeToString(code), ": ",
                                         status.error_message()));
}

}  // namespace makegood::policy_cli
