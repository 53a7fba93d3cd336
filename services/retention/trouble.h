// File: services/retention/trouble.h
//
// A trouble, as retention tracking keeps it: a committed rating that was low
// (at or below the policy's trouble_max_percent) or a claim (a reason
// tagged), with the labels its cohort is known by. The rating commit stores
// it (rating/commit_script.h, KeySchema::TroublesKey) and puts it on the
// partition's schedule (KeySchema::TroublesDueKey); every new order of the
// member is a reorder for its open windows (store/lua/record_delivery.lua);
// the sweeper (sweeper.h) closes each window when due and adds it to the
// cohort's counts (lua/close_troubles.lua), which RetentionStore reads.
//
// The stored shapes are documented in store/lua/lib/troubles.lua; this file
// builds them, so no position is spelled elsewhere in C++.
//
// Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "makegood/v1/order.pb.h"
#include "makegood/v1/rating.pb.h"
#include "makegood/v1/rating_service.pb.h"

namespace makegood::retention {

// The retention windows, in days: a trouble's member is retained for a
// window when another order of theirs is delivered within it.
inline constexpr std::array<int, 3> kWindowDays = {7, 30, 90};

// A window closes this many retention days after it ends, so an order
// delivered inside it and recorded up to a day late still counts (order
// systems send RecordDelivery late, in batches or after an outage).
inline constexpr int kGraceDays = 1;

// The arm label of a decision made outside any experiment.
inline constexpr char kNoArm[] = "none";

// What a trouble is known by. Every label is free of tabs (ids are checked
// at the API, the rest are names).
struct Trouble {
  std::string rating_id;
  std::string member_id;
  absl::Time at;  // When the rating was committed (business clock).
  std::string currency;
  std::string refund_id;      // "" when nothing was granted.
  int64_t granted_minor = 0;  // Granted at once: money, credit or coupon.
  // Labels (RetentionDimension): "REFUND", "claim", "WALLET", "up_to_50pct",
  // "default@3f2a9c01b2c4", "none", "plus".
  std::string outcome;
  std::string recovery;
  std::string instrument;
  std::string amount_band;
  std::string policy_version;
  std::string arm;
  std::string tier;
  std::string store_id;    // "" when the order names none.
  std::string courier_id;  // "" when the order names none.
};

// The trouble a committed rating is, or nullopt when it is none (`trouble`:
// the engine's Decision::trouble). `response` is what SubmitRating answers,
// `arm` the experiment arm ("none" outside experiments).
std::optional<Trouble> TroubleOf(
    bool trouble, const makegood::v1::SubmitRatingRequest& request,
    const makegood::v1::SubmitRatingResponse& response,
    const makegood::v1::Order& order, absl::string_view tier,
    absl::string_view arm, absl::Time at);

// "none" (0), "up_to_25pct", "up_to_50pct", "up_to_99pct" or "full" of the
// order's total.
std::string AmountBand(int64_t granted_minor, int64_t total_minor);

// "claim" when the member tagged a reason (on the order or a line), else
// "silent_recovered" or "silent_unrecovered" by whether the decision asked
// for the silent-recovery follow-up.
std::string RecoveryLabel(const makegood::v1::SubmitRatingRequest& request,
                          const makegood::v1::Decision& decision);

// The stored trouble (the value of field rating_id in the member's
// troubles hash), its member of the partition's schedule, and when its
// first window closes (its end plus the grace), for a retention day of
// `day`.
std::string TroubleRecord(const Trouble& trouble);
std::string DueMember(const Trouble& trouble);
int64_t FirstCloseMs(const Trouble& trouble, absl::Duration day);

// A member of the schedule, parsed: what the sweeper needs for the keys.
struct DueTrouble {
  std::string rating_id;
  std::string member_id;
  std::string refund_id;
  std::string store_id;
  std::string courier_id;
};
// nullopt unless `member` has the five tab-separated fields of DueMember.
std::optional<DueTrouble> ParseDueMember(absl::string_view member);

}  // namespace makegood::retention
