// File: services/store/key_schema.h
//
// The Redis key schema: every key makegood reads or writes is named here and
// nowhere else. Every key of a member lives in one partition, written as a
// Redis Cluster hash tag, so each script touches a single hash slot.
//
// In the table, {p<N>} stands for partition N's tag, which is `p<N>.<s>`
// with a suffix <s> chosen so that the tag hashes to the centre of the N-th
// of P equal slot ranges (see "Partition tags" below); {g<N>} likewise.
//
// clang-format off
//   Key                                     Type    Holds
//   mg:meta                                 hash    deployment facts (partitions, schema)
//   mg:{p<N>}:member:<member_id>            hash    member profile (N = partition of member)
//   mg:{p<N>}:mstats:<member_id>            hash    member's rating statistics (snapshot.h)
//   mg:{p<N>}:rl:m:<member_id>              string  member's rate limiter (GCRA)
//   mg:{p<N>}:order:<order_id>              hash    order of a member of partition N
//   mg:{p<M>}:owner:<order_id>              string  member owning the order (M = partition of order id)
//   mg:{p<N>}:open_orders                   zset    "<CUR>:<order_id>" of unrated orders by rating window end
//   mg:{p<N>}:idem:<scope_hash>             hash    idempotency record of a rating key
//   mg:{p<N>}:rating:<rating_id>            hash    rating record (request and decision)
//   mg:{p<N>}:ratings:t                     zset    rating ids by time
//   mg:{p<N>}:refund:<refund_id>            hash    refund record
//   mg:{p<N>}:refund:<refund_id>:events     stream  refund's state transitions
//   mg:{p<N>}:refunds:m:<member_id>         zset    member's refund ids by time
//   mg:{p<N>}:refunds:o:<order_id>          zset    order's refund ids by time
//   mg:{p<N>}:ledger                        stream  double-entry postings
//   mg:{p<N>}:ledger:balances               hash    running balance per account
//   mg:{p<N>}:outbox                        stream  refunds to settle (consumer group)
//   mg:{p<N>}:outbox:dead                   stream  outbox entries past their deliveries
//   mg:{p<N>}:attention                     zset    NEEDS_ATTENTION refund ids by time
//   mg:{p<N>}:refund_feed                   stream  refund changes for WatchRefunds
//   mg:{p<N>}:goodwill                      stream  goodwill grants (agent, reason, note)
//   mg:{p<N>}:fu:notifications              stream  member notifications to send
//   mg:{p<N>}:fu:feedback                   stream  courier/store feedback follow-ups
//   mg:{p<N>}:fu:tasks                      stream  manager follow-up tasks
//   mg:{p<N>}:wallet:<member_id>            hash    wallet provider's balance and txns
//   mg:{p<N>}:psp:sandbox                   hash    sandbox provider's payments
//   mg:{p<N>}:decisions                     stream  decision events for insights
//   mg:{p<N>}:ins:<dim>:<m|h>:<subject>     hash    insights aggregates per bucket
//   mg:{c<H>}:rl:c:<client_id>              string  client's rate limiter (H = hash of client)
//   mg:{g<H>}:agent:<agent_id>:<day>        hash    support agent's goodwill budget of a day (before currencies)
//   mg:{g<H>}:agent_budget:<CUR>:<day>:<agent_id>  hash  agent's goodwill budget of a day in one currency
//   mg:{w<H>}:consumers:<group>             hash    live consumers of a group (H = hash of group)
// clang-format on
//
// Partition = FNV-1a-64(id) mod P. P is fixed per deployment: it is recorded
// in mg:meta on first use and a server started with another P refuses to serve
// (see HealthMonitor), because every key would move.
//
// Partition tags. Plain tags `p0`..`p63` land in arbitrary slots, so a Redis
// Cluster whose primaries own equal contiguous slot ranges (as
// `redis-cli --cluster create` assigns them) gets 9 to 13 of 64 partitions
// per primary on 6. Partition N's tag is therefore `p<N>.<s>`, where <s> is
// the shortest (then alphabetically first) string over [0-9a-z] for which
// CRC16 puts the tag exactly in slot PartitionSlot(N) = floor((2N+1) * 16384
// / 2P): evenly spaced slots, so any number of primaries (checked: 1 to 64)
// with equal contiguous ranges gets the best possible spread, counts that
// differ by at most one (for up to 369 partitions; beyond, rounding leaves a
// rare pair two apart). The suffix is never empty, so no tag equals an old
// plain `p<N>` tag (schema version 1): a server refuses to serve over such data
// (kSchemaVersion). The agent budget tag `g<N>.<s>` is chosen the same way
// (same slot as partition N). Client limiter tags `c<H>` are left plain: 16384
// of them spread evenly by number (within 1% of the mean per primary).
//
// Thread-safety: immutable after construction; safe to share.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace makegood::store {

// Bumped when the layout of keys or stored values changes incompatibly.
//   1  plain partition tags {p<N>} and agent tags {g<N>}.
//   2  balanced tags {p<N>.<s>} and {g<N>.<s>} (see "Partition tags").
inline constexpr int kSchemaVersion = 2;

class KeySchema {
 public:
  static constexpr int kMaxPartitions = 16384;  // Redis Cluster's slot count.

  // INVALID_ARGUMENT unless 1 <= partitions <= kMaxPartitions. Computes
  // every partition's tag (measured: 40 us for 64 partitions, 13 ms for
  // 16384, after 1.4 ms once per process for lookup tables); copies share
  // them.
  static absl::StatusOr<KeySchema> Create(int partitions);

  int partitions() const { return partitions_; }

  // The Redis Cluster slot of every key of partition `partition` (0 <=
  // partition < partitions()): floor((2N+1) * 16384 / 2P), the centre of the
  // N-th of P equal slot ranges.
  int PartitionSlot(int partition) const;
  // Partition N's hash tag without braces, e.g. "p12.4ns" (partition 12 of
  // 64); never a plain "p12".
  std::string PartitionTag(int partition) const;

  // The partition an id (member id, order id) hashes to.
  int PartitionOf(absl::string_view id) const;

  static std::string MetaKey() { return "mg:meta"; }
  std::string MemberKey(absl::string_view member_id) const;
  std::string OrderKey(absl::string_view member_id,
                       absl::string_view order_id) const;
  std::string OrderOwnerKey(absl::string_view order_id) const;
  // Markets
  // The open orders of partition `partition`: a sorted set whose members
  // are "<CUR>:<order_id>" (unrated orders, see OpenOrderMember), scored by
  // the end of their rating window (unix ms). A policy reload that would
  // stop serving a currency counts them (policy_reload/open_orders.h).
  std::string OpenOrdersKey(int partition) const;
  // The member of an order in OpenOrdersKey.
  static std::string OpenOrderMember(absl::string_view currency,
                                     absl::string_view order_id);
  // A support agent's goodwill budget for one day in one currency (the
  // agent's slot, as AgentBudgetKey(agent_id, day), which held the budget of
  // the one currency a deployment served before). The agent id comes last:
  // ids may hold ':'.
  std::string AgentBudgetKey(absl::string_view agent_id,
                             absl::string_view currency, int64_t day) const;
  std::string MemberStatsKey(absl::string_view member_id) const;
  std::string MemberLimiterKey(absl::string_view member_id) const;
  // A client's limiter lives in a slot of its own (hash of the client id).
  std::string ClientLimiterKey(absl::string_view client_id) const;
  // A support agent's goodwill budget for one day (`day` = days since the
  // epoch), in a slot of its own like a client's limiter.
  std::string AgentBudgetKey(absl::string_view agent_id, int64_t day) const;
  // The live consumers of a stream consumer group, by which they share its
  // streams (streams/membership.h), in a slot of its own.
  std::string ConsumersKey(absl::string_view group) const;
  // The tag of the agent budget keys of partition `partition` (without
  // braces, e.g. "g12.ggk" of 64), in that partition's slot.
  std::string AgentTag(int partition) const;

  // Keys of one partition (0 <= partition < partitions()); the partition is
  // that of the member (or, for OrderOwnerKey, the order id).
  std::string IdempotencyKey(int partition, absl::string_view scope_hash) const;
  std::string RatingKey(int partition, absl::string_view rating_id) const;
  std::string RatingsByTimeKey(int partition) const;
  std::string RefundKey(int partition, absl::string_view refund_id) const;
  std::string RefundEventsKey(int partition, absl::string_view refund_id) const;
  std::string MemberRefundsKey(int partition,
                               absl::string_view member_id) const;
  std::string OrderRefundsKey(int partition, absl::string_view order_id) const;
  std::string LedgerKey(int partition) const;
  std::string LedgerBalancesKey(int partition) const;
  std::string OutboxKey(int partition) const;
  std::string DeadOutboxKey(int partition) const;
  std::string AttentionKey(int partition) const;
  std::string RefundFeedKey(int partition) const;
  std::string GoodwillKey(int partition) const;
  std::string NotificationsKey(int partition) const;
  std::string FeedbackKey(int partition) const;
  std::string TasksKey(int partition) const;
  // OrderKey when the partition is known but the member id may not be
  // (e.g. a settlement entry): an order lives in its member's partition.
  std::string OrderKeyIn(int partition, absl::string_view order_id) const;
  std::string WalletKey(int partition, absl::string_view member_id) const;
  std::string SandboxPaymentsKey(int partition) const;
  std::string DecisionsKey(int partition) const;
  // `dimension` is "store", "courier" or "sku"; `granularity` "m" or "h".
  std::string InsightsKey(int partition, absl::string_view dimension,
                          absl::string_view granularity,
                          absl::string_view subject) const;

  // The refund id of a refund record's key (RefundKey), or nullopt for any
  // other key, including a refund's events (RefundEventsKey): for scanners.
  static std::optional<std::string> RefundIdOfKey(absl::string_view key);
  // The order id of an order's key (OrderKey), or nullopt.
  static std::optional<std::string> OrderIdOfKey(absl::string_view key);
  // The partition of a key in a partition (PartitionPrefix), or nullopt (so
  // for a key with an old plain tag `{p<N>}` of schema version 1 too). Reads
  // the number only: the suffix is not checked against a partition count.
  static std::optional<int> PartitionOfKey(absl::string_view key);
  // SCAN MATCH patterns over every partition at once: refund records (and
  // their events, which the pattern cannot tell apart: filter with
  // RefundIdOfKey) and orders.
  static std::string AllRefundsPattern() { return "mg:{p*}:refund:*"; }
  static std::string AllOrdersPattern() { return "mg:{p*}:order:*"; }

  // The prefix of every key of partition `partition`, for SCAN patterns:
  // "mg:{" + PartitionTag(partition) + "}:". A partition out of range gets
  // "mg:{p<N>}:", which no scanner reads as a partition.
  std::string PartitionPrefix(int partition) const;

  // Retention after trouble (services/retention/): a member's troubles
  // still inside a window (hash: rating id -> the trouble; "<rating id>:p"
  // -> its progress), the partition's troubles by when their next window
  // closes (sorted set), and the partition's closed windows per cohort and
  // per store or courier (hashes). `kind` is "store" or "courier".
  std::string TroublesKey(int partition, absl::string_view member_id) const;
  std::string TroublesDueKey(int partition) const;
  std::string RetentionKey(int partition) const;
  std::string RetentionSubjectKey(int partition, absl::string_view kind,
                                  absl::string_view subject) const;

  // Policy experiments (services/experiments/): their records, the index
  // of names (and the running one) and the audit trail share one slot of
  // their own; each partition keeps its decisions' tallies per arm.
  static std::string ExperimentKey(absl::string_view name);
  static std::string ExperimentsKey() { return "mg:{x}:experiments"; }
  static std::string ExperimentAuditKey() { return "mg:{x}:experiments:audit"; }
  std::string ArmsKey(int partition) const;

  // Appeals (services/feedback/): an appeal of a feedback event lives in the
  // partition of the rating that caused the feedback (the appeal id names
  // it: ap_<partition>_<hex>_<n>), beside the rating record and the feedback
  // stream, so filing, deciding and reversing are each one script.
  std::string AppealKey(int partition, absl::string_view appeal_id) const;
  // The appeal's append-only audit trail (never trimmed).
  std::string AppealEventsKey(int partition, absl::string_view appeal_id) const;

 private:
  struct Tags;
  KeySchema(int partitions, std::shared_ptr<const Tags> tags)
      : partitions_(partitions), tags_(std::move(tags)) {}
  std::string Prefix(absl::string_view partition_of) const;

  int partitions_;
  std::shared_ptr<const Tags> tags_;  // Never null.
};

}  // namespace makegood::store
