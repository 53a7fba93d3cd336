#include "services/feedback/read_appeal_script.h"

#include <utility>

#include "services/feedback/appeal_record.h"
#include "services/store/script_call.h"

namespace makegood::feedback {
namespace {

constexpr char kScript[] = "read_appeal";

}  // namespace

void ReadAppealRequest::SetKeys(const store::KeySchema& keys,
                                const AppealId& id) {
  appeal_key = keys.AppealKey(id.partition, appeal_id);
  rating_key = keys.RatingKey(id.partition, id.rating_id);
  appeal_events_key = keys.AppealEventsKey(id.partition, appeal_id);
  refund_key = keys.RefundKey(id.partition, id.refund_id);
}

std::vector<std::string> ReadAppealRequest::Keys() const {
  return {appeal_key, rating_key, appeal_events_key, refund_key};
}

std::vector<std::string> ReadAppealRequest::Args() const {
  return {appeal_id, store::Flag(include_events)};
}

absl::StatusOr<ReadAppealReply> ParseReadAppealReply(
    const redis::RedisReply& reply) {
  auto elements = store::TaggedReply(reply, 1, kScript);
  if (!elements.ok()) return elements.status();
  const std::vector<redis::RedisReply>& e = **elements;
  ReadAppealReply out;
  if (e[0].str == "MISSING") return out;
  if (e[0].str != "OK") return store::MalformedReply(kScript, "unknown answer");
  auto by = store::TextAt(e, 1, kScript, "reversed by");
  if (!by.ok()) return by.status();
  auto count = store::IntegerAt(e, 2, kScript, "field count");
  if (!count.ok()) return count.status();
  if (*count < 0 || static_cast<size_t>(*count) > e.size() - 3) {
    return store::MalformedReply(kScript, "field count out of range");
  }
  const size_t fields = static_cast<size_t>(*count);
  auto appeal = AppealFromFields(e, 3, fields, kScript);
  if (!appeal.ok()) return appeal.status();
  out.found = true;
  out.appeal = *std::move(appeal);
  out.appeal.set_reversed_by(ReversalOf(*by));
  for (size_t i = 3 + fields; i < e.size(); ++i) {
    auto event = AppealEventFromEntry(e[i], kScript);
    if (!event.ok()) return event.status();
    out.events.push_back(*std::move(event));
  }
  return out;
}

}  // namespace makegood::feedback
