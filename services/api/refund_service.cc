#include "services/api/refund_service.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "services/api/validation.h"
#include "services/auth/admit.h"
#include "services/core/text.h"
#include "services/errors/errors.h"
#include "services/errors/grpc_status.h"
#include "services/rating/rating_ids.h"
#include "services/rpc/unary_handler.h"

namespace makegood::api {
namespace {

// Page tokens: base64url("v1|<selector>|<score>|<refund id>"), where the
// selector is "m:<member id>" or "o:<order id>", so a token only works for
// the listing it came from.
std::string EncodeToken(const std::string& selector, const std::string& score,
                        const std::string& id) {
  return absl::WebSafeBase64Escape(
      absl::StrCat("v1|", selector, "|", score, "|", id));
}

bool DecodeToken(const std::string& token, const std::string& selector,
                 std::string* score, std::string* id) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return false;
  std::vector<std::string> parts = absl::StrSplit(raw, '|');
  if (parts.size() != 4 || parts[0] != "v1" || parts[1] != selector) {
    return false;
  }
  *score = parts[2];
  *id = parts[3];
  return !score->empty() && !id->empty();
}

makegood::v1::RefundEvent EventToProto(const store::RefundEvent& e) {
  makegood::v1::RefundEvent out;
  out.set_seq(e.seq);
  out.set_from_state(e.from);
  out.set_to_state(e.to);
  out.set_actor(e.actor);
  out.set_reason(e.reason);
  out.mutable_at()->set_seconds(e.at_ms / 1000);
  out.mutable_at()->set_nanos(static_cast<int32_t>(e.at_ms % 1000) * 1000000);
  return out;
}

void AddBadRefundId(Violations& violations) {
  violations.Add("refund_id",
                 "is not a refund id of this deployment "
                 "(rf_<partition>_<24 hex digits>)");
}

absl::Status BadRefundId() {
  Violations violations;
  AddBadRefundId(violations);
  return violations.ToStatus();
}

// One WatchRefund call. Subscribes to the refund feed first, then reads the
// refund and the id of its latest event atomically and sends it; each feed
// notice (or heartbeat) reads the events after the last one sent and sends
// one message per transition, in order, until a final state. At most one
// read and one write are in flight; actions are decided under the lock and
// carried out after it (gRPC may call back from inside StartWrite/Finish).
class RefundWatch final
    : public grpc::ServerWriteReactor<makegood::v1::WatchRefundResponse>,
      public std::enable_shared_from_this<RefundWatch> {
 public:
  RefundWatch(store::RefundStore& refunds, store::RefundFeed& feed,
              int partition, std::string refund_id)
      : refunds_(refunds),
        feed_(feed),
        partition_(partition),
        refund_id_(std::move(refund_id)) {}

  void Begin() {
    {
      absl::MutexLock lock(&mu_);
      self_ = shared_from_this();
    }
    std::weak_ptr<RefundWatch> weak = weak_from_this();
    subscription_ = feed_.Subscribe(refund_id_, [weak] {
      if (auto watch = weak.lock()) watch->LookAgain();
    });
    refunds_.GetForWatch(partition_, refund_id_,
                         [watch = shared_from_this()](
                             absl::StatusOr<store::WatchedRefund> initial) {
                           watch->OnInitial(std::move(initial));
                         });
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) closing_ = true;  // The client went away.
    }
    Pump(ok ? grpc::Status::OK
            : grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      closing_ = true;
    }
    Pump(grpc::Status(grpc::StatusCode::CANCELLED, "the watch was cancelled"));
  }

  void OnDone() override {
    feed_.Unsubscribe(refund_id_, subscription_);  // 0: never subscribed.
    std::shared_ptr<RefundWatch> self;
    {
      absl::MutexLock lock(&mu_);
      self = std::move(self_);
    }
    // `self` going out of scope may delete this.
  }

  // Refuses the call before it starts.
  void FinishEarly(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      self_ = shared_from_this();
      finished_ = true;
    }
    Finish(std::move(status));
  }

 private:
  void OnInitial(absl::StatusOr<store::WatchedRefund> initial) {
    bool look_again = false;
    {
      absl::MutexLock lock(&mu_);
      if (!initial.ok()) {
        closing_ = true;
        close_status_ = ToGrpcStatus(initial.status());
      } else {
        refund_ = std::move(initial->refund);
        last_event_id_ = std::move(initial->last_event_id);
        Queue();
        started_ = true;
        look_again = missed_;
      }
    }
    Pump(grpc::Status::OK);
    if (look_again) LookAgain();
  }

  void LookAgain() {
    std::string after;
    {
      absl::MutexLock lock(&mu_);
      if (!started_) {
        missed_ = true;
        return;
      }
      if (final_ || closing_) return;
      if (reading_) {
        again_ = true;
        return;
      }
      reading_ = true;
      after = last_event_id_;
    }
    refunds_.GetEvents(
        partition_, refund_id_, after, 100,
        [watch = shared_from_this()](
            absl::StatusOr<std::vector<store::RefundEvent>> events) {
          watch->OnEvents(std::move(events));
        });
  }

  void OnEvents(absl::StatusOr<std::vector<store::RefundEvent>> events) {
    bool again;
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      again = again_;
      again_ = false;
      if (events.ok()) {
        for (const auto& event : *events) {
          if (final_) break;
          store::ApplyRefundEvent(event, refund_);
          last_event_id_ = event.id;
          Queue();
        }
        if (events->size() == 100) again = true;  // More to read.
      }
      // A failed read is retried on the next notice or heartbeat.
    }
    Pump(grpc::Status::OK);
    if (again) LookAgain();
  }

  // Queues the refund as it now stands.
  void Queue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    makegood::v1::WatchRefundResponse message;
    *message.mutable_refund() = refund_;
    queue_.push_back(std::move(message));
    if (store::IsFinalRefundState(refund_.state())) final_ = true;
  }

  // Starts the next write, or finishes once everything is written.
  void Pump(grpc::Status status_if_closing) {
    enum { kNothing, kWrite, kFinish } action = kNothing;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || writing_) return;
      if (closing_) {
        action = kFinish;
        status = close_status_.ok() ? status_if_closing : close_status_;
      } else if (!queue_.empty()) {
        action = kWrite;
        writing_ = true;
        current_ = std::move(queue_.front());
        queue_.pop_front();
      } else if (final_) {
        action = kFinish;
      }
      if (action == kFinish) finished_ = true;
    }
    if (action == kWrite) StartWrite(&current_);
    if (action == kFinish) Finish(status);
  }

  store::RefundStore& refunds_;
  store::RefundFeed& feed_;
  const int partition_;
  const std::string refund_id_;
  uint64_t subscription_ = 0;

  absl::Mutex mu_;
  // Keeps the reactor alive until OnDone.
  std::shared_ptr<RefundWatch> self_ ABSL_GUARDED_BY(mu_);
  makegood::v1::Refund refund_ ABSL_GUARDED_BY(mu_);
  std::string last_event_id_ ABSL_GUARDED_BY(mu_);
  std::deque<makegood::v1::WatchRefundResponse> queue_ ABSL_GUARDED_BY(mu_);
  makegood::v1::WatchRefundResponse current_;  // Being written.
  grpc::Status close_status_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool missed_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool again_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool final_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// The fields every operator action on a refund carries (MarkRefundAbusive,
// RedriveRefund): the refund id (its partition, when valid), who acts, why.
template <typename Request>
std::optional<int> ValidateOperatorAction(const Request& request,
                                          int partitions,
                                          Violations& violations) {
  std::optional<int> partition =
      rating::RefundIdPartition(request.refund_id(), partitions);
  if (!partition.has_value()) {
    violations.Add("refund_id",
                   "is not a refund id of this deployment "
                   "(rf_<partition>_<24 hex digits>)");
  }
  ValidateId("operator_id", request.operator_id(), violations);
  if (!IsLowerToken(request.reason(), 64)) {
    violations.Add("reason", "must be 1-64 characters of [a-z0-9_-]");
  }
  return partition;
}

}  // namespace

grpc::ServerWriteReactor<makegood::v1::WatchRefundResponse>*
RefundService::WatchRefund(grpc::CallbackServerContext* context,
                           const makegood::v1::WatchRefundRequest* request) {
  std::optional<int> partition =
      rating::RefundIdPartition(request->refund_id(), keys_.partitions());
  auto watch = std::make_shared<RefundWatch>(
      refunds_, feed_, partition.value_or(0), request->refund_id());
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/makegood.v1.RefundService/WatchRefund");
  if (!who.ok()) {
    watch->FinishEarly(ToGrpcStatus(who.status()));
  } else if (!partition.has_value()) {
    watch->FinishEarly(ToGrpcStatus(BadRefundId()));
  } else {
    watch->Begin();
  }
  // The reactor keeps itself alive until OnDone.
  RefundWatch* raw = watch.get();
  return raw;
}

void RefundService::ReadRefundInto(int partition, std::string refund_id,
                                   makegood::v1::Refund* out,
                                   rpc::Finish finish) {
  refunds_.GetRefund(
      partition, std::move(refund_id),
      [out, finish](absl::StatusOr<makegood::v1::Refund> refund) {
        if (refund.ok()) *out = *std::move(refund);
        finish(refund.status());
      });
}

grpc::ServerUnaryReactor* RefundService::MarkRefundAbusive(
    grpc::CallbackServerContext* context,
    const makegood::v1::MarkRefundAbusiveRequest* request,
    makegood::v1::MarkRefundAbusiveResponse* response) {
  std::optional<int> partition;
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.RefundService/MarkRefundAbusive",
      [&](Violations& violations) {
        partition =
            ValidateOperatorAction(*request, keys_.partitions(), violations);
      },
      [&](const auth::Principal&, rpc::Finish finish) {
        refunds_.MarkAbusive(
            *partition, request->refund_id(),
            absl::StrCat("operator:", request->operator_id()),
            request->reason(), request->reverse_refund(), clock_.Now(),
            [this, response, finish, partition = *partition,
             refund_id = request->refund_id()](
                absl::StatusOr<store::RefundStore::AbuseMark> mark) {
              if (!mark.ok()) {
                finish(mark.status());
                return;
              }
              response->set_feedback_reversed(mark->feedback_reversed);
              response->set_newly_marked(mark->newly_marked);
              response->set_reversal_pending(mark->reversal_pending);
              ReadRefundInto(partition, refund_id, response->mutable_refund(),
                             finish);
            });
      });
}

grpc::ServerUnaryReactor* RefundService::ListRefundsNeedingAttention(
    grpc::CallbackServerContext* context,
    const makegood::v1::ListRefundsNeedingAttentionRequest* request,
    makegood::v1::ListRefundsNeedingAttentionResponse* response) {
  int page_size = 0;
  std::string since_ms = "-inf", id;
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.RefundService/ListRefundsNeedingAttention",
      [&](Violations& violations) {
        page_size =
            request->page_size() == 0 ? kDefaultPageSize : request->page_size();
        if (page_size < 1 || page_size > kMaxPageSize) {
          violations.Add("page_size", absl::StrCat("must be 0-", kMaxPageSize));
        }
        int64_t cursor_ms = 0;
        if (!request->page_token().empty() &&
            (!DecodeToken(request->page_token(), "attention", &since_ms, &id) ||
             !absl::SimpleAtoi(since_ms, &cursor_ms))) {
          violations.Add(
              "page_token",
              "is not a token returned by ListRefundsNeedingAttention");
        }
      },
      [&](const auth::Principal&, rpc::Finish finish) {
        refunds_.ListNeedingAttention(
            since_ms, id, page_size,
            [this, response,
             finish](absl::StatusOr<store::AttentionPage> page) {
              if (!page.ok()) {
                finish(page.status());
                return;
              }
              const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
              for (store::AttentionRefund& a : page->refunds) {
                makegood::v1::RefundNeedingAttention* out =
                    response->add_refunds();
                *out->mutable_refund() = std::move(a.refund);
                out->mutable_attention_since()->set_seconds(a.since_ms / 1000);
                out->mutable_attention_since()->set_nanos(
                    static_cast<int32_t>(a.since_ms % 1000) * 1000000);
                const int64_t age_ms =
                    std::max<int64_t>(0, now_ms - a.since_ms);
                out->mutable_age()->set_seconds(age_ms / 1000);
                out->mutable_age()->set_nanos(
                    static_cast<int32_t>(age_ms % 1000) * 1000000);
                out->set_provider(a.provider);
                out->set_attempts(a.attempts);
              }
              if (!page->next_id.empty()) {
                response->set_next_page_token(
                    EncodeToken("attention", page->next_ms, page->next_id));
              }
              response->set_total_count(page->total);
              finish(absl::OkStatus());
            });
      });
}

grpc::ServerUnaryReactor* RefundService::RedriveRefund(
    grpc::CallbackServerContext* context,
    const makegood::v1::RedriveRefundRequest* request,
    makegood::v1::RedriveRefundResponse* response) {
  std::optional<int> partition;
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.RefundService/RedriveRefund",
      [&](Violations& violations) {
        partition =
            ValidateOperatorAction(*request, keys_.partitions(), violations);
      },
      [&](const auth::Principal&, rpc::Finish finish) {
        refunds_.Redrive(
            *partition, request->refund_id(),
            absl::StrCat("operator:", request->operator_id()),
            request->reason(), clock_.Now(),
            [this, response, finish, partition = *partition,
             refund_id = request->refund_id()](
                absl::StatusOr<store::RefundStore::RedriveOutcome> outcome) {
              if (!outcome.ok()) {
                absl::Status status = outcome.status();
                if (absl::IsFailedPrecondition(status)) {
                  status = ErrorWithReason(
                      status.code(), "REFUND_NOT_REDRIVABLE", status.message());
                }
                finish(status);
                return;
              }
              response->set_redriven(
                  *outcome == store::RefundStore::RedriveOutcome::kRedriven);
              ReadRefundInto(partition, refund_id, response->mutable_refund(),
                             finish);
            });
      });
}

grpc::ServerUnaryReactor* RefundService::GetRefund(
    grpc::CallbackServerContext* context,
    const makegood::v1::GetRefundRequest* request,
    makegood::v1::GetRefundResponse* response) {
  std::optional<int> partition;
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.RefundService/GetRefund",
      [&](Violations& violations) {
        partition =
            rating::RefundIdPartition(request->refund_id(), keys_.partitions());
        if (!partition.has_value()) AddBadRefundId(violations);
      },
      [&](const auth::Principal&, rpc::Finish finish) {
        refunds_.GetRefund(
            *partition, request->refund_id(),
            [response, finish, refunds = &refunds_, partition = *partition,
             include_events = request->include_events()](
                absl::StatusOr<makegood::v1::Refund> refund) {
              if (!refund.ok() || !include_events) {
                if (refund.ok())
                  *response->mutable_refund() = *std::move(refund);
                finish(refund.status());
                return;
              }
              *response->mutable_refund() = *std::move(refund);
              refunds->GetEvents(
                  partition, response->refund().refund_id(), "0-0", 10000,
                  [response, finish](
                      absl::StatusOr<std::vector<store::RefundEvent>> events) {
                    if (events.ok()) {
                      for (const auto& e : *events) {
                        *response->add_events() = EventToProto(e);
                      }
                    }
                    finish(events.status());
                  });
            });
      });
}

grpc::ServerUnaryReactor* RefundService::ListRefunds(
    grpc::CallbackServerContext* context,
    const makegood::v1::ListRefundsRequest* request,
    makegood::v1::ListRefundsResponse* response) {
  std::string selector;
  int page_size = 0;
  std::string score = "+inf", id;
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.RefundService/ListRefunds",
      [&](Violations& violations) {
        switch (request->selector_case()) {
          case makegood::v1::ListRefundsRequest::kMemberId:
            ValidateId("member_id", request->member_id(), violations);
            selector = absl::StrCat("m:", request->member_id());
            break;
          case makegood::v1::ListRefundsRequest::kOrderId:
            ValidateId("order_id", request->order_id(), violations);
            selector = absl::StrCat("o:", request->order_id());
            break;
          default:
            violations.Add("selector", "set member_id or order_id");
        }
        page_size =
            request->page_size() == 0 ? kDefaultPageSize : request->page_size();
        if (page_size < 1 || page_size > kMaxPageSize) {
          violations.Add("page_size", absl::StrCat("must be 0-", kMaxPageSize));
        }
        if (!request->page_token().empty() && !selector.empty() &&
            !DecodeToken(request->page_token(), selector, &score, &id)) {
          violations.Add(
              "page_token",
              "is not a token returned for this member_id or order_id");
        }
      },
      [&](const auth::Principal&, rpc::Finish finish) {
        auto done = [response, finish,
                     selector](absl::StatusOr<store::RefundPage> page) {
          if (!page.ok()) {
            finish(page.status());
            return;
          }
          for (auto& refund : page->refunds) {
            *response->add_refunds() = std::move(refund);
          }
          if (!page->next_id.empty()) {
            response->set_next_page_token(
                EncodeToken(selector, page->next_score, page->next_id));
          }
          finish(absl::OkStatus());
        };
        if (request->selector_case() ==
            makegood::v1::ListRefundsRequest::kMemberId) {
          refunds_.ListByMember(request->member_id(), score, id, page_size,
                                std::move(done));
        } else {
          refunds_.ListByOrder(request->order_id(), score, id, page_size,
                               std::move(done));
        }
      });
}

}  // namespace makegood::api
