#include "services/tools/admin/attention.h"

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "services/core/clock.h"
#include "services/core/status_macros.h"

namespace makegood::admin {

using Json = nlohmann::ordered_json;

absl::StatusOr<store::RefundStore::RedriveOutcome> RedriveSync(
    BlockingRedis& redis, const store::KeySchema& keys, int partition,
    const std::string& refund_id, const std::string& actor,
    const std::string& reason) {
  store::RefundStore refunds(redis.client(), keys);
  return Wait<store::RefundStore::RedriveOutcome>(
      [&](absl::AnyInvocable<void(
              absl::StatusOr<store::RefundStore::RedriveOutcome>)>
              done) {
        refunds.Redrive(partition, refund_id, actor, reason, RealClock().Now(),
                        std::move(done));
      });
}

std::optional<int> RefundIdPartition(absl::string_view id, int partitions) {
  int partition = 0;
  if (!absl::ConsumePrefix(&id, "rf_")) return std::nullopt;
  const size_t sep = id.find('_');
  if (sep == absl::string_view::npos ||
      !absl::SimpleAtoi(id.substr(0, sep), &partition) || partition < 0 ||
      partition >= partitions) {
    return std::nullopt;
  }
  absl::string_view hex = id.substr(sep + 1);
  if (hex.size() != 24) return std::nullopt;
  for (char c : hex) {
    if (!absl::ascii_isxdigit(c)) return std::nullopt;
  }
  return partition;
}

// Lists the NEEDS_ATTENTION refunds (the attention index every partition
// keeps, as RefundService.ListRefundsNeedingAttention); whether any.
absl::StatusOr<bool> ListAttention(BlockingRedis& redis,
                                   const store::KeySchema& keys,
                                   const Options& options) {
  store::RefundStore refunds(redis.client(), keys);
  const int64_t now_ms = absl::ToUnixMillis(RealClock().Now());
  std::string cursor_ms = "-inf", cursor_id;
  int64_t listed = 0, total = 0;
  while (listed < options.limit) {
    const int page_size =
        static_cast<int>(std::min<int64_t>(options.limit - listed, 500));
    MAKEGOOD_ASSIGN_OR_RETURN(
        store::AttentionPage page,
        Wait<store::AttentionPage>(
            [&](absl::AnyInvocable<void(absl::StatusOr<store::AttentionPage>)>
                    done) {
              refunds.ListNeedingAttention(cursor_ms, cursor_id, page_size,
                                           std::move(done));
            }));
    total = page.total;
    for (const store::AttentionRefund& a : page.refunds) {
      ++listed;
      const v1::Refund& r = a.refund;
      Json line = {
          {"refund_id", r.refund_id()},
          {"partition",
           RefundIdPartition(r.refund_id(), keys.partitions()).value_or(-1)},
          {"state", v1::RefundState_Name(r.state())},
          {"reason", r.state_reason()},
          {"provider", a.provider},
          {"attempts", a.attempts},
          {"amount_minor", r.amount_minor()},
          {"currency", r.currency()},
          {"since_ms", a.since_ms},
          {"age_ms", std::max<int64_t>(0, now_ms - a.since_ms)}};
      std::cout << line.dump() << "\n";
    }
    if (page.next_id.empty()) break;
    cursor_ms = page.next_ms;
    cursor_id = page.next_id;
  }
  Json summary = {
      {"summary", {{"needs_attention", total}, {"listed", listed}}}};
  std::cout << summary.dump() << "\n";
  return total > 0;
}

// Re-drives one refund; exit code.
int Redrive(BlockingRedis& redis, const store::KeySchema& keys,
            const Options& options) {
  std::optional<int> partition =
      RefundIdPartition(options.refund_id, keys.partitions());
  if (!partition.has_value()) {
    std::cerr << "makegood_admin: --refund_id: \"" << options.refund_id
              << "\" is not a refund id of this deployment "
                 "(rf_<partition>_<24 hex digits>)\n";
    return kError;
  }
  absl::StatusOr<store::RefundStore::RedriveOutcome> outcome = RedriveSync(
      redis, keys, *partition, options.refund_id,
      absl::StrCat("operator:", options.operator_id), options.reason);
  if (absl::IsNotFound(outcome.status()) ||
      absl::IsFailedPrecondition(outcome.status())) {
    std::cerr << "makegood_admin: " << outcome.status().message() << "\n";
    return kFound;
  }
  if (!outcome.ok()) {
    std::cerr << "makegood_admin: " << outcome.status().message() << "\n";
    return kError;
  }
  const bool redriven =
      *outcome == store::RefundStore::RedriveOutcome::kRedriven;
  Json line = {{"refund_id", options.refund_id},
               {"outcome", redriven ? "redriven" : "in_progress"}};
  std::cout << line.dump() << "\n";
  return kOk;
}

}  // namespace makegood::admin
