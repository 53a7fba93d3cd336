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

namespace makegood::store {

using makegood::v1::Order;
using makegood::v1::WriteResult;

namespace {

std::string LineIds(const Order& order) {
  std::string ids;
  for (const auto& line : order.lines()) {
    if (!ids.empty()) ids.push_back(' ');
    ids.append(line.line_id());
  }
  return ids;
}

}  // namespace

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
    const Order& order,
    absl::AnyInvocable<void(absl::StatusOr<WriteResult>)> done) {
  using google::protobuf::util::TimeUtil;
  std::vector<std::string> args = {
      order.member_id(),
      SerializeDeterministic(order),
      MoneyFingerprint(order),
      order.currency(),
      absl::StrCat(order.total_minor()),
      absl::StrCat(order.delivery_fee_minor()),
      absl::StrCat(TimeUtil::TimestampToMilliseconds(order.delivered_at())),
      absl::StrCat(absl::ToUnixMillis(clock_.Now())),
      LineIds(order),
      order.payment_reference().empty() ? order.order_id()
                                        : order.payment_reference()};
  std::string order_key = keys_.OrderKey(order.member_id(), order.order_id());
  std::string stats_key = keys_.MemberStatsKey(order.member_id());
  // Step 1: claim the order id for this member (idempotent). Step 2: write
  // the order in the member's partition. A crash between them leaves only the
  // owner record, which a retry reuses.
  redis_.Command(
      {"SET", keys_.OrderOwnerKey(order.order_id()), order.member_id(), "NX",
       "GET"},
      [this, order_id = order.order_id(), member_id = order.member_id(),
       order_key = std::move(order_key), stats_key = std::move(stats_key),
       args = std::move(args), done = std::move(done)](
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
            scripts::kRecordDelivery,
            {std::move(order_key), std::move(stats_key)}, std::move(args),
            [order_id, done = std::move(done)](
                absl::StatusOr<redis::RedisReply> reply) mutable {
              if (!reply.ok()) {
                done(reply.status());
                return;
              }
              auto outcome = ScriptOutcome(*reply, "record_delivery");
              if (!outcome.ok()) {
                done(outcome.status());
              } else if (*outcome == "MONEY_LOCKED") {
                done(absl::FailedPreconditionError(absl::StrCat(
                    "order ", order_id,
                    " has been rated or compensated: its money fields "
                    "(currency, total_minor, delivery_fee_minor, lines' "
                    "quantity and amount_minor) can no longer change")));
              } else if (*outcome == "MEMBER_MISMATCH") {
                done(absl::FailedPreconditionError(
                    absl::StrCat("order ", order_id,
                                 " is already recorded for another member")));
              } else {
                done(ParseWriteResult(*outcome));
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
