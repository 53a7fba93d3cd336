#include "services/store/refund_store.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/store/lua/scripts.h"
#include "services/store/read_hashes.h"

namespace makegood::store {

namespace {

// Parses a stored refund and overlays the fields settlement keeps current.
absl::StatusOr<makegood::v1::Refund> ParseRefund(
    const redis::RedisReply* fields) {
  makegood::v1::Refund refund;
  if (!refund.ParseFromString(fields[0].str)) {
    return absl::DataLossError("stored refund does not parse");
  }
  if (!fields[1].str.empty()) {
    refund.set_state(RefundStateFromName(fields[1].str));
  }
  if (!fields[2].str.empty()) refund.set_state_reason(fields[2].str);
  int64_t updated_ms = 0;
  if (absl::SimpleAtoi(fields[3].str, &updated_ms) && updated_ms > 0) {
    refund.mutable_updated_at()->set_seconds(updated_ms / 1000);
    refund.mutable_updated_at()->set_nanos(
        static_cast<int32_t>(updated_ms % 1000) * 1000000);
  }
  if (!fields[4].str.empty()) {
    refund.set_instrument(InstrumentFromName(fields[4].str));
  }
  return refund;
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
  std::string key = keys_.RefundKey(partition, refund_id);
  std::string events = keys_.RefundEventsKey(partition, refund_id);
  redis_.Eval(scripts::kReadRefund, {std::move(key), std::move(events)}, {},
              [refund_id, done = std::move(done)](
                  absl::StatusOr<redis::RedisReply> reply) mutable {
                if (!reply.ok()) {
                  done(reply.status());
                  return;
                }
                if (reply->type == redis::RedisReply::Type::kArray &&
                    reply->elements.empty()) {
                  done(absl::NotFoundError(
                      absl::StrCat("refund ", refund_id, " does not exist")));
                  return;
                }
                auto elements = redis::ReplyArray(*reply, 6, "read_refund");
                if (!elements.ok()) {
                  done(elements.status());
                  return;
                }
                absl::StatusOr<makegood::v1::Refund> refund =
                    ParseRefund((*elements)->data());
                if (!refund.ok()) {
                  done(refund.status());
                  return;
                }
                done(WatchedRefund{*std::move(refund), (**elements)[5].str});
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
  std::string refund_key = keys_.RefundKey(partition, refund_id);
  redis_.Command(
      {"HMGET", refund_key, "rating_id", "member_id"},
      [this, partition, refund_id, refund_key, actor = std::move(actor),
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
        const std::string& member_id = ids->elements[1].str;
        std::vector<std::string> keys = {
            refund_key,
            keys_.RefundEventsKey(partition, refund_id),
            keys_.RefundFeedKey(partition),
            keys_.RatingKey(partition, ids->elements[0].str),
            keys_.FeedbackKey(partition),
            keys_.MemberStatsKey(member_id),
            keys_.LedgerKey(partition),
            keys_.LedgerBalancesKey(partition),
            keys_.WalletKey(partition, member_id)};
        redis_.Eval(
            scripts::kMarkAbusive, std::move(keys),
            {absl::StrCat(absl::ToUnixMillis(now)), actor, reason,
             reverse_refund ? "1" : "0"},
            [refund_id, done = std::move(done)](
                absl::StatusOr<redis::RedisReply> reply) mutable {
              if (!reply.ok()) {
                done(reply.status());
                return;
              }
              auto r = redis::ReplyArray(*reply, 1, "mark_abusive");
              if (!r.ok()) {
                done(r.status());
                return;
              }
              const std::string& tag = (**r)[0].str;
              AbuseMark mark;
              if (tag == "MISSING") {
                done(absl::NotFoundError(
                    absl::StrCat("refund ", refund_id, " does not exist")));
                return;
              }
              if (tag == "OK" && (*r)->size() >= 4) {
                mark.newly_marked = true;
                (void)absl::SimpleAtoi((**r)[1].str, &mark.feedback_reversed);
                mark.refund_reversed = (**r)[2].str == "1";
                mark.reversal_pending = (**r)[3].str == "1";
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
    // Takes one partition's page: {count in the index, then per refund: id,
    // since_ms, pb, state, state_reason, updated_at_ms, instrument,
    // provider, attempts}.
    auto on_page = [fanout, finish, after_cursor, after_ms,
                    cursor_id](absl::StatusOr<redis::RedisReply> reply) {
      bool last;
      {
        absl::MutexLock lock(&fanout->mu);
        absl::StatusOr<const std::vector<redis::RedisReply>*> e =
            reply.ok() ? redis::ReplyArray(*reply, 1, "list_attention")
                       : absl::StatusOr<const std::vector<redis::RedisReply>*>(
                             reply.status());
        if (!e.ok()) {
          fanout->status.Update(e.status());
        } else {
          const std::vector<redis::RedisReply>& v = **e;
          fanout->page.total += v[0].integer;
          for (size_t i = 1; i + 9 <= v.size(); i += 9) {
            absl::StatusOr<makegood::v1::Refund> refund =
                ParseRefund(&v[i + 2]);
            if (!refund.ok()) {
              fanout->status.Update(refund.status());
              break;
            }
            AttentionRefund a;
            double since = 0;
            (void)absl::SimpleAtod(v[i + 1].str, &since);
            a.since_ms = static_cast<int64_t>(since);
            if (after_cursor &&
                (a.since_ms < after_ms ||
                 (a.since_ms == after_ms && v[i].str <= cursor_id))) {
              continue;
            }
            a.refund = *std::move(refund);
            a.provider = v[i + 7].str;
            (void)absl::SimpleAtoi(v[i + 8].str, &a.attempts);
            fanout->page.refunds.push_back(std::move(a));
          }
        }
        last = --fanout->left == 0;
      }
      if (last) finish();
    };
    // The index first, then the refunds it names (read_hashes.h).
    redis_.Eval(
        scripts::kAttentionPage, {keys_.AttentionKey(p)},
        {cursor_ms, cursor_id,
         // One more than a page: whether another page follows.
         absl::StrCat(page_size + 1)},
        [this, p, on_page = std::move(on_page)](
            absl::StatusOr<redis::RedisReply> index) mutable {
          ReadIndexed(
              redis_, std::move(index), "attention_page", 1,
              [this, p](absl::string_view id) {
                return keys_.RefundKey(p, id);
              },
              {"pb", "state", "state_reason", "updated_at_ms", "instrument",
               "provider", "attempts"},
              [on_page = std::move(on_page)](
                  absl::StatusOr<IndexedRecords> read) mutable {
                if (!read.ok()) {
                  on_page(read.status());
                  return;
                }
                std::vector<redis::RedisReply> page = {read->index[0]};
                for (size_t r = 0; r < read->rows.size(); ++r) {
                  if (!read->rows[r].has_value()) continue;  // Gone since.
                  page.push_back(read->index[1 + 2 * r]);
                  page.push_back(read->index[2 + 2 * r]);
                  for (std::string& field : *read->rows[r]) {
                    page.push_back(redis::RedisReply::String(std::move(field)));
                  }
                }
                on_page(redis::RedisReply::Array(std::move(page)));
              });
        });
  }
}

void RefundStore::Redrive(
    int partition, std::string refund_id, std::string actor, std::string reason,
    absl::Time now,
    absl::AnyInvocable<void(absl::StatusOr<RedriveOutcome>)> done) {
  std::vector<std::string> keys = {keys_.RefundKey(partition, refund_id),
                                   keys_.RefundEventsKey(partition, refund_id),
                                   keys_.RefundFeedKey(partition),
                                   keys_.OutboxKey(partition),
                                   keys_.AttentionKey(partition)};
  redis_.Eval(scripts::kRedriveRefund, std::move(keys),
              {absl::StrCat(absl::ToUnixMillis(now)), std::move(actor),
               std::move(reason)},
              [refund_id, done = std::move(done)](
                  absl::StatusOr<redis::RedisReply> reply) mutable {
                if (!reply.ok()) {
                  done(reply.status());
                  return;
                }
                auto r = redis::ReplyArray(*reply, 1, "redrive_refund");
                if (!r.ok()) {
                  done(r.status());
                  return;
                }
                const std::string& tag = (**r)[0].str;
                const std::string state = (*r)->size() >= 2 ? (**r)[1].str : "";
                if (tag == "REDRIVEN") {
                  done(RedriveOutcome::kRedriven);
                } else if (tag == "IN_PROGRESS") {
                  done(RedriveOutcome::kInProgress);
                } else if (tag == "MISSING") {
                  done(absl::NotFoundError(
                      absl::StrCat("refund ", refund_id, " does not exist")));
                } else if (tag == "NOT_REDRIVABLE") {
                  done(absl::FailedPreconditionError(absl::StrCat(
                      "refund ", refund_id, " is ", state,
                      "; only a NEEDS_ATTENTION refund can be re-driven")));
                } else {
                  done(absl::InternalError(
                      absl::StrCat("redrive_refund answered \"", tag, "\"")));
                }
              });
}

void RefundStore::ListByMember(
    std::string member_id, std::string cursor_score, std::string cursor_id,
    int page_size, absl::AnyInvocable<void(absl::StatusOr<RefundPage>)> done) {
  int partition = keys_.PartitionOf(member_id);
  ListIndex(partition, keys_.MemberRefundsKey(partition, member_id),
            std::move(cursor_score), std::move(cursor_id), page_size,
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
        ListIndex(partition, keys_.OrderRefundsKey(partition, order_id),
                  std::move(cursor_score), std::move(cursor_id), page_size,
                  std::move(done));
      });
}

void RefundStore::ListIndex(
    int partition, std::string index_key, std::string cursor_score,
    std::string cursor_id, int page_size,
    absl::AnyInvocable<void(absl::StatusOr<RefundPage>)> done) {
  // Takes the page: {per refund: pb, state, state_reason, updated_at_ms,
  // instrument; then next_score or '', next_id or ''}.
  auto on_page = [done = std::move(done)](
                     absl::StatusOr<redis::RedisReply> reply) mutable {
    if (!reply.ok()) {
      done(reply.status());
      return;
    }
    auto elements = redis::ReplyArray(*reply, 2, "list_refunds");
    if (!elements.ok()) {
      done(elements.status());
      return;
    }
    const auto& e = **elements;
    RefundPage page;
    for (size_t i = 0; i + 5 + 2 <= e.size(); i += 5) {
      absl::StatusOr<makegood::v1::Refund> refund = ParseRefund(&e[i]);
      if (!refund.ok()) {
        done(refund.status());
        return;
      }
      page.refunds.push_back(*std::move(refund));
    }
    page.next_score = e[e.size() - 2].str;
    page.next_id = e[e.size() - 1].str;
    done(std::move(page));
  };
  // The index first (the entries after the cursor), then the refunds it
  // names (read_hashes.h); a refund whose record is gone is passed over.
  redis_.Eval(
      scripts::kRefundPage, {std::move(index_key)},
      {std::move(cursor_score), std::move(cursor_id), absl::StrCat(page_size)},
      [this, partition, page_size, on_page = std::move(on_page)](
          absl::StatusOr<redis::RedisReply> index) mutable {
        ReadIndexed(
            redis_, std::move(index), "refund_page", 0,
            [this, partition](absl::string_view id) {
              return keys_.RefundKey(partition, id);
            },
            {"pb", "state", "state_reason", "updated_at_ms", "instrument"},
            [page_size, on_page = std::move(on_page)](
                absl::StatusOr<IndexedRecords> read) mutable {
              if (!read.ok()) {
                on_page(read.status());
                return;
              }
              const std::vector<redis::RedisReply>& entries = read->index;
              std::vector<HashRow>* rows = &read->rows;
              std::vector<redis::RedisReply> page;
              std::string last_score, last_id;
              bool more = false;
              int n = 0;
              for (size_t r = 0; r < rows->size(); ++r) {
                if (n == page_size) {
                  more = true;
                  break;
                }
                if ((*rows)[r].has_value()) {
                  for (std::string& field : *(*rows)[r]) {
                    page.push_back(redis::RedisReply::String(std::move(field)));
                  }
                  ++n;
                }
                last_id = entries[2 * r].str;
                last_score = entries[2 * r + 1].str;
              }
              page.push_back(redis::RedisReply::String(more ? last_score : ""));
              page.push_back(redis::RedisReply::String(more ? last_id : ""));
              on_page(redis::RedisReply::Array(std::move(page)));
            });
      });
}

}  // namespace makegood::store
