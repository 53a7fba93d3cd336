// Partition tags: balanced over Redis Cluster primaries, one slot per
// partition, stable (services/store/key_schema.h, "Partition tags").
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/redis/key_slot.h"
#include "services/store/key_schema.h"

namespace makegood::store {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;
using ::testing::StartsWith;

KeySchema Schema(int partitions) {
  absl::StatusOr<KeySchema> schema = KeySchema::Create(partitions);
  EXPECT_TRUE(schema.ok()) << schema.status();
  return *schema;
}

// The slot ranges `redis-cli --cluster create` gives `primaries` primaries
// (clusterManagerCommandCreate in redis-cli.c, Redis 7.0): equal contiguous
// ranges, the boundaries rounded from a running fractional cursor.
std::vector<std::pair<int, int>> CreateSlotRanges(int primaries) {
  std::vector<std::pair<int, int>> ranges;
  const double per_primary =
      redis::kClusterSlots / static_cast<double>(primaries);
  long first = 0;
  double cursor = 0;
  for (int i = 0; i < primaries; ++i) {
    long last = std::lround(cursor + per_primary - 1);
    if (last > redis::kClusterSlots || i == primaries - 1) {
      last = redis::kClusterSlots - 1;
    }
    if (last < first) last = first;
    ranges.emplace_back(first, last);
    first = last + 1;
    cursor += per_primary;
  }
  return ranges;
}

// How many of `slots` each primary serves.
std::vector<int> PerPrimary(const std::vector<int>& slots, int primaries) {
  std::vector<int> counts;
  for (const auto& range : CreateSlotRanges(primaries)) {
    // Copies: clang 14 cannot capture structured bindings in a lambda.
    const int first = range.first, last = range.second;
    counts.push_back(
        static_cast<int>(std::count_if(slots.begin(), slots.end(), [&](int s) {
          return s >= first && s <= last;
        })));
  }
  return counts;
}

int Spread(const std::vector<int>& counts) {
  auto [min, max] = std::minmax_element(counts.begin(), counts.end());
  return *max - *min;
}

// The slot of every partition's keys, as Redis computes it.
std::vector<int> PartitionSlots(const KeySchema& schema) {
  std::vector<int> slots;
  for (int p = 0; p < schema.partitions(); ++p) {
    slots.push_back(redis::KeySlot(schema.LedgerKey(p)));
  }
  return slots;
}

TEST(CreateSlotRanges, MatchesWhatRedisCliAssigns) {
  // As printed by redis-cli --cluster create (Redis 7.0) for 3 and 6.
  EXPECT_THAT(CreateSlotRanges(3),
              ElementsAre(std::pair(0, 5460), std::pair(5461, 10922),
                          std::pair(10923, 16383)));
  EXPECT_THAT(CreateSlotRanges(6),
              ElementsAre(std::pair(0, 2730), std::pair(2731, 5460),
                          std::pair(5461, 8191), std::pair(8192, 10922),
                          std::pair(10923, 13652), std::pair(13653, 16383)));
}

// What the balanced tags fix: the counts CLUSTER.md measured for p0..p63.
TEST(PartitionTags, PlainTagsWouldSpreadUnevenly) {
  std::vector<int> plain;
  for (int p = 0; p < 64; ++p)
    plain.push_back(redis::KeySlot(absl::StrCat("p", p)));
  EXPECT_THAT(PerPrimary(plain, 3), ElementsAre(20, 20, 24));
  EXPECT_THAT(PerPrimary(plain, 6), ElementsAre(9, 11, 12, 8, 11, 13));
  EXPECT_THAT(PerPrimary(plain, 8), ElementsAre(6, 10, 6, 10, 6, 10, 6, 10));
}

TEST(PartitionTags, SixtyFourPartitionsSpreadBestPossibleOnThreeFourSixEight) {
  std::vector<int> slots = PartitionSlots(Schema(64));
  EXPECT_THAT(PerPrimary(slots, 3), ElementsAre(21, 22, 21));
  EXPECT_THAT(PerPrimary(slots, 4), ElementsAre(16, 16, 16, 16));
  EXPECT_THAT(PerPrimary(slots, 6), ElementsAre(11, 10, 11, 11, 10, 11));
  EXPECT_THAT(PerPrimary(slots, 8), ElementsAre(8, 8, 8, 8, 8, 8, 8, 8));
}

// Evenly spaced slots are the best possible for any number of primaries,
// not only the four above, and for other partition counts too (up to 369:
// beyond, rounding makes a rare pair differ by two, e.g. 370 on 53).
TEST(PartitionTags, EveryPrimaryCountGetsCountsWithinOne) {
  for (int partitions : {64, 1, 7, 16, 32, 100, 128, 256, 369}) {
    std::vector<int> slots = PartitionSlots(Schema(partitions));
    for (int primaries = 1; primaries <= 64; ++primaries) {
      EXPECT_LE(Spread(PerPrimary(slots, primaries)), 1)
          << partitions << " partitions on " << primaries << " primaries";
    }
  }
}

TEST(PartitionTags, PartitionNIsInTheCentreOfTheNthSlotRange) {
  KeySchema p64 = Schema(64);
  for (int p = 0; p < 64; ++p) {
    EXPECT_EQ(p64.PartitionSlot(p), 256 * p + 128);
    EXPECT_EQ(redis::KeySlot(p64.PartitionPrefix(p)), 256 * p + 128);
  }
  KeySchema p3 = Schema(3);
  EXPECT_EQ(p3.PartitionSlot(0), 2730);
  EXPECT_EQ(p3.PartitionSlot(1), 8192);
  EXPECT_EQ(p3.PartitionSlot(2), 13653);
  EXPECT_EQ(Schema(1).PartitionSlot(0), 8192);
}

// At the largest partition count every slot holds exactly one partition,
// which also shows a suffix exists for every slot.
TEST(PartitionTags, MaxPartitionsPutPartitionNInSlotN) {
  KeySchema schema = Schema(KeySchema::kMaxPartitions);
  absl::flat_hash_set<std::string> tags;
  for (int p = 0; p < schema.partitions(); ++p) {
    ASSERT_EQ(redis::KeySlot(schema.PartitionPrefix(p)), p);
    std::string tag = schema.PartitionTag(p);
    EXPECT_LE(tag.size(), absl::StrCat("p", p, ".").size() + 4) << tag;
    tags.insert(std::move(tag));
  }
  EXPECT_EQ(tags.size(), size_t{KeySchema::kMaxPartitions});
}

// Every key of a partition, and every agent budget key of it, shares the
// partition's slot, whatever the partition count.
TEST(PartitionTags, EveryKeyOfAPartitionSharesItsSlot) {
  for (int partitions : {1, 3, 64, 1000}) {
    KeySchema schema = Schema(partitions);
    for (int p = 0; p < partitions; ++p) {
      const int slot = schema.PartitionSlot(p);
      for (const std::string& key :
           {schema.PartitionPrefix(p),
            schema.IdempotencyKey(p, "h"),
            schema.RatingKey(p, "rt"),
            schema.RatingsByTimeKey(p),
            schema.RefundKey(p, "rf"),
            schema.RefundEventsKey(p, "rf"),
            schema.MemberRefundsKey(p, "m"),
            schema.OrderRefundsKey(p, "o"),
            schema.LedgerKey(p),
            schema.LedgerBalancesKey(p),
            schema.OutboxKey(p),
            schema.DeadOutboxKey(p),
            schema.AttentionKey(p),
            schema.RefundFeedKey(p),
            schema.GoodwillKey(p),
            schema.NotificationsKey(p),
            schema.FeedbackKey(p),
            schema.TasksKey(p),
            schema.OrderKeyIn(p, "o"),
            schema.WalletKey(p, "m"),
            schema.SandboxPaymentsKey(p),
            schema.DecisionsKey(p),
            schema.InsightsKey(p, "store", "m", "s")}) {
        ASSERT_EQ(redis::KeySlot(key), slot) << key;
      }
    }
    for (int m = 0; m < 100; ++m) {
      const std::string member = absl::StrCat("member-", m);
      const int slot = schema.PartitionSlot(schema.PartitionOf(member));
      for (const std::string& key :
           {schema.MemberKey(member), schema.OrderKey(member, "o-1"),
            schema.MemberStatsKey(member), schema.MemberLimiterKey(member),
            schema.OrderOwnerKey(member), schema.AgentBudgetKey(member, 7)}) {
        ASSERT_EQ(redis::KeySlot(key), slot) << key;
      }
    }
  }
}

// The rule is "the shortest, then alphabetically first, suffix over
// [0-9a-z]": checked here by trying every suffix in that order.
TEST(PartitionTags, SuffixIsTheFirstInShortlexOrderThatHitsTheSlot) {
  constexpr absl::string_view kAlphabet =
      "0123456789abcdefghijklmnopqrstuvwxyz";
  auto first_suffix = [&](const std::string& prefix, int slot) {
    for (int length = 1; length <= 4; ++length) {
      std::string suffix(length, kAlphabet[0]);
      while (true) {
        if (redis::KeySlot(prefix + suffix) == slot) return suffix;
        int i = length - 1;  // Next suffix: count in base 36.
        while (i >= 0 && suffix[i] == kAlphabet.back()) {
          suffix[i--] = kAlphabet[0];
        }
        if (i < 0) break;
        suffix[i] = kAlphabet[kAlphabet.find(suffix[i]) + 1];
      }
    }
    return std::string("none");
  };
  for (int partitions : {64, 5}) {
    KeySchema schema = Schema(partitions);
    for (int p = 0; p < partitions; ++p) {
      std::string prefix = absl::StrCat("p", p, ".");
      EXPECT_EQ(schema.PartitionTag(p),
                prefix + first_suffix(prefix, schema.PartitionSlot(p)));
    }
  }
}

// Tags are in every key of a deployment for its whole life: an accidental
// change would hide all its data. These were computed independently (a
// brute-force search in Python) and must never change.
TEST(PartitionTags, TagsAreStable) {
  KeySchema p64 = Schema(64);
  EXPECT_EQ(p64.PartitionTag(0), "p0.6m6");
  EXPECT_EQ(p64.PartitionTag(1), "p1.7i3");
  EXPECT_EQ(p64.PartitionTag(12), "p12.4ns");
  EXPECT_EQ(p64.PartitionTag(33), "p33.05f");
  EXPECT_EQ(p64.PartitionTag(59), "p59.76j");
  EXPECT_EQ(p64.PartitionTag(63), "p63.7n7");
  EXPECT_EQ(p64.LedgerKey(12), "mg:{p12.4ns}:ledger");
  EXPECT_EQ(p64.AgentBudgetKey("a", 20000), "mg:{g12.ggk}:agent:a:20000");
  EXPECT_EQ(p64.AgentTag(12), "g12.ggk");

  KeySchema p3 = Schema(3);
  EXPECT_EQ(p3.PartitionTag(0), "p0.kib");
  EXPECT_EQ(p3.PartitionTag(1), "p1.fwu");
  EXPECT_EQ(p3.PartitionTag(2), "p2.1xr");
  EXPECT_EQ(Schema(1).PartitionTag(0), "p0.0zv");

  KeySchema max = Schema(KeySchema::kMaxPartitions);
  EXPECT_EQ(max.PartitionTag(0), "p0.2x0");
  EXPECT_EQ(max.PartitionTag(1), "p1.zi");
  EXPECT_EQ(max.PartitionTag(8191), "p8191.208");
  EXPECT_EQ(max.PartitionTag(16383), "p16383.der");
}

TEST(PartitionTags, NoTagIsAnOldPlainTag) {
  KeySchema schema = Schema(64);
  for (int p = 0; p < 64; ++p) {
    EXPECT_THAT(schema.PartitionPrefix(p),
                StartsWith(absl::StrCat("mg:{p", p, ".")));
    EXPECT_NE(schema.PartitionPrefix(p), absl::StrCat("mg:{p", p, "}:"));
  }
}

TEST(PartitionTags, ScannersReadThePartitionBackFromEveryKey) {
  KeySchema schema = Schema(64);
  for (int p = 0; p < 64; ++p) {
    EXPECT_THAT(KeySchema::PartitionOfKey(schema.RefundKey(p, "rf_1_ab")),
                Optional(p));
    EXPECT_THAT(KeySchema::RefundIdOfKey(schema.RefundKey(p, "rf_1_ab")),
                Optional(std::string("rf_1_ab")));
    EXPECT_EQ(KeySchema::RefundIdOfKey(schema.RefundEventsKey(p, "rf_1_ab")),
              std::nullopt);
    EXPECT_THAT(KeySchema::OrderIdOfKey(schema.OrderKeyIn(p, "o.7")),
                Optional(std::string("o.7")));
  }
  EXPECT_THAT(KeySchema::PartitionOfKey(
                  Schema(KeySchema::kMaxPartitions).LedgerKey(16383)),
              Optional(16383));
}

// Data written with the old tags (schema version 1) is not read as this
// schema's: the health check refuses to serve over it, and a scanner that
// met such a key would not take it for a partition's.
TEST(PartitionTags, ScannersDoNotReadOldOrMalformedTags) {
  for (absl::string_view key :
       {"mg:{p5}:refund:rf_5_ab", "mg:{p5.}:refund:rf_5_ab",
        "mg:{p.ab}:refund:x", "mg:{p5.A}:refund:x", "mg:{p+5.ab}:refund:x",
        "mg:{p-5.ab}:refund:x", "mg:{p05.ab}:refund:x",
        "mg:{p16384.ab}:refund:x", "mg:{p5.a-b}:refund:x",
        "mg:{g5.ab}:refund:x", "mg:{p5.ab}refund:x",
        "mg:{p5}:refund:rf_5.ab}:x"}) {
    EXPECT_EQ(KeySchema::PartitionOfKey(key), std::nullopt) << key;
    EXPECT_EQ(KeySchema::RefundIdOfKey(key), std::nullopt) << key;
  }
}

TEST(PartitionTags, APartitionOutOfRangeGetsAPrefixNoScannerReads) {
  KeySchema schema = Schema(64);
  EXPECT_EQ(schema.PartitionPrefix(64), "mg:{p64}:");
  EXPECT_EQ(schema.PartitionPrefix(-1), "mg:{p-1}:");
  EXPECT_EQ(KeySchema::PartitionOfKey(schema.LedgerKey(64)), std::nullopt);
}

TEST(AgentTags, SpreadLikePartitionTags) {
  KeySchema schema = Schema(64);
  std::vector<int> slots;
  for (int p = 0; p < 64; ++p) {
    std::string agent;
    for (int i = 0; schema.PartitionOf(agent) != p; ++i) {
      agent = absl::StrCat("agent-", i);
    }
    std::string key = schema.AgentBudgetKey(agent, 1);
    EXPECT_THAT(key, StartsWith(absl::StrCat("mg:{g", p, ".")));
    slots.push_back(redis::KeySlot(key));
  }
  EXPECT_EQ(slots, PartitionSlots(schema));
  for (int primaries : {3, 4, 6, 8}) {
    EXPECT_LE(Spread(PerPrimary(slots, primaries)), 1) << primaries;
  }
}

}  // namespace
}  // namespace makegood::store
