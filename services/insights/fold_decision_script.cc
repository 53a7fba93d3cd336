#include "services/insights/fold_decision_script.h"

#include "absl/strings/str_cat.h"

namespace makegood::insights {
namespace {

constexpr char kScript[] = "fold_decision";

// A 0/1 element of the OK answer.
absl::StatusOr<bool> FlagAt(const std::vector<redis::RedisReply>& e,
                            size_t index, absl::string_view field) {
  auto value = store::IntegerAt(e, index, kScript, field);
  if (!value.ok()) return value.status();
  if (*value != 0 && *value != 1) {
    return store::MalformedReply(kScript,
                                 absl::StrCat(field, " is not 0 or 1"));
  }
  return *value == 1;
}

}  // namespace

std::string AggregateKey(const store::KeySchema& keys, int partition,
                         Dimension dimension, Granularity granularity,
                         absl::string_view subject) {
  return keys.InsightsKey(partition, DimensionName(dimension),
                          granularity == Granularity::kMinute ? "m" : "h",
                          subject);
}

store::ScriptCall BuildFoldDecisionCall(const store::KeySchema& keys,
                                        const FoldDecisionRequest& request) {
  const int p = request.partition;
  store::ScriptCall call;
  call.keys.reserve(1 + 2 * request.contributions.size());
  call.keys.push_back(keys.DecisionsKey(p));
  call.args = {request.group,
               request.entry_id,
               absl::StrCat(absl::ToUnixMillis(request.now)),
               absl::StrCat(request.at_ms),
               absl::StrCat(request.minute_buckets_kept),
               absl::StrCat(request.hour_buckets_kept),
               request.currency};
  call.args.reserve(call.args.size() + 3 * request.contributions.size());
  // Subject k: KEYS[2k], KEYS[2k+1]; ARGV[8 + 3(k-1) ..].
  for (const Contribution& c : request.contributions) {
    call.keys.push_back(
        AggregateKey(keys, p, c.dimension, Granularity::kMinute, c.subject));
    call.keys.push_back(
        AggregateKey(keys, p, c.dimension, Granularity::kHour, c.subject));
    call.args.push_back(absl::StrCat(c.satisfaction));
    call.args.push_back(store::Flag(c.refunded));
    call.args.push_back(absl::StrCat(c.refund_minor));
  }
  return call;
}

absl::StatusOr<FoldDecisionReply> ParseFoldDecisionReply(
    const redis::RedisReply& reply) {
  auto elements = store::TaggedReply(reply, 1, kScript);
  if (!elements.ok()) return elements.status();
  const std::vector<redis::RedisReply>& e = **elements;
  const std::string& tag = e[0].str;
  FoldDecisionReply out;
  if (tag == "DUP") {
    out.duplicate = true;
    return out;
  }
  if (tag != "OK") {
    return store::MalformedReply(kScript,
                                 absl::StrCat("unknown answer \"", tag, "\""));
  }
  auto minute = FlagAt(e, 1, "OK minute");
  if (!minute.ok()) return minute.status();
  auto hour = FlagAt(e, 2, "OK hour");
  if (!hour.ok()) return hour.status();
  out.minute_folded = *minute;
  out.hour_folded = *hour;
  return out;
}

}  // namespace makegood::insights
