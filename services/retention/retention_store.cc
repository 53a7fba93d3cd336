#include "services/retention/retention_store.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "services/retention/trouble.h"

namespace makegood::retention {
namespace {

using redis::RedisReply;

// The labels a store's or courier's fields hold, in their order.
constexpr std::array<Label, 3> kSubjectLabels = {
    Label::kOutcome, Label::kRecovery, Label::kCurrency};

int WindowIndex(absl::string_view days) {
  for (size_t i = 0; i < kWindowDays.size(); ++i) {
    if (days == absl::StrCat(kWindowDays[i])) return static_cast<int>(i);
  }
  return -1;
}

absl::Status BadField(absl::string_view field) {
  return absl::InternalError(
      absl::StrCat("malformed retention field \"", field, "\""));
}

// The labels of a field in query order; false when a filter excludes it.
bool Matches(const RetentionQuery& query,
             const std::array<absl::string_view, kLabelCount>& labels) {
  for (const auto& [label, value] : query.filters) {
    if (labels[static_cast<int>(label)] != value) return false;
  }
  return true;
}

struct ReadState {
  absl::Mutex mu;
  int remaining ABSL_GUARDED_BY(mu) = 0;
  absl::Status error ABSL_GUARDED_BY(mu);
  std::map<std::vector<std::string>, Cohort> cohorts ABSL_GUARDED_BY(mu);
  int64_t open ABSL_GUARDED_BY(mu) = 0;
  RetentionQuery query;
  absl::AnyInvocable<void(absl::StatusOr<RetentionStats>)> done;
};

}  // namespace

Interval Wilson95(int64_t successes, int64_t n) {
  if (n <= 0) return {};
  constexpr double kZ = 1.959963984540054;
  const double nd = static_cast<double>(n);
  const double p = static_cast<double>(successes) / nd;
  const double z2 = kZ * kZ;
  const double denominator = 1 + z2 / nd;
  const double centre = (p + z2 / (2 * nd)) / denominator;
  const double half =
      kZ * std::sqrt(p * (1 - p) / nd + z2 / (4 * nd * nd)) / denominator;
  return {.low = std::max(0.0, centre - half),
          .high = std::min(1.0, centre + half)};
}

absl::Status AddPartition(const RetentionQuery& query,
                          const std::vector<RedisReply>& hash,
                          std::map<std::vector<std::string>, Cohort>& cohorts) {
  const bool subject = !query.subject_kind.empty();
  const size_t label_count = subject ? kSubjectLabels.size() : kLabelCount;
  for (size_t i = 0; i + 1 < hash.size(); i += 2) {
    const std::string& field = hash[i].str;
    std::vector<absl::string_view> parts = absl::StrSplit(field, '\t');
    if (parts.size() != label_count + 2) return BadField(field);
    std::array<absl::string_view, kLabelCount> labels;
    for (size_t l = 0; l < label_count; ++l) {
      const Label label = subject ? kSubjectLabels[l] : static_cast<Label>(l);
      labels[static_cast<int>(label)] = parts[l];
    }
    const int window = WindowIndex(parts[label_count]);
    const absl::string_view stat = parts[label_count + 1];
    int64_t value = 0;
    if (window < 0 || !absl::SimpleAtoi(hash[i + 1].str, &value)) {
      return BadField(field);
    }
    if (!Matches(query, labels)) continue;
    std::vector<std::string> key;
    key.reserve(query.group_by.size());
    for (Label label : query.group_by) {
      key.emplace_back(labels[static_cast<int>(label)]);
    }
    Cohort& cohort = cohorts[key];
    if (cohort.labels.empty()) cohort.labels = key;
    WindowCounts& counts = cohort.windows[window];
    const std::string currency(labels[static_cast<int>(Label::kCurrency)]);
    if (stat == "n") {
      counts.troubles += value;
    } else if (stat == "r") {
      counts.reordered += value;
    } else if (stat == "s") {
      counts.spend_minor[currency] += value;
    } else if (stat == "p") {
      counts.paid_minor[currency] += value;
    } else {
      return BadField(field);
    }
  }
  return absl::OkStatus();
}

void RetentionWindowToProto(int days, const WindowCounts& counts,
                            makegood::v1::RetentionWindow& out) {
  out.set_days(days);
  out.set_troubles(counts.troubles);
  out.set_reordered(counts.reordered);
  if (counts.troubles > 0) {
    out.set_reorder_rate(static_cast<double>(counts.reordered) /
                         static_cast<double>(counts.troubles));
  }
  const Interval interval = Wilson95(counts.reordered, counts.troubles);
  out.set_reorder_rate_low(interval.low);
  out.set_reorder_rate_high(interval.high);
  std::set<std::string> currencies;
  for (const auto& [currency, minor] : counts.spend_minor) {
    (*out.mutable_spend_minor())[currency] = minor;
    currencies.insert(currency);
  }
  for (const auto& [currency, minor] : counts.paid_minor) {
    (*out.mutable_paid_minor())[currency] = minor;
    currencies.insert(currency);
  }
  for (const std::string& currency : currencies) {
    auto spend = counts.spend_minor.find(currency);
    auto paid = counts.paid_minor.find(currency);
    (*out.mutable_net_value_minor())[currency] =
        (spend == counts.spend_minor.end() ? 0 : spend->second) -
        (paid == counts.paid_minor.end() ? 0 : paid->second);
  }
}

void RetentionStore::Read(
    RetentionQuery query,
    absl::AnyInvocable<void(absl::StatusOr<RetentionStats>)> done) {
  auto state = std::make_shared<ReadState>();
  state->query = std::move(query);
  state->done = std::move(done);
  const int partitions = keys_.partitions();
  {
    absl::MutexLock lock(&state->mu);
    state->remaining = 2 * partitions;
  }
  auto finish_one = [state](absl::Status status) {
    {
      absl::MutexLock lock(&state->mu);
      if (state->error.ok()) state->error = std::move(status);
      if (--state->remaining > 0) return;
    }
    // Every reply is in: nothing else touches the state now.
    absl::StatusOr<RetentionStats> result;
    {
      absl::MutexLock lock(&state->mu);
      if (!state->error.ok()) {
        result = state->error;
      } else {
        RetentionStats stats;
        stats.open_troubles = state->open;
        for (auto& [key, cohort] : state->cohorts) {
          stats.cohorts.push_back(std::move(cohort));
        }
        result = std::move(stats);
      }
    }
    state->done(std::move(result));
  };
  for (int p = 0; p < partitions; ++p) {
    std::string key =
        state->query.subject_kind.empty()
            ? keys_.RetentionKey(p)
            : keys_.RetentionSubjectKey(p, state->query.subject_kind,
                                        state->query.subject_id);
    redis_.Command({"HGETALL", std::move(key)},
                   [state, finish_one](absl::StatusOr<RedisReply> reply) {
                     absl::Status status = reply.status();
                     if (reply.ok()) {
                       absl::MutexLock lock(&state->mu);
                       status = AddPartition(state->query, reply->elements,
                                             state->cohorts);
                     }
                     finish_one(std::move(status));
                   });
    redis_.Command({"ZCARD", keys_.TroublesDueKey(p)},
                   [state, finish_one](absl::StatusOr<RedisReply> reply) {
                     if (reply.ok()) {
                       absl::MutexLock lock(&state->mu);
                       state->open += reply->integer;
                     }
                     finish_one(reply.status());
                   });
  }
}

}  // namespace makegood::retention
