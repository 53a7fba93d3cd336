#include "services/tools/loadgen/setup.h"

#include <functional>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "makegood/v1/member_service.grpc.pb.h"
#include "makegood/v1/order_service.grpc.pb.h"
#include "makegood/v1/rating_service.grpc.pb.h"
#include "services/tools/loadgen/call_stats.h"
#include "services/tools/loadgen/runner.h"

namespace makegood::loadgen {

bool Setup(Connections& connections, const Dataset& dataset, int concurrency,
           absl::Duration timeout, std::string& json) {
  absl::Time now = absl::Now();
  std::cerr << "loadgen: setup: " << dataset.members() << " members, "
            << dataset.orders() << " orders\n";
  BoundedResult members = RunBounded(
      dataset.members(), concurrency,
      [&](int64_t i, std::function<void(const grpc::Status&)> done) {
        struct Call {
          grpc::ClientContext context;
          v1::UpsertMemberRequest request;
          v1::UpsertMemberResponse response;
        };
        auto* call = new Call;
        *call->request.mutable_member() =
            dataset.MakeMember(static_cast<int>(i), now);
        connections.Prepare(call->context, timeout, /*with_metadata=*/true);
        connections.Member(static_cast<uint64_t>(i))
            .async()
            ->UpsertMember(&call->context, &call->request, &call->response,
                           [call, done](grpc::Status status) {
                             delete call;
                             done(status);
                           });
      });
  json = absl::StrCat("\"setup\":{\"members\":", dataset.members(),
                      ",\"member_codes\":", CodesJson(members.codes));
  if (members.codes[grpc::OK] != dataset.members()) {
    std::cerr << "loadgen: setup: UpsertMember failed: " << members.first_error
              << "\n";
    absl::StrAppend(&json, "}");
    return false;
  }
  int orders_per_member =
      static_cast<int>(dataset.orders() / dataset.members());
  BoundedResult orders = RunBounded(
      dataset.orders(), concurrency,
      [&](int64_t i, std::function<void(const grpc::Status&)> done) {
        struct Call {
          grpc::ClientContext context;
          v1::RecordDeliveryRequest request;
          v1::RecordDeliveryResponse response;
        };
        auto* call = new Call;
        *call->request.mutable_order() =
            dataset.MakeOrder(static_cast<int>(i / orders_per_member),
                              static_cast<int>(i % orders_per_member), now);
        connections.Prepare(call->context, timeout, /*with_metadata=*/true);
        connections.Order(static_cast<uint64_t>(i))
            .async()
            ->RecordDelivery(&call->context, &call->request, &call->response,
                             [call, done](grpc::Status status) {
                               delete call;
                               done(status);
                             });
      });
  absl::StrAppendFormat(&json,
                        ",\"orders\":%d,\"order_codes\":%s,"
                        "\"seconds\":%.2f}",
                        dataset.orders(), CodesJson(orders.codes),
                        members.seconds + orders.seconds);
  if (orders.codes[grpc::OK] != dataset.orders()) {
    std::cerr << "loadgen: setup: RecordDelivery failed: " << orders.first_error
              << "\n";
    return false;
  }
  std::cerr << absl::StrFormat("loadgen: setup done in %.1f s\n",
                               members.seconds + orders.seconds);
  return true;
}

std::vector<v1::SubmitRatingRequest> ReplayRequests(
    Connections& connections, const Dataset& dataset, int keys, bool prime,
    const std::string& key_prefix, int concurrency, absl::Duration timeout,
    std::string& json) {
  std::vector<v1::SubmitRatingRequest> requests;
  requests.reserve(static_cast<size_t>(keys));
  for (int i = 0; i < keys; ++i) {
    requests.push_back(dataset.MakeRating(i));
    requests.back().set_idempotency_key(absl::StrCat(key_prefix, i));
  }
  if (!prime) return requests;
  BoundedResult primed = RunBounded(
      keys, concurrency,
      [&](int64_t i, std::function<void(const grpc::Status&)> done) {
        struct Call {
          grpc::ClientContext context;
          v1::SubmitRatingResponse response;
        };
        auto* call = new Call;
        connections.Prepare(call->context, timeout, /*with_metadata=*/true);
        connections.Rating(static_cast<uint64_t>(i))
            .async()
            ->SubmitRating(&call->context, &requests[static_cast<size_t>(i)],
                           &call->response, [call, done](grpc::Status status) {
                             delete call;
                             done(status);
                           });
      });
  absl::StrAppendFormat(&json,
                        "\"prime\":{\"keys\":%d,\"codes\":%s,"
                        "\"seconds\":%.2f}",
                        keys, CodesJson(primed.codes), primed.seconds);
  if (primed.codes[grpc::OK] == 0) {
    std::cerr << "loadgen: priming: no rating was accepted ("
              << primed.first_error << "); replaying anyway\n";
    return requests;
  }
  if (primed.codes[grpc::OK] < keys) {
    std::cerr << "loadgen: priming: " << keys - primed.codes[grpc::OK] << " of "
              << keys << " ratings failed (" << primed.first_error
              << "); replaying the others\n";
  }
  std::vector<v1::SubmitRatingRequest> accepted;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (primed.ok[i]) accepted.push_back(std::move(requests[i]));
  }
  return accepted;
}

}  // namespace makegood::loadgen
