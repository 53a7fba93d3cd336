// File: tests/unit/metrics/fake_interceptor_batch.h
//
// A gRPC interception batch at one hook point, so an interceptor can be run
// without a server (tests and benchmarks). Only the status is real; every
// other accessor answers "nothing there".
//
// Example:
//   FakeInterceptorBatch batch(
//       InterceptionHookPoints::PRE_SEND_STATUS,
//       grpc::Status(grpc::StatusCode::NOT_FOUND, "no"));
//   interceptor->Intercept(&batch);
//   EXPECT_EQ(batch.proceeded(), 1);
//
// Thread-safety: thread-compatible.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "grpcpp/support/interceptor.h"
#include "grpcpp/support/status.h"

namespace makegood::metrics {

class FakeInterceptorBatch final
    : public grpc::experimental::InterceptorBatchMethods {
 public:
  FakeInterceptorBatch(grpc::experimental::InterceptionHookPoints point,
                       grpc::Status status)
      : point_(point), status_(std::move(status)) {}

  int proceeded() const { return proceeded_; }

  bool QueryInterceptionHookPoint(
      grpc::experimental::InterceptionHookPoints type) override {
    return type == point_;
  }
  void Proceed() override { ++proceeded_; }
  void Hijack() override {}
  grpc::ByteBuffer* GetSerializedSendMessage() override { return nullptr; }
  const void* GetSendMessage() override { return nullptr; }
  void ModifySendMessage(const void*) override {}
  bool GetSendMessageStatus() override { return true; }
  std::multimap<std::string, std::string>* GetSendInitialMetadata() override {
    return nullptr;
  }
  grpc::Status GetSendStatus() override { return status_; }
  void ModifySendStatus(const grpc::Status& status) override {
    status_ = status;
  }
  std::multimap<std::string, std::string>* GetSendTrailingMetadata() override {
    return nullptr;
  }
  void* GetRecvMessage() override { return nullptr; }
  std::multimap<grpc::string_ref, grpc::string_ref>* GetRecvInitialMetadata()
      override {
    return nullptr;
  }
  grpc::Status* GetRecvStatus() override { return nullptr; }
  std::multimap<grpc::string_ref, grpc::string_ref>* GetRecvTrailingMetadata()
      override {
    return nullptr;
  }
  std::unique_ptr<grpc::ChannelInterface> GetInterceptedChannel() override {
    return nullptr;
  }
  void FailHijackedRecvMessage() override {}
  void FailHijackedSendMessage() override {}

 private:
  const grpc::experimental::InterceptionHookPoints point_;
  grpc::Status status_;
  int proceeded_ = 0;
};

}  // namespace makegood::metrics
