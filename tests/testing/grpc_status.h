// File: tests/testing/grpc_status.h
//
// What a test reads off a refused gRPC call: the ErrorInfo reason makegood
// attached (services/errors/errors.h) and the BadRequest field violations.
//
// Example:
//   EXPECT_EQ(ErrorReason(status), "RATE_LIMITED");
//   EXPECT_THAT(ViolatedFields(status), ElementsAre("order.order_id"));
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "grpcpp/support/status.h"

namespace makegood::testing {

// The google.rpc.ErrorInfo reason in `status`'s details, or "" if none.
std::string ErrorReason(const grpc::Status& status);

// (field, description) of every google.rpc.BadRequest field violation.
std::vector<std::pair<std::string, std::string>> FieldViolations(
    const grpc::Status& status);

// The field paths of FieldViolations, in order.
std::vector<std::string> ViolatedFields(const grpc::Status& status);

}  // namespace makegood::testing
