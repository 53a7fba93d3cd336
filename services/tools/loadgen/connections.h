// File: services/tools/loadgen/connections.h
//
// The gRPC channels and stubs every load call goes through, with --metadata.
//
// Thread-safety: built once; thread-safe afterwards (stubs and channels are).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "makegood/v1/member_service.grpc.pb.h"
#include "makegood/v1/order_service.grpc.pb.h"
#include "makegood/v1/rating_service.grpc.pb.h"
#include "makegood/v1/refund_service.grpc.pb.h"

namespace makegood::loadgen {

namespace v1 = ::makegood::v1;

using HealthStub = ::grpc::health::v1::Health::Stub;

// The channels and stubs every call goes through, with --metadata. Built
// once; thread-safe afterwards (stubs and channels are).
class Connections {
 public:
  Connections(const std::string& target, int channels,
              std::vector<std::pair<std::string, std::string>> metadata) {
    metadata_ = std::move(metadata);
    for (int i = 0; i < channels; ++i) {
      grpc::ChannelArguments args;
      // Without a local pool, channels with equal arguments share one
      // connection.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
      std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
          target, grpc::InsecureChannelCredentials(), args);
      ratings_.push_back(v1::RatingService::NewStub(channel));
      members_.push_back(v1::MemberService::NewStub(channel));
      orders_.push_back(v1::OrderService::NewStub(channel));
      refunds_.push_back(v1::RefundService::NewStub(channel));
      health_.push_back(grpc::health::v1::Health::NewStub(channel));
      channels_.push_back(std::move(channel));
    }
  }

  bool WaitForConnected(absl::Duration wait) {
    auto deadline = absl::ToChronoTime(absl::Now() + wait);
    for (auto& channel : channels_) {
      if (!channel->WaitForConnected(deadline)) return false;
    }
    return true;
  }

  v1::RatingService::Stub& Rating(uint64_t n) {
    return *ratings_[n % ratings_.size()];
  }
  v1::MemberService::Stub& Member(uint64_t n) {
    return *members_[n % members_.size()];
  }
  v1::OrderService::Stub& Order(uint64_t n) {
    return *orders_[n % orders_.size()];
  }
  v1::RefundService::Stub& Refund(uint64_t n) {
    return *refunds_[n % refunds_.size()];
  }
  HealthStub& Health(uint64_t n) { return *health_[n % health_.size()]; }

  // Deadline and --metadata for a makegood.v1 call.
  void Prepare(grpc::ClientContext& context, absl::Duration timeout,
               bool with_metadata) const {
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    if (!with_metadata) return;
    for (const auto& [key, value] : metadata_) context.AddMetadata(key, value);
  }

 private:
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::RatingService::Stub>> ratings_;
  std::vector<std::unique_ptr<v1::MemberService::Stub>> members_;
  std::vector<std::unique_ptr<v1::OrderService::Stub>> orders_;
  std::vector<std::unique_ptr<v1::RefundService::Stub>> refunds_;
  std::vector<std::unique_ptr<HealthStub>> health_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

// Polls Health/Check until SERVING; false after `wait`.
bool WaitServing(Connections& connections, absl::Duration wait);

}  // namespace makegood::loadgen
