#include "services/tools/admin/reconcile.h"

#include <cstdint>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "services/core/clock.h"
#include "services/core/status_macros.h"
#include "services/redis/redis_reply.h"
#include "services/settlement/lua/scripts.h"
#include "services/settlement/reconcile_script.h"
#include "services/settlement/settle_finish_script.h"
#include "services/store/key_schema.h"
#include "services/store/refund_store.h"
#include "services/tools/admin/attention.h"
#include "services/tools/admin/refund_record.h"

namespace makegood::admin {
namespace {

using Json = nlohmann::ordered_json;
using redis::RedisReply;

constexpr char kActor[] = "operator:reconcile";

class Reconciler {
 public:
  Reconciler(BlockingRedis& redis, const store::KeySchema& keys,
             const Options& options, const Providers& providers)
      : redis_(redis), keys_(keys), options_(options), providers_(providers) {}

  absl::Status Run() {
    MAKEGOOD_RETURN_IF_ERROR(
        redis_.Scan(store::KeySchema::AllRefundsPattern(), "hash",
                    [this](std::vector<std::string> keys) {
                      return Batch(FindRefunds(keys, keys_.partitions()));
                    }));
    Json summary = {{"summary",
                     {{"examined", examined_},
                      {"findings", Json(findings_)},
                      {"recorded", recorded_},
                      {"redriven", redriven_},
                      {"left_for_operator", left_},
                      {"fix", options_.fix}}}};
    std::cout << summary.dump() << "\n";
    return absl::OkStatus();
  }

  // Whether any refund still needs an operator.
  bool left() const { return left_ > 0; }

 private:
  absl::Status Batch(const std::vector<FoundRefund>& found) {
    std::vector<Argv> reads;
    for (const FoundRefund& k : found) {
      reads.push_back(Hmget(k.key, RefundFields()));
    }
    std::vector<absl::StatusOr<RedisReply>> replies =
        redis_.Pipeline(std::move(reads));
    // Grouped by provider, so each provider is asked about all at once.
    std::map<std::string, std::vector<Refund>> by_provider;
    for (size_t i = 0; i < found.size(); ++i) {
      if (!replies[i].ok()) return replies[i].status();
      Refund r = Refund::From(found[i].key, found[i].partition, found[i].id,
                              *replies[i]);
      if (r.state != "SETTLING" && r.state != "NEEDS_ATTENTION") continue;
      ++examined_;
      if (r.provider.empty()) {
        // Dead-lettered before any worker took it: no provider was asked,
        // so nothing can have been paid. --fix sends it (re-drive).
        MAKEGOOD_RETURN_IF_ERROR(Resend(r, "never_sent", {}));
        continue;
      }
      if (providers_.Find(r.provider) == nullptr) {
        Report(r, "unchecked", {}, "none", "", /*resolved=*/false);
        continue;
      }
      by_provider[r.provider].push_back(std::move(r));
    }
    for (auto& [name, refunds] : by_provider) {
      std::vector<settlement::PayoutRequest> requests;
      for (const Refund& r : refunds) requests.push_back(r.Request());
      std::vector<settlement::PayoutResult> results =
          LookupAll(*providers_.Find(name), requests);
      for (size_t i = 0; i < refunds.size(); ++i) {
        MAKEGOOD_RETURN_IF_ERROR(Settle(refunds[i], results[i]));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Settle(const Refund& r, const settlement::PayoutResult& found) {
    using settlement::PayoutOutcome;
    const std::string finding =
        found.outcome == PayoutOutcome::kSucceeded  ? "succeeded"
        : found.outcome == PayoutOutcome::kDeclined ? "declined"
        : found.outcome == PayoutOutcome::kNotFound ? "not_found"
                                                    : "unknown";
    if (found.outcome == PayoutOutcome::kNotFound &&
        r.state == "NEEDS_ATTENTION") {
      // The provider never saw it: --fix re-sends it (re-drive; the worker
      // looks it up again before paying).
      return Resend(r, finding, found);
    }
    if (found.outcome != PayoutOutcome::kSucceeded &&
        found.outcome != PayoutOutcome::kDeclined) {
      // Never guessed: the worker resumes a SETTLING refund (and pays only
      // what the provider never saw); an unknown answer stays with
      // operators.
      Report(r, finding, found, "none", "", /*resolved=*/false);
      return absl::OkStatus();
    }
    if (!options_.fix) {
      Report(r, finding, found, "would_record", "", /*resolved=*/false);
      return absl::OkStatus();
    }
    const absl::Time now = RealClock().Now();
    const std::string reason = absl::StrCat(
        "reconciled:", found.reason.empty() ? finding : found.reason);
    if (r.state == "NEEDS_ATTENTION") {
      settlement::ScriptCall reopen = settlement::BuildReconcileRefundCall(
          keys_, settlement::ReconcileRefundRequest{.partition = r.partition,
                                                    .refund_id = r.id,
                                                    .now = now,
                                                    .actor = kActor,
                                                    .reason = reason});
      MAKEGOOD_ASSIGN_OR_RETURN(
          RedisReply reply,
          redis_.Eval(settlement::scripts::kReconcileRefund,
                      std::move(reopen.keys), std::move(reopen.args)));
      MAKEGOOD_ASSIGN_OR_RETURN(settlement::ReconcileRefundReply reopened,
                                settlement::ParseReconcileRefundReply(reply));
      if (reopened.answer != settlement::ReconcileRefundAnswer::kReopened) {
        // SKIPPED: someone else moved it meanwhile (its new state speaks for
        // itself).
        Report(r, finding, found, "none",
               settlement::ReconcileRefundAnswerName(reopened.answer),
               reopened.answer == settlement::ReconcileRefundAnswer::kSkipped);
        return absl::OkStatus();
      }
    }
    // No outbox entry is acknowledged (""): a worker still holding one finds
    // the refund final and acknowledges it then.
    settlement::ScriptCall finish = settlement::BuildSettleFinishCall(
        keys_, settlement::SettleFinishRequest{
                   .partition = r.partition,
                   .refund_id = r.id,
                   .member_id = r.member_id,
                   .order_id = r.order_id,
                   .now = now,
                   .result = found.outcome == PayoutOutcome::kSucceeded
                                 ? settlement::SettleFinishResult::kSucceeded
                                 : settlement::SettleFinishResult::kDeclined,
                   .provider_reference = found.provider_reference,
                   .reason = reason,
                   .entry_id = "",
                   .group = kGroup,
                   .fallback = options_.fallback,
                   .actor = kActor,
                   .deliveries = 0,
                   .entry = ""});
    MAKEGOOD_ASSIGN_OR_RETURN(
        RedisReply reply,
        redis_.Eval(settlement::scripts::kSettleFinish, std::move(finish.keys),
                    std::move(finish.args)));
    MAKEGOOD_ASSIGN_OR_RETURN(settlement::SettleFinishReply finished,
                              settlement::ParseSettleFinishReply(reply));
    const bool done = finished.answer == settlement::SettleFinishAnswer::kDone;
    if (done) ++recorded_;
    // ALREADY: final meanwhile (a worker finished it first).
    Report(r, finding, found, done ? "recorded" : "none",
           finished.state.empty()
               ? settlement::SettleFinishAnswerName(finished.answer)
               : finished.state,
           done || finished.answer == settlement::SettleFinishAnswer::kAlready);
    return absl::OkStatus();
  }

  // A NEEDS_ATTENTION refund no provider has seen: with --fix it is
  // re-driven (redrive_refund.lua, as RefundService.RedriveRefund does), so
  // a worker sends it — after looking it up once more.
  absl::Status Resend(const Refund& r, const std::string& finding,
                      const settlement::PayoutResult& found) {
    if (!options_.fix) {
      Report(r, finding, found, "would_redrive", "", /*resolved=*/false);
      return absl::OkStatus();
    }
    MAKEGOOD_ASSIGN_OR_RETURN(
        store::RefundStore::RedriveOutcome outcome,
        RedriveSync(redis_, keys_, r.partition, r.id, kActor, finding));
    const bool redriven =
        outcome == store::RefundStore::RedriveOutcome::kRedriven;
    if (redriven) ++redriven_;
    Report(r, finding, found, redriven ? "redriven" : "none", "ACCEPTED",
           /*resolved=*/true);
    return absl::OkStatus();
  }

  // Prints one JSON line about `r`; unless `resolved`, the refund counts as
  // left for an operator.
  void Report(const Refund& r, const std::string& finding,
              const settlement::PayoutResult& found, const std::string& action,
              const std::string& new_state, bool resolved) {
    ++findings_[finding];
    if (!resolved) ++left_;
    if (!resolved && options_.fix && r.state == "NEEDS_ATTENTION") {
      // Left for an operator: make sure operators see it (a refund set
      // aside before the attention index existed is not in it).
      (void)redis_.Run({"ZADD", keys_.AttentionKey(r.partition), "NX",
                        absl::StrCat(r.updated_at_ms), r.id});
    }
    Json line = {{"partition", r.partition},
                 {"refund_id", r.id},
                 {"state", r.state.value_or("")},
                 {"provider", r.provider},
                 {"amount_minor", r.amount.value_or(0)},
                 {"currency", r.currency},
                 {"finding", finding},
                 {"provider_reference", found.provider_reference},
                 {"reason", found.reason},
                 {"action", action}};
    if (!new_state.empty()) line["new_state"] = new_state;
    std::cout << line.dump() << "\n";
  }

  BlockingRedis& redis_;
  const store::KeySchema& keys_;
  const Options& options_;
  const Providers& providers_;
  int64_t examined_ = 0, recorded_ = 0, redriven_ = 0, left_ = 0;
  std::map<std::string, int64_t> findings_;
};

}  // namespace

absl::StatusOr<bool> Reconcile(BlockingRedis& redis,
                               const store::KeySchema& keys,
                               const Options& options,
                               const Providers& providers) {
  Reconciler reconciler(redis, keys, options, providers);
  MAKEGOOD_RETURN_IF_ERROR(reconciler.Run());
  return reconciler.left();
}

}  // namespace makegood::admin
