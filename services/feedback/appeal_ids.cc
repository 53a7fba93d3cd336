#include "services/feedback/appeal_ids.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/core/text.h"
#include "services/rating/rating_ids.h"

namespace makegood::feedback {
namespace {

constexpr size_t kHexLength = 24;  // As rating ids have (rating_ids.cc).

// A decimal number without sign or leading zeros.
bool Canonical(absl::string_view text, int& out) {
  return absl::SimpleAtoi(text, &out) && out >= 0 && absl::StrCat(out) == text;
}

}  // namespace

std::optional<AppealId> ParseAppealId(absl::string_view appeal_id,
                                      int partitions) {
  if (!absl::ConsumePrefix(&appeal_id, "ap_")) return std::nullopt;
  std::vector<absl::string_view> parts = absl::StrSplit(appeal_id, '_');
  if (parts.size() != 3) return std::nullopt;
  int partition = 0, item = 0;
  if (!Canonical(parts[0], partition) || partition >= partitions ||
      !Canonical(parts[2], item) || item < 1) {
    return std::nullopt;
  }
  if (parts[1].size() != kHexLength) return std::nullopt;
  for (char c : parts[1]) {
    if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) return std::nullopt;
  }
  AppealId id;
  id.partition = partition;
  id.rating_id = absl::StrCat("rt_", parts[0], "_", parts[1]);
  // As rating::DeriveRatingIds derives it (pinned by appeal_ids_test).
  id.refund_id =
      absl::StrCat("rf_", partition, "_",
                   rating::Sha256Hex(absl::StrCat("refund;", id.rating_id))
                       .substr(0, kHexLength));
  return id;
}

std::optional<Partner> PartnerOf(absl::string_view principal_id) {
  Partner partner;
  if (absl::ConsumePrefix(&principal_id, "store:")) {
    partner.feedback_kind = "store_feedback";
  } else if (absl::ConsumePrefix(&principal_id, "courier:")) {
    partner.feedback_kind = "courier_feedback";
  } else {
    return std::nullopt;
  }
  if (!IsValidId(principal_id)) return std::nullopt;
  partner.target_id = std::string(principal_id);
  return partner;
}

}  // namespace makegood::feedback
