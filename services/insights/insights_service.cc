#include "services/insights/insights_service.h"

#include <string>
#include <utility>

#include "services/core/text.h"
#include "services/rpc/unary_handler.h"

namespace makegood::api {
namespace {

using makegood::v1::Dimension;
using makegood::v1::StatsWindow;

insights::Dimension DimensionOf(Dimension dimension) {
  switch (dimension) {
    case makegood::v1::DIMENSION_COURIER:
      return insights::Dimension::kCourier;
    case makegood::v1::DIMENSION_SKU:
      return insights::Dimension::kSku;
    default:
      return insights::Dimension::kStore;
  }
}

insights::Window WindowOf(StatsWindow window) {
  switch (window) {
    case makegood::v1::STATS_WINDOW_24H:
      return insights::kWindow24Hours;
    case makegood::v1::STATS_WINDOW_7D:
      return insights::kWindow7Days;
    default:
      return insights::kWindow1Hour;
  }
}

}  // namespace

void ValidateGetSatisfactionStats(
    const makegood::v1::GetSatisfactionStatsRequest& request,
    Violations& violations) {
  if (request.dimension() == makegood::v1::DIMENSION_UNSPECIFIED ||
      !makegood::v1::Dimension_IsValid(request.dimension())) {
    violations.Add("dimension",
                   "is required: DIMENSION_STORE, DIMENSION_COURIER or "
                   "DIMENSION_SKU");
  }
  if (!IsPrintableAscii(request.subject_id(), 1,
                        InsightsService::kMaxSubjectIdLength)) {
    violations.Add("subject_id",
                   "must be 1-255 printable ASCII characters (the store id, "
                   "courier id or SKU)");
  }
  if (request.window() == makegood::v1::STATS_WINDOW_UNSPECIFIED ||
      !makegood::v1::StatsWindow_IsValid(request.window())) {
    violations.Add("window",
                   "is required: STATS_WINDOW_1H, STATS_WINDOW_24H or "
                   "STATS_WINDOW_7D");
  }
}

grpc::ServerUnaryReactor* InsightsService::GetSatisfactionStats(
    grpc::CallbackServerContext* context,
    const makegood::v1::GetSatisfactionStatsRequest* request,
    makegood::v1::GetSatisfactionStatsResponse* response) {
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.InsightsService/GetSatisfactionStats",
      [request](Violations& violations) {
        ValidateGetSatisfactionStats(*request, violations);
      },
      [this, request, response](const auth::Principal&, rpc::Finish finish) {
        makegood::v1::SatisfactionStats* out = response->mutable_stats();
        out->set_dimension(request->dimension());
        out->set_subject_id(request->subject_id());
        out->set_window(request->window());
        stats_.Read(
            DimensionOf(request->dimension()), request->subject_id(),
            WindowOf(request->window()), clock_.Now(),
            [out, finish](absl::StatusOr<insights::SubjectStats> stats) {
              if (!stats.ok()) {
                finish(stats.status());
                return;
              }
              out->set_ratings(stats->ratings);
              if (stats->ratings > 0) {
                const double ratings = static_cast<double>(stats->ratings);
                out->set_average_satisfaction_percent(
                    static_cast<double>(stats->satisfaction_sum) / ratings);
                out->set_refund_rate(
                    static_cast<double>(stats->refunded_ratings) / ratings);
              }
              for (const auto& [currency, minor] : stats->refunded_minor) {
                if (minor != 0) {
                  (*out->mutable_refunded_minor())[currency] = minor;
                }
              }
              finish(absl::OkStatus());
            });
      });
}

}  // namespace makegood::api
