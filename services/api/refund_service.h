// File: services/api/refund_service.h
//
// makegood.v1.RefundService: GetRefund (optionally with the audit trail),
// ListRefunds (by member or order, newest first, with opaque page tokens
// bound to their selector), WatchRefund (the current state at once, then
// every transition in order until a final state, woken by the refund feed),
// MarkRefundAbusive (operator corrections), and for operators
// ListRefundsNeedingAttention and RedriveRefund (refunds settlement set
// aside, and sending one back to settlement).
//
// Thread-safety: thread-safe; handlers never block.
#pragma once

#include "makegood/v1/refund_service.grpc.pb.h"
#include "services/auth/authenticator.h"
#include "services/core/clock.h"
#include "services/rpc/unary_handler.h"
#include "services/store/key_schema.h"
#include "services/store/refund_feed.h"
#include "services/store/refund_store.h"

namespace makegood::api {

class RefundService final
    : public makegood::v1::RefundService::CallbackService {
 public:
  static constexpr int kDefaultPageSize = 20;
  static constexpr int kMaxPageSize = 100;

  // Does not take ownership; all must outlive the service.
  RefundService(const auth::Authenticator& auth, store::RefundStore& refunds,
                store::RefundFeed& feed, const store::KeySchema& keys,
                const Clock& clock)
      : auth_(auth),
        refunds_(refunds),
        feed_(feed),
        keys_(keys),
        clock_(clock) {}

  grpc::ServerUnaryReactor* GetRefund(
      grpc::CallbackServerContext* context,
      const makegood::v1::GetRefundRequest* request,
      makegood::v1::GetRefundResponse* response) override;

  grpc::ServerUnaryReactor* ListRefunds(
      grpc::CallbackServerContext* context,
      const makegood::v1::ListRefundsRequest* request,
      makegood::v1::ListRefundsResponse* response) override;

  grpc::ServerWriteReactor<makegood::v1::WatchRefundResponse>* WatchRefund(
      grpc::CallbackServerContext* context,
      const makegood::v1::WatchRefundRequest* request) override;

  grpc::ServerUnaryReactor* MarkRefundAbusive(
      grpc::CallbackServerContext* context,
      const makegood::v1::MarkRefundAbusiveRequest* request,
      makegood::v1::MarkRefundAbusiveResponse* response) override;

  grpc::ServerUnaryReactor* ListRefundsNeedingAttention(
      grpc::CallbackServerContext* context,
      const makegood::v1::ListRefundsNeedingAttentionRequest* request,
      makegood::v1::ListRefundsNeedingAttentionResponse* response) override;

  grpc::ServerUnaryReactor* RedriveRefund(
      grpc::CallbackServerContext* context,
      const makegood::v1::RedriveRefundRequest* request,
      makegood::v1::RedriveRefundResponse* response) override;

 private:
  // Reads the refund into `out`, then finishes with the read's status.
  void ReadRefundInto(int partition, std::string refund_id,
                      makegood::v1::Refund* out, rpc::Finish finish);

  const auth::Authenticator& auth_;
  store::RefundStore& refunds_;
  store::RefundFeed& feed_;
  const store::KeySchema& keys_;
  const Clock& clock_;
};

}  // namespace makegood::api
