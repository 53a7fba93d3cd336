// File: services/store/key_schema.h
//
// The Redis key schema. Every key of a member lives in one partition, written
// as a Redis Cluster hash tag, so each script touches a single hash slot:
//
//   mg:meta                          hash   deployment facts (partitions,
//   schema) mg:{p<N>}:member:<member_id>     hash   member profile (N =
//   partition of member) mg:{p<N>}:order:<order_id>       hash   order of a
//   member of partition N mg:{p<M>}:owner:<order_id>       string member_id
//   owning the order
//                                           (M = partition of the order id)
//
// Partition = FNV-1a-64(id) mod P. P is fixed per deployment: it is recorded
// in mg:meta on first use and a server started with another P refuses to serve
// (see HealthMonitor), because every key would move.
//
// Thread-safety: immutable after construction; safe to share.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace makegood::store {

// Bumped when the layout of stored values changes incompatibly.
inline constexpr int kSchemaVersion = 1;

class KeySchema {
 public:
  static constexpr int kMaxPartitions = 16384;  // Redis Cluster's slot count.

  // INVALID_ARGUMENT unless 1 <= partitions <= kMaxPartitions.
  static absl::StatusOr<KeySchema> Create(int partitions);

  int partitions() const { return partitions_; }

  // The partition an id (member id, order id) hashes to.
  int PartitionOf(absl::string_view id) const;

  static std::string MetaKey() { return "mg:meta"; }
  std::string MemberKey(absl::string_view member_id) const;
  std::string OrderKey(absl::string_view member_id,
                       absl::string_view order_id) const;
  std::string OrderOwnerKey(absl::string_view order_id) const;
  std::string MemberStatsKey(absl::string_view member_id) const;
  std::string MemberLimiterKey(absl::string_view member_id) const;
  // A client's limiter lives in a slot of its own (hash of the client id).
  std::string ClientLimiterKey(absl::string_view client_id) const;
  // A support agent's goodwill budget for one day (`day` = days since the
  // epoch), in a slot of its own like a client's limiter.
  std::string AgentBudgetKey(absl::string_view agent_id, int64_t day) const;

  // Keys of partition `partition` (0 <= partition < partitions()).
  std::string PartitionPrefix(int partition) const;

 private:
  explicit KeySchema(int partitions) : partitions_(partitions) {}
  std::string Prefix(absl::string_view partition_of) const;

  int partitions_;
};

}  // namespace makegood::store
