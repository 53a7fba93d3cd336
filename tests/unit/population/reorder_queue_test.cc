// The queue of reorders waiting for their day
// (services/population/reorder_queue.h): earliest first, a successor added
// while its item is handled keeps the queue open, and Cancel drops what is
// left. Due times are in the past, so nothing waits.
#include "services/population/reorder_queue.h"

#include <optional>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace makegood::population {
namespace {

TEST(ReorderQueue, HandsOutTheEarliestFirst) {
  ReorderQueue queue;
  const absl::Time past = absl::Now() - absl::Hours(1);
  queue.Add({.due = past + absl::Seconds(3), .member = 3, .next = 0});
  queue.Add({.due = past + absl::Seconds(1), .member = 1, .next = 0});
  queue.Add({.due = past + absl::Seconds(2), .member = 2, .next = 0});
  queue.Close();
  std::vector<size_t> members;
  while (std::optional<DueReorder> item = queue.Next()) {
    members.push_back(item->member);
    queue.Done();
  }
  EXPECT_EQ(members, (std::vector<size_t>{1, 2, 3}));
}

TEST(ReorderQueue, ASuccessorAddedWhileHandlingIsHandedOutAfterClose) {
  ReorderQueue queue;
  const absl::Time past = absl::Now() - absl::Hours(1);
  queue.Add({.due = past, .member = 7, .next = 0});
  queue.Close();
  std::vector<size_t> handled;
  while (std::optional<DueReorder> item = queue.Next()) {
    handled.push_back(item->next);
    if (item->next < 2) {
      queue.Add({.due = past, .member = 7, .next = item->next + 1});
    }
    queue.Done();
  }
  EXPECT_EQ(handled, (std::vector<size_t>{0, 1, 2}));
}

TEST(ReorderQueue, AWaitingTakerSeesAnItemAddedLater) {
  ReorderQueue queue;
  std::optional<DueReorder> got;
  std::thread taker([&] {
    got = queue.Next();
    if (got.has_value()) queue.Done();
  });
  queue.Add({.due = absl::Now() - absl::Seconds(1), .member = 4, .next = 0});
  taker.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->member, 4u);
  queue.Close();
  EXPECT_FALSE(queue.Next().has_value());
}

TEST(ReorderQueue, CancelDropsWhatIsNotDue) {
  ReorderQueue queue;
  queue.Add({.due = absl::Now() + absl::Hours(1), .member = 1, .next = 0});
  std::thread taker([&] { EXPECT_FALSE(queue.Next().has_value()); });
  queue.Cancel();
  taker.join();
  EXPECT_FALSE(queue.Next().has_value());
}

}  // namespace
}  // namespace makegood::population
