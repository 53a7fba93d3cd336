// File: tests/fuzz/script_reply_fuzzer.cc
//
// What makegood does with the replies of its Lua scripts and commands. The
// input is one reply tree in the text form of reply_text.h (the seeds are
// real admit_rating / commit_rating / stream replies). The reply goes to
// every reader that takes a whole reply:
//   - the typed accessors (ReplyText / ReplyInteger / ReplyArray) and
//     ParseUpsertMemberReply (the stores' WriteResult answers);
//   - a FRESH admit_rating reply, as RatingFlow reads it: ParseAdmitSnapshot
//     of elements 1-4, the coupon and replaced lines of elements 8-9, and,
//     when the stored order is one RecordDelivery would have accepted, the
//     policy decision on it, which must keep the money promises;
//   - MemberFromStored (GetTrust: member pb + stats hash);
//   - REPLAY: the stored SubmitRatingResponse;
//   - ParseDecisionEvent + ContributionsOf (the insights stream).
// Never a crash, never an abort, whatever the reply.
//
// Precondition kept by the fuzzer: numbers in the member stats hash are
// within +-2^53. The scripts write them with HINCRBY of validated amounts
// (<= 10^12 each) and Lua numbers are doubles; MemberFromStored sums the
// buckets in int64 without overflow checks, so values near 2^63, which
// makegood never stores, would overflow (signed overflow: UB).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "makegood/v1/rating_service.pb.h"
#include "services/api/validation.h"
#include "services/errors/errors.h"
#include "services/insights/decision_event.h"
#include "services/policy/policy_config.h"
#include "services/policy_file/policy_document.h"
#include "services/policy_proto/policy_convert.h"
#include "services/rating/admit_script.h"
#include "services/rating/snapshot.h"
#include "services/redis/redis_reply.h"
#include "services/store/proto_codec.h"
#include "services/store/upsert_member_script.h"
#include "tests/fuzz/decision_checks.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/reply_text.h"

namespace {

using makegood::redis::RedisReply;

const absl::Time kNow = absl::FromUnixSeconds(1780272000);

const makegood::policy_file::PolicySnapshot& Policy() {
  static const auto* policy = [] {
    auto snapshot = makegood::policy_file::BuildPolicySnapshot(
        makegood::policy_proto::FromPolicyConfig(
            makegood::policy::DefaultPolicyConfig()),
        kNow);
    FUZZ_CHECK(snapshot.ok()) << snapshot.status();
    return new makegood::policy_file::PolicySnapshot(*std::move(snapshot));
  }();
  return *policy;
}

// The stats hash holds what makegood's scripts can write (see above).
bool StatsInRange(const makegood::redis::RedisReply& stats) {
  constexpr int64_t kBound = int64_t{1} << 53;
  for (const makegood::redis::RedisReply& e : stats.elements) {
    int64_t v = 0;
    if (absl::SimpleAtoi(e.str, &v) && (v > kBound || v < -kBound)) {
      return false;
    }
  }
  return true;
}

void Accessors(const makegood::redis::RedisReply& reply) {
  auto text = makegood::redis::ReplyText(reply, "fuzz");
  FUZZ_CHECK(text.ok() == reply.is_text());
  auto integer = makegood::redis::ReplyInteger(reply, "fuzz");
  if (integer.ok() &&
      reply.type == makegood::redis::RedisReply::Type::kInteger) {
    FUZZ_CHECK(*integer == reply.integer);
  }
  auto array = makegood::redis::ReplyArray(reply, 2, "fuzz");
  if (array.ok()) FUZZ_CHECK((*array)->size() >= 2);
  auto written = makegood::store::ParseUpsertMemberReply(reply);
  if (written.ok()) {
    const std::string& tag = reply.elements.at(0).str;
    FUZZ_CHECK(tag == "CREATED" || tag == "UPDATED" || tag == "UNCHANGED")
        << tag;
  }
}

// RatingFlow::OnAdmitted + DecideAndCommit on a FRESH reply, read with the
// same typed parser RatingFlow uses (admit_script.h).
void Admit(const makegood::redis::RedisReply& reply) {
  auto admit = makegood::rating::ParseAdmitReply(reply);
  if (!admit.ok() || admit->answer != makegood::rating::AdmitAnswer::kFresh) {
    return;
  }
  if (!StatsInRange(admit->stats)) return;
  auto snapshot = makegood::rating::ParseAdmitSnapshot(*admit, kNow);
  if (!snapshot.ok()) {
    FUZZ_CHECK(snapshot.status().code() == absl::StatusCode::kDataLoss ||
               snapshot.status().code() == absl::StatusCode::kInternal)
        << snapshot.status();
    return;
  }
  FUZZ_CHECK(snapshot->order_snapshot.refunded_minor ==
             snapshot->order_refunded_minor);
  for (const std::string& field : snapshot->expired_fields) {
    FUZZ_CHECK(field.size() > 3 && field[2] == ':') << field;
  }
  snapshot->order_snapshot.coupon_granted_minor = admit->coupon_granted_minor;
  snapshot->order_snapshot.replaced_line_ids = admit->replaced_line_ids;

  // Decide only on what RecordDelivery lets into Redis.
  makegood::Violations violations;
  makegood::api::ValidateOrder("order", snapshot->order, kNow, violations);
  if (!violations.empty()) return;
  if (snapshot->order_refunded_minor < 0 ||
      snapshot->order_snapshot.coupon_granted_minor < 0) {
    return;
  }
  makegood::policy::RatingInput rating;
  rating.satisfaction = makegood::policy::Percent::Clamped(0);
  rating.reasons = {makegood::policy::Reason::kMissingItem};
  for (const auto& line : snapshot->order.lines()) {
    rating.line_ratings.push_back(
        {.line_id = line.line_id(),
         .satisfaction = makegood::policy::Percent::Clamped(0),
         .reasons = {makegood::policy::Reason::kDamaged}});
  }
  const makegood::policy::PolicyEngine& engine = *Policy().engine;
  auto decision = engine.Decide(snapshot->member_snapshot,
                                snapshot->order_snapshot, rating, kNow);
  if (!decision.ok()) return;
  makegood::fuzz::CheckDecision(engine, snapshot->member_snapshot,
                                snapshot->order_snapshot, *decision);
}

void Event(const makegood::redis::RedisReply& reply) {
  auto event = makegood::insights::ParseDecisionEvent(reply);
  if (!event.ok()) return;
  FUZZ_CHECK(static_cast<int>(event->lines.size()) <=
             makegood::insights::kMaxEventLines);
  size_t expected =
      (event->store_id.empty() ? 0 : 1) + (event->courier_id.empty() ? 0 : 1);
  for (const auto& line : event->lines) expected += line.sku.empty() ? 0 : 1;
  auto contributions = makegood::insights::ContributionsOf(*event);
  FUZZ_CHECK(contributions.size() == expected);
  for (const auto& c : contributions) {
    FUZZ_CHECK(c.refunded == (c.refund_minor > 0));
    FUZZ_CHECK(!c.subject.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<makegood::redis::RedisReply> reply =
      makegood::fuzz::ReplyText::Parse(
          absl::string_view(reinterpret_cast<const char*>(data), size));
  if (!reply.has_value()) return -1;

  Accessors(*reply);
  for (const makegood::redis::RedisReply& element : reply->elements)
    Accessors(element);
  Event(*reply);
  const std::vector<makegood::redis::RedisReply>& e = reply->elements;
  if (e.size() >= 2 && StatsInRange(e[1])) {
    auto member = makegood::rating::MemberFromStored(e[0], e[1], kNow);
    if (member.ok()) FUZZ_CHECK(!member->stats_version.empty());
  }
  if (!e.empty() && (e[0].str == "REPLAY") && e.size() >= 2) {
    makegood::v1::SubmitRatingResponse response;
    (void)response.ParseFromString(e[1].str);
  }
  Admit(*reply);
  return 0;
}
