#include "services/retention/sweeper.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/core/log.h"
#include "services/retention/close_troubles_script.h"
#include "services/retention/lua/scripts.h"
#include "services/retention/trouble.h"

namespace makegood::retention {
namespace {

// Batches per partition and pass: a backlog larger than this waits for the
// next pass rather than hold the sweeper on one partition.
constexpr int kMaxBatchesPerPass = 1000;

}  // namespace

Sweeper::Sweeper(redis::RedisClient& redis, const store::KeySchema& keys,
                 const Clock& clock, SweeperOptions options)
    : redis_(redis), keys_(keys), clock_(clock), options_(options) {}

Sweeper::~Sweeper() { Stop(); }

void Sweeper::Start() {
  if (thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void Sweeper::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Sweeper::Run() {
  while (true) {
    if (absl::Status status = SweepOnce(); !status.ok()) {
      Log(LogLevel::kWarning, "retention_sweep_failed",
          {{"error", status.ToString()}});
    }
    absl::MutexLock lock(&mu_);
    auto stopping = [this]()
                        ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.interval);
    if (stopping_) return;
  }
}

absl::Status Sweeper::SweepOnce() {
  absl::Status first;
  for (int p = 0; p < keys_.partitions(); ++p) {
    absl::Status status = SweepPartition(p);
    if (!status.ok()) {
      absl::MutexLock lock(&mu_);
      ++stats_.failed;
      if (first.ok()) first = std::move(status);
    }
  }
  absl::MutexLock lock(&mu_);
  ++stats_.passes;
  return first;
}

absl::Status Sweeper::SweepPartition(int partition) {
  const std::string due_key = keys_.TroublesDueKey(partition);
  for (int i = 0; i < kMaxBatchesPerPass; ++i) {
    const absl::Time now = clock_.Now();
    absl::StatusOr<redis::RedisReply> due =
        redis_.CommandSync({"ZRANGEBYSCORE", due_key, "-inf",
                            absl::StrCat(absl::ToUnixMillis(now)), "LIMIT", "0",
                            absl::StrCat(options_.batch)});
    if (!due.ok()) return due.status();
    CloseTroublesRequest request;
    request.partition = partition;
    request.now = now;
    request.day = options_.day;
    for (const redis::RedisReply& member : due->elements) {
      if (ParseDueMember(member.str).has_value()) {
        request.due.push_back(member.str);
        continue;
      }
      // Not ours to close: set aside, so it never blocks the schedule.
      Log(LogLevel::kWarning, "retention_bad_schedule_entry",
          {{"key", due_key}, {"member", member.str}});
      absl::StatusOr<redis::RedisReply> removed =
          redis_.CommandSync({"ZREM", due_key, member.str});
      if (!removed.ok()) return removed.status();
    }
    if (request.due.empty()) return absl::OkStatus();
    store::ScriptCall call = BuildCloseTroublesCall(keys_, request);
    absl::StatusOr<redis::RedisReply> reply = redis_.EvalSync(
        scripts::kCloseTroubles, std::move(call.keys), std::move(call.args));
    if (!reply.ok()) return reply.status();
    absl::StatusOr<CloseTroublesReply> closed = ParseCloseTroublesReply(*reply);
    if (!closed.ok()) return closed.status();
    {
      absl::MutexLock lock(&mu_);
      stats_.closed += static_cast<uint64_t>(closed->closed);
      stats_.skipped += static_cast<uint64_t>(closed->skipped);
    }
    // Read again while windows closed: a trouble whose next window is due
    // too (after a pause longer than the gap between windows) was put back
    // on the schedule, due now. A batch where nothing closed was read while
    // another sweeper closed it.
    if (closed->closed == 0) return absl::OkStatus();
  }
  return absl::OkStatus();
}

SweeperStats Sweeper::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace makegood::retention
