#include "services/feedback/decide_appeal_script.h"

#include <array>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/feedback/appeal_record.h"
#include "services/store/script_call.h"

namespace makegood::feedback {
namespace {

constexpr char kScript[] = "decide_appeal";

// KEYS and ARGV as decide_appeal.lua documents them.
enum Key { kAppeal, kAppealEvents, kRating, kFeedback, kRefund, kKeys };
enum Arg {
  kIdempotencyKey,
  kFingerprint,
  kDecision,
  kActor,
  kCaller,
  kReason,
  kNowMs,
  kArgs
};

struct Shape {
  DecideAppealReply::Outcome outcome;
  const char* tag;
};
constexpr std::array<Shape, 6> kShapes = {{
    {DecideAppealReply::kOk, "OK"},
    {DecideAppealReply::kReplay, "REPLAY"},
    {DecideAppealReply::kAlready, "ALREADY"},
    {DecideAppealReply::kConflict, "CONFLICT"},
    {DecideAppealReply::kMissing, "MISSING"},
    {DecideAppealReply::kReused, "REUSED"},
}};

bool CarriesAppeal(DecideAppealReply::Outcome outcome) {
  return outcome != DecideAppealReply::kMissing &&
         outcome != DecideAppealReply::kReused;
}

}  // namespace

void DecideAppealRequest::SetKeys(const store::KeySchema& keys,
                                  absl::string_view appeal_id,
                                  const AppealId& id) {
  appeal_key = keys.AppealKey(id.partition, appeal_id);
  appeal_events_key = keys.AppealEventsKey(id.partition, appeal_id);
  rating_key = keys.RatingKey(id.partition, id.rating_id);
  feedback_key = keys.FeedbackKey(id.partition);
  refund_key = keys.RefundKey(id.partition, id.refund_id);
}

std::vector<std::string> DecideAppealRequest::Keys() const {
  std::vector<std::string> out(kKeys);
  out[kAppeal] = appeal_key;
  out[kAppealEvents] = appeal_events_key;
  out[kRating] = rating_key;
  out[kFeedback] = feedback_key;
  out[kRefund] = refund_key;
  return out;
}

std::vector<std::string> DecideAppealRequest::Args() const {
  std::vector<std::string> out(kArgs);
  out[kIdempotencyKey] = idempotency_key;
  out[kFingerprint] = fingerprint;
  out[kDecision] = decision;
  out[kActor] = actor;
  out[kCaller] = caller;
  out[kReason] = reason;
  out[kNowMs] = absl::StrCat(now_ms);
  return out;
}

absl::StatusOr<DecideAppealRequest> DecideAppealRequest::Parse(
    const std::vector<std::string>& keys,
    const std::vector<std::string>& args) {
  DecideAppealRequest r;
  if (keys.size() != kKeys || args.size() != kArgs ||
      !absl::SimpleAtoi(args[kNowMs], &r.now_ms)) {
    return absl::InvalidArgumentError(absl::StrCat(
        kScript, " takes ", kKeys, " keys and ", kArgs,
        " args (now in ms), got ", keys.size(), " and ", args.size()));
  }
  r.appeal_key = keys[kAppeal];
  r.appeal_events_key = keys[kAppealEvents];
  r.rating_key = keys[kRating];
  r.feedback_key = keys[kFeedback];
  r.refund_key = keys[kRefund];
  r.idempotency_key = args[kIdempotencyKey];
  r.fingerprint = args[kFingerprint];
  r.decision = args[kDecision];
  r.actor = args[kActor];
  r.caller = args[kCaller];
  r.reason = args[kReason];
  return r;
}

redis::RedisReply DecideAppealReply::ToReply() const {
  const char* tag = kShapes[0].tag;
  for (const Shape& s : kShapes) {
    if (s.outcome == outcome) tag = s.tag;
  }
  std::vector<redis::RedisReply> e = {redis::RedisReply::String(tag)};
  if (CarriesAppeal(outcome)) {
    e.push_back(redis::RedisReply::String(reversed_now ? "1" : "0"));
    for (redis::RedisReply& f : AppealToFields(appeal)) {
      e.push_back(std::move(f));
    }
  }
  return redis::RedisReply::Array(std::move(e));
}

absl::StatusOr<DecideAppealReply> ParseDecideAppealReply(
    const redis::RedisReply& reply) {
  auto elements = store::TaggedReply(reply, 1, kScript);
  if (!elements.ok()) return elements.status();
  const std::vector<redis::RedisReply>& e = **elements;
  const Shape* shape = nullptr;
  for (const Shape& s : kShapes) {
    if (e[0].str == s.tag) shape = &s;
  }
  if (shape == nullptr) {
    return store::MalformedReply(
        kScript, absl::StrCat("unknown answer \"", e[0].str, "\""));
  }
  DecideAppealReply out;
  out.outcome = shape->outcome;
  if (CarriesAppeal(out.outcome)) {
    auto reversed = store::IntegerAt(e, 1, kScript, "reversed now");
    if (!reversed.ok()) return reversed.status();
    if (*reversed != 0 && *reversed != 1) {
      return store::MalformedReply(kScript, "reversed now is not 0 or 1");
    }
    out.reversed_now = *reversed == 1;
    auto appeal = AppealFromFields(e, 2, e.size() - 2, kScript);
    if (!appeal.ok()) return appeal.status();
    out.appeal = *std::move(appeal);
  }
  return out;
}

}  // namespace makegood::feedback
