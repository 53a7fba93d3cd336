// File: services/population/retention_run.h
//
// The retention part of a population run (RunOptions::retention): each
// member's troubles are noted as the server answers them (NoteTrouble),
// after its session the member decides whether and when to order again
// (DecideReorder, retention_model.h), and the reorders are placed through
// OrderService.RecordDelivery when their retention day comes, by threads
// of their own (ReorderQueue, so waiting members hold no session thread),
// and at the end the server's InsightsService.GetRetentionStats is read
// once the last window closed and compared with what the members did
// (RetentionReport).
//
// Time. A member's troubles all fall in its session (retention day 0);
// its reorder on day d (1-90) is delivered (d - 1) retention days and 1 ms
// after the last of them was answered, so it falls within exactly the
// windows of d or more days of every trouble of the member. It counts for
// them if RecordDelivery answered before the first of those windows closed
// (the trouble's time, on the server, is after its request left): the
// margin left is RetentionTiming; none left makes the comparison unsure.
// Hence the server must share this machine's clock and its
// --retention_day.
//
// Example:
//   auto run = RetentionRun::Start(client, config.retention(), options);
//   ... sessions: NoteTrouble(...) per trouble, then run->Add(member) ...
//   RetentionReport report = (*run)->Finish();
//
// Thread-safety: Add from any thread; Start and Finish from one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "makegood/v1/insights_service.pb.h"
#include "makegood/v1/rating_service.pb.h"
#include "services/population/client.h"
#include "services/population/generator.h"
#include "services/population/reorder_queue.h"
#include "services/population/retention_report.h"

namespace makegood::population {

struct RetentionRunOptions {
  // Off: no reorders, no comparison (the quick decision-quality run).
  bool enabled = false;
  // The server's --retention_day, in whole milliseconds.
  absl::Duration day = absl::Milliseconds(200);
  // Threads that place reorders when due.
  int placers = 4;
  // After the last window is due: how long the server's sweeper may take
  // to close it (its --retention_sweep_interval, and then some).
  absl::Duration settle_timeout = absl::Minutes(2);
  // The cohorts compared.
  std::vector<RetentionGrouping> groupings = DefaultRetentionGroupings();
};

// A reorder of a member, and how placing it went.
struct MemberReorder {
  int day = 0;      // 1-90 retention days after the member's troubles.
  v1::Order order;  // delivered_at is set when it is placed.
  bool placed = false;
  absl::Time answered;  // When RecordDelivery answered.
};

// One member's troubles and what the member does after them.
struct MemberRetention {
  std::string segment;
  std::vector<SimTrouble> troubles;
  // What the member's last trouble's order drew (generator.h): the
  // member decides with it.
  std::optional<PlannedReorder> last_draw;
  // When the member's first trouble's SubmitRating left, and the last
  // one's answer came.
  absl::Time first_sent;
  absl::Time last_answered;
  // DecideReorder's: none or one.
  std::vector<MemberReorder> reorders;
  int64_t errors = 0;
  std::string first_error;
};

// Notes a rating the server answered (not a replay) that is a trouble: its
// labels (retention::TroubleOf, as the server labels it; `arm` is the
// experiment arm that decided, retention::kNoArm outside experiments) and
// the member's draws after it.
void NoteTrouble(const SimMember& member, const RecentOrder& rated,
                 const v1::SubmitRatingResponse& response, absl::Time sent,
                 absl::Time answered, absl::string_view arm,
                 MemberRetention& out);

// Whether and on which day the member orders again after its troubles:
// with the probability every answer leaves (ReorderProbability of all of
// them), drawn with the last trouble's uniforms, its basket as the order.
// Sets every trouble's probability and decided_day, and `reorders`.
// Troubles all fall before any reorder (in the member's session), so the
// last one's decision is the member's.
void DecideReorder(const RetentionModel& model, MemberRetention& member);

class RetentionRun {
 public:
  // Reads what the server served before the run (each grouping) and starts
  // the placers. FAILED_PRECONDITION when the server has trouble windows
  // open (an exact comparison needs a quiet server); UNAVAILABLE or the
  // call's error when GetRetentionStats fails; INVALID_ARGUMENT for a day
  // that is not whole milliseconds or a grouping not led by CURRENCY.
  static absl::StatusOr<std::unique_ptr<RetentionRun>> Start(
      Client& client, const RetentionModel& model,
      const RetentionRunOptions& options);
  // Drops reorders not placed yet (Finish places them all).
  ~RetentionRun();

  RetentionRun(const RetentionRun&) = delete;
  RetentionRun& operator=(const RetentionRun&) = delete;

  // Takes a member's troubles after its session, decides (DecideReorder)
  // and queues its reorders, the earliest first, each after the one before
  // was placed.
  void Add(MemberRetention member);

  // Waits until every reorder was placed and the server closed the last
  // window (open_troubles 0, within settle_timeout), reads each grouping
  // and compares. Failed reorders are counted in `errors`, the first one
  // in `first_error` (if empty). Call once, after the last Add.
  RetentionReport Finish(int64_t& errors, std::string& first_error);

 private:
  RetentionRun(Client& client, const RetentionModel& model,
               RetentionRunOptions options,
               std::vector<v1::GetRetentionStatsResponse> before);
  void Place();
  absl::Time DueOf(const MemberRetention& member, int day) const;
  // Waits for open_troubles 0; a problem when it does not come.
  std::string AwaitClosedWindows(absl::Time last_due);

  Client& client_;
  const RetentionModel& model_;
  const RetentionRunOptions options_;
  const std::vector<v1::GetRetentionStatsResponse> before_;
  ReorderQueue queue_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<MemberRetention>> members_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> placers_;
};

}  // namespace makegood::population
