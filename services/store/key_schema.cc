#include "services/store/key_schema.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace makegood::store {
namespace {

// FNV-1a, 64 bit: stable across processes, builds and platforms (unlike
// absl::Hash, which is seeded per process).
uint64_t Fnv1a64(absl::string_view data) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

}  // namespace

absl::StatusOr<KeySchema> KeySchema::Create(int partitions) {
  if (partitions < 1 || partitions > kMaxPartitions) {
    return absl::InvalidArgumentError(absl::StrCat(
        "partitions must be 1-", kMaxPartitions, ", got ", partitions));
  }
  return KeySchema(partitions);
}

int KeySchema::PartitionOf(absl::string_view id) const {
  return static_cast<int>(Fnv1a64(id) % static_cast<uint64_t>(partitions_));
}

std::string KeySchema::PartitionPrefix(int partition) const {
  return absl::StrCat("mg:{p", partition, "}:");
}

std::string KeySchema::Prefix(absl::string_view partition_of) const {
  return PartitionPrefix(PartitionOf(partition_of));
}

std::string KeySchema::MemberKey(absl::string_view member_id) const {
  return absl::StrCat(Prefix(member_id), "member:", member_id);
}

std::string KeySchema::OrderKey(absl::string_view member_id,
                                absl::string_view order_id) const {
  return OrderKeyIn(PartitionOf(member_id), order_id);
}

std::string KeySchema::OrderOwnerKey(absl::string_view order_id) const {
  return absl::StrCat(Prefix(order_id), "owner:", order_id);
}

}  // namespace makegood::store

namespace makegood::store {

std::string KeySchema::MemberStatsKey(absl::string_view member_id) const {
  return absl::StrCat(Prefix(member_id), "mstats:", member_id);
}

std::string KeySchema::MemberLimiterKey(absl::string_view member_id) const {
  return absl::StrCat(Prefix(member_id), "rl:m:", member_id);
}

std::string KeySchema::ClientLimiterKey(absl::string_view client_id) const {
  return absl::StrCat("mg:{c", Fnv1a64(client_id) % 16384,
                      "}:rl:c:", client_id);
}

std::string KeySchema::AgentBudgetKey(absl::string_view agent_id,
                                      int64_t day) const {
  return absl::StrCat("mg:{g", PartitionOf(agent_id), "}:agent:", agent_id, ":",
                      day);
}

std::string KeySchema::ConsumersKey(absl::string_view group) const {
  return absl::StrCat("mg:{w", Fnv1a64(group) % 16384, "}:consumers:", group);
}

std::string KeySchema::IdempotencyKey(int partition,
                                      absl::string_view scope_hash) const {
  return absl::StrCat(PartitionPrefix(partition), "idem:", scope_hash);
}

std::string KeySchema::RatingKey(int partition,
                                 absl::string_view rating_id) const {
  return absl::StrCat(PartitionPrefix(partition), "rating:", rating_id);
}

std::string KeySchema::RatingsByTimeKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "ratings:t");
}

std::string KeySchema::RefundKey(int partition,
                                 absl::string_view refund_id) const {
  return absl::StrCat(PartitionPrefix(partition), "refund:", refund_id);
}

std::string KeySchema::RefundEventsKey(int partition,
                                       absl::string_view refund_id) const {
  return absl::StrCat(PartitionPrefix(partition), "refund:", refund_id,
                      ":events");
}

std::string KeySchema::MemberRefundsKey(int partition,
                                        absl::string_view member_id) const {
  return absl::StrCat(PartitionPrefix(partition), "refunds:m:", member_id);
}

std::string KeySchema::OrderRefundsKey(int partition,
                                       absl::string_view order_id) const {
  return absl::StrCat(PartitionPrefix(partition), "refunds:o:", order_id);
}

std::string KeySchema::LedgerKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "ledger");
}

std::string KeySchema::LedgerBalancesKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "ledger:balances");
}

std::string KeySchema::OutboxKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "outbox");
}

std::string KeySchema::DeadOutboxKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "outbox:dead");
}

std::string KeySchema::AttentionKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "attention");
}

std::string KeySchema::RefundFeedKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "refund_feed");
}

std::string KeySchema::GoodwillKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "goodwill");
}

std::string KeySchema::NotificationsKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "fu:notifications");
}

std::string KeySchema::FeedbackKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "fu:feedback");
}

std::string KeySchema::TasksKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "fu:tasks");
}

std::string KeySchema::OrderKeyIn(int partition,
                                  absl::string_view order_id) const {
  return absl::StrCat(PartitionPrefix(partition), "order:", order_id);
}

std::string KeySchema::WalletKey(int partition,
                                 absl::string_view member_id) const {
  return absl::StrCat(PartitionPrefix(partition), "wallet:", member_id);
}

std::string KeySchema::SandboxPaymentsKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "psp:sandbox");
}

std::string KeySchema::DecisionsKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "decisions");
}

std::string KeySchema::InsightsKey(int partition, absl::string_view dimension,
                                   absl::string_view granularity,
                                   absl::string_view subject) const {
  return absl::StrCat(PartitionPrefix(partition), "ins:", dimension, ":",
                      granularity, ":", subject);
}

std::optional<int> KeySchema::PartitionOfKey(absl::string_view key) {
  if (!absl::ConsumePrefix(&key, "mg:{p")) return std::nullopt;
  size_t close = key.find("}:");
  int partition = 0;
  if (close == absl::string_view::npos ||
      !absl::SimpleAtoi(key.substr(0, close), &partition) || partition < 0 ||
      partition >= kMaxPartitions) {
    return std::nullopt;
  }
  return partition;
}

std::optional<std::string> KeySchema::OrderIdOfKey(absl::string_view key) {
  if (!PartitionOfKey(key).has_value()) return std::nullopt;
  key.remove_prefix(key.find("}:") + 2);
  if (!absl::ConsumePrefix(&key, "order:") || key.empty()) return std::nullopt;
  return std::string(key);
}

std::optional<std::string> KeySchema::RefundIdOfKey(absl::string_view key) {
  if (!PartitionOfKey(key).has_value()) return std::nullopt;
  key.remove_prefix(key.find("}:") + 2);
  // makegood mints refund ids without a ':' (rf_<partition>_<hex>, see
  // rating_ids.cc), so a ':' means a sub-key
  // such as the refund's events.
  if (!absl::ConsumePrefix(&key, "refund:") || key.empty() ||
      absl::StrContains(key, ':')) {
    return std::nullopt;
  }
  return std::string(key);
}

}  // namespace makegood::store
