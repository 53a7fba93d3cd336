// File: services/feedback/appeal_ids.h
//
// What an appeal id says, and who a partner is.
//
// A feedback event's appeal id is "ap_<partition>_<24 hex>_<n>": the id of
// the rating that caused it ("rt_<partition>_<24 hex>") without its "rt_",
// and the feedback item's number (commit_rating.lua). So the appeal id names
// the rating, and the partition where the rating, its feedback and the
// appeal live.
//
// A partner (role `partner`) is a store or a courier; its principal id says
// which: "store:<store_id>" or "courier:<courier_id>". Feedback events name
// their target by kind (store_feedback / courier_feedback) and id, so the
// kind keeps a store and a courier that share an id apart.
//
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace makegood::feedback {

struct AppealId {
  int partition = 0;
  std::string rating_id;  // "rt_<partition>_<24 hex>".
  // The rating's refund id, as the rating commit derives it from the rating
  // id (services/rating/rating_ids.h); the refund may not exist.
  std::string refund_id;
};

// The parts of `appeal_id`, if it is well-formed for `partitions`.
std::optional<AppealId> ParseAppealId(absl::string_view appeal_id,
                                      int partitions);

// What feedback a partner may appeal: its kind as the feedback stream
// spells it and the store or courier id.
struct Partner {
  std::string feedback_kind;  // "store_feedback" or "courier_feedback".
  std::string target_id;
};

// The partner a principal id names ("store:<id>" / "courier:<id>", the id a
// valid id of services/core/text.h), or nullopt.
std::optional<Partner> PartnerOf(absl::string_view principal_id);

}  // namespace makegood::feedback
