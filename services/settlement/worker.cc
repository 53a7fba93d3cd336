#include "services/settlement/worker.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/core/log.h"
#include "services/settlement/lua/scripts.h"
#include "services/settlement/settle_begin_script.h"
#include "services/settlement/settle_finish_script.h"

namespace makegood::settlement {

using redis::RedisReply;

struct SettlementWorker::Job {
  int partition = 0;
  std::string entry_id;
  std::string entry_flat;  // "k=v k=v", for the dead-letter stream.
  std::string type;
  int64_t deliveries = 1;
  bool dead = false;  // Delivered too often: dead-letter it.
  std::string provider;
  PayoutRequest request;
  int64_t created_at_ms = 0;
  streams::StreamConsumer::Done done;  // Called once, by Done().
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
      options_(std::move(options)) {}

SettlementWorker::~SettlementWorker() { Stop(absl::ZeroDuration()); }

absl::Status SettlementWorker::Start(redis::RedisOptions redis_options) {
  notifications_ = streams::NotificationsOf(redis_options);
  return Start(
      streams::BlockingReadClient(std::move(redis_options), options_.block));
}

absl::Status SettlementWorker::Start(
    streams::StreamConsumer::ClientFactory blocking_client) {
  if (absl::Status opened = Open(std::move(blocking_client)); !opened.ok()) {
    return opened;
  }
  if (absl::Status started = consumer_->Start(); !started.ok()) {
    return started;
  }
  Log(LogLevel::kInfo, "settlement_started",
      {{"consumer", options_.consumer},
       {"card_provider", options_.card_provider},
       {"fallback", options_.fallback},
       {"partitions", keys_.partitions()}});
  return absl::OkStatus();
}

absl::Status SettlementWorker::Open(
    streams::StreamConsumer::ClientFactory blocking_client) {
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
  if (consumer_ != nullptr) {
    return absl::FailedPreconditionError("settlement: already started");
  }
  streams::ConsumerOptions c;
  c.name = "settlement";
  c.group = options_.group;
  c.consumer = options_.consumer;
  for (int p = 0; p < keys_.partitions(); ++p) {
    c.streams.push_back(keys_.OutboxKey(p));
    c.dead_letter_streams.push_back(keys_.DeadOutboxKey(p));
  }
  if (options_.share_partitions) {
    c.members_key = keys_.ConsumersKey(options_.group);
    c.member_ttl = options_.member_ttl;
  }
  c.block = options_.block;
  c.retry_after = options_.retry_after;
  c.read_count = options_.max_in_flight;
  c.reclaim_count = 32;
  c.max_in_flight = options_.max_in_flight;
  c.max_deliveries = options_.max_deliveries;
  c.on_backlog = options_.on_backlog;
  c.backlog_interval = options_.backlog_interval;
  c.monotonic_now = options_.monotonic_now;
  c.sleep = options_.sleep;
  c.notifications = notifications_;
  consumer_ = std::make_unique<streams::StreamConsumer>(
      redis_, clock_, std::move(c), std::move(blocking_client),
      [this](streams::StreamEntry entry, streams::StreamConsumer::Done done) {
        Handle(std::move(entry), std::move(done));
      },
      [this](streams::StreamEntry entry, streams::StreamConsumer::Done done) {
        HandleDead(std::move(entry), std::move(done));
      });
  absl::Status opened = consumer_->Open();
  if (!opened.ok()) consumer_.reset();
  return opened;
}

void SettlementWorker::Poll() { consumer_->Poll(); }

void SettlementWorker::Stop(absl::Duration grace) {
  if (consumer_ != nullptr) consumer_->Stop(grace);
}

WorkerStats SettlementWorker::stats() const {
  WorkerStats stats;
  {
    absl::MutexLock lock(&mu_);
    stats = stats_;
  }
  if (consumer_ != nullptr) stats.reclaimed = consumer_->stats().reclaimed;
  return stats;
}

std::shared_ptr<SettlementWorker::Job> SettlementWorker::JobOf(
    streams::StreamEntry entry, streams::StreamConsumer::Done done) const {
  auto job = std::make_shared<Job>();
  job->partition = entry.stream;
  job->entry_id = std::move(entry.id);
  job->entry_flat = FieldsOf(entry.fields, &job->type, &job->request);
  job->deliveries = entry.deliveries;
  job->done = std::move(done);
  return job;
}

void SettlementWorker::Handle(streams::StreamEntry entry,
                              streams::StreamConsumer::Done done) {
  Process(JobOf(std::move(entry), std::move(done)));
}

void SettlementWorker::HandleDead(streams::StreamEntry entry,
                                  streams::StreamConsumer::Done done) {
  // settle_finish.lua moves the entry to the dead-letter stream, marks the
  // refund NEEDS_ATTENTION and acks, in one step.
  std::shared_ptr<Job> job = JobOf(std::move(entry), std::move(done));
  job->dead = true;
  Process(std::move(job));
}

void SettlementWorker::Done(const std::shared_ptr<Job>& job) {
  if (job->done) std::exchange(job->done, nullptr)();
}

void SettlementWorker::Process(std::shared_ptr<Job> job) {
  if (job->dead) {
    Finish(std::move(job), SettleFinishResult::kAttention, "",
           "max_deliveries_exceeded");
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
  ScriptCall call = BuildSettleBeginCall(
      keys_, SettleBeginRequest{
                 .partition = job->partition,
                 .refund_id = job->request.refund_id,
                 .now = clock_.Now(),
                 .card_provider = options_.card_provider,
                 .actor = absl::StrCat("settlement:", options_.consumer)});
  redis_.Eval(scripts::kSettleBegin, std::move(call.keys), std::move(call.args),
              [this, job](absl::StatusOr<RedisReply> reply) mutable {
                OnBegun(std::move(job), std::move(reply));
              });
}

void SettlementWorker::OnBegun(std::shared_ptr<Job> job,
                               absl::StatusOr<RedisReply> reply) {
  if (!reply.ok()) {
    Done(job);  // Stays pending; retried after retry_after.
    return;
  }
  absl::StatusOr<SettleBeginReply> begun = ParseSettleBeginReply(*reply);
  if (!begun.ok()) {
    Log(LogLevel::kWarning, "settlement_bad_reply",
        {{"entry_id", job->entry_id},
         {"refund_id", job->request.refund_id},
         {"status", begun.status().ToString()}});
    Done(job);  // Stays pending, like a Redis error.
    return;
  }
  switch (begun->answer) {
    case SettleBeginAnswer::kFinal:
      Finish(std::move(job), SettleFinishResult::kAck, "", "already_final");
      return;
    case SettleBeginAnswer::kMissing:
      Log(LogLevel::kWarning, "settlement_refund_missing",
          {{"entry_id", job->entry_id}, {"refund_id", job->request.refund_id}});
      Done(job);
      return;
    case SettleBeginAnswer::kSettle:
    case SettleBeginAnswer::kResume:
      break;
  }
  job->provider = begun->provider;
  job->request.amount_minor = begun->amount_minor;
  job->request.currency = begun->currency;
  job->request.member_id = begun->member_id;
  job->request.order_id = begun->order_id;
  job->request.payment_reference = begun->payment_reference;
  job->created_at_ms = begun->created_at_ms;
  auto provider = providers_.find(job->provider);
  if (provider == providers_.end()) {
    Log(LogLevel::kError, "settlement_provider_missing",
        {{"provider", job->provider}, {"refund_id", job->request.refund_id}});
    Done(job);
    return;
  }
  PaymentProvider* p = provider->second;
  if (begun->answer == SettleBeginAnswer::kSettle) {
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
      Finish(std::move(job), SettleFinishResult::kSucceeded,
             std::move(result.provider_reference),
             result.reason.empty() ? "paid" : std::move(result.reason));
      return;
    case PayoutOutcome::kDeclined:
      Finish(std::move(job), SettleFinishResult::kDeclined,
             std::move(result.provider_reference),
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

void SettlementWorker::Finish(std::shared_ptr<Job> job,
                              SettleFinishResult result, std::string reference,
                              std::string reason) {
  // Every key is built from the entry's partition, never from the ids it
  // carries (settle_finish_script.h): a poison entry must still be
  // dead-lettered on Redis Cluster.
  ScriptCall call = BuildSettleFinishCall(
      keys_, SettleFinishRequest{
                 .partition = job->partition,
                 .refund_id = job->request.refund_id,
                 .member_id = job->request.member_id,
                 .order_id = job->request.order_id,
                 .now = clock_.Now(),
                 .result = result,
                 .provider_reference = std::move(reference),
                 .reason = std::move(reason),
                 .entry_id = job->entry_id,
                 .group = options_.group,
                 .fallback = options_.fallback,
                 .actor = absl::StrCat("settlement:", options_.consumer),
                 .deliveries = job->deliveries,
                 .entry = job->entry_flat});
  redis_.Eval(scripts::kSettleFinish, std::move(call.keys),
              std::move(call.args),
              [this, job](absl::StatusOr<RedisReply> reply) {
                if (reply.ok()) Finished(*job, ParseSettleFinishReply(*reply));
                Done(job);
              });
}

void SettlementWorker::Finished(const Job& job,
                                absl::StatusOr<SettleFinishReply> finished) {
  if (!finished.ok()) {
    Log(LogLevel::kWarning, "settlement_bad_reply",
        {{"entry_id", job.entry_id},
         {"refund_id", job.request.refund_id},
         {"status", finished.status().ToString()}});
    return;
  }
  absl::MutexLock lock(&mu_);
  switch (finished->answer) {
    case SettleFinishAnswer::kDead:
      ++stats_.dead_letters;
      return;
    case SettleFinishAnswer::kNotFinal:
      // The refund is not SETTLING (re-driven meanwhile, or its SETTLING
      // write was lost): nothing was recorded and the entry stays pending.
      // Its retry begins it again; the provider dedupes on the refund id,
      // and a refund naming its provider is looked up there first.
      ++stats_.not_final;
      Log(LogLevel::kWarning, "settlement_refund_not_settling",
          {{"refund_id", job.request.refund_id},
           {"entry_id", job.entry_id},
           {"state", finished->state}});
      return;
    case SettleFinishAnswer::kAlready:
    case SettleFinishAnswer::kMissing:
      return;
    case SettleFinishAnswer::kDone:
      break;
  }
  if (finished->reversed) ++stats_.reversed;
  if (finished->state == "SUCCEEDED") ++stats_.succeeded;
  if (finished->state == "FAILED") ++stats_.failed;
  if (finished->state == "NEEDS_ATTENTION") {
    ++stats_.attention;
    ++stats_.dead_letters;
  }
  if (job.created_at_ms > 0) {
    absl::Duration lag = clock_.Now() - absl::FromUnixMillis(job.created_at_ms);
    stats_.lag_total += lag;
    if (options_.on_settled) options_.on_settled(lag);
    stats_.lag_max = std::max(stats_.lag_max, lag);
  }
}

}  // namespace makegood::settlement
