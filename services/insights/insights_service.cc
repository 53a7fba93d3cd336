#include "services/insights/insights_service.h"

#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/core/text.h"
#include "services/retention/trouble.h"
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

constexpr int kMaxGroupBy = 4;
constexpr int kMaxFilters = retention::kLabelCount;

bool IsRetentionDimension(int dimension) {
  return dimension != makegood::v1::RETENTION_DIMENSION_UNSPECIFIED &&
         makegood::v1::RetentionDimension_IsValid(dimension);
}

// RetentionDimension numbers follow retention::Label's order from 1.
retention::Label LabelOf(int dimension) {
  return static_cast<retention::Label>(dimension - 1);
}

bool AllowedForSubject(int dimension) {
  return dimension == makegood::v1::RETENTION_DIMENSION_OUTCOME ||
         dimension == makegood::v1::RETENTION_DIMENSION_RECOVERY ||
         dimension == makegood::v1::RETENTION_DIMENSION_CURRENCY;
}

void ValidateRetentionDimension(const std::string& field, int dimension,
                                bool subject, Violations& violations) {
  if (!IsRetentionDimension(dimension)) {
    violations.Add(field,
                   "must be a RetentionDimension other than "
                   "RETENTION_DIMENSION_UNSPECIFIED");
  } else if (subject && !AllowedForSubject(dimension)) {
    violations.Add(field,
                   "with store_id or courier_id, only OUTCOME, RECOVERY and "
                   "CURRENCY are kept per store and courier");
  }
}

retention::RetentionQuery QueryOf(
    const makegood::v1::GetRetentionStatsRequest& request) {
  retention::RetentionQuery query;
  for (int dimension : request.group_by()) {
    query.group_by.push_back(LabelOf(dimension));
  }
  for (const makegood::v1::RetentionFilter& filter : request.filters()) {
    query.filters.emplace_back(LabelOf(filter.dimension()), filter.value());
  }
  if (!request.store_id().empty()) {
    query.subject_kind = "store";
    query.subject_id = request.store_id();
  } else if (!request.courier_id().empty()) {
    query.subject_kind = "courier";
    query.subject_id = request.courier_id();
  }
  return query;
}

}  // namespace

void ValidateGetRetentionStats(
    const makegood::v1::GetRetentionStatsRequest& request,
    Violations& violations) {
  const bool subject =
      !request.store_id().empty() || !request.courier_id().empty();
  if (!request.store_id().empty() && !request.courier_id().empty()) {
    violations.Add("courier_id", "give store_id or courier_id, not both");
  }
  auto check_id = [&violations](const char* field, const std::string& id) {
    if (!id.empty() && !IsPrintableAscii(id, 1, 255)) {
      violations.Add(field, "must be 1-255 printable ASCII characters");
    }
  };
  check_id("store_id", request.store_id());
  check_id("courier_id", request.courier_id());
  if (request.group_by_size() > kMaxGroupBy) {
    violations.Add("group_by",
                   absl::StrCat("at most ", kMaxGroupBy, " dimensions"));
  }
  std::set<int> seen;
  for (int i = 0; i < request.group_by_size(); ++i) {
    const std::string field = absl::StrCat("group_by[", i, "]");
    const int dimension = request.group_by(i);
    ValidateRetentionDimension(field, dimension, subject, violations);
    if (!seen.insert(dimension).second) {
      violations.Add(field, "is given twice");
    }
  }
  if (request.filters_size() > kMaxFilters) {
    violations.Add("filters",
                   absl::StrCat("at most ", kMaxFilters, " filters"));
  }
  for (int i = 0; i < request.filters_size(); ++i) {
    const makegood::v1::RetentionFilter& filter = request.filters(i);
    const std::string field = absl::StrCat("filters[", i, "]");
    ValidateRetentionDimension(field + ".dimension", filter.dimension(),
                               subject, violations);
    if (!IsPrintableAscii(filter.value(), 1, 255)) {
      violations.Add(field + ".value",
                     "must be 1-255 printable ASCII characters (a label, "
                     "e.g. REFUND or EUR)");
    }
  }
}

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

grpc::ServerUnaryReactor* InsightsService::GetRetentionStats(
    grpc::CallbackServerContext* context,
    const makegood::v1::GetRetentionStatsRequest* request,
    makegood::v1::GetRetentionStatsResponse* response) {
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.InsightsService/GetRetentionStats",
      [request](Violations& violations) {
        ValidateGetRetentionStats(*request, violations);
      },
      [this, request, response](const auth::Principal&, rpc::Finish finish) {
        retention_.Read(
            QueryOf(*request),
            [request, response,
             finish](absl::StatusOr<retention::RetentionStats> stats) {
              if (!stats.ok()) {
                finish(stats.status());
                return;
              }
              response->set_open_troubles(stats->open_troubles);
              for (const retention::Cohort& cohort : stats->cohorts) {
                makegood::v1::RetentionCohort* out = response->add_cohorts();
                for (int i = 0; i < request->group_by_size(); ++i) {
                  makegood::v1::RetentionLabel* label = out->add_labels();
                  label->set_dimension(request->group_by(i));
                  label->set_value(cohort.labels[i]);
                }
                for (size_t w = 0; w < retention::kWindowDays.size(); ++w) {
                  retention::RetentionWindowToProto(retention::kWindowDays[w],
                                                    cohort.windows[w],
                                                    *out->add_windows());
                }
              }
              finish(absl::OkStatus());
            });
      });
}

}  // namespace makegood::api
