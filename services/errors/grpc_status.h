// File: services/errors/grpc_status.h
//
// absl::Status -> grpc::Status, in one place for every handler: the code, the
// message and the Status payloads (BadRequest, ErrorInfo; errors.h) packed
// into `grpc-status-details-bin` as a google.rpc.Status. INTERNAL, DATA_LOSS
// and UNKNOWN messages are replaced by a generic text (the original is
// logged) so internals never reach callers.
//
// Example:
//   reactor->Finish(ToGrpcStatus(absl::NotFoundError("no such order")));
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace makegood {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace makegood
