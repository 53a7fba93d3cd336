#include "services/store/refund_store.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lua/scripts.h"

namespace makegood::store {

namespace {

// Parses a stored refund and overlays the fields settlement keeps current.
absl::StatusOr<makegood::v1::Refund> ParseRefund(const RedisReply* fields) {
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

std::string RefundKey(const KeySchema& keys, int partition,
                      absl::string_view refund_id) {
  return absl::StrCat(keys.PartitionPrefix(partition), "refund:", refund_id);
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
  std::string key = RefundKey(keys_, partition, refund_id);
  std::string events = absl::StrCat(key, ":events");
  redis_.Eval(scripts::kReadRefund, {std::move(key), std::move(events)}, {},
              [refund_id, done = std::move(done)](
                  absl::StatusOr<RedisReply> reply) mutable {
                if (!reply.ok()) {
                  done(reply.status());
                  return;
                }
                if (reply->type == RedisReply::Type::kArray &&
                    reply->elements.empty()) {
                  done(absl::NotFoundError(
                      absl::StrCat("refund ", refund_id, " does not exist")));
                  return;
                }
                auto elements = ReplyArray(*reply, 6, "read_refund");
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
  redis_.Command(
      {"XRANGE",
       absl::StrCat(RefundKey(keys_, partition, refund_id), ":events"),
       absl::StrCat("(", after), "+", "COUNT", absl::StrCat(limit)},
      [done = std::move(done)](absl::StatusOr<RedisReply> reply) mutable {
        if (!reply.ok()) {
          done(reply.status());
          return;
        }
        std::vector<RefundEvent> events;
        for (const RedisReply& entry : reply->elements) {
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
  std::string refund_key = RefundKey(keys_, partition, refund_id);
  redis_.Command(
      {"HMGET", refund_key, "rating_id", "member_id"},
      [this, partition, refund_id, refund_key, actor = std::move(actor),
       reason = std::move(reason), reverse_refund, now,
       done = std::move(done)](absl::StatusOr<RedisReply> ids) mutable {
        if (!ids.ok()) {
          done(ids.status());
          return;
        }
        if (ids->elements.size() < 2 || !ids->elements[1].is_text()) {
          done(absl::NotFoundError(
              absl::StrCat("refund ", refund_id, " does not exist")));
          return;
        }
        const std::string prefix = keys_.PartitionPrefix(partition);
        const std::string& member_id = ids->elements[1].str;
        std::vector<std::string> keys = {
            refund_key,
            absl::StrCat(refund_key, ":events"),
            absl::StrCat(prefix, "refund_feed"),
            absl::StrCat(prefix, "rating:", ids->elements[0].str),
            absl::StrCat(prefix, "fu:feedback"),
            keys_.MemberStatsKey(member_id),
            absl::StrCat(prefix, "ledger"),
            absl::StrCat(prefix, "ledger:balances"),
            absl::StrCat(prefix, "wallet:", member_id)};
        redis_.Eval(
            scripts::kMarkAbusive, std::move(keys),
            {absl::StrCat(absl::ToUnixMillis(now)), actor, reason,
             reverse_refund ? "1" : "0"},
            [refund_id,
             done = std::move(done)](absl::StatusOr<RedisReply> reply) mutable {
              if (!reply.ok()) {
                done(reply.status());
                return;
              }
              auto r = ReplyArray(*reply, 1, "mark_abusive");
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
              if (tag == "OK" && (*r)->size() >= 3) {
                mark.newly_marked = true;
                (void)absl::SimpleAtoi((**r)[1].str, &mark.feedback_reversed);
                mark.refund_reversed = (**r)[2].str == "1";
              }
              done(mark);
            });
      });
}

void RefundStore::ListByMember(
    std::string member_id, std::string cursor_score, std::string cursor_id,
    int page_size, absl::AnyInvocable<void(absl::StatusOr<RefundPage>)> done) {
  int partition = keys_.PartitionOf(member_id);
  ListIndex(
      partition,
      absl::StrCat(keys_.PartitionPrefix(partition), "refunds:m:", member_id),
      std::move(cursor_score), std::move(cursor_id), page_size,
      std::move(done));
}

void RefundStore::ListByOrder(
    std::string order_id, std::string cursor_score, std::string cursor_id,
    int page_size, absl::AnyInvocable<void(absl::StatusOr<RefundPage>)> done) {
  redis_.Command(
      {"GET", keys_.OrderOwnerKey(order_id)},
      [this, order_id, cursor_score = std::move(cursor_score),
       cursor_id = std::move(cursor_id), page_size,
       done = std::move(done)](absl::StatusOr<RedisReply> owner) mutable {
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
        ListIndex(partition,
                  absl::StrCat(keys_.PartitionPrefix(partition),
                               "refunds:o:", order_id),
                  std::move(cursor_score), std::move(cursor_id), page_size,
                  std::move(done));
      });
}

void RefundStore::ListIndex(
    int partition, std::string index_key, std::string cursor_score,
    std::string cursor_id, int page_size,
    absl::AnyInvocable<void(absl::StatusOr<RefundPage>)> done) {
  redis_.Eval(
      scripts::kListRefunds, {std::move(index_key)},
      {absl::StrCat(keys_.PartitionPrefix(partition), "refund:"),
       std::move(cursor_score), std::move(cursor_id), absl::StrCat(page_size)},
      [done = std::move(done)](absl::StatusOr<RedisReply> reply) mutable {
        if (!reply.ok()) {
          done(reply.status());
          return;
        }
        auto elements = ReplyArray(*reply, 2, "list_refunds");
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
      });
}

}  // namespace makegood::store
