// File: services/api/refund_service.h
//
// makegood.v1.RefundService: GetRefund and ListRefunds (by member or order,
// newest first, with opaque page tokens bound to their selector). WatchRefund
// belongs to the settlement issue and answers UNIMPLEMENTED until it lands.
//
// Thread-safety: thread-safe; handlers never block.
#pragma once

#include "makegood/v1/refund_service.grpc.pb.h"
#include "services/store/key_schema.h"
#include "services/store/refund_store.h"

namespace makegood::api {

class RefundService final
    : public makegood::v1::RefundService::CallbackService {
 public:
  static constexpr int kDefaultPageSize = 20;
  static constexpr int kMaxPageSize = 100;

  // Does not take ownership; both must outlive the service.
  RefundService(store::RefundStore& refunds, const store::KeySchema& keys)
      : refunds_(refunds), keys_(keys) {}

  grpc::ServerUnaryReactor* GetRefund(
      grpc::CallbackServerContext* context,
      const makegood::v1::GetRefundRequest* request,
      makegood::v1::GetRefundResponse* response) override;

  grpc::ServerUnaryReactor* ListRefunds(
      grpc::CallbackServerContext* context,
      const makegood::v1::ListRefundsRequest* request,
      makegood::v1::ListRefundsResponse* response) override;

 private:
  store::RefundStore& refunds_;
  const store::KeySchema& keys_;
};

}  // namespace makegood::api
