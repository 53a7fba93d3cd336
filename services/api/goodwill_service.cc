#include "services/api/goodwill_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/api/validation.h"
#include "services/core/text.h"
#include "services/rpc/unary_handler.h"

namespace makegood::api {
namespace {

constexpr char kMethod[] = "/makegood.v1.GoodwillService/GrantGoodwill";

void Validate(const makegood::v1::GrantGoodwillRequest& r,
              Violations& violations) {
  if (!IsPrintableAscii(r.idempotency_key(), 1, 255)) {
    violations.Add("idempotency_key",
                   "must be 1-255 printable ASCII characters");
  }
  ValidateId("agent_id", r.agent_id(), violations);
  ValidateId("member_id", r.member_id(), violations);
  if (!r.order_id().empty()) ValidateId("order_id", r.order_id(), violations);
  if (r.amount_minor() <= 0 || r.amount_minor() > 1'000'000'000) {
    violations.Add("amount_minor", "must be 1-1000000000");
  }
  if (!IsCurrencyCode(r.currency())) {
    violations.Add("currency", "must be an ISO 4217 code such as \"EUR\"");
  }
  switch (r.instrument()) {
    case makegood::v1::INSTRUMENT_WALLET:
    case makegood::v1::INSTRUMENT_COUPON:
      break;
    case makegood::v1::INSTRUMENT_ORIGINAL_PAYMENT:
      if (r.order_id().empty()) {
        violations.Add("instrument",
                       "INSTRUMENT_ORIGINAL_PAYMENT needs the order_id whose "
                       "payment is refunded");
      }
      break;
    default:
      violations.Add("instrument",
                     "must be INSTRUMENT_WALLET, INSTRUMENT_COUPON or "
                     "INSTRUMENT_ORIGINAL_PAYMENT");
  }
  if (!IsLowerToken(r.reason(), 64)) {
    violations.Add("reason", "must be 1-64 characters of [a-z0-9_-]");
  }
  if (r.note().size() > GoodwillService::kMaxNoteLength) {
    violations.Add("note",
                   absl::StrCat("must be at most ",
                                GoodwillService::kMaxNoteLength, " bytes"));
  }
}

}  // namespace

grpc::ServerUnaryReactor* GoodwillService::GrantGoodwill(
    grpc::CallbackServerContext* context,
    const makegood::v1::GrantGoodwillRequest* request,
    makegood::v1::GrantGoodwillResponse* response) {
  return rpc::ServeUnary(
      auth_, context, kMethod,
      [request](Violations& violations) { Validate(*request, violations); },
      [this, request, response](const auth::Principal& who,
                                rpc::Finish finish) {
        flow_.Grant(
            who.id, *request,
            [response, finish](
                absl::StatusOr<makegood::v1::GrantGoodwillResponse> granted) {
              if (granted.ok()) *response = *std::move(granted);
              finish(granted.status());
            });
      });
}

}  // namespace makegood::api
