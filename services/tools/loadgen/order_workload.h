// File: services/tools/loadgen/order_workload.h
//
// order: RecordDelivery of an order never recorded before, for the data
// set's members in turn (a member's next order: what retention after
// trouble counts as a reorder). Every answer must be CREATED.
//
// Thread-safety: Start may be called from any thread.
#pragma once

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "makegood/v1/order_service.grpc.pb.h"
#include "services/tools/loadgen/connections.h"
#include "services/tools/loadgen/dataset.h"
#include "services/tools/loadgen/workload.h"

namespace makegood::loadgen {

class OrderWorkload : public Workload {
 public:
  OrderWorkload(Connections& connections, absl::Duration timeout,
                const Dataset& dataset, std::string id_prefix)
      : connections_(connections),
        timeout_(timeout),
        dataset_(dataset),
        id_prefix_(std::move(id_prefix)),
        now_(absl::Now()) {}

  void Start(uint64_t n, int64_t scheduled_ns, CallSink& sink) override {
    struct Call {
      grpc::ClientContext context;
      v1::RecordDeliveryRequest request;
      v1::RecordDeliveryResponse response;
    };
    auto* call = new Call;
    const int member = static_cast<int>(n % dataset_.members());
    v1::Order* order = call->request.mutable_order();
    *order = dataset_.MakeOrder(member, 0, now_);
    order->set_order_id(absl::StrCat(id_prefix_, n));
    connections_.Prepare(call->context, timeout_, /*with_metadata=*/true);
    connections_.Order(n).async()->RecordDelivery(
        &call->context, &call->request, &call->response,
        [call, scheduled_ns, &sink](grpc::Status status) {
          CallResult result{status.error_code(), false};
          result.unexpected = status.ok() && call->response.result() !=
                                                 v1::WRITE_RESULT_CREATED;
          delete call;
          sink.OnDone(scheduled_ns, result);
        });
  }

 private:
  Connections& connections_;
  absl::Duration timeout_;
  const Dataset& dataset_;
  const std::string id_prefix_;
  const absl::Time now_;  // Delivered an hour before the run started.
};

}  // namespace makegood::loadgen
