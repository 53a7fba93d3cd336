#include "services/insights/read_stats_script.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace makegood::insights {
namespace {

constexpr char kScript[] = "read_stats";

}  // namespace

store::ScriptCall BuildReadStatsCall(const store::KeySchema& keys,
                                     const ReadStatsRequest& request) {
  store::ScriptCall call;
  call.keys = {AggregateKey(keys, request.partition, request.dimension,
                            request.granularity, request.subject)};
  call.args = {absl::StrCat(request.first_bucket),
               absl::StrCat(request.last_bucket)};
  return call;
}

absl::StatusOr<ReadStatsReply> ParseReadStatsReply(
    const redis::RedisReply& reply) {
  auto elements = store::ArrayReply(reply, 3, kScript);
  if (!elements.ok()) return elements.status();
  const std::vector<redis::RedisReply>& e = **elements;
  if ((e.size() - 3) % 2 != 0) {
    return store::MalformedReply(kScript, "a currency has no amount");
  }
  ReadStatsReply out;
  int64_t* sums[] = {&out.ratings, &out.satisfaction_sum,
                     &out.refunded_ratings};
  constexpr const char* kNames[] = {"ratings", "satisfaction", "refunded"};
  for (size_t i = 0; i < 3; ++i) {
    auto v = store::IntegerAt(e, i, kScript, kNames[i]);
    if (!v.ok()) return v.status();
    *sums[i] = *v;
  }
  for (size_t i = 3; i + 1 < e.size(); i += 2) {
    auto currency = store::TextAt(e, i, kScript, "currency");
    if (!currency.ok()) return currency.status();
    auto minor = store::IntegerAt(e, i + 1, kScript, "refunded minor units");
    if (!minor.ok()) return minor.status();
    out.refunded_minor[*std::move(currency)] += *minor;
  }
  return out;
}

}  // namespace makegood::insights
