#include "services/feedback/file_appeal_script.h"

#include <array>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/feedback/appeal_record.h"
#include "services/store/script_call.h"

namespace makegood::feedback {
namespace {

constexpr char kScript[] = "file_appeal";

// KEYS and ARGV as file_appeal.lua documents them.
enum Key { kRating, kAppeal, kAppealEvents, kTasks, kRefund, kKeys };
enum Arg {
  kAppealId,
  kIdempotencyKey,
  kFingerprint,
  kFeedbackKind,
  kTargetId,
  kCaller,
  kReason,
  kComment,
  kNowMs,
  kRatingId,
  kArgs
};

struct Shape {
  FileAppealReply::Outcome outcome;
  const char* tag;
};
constexpr std::array<Shape, 7> kShapes = {{
    {FileAppealReply::kOk, "OK"},
    {FileAppealReply::kReplay, "REPLAY"},
    {FileAppealReply::kExists, "EXISTS"},
    {FileAppealReply::kReused, "REUSED"},
    {FileAppealReply::kNoFeedback, "NO_FEEDBACK"},
    {FileAppealReply::kNotTarget, "NOT_TARGET"},
    {FileAppealReply::kReversed, "REVERSED"},
}};

bool CarriesAppeal(FileAppealReply::Outcome outcome) {
  return outcome == FileAppealReply::kOk ||
         outcome == FileAppealReply::kReplay ||
         outcome == FileAppealReply::kExists;
}

}  // namespace

void FileAppealRequest::SetKeys(const store::KeySchema& keys,
                                const AppealId& id) {
  rating_key = keys.RatingKey(id.partition, id.rating_id);
  appeal_key = keys.AppealKey(id.partition, appeal_id);
  appeal_events_key = keys.AppealEventsKey(id.partition, appeal_id);
  tasks_key = keys.TasksKey(id.partition);
  refund_key = keys.RefundKey(id.partition, id.refund_id);
  rating_id = id.rating_id;
}

std::vector<std::string> FileAppealRequest::Keys() const {
  std::vector<std::string> out(kKeys);
  out[kRating] = rating_key;
  out[kAppeal] = appeal_key;
  out[kAppealEvents] = appeal_events_key;
  out[kTasks] = tasks_key;
  out[kRefund] = refund_key;
  return out;
}

std::vector<std::string> FileAppealRequest::Args() const {
  std::vector<std::string> out(kArgs);
  out[kAppealId] = appeal_id;
  out[kIdempotencyKey] = idempotency_key;
  out[kFingerprint] = fingerprint;
  out[kFeedbackKind] = partner.feedback_kind;
  out[kTargetId] = partner.target_id;
  out[kCaller] = caller;
  out[kReason] = reason;
  out[kComment] = comment;
  out[kNowMs] = absl::StrCat(now_ms);
  out[kRatingId] = rating_id;
  return out;
}

absl::StatusOr<FileAppealRequest> FileAppealRequest::Parse(
    const std::vector<std::string>& keys,
    const std::vector<std::string>& args) {
  FileAppealRequest r;
  if (keys.size() != kKeys || args.size() != kArgs ||
      !absl::SimpleAtoi(args[kNowMs], &r.now_ms)) {
    return absl::InvalidArgumentError(absl::StrCat(
        kScript, " takes ", kKeys, " keys and ", kArgs,
        " args (now in ms), got ", keys.size(), " and ", args.size()));
  }
  r.rating_key = keys[kRating];
  r.appeal_key = keys[kAppeal];
  r.appeal_events_key = keys[kAppealEvents];
  r.tasks_key = keys[kTasks];
  r.refund_key = keys[kRefund];
  r.appeal_id = args[kAppealId];
  r.idempotency_key = args[kIdempotencyKey];
  r.fingerprint = args[kFingerprint];
  r.partner.feedback_kind = args[kFeedbackKind];
  r.partner.target_id = args[kTargetId];
  r.caller = args[kCaller];
  r.reason = args[kReason];
  r.comment = args[kComment];
  r.rating_id = args[kRatingId];
  return r;
}

redis::RedisReply FileAppealReply::ToReply() const {
  const char* tag = kShapes[0].tag;
  for (const Shape& s : kShapes) {
    if (s.outcome == outcome) tag = s.tag;
  }
  std::vector<redis::RedisReply> e = {redis::RedisReply::String(tag)};
  if (CarriesAppeal(outcome)) {
    for (redis::RedisReply& f : AppealToFields(appeal)) {
      e.push_back(std::move(f));
    }
  } else if (outcome == kReversed) {
    e.push_back(
        redis::RedisReply::String(std::string(ReversalName(reversed_by))));
  }
  return redis::RedisReply::Array(std::move(e));
}

absl::StatusOr<FileAppealReply> ParseFileAppealReply(
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
  FileAppealReply out;
  out.outcome = shape->outcome;
  if (CarriesAppeal(out.outcome)) {
    auto appeal = AppealFromFields(e, 1, e.size() - 1, kScript);
    if (!appeal.ok()) return appeal.status();
    out.appeal = *std::move(appeal);
  } else if (out.outcome == FileAppealReply::kReversed) {
    auto by = store::TextAt(e, 1, kScript, "REVERSED by");
    if (!by.ok()) return by.status();
    out.reversed_by = ReversalOf(*by);
  }
  return out;
}

}  // namespace makegood::feedback
