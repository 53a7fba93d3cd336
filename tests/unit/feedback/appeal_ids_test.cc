#include "services/feedback/appeal_ids.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/rating/rating_ids.h"

namespace makegood::feedback {
namespace {

constexpr char kHex[] = "0123456789abcdef01234567";

TEST(ParseAppealId, NamesTheRatingAndItsPartition) {
  std::optional<AppealId> id =
      ParseAppealId(std::string("ap_12_") + kHex + "_2", 64);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->partition, 12);
  EXPECT_EQ(id->rating_id, std::string("rt_12_") + kHex);
}

TEST(ParseAppealId, NamesTheRefundTheRatingCommitMade) {
  const rating::RatingIds ids =
      rating::DeriveRatingIds("app-1", "SubmitRating", "m-1", "k-1", 7);
  const std::string appeal_id =
      absl::StrCat("ap_", ids.rating_id.substr(3), "_1");
  std::optional<AppealId> id = ParseAppealId(appeal_id, 64);
  ASSERT_TRUE(id.has_value()) << appeal_id;
  EXPECT_EQ(id->partition, 7);
  EXPECT_EQ(id->rating_id, ids.rating_id);
  EXPECT_EQ(id->refund_id, ids.refund_id);
}

TEST(ParseAppealId, RefusesWhatCommitRatingNeverIssues) {
  const std::string hex = kHex;
  for (const std::string& bad : std::vector<std::string>{
           "",
           "ap_",
           "rt_12_" + hex,                      // A rating id.
           "ap_12_" + hex,                      // No item number.
           "ap_64_" + hex + "_1",               // Partition out of range.
           "ap_012_" + hex + "_1",              // Leading zero.
           "ap_-1_" + hex + "_1",               // Negative.
           "ap_12_" + hex + "_0",               // Items count from 1.
           "ap_12_" + hex + "_01",              // Leading zero.
           "ap_12_" + hex.substr(1) + "_1",     // Short hex.
           "ap_12_0123456789ABCDEF01234567_1",  // Upper case.
           "ap_12_0123456789abcdeg01234567_1",  // Not hex.
           "ap_12_" + hex + "_1_2",             // Extra part.
           "AP_12_" + hex + "_1",
       }) {
    EXPECT_FALSE(ParseAppealId(bad, 64).has_value()) << bad;
  }
}

TEST(PartnerOf, MapsStoreAndCourierPrincipals) {
  std::optional<Partner> store = PartnerOf("store:store-1");
  ASSERT_TRUE(store.has_value());
  EXPECT_EQ(store->feedback_kind, "store_feedback");
  EXPECT_EQ(store->target_id, "store-1");
  std::optional<Partner> courier = PartnerOf("courier:c:7");
  ASSERT_TRUE(courier.has_value());
  EXPECT_EQ(courier->feedback_kind, "courier_feedback");
  EXPECT_EQ(courier->target_id, "c:7");
}

TEST(PartnerOf, RefusesPrincipalsThatNameNoPartner) {
  for (const char* bad : {"store-1", "store:", "courier:", "Store:s-1",
                          "anonymous", "agent:a-1", "store:a b"}) {
    EXPECT_FALSE(PartnerOf(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace makegood::feedback
