// File: services/policy_cli/retention_client.h
//
// The one gRPC call of makegood_policy: InsightsService.GetRetentionStats on
// a running makegood, over plaintext, for the retention-chart command.
//
// Example:
//   absl::StatusOr<v1::GetRetentionStatsResponse> stats = FetchRetentionStats(
//       "127.0.0.1:50051", {{"x-api-key", key}}, request, absl::Seconds(30));
//
// Thread-safe; each call opens its own channel.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "makegood/v1/insights_service.pb.h"

namespace makegood::policy_cli {

// gRPC metadata sent with the call, e.g. {"authorization", "Bearer ..."}.
// Keys must be lower case (gRPC's rule).
using Metadata = std::vector<std::pair<std::string, std::string>>;

// Calls GetRetentionStats on the plaintext server at `target` (host:port),
// giving up after `timeout`. On failure, the call's gRPC status as an
// absl::Status of the same code, its message "GetRetentionStats at
// <target>: <CODE>: <the server's message>".
[[nodiscard]] absl::StatusOr<makegood::v1::GetRetentionStatsResponse>
FetchRetentionStats(const std::string& target, const Metadata& metadata,
                    const makegood::v1::GetRetentionStatsRequest& request,
                    absl::Duration timeout);

}  // namespace makegood::policy_cli
