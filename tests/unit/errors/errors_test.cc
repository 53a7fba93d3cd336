#include "services/errors/errors.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"
#include "services/errors/grpc_status.h"

namespace makegood::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Violations TwoViolations() {
  Violations violations;
  violations.Add("order.currency", "must be an ISO 4217 code");
  violations.Add("order.lines[1].quantity", "must be 1-10000");
  return violations;
}

// The google.rpc.Status carried in grpc-status-details-bin.
google::rpc::Status Details(const grpc::Status& status) {
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(status.error_details()));
  return details;
}

TEST(Violations, EmptyIsOk) {
  Violations violations;
  EXPECT_TRUE(violations.empty());
  EXPECT_TRUE(violations.ToStatus().ok());
}

TEST(Violations, ToStatusIsInvalidArgumentListingEveryField) {
  absl::Status status = TwoViolations().ToStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "invalid request: order.currency: must be an ISO 4217 code; "
            "order.lines[1].quantity: must be 1-10000");
}

TEST(Violations, ToStatusCarriesABadRequestPayload) {
  absl::Status status = TwoViolations().ToStatus();
  absl::optional<absl::Cord> payload =
      status.GetPayload("type.googleapis.com/google.rpc.BadRequest");
  ASSERT_TRUE(payload.has_value());
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(bad_request.ParseFromString(std::string(*payload)));
  ASSERT_EQ(bad_request.field_violations_size(), 2);
  EXPECT_EQ(bad_request.field_violations(1).field(), "order.lines[1].quantity");
}

TEST(ToGrpcStatus, SendsViolationsAsABadRequestInsideGoogleRpcStatus) {
  grpc::Status status = ToGrpcStatus(TwoViolations().ToStatus());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("order.lines[1].quantity"));

  google::rpc::Status details = Details(status);
  EXPECT_EQ(details.code(),
            static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(details.message(), status.error_message());
  ASSERT_EQ(details.details_size(), 1);
  ASSERT_TRUE(details.details(0).Is<google::rpc::BadRequest>());
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(details.details(0).UnpackTo(&bad_request));
  ASSERT_EQ(bad_request.field_violations_size(), 2);
  EXPECT_EQ(bad_request.field_violations(0).field(), "order.currency");
  EXPECT_EQ(bad_request.field_violations(0).description(),
            "must be an ISO 4217 code");
  EXPECT_EQ(bad_request.field_violations(1).field(), "order.lines[1].quantity");
  EXPECT_EQ(bad_request.field_violations(1).description(), "must be 1-10000");
}

TEST(ErrorWithReason, KeepsCodeAndMessage) {
  absl::Status status = ErrorWithReason(absl::StatusCode::kResourceExhausted,
                                        "RATE_LIMITED", "slow down");
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "slow down");
  EXPECT_EQ(ErrorReason(status), "RATE_LIMITED");
}

TEST(ErrorWithReason, TravelsAsErrorInfoInTheMakegoodDomain) {
  grpc::Status status = ToGrpcStatus(ErrorWithReason(
      absl::StatusCode::kFailedPrecondition, "MONEY_LOCKED", "order rated"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(), "order rated");

  google::rpc::Status details = Details(status);
  EXPECT_EQ(details.code(),
            static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "MONEY_LOCKED");
  EXPECT_EQ(info.domain(), "makegood");
  EXPECT_EQ(info.domain(), kErrorDomain);
}

TEST(ErrorReason, IsEmptyWithoutAnErrorInfo) {
  EXPECT_EQ(ErrorReason(absl::OkStatus()), "");
  EXPECT_EQ(ErrorReason(absl::NotFoundError("no order")), "");
  EXPECT_EQ(ErrorReason(TwoViolations().ToStatus()), "");
}

TEST(ErrorReason, IsEmptyForAnUnparsableErrorInfo) {
  absl::Status status = absl::AbortedError("x");
  status.SetPayload("type.googleapis.com/google.rpc.ErrorInfo",
                    absl::Cord("\xff\xff\xff"));
  EXPECT_EQ(ErrorReason(status), "");
}

TEST(ToGrpcStatus, ScrubsInternalDataLossAndUnknownMessages) {
  for (absl::StatusCode code :
       {absl::StatusCode::kInternal, absl::StatusCode::kDataLoss,
        absl::StatusCode::kUnknown}) {
    grpc::Status status =
        ToGrpcStatus(absl::Status(code, "redis at 10.1.2.3 said ERR secret"));
    EXPECT_EQ(static_cast<int>(status.error_code()), static_cast<int>(code));
    EXPECT_EQ(status.error_message(), "internal error; it has been logged");
    EXPECT_EQ(status.error_details(), "");
  }
}

TEST(ToGrpcStatus, SendsNoDetailsOfAnInternalError) {
  absl::Status internal =
      ErrorWithReason(absl::StatusCode::kInternal, "STORE_CORRUPT",
                      "hash mg:{p3}:order:o1 has no field 'proto'");
  grpc::Status status = ToGrpcStatus(internal);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(status.error_message(), Not(HasSubstr("mg:{p3}")));
  EXPECT_EQ(status.error_details(), "");
}

TEST(ToGrpcStatus, KeepsCodeAndMessageOfCallerFacingErrors) {
  for (absl::StatusCode code :
       {absl::StatusCode::kNotFound, absl::StatusCode::kFailedPrecondition,
        absl::StatusCode::kUnavailable, absl::StatusCode::kAborted,
        absl::StatusCode::kResourceExhausted,
        absl::StatusCode::kDeadlineExceeded}) {
    grpc::Status status = ToGrpcStatus(absl::Status(code, "order o1 is gone"));
    EXPECT_EQ(static_cast<int>(status.error_code()), static_cast<int>(code));
    EXPECT_EQ(status.error_message(), "order o1 is gone");
    // Without payloads there is nothing to put in the details.
    EXPECT_EQ(status.error_details(), "");
  }
}

TEST(ToGrpcStatus, MapsOkToOk) {
  grpc::Status status = ToGrpcStatus(absl::OkStatus());
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.error_message(), "");
  EXPECT_EQ(status.error_details(), "");
}

}  // namespace
}  // namespace makegood::api
