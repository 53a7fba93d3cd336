// File: services/insights/insights_service.h
//
// makegood.v1.InsightsService.GetSatisfactionStats: for operations staff,
// the ratings, average satisfaction, refund rate and refunded money of one
// store, courier or SKU over the last hour, 24 hours or 7 days.
//
// Figures come from the aggregates the insights aggregator (aggregator.h)
// folds from the decision events; they lag the ratings by about one
// XREADGROUP round (well under a second while the aggregator runs). Windows
// are whole buckets ending now (see stats_store.h). A subject nobody rated
// gets zeros, not NOT_FOUND: the aggregates cannot tell "unknown" from
// "quiet". The refund rate is the share of ratings whose decision refunded
// or credited money (for a SKU: money for that line); coupons, replacements
// and reviews still pending do not count.
//
// Requests are checked first: dimension and window are required (not
// *_UNSPECIFIED, nor a value this server does not know) and subject_id must
// be 1-255 printable ASCII characters; otherwise INVALID_ARGUMENT with a
// google.rpc.BadRequest naming each bad field.
//
// GetRetentionStats: see the method's comment below.
//
// Thread-safety: thread-safe; handlers never block.
#pragma once

#include "makegood/v1/insights_service.grpc.pb.h"
#include "services/auth/authenticator.h"
#include "services/core/clock.h"
#include "services/errors/errors.h"
#include "services/insights/stats_store.h"
#include "services/redis/redis_client.h"
#include "services/retention/retention_store.h"
#include "services/store/key_schema.h"

namespace makegood::api {

// Adds a violation per bad field of `request` (pure).
void ValidateGetSatisfactionStats(
    const makegood::v1::GetSatisfactionStatsRequest& request,
    Violations& violations);

// Adds a violation per bad field of `request` (pure): group_by at most 4
// known dimensions, each once; filters at most 9, each a known dimension
// with a 1-255 printable ASCII value; at most one of store_id and
// courier_id, which limit both to outcome, recovery and currency.
void ValidateGetRetentionStats(
    const makegood::v1::GetRetentionStatsRequest& request,
    Violations& violations);

class InsightsService final
    : public makegood::v1::InsightsService::CallbackService {
 public:
  static constexpr size_t kMaxSubjectIdLength = 255;

  // Does not take ownership; all must outlive the service.
  InsightsService(const auth::Authenticator& auth, redis::RedisClient& redis,
                  const store::KeySchema& keys, const Clock& clock)
      : auth_(auth),
        clock_(clock),
        stats_(redis, keys),
        retention_(redis, keys) {}

  grpc::ServerUnaryReactor* GetSatisfactionStats(
      grpc::CallbackServerContext* context,
      const makegood::v1::GetSatisfactionStatsRequest* request,
      makegood::v1::GetSatisfactionStatsResponse* response) override;

  // Retention after trouble: the closed 7-, 30- and 90-day windows of
  // every trouble (a low rating or a claim), summed over the partitions and
  // grouped as asked, each with its reorder rate and 95 % Wilson interval,
  // spend, paid and net value per currency (retention/retention_store.h).
  // A trouble counts once its 7-day window has closed (the sweeper of the
  // worker processes closes windows, --retention_sweep_interval).
  grpc::ServerUnaryReactor* GetRetentionStats(
      grpc::CallbackServerContext* context,
      const makegood::v1::GetRetentionStatsRequest* request,
      makegood::v1::GetRetentionStatsResponse* response) override;

 private:
  const auth::Authenticator& auth_;
  const Clock& clock_;
  insights::StatsStore stats_;
  retention::RetentionStore retention_;
};

}  // namespace makegood::api
