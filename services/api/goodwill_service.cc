#include "services/api/goodwill_service.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/api/validation.h"
#include "services/auth/admit.h"
#include "services/core/text.h"
#include "services/errors/errors.h"

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
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<auth::Principal> who =
      auth::Admit(auth_, *context, reactor, kMethod);
  if (!who.has_value()) return reactor;
  Violations violations;
  Validate(*request, violations);
  if (!violations.empty()) {
    reactor->Finish(ToGrpcStatus(violations.ToStatus()));
    return reactor;
  }
  flow_.Grant(who->id, *request,
              [reactor, response](
                  absl::StatusOr<makegood::v1::GrantGoodwillResponse> granted) {
                if (granted.ok()) *response = *std::move(granted);
                reactor->Finish(ToGrpcStatus(granted.status()));
              });
  return reactor;
}

}  // namespace makegood::api
