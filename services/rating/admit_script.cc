#include "services/rating/admit_script.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace makegood::rating {
namespace {

using redis::RedisReply;

constexpr char kScript[] = "admit_rating";

}  // namespace

ScriptCall BuildAdmitCall(const store::KeySchema& keys,
                          const AdmitRequest& request) {
  const int partition = request.ids.partition;
  ScriptCall call;
  call.keys = {keys.IdempotencyKey(partition, request.ids.scope_hash),
               keys.MemberKey(request.member_id),
               keys.MemberStatsKey(request.member_id),
               keys.OrderKey(request.member_id, request.order_id),
               keys.MemberLimiterKey(request.member_id),
               keys.RatingKey(partition, request.ids.rating_id)};
  call.args = {request.fingerprint,
               request.token,
               absl::StrCat(absl::ToInt64Milliseconds(request.claim_lease)),
               absl::StrCat(absl::ToUnixMillis(request.now)),
               request.member_id,
               request.limiter_interval_ms > 0
                   ? absl::StrCat(request.limiter_interval_ms)
                   : "0",
               absl::StrCat(request.limiter_burst),
               request.limiter_shadow ? "1" : "0",
               absl::StrCat(absl::ToInt64Milliseconds(request.rating_window)),
               absl::StrJoin(request.rated_line_ids, " ")};
  return call;
}

absl::StatusOr<AdmitReply> ParseAdmitReply(RedisReply reply) {
  auto tagged = TaggedReply(reply, 1, kScript);
  if (!tagged.ok()) return tagged.status();
  std::vector<RedisReply>& e = reply.elements;
  const std::string& tag = e[0].str;
  AdmitReply out;
  if (tag == "REPLAY" || tag == "RECORDED") {
    out.answer =
        tag == "REPLAY" ? AdmitAnswer::kReplay : AdmitAnswer::kRecorded;
    auto stored = TextAt(e, 1, kScript, absl::StrCat(tag, " bytes"));
    if (!stored.ok()) return stored.status();
    out.stored = *std::move(stored);
    return out;
  }
  if (tag == "REUSED") {
    out.answer = AdmitAnswer::kReused;
    return out;
  }
  if (tag == "INFLIGHT") {
    out.answer = AdmitAnswer::kInFlight;
    return out;
  }
  if (tag == "LIMITED") {
    out.answer = AdmitAnswer::kLimited;
    auto retry_after = IntegerAt(e, 1, kScript, "LIMITED retry_after_ms");
    if (!retry_after.ok()) return retry_after.status();
    auto reset = IntegerAt(e, 2, kScript, "LIMITED reset_ms");
    if (!reset.ok()) return reset.status();
    out.retry_after_ms = *retry_after;
    out.reset_ms = *reset;
    return out;
  }
  if (tag == "NO_ORDER") {
    out.answer = AdmitAnswer::kNoOrder;
    return out;
  }
  if (tag == "NOT_OWNER") {
    out.answer = AdmitAnswer::kNotOwner;
    return out;
  }
  if (tag == "NO_MEMBER") {
    out.answer = AdmitAnswer::kNoMember;
    return out;
  }
  if (tag == "WINDOW_CLOSED") {
    out.answer = AdmitAnswer::kWindowClosed;
    return out;
  }
  if (tag == "UNKNOWN_LINE") {
    out.answer = AdmitAnswer::kUnknownLine;
    auto line = TextAt(e, 1, kScript, "UNKNOWN_LINE line id");
    if (!line.ok()) return line.status();
    out.unknown_line_id = *std::move(line);
    return out;
  }
  if (tag != "FRESH") {
    return MalformedReply(kScript,
                          absl::StrCat("unknown answer \"", tag, "\""));
  }
  // {'FRESH', order_pb, order_refunded_minor, member_pb, stats, remaining,
  //  reset_ms, would_reject, order_coupon_minor, order_replaced_line_ids}
  if (e.size() < 10) {
    return MalformedReply(
        kScript, absl::StrCat("FRESH has ", e.size(), " elements, not 10"));
  }
  out.answer = AdmitAnswer::kFresh;
  out.order_pb = std::move(e[1]);
  out.order_refunded_minor = std::move(e[2]);
  out.member_pb = std::move(e[3]);
  out.stats = std::move(e[4]);
  auto remaining = IntegerAt(e, 5, kScript, "FRESH remaining");
  if (!remaining.ok()) return remaining.status();
  auto reset = IntegerAt(e, 6, kScript, "FRESH reset_ms");
  if (!reset.ok()) return reset.status();
  auto would = IntegerAt(e, 7, kScript, "FRESH would_reject");
  if (!would.ok()) return would.status();
  auto coupon = IntegerAt(e, 8, kScript, "FRESH coupon_minor");
  if (!coupon.ok()) return coupon.status();
  auto replaced = TextAt(e, 9, kScript, "FRESH replaced line ids");
  if (!replaced.ok()) return replaced.status();
  out.remaining = *remaining;
  out.reset_ms = *reset;
  out.would_reject = *would == 1;
  out.coupon_granted_minor = *coupon;
  out.replaced_line_ids = absl::StrSplit(*replaced, ' ', absl::SkipEmpty());
  return out;
}

}  // namespace makegood::rating
