#include "services/store/key_schema.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace makegood::store {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

KeySchema Schema(int partitions) {
  absl::StatusOr<KeySchema> schema = KeySchema::Create(partitions);
  EXPECT_TRUE(schema.ok()) << schema.status();
  return *schema;
}

// The "{p<N>.<s>}" hash tag of a key, i.e. what Redis Cluster hashes.
std::string HashTag(absl::string_view key) {
  size_t open = key.find('{');
  size_t close = key.find('}', open);
  if (open == absl::string_view::npos || close == absl::string_view::npos) {
    return "";
  }
  return std::string(key.substr(open, close - open + 1));
}

TEST(KeySchema, CreateAcceptsOneToRedisClusterSlotCount) {
  ASSERT_TRUE(KeySchema::Create(1).ok());
  ASSERT_TRUE(KeySchema::Create(KeySchema::kMaxPartitions).ok());
  EXPECT_EQ(KeySchema::Create(64)->partitions(), 64);
  EXPECT_EQ(KeySchema::kMaxPartitions, 16384);
}

TEST(KeySchema, CreateRefusesPartitionsOutsideTheBounds) {
  for (int partitions : {0, -1, KeySchema::kMaxPartitions + 1}) {
    absl::StatusOr<KeySchema> schema = KeySchema::Create(partitions);
    ASSERT_FALSE(schema.ok()) << partitions;
    EXPECT_EQ(schema.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(schema.status().message()),
                HasSubstr("partitions"));
  }
}

// Partitions are stored in Redis keys for the life of a deployment: these
// pinned values (FNV-1a-64 mod P) catch any change of the hash function.
TEST(KeySchema, PartitionOfIsPinnedFnv1a64) {
  KeySchema p64 = Schema(64);
  EXPECT_EQ(p64.PartitionOf(""), 37);          // 0xcbf29ce484222325 % 64
  EXPECT_EQ(p64.PartitionOf("a"), 12);         // 0xaf63dc4c8601ec8c % 64
  EXPECT_EQ(p64.PartitionOf("foobar"), 40);    // 0x85944171f73967e8 % 64
  EXPECT_EQ(p64.PartitionOf("member-1"), 33);  // 0x3fce60a51baa0f21 % 64
  EXPECT_EQ(p64.PartitionOf("order-7"), 59);   // 0xdee47a9f34bede3b % 64

  KeySchema max = Schema(KeySchema::kMaxPartitions);
  EXPECT_EQ(max.PartitionOf("a"), 11404);
  EXPECT_EQ(max.PartitionOf("foobar"), 10216);
  EXPECT_EQ(max.PartitionOf("member-1"), 3873);

  KeySchema p7 = Schema(7);
  EXPECT_EQ(p7.PartitionOf("m-42"), 0);
  EXPECT_EQ(p7.PartitionOf("order-7"), 1);
}

TEST(KeySchema, PartitionOfIsWithinRangeAndDeterministic) {
  KeySchema schema = Schema(13);
  for (int i = 0; i < 200; ++i) {
    std::string id = "member-" + std::to_string(i);
    int partition = schema.PartitionOf(id);
    EXPECT_GE(partition, 0);
    EXPECT_LT(partition, 13);
    EXPECT_EQ(Schema(13).PartitionOf(id), partition);
  }
  EXPECT_EQ(Schema(1).PartitionOf("anything"), 0);
}

TEST(KeySchema, KeysHaveTheDocumentedLayout) {
  KeySchema schema = Schema(64);
  EXPECT_EQ(KeySchema::MetaKey(), "mg:meta");
  EXPECT_EQ(schema.MemberKey("member-1"), "mg:{p33.05f}:member:member-1");
  EXPECT_EQ(schema.OrderKey("member-1", "order-7"),
            "mg:{p33.05f}:order:order-7");
  EXPECT_EQ(schema.OrderOwnerKey("order-7"), "mg:{p59.76j}:owner:order-7");
}

TEST(KeySchema, EveryKeyOfAMemberSharesOneHashTag) {
  KeySchema schema = Schema(64);
  for (int m = 0; m < 50; ++m) {
    std::string member = "member-" + std::to_string(m);
    std::string tag = HashTag(schema.MemberKey(member));
    EXPECT_EQ(tag,
              absl::StrCat("{", schema.PartitionTag(schema.PartitionOf(member)),
                           "}"));
    for (int o = 0; o < 5; ++o) {
      std::string order = "order-" + std::to_string(m * 5 + o);
      EXPECT_EQ(HashTag(schema.OrderKey(member, order)), tag)
          << member << " " << order;
    }
  }
}

TEST(KeySchema, OwnerKeyLivesInTheOrderIdsPartition) {
  KeySchema schema = Schema(64);
  std::string key = schema.OrderOwnerKey("order-7");
  EXPECT_EQ(HashTag(key), absl::StrCat("{", schema.PartitionTag(59), "}"));
  EXPECT_EQ(schema.PartitionOf("order-7"), 59);
  EXPECT_THAT(key, StartsWith("mg:{p59.76j}:"));
}

}  // namespace
}  // namespace makegood::store
