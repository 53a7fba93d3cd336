#include "services/store/refund_store.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lua/scripts.h"

namespace makegood::store {

void RefundStore::GetRefund(
    int partition, std::string refund_id,
    absl::AnyInvocable<void(absl::StatusOr<makegood::v1::Refund>)> done) {
  redis_.Command(
      {"HGET",
       absl::StrCat(keys_.PartitionPrefix(partition), "refund:", refund_id),
       "pb"},
      [refund_id,
       done = std::move(done)](absl::StatusOr<RedisReply> reply) mutable {
        if (!reply.ok()) {
          done(reply.status());
          return;
        }
        if (reply->is_nil()) {
          done(absl::NotFoundError(
              absl::StrCat("refund ", refund_id, " does not exist")));
          return;
        }
        makegood::v1::Refund refund;
        if (!refund.ParseFromString(reply->str)) {
          done(absl::DataLossError(
              absl::StrCat("stored refund ", refund_id, " does not parse")));
          return;
        }
        done(std::move(refund));
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
        for (size_t i = 0; i + 2 < e.size(); ++i) {
          makegood::v1::Refund refund;
          if (!refund.ParseFromString(e[i].str)) {
            done(absl::DataLossError("stored refund does not parse"));
            return;
          }
          page.refunds.push_back(std::move(refund));
        }
        page.next_score = e[e.size() - 2].str;
        page.next_id = e[e.size() - 1].str;
        done(std::move(page));
      });
}

}  // namespace makegood::store
