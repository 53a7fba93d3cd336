#include "services/feedback/appeal_record.h"

#include <cstdint>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/store/script_call.h"

namespace makegood::feedback {
namespace {

using makegood::v1::AppealState;

AppealState StateOf(absl::string_view name) {
  if (name == "open") return makegood::v1::APPEAL_STATE_OPEN;
  if (name == "upheld") return makegood::v1::APPEAL_STATE_UPHELD;
  if (name == "rejected") return makegood::v1::APPEAL_STATE_REJECTED;
  return makegood::v1::APPEAL_STATE_UNSPECIFIED;
}

makegood::v1::FeedbackKind KindOf(absl::string_view name) {
  if (name == "store_feedback") return makegood::v1::FEEDBACK_KIND_STORE;
  if (name == "courier_feedback") return makegood::v1::FEEDBACK_KIND_COURIER;
  return makegood::v1::FEEDBACK_KIND_UNSPECIFIED;
}

absl::string_view KindName(makegood::v1::FeedbackKind kind) {
  switch (kind) {
    case makegood::v1::FEEDBACK_KIND_STORE:
      return "store_feedback";
    case makegood::v1::FEEDBACK_KIND_COURIER:
      return "courier_feedback";
    default:
      return "";
  }
}

void SetMillis(int64_t ms, google::protobuf::Timestamp* out) {
  out->set_seconds(ms / 1000);
  out->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
}

int64_t MillisOf(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1000000;
}

redis::RedisReply Text(std::string s) {
  return redis::RedisReply::String(std::move(s));
}

}  // namespace

absl::string_view AppealStateName(AppealState state) {
  switch (state) {
    case makegood::v1::APPEAL_STATE_OPEN:
      return "open";
    case makegood::v1::APPEAL_STATE_UPHELD:
      return "upheld";
    case makegood::v1::APPEAL_STATE_REJECTED:
      return "rejected";
    default:
      return "";
  }
}

absl::string_view DecisionStateName(makegood::v1::AppealDecision decision) {
  switch (decision) {
    case makegood::v1::APPEAL_DECISION_UPHOLD:
      return "upheld";
    case makegood::v1::APPEAL_DECISION_REJECT:
      return "rejected";
    default:
      return "";
  }
}

absl::string_view ReversalName(makegood::v1::FeedbackReversal reversal) {
  switch (reversal) {
    case makegood::v1::FEEDBACK_REVERSAL_APPEAL_UPHELD:
      return "appeal_upheld";
    case makegood::v1::FEEDBACK_REVERSAL_CLAIM_ABUSIVE:
      return "claim_abusive";
    default:
      return "";
  }
}

makegood::v1::FeedbackReversal ReversalOf(absl::string_view name) {
  if (name == "appeal_upheld") {
    return makegood::v1::FEEDBACK_REVERSAL_APPEAL_UPHELD;
  }
  if (name == "claim_abusive") {
    return makegood::v1::FEEDBACK_REVERSAL_CLAIM_ABUSIVE;
  }
  return makegood::v1::FEEDBACK_REVERSAL_UNSPECIFIED;
}

absl::StatusOr<makegood::v1::Appeal> AppealFromFields(
    const std::vector<redis::RedisReply>& elements, size_t first, size_t count,
    absl::string_view script) {
  if (count % 2 != 0 || first + count > elements.size()) {
    return store::MalformedReply(script, "appeal fields are not pairs");
  }
  makegood::v1::Appeal appeal;
  for (size_t i = first; i < first + count; i += 2) {
    if (!elements[i].is_text() || !elements[i + 1].is_text()) {
      return store::MalformedReply(script, "an appeal field is not text");
    }
    const std::string& field = elements[i].str;
    const std::string& value = elements[i + 1].str;
    int64_t ms = 0;
    if (field == "appeal_id") {
      appeal.set_appeal_id(value);
    } else if (field == "state") {
      appeal.set_state(StateOf(value));
    } else if (field == "kind") {
      appeal.set_feedback_kind(KindOf(value));
    } else if (field == "target_id") {
      appeal.set_target_id(value);
    } else if (field == "rating_id") {
      appeal.set_rating_id(value);
    } else if (field == "order_id") {
      appeal.set_order_id(value);
    } else if (field == "partner") {
      appeal.set_partner_id(value);
    } else if (field == "reason") {
      appeal.set_reason(value);
    } else if (field == "comment") {
      appeal.set_comment(value);
    } else if (field == "decided_by") {
      appeal.set_decided_by(value);
    } else if (field == "decision_reason") {
      appeal.set_decision_reason(value);
    } else if (field == "reversed_by") {
      appeal.set_reversed_by(ReversalOf(value));
    } else if (field == "created_at_ms" || field == "decided_at_ms") {
      if (!absl::SimpleAtoi(value, &ms)) {
        return store::MalformedReply(script, absl::StrCat(field, " is not ms"));
      }
      SetMillis(ms, field == "created_at_ms" ? appeal.mutable_created_at()
                                             : appeal.mutable_decided_at());
    }
  }
  if (appeal.appeal_id().empty() ||
      appeal.state() == makegood::v1::APPEAL_STATE_UNSPECIFIED) {
    return store::MalformedReply(script, "the appeal has no id or state");
  }
  return appeal;
}

std::vector<redis::RedisReply> AppealToFields(
    const makegood::v1::Appeal& appeal) {
  std::vector<redis::RedisReply> out;
  auto add = [&out](absl::string_view field, std::string value) {
    out.push_back(Text(std::string(field)));
    out.push_back(Text(std::move(value)));
  };
  add("appeal_id", appeal.appeal_id());
  add("state", std::string(AppealStateName(appeal.state())));
  add("kind", std::string(KindName(appeal.feedback_kind())));
  add("target_id", appeal.target_id());
  add("rating_id", appeal.rating_id());
  add("order_id", appeal.order_id());
  add("partner", appeal.partner_id());
  add("reason", appeal.reason());
  add("comment", appeal.comment());
  add("created_at_ms", absl::StrCat(MillisOf(appeal.created_at())));
  if (appeal.has_decided_at()) {
    add("decided_by", appeal.decided_by());
    add("decision_reason", appeal.decision_reason());
    add("decided_at_ms", absl::StrCat(MillisOf(appeal.decided_at())));
  }
  if (appeal.reversed_by() != makegood::v1::FEEDBACK_REVERSAL_UNSPECIFIED) {
    add("reversed_by", std::string(ReversalName(appeal.reversed_by())));
  }
  return out;
}

absl::StatusOr<makegood::v1::AppealEvent> AppealEventFromEntry(
    const redis::RedisReply& entry, absl::string_view script) {
  if (entry.type != redis::RedisReply::Type::kArray ||
      entry.elements.size() != 2 ||
      entry.elements[1].type != redis::RedisReply::Type::kArray ||
      entry.elements[1].elements.size() % 2 != 0) {
    return store::MalformedReply(script, "an appeal event is not an entry");
  }
  makegood::v1::AppealEvent event;
  const std::vector<redis::RedisReply>& f = entry.elements[1].elements;
  for (size_t i = 0; i + 1 < f.size(); i += 2) {
    const std::string& field = f[i].str;
    const std::string& value = f[i + 1].str;
    int64_t n = 0;
    if (field == "seq" && absl::SimpleAtoi(value, &n)) {
      event.set_seq(n);
    } else if (field == "from") {
      event.set_from(StateOf(value));
    } else if (field == "to") {
      event.set_to(StateOf(value));
    } else if (field == "actor") {
      event.set_actor(value);
    } else if (field == "caller") {
      event.set_caller(value);
    } else if (field == "reason") {
      event.set_reason(value);
    } else if (field == "at_ms" && absl::SimpleAtoi(value, &n)) {
      SetMillis(n, event.mutable_at());
    }
  }
  return event;
}

}  // namespace makegood::feedback
