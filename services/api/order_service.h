// File: services/api/order_service.h
//
// makegood.v1.OrderService: validates and records delivered orders. An
// order in a currency the active policy does not serve is refused
// (FAILED_PRECONDITION naming it and the served ones) before anything is
// stored.
//
// Thread-safety: thread-safe; handlers never block (they complete from Redis
// callbacks).
#pragma once

#include "makegood/v1/order_service.grpc.pb.h"
#include "services/auth/authenticator.h"
#include "services/core/clock.h"
#include "services/policy_file/policy_document.h"
#include "services/store/order_store.h"

namespace makegood::api {

class OrderService final : public makegood::v1::OrderService::CallbackService {
 public:
  // Does not take ownership; all must outlive the service.
  OrderService(const auth::Authenticator& auth, store::OrderStore& orders,
               const policy_file::ActivePolicy& policy, const Clock& clock)
      : auth_(auth), orders_(orders), policy_(policy), clock_(clock) {}

  grpc::ServerUnaryReactor* RecordDelivery(
      grpc::CallbackServerContext* context,
      const makegood::v1::RecordDeliveryRequest* request,
      makegood::v1::RecordDeliveryResponse* response) override;

  grpc::ServerUnaryReactor* GetOrder(
      grpc::CallbackServerContext* context,
      const makegood::v1::GetOrderRequest* request,
      makegood::v1::GetOrderResponse* response) override;

 private:
  const auth::Authenticator& auth_;
  store::OrderStore& orders_;
  const policy_file::ActivePolicy& policy_;
  const Clock& clock_;
};

}  // namespace makegood::api
