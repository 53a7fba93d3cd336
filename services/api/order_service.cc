#include "services/api/order_service.h"

#include <utility>

#include "services/api/validation.h"
#include "services/auth/admit.h"
#include "services/errors/errors.h"

namespace makegood::api {

using makegood::v1::WriteResult;

grpc::ServerUnaryReactor* OrderService::RecordDelivery(
    grpc::CallbackServerContext* context,
    const makegood::v1::RecordDeliveryRequest* request,
    makegood::v1::RecordDeliveryResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!auth::Admit(auth_, *context, reactor,
                   "/makegood.v1.OrderService/RecordDelivery")) {
    return reactor;
  }
  Violations violations;
  if (!request->has_order()) {
    violations.Add("order", "is required");
  } else {
    ValidateOrder("order", request->order(), clock_.Now(), violations);
  }
  if (!violations.empty()) {
    reactor->Finish(ToGrpcStatus(violations.ToStatus()));
    return reactor;
  }
  orders_.RecordDelivery(
      request->order(),
      [reactor, request, response](absl::StatusOr<WriteResult> result) {
        if (!result.ok()) {
          reactor->Finish(ToGrpcStatus(result.status()));
          return;
        }
        *response->mutable_order() = request->order();
        response->set_result(*result);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* OrderService::GetOrder(
    grpc::CallbackServerContext* context,
    const makegood::v1::GetOrderRequest* request,
    makegood::v1::GetOrderResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!auth::Admit(auth_, *context, reactor,
                   "/makegood.v1.OrderService/GetOrder")) {
    return reactor;
  }
  Violations violations;
  ValidateId("order_id", request->order_id(), violations);
  if (!violations.empty()) {
    reactor->Finish(ToGrpcStatus(violations.ToStatus()));
    return reactor;
  }
  orders_.GetOrder(request->order_id(),
                   [reactor, response](absl::StatusOr<store::StoredOrder> got) {
                     if (!got.ok()) {
                       reactor->Finish(ToGrpcStatus(got.status()));
                       return;
                     }
                     *response->mutable_order() = std::move(got->order);
                     response->set_refunded_minor(got->refunded_minor);
                     response->set_rated(got->rated);
                     reactor->Finish(grpc::Status::OK);
                   });
  return reactor;
}

}  // namespace makegood::api
