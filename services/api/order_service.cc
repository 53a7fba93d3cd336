#include "services/api/order_service.h"

#include <memory>
#include <utility>

#include "services/api/validation.h"
#include "services/errors/errors.h"
#include "services/policy/engine.h"
#include "services/rpc/unary_handler.h"

namespace makegood::api {

using makegood::v1::WriteResult;

grpc::ServerUnaryReactor* OrderService::RecordDelivery(
    grpc::CallbackServerContext* context,
    const makegood::v1::RecordDeliveryRequest* request,
    makegood::v1::RecordDeliveryResponse* response) {
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.OrderService/RecordDelivery",
      [this, request](Violations& violations) {
        if (!request->has_order()) {
          violations.Add("order", "is required");
        } else {
          ValidateOrder("order", request->order(), clock_.Now(), violations);
        }
      },
      [this, request, response](const auth::Principal&, rpc::Finish finish) {
        // Refused before anything is stored: a rating of the order could
        // never be decided.
        // The snapshot keeps the market's view alive until the rating
        // window is read below.
        std::shared_ptr<const policy_file::PolicySnapshot> policy =
            policy_.Get();
        absl::StatusOr<const policy::PolicyConfig*> market =
            policy->engine->MarketConfig(request->order().currency());
        if (!market.ok()) {
          finish(ErrorWithReason(absl::StatusCode::kFailedPrecondition,
                                 "POLICY_PRECONDITION",
                                 market.status().message()));
          return;
        }
        orders_.RecordDelivery(
            request->order(), (*market)->rating_window,
            [request, response, finish](absl::StatusOr<WriteResult> result) {
              if (result.ok()) {
                *response->mutable_order() = request->order();
                response->set_result(*result);
              }
              finish(result.status());
            });
      });
}

grpc::ServerUnaryReactor* OrderService::GetOrder(
    grpc::CallbackServerContext* context,
    const makegood::v1::GetOrderRequest* request,
    makegood::v1::GetOrderResponse* response) {
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.OrderService/GetOrder",
      [request](Violations& violations) {
        ValidateId("order_id", request->order_id(), violations);
      },
      [this, request, response](const auth::Principal&, rpc::Finish finish) {
        orders_.GetOrder(
            request->order_id(),
            [response, finish](absl::StatusOr<store::StoredOrder> got) {
              if (got.ok()) {
                *response->mutable_order() = std::move(got->order);
                response->set_refunded_minor(got->refunded_minor);
                response->set_rated(got->rated);
              }
              finish(got.status());
            });
      });
}

}  // namespace makegood::api
