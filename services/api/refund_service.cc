#include "services/api/refund_service.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/api/validation.h"
#include "services/errors/errors.h"
#include "services/rating/rating_ids.h"

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

}  // namespace

grpc::ServerUnaryReactor* RefundService::GetRefund(
    grpc::CallbackServerContext* context,
    const makegood::v1::GetRefundRequest* request,
    makegood::v1::GetRefundResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<int> partition =
      rating::RefundIdPartition(request->refund_id(), keys_.partitions());
  if (!partition.has_value()) {
    Violations violations;
    violations.Add("refund_id",
                   "is not a refund id of this deployment "
                   "(rf_<partition>_<24 hex digits>)");
    reactor->Finish(ToGrpcStatus(violations.ToStatus()));
    return reactor;
  }
  refunds_.GetRefund(
      *partition, request->refund_id(),
      [reactor, response](absl::StatusOr<makegood::v1::Refund> refund) {
        if (!refund.ok()) {
          reactor->Finish(ToGrpcStatus(refund.status()));
          return;
        }
        *response->mutable_refund() = *std::move(refund);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* RefundService::ListRefunds(
    grpc::CallbackServerContext* context,
    const makegood::v1::ListRefundsRequest* request,
    makegood::v1::ListRefundsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Violations violations;
  std::string selector;
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
  int page_size =
      request->page_size() == 0 ? kDefaultPageSize : request->page_size();
  if (page_size < 1 || page_size > kMaxPageSize) {
    violations.Add("page_size", absl::StrCat("must be 0-", kMaxPageSize));
  }
  std::string score = "+inf", id;
  if (!request->page_token().empty() && !selector.empty() &&
      !DecodeToken(request->page_token(), selector, &score, &id)) {
    violations.Add("page_token",
                   "is not a token returned for this member_id or order_id");
  }
  if (!violations.empty()) {
    reactor->Finish(ToGrpcStatus(violations.ToStatus()));
    return reactor;
  }
  auto done = [reactor, response,
               selector](absl::StatusOr<store::RefundPage> page) {
    if (!page.ok()) {
      reactor->Finish(ToGrpcStatus(page.status()));
      return;
    }
    for (auto& refund : page->refunds) {
      *response->add_refunds() = std::move(refund);
    }
    if (!page->next_id.empty()) {
      response->set_next_page_token(
          EncodeToken(selector, page->next_score, page->next_id));
    }
    reactor->Finish(grpc::Status::OK);
  };
  if (request->selector_case() == makegood::v1::ListRefundsRequest::kMemberId) {
    refunds_.ListByMember(request->member_id(), score, id, page_size,
                          std::move(done));
  } else {
    refunds_.ListByOrder(request->order_id(), score, id, page_size,
                         std::move(done));
  }
  return reactor;
}

}  // namespace makegood::api
