#include "services/store/key_schema.h"

#include <array>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/redis/key_slot.h"

namespace makegood::store {

struct KeySchema::Tags {
  std::vector<std::string> partition_prefixes;  // "mg:{p<N>.<s>}:"
  std::vector<std::string> agent_tags;          // "g<N>.<s>"
};

namespace {

constexpr int kSlotMask = redis::kClusterSlots - 1;

// Tag suffixes are spelled in this alphabet, in this (ASCII) order.
constexpr absl::string_view kSuffixAlphabet =
    "0123456789abcdefghijklmnopqrstuvwxyz";
constexpr int kRadix = static_cast<int>(kSuffixAlphabet.size());

// CRC-16/XMODEM, the Redis Cluster slot hash (redis::KeySlot), continued
// from `crc` over `data`. redis::KeySlot has the final word: Create checks
// every tag it picks with it.
uint16_t Crc16(uint16_t crc, absl::string_view data) {
  for (unsigned char byte : data) {
    crc ^= static_cast<uint16_t>(byte) << 8;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

// The suffix of length `length` numbered `index` in alphabetical order.
std::string SpellSuffix(int index, int length) {
  std::string out(length, kSuffixAlphabet[0]);
  for (int i = length - 1; i >= 0; --i, index /= kRadix) {
    out[i] = kSuffixAlphabet[index % kRadix];
  }
  return out;
}

// Finds the shortest, then alphabetically first, suffix that puts a tag in
// a given slot without trying suffixes one by one (which costs about 16384
// CRCs per tag). CRC16 with initial value 0 is linear over GF(2), so
//   crc(prefix + suffix) = crc(prefix + L zero bytes) ^ crc(suffix)
// for a suffix of length L: the suffix needed is one whose own CRC has a
// known slot value, looked up in a table per length. Suffixes longer than
// kTableLength are a head (tried in order) and a tail from the longest
// table.
class SuffixFinder {
 public:
  static const SuffixFinder& Get() {
    static const SuffixFinder* const finder = new SuffixFinder();
    return *finder;
  }

  // The suffix, or "" if none of up to kMaxLength characters exists (Create
  // then fails; the unit tests find one of at most 4 for every slot).
  std::string Find(absl::string_view prefix, int slot) const {
    const uint16_t start = Crc16(0, prefix);
    for (int length = 1; length <= kTableLength; ++length) {
      int index = Lookup(start, length, slot);
      if (index >= 0) return SpellSuffix(index, length);
    }
    int heads = 1;
    for (int length = kTableLength + 1; length <= kMaxLength; ++length) {
      heads *= kRadix;
      const int head_length = length - kTableLength;
      for (int head = 0; head < heads; ++head) {
        std::string spelled = SpellSuffix(head, head_length);
        int index = Lookup(Crc16(start, spelled), kTableLength, slot);
        if (index >= 0) {
          return absl::StrCat(spelled, SpellSuffix(index, kTableLength));
        }
      }
    }
    return "";
  }

 private:
  static constexpr int kTableLength = 3;  // 36^3 = 46656 suffixes.
  static constexpr int kMaxLength = 6;

  SuffixFinder() {
    int count = 1;
    for (int length = 1; length <= kTableLength; ++length) {
      count *= kRadix;
      std::vector<int32_t>& first = first_[length - 1];
      first.assign(redis::kClusterSlots, -1);
      for (int index = 0; index < count; ++index) {
        int value = Crc16(0, SpellSuffix(index, length)) & kSlotMask;
        if (first[value] < 0) first[value] = index;
      }
    }
  }

  // The index of the first suffix of `length` (<= kTableLength) that takes
  // a CRC state `from` to `slot`, or -1.
  int Lookup(uint16_t from, int length, int slot) const {
    static constexpr char kZeros[kTableLength] = {};
    uint16_t shifted = Crc16(from, absl::string_view(kZeros, length));
    return first_[length - 1][(shifted ^ slot) & kSlotMask];
  }

  // first_[L - 1][v]: index of the first suffix of length L whose own CRC
  // has slot value v, or -1 if none has.
  std::array<std::vector<int32_t>, kTableLength> first_;
};

// The tag `<letter><partition>.<suffix>` in slot `slot`.
absl::StatusOr<std::string> BalancedTag(char letter, int partition, int slot) {
  std::string prefix =
      absl::StrCat(absl::string_view(&letter, 1), partition, ".");
  std::string suffix = SuffixFinder::Get().Find(prefix, slot);
  std::string tag = absl::StrCat(prefix, suffix);
  if (suffix.empty() || redis::KeySlot(tag) != slot) {
    return absl::InternalError(
        absl::StrCat("no hash tag for ", prefix, " in slot ", slot));
  }
  return tag;
}

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
  auto tags = std::make_shared<Tags>();
  tags->partition_prefixes.reserve(partitions);
  tags->agent_tags.reserve(partitions);
  KeySchema schema(partitions, nullptr);
  for (int partition = 0; partition < partitions; ++partition) {
    const int slot = schema.PartitionSlot(partition);
    absl::StatusOr<std::string> tag = BalancedTag('p', partition, slot);
    if (!tag.ok()) return tag.status();
    tags->partition_prefixes.push_back(absl::StrCat("mg:{", *tag, "}:"));
    absl::StatusOr<std::string> agent = BalancedTag('g', partition, slot);
    if (!agent.ok()) return agent.status();
    tags->agent_tags.push_back(*std::move(agent));
  }
  schema.tags_ = std::move(tags);
  return schema;
}

int KeySchema::PartitionOf(absl::string_view id) const {
  return static_cast<int>(Fnv1a64(id) % static_cast<uint64_t>(partitions_));
}

int KeySchema::PartitionSlot(int partition) const {
  return static_cast<int>((2 * int64_t{partition} + 1) * redis::kClusterSlots /
                          (2 * int64_t{partitions_}));
}

std::string KeySchema::PartitionTag(int partition) const {
  std::string prefix = PartitionPrefix(partition);  // "mg:{" tag "}:"
  return prefix.substr(4, prefix.size() - 6);
}

std::string KeySchema::PartitionPrefix(int partition) const {
  if (partition < 0 || partition >= partitions_) {
    return absl::StrCat("mg:{p", partition, "}:");
  }
  return tags_->partition_prefixes[partition];
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
  return absl::StrCat("mg:{", AgentTag(PartitionOf(agent_id)),
                      "}:agent:", agent_id, ":", day);
}

// Markets
std::string KeySchema::OpenOrdersKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "open_orders");
}

std::string KeySchema::TroublesKey(int partition,
                                   absl::string_view member_id) const {
  return absl::StrCat(PartitionPrefix(partition), "troubles:", member_id);
}

std::string KeySchema::ExperimentKey(absl::string_view name) {
  return absl::StrCat("mg:{x}:experiment:", name);
}

std::string KeySchema::ArmsKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "arms");
}

std::string KeySchema::TroublesDueKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "troubles_due");
}

std::string KeySchema::RetentionKey(int partition) const {
  return absl::StrCat(PartitionPrefix(partition), "retention");
}

std::string KeySchema::RetentionSubjectKey(int partition,
                                           absl::string_view kind,
                                           absl::string_view subject) const {
  return absl::StrCat(PartitionPrefix(partition), "retention:", kind, ":",
                      subject);
}

std::string KeySchema::OpenOrderMember(absl::string_view currency,
                                       absl::string_view order_id) {
  return absl::StrCat(currency, ":", order_id);
}

std::string KeySchema::AgentBudgetKey(absl::string_view agent_id,
                                      absl::string_view currency,
                                      int64_t day) const {
  return absl::StrCat("mg:{", AgentTag(PartitionOf(agent_id)),
                      "}:agent_budget:", currency, ":", day, ":", agent_id);
}

std::string KeySchema::AgentTag(int partition) const {
  if (partition < 0 || partition >= partitions_) {
    return absl::StrCat("g", partition);
  }
  return tags_->agent_tags[partition];
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
  size_t dot = key.find('.');
  size_t close = key.find("}:");
  int partition = 0;
  if (close == absl::string_view::npos || dot == absl::string_view::npos ||
      dot == 0 || dot + 1 >= close ||
      !absl::SimpleAtoi(key.substr(0, dot), &partition) ||
      absl::StrCat(partition) != key.substr(0, dot) || partition < 0 ||
      partition >= kMaxPartitions) {
    return std::nullopt;
  }
  for (char c : key.substr(dot + 1, close - dot - 1)) {
    if (!absl::ascii_isdigit(c) && !absl::ascii_islower(c)) return std::nullopt;
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

// Appeals

std::string KeySchema::AppealKey(int partition,
                                 absl::string_view appeal_id) const {
  return absl::StrCat(PartitionPrefix(partition), "appeal:", appeal_id);
}

std::string KeySchema::AppealEventsKey(int partition,
                                       absl::string_view appeal_id) const {
  return absl::StrCat(PartitionPrefix(partition), "appeal:", appeal_id,
                      ":events");
}

}  // namespace makegood::store
