#include "services/settlement/worker.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/core/log.h"
#include "services/redis/hiredis_client.h"
#include "services/store/lua/scripts.h"

namespace makegood::settlement {

using redis::RedisReply;

struct SettlementWorker::Job {
  int partition = 0;
  std::string prefix;
  std::string entry_id;
  // What in_flight_ knows the entry by: entry ids are per stream, so two
  // partitions' outboxes can both hold "<ms>-0".
  std::string InFlightKey() const {
    return absl::StrCat(partition, "/", entry_id);
  }
  std::string entry_flat;  // "k=v k=v", for the dead-letter stream.
  std::string type;
  int64_t deliveries = 1;
  bool dead = false;  // Delivered too often: dead-letter it.
  std::string provider;
  PayoutRequest request;
  int64_t created_at_ms = 0;
};

namespace {

std::string FieldsOf(const RedisReply& kv, std::string* type,
                     PayoutRequest* request) {
  std::string flat;
  for (size_t i = 0; i + 1 < kv.elements.size(); i += 2) {
    const std::string& k = kv.elements[i].str;
    const std::string& v = kv.elements[i + 1].str;
    absl::StrAppend(&flat, flat.empty() ? "" : " ", k, "=", v);
    if (k == "type") *type = v;
    if (k == "refund_id") request->refund_id = v;
    if (k == "member_id") request->member_id = v;
    if (k == "order_id") request->order_id = v;
    if (k == "currency") request->currency = v;
    if (k == "amount_minor") (void)absl::SimpleAtoi(v, &request->amount_minor);
  }
  return flat;
}

}  // namespace

SettlementWorker::SettlementWorker(
    redis::RedisClient& redis, const store::KeySchema& keys, const Clock& clock,
    absl::flat_hash_map<std::string, PaymentProvider*> providers,
    WorkerOptions options)
    : redis_(redis),
      keys_(keys),
      clock_(clock),
      providers_(std::move(providers)),
      options_(std::move(options)) {
  for (int p = 0; p < keys_.partitions(); ++p) {
    outbox_keys_.push_back(absl::StrCat(keys_.PartitionPrefix(p), "outbox"));
  }
}

SettlementWorker::~SettlementWorker() { Stop(absl::ZeroDuration()); }

absl::Status SettlementWorker::Start(redis::RedisOptions redis_options) {
  for (const char* needed : {"wallet", "coupon"}) {
    if (!providers_.contains(needed)) {
      return absl::FailedPreconditionError(
          absl::StrCat("settlement needs the ", needed, " provider"));
    }
  }
  if (!providers_.contains(options_.card_provider)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "card provider \"", options_.card_provider, "\" is not configured"));
  }
  // Blocking reads get a connection of their own, with a deadline beyond the
  // block time.
  redis_options.connections = 1;
  redis_options.command_timeout = options_.block + absl::Seconds(2);
  auto blocking = redis::HiredisClient::Start(std::move(redis_options));
  if (!blocking.ok()) return blocking.status();
  blocking_ = *std::move(blocking);
  thread_ = std::thread([this] { Run(); });
  Log(LogLevel::kInfo, "settlement_started",
      {{"consumer", options_.consumer},
       {"card_provider", options_.card_provider},
       {"fallback", options_.fallback},
       {"partitions", keys_.partitions()}});
  return absl::OkStatus();
}

void SettlementWorker::Stop(absl::Duration grace) {
  if (stopping_.exchange(true)) return;
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return in_flight_.empty();
  };
  mu_.AwaitWithTimeout(absl::Condition(&idle), grace);
  blocking_.reset();
}

WorkerStats SettlementWorker::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void SettlementWorker::Run() {
  bool groups_ready = false;
  bool own_pending_read = false;
  absl::Time next_reclaim = absl::InfinitePast();
  absl::Time next_backlog = absl::InfinitePast();
  while (!stopping_.load()) {
    if (blocking_->ready_connections() == 0) {
      absl::SleepFor(absl::Milliseconds(50));
      continue;
    }
    if (!groups_ready) {
      EnsureGroups();
      groups_ready = true;
    }
    if (!own_pending_read) {
      // After a restart under the same name: what this consumer had taken
      // but not finished is resumed at once rather than after retry_after.
      ReadOnce(/*own_pending=*/true);
      own_pending_read = true;
    }
    if (options_.on_backlog && absl::Now() >= next_backlog) {
      ReportBacklog();
      next_backlog = absl::Now() + options_.backlog_interval;
    }
    if (absl::Now() >= next_reclaim) {
      Reclaim();
      next_reclaim = absl::Now() +
                     std::max(options_.retry_after / 2, absl::Milliseconds(50));
    }
    {
      absl::MutexLock lock(&mu_);
      auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return in_flight_.size() < static_cast<size_t>(options_.max_in_flight);
      };
      if (!mu_.AwaitWithTimeout(absl::Condition(&room),
                                absl::Milliseconds(100))) {
        continue;
      }
    }
    ReadOnce(/*own_pending=*/false);
  }
}

void SettlementWorker::EnsureGroups() {
  for (const std::string& key : outbox_keys_) {
    auto reply = blocking_->CommandSync(
        {"XGROUP", "CREATE", key, options_.group, "0", "MKSTREAM"});
    if (!reply.ok() &&
        !absl::StrContains(reply.status().message(), "BUSYGROUP")) {
      Log(LogLevel::kWarning, "settlement_group_create_failed",
          {{"error", reply.status().ToString()}});
    }
  }
}

void SettlementWorker::ReadOnce(bool own_pending) {
  size_t room;
  {
    absl::MutexLock lock(&mu_);
    room = options_.max_in_flight -
           std::min<size_t>(in_flight_.size(), options_.max_in_flight);
  }
  if (room == 0) return;
  std::vector<std::string> argv = {
      "XREADGROUP",      "GROUP", options_.group,
      options_.consumer, "COUNT", absl::StrCat(own_pending ? 1000 : room)};
  if (!own_pending) {
    argv.push_back("BLOCK");
    argv.push_back(absl::StrCat(absl::ToInt64Milliseconds(options_.block)));
  }
  argv.push_back("STREAMS");
  for (const std::string& key : outbox_keys_) argv.push_back(key);
  for (size_t i = 0; i < outbox_keys_.size(); ++i) {
    argv.push_back(own_pending ? "0" : ">");
  }
  auto reply = blocking_->CommandSync(std::move(argv));
  if (!reply.ok()) {
    if (!stopping_.load()) absl::SleepFor(absl::Milliseconds(50));
    return;
  }
  // [[stream, [[id, [k, v, ...]], ...]], ...] or nil on timeout.
  for (const RedisReply& stream : reply->elements) {
    if (stream.elements.size() < 2) continue;
    int partition = -1;
    for (size_t p = 0; p < outbox_keys_.size(); ++p) {
      if (outbox_keys_[p] == stream.elements[0].str) {
        partition = static_cast<int>(p);
      }
    }
    if (partition < 0) continue;
    for (const RedisReply& entry : stream.elements[1].elements) {
      if (entry.elements.size() < 2) continue;
      auto job = std::make_shared<Job>();
      job->partition = partition;
      job->prefix = keys_.PartitionPrefix(partition);
      job->entry_id = entry.elements[0].str;
      job->entry_flat = FieldsOf(entry.elements[1], &job->type, &job->request);
      Process(std::move(job));
    }
  }
}

void SettlementWorker::Reclaim() {
  const std::string min_idle =
      absl::StrCat(absl::ToInt64Milliseconds(options_.retry_after));
  for (size_t p = 0; p < outbox_keys_.size() && !stopping_.load(); ++p) {
    auto reply = blocking_->CommandSync({"XAUTOCLAIM", outbox_keys_[p],
                                         options_.group, options_.consumer,
                                         min_idle, "0-0", "COUNT", "32"});
    if (!reply.ok() || reply->elements.size() < 2) continue;
    for (const RedisReply& entry : reply->elements[1].elements) {
      if (entry.elements.size() < 2) continue;
      auto job = std::make_shared<Job>();
      job->partition = static_cast<int>(p);
      job->prefix = keys_.PartitionPrefix(job->partition);
      job->entry_id = entry.elements[0].str;
      job->entry_flat = FieldsOf(entry.elements[1], &job->type, &job->request);
      // How often it was delivered, this claim included.
      auto pending =
          blocking_->CommandSync({"XPENDING", outbox_keys_[p], options_.group,
                                  job->entry_id, job->entry_id, "1"});
      if (pending.ok() && !pending->elements.empty() &&
          pending->elements[0].elements.size() >= 4) {
        job->deliveries = pending->elements[0].elements[3].integer;
      }
      job->dead = job->deliveries > options_.max_deliveries;
      {
        absl::MutexLock lock(&mu_);
        ++stats_.reclaimed;
      }
      Process(std::move(job));
    }
  }
}

void SettlementWorker::ReportBacklog() {
  int64_t outbox = 0, dead = 0;
  for (const std::string& key : outbox_keys_) {
    auto length = blocking_->CommandSync({"XLEN", key});
    auto dead_length =
        blocking_->CommandSync({"XLEN", absl::StrCat(key, ":dead")});
    if (!length.ok() || !dead_length.ok()) return;  // Next time.
    outbox += length->integer;
    dead += dead_length->integer;
  }
  options_.on_backlog(outbox, dead);
}

bool SettlementWorker::TryStart(const std::string& entry_id) {
  absl::MutexLock lock(&mu_);
  return in_flight_.insert(entry_id).second;
}

void SettlementWorker::Done(const std::shared_ptr<Job>& job) {
  absl::MutexLock lock(&mu_);
  in_flight_.erase(job->InFlightKey());
}

void SettlementWorker::Process(std::shared_ptr<Job> job) {
  if (!TryStart(job->InFlightKey())) return;  // Already being settled here.
  if (job->dead) {
    Finish(std::move(job), "attention", "", "max_deliveries_exceeded");
    return;
  }
  if (job->type != "refund_accepted" || job->request.refund_id.empty() ||
      job->request.member_id.empty()) {
    // A poison entry: left pending, so it is dead-lettered once it has been
    // delivered max_deliveries times.
    Log(LogLevel::kWarning, "settlement_bad_entry",
        {{"entry_id", job->entry_id}, {"partition", job->partition}});
    Done(job);
    return;
  }
  std::string refund_key =
      absl::StrCat(job->prefix, "refund:", job->request.refund_id);
  std::vector<std::string> keys = {refund_key,
                                   absl::StrCat(refund_key, ":events"),
                                   absl::StrCat(job->prefix, "refund_feed")};
  redis_.Eval(
      store::scripts::kSettleBegin, std::move(keys),
      {absl::StrCat(absl::ToUnixMillis(clock_.Now())), options_.card_provider,
       absl::StrCat("settlement:", options_.consumer)},
      [this, job](absl::StatusOr<RedisReply> reply) mutable {
        OnBegun(std::move(job), std::move(reply));
      });
}

void SettlementWorker::OnBegun(std::shared_ptr<Job> job,
                               absl::StatusOr<RedisReply> reply) {
  if (!reply.ok() || reply->elements.empty()) {
    Done(job);  // Stays pending; retried after retry_after.
    return;
  }
  const auto& r = reply->elements;
  const std::string& tag = r[0].str;
  if (tag == "FINAL") {
    Finish(std::move(job), "ack", "", "already_final");
    return;
  }
  if ((tag != "SETTLE" && tag != "RESUME") || r.size() < 10) {
    Log(LogLevel::kWarning, "settlement_refund_missing",
        {{"entry_id", job->entry_id}, {"refund_id", job->request.refund_id}});
    Done(job);
    return;
  }
  job->provider = r[1].str;
  (void)absl::SimpleAtoi(r[2].str, &job->request.amount_minor);
  job->request.currency = r[3].str;
  job->request.member_id = r[5].str;
  job->request.order_id = r[6].str;
  job->request.payment_reference = r[7].str;
  (void)absl::SimpleAtoi(r[9].str, &job->created_at_ms);
  auto provider = providers_.find(job->provider);
  if (provider == providers_.end()) {
    Log(LogLevel::kError, "settlement_provider_missing",
        {{"provider", job->provider}, {"refund_id", job->request.refund_id}});
    Done(job);
    return;
  }
  PaymentProvider* p = provider->second;
  if (tag == "SETTLE") {
    p->Pay(job->request, [this, job](PayoutResult result) mutable {
      OnProviderAnswer(std::move(job), std::move(result));
    });
    return;
  }
  // Resumed: what does the provider know? Pay only if it never saw it.
  {
    absl::MutexLock lock(&mu_);
    ++stats_.resumed;
  }
  p->Lookup(job->request, [this, job, p](PayoutResult found) mutable {
    if (found.outcome == PayoutOutcome::kNotFound) {
      p->Pay(job->request, [this, job](PayoutResult result) mutable {
        OnProviderAnswer(std::move(job), std::move(result));
      });
      return;
    }
    OnProviderAnswer(std::move(job), std::move(found));
  });
}

void SettlementWorker::OnProviderAnswer(std::shared_ptr<Job> job,
                                        PayoutResult result) {
  if (options_.on_result) {
    options_.on_result(job->provider, PayoutOutcomeName(result.outcome));
  }
  switch (result.outcome) {
    case PayoutOutcome::kSucceeded:
      Finish(std::move(job), "succeeded", std::move(result.provider_reference),
             result.reason.empty() ? "paid" : std::move(result.reason));
      return;
    case PayoutOutcome::kDeclined:
      Finish(std::move(job), "declined", std::move(result.provider_reference),
             result.reason.empty() ? "declined" : std::move(result.reason));
      return;
    case PayoutOutcome::kNotFound:
    case PayoutOutcome::kUnknown:
      break;
  }
  // Unknown: never guessed. The entry stays pending and is retried (Lookup
  // first) after retry_after.
  {
    absl::MutexLock lock(&mu_);
    ++stats_.unknown;
  }
  Log(LogLevel::kWarning, "settlement_outcome_unknown",
      {{"refund_id", job->request.refund_id},
       {"provider", job->provider},
       {"reason", result.reason},
       {"deliveries", job->deliveries}});
  Done(job);
}

void SettlementWorker::Finish(std::shared_ptr<Job> job, const char* result,
                              std::string reference, std::string reason) {
  // Every key is built from the entry's partition, never from the ids it
  // carries: a poison entry without (or with a wrong) member id must still
  // name keys of its own slot, or the script fails on Redis Cluster and the
  // entry is never dead-lettered. (An order lives in its member's partition,
  // which is the outbox's.)
  const std::string& prefix = job->prefix;
  std::string refund_key =
      absl::StrCat(prefix, "refund:", job->request.refund_id);
  std::vector<std::string> keys = {
      refund_key,
      absl::StrCat(refund_key, ":events"),
      absl::StrCat(prefix, "refund_feed"),
      absl::StrCat(prefix, "outbox"),
      absl::StrCat(prefix, "ledger"),
      absl::StrCat(prefix, "ledger:balances"),
      absl::StrCat(prefix, "order:", job->request.order_id),
      absl::StrCat(prefix, "wallet:", job->request.member_id),
      absl::StrCat(prefix, "fu:notifications"),
      absl::StrCat(prefix, "outbox:dead"),
      absl::StrCat(prefix, "fu:tasks"),
      absl::StrCat(prefix, "attention")};
  std::vector<std::string> args = {
      absl::StrCat(absl::ToUnixMillis(clock_.Now())),
      result,
      std::move(reference),
      std::move(reason),
      job->entry_id,
      options_.group,
      options_.fallback,
      absl::StrCat("settlement:", options_.consumer),
      absl::StrCat(job->deliveries),
      job->entry_flat};
  redis_.Eval(store::scripts::kSettleFinish, std::move(keys), std::move(args),
              [this, job](absl::StatusOr<RedisReply> reply) {
                if (reply.ok() && reply->elements.size() >= 1) {
                  const std::string& tag = reply->elements[0].str;
                  std::string state =
                      reply->elements.size() >= 2 ? reply->elements[1].str : "";
                  absl::MutexLock lock(&mu_);
                  if (tag == "DEAD") ++stats_.dead_letters;
                  if (tag == "NOT_FINAL") {
                    // The refund is not SETTLING (re-driven meanwhile, or
                    // its SETTLING write was lost): nothing was recorded and
                    // the entry stays pending. Its retry begins it again;
                    // the provider dedupes on the refund id, and a refund
                    // naming its provider is looked up there first.
                    ++stats_.not_final;
                    Log(LogLevel::kWarning, "settlement_refund_not_settling",
                        {{"refund_id", job->request.refund_id},
                         {"entry_id", job->entry_id},
                         {"state", state}});
                  }
                  if (tag == "DONE" && reply->elements.size() >= 3 &&
                      reply->elements[2].str == "REVERSED") {
                    ++stats_.reversed;
                  }
                  if (tag == "DONE") {
                    if (state == "SUCCEEDED") ++stats_.succeeded;
                    if (state == "FAILED") ++stats_.failed;
                    if (state == "NEEDS_ATTENTION") {
                      ++stats_.attention;
                      ++stats_.dead_letters;
                    }
                    if (job->created_at_ms > 0) {
                      absl::Duration lag =
                          clock_.Now() -
                          absl::FromUnixMillis(job->created_at_ms);
                      stats_.lag_total += lag;
                      if (options_.on_settled) options_.on_settled(lag);
                      stats_.lag_max = std::max(stats_.lag_max, lag);
                    }
                  }
                }
                Done(job);
              });
}

}  // namespace makegood::settlement
