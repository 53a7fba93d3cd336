#include "services/store/key_schema.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

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
  return absl::StrCat(Prefix(member_id), "order:", order_id);
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

}  // namespace makegood::store
