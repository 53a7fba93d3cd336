// File: services/tools/loadgen/settle_workload.h
//
// The settle workload: settlement latency, from a rating's reply to the
// WatchRefund message saying SUCCEEDED.
//
// Thread-safety: Start is thread-safe.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "makegood/v1/rating_service.grpc.pb.h"
#include "makegood/v1/refund_service.grpc.pb.h"
#include "services/tools/loadgen/call_stats.h"
#include "services/tools/loadgen/connections.h"
#include "services/tools/loadgen/dataset.h"
#include "services/tools/loadgen/runner.h"
#include "services/tools/loadgen/workload.h"

namespace makegood::loadgen {

namespace v1 = ::makegood::v1;

// settle: one call is SubmitRating of a never-rated order (MakeSettleRating)
// and, when the answer moves money, WatchRefund on its refund id, opened from
// the rating's callback and read until the server ends the stream (it does at
// a final state). The call is OK when a message said SUCCEEDED; for the
// runner it is answered when that message arrived. Every call's timestamps
// are kept and summarised after the run over the calls the runner measured.
class SettleWorkload : public Workload {
 public:
  SettleWorkload(Connections& connections, absl::Duration timeout,
                 absl::Duration settle_timeout, const Dataset& dataset,
                 std::string key_prefix, v1::Instrument instrument)
      : connections_(connections),
        timeout_(timeout),
        settle_timeout_(settle_timeout),
        dataset_(dataset),
        key_prefix_(std::move(key_prefix)),
        instrument_(instrument) {}

  void Start(uint64_t n, int64_t scheduled_ns, CallSink& sink) override {
    auto* call = new RatingCall;
    call->n = n;
    call->sink = &sink;
    call->sample.scheduled_ns = scheduled_ns;
    call->request = dataset_.MakeSettleRating(static_cast<int64_t>(n));
    call->request.set_idempotency_key(absl::StrCat(key_prefix_, n));
    connections_.Prepare(call->context, timeout_, /*with_metadata=*/true);
    connections_.Rating(n).async()->SubmitRating(
        &call->context, &call->request, &call->response,
        [this, call](grpc::Status status) { OnRated(call, status); });
  }

  // The "settle" JSON object: counts and latencies of the calls scheduled in
  // [from_ns, until_ns).
  std::string SummaryJson(int64_t from_ns, int64_t until_ns) {
    absl::MutexLock lock(&mu_);
    std::array<int64_t, kOutcomes> outcomes{};
    std::map<std::string, int64_t> first_states, final_states;
    std::vector<int64_t> submit, first_message, settling, succeeded, e2e;
    int64_t ratings = 0, refunds = 0;
    for (const Sample& s : samples_) {
      if (s.scheduled_ns < from_ns || s.scheduled_ns >= until_ns) continue;
      ++ratings;
      outcomes[static_cast<size_t>(s.outcome)]++;
      if (s.outcome == Outcome::kRatingFailed) continue;
      submit.push_back(s.reply_ns - s.scheduled_ns);
      if (s.first_ns == 0 && s.outcome != Outcome::kWatchFailed &&
          s.outcome != Outcome::kWatchEndedEarly) {
        continue;  // Never watched: no refund, replayed, wrong instrument.
      }
      ++refunds;
      if (s.first_ns > 0) {
        first_states[StateName(s.first_state)]++;
        first_message.push_back(s.first_ns - s.reply_ns);
      }
      if (s.final_state != v1::REFUND_STATE_UNSPECIFIED) {
        final_states[StateName(s.final_state)]++;
      }
      if (s.settling_ns > 0) settling.push_back(s.settling_ns - s.reply_ns);
      if (s.succeeded_ns > 0) {
        succeeded.push_back(s.succeeded_ns - s.reply_ns);
        e2e.push_back(s.succeeded_ns - s.scheduled_ns);
      }
    }
    std::vector<std::string> outcome_parts;
    for (size_t i = 0; i < kOutcomes; ++i) {
      if (outcomes[i] == 0) continue;
      outcome_parts.push_back(absl::StrCat(
          "\"", OutcomeName(static_cast<Outcome>(i)), "\":", outcomes[i]));
    }
    auto map_json = [](const std::map<std::string, int64_t>& counts) {
      std::vector<std::string> parts;
      for (const auto& [name, count] : counts) {
        parts.push_back(absl::StrCat("\"", name, "\":", count));
      }
      return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
    };
    int64_t settled = static_cast<int64_t>(succeeded.size());
    return absl::StrCat(
        "\"settle\":{\"instrument\":\"", InstrumentFlag(instrument_),
        "\",\"orders\":", dataset_.orders(), ",\"ratings\":", ratings,
        ",\"refunds\":", refunds, ",\"succeeded\":", settled, ",\"outcomes\":{",
        absl::StrJoin(outcome_parts, ","),
        "},\"first_state\":", map_json(first_states),
        ",\"final_state\":", map_json(final_states),
        ",\"submit_us\":", LatencyJson(submit),
        ",\"reply_to_first_message_us\":", LatencyJson(first_message),
        ",\"reply_to_settling_us\":", LatencyJson(settling),
        ",\"reply_to_succeeded_us\":", LatencyJson(succeeded),
        ",\"e2e_us\":", LatencyJson(e2e), "}");
  }

  // What went wrong first (for stderr): the first failed or moneyless
  // rating, and the first few watches that did not see SUCCEEDED.
  std::string FirstProblem() {
    absl::MutexLock lock(&mu_);
    std::string out = first_problem_;
    for (const std::string& problem : watch_problems_) {
      absl::StrAppend(&out, out.empty() ? "" : "; ", "WatchRefund ", problem);
    }
    return out;
  }

  static const char* InstrumentFlag(v1::Instrument instrument) {
    return instrument == v1::INSTRUMENT_WALLET ? "wallet" : "card";
  }

 private:
  enum class Outcome {
    kSucceeded,          // SUCCEEDED seen on the watch
    kRatingFailed,       // SubmitRating not OK
    kReplayed,           // answered as a replay: the key was not fresh
    kNoRefund,           // OK, but no money moves (no refund id)
    kWrongInstrument,    // a refund, but not by --instrument (not watched)
    kFinalNotSucceeded,  // the refund ended FAILED, NEEDS_ATTENTION, ...
    kWatchFailed,        // the stream failed before a final state
    kWatchEndedEarly,    // the stream ended OK without a final state
  };
  static constexpr size_t kOutcomes = 8;
  static const char* OutcomeName(Outcome outcome) {
    switch (outcome) {
      case Outcome::kSucceeded:
        return "succeeded";
      case Outcome::kRatingFailed:
        return "rating_failed";
      case Outcome::kReplayed:
        return "replayed";
      case Outcome::kNoRefund:
        return "no_refund";
      case Outcome::kWrongInstrument:
        return "wrong_instrument";
      case Outcome::kFinalNotSucceeded:
        return "final_not_succeeded";
      case Outcome::kWatchFailed:
        return "watch_failed";
      case Outcome::kWatchEndedEarly:
        return "watch_ended_early";
    }
    return "unknown";
  }
  static std::string StateName(v1::RefundState state) {
    std::string name = v1::RefundState_Name(state);
    constexpr absl::string_view kPrefix = "REFUND_STATE_";
    return absl::StartsWith(name, kPrefix) ? name.substr(kPrefix.size()) : name;
  }
  static bool IsFinal(v1::RefundState state) {
    return state == v1::REFUND_STATE_SUCCEEDED ||
           state == v1::REFUND_STATE_FAILED ||
           state == v1::REFUND_STATE_NEEDS_ATTENTION ||
           state == v1::REFUND_STATE_REVERSED;
  }

  // Timestamps (NowNs) of one call; 0 = did not happen.
  struct Sample {
    int64_t scheduled_ns = 0;
    int64_t reply_ns = 0;
    int64_t first_ns = 0;      // first WatchRefund message
    int64_t settling_ns = 0;   // first message saying SETTLING
    int64_t succeeded_ns = 0;  // first message saying SUCCEEDED
    Outcome outcome = Outcome::kRatingFailed;
    grpc::StatusCode code = grpc::OK;  // of the call that failed
    v1::RefundState first_state = v1::REFUND_STATE_UNSPECIFIED;
    v1::RefundState final_state = v1::REFUND_STATE_UNSPECIFIED;
  };

  struct RatingCall {
    uint64_t n = 0;
    CallSink* sink = nullptr;
    Sample sample;
    grpc::ClientContext context;
    v1::SubmitRatingRequest request;
    v1::SubmitRatingResponse response;
  };

  // The WatchRefund stream of one call; deletes itself when it ends.
  class Watch : public grpc::ClientReadReactor<v1::WatchRefundResponse> {
   public:
    Watch(SettleWorkload& workload, CallSink& sink, Sample sample)
        : workload_(workload), sink_(sink), sample_(sample) {}

    void Begin(uint64_t n, const std::string& refund_id) {
      request_.set_refund_id(refund_id);
      workload_.connections_.Prepare(context_, workload_.settle_timeout_,
                                     /*with_metadata=*/true);
      workload_.connections_.Refund(n).async()->WatchRefund(&context_,
                                                            &request_, this);
      StartRead(&response_);
      StartCall();
    }

    void OnReadDone(bool ok) override {
      if (!ok) return;  // The stream ended: OnDone follows.
      int64_t now = NowNs();
      v1::RefundState state = response_.refund().state();
      ++messages_;
      last_state_ = state;
      if (sample_.first_ns == 0) {
        sample_.first_ns = now;
        sample_.first_state = state;
      }
      if (state == v1::REFUND_STATE_SETTLING && sample_.settling_ns == 0) {
        sample_.settling_ns = now;
      }
      if (state == v1::REFUND_STATE_SUCCEEDED && sample_.succeeded_ns == 0) {
        sample_.succeeded_ns = now;
      }
      if (IsFinal(state) &&
          sample_.final_state == v1::REFUND_STATE_UNSPECIFIED) {
        sample_.final_state = state;
      }
      StartRead(&response_);  // Until the server ends the stream.
    }

    void OnDone(const grpc::Status& status) override {
      if (sample_.succeeded_ns > 0) {
        sample_.outcome = Outcome::kSucceeded;
      } else if (sample_.final_state != v1::REFUND_STATE_UNSPECIFIED) {
        sample_.outcome = Outcome::kFinalNotSucceeded;
      } else if (!status.ok()) {
        sample_.outcome = Outcome::kWatchFailed;
        sample_.code = status.error_code();
      } else {
        sample_.outcome = Outcome::kWatchEndedEarly;
      }
      if (sample_.outcome != Outcome::kSucceeded) {
        workload_.NoteWatchProblem(absl::StrCat(
            request_.refund_id(), ": ",
            StatusCodeName(CodeIndex(status.error_code())), " after ",
            messages_, " message(s), last state ", StateName(last_state_)));
      }
      workload_.Record(sample_, sink_);
      delete this;
    }

   private:
    SettleWorkload& workload_;
    CallSink& sink_;
    Sample sample_;
    grpc::ClientContext context_;
    v1::WatchRefundRequest request_;
    v1::WatchRefundResponse response_;
    int messages_ = 0;
    v1::RefundState last_state_ = v1::REFUND_STATE_UNSPECIFIED;
  };

  // SubmitRating's callback: watches the refund at once, if there is one.
  void OnRated(RatingCall* call, const grpc::Status& status) {
    Sample sample = call->sample;
    sample.reply_ns = NowNs();
    CallSink& sink = *call->sink;
    const v1::SubmitRatingResponse& response = call->response;
    const v1::Refund& refund = response.decision().refund();
    if (!status.ok()) {
      sample.outcome = Outcome::kRatingFailed;
      sample.code = status.error_code();
      NoteProblem(absl::StrCat(
          "SubmitRating: ", StatusCodeName(CodeIndex(status.error_code())),
          ": ", status.error_message()));
    } else if (response.replayed()) {
      sample.outcome = Outcome::kReplayed;
      NoteProblem("SubmitRating answered replayed: true");
    } else if (refund.refund_id().empty()) {
      sample.outcome = Outcome::kNoRefund;
      NoteProblem(absl::StrCat("no refund: outcome ",
                               v1::Outcome_Name(response.decision().outcome()),
                               ": ", response.decision().explanation()));
    } else if (refund.instrument() != instrument_) {
      sample.outcome = Outcome::kWrongInstrument;
      NoteProblem(absl::StrCat("refund by ",
                               v1::Instrument_Name(refund.instrument()),
                               ", not ", v1::Instrument_Name(instrument_)));
    } else {
      auto* watch = new Watch(*this, sink, sample);
      uint64_t n = call->n;
      std::string refund_id = refund.refund_id();
      delete call;
      watch->Begin(n, refund_id);
      return;
    }
    delete call;
    Record(sample, sink);
  }

  void NoteProblem(std::string problem) {
    absl::MutexLock lock(&mu_);
    if (first_problem_.empty()) first_problem_ = std::move(problem);
  }

  // The first few refunds whose watch did not see SUCCEEDED, for stderr.
  void NoteWatchProblem(std::string problem) {
    absl::MutexLock lock(&mu_);
    if (watch_problems_.size() < 3)
      watch_problems_.push_back(std::move(problem));
  }

  // Keeps the sample and tells the runner the call ended.
  void Record(const Sample& sample, CallSink& sink) {
    {
      absl::MutexLock lock(&mu_);
      samples_.push_back(sample);
    }
    CallResult result;
    switch (sample.outcome) {
      case Outcome::kSucceeded:
        result.done_ns = sample.succeeded_ns;
        break;
      case Outcome::kRatingFailed:
      case Outcome::kWatchFailed:
        result.code = sample.code;
        break;
      default:
        result.unexpected = true;
        break;
    }
    sink.OnDone(sample.scheduled_ns, result);
  }

  Connections& connections_;
  const absl::Duration timeout_;
  const absl::Duration settle_timeout_;
  const Dataset& dataset_;
  const std::string key_prefix_;
  const v1::Instrument instrument_;
  absl::Mutex mu_;
  std::vector<Sample> samples_ ABSL_GUARDED_BY(mu_);
  std::string first_problem_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> watch_problems_ ABSL_GUARDED_BY(mu_);
};

}  // namespace makegood::loadgen
