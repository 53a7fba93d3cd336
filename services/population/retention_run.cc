#include "services/population/retention_run.h"

#include <algorithm>
#include <iostream>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/population/retention_model.h"
#include "services/retention/trouble.h"

namespace makegood::population {
namespace {

google::protobuf::Timestamp ToProtoMillis(absl::Time t) {
  const int64_t ms = absl::ToUnixMillis(t);
  google::protobuf::Timestamp ts;
  ts.set_seconds(ms / 1000);
  ts.set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
  return ts;
}

// The first window a reorder on `day` counts for.
int FirstWindow(int day) {
  for (int days : retention::kWindowDays) {
    if (day <= days) return days;
  }
  return retention::kWindowDays.back();
}

// A reorder answered this close to its window's close may have been
// recorded after the sweeper closed it (the server's times are whole
// milliseconds).
constexpr absl::Duration kSafety = absl::Milliseconds(2);

}  // namespace

void NoteTrouble(const SimMember& member, const RecentOrder& rated,
                 const v1::SubmitRatingResponse& response, absl::Time sent,
                 absl::Time answered, absl::string_view arm,
                 MemberRetention& out) {
  std::optional<retention::Trouble> trouble =
      retention::TroubleOf(/*trouble=*/true, *rated.rating, response,
                           rated.order, member.member.tier(), arm, answered);
  SimTrouble t;
  t.trouble = *std::move(trouble);
  t.segment = member.segment;
  if (out.troubles.empty()) out.first_sent = sent;
  out.segment = member.segment;
  out.last_answered = answered;
  out.last_draw = rated.reorder;
  out.troubles.push_back(std::move(t));
}

void DecideReorder(const RetentionModel& model, MemberRetention& member) {
  member.reorders.clear();
  if (member.troubles.empty() || !member.last_draw.has_value()) return;
  std::vector<std::string> answers;
  for (const SimTrouble& t : member.troubles) {
    answers.push_back(AnswerOf(t.trouble.outcome, t.trouble.recovery));
  }
  const double p = ReorderProbability(model, member.segment, answers);
  const int day = ReorderDay(model, p, member.last_draw->draw);
  for (SimTrouble& t : member.troubles) {
    t.probability = p;
    t.decided_day = day;
  }
  if (day > 0) {
    MemberReorder reorder;
    reorder.day = day;
    reorder.order = member.last_draw->order;
    member.reorders.push_back(std::move(reorder));
  }
}

absl::StatusOr<std::unique_ptr<RetentionRun>> RetentionRun::Start(
    Client& client, const RetentionModel& model,
    const RetentionRunOptions& options) {
  if (options.day < absl::Milliseconds(10) ||
      options.day !=
          absl::Milliseconds(absl::ToInt64Milliseconds(options.day))) {
    return absl::InvalidArgumentError(
        "retention day: want whole milliseconds, at least 10ms");
  }
  std::vector<v1::GetRetentionStatsResponse> before;
  for (const RetentionGrouping& grouping : options.groupings) {
    if (grouping.group_by.empty() ||
        grouping.group_by.front() != v1::RETENTION_DIMENSION_CURRENCY) {
      return absl::InvalidArgumentError(absl::StrCat(
          "retention grouping ", grouping.name, ": want CURRENCY first"));
    }
    v1::GetRetentionStatsResponse response;
    if (grpc::Status s = client.RetentionStats(RequestOf(grouping), response);
        !s.ok()) {
      return absl::UnavailableError(
          absl::StrCat("InsightsService.GetRetentionStats: ", s.error_code(),
                       " ", s.error_message()));
    }
    if (response.open_troubles() > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the server has ", response.open_troubles(),
          " troubles with a retention window open; comparing its counts "
          "with the simulation needs none (a fresh server, or wait 90 "
          "retention days)"));
    }
    before.push_back(std::move(response));
  }
  std::unique_ptr<RetentionRun> run(
      new RetentionRun(client, model, options, std::move(before)));
  for (int i = 0; i < std::max(1, options.placers); ++i) {
    run->placers_.emplace_back([r = run.get()] { r->Place(); });
  }
  return run;
}

RetentionRun::RetentionRun(Client& client, const RetentionModel& model,
                           RetentionRunOptions options,
                           std::vector<v1::GetRetentionStatsResponse> before)
    : client_(client),
      model_(model),
      options_(std::move(options)),
      before_(std::move(before)) {}

RetentionRun::~RetentionRun() {
  queue_.Cancel();
  for (std::thread& placer : placers_) {
    if (placer.joinable()) placer.join();
  }
}

absl::Time RetentionRun::DueOf(const MemberRetention& member, int day) const {
  return absl::FromUnixMillis(
      absl::ToUnixMillis(member.last_answered) +
      (day - 1) * absl::ToInt64Milliseconds(options_.day) + 1);
}

void RetentionRun::Add(MemberRetention member) {
  DecideReorder(model_, member);
  std::stable_sort(member.reorders.begin(), member.reorders.end(),
                   [](const MemberReorder& a, const MemberReorder& b) {
                     return a.day < b.day;
                   });
  auto owned = std::make_unique<MemberRetention>(std::move(member));
  const MemberRetention* m = owned.get();
  size_t index = 0;
  {
    absl::MutexLock lock(&mu_);
    index = members_.size();
    members_.push_back(std::move(owned));
  }
  if (!m->reorders.empty()) {
    queue_.Add(
        {.due = DueOf(*m, m->reorders[0].day), .member = index, .next = 0});
  }
}

void RetentionRun::Place() {
  while (std::optional<DueReorder> item = queue_.Next()) {
    MemberRetention* member = nullptr;
    {
      absl::MutexLock lock(&mu_);
      member = members_[item->member].get();
    }
    // Only this thread touches the member until the next is queued.
    MemberReorder& reorder = member->reorders[item->next];
    *reorder.order.mutable_delivered_at() = ToProtoMillis(item->due);
    const grpc::Status s = client_.Record(reorder.order);
    reorder.answered = absl::Now();
    reorder.placed = s.ok();
    if (!s.ok()) {
      ++member->errors;
      if (member->first_error.empty()) {
        member->first_error =
            absl::StrCat("RecordDelivery ", reorder.order.order_id(), ": ",
                         s.error_code(), " ", s.error_message());
      }
    }
    if (item->next + 1 < member->reorders.size()) {
      queue_.Add({.due = DueOf(*member, member->reorders[item->next + 1].day),
                  .member = item->member,
                  .next = item->next + 1});
    }
    queue_.Done();
  }
}

std::string RetentionRun::AwaitClosedWindows(absl::Time last_due) {
  const absl::Duration poll = std::clamp(
      options_.day / 4, absl::Milliseconds(10), absl::Milliseconds(500));
  absl::SleepFor(last_due - absl::Now());
  const absl::Time deadline = last_due + options_.settle_timeout;
  int64_t open = -1;
  while (true) {
    v1::GetRetentionStatsResponse response;
    if (grpc::Status s =
            client_.RetentionStats(v1::GetRetentionStatsRequest(), response);
        s.ok()) {
      open = response.open_troubles();
      if (open == 0) return "";
    }
    if (absl::Now() >= deadline) break;
    absl::SleepFor(poll);
  }
  return absl::StrCat(
      open < 0 ? "GetRetentionStats failed"
               : absl::StrCat(open, " troubles still had a window open"),
      " ", absl::FormatDuration(options_.settle_timeout),
      " after the last was due: does the server run --insights_aggregator "
      "with --retention_day=",
      absl::FormatDuration(options_.day), "?");
}

RetentionReport RetentionRun::Finish(int64_t& errors,
                                     std::string& first_error) {
  queue_.Close();
  for (std::thread& placer : placers_) placer.join();
  placers_.clear();

  RetentionReport report(options_.day, options_.groupings);
  RetentionTiming timing;
  absl::Time last_due = absl::InfinitePast();
  std::vector<std::unique_ptr<MemberRetention>> members;
  {
    absl::MutexLock lock(&mu_);
    members.swap(members_);
  }
  for (const std::unique_ptr<MemberRetention>& member : members) {
    errors += member->errors;
    if (first_error.empty()) first_error = member->first_error;
    if (member->troubles.empty()) continue;
    last_due = std::max(
        last_due, member->last_answered +
                      (retention::kWindowDays.back() + retention::kGraceDays) *
                          options_.day);
    for (const MemberReorder& reorder : member->reorders) {
      if (!reorder.placed) continue;
      ++timing.reorders;
      const absl::Duration margin =
          member->first_sent +
          (FirstWindow(reorder.day) + retention::kGraceDays) * options_.day -
          reorder.answered;
      timing.tightest = std::min(timing.tightest, margin);
      if (margin <= kSafety) ++timing.late;
    }
    // Every order of the member counts for every trouble whose window it
    // falls in.
    for (SimTrouble& trouble : member->troubles) {
      for (size_t w = 0; w < kWindows; ++w) {
        for (const MemberReorder& reorder : member->reorders) {
          if (!reorder.placed || reorder.day > retention::kWindowDays[w]) {
            continue;
          }
          trouble.reordered[w] = true;
          trouble.spend_minor[w] += reorder.order.total_minor();
        }
      }
    }
    report.AddTroubles(member->troubles);
  }
  report.SetTiming(timing);
  std::cerr << "population: retention: " << report.troubles().size()
            << " troubles, " << timing.reorders
            << " reorders placed; waiting for the last windows to close\n";

  if (last_due > absl::InfinitePast()) {
    if (std::string problem = AwaitClosedWindows(last_due); !problem.empty()) {
      report.AddProblem(std::move(problem));
    }
  }
  for (size_t g = 0; g < options_.groupings.size(); ++g) {
    const RetentionGrouping& grouping = options_.groupings[g];
    v1::GetRetentionStatsResponse after;
    if (grpc::Status s = client_.RetentionStats(RequestOf(grouping), after);
        !s.ok()) {
      report.AddProblem(absl::StrCat("GetRetentionStats by ", grouping.name,
                                     ": ", s.error_code(), " ",
                                     s.error_message()));
      continue;
    }
    report.SetServed(grouping.name, ServedCohorts(before_[g], after));
  }
  return report;
}

}  // namespace makegood::population
