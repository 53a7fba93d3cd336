// File: services/errors/grpc_status.cc
#include "services/errors/grpc_status.h"

#include <string>

#include "absl/strings/cord.h"
#include "google/rpc/status.pb.h"
#include "services/core/log.h"

namespace makegood {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  std::string message(status.message());
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kUnknown:
      // Neither the message nor any detail of an internal failure reaches
      // the caller; the log keeps them.
      Log(LogLevel::kError, "internal_error",
          {{"code", absl::StatusCodeToString(status.code())},
           {"error", message}});
      return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                          "internal error; it has been logged");
    default:
      break;
  }
  google::rpc::Status details;
  details.set_code(static_cast<int>(status.code()));
  details.set_message(message);
  status.ForEachPayload(
      [&details](absl::string_view type_url, const absl::Cord& value) {
        auto* any = details.add_details();
        any->set_type_url(std::string(type_url));
        any->set_value(std::string(value));
      });
  return grpc::Status(
      static_cast<grpc::StatusCode>(status.code()), message,
      details.details_size() > 0 ? details.SerializeAsString() : std::string());
}

}  // namespace makegood
