#include "services/store/refund_store.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/store/attention_page_script.h"
#include "services/store/lua/scripts.h"
#include "services/store/mark_abusive_script.h"
#include "services/store/read_hashes.h"
#include "services/store/read_refund_script.h"
#include "services/store/redrive_refund_script.h"
#include "services/store/refund_page_script.h"

namespace makegood::store {

namespace {

// Parses a stored refund and overlays the fields settlement keeps current.
absl::StatusOr<makegood::v1::Refund> ParseRefund(const StoredRefund& stored) {
  makegood::v1::Refund refund;
  if (!refund.ParseFromString(stored.pb)) {
    return absl::DataLossError("stored refund does not parse");
  }
  if (!stored.state.empty()) {
    refund.set_state(RefundStateFromName(stored.state));
  }
  if (!stored.state_reason.empty()) {
    refund.set_state_reason(stored.state_reason);
  }
  int64_t updated_ms = 0;
  if (absl::SimpleAtoi(stored.updated_at_ms, &updated_ms) && updated_ms > 0) {
    refund.mutable_updated_at()->set_seconds(updated_ms / 1000);
    refund.mutable_updated_at()->set_nanos(
        static_cast<int32_t>(updated_ms % 1000) * 1000000);
  }
  if (!stored.instrument.empty()) {
    refund.set_instrument(InstrumentFromName(stored.instrument));
  }
  return refund;
}

// The refund hash fields a listing reads, in this order: StoredRefund's,
// then (for the attention list) the settlement's.
enum ListedField {
  kPb,
  kState,
  kStateReason,
  kUpdatedAtMs,
  kInstrument,
  kProvider,
  kAttempts,
};
std::vector<std::string> ListedRefundFields(bool settlement) {
  std::vector<std::string> fields = {"pb", "state", "state_reason",
                                     "updated_at_ms", "instrument"};
  if (settlement) {
    fields.push_back("provider");
    fields.push_back("attempts");
  }
  return fields;
}

// A row read with ListedRefundFields (ParseReadHashesReply checked its size).
StoredRefund StoredRefundOf(std::vector<std::string>& row) {
  return StoredRefund{.pb = std::move(row[kPb]),
                      .state = std::move(row[kState]),
                      .state_reason = std::move(row[kStateReason]),
                      .updated_at_ms = std::move(row[kUpdatedAtMs]),
                      .instrument = std::move(row[kInstrument])};
}

}  // namespace

makegood::v1::RefundState RefundStateFromName(absl::string_view name) {
  makegood::v1::RefundState state;
  if (makegood::v1::RefundState_Parse(absl::StrCat("REFUND_STATE_", name),
                                      &state)) {
    return state;
  }
  return makegood::v1::REFUND_STATE_UNSPECIFIED;
}

makegood::v1::Instrument InstrumentFromName(absl::string_view name) {
  if (name == "original_payment") {
    return makegood::v1::INSTRUMENT_ORIGINAL_PAYMENT;
  }
  if (name == "wallet") return makegood::v1::INSTRUMENT_WALLET;
  if (name == "coupon") return makegood::v1::INSTRUMENT_COUPON;
  return makegood::v1::INSTRUMENT_UNSPECIFIED;
}

absl::string_view InstrumentName(makegood::v1::Instrument instrument) {
  switch (instrument) {
    case makegood::v1::INSTRUMENT_ORIGINAL_PAYMENT:
      return "original_payment";
    case makegood::v1::INSTRUMENT_WALLET:
      return "wallet";
    case makegood::v1::INSTRUMENT_COUPON:
      return "coupon";
    default:
      return "";
  }
}

bool IsFinalRefundState(makegood::v1::RefundState state) {
  return state == makegood::v1::REFUND_STATE_SUCCEEDED ||
         state == makegood::v1::REFUND_STATE_FAILED ||
         state == makegood::v1::REFUND_STATE_NEEDS_ATTENTION ||
         state == makegood::v1::REFUND_STATE_REVERSED;
}

void ApplyRefundEvent(const RefundEvent& event, makegood::v1::Refund& refund) {
  refund.set_state(event.to);
  refund.set_state_reason(event.reason);
  refund.mutable_updated_at()->set_seconds(event.at_ms / 1000);
  refund.mutable_updated_at()->set_nanos(
      static_cast<int32_t>(event.at_ms % 1000) * 1000000);
  if (!event.instrument.empty()) {
    refund.set_instrument(InstrumentFromName(event.instrument));
  }
}

void RefundStore::GetRefund(
    int partition, std::string refund_id,
    absl::AnyInvocable<void(absl::StatusOr<makegood::v1::Refund>)> done) {
  GetForWatch(
      partition, std::move(refund_id),
      [done = std::move(done)](absl::StatusOr<WatchedRefund> watched) mutable {
        if (!watched.ok()) {
          done(watched.status());
          return;
        }
        done(std::move(watched->refund));
      });
}

void RefundStore::GetForWatch(
    int partition, std::string refund_id,
    absl::AnyInvocable<void(absl::StatusOr<WatchedRefund>)> done) {
  ScriptCall call = BuildReadRefundCall(
      keys_, ReadRefundRequest{.partition = partition, .refund_id = refund_id});
  redis_.Eval(
      scripts::kReadRefund, std::move(call.keys), std::move(call.args),
      [refund_id, done = std::move(done)](
          absl::StatusOr<redis::RedisReply> reply) mutable {
        if (!reply.ok()) {
          done(reply.status());
          return;
        }
        absl::StatusOr<ReadRefundReply> read = ParseReadRefundReply(*reply);
        if (!read.ok()) {
          done(read.status());
          return;
        }
        if (!read->found) {
          done(absl::NotFoundError(
              absl::StrCat("refund ", refund_id, " does not exist")));
          return;
        }
        absl::StatusOr<makegood::v1::Refund> refund = ParseRefund(read->refund);
        if (!refund.ok()) {
          done(refund.status());
          return;
        }
        done(WatchedRefund{*std::move(refund), std::move(read->last_event_id)});
      });
}

void RefundStore::GetEvents(
    int partition, std::string refund_id, std::string after, int limit,
    absl::AnyInvocable<void(absl::StatusOr<std::vector<RefundEvent>>)> done) {
  redis_.Command({"XRANGE", keys_.RefundEventsKey(partition, refund_id),
                  absl::StrCat("(", after), "+", "COUNT", absl::StrCat(limit)},
                 [done = std::move(done)](
                     absl::StatusOr<redis::RedisReply> reply) mutable {
                   if (!reply.ok()) {
                     done(reply.status());
                     return;
                   }
                   std::vector<RefundEvent> events;
                   for (const redis::RedisReply& entry : reply->elements) {
                     if (entry.elements.size() < 2) continue;
                     RefundEvent event;
                     event.id = entry.elements[0].str;
                     const auto& kv = entry.elements[1].elements;
                     for (size_t i = 0; i + 1 < kv.size(); i += 2) {
                       const std::string& k = kv[i].str;
                       const std::string& v = kv[i + 1].str;
                       if (k == "seq") {
                         (void)absl::SimpleAtoi(v, &event.seq);
                       } else if (k == "from") {
                         event.from = RefundStateFromName(v);
                       } else if (k == "to") {
                         event.to = RefundStateFromName(v);
                       } else if (k == "actor") {
                         event.actor = v;
                       } else if (k == "reason") {
                         event.reason = v;
                       } else if (k == "at_ms") {
                         (void)absl::SimpleAtoi(v, &event.at_ms);
                       } else if (k == "instrument") {
                         event.instrument = v;
                       }
                     }
                     events.push_back(std::move(event));
                   }
                   done(std::move(events));
                 });
}

void RefundStore::MarkAbusive(
    int partition, std::string refund_id, std::string actor, std::string reason,
    bool reverse_refund, absl::Time now,
    absl::AnyInvocable<void(absl::StatusOr<AbuseMark>)> done) {
  redis_.Command(
      {"HMGET", keys_.RefundKey(partition, refund_id), "rating_id",
       "member_id"},
      [this, partition, refund_id, actor = std::move(actor),
       reason = std::move(reason), reverse_refund, now,
       done = std::move(done)](absl::StatusOr<redis::RedisReply> ids) mutable {
        if (!ids.ok()) {
          done(ids.status());
          return;
        }
        if (ids->elements.size() < 2 || !ids->elements[1].is_text()) {
          done(absl::NotFoundError(
              absl::StrCat("refund ", refund_id, " does not exist")));
          return;
        }
        ScriptCall call = BuildMarkAbusiveCall(
            keys_, MarkAbusiveRequest{.partition = partition,
                                      .refund_id = refund_id,
                                      .rating_id = ids->elements[0].str,
                                      .member_id = ids->elements[1].str,
                                      .now = now,
                                      .actor = std::move(actor),
                                      .reason = std::move(reason),
                                      .reverse_refund = reverse_refund});
        redis_.Eval(
            scripts::kMarkAbusive, std::move(call.keys), std::move(call.args),
            [refund_id, done = std::move(done)](
                absl::StatusOr<redis::RedisReply> reply) mutable {
              if (!reply.ok()) {
                done(reply.status());
                return;
              }
              absl::StatusOr<MarkAbusiveReply> r =
                  ParseMarkAbusiveReply(*reply);
              if (!r.ok()) {
                done(r.status());
                return;
              }
              if (r->answer == MarkAbusiveAnswer::kMissing) {
                done(absl::NotFoundError(
                    absl::StrCat("refund ", refund_id, " does not exist")));
                return;
              }
              AbuseMark mark;
              if (r->answer == MarkAbusiveAnswer::kMarked) {
                mark.newly_marked = true;
                mark.feedback_reversed = static_cast<int>(r->feedback_reversed);
                mark.refund_reversed = r->refund_reversed;
                mark.reversal_pending = r->reversal_pending;
              }
              done(mark);
            });
      });
}

void RefundStore::ListNeedingAttention(
    std::string cursor_ms, std::string cursor_id, int page_size,
    absl::AnyInvocable<void(absl::StatusOr<AttentionPage>)> done) {
  // Every partition at once (pipelined); each answers its oldest page after
  // the cursor, and the merge keeps the oldest page_size of all.
  struct Fanout {
    absl::Mutex mu;
    int left ABSL_GUARDED_BY(mu) = 0;
    absl::Status status ABSL_GUARDED_BY(mu);
    AttentionPage page ABSL_GUARDED_BY(mu);
    absl::AnyInvocable<void(absl::StatusOr<AttentionPage>)> done;
  };
  // Entries at or before the cursor (the script returns the cursor's ties)
  // are dropped here, in byte order of the ids.
  bool after_cursor = !cursor_id.empty();
  int64_t after_ms = 0;
  if (after_cursor && !absl::SimpleAtoi(cursor_ms, &after_ms)) {
    done(absl::InvalidArgumentError("attention cursor is not a time"));
    return;
  }
  auto fanout = std::make_shared<Fanout>();
  fanout->done = std::move(done);
  const int partitions = keys_.partitions();
  {
    absl::MutexLock lock(&fanout->mu);
    fanout->left = partitions;
  }
  auto finish = [fanout, page_size]() {
    absl::StatusOr<AttentionPage> out;
    {
      absl::MutexLock lock(&fanout->mu);
      if (!fanout->status.ok()) {
        out = fanout->status;
      } else {
        AttentionPage& page = fanout->page;
        std::sort(page.refunds.begin(), page.refunds.end(),
                  [](const AttentionRefund& a, const AttentionRefund& b) {
                    if (a.since_ms != b.since_ms)
                      return a.since_ms < b.since_ms;
                    return a.refund.refund_id() < b.refund.refund_id();
                  });
        if (page.refunds.size() > static_cast<size_t>(page_size)) {
          page.refunds.resize(page_size);
          const AttentionRefund& last = page.refunds.back();
          page.next_ms = absl::StrCat(last.since_ms);
          page.next_id = last.refund.refund_id();
        }
        out = std::move(page);
      }
    }
    fanout->done(std::move(out));
  };
  for (int p = 0; p < partitions; ++p) {
    // Takes one partition's page: the index's size, and its entries with the
    // refunds they name.
    auto on_page = [fanout, finish, after_cursor, after_ms, cursor_id](
                       int64_t total, absl::StatusOr<IndexedRecords> read) {
      bool last;
      {
        absl::MutexLock lock(&fanout->mu);
        if (!read.ok()) {
          fanout->status.Update(read.status());
        } else {
          fanout->page.total += total;
          for (size_t r = 0; r < read->rows.size(); ++r) {
            if (!read->rows[r].has_value()) continue;  // Gone since.
            std::vector<std::string>& row = *read->rows[r];
            absl::StatusOr<makegood::v1::Refund> refund =
                ParseRefund(StoredRefundOf(row));
            if (!refund.ok()) {
              fanout->status.Update(refund.status());
              break;
            }
            const IndexEntry& entry = read->index[r];
            AttentionRefund a;
            double since = 0;
            (void)absl::SimpleAtod(entry.score, &since);
            a.since_ms = static_cast<int64_t>(since);
            if (after_cursor &&
                (a.since_ms < after_ms ||
                 (a.since_ms == after_ms && entry.id <= cursor_id))) {
              continue;
            }
            a.refund = *std::move(refund);
            a.provider = std::move(row[kProvider]);
            (void)absl::SimpleAtoi(row[kAttempts], &a.attempts);
            fanout->page.refunds.push_back(std::move(a));
          }
        }
        last = --fanout->left == 0;
      }
      if (last) finish();
    };
    // The index first, then the refunds it names (read_hashes.h).
    ScriptCall call = BuildAttentionPageCall(
        keys_, AttentionPageRequest{.partition = p,
                                    .cursor_ms = cursor_ms,
                                    .cursor_id = cursor_id,
                                    // One more than a page: whether another
                                    // page follows.
                                    .count = page_size + 1});
    redis_.Eval(
        scripts::kAttentionPage, std::move(call.keys), std::move(call.args),
        [this, p, on_page = std::move(on_page)](
            absl::StatusOr<redis::RedisReply> reply) mutable {
          absl::StatusOr<AttentionPageReply> index =
              reply.ok() ? ParseAttentionPageReply(*reply)
                         : absl::StatusOr<AttentionPageReply>(reply.status());
          if (!index.ok()) {
            on_page(0, index.status());
            return;
          }
          ReadIndexed(
              redis_, std::move(index->entries),
              [this, p](absl::string_view id) {
                return keys_.RefundKey(p, id);
              },
              ListedRefundFields(/*settlement=*/true),
              [total = index->total, on_page = std::move(on_page)](
                  absl::StatusOr<IndexedRecords> read) mutable {
                on_page(total, std::move(read));
              });
        });
  }
}

void RefundStore::Redrive(
    int partition, std::string refund_id, std::string actor, std::string reason,
    absl::Time now,
    absl::AnyInvocable<void(absl::StatusOr<RedriveOutcome>)> done) {
  ScriptCall call = BuildRedriveRefundCall(
      keys_, RedriveRefundRequest{.partition = partition,
                                  .refund_id = refund_id,
                                  .now = now,
                                  .actor = std::move(actor),
                                  .reason = std::move(reason)});
  redis_.Eval(
      scripts::kRedriveRefund, std::move(call.keys), std::move(call.args),
      [refund_id, done = std::move(done)](
          absl::StatusOr<redis::RedisReply> reply) mutable {
        if (!reply.ok()) {
          done(reply.status());
          return;
        }
        absl::StatusOr<RedriveRefundReply> r = ParseRedriveRefundReply(*reply);
        if (!r.ok()) {
          done(r.status());
          return;
        }
        switch (r->answer) {
          case RedriveRefundAnswer::kRedriven:
            done(RedriveOutcome::kRedriven);
            return;
          case RedriveRefundAnswer::kInProgress:
            done(RedriveOutcome::kInProgress);
            return;
          case RedriveRefundAnswer::kMissing:
            done(absl::NotFoundError(
                absl::StrCat("refund ", refund_id, " does not exist")));
            return;
          case RedriveRefundAnswer::kNotRedrivable:
            done(absl::FailedPreconditionError(absl::StrCat(
                "refund ", refund_id, " is ", r->state,
                "; only a NEEDS_ATTENTION refund can be re-driven")));
            return;
        }
      });
}

void RefundStore::ListByMember(
    std::string member_id, std::string cursor_score, std::string cursor_id,
    int page_size, absl::AnyInvocable<void(absl::StatusOr<RefundPage>)> done) {
  int partition = keys_.PartitionOf(member_id);
  ListIndex(RefundPageRequest{.partition = partition,
                              .index = RefundIndex::kMember,
                              .owner_id = std::move(member_id),
                              .cursor_score = std::move(cursor_score),
                              .cursor_id = std::move(cursor_id),
                              .page_size = page_size},
            std::move(done));
}

void RefundStore::ListByOrder(
    std::string order_id, std::string cursor_score, std::string cursor_id,
    int page_size, absl::AnyInvocable<void(absl::StatusOr<RefundPage>)> done) {
  redis_.Command(
      {"GET", keys_.OrderOwnerKey(order_id)},
      [this, order_id, cursor_score = std::move(cursor_score),
       cursor_id = std::move(cursor_id), page_size, done = std::move(done)](
          absl::StatusOr<redis::RedisReply> owner) mutable {
        if (!owner.ok()) {
          done(owner.status());
          return;
        }
        if (!owner->is_text()) {
          done(absl::NotFoundError(
              absl::StrCat("order ", order_id, " is not recorded")));
          return;
        }
        int partition = keys_.PartitionOf(owner->str);
        ListIndex(RefundPageRequest{.partition = partition,
                                    .index = RefundIndex::kOrder,
                                    .owner_id = order_id,
                                    .cursor_score = std::move(cursor_score),
                                    .cursor_id = std::move(cursor_id),
                                    .page_size = page_size},
                  std::move(done));
      });
}

void RefundStore::ListIndex(
    RefundPageRequest request,
    absl::AnyInvocable<void(absl::StatusOr<RefundPage>)> done) {
  const int partition = request.partition;
  const int64_t page_size = request.page_size;
  // The index first (the entries after the cursor), then the refunds it
  // names (read_hashes.h); a refund whose record is gone is passed over.
  ScriptCall call = BuildRefundPageCall(keys_, request);
  redis_.Eval(
      scripts::kRefundPage, std::move(call.keys), std::move(call.args),
      [this, partition, page_size, done = std::move(done)](
          absl::StatusOr<redis::RedisReply> reply) mutable {
        absl::StatusOr<RefundPageReply> index =
            reply.ok() ? ParseRefundPageReply(*reply)
                       : absl::StatusOr<RefundPageReply>(reply.status());
        if (!index.ok()) {
          done(index.status());
          return;
        }
        ReadIndexed(
            redis_, *std::move(index),
            [this, partition](absl::string_view id) {
              return keys_.RefundKey(partition, id);
            },
            ListedRefundFields(/*settlement=*/false),
            [page_size, done = std::move(done)](
                absl::StatusOr<IndexedRecords> read) mutable {
              if (!read.ok()) {
                done(read.status());
                return;
              }
              RefundPage page;
              const IndexEntry* last = nullptr;
              bool more = false;
              for (size_t r = 0; r < read->rows.size(); ++r) {
                if (static_cast<int64_t>(page.refunds.size()) == page_size) {
                  more = true;
                  break;
                }
                if (read->rows[r].has_value()) {
                  absl::StatusOr<makegood::v1::Refund> refund =
                      ParseRefund(StoredRefundOf(*read->rows[r]));
                  if (!refund.ok()) {
                    done(refund.status());
                    return;
                  }
                  page.refunds.push_back(*std::move(refund));
                }
                last = &read->index[r];
              }
              if (more && last != nullptr) {
                page.next_score = last->score;
                page.next_id = last->id;
              }
              done(std::move(page));
            });
      });
}

}  // namespace makegood::store
