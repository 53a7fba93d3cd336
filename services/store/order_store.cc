#include "services/store/order_store.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "services/store/lua/scripts.h"
#include "services/store/proto_codec.h"
#include "services/store/record_delivery_script.h"

namespace makegood::store {

using makegood::v1::Order;
using makegood::v1::WriteResult;

std::string OrderStore::MoneyFingerprint(const Order& order) {
  std::vector<const makegood::v1::OrderLine*> lines;
  lines.reserve(order.lines_size());
  for (const auto& line : order.lines()) lines.push_back(&line);
  std::sort(lines.begin(), lines.end(), [](const auto* a, const auto* b) {
    return a->line_id() < b->line_id();
  });
  std::string fp = absl::StrCat(order.currency(), "|", order.total_minor(), "|",
                                order.delivery_fee_minor());
  for (const auto* line : lines) {
    absl::StrAppend(&fp, "|", line->line_id(), ":", line->quantity(), ":",
                    line->amount_minor());
  }
  return fp;
}

void OrderStore::RecordDelivery(
    const Order& order, absl::Duration rating_window,
    absl::AnyInvocable<void(absl::StatusOr<WriteResult>)> done) {
  using google::protobuf::util::TimeUtil;
  std::vector<std::string> line_ids;
  line_ids.reserve(order.lines_size());
  for (const auto& line : order.lines()) line_ids.push_back(line.line_id());
  const int64_t delivered_at_ms =
      TimeUtil::TimestampToMilliseconds(order.delivered_at());
  ScriptCall call = BuildRecordDeliveryCall(
      keys_, RecordDeliveryRequest{
                 .member_id = order.member_id(),
                 .order_id = order.order_id(),
                 .order_pb = SerializeDeterministic(order),
                 .money_fingerprint = MoneyFingerprint(order),
                 .currency = order.currency(),
                 .total_minor = order.total_minor(),
                 .delivery_fee_minor = order.delivery_fee_minor(),
                 .delivered_at_ms = delivered_at_ms,
                 .now = clock_.Now(),
                 .line_ids = std::move(line_ids),
                 .payment_reference = order.payment_reference().empty()
                                          ? order.order_id()
                                          : order.payment_reference(),
                 .rating_window_end_ms =
                     delivered_at_ms + absl::ToInt64Milliseconds(rating_window),
                 .retention_day = retention_day_});
  // Step 1: claim the order id for this member (idempotent). Step 2: write
  // the order in the member's partition. A crash between them leaves only the
  // owner record, which a retry reuses.
  redis_.Command(
      {"SET", keys_.OrderOwnerKey(order.order_id()), order.member_id(), "NX",
       "GET"},
      [this, order_id = order.order_id(), member_id = order.member_id(),
       call = std::move(call), done = std::move(done)](
          absl::StatusOr<redis::RedisReply> owner) mutable {
        if (!owner.ok()) {
          done(owner.status());
          return;
        }
        if (owner->is_text() && owner->str != member_id) {
          done(absl::FailedPreconditionError(
              absl::StrCat("order ", order_id,
                           " is already recorded for another member; an "
                           "order cannot move between members")));
          return;
        }
        redis_.Eval(
            scripts::kRecordDelivery, std::move(call.keys),
            std::move(call.args),
            [order_id, done = std::move(done)](
                absl::StatusOr<redis::RedisReply> reply) mutable {
              if (!reply.ok()) {
                done(reply.status());
                return;
              }
              absl::StatusOr<RecordDeliveryReply> recorded =
                  ParseRecordDeliveryReply(*reply);
              if (!recorded.ok()) {
                done(recorded.status());
                return;
              }
              switch (recorded->answer) {
                case RecordDeliveryAnswer::kWritten:
                  done(recorded->written);
                  return;
                case RecordDeliveryAnswer::kMoneyLocked:
                  done(absl::FailedPreconditionError(absl::StrCat(
                      "order ", order_id,
                      " has been rated or compensated: its money fields "
                      "(currency, total_minor, delivery_fee_minor, lines' "
                      "quantity and amount_minor) can no longer change")));
                  return;
                case RecordDeliveryAnswer::kMemberMismatch:
                  done(absl::FailedPreconditionError(
                      absl::StrCat("order ", order_id,
                                   " is already recorded for another member")));
                  return;
              }
            });
      });
}

void OrderStore::GetOrder(
    std::string order_id,
    absl::AnyInvocable<void(absl::StatusOr<StoredOrder>)> done) {
  redis_.Command(
      {"GET", keys_.OrderOwnerKey(order_id)},
      [this, order_id, done = std::move(done)](
          absl::StatusOr<redis::RedisReply> owner) mutable {
        if (!owner.ok()) {
          done(owner.status());
          return;
        }
        if (owner->is_nil()) {
          done(absl::NotFoundError(
              absl::StrCat("order ", order_id, " is not recorded")));
          return;
        }
        redis_.Command(
            {"HMGET", keys_.OrderKey(owner->str, order_id), "pb",
             "refunded_minor", "rated"},
            [order_id, done = std::move(done)](
                absl::StatusOr<redis::RedisReply> reply) mutable {
              if (!reply.ok()) {
                done(reply.status());
                return;
              }
              auto fields = redis::ReplyArray(*reply, 3, "order hash");
              if (!fields.ok()) {
                done(fields.status());
                return;
              }
              const auto& f = **fields;
              if (f[0].is_nil()) {
                done(absl::NotFoundError(
                    absl::StrCat("order ", order_id, " is not recorded")));
                return;
              }
              StoredOrder stored;
              if (!stored.order.ParseFromString(f[0].str)) {
                done(absl::DataLossError(absl::StrCat("stored order ", order_id,
                                                      " does not parse")));
                return;
              }
              auto refunded = redis::ReplyInteger(f[1], "refunded_minor");
              stored.refunded_minor = refunded.ok() ? *refunded : 0;
              stored.rated = f[2].is_text() && f[2].str == "1";
              done(std::move(stored));
            });
      });
}

}  // namespace makegood::store
