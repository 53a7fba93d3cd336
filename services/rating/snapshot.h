// File: services/rating/snapshot.h
//
// Turns stored member state (the profile and the member's stats hash) and
// the admit script's snapshot (that plus the order) into the policy engine's
// inputs, summing the per-day buckets of the stats hash into the rolling
// 30/90-day windows. SubmitRating and GetTrust read a member the same way
// through MemberFromStored().
//
// Stats hash fields (mg:{p<N>}:mstats:<member_id>):
//   delivered_orders        orders recorded for the member
//   ver                     bumped by every commit (optimistic concurrency)
//   sp:<CUR>:<day>          spend of orders in <CUR> delivered that day
//   rc:<day>                money refunds accepted that day (any currency)
//   rm:<CUR>:<day>          money refunded in <CUR> that day
//   lr:<day>                low ratings that day (any currency)
//   last_low_ms             time of the last low rating
//   ib_balance:<CUR>, ib_as_of_ms:<CUR>
//                           instant budget in <CUR> after the last instant
//                           refund in <CUR>
// <day> = days since the Unix epoch (UTC). Buckets older than 90 days are
// expired (deleted by the next commit).
//
// Money is kept per currency; counts are across currencies. Fields written
// before currencies (sp:<day>, rm:<day>, ib_balance, ib_as_of_ms: the one
// currency a deployment then served) are read as every currency's: their
// money counts in each currency's history until the buckets expire (90
// days), and their instant budget is each currency's until that currency
// stores its own. So nobody gains budget or loses history on the upgrade.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "makegood/v1/member.pb.h"
#include "makegood/v1/order.pb.h"
#include "services/policy/inputs.h"
#include "services/rating/admit_script.h"
#include "services/redis/redis_reply.h"

namespace makegood::rating {

inline constexpr int kLongWindowDays = 90;
inline constexpr int kShortWindowDays = 30;

int64_t DayNumber(absl::Time t);

// A stored member as the policy engine sees it.
struct StoredMember {
  makegood::v1::Member member;
  // Profile and history (windows summed at `now`), instant budget if stored.
  policy::MemberSnapshot snapshot;
  // The stats version the snapshot is based on ("0" when never written).
  std::string stats_version = "0";
  // Stats fields older than the long window, to delete at the next commit.
  std::vector<std::string> expired_fields;
};

// Parses a member profile (`member_pb`: the "pb" field of the member hash)
// and its stats hash (`stats`: a flat HGETALL reply, empty for a member never
// rated) as of `now`, its money history and instant budget in `currency`
// (fields without a currency only when ""). DATA_LOSS if the profile is
// missing or does not parse; unparsable stats values are ignored.
absl::StatusOr<StoredMember> MemberFromStored(
    const redis::RedisReply& member_pb, const redis::RedisReply& stats,
    absl::Time now, absl::string_view currency = "");

// The member flag derived from claims marked abusive.
inline constexpr absl::string_view kAbuseFlag = "confirmed_abuse";

struct AdmitSnapshot {
  makegood::v1::Order order;
  makegood::v1::Member member;
  int64_t order_refunded_minor = 0;
  policy::MemberSnapshot member_snapshot;
  policy::OrderSnapshot order_snapshot;
  // The stats version the decision is based on ("0" when never written).
  std::string stats_version = "0";
  // Stats fields older than the long window, to delete at commit.
  std::vector<std::string> expired_fields;
};

// Parses the stored state of a FRESH admit reply (admit_script.h): the order,
// what it had refunded, the member and its stats (money in the order's
// currency). DATA_LOSS if stored bytes
// do not parse.
absl::StatusOr<AdmitSnapshot> ParseAdmitSnapshot(const AdmitReply& fresh,
                                                 absl::Time now);

}  // namespace makegood::rating
