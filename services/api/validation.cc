#include "services/api/validation.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/timestamp.pb.h"
#include "makegood/v1/rating.pb.h"
#include "services/core/text.h"
#include "services/policy/money.h"

namespace makegood::api {
namespace {

using makegood::v1::Member;
using makegood::v1::Order;

constexpr size_t kMaxSkuLength = 128;
constexpr size_t kMaxCategoryLength = 64;
constexpr size_t kMaxFlagLength = 64;
// Nothing in makegood happened before this (2000-01-01T00:00:00Z).
constexpr int64_t kEarliestSeconds = 946684800;

std::string Path(absl::string_view parent, absl::string_view child) {
  return absl::StrCat(parent, ".", child);
}

std::string Indexed(absl::string_view parent, absl::string_view child,
                    int index) {
  return absl::StrCat(parent, ".", child, "[", index, "]");
}

// A required past timestamp: set, well-formed, not before 2000 and not
// (beyond clock skew) in the future.
void ValidatePastTime(const std::string& field, bool present,
                      const google::protobuf::Timestamp& ts, absl::Time now,
                      Violations& violations) {
  if (!present) {
    violations.Add(field, "is required");
    return;
  }
  if (ts.nanos() < 0 || ts.nanos() > 999'999'999 ||
      ts.seconds() < kEarliestSeconds) {
    violations.Add(field, "must be a valid time after 2000-01-01");
    return;
  }
  absl::Time t =
      absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  if (t > now + kMaxClockSkew) {
    violations.Add(field, "must not be in the future");
  }
}

void ValidateAmount(const std::string& field, int64_t amount,
                    Violations& violations) {
  if (amount < 0 || amount > kMaxAmountMinor) {
    violations.Add(field,
                   absl::StrCat("must be 0-", kMaxAmountMinor, " minor units"));
  }
}

void ValidateReasons(const std::string& field,
                     const google::protobuf::RepeatedField<int>& reasons,
                     Violations& violations) {
  absl::flat_hash_set<int> seen;
  for (int i = 0; i < reasons.size(); ++i) {
    int reason = reasons.Get(i);
    std::string at = absl::StrCat(field, "[", i, "]");
    if (reason == makegood::v1::REASON_UNSPECIFIED ||
        !makegood::v1::Reason_IsValid(reason)) {
      violations.Add(at,
                     "must be a known Reason other than REASON_UNSPECIFIED");
    } else if (!seen.insert(reason).second) {
      violations.Add(at, absl::StrCat("duplicate reason ",
                                      makegood::v1::Reason_Name(reason)));
    }
  }
}

void ValidatePercent(const std::string& field, bool present, int value,
                     Violations& violations) {
  if (!present) {
    violations.Add(field, "is required");
  } else if (value < 0 || value > 100) {
    violations.Add(field, "must be 0-100");
  }
}

// UTF-8 characters (not bytes); the string is valid UTF-8 (protobuf checks).
size_t Utf8Length(absl::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

}  // namespace

void ValidateSubmitRating(const makegood::v1::SubmitRatingRequest& request,
                          Violations& violations) {
  if (!IsPrintableAscii(request.idempotency_key(), 1,
                        kMaxIdempotencyKeyLength)) {
    violations.Add("idempotency_key",
                   absl::StrCat("must be 1-", kMaxIdempotencyKeyLength,
                                " printable ASCII characters"));
  }
  ValidateId("member_id", request.member_id(), violations);
  ValidateId("order_id", request.order_id(), violations);
  ValidatePercent("satisfaction_percent", request.has_satisfaction_percent(),
                  request.satisfaction_percent(), violations);
  ValidateReasons("reasons", request.reasons(), violations);
  if (request.line_ratings_size() > kMaxOrderLines) {
    violations.Add("line_ratings",
                   absl::StrCat("at most ", kMaxOrderLines, " line ratings"));
  }
  absl::flat_hash_set<absl::string_view> lines;
  for (int i = 0; i < request.line_ratings_size() && i < kMaxOrderLines; ++i) {
    const auto& line = request.line_ratings(i);
    std::string at = absl::StrCat("line_ratings[", i, "]");
    ValidateId(Path(at, "line_id"), line.line_id(), violations);
    if (!line.line_id().empty() && !lines.insert(line.line_id()).second) {
      violations.Add(Path(at, "line_id"),
                     absl::StrCat("line \"", line.line_id(), "\" rated twice"));
    }
    ValidatePercent(Path(at, "satisfaction_percent"),
                    line.has_satisfaction_percent(),
                    line.satisfaction_percent(), violations);
    ValidateReasons(Path(at, "reasons"), line.reasons(), violations);
  }
  if (Utf8Length(request.comment()) > kMaxCommentCharacters) {
    violations.Add("comment", absl::StrCat("at most ", kMaxCommentCharacters,
                                           " characters"));
  }
  if (!request.locale().empty() && (request.locale().size() > 64 ||
                                    !policy::IsLocaleTag(request.locale()))) {
    violations.Add("locale",
                   "must be a BCP 47 language tag such as \"ko-KR\", at most "
                   "64 characters");
  }
}

void ValidateCurrency(absl::string_view field, absl::string_view value,
                      Violations& violations) {
  if (!IsCurrencyCode(value)) {
    violations.Add(std::string(field),
                   "must be an ISO 4217 code such as \"EUR\"");
  }
}

void ValidateId(absl::string_view field, absl::string_view value,
                Violations& violations) {
  if (value.empty()) {
    violations.Add(std::string(field), "is required");
  } else if (!IsValidId(value)) {
    violations.Add(std::string(field),
                   absl::StrCat("must be 1-", kMaxIdLength,
                                " characters of [A-Za-z0-9._:@-]"));
  }
}

void ValidateOrder(absl::string_view field, const Order& order, absl::Time now,
                   Violations& violations) {
  ValidateId(Path(field, "order_id"), order.order_id(), violations);
  ValidateId(Path(field, "member_id"), order.member_id(), violations);
  ValidateId(Path(field, "store_id"), order.store_id(), violations);
  if (!order.courier_id().empty()) {
    ValidateId(Path(field, "courier_id"), order.courier_id(), violations);
  }
  ValidateCurrency(Path(field, "currency"), order.currency(), violations);
  ValidateAmount(Path(field, "total_minor"), order.total_minor(), violations);
  ValidateAmount(Path(field, "delivery_fee_minor"), order.delivery_fee_minor(),
                 violations);

  if (order.lines().empty()) {
    violations.Add(Path(field, "lines"), "at least one line is required");
  } else if (order.lines_size() > kMaxOrderLines) {
    violations.Add(Path(field, "lines"),
                   absl::StrCat("at most ", kMaxOrderLines, " lines"));
  }
  absl::flat_hash_set<absl::string_view> line_ids;
  int64_t lines_sum = 0;
  for (int i = 0; i < order.lines_size() && i < kMaxOrderLines; ++i) {
    const auto& line = order.lines(i);
    std::string at = Indexed(field, "lines", i);
    ValidateId(Path(at, "line_id"), line.line_id(), violations);
    if (!line.line_id().empty() && !line_ids.insert(line.line_id()).second) {
      violations.Add(Path(at, "line_id"), absl::StrCat("duplicate line_id \"",
                                                       line.line_id(), "\""));
    }
    if (!IsPrintableAscii(line.sku(), 1, kMaxSkuLength)) {
      violations.Add(Path(at, "sku"),
                     absl::StrCat("must be 1-", kMaxSkuLength,
                                  " printable ASCII characters"));
    }
    if (!line.category().empty() &&
        !IsLowerToken(line.category(), kMaxCategoryLength)) {
      violations.Add(Path(at, "category"),
                     absl::StrCat("must be 1-", kMaxCategoryLength,
                                  " characters of [a-z0-9_-]"));
    }
    if (line.quantity() < 1 || line.quantity() > kMaxQuantity) {
      violations.Add(Path(at, "quantity"),
                     absl::StrCat("must be 1-", kMaxQuantity));
    }
    ValidateAmount(Path(at, "amount_minor"), line.amount_minor(), violations);
    if (line.amount_minor() > 0 && line.amount_minor() <= kMaxAmountMinor) {
      lines_sum += line.amount_minor();
    }
  }
  if (order.delivery_fee_minor() >= 0 &&
      order.delivery_fee_minor() <= kMaxAmountMinor &&
      order.total_minor() >= 0 &&
      lines_sum + order.delivery_fee_minor() > order.total_minor()) {
    violations.Add(
        Path(field, "total_minor"),
        absl::StrCat("must be at least the sum of line amounts plus the "
                     "delivery fee (",
                     lines_sum + order.delivery_fee_minor(), ")"));
  }
  ValidatePastTime(Path(field, "delivered_at"), order.has_delivered_at(),
                   order.delivered_at(), now, violations);
  if (order.payment_method() == makegood::v1::PAYMENT_METHOD_UNSPECIFIED ||
      !makegood::v1::PaymentMethod_IsValid(order.payment_method())) {
    violations.Add(Path(field, "payment_method"),
                   "must be one of PAYMENT_METHOD_CARD, PAYMENT_METHOD_WALLET, "
                   "PAYMENT_METHOD_CASH, PAYMENT_METHOD_OTHER");
  }
  if (!order.payment_reference().empty() &&
      !IsPrintableAscii(order.payment_reference(), 1, 255)) {
    violations.Add(Path(field, "payment_reference"),
                   "must be up to 255 printable ASCII characters");
  }
}

void ValidateMember(absl::string_view field, const Member& member,
                    const policy_file::PolicySnapshot& policy, absl::Time now,
                    Violations& violations) {
  ValidateId(Path(field, "member_id"), member.member_id(), violations);
  if (member.tier().empty()) {
    violations.Add(Path(field, "tier"), "is required");
  } else if (!policy.HasTier(member.tier())) {
    std::vector<std::string> names;
    for (const auto& tier : policy.policy.tiers()) names.push_back(tier.name());
    violations.Add(
        Path(field, "tier"),
        absl::StrCat("unknown tier; the active policy (", policy.version,
                     ") defines ", absl::StrJoin(names, ", ")));
  }
  ValidatePastTime(Path(field, "member_since"), member.has_member_since(),
                   member.member_since(), now, violations);
  if (member.flags_size() > kMaxMemberFlags) {
    violations.Add(Path(field, "flags"),
                   absl::StrCat("at most ", kMaxMemberFlags, " flags"));
  }
  absl::flat_hash_set<absl::string_view> seen;
  for (int i = 0; i < member.flags_size() && i < kMaxMemberFlags; ++i) {
    const std::string& flag = member.flags(i);
    if (!IsLowerToken(flag, kMaxFlagLength)) {
      violations.Add(Indexed(field, "flags", i),
                     absl::StrCat("must be 1-", kMaxFlagLength,
                                  " characters of [a-z0-9_-]"));
    } else if (!seen.insert(flag).second) {
      violations.Add(Indexed(field, "flags", i),
                     absl::StrCat("duplicate flag \"", flag, "\""));
    }
  }
}

}  // namespace makegood::api
