// File: services/store/proto_codec.h
//
// Helpers shared by the stores: deterministic protobuf bytes (so identical
// content compares equal inside Lua) and decoding of scripts' result tags.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"
#include "makegood/v1/order.pb.h"
#include "services/redis/redis_reply.h"

namespace makegood::store {

// Serializes with deterministic field and map order.
std::string SerializeDeterministic(
    const google::protobuf::MessageLite& message);

// CREATED / UPDATED / UNCHANGED as the API enum; INTERNAL otherwise.
absl::StatusOr<makegood::v1::WriteResult> ParseWriteResult(
    absl::string_view outcome);

}  // namespace makegood::store
