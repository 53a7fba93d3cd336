#include "services/rating/rating_ids.h"

#include <openssl/sha.h>

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace makegood::rating {
namespace {

constexpr size_t kIdHexLength = 24;

// Appends a length-prefixed field, so no two field sequences encode alike.
void Field(std::string* out, absl::string_view value) {
  absl::StrAppend(out, value.size(), ":", value, ";");
}

void Reasons(std::string* out,
             const google::protobuf::RepeatedField<int>& reasons) {
  std::vector<int> sorted(reasons.begin(), reasons.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::string text;
  for (int r : sorted) absl::StrAppend(&text, r, ",");
  Field(out, text);
}

}  // namespace

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

RatingIds DeriveRatingIds(absl::string_view caller, absl::string_view method,
                          absl::string_view member_id,
                          absl::string_view idempotency_key, int partition) {
  std::string scope;
  Field(&scope, caller);
  Field(&scope, method);
  Field(&scope, member_id);
  Field(&scope, idempotency_key);
  RatingIds ids;
  ids.partition = partition;
  ids.scope_hash = Sha256Hex(scope);
  ids.rating_id = absl::StrCat("rt_", partition, "_",
                               ids.scope_hash.substr(0, kIdHexLength));
  ids.refund_id = absl::StrCat("rf_", partition, "_",
                               Sha256Hex(absl::StrCat("refund;", ids.rating_id))
                                   .substr(0, kIdHexLength));
  return ids;
}

std::optional<int> RefundIdPartition(absl::string_view refund_id,
                                     int partitions) {
  if (!absl::ConsumePrefix(&refund_id, "rf_")) return std::nullopt;
  size_t sep = refund_id.find('_');
  if (sep == absl::string_view::npos || sep == 0) return std::nullopt;
  int partition = 0;
  if (!absl::SimpleAtoi(refund_id.substr(0, sep), &partition) ||
      partition < 0 || partition >= partitions ||
      absl::StrCat(partition) != refund_id.substr(0, sep)) {
    return std::nullopt;
  }
  absl::string_view hex = refund_id.substr(sep + 1);
  if (hex.size() != kIdHexLength) return std::nullopt;
  for (char c : hex) {
    if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) return std::nullopt;
  }
  return partition;
}

std::string RequestFingerprint(
    const makegood::v1::SubmitRatingRequest& request) {
  std::string canonical = "makegood.rating.v1;";
  Field(&canonical, request.member_id());
  Field(&canonical, request.order_id());
  Field(&canonical, request.has_satisfaction_percent()
                        ? absl::StrCat(request.satisfaction_percent())
                        : "");
  Reasons(&canonical, request.reasons());
  std::vector<const makegood::v1::LineRating*> lines;
  for (const auto& line : request.line_ratings()) lines.push_back(&line);
  std::sort(lines.begin(), lines.end(), [](const auto* a, const auto* b) {
    return a->line_id() < b->line_id();
  });
  Field(&canonical, absl::StrCat(lines.size()));
  for (const auto* line : lines) {
    Field(&canonical, line->line_id());
    Field(&canonical, line->has_satisfaction_percent()
                          ? absl::StrCat(line->satisfaction_percent())
                          : "");
    Reasons(&canonical, line->reasons());
  }
  Field(&canonical, request.comment());
  // Only when set, so that fingerprints of requests without a locale (every
  // one stored before it existed) stay as they were.
  if (!request.locale().empty())
    Field(&canonical, "locale=" + request.locale());
  return Sha256Hex(canonical);
}

}  // namespace makegood::rating
