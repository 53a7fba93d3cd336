#include "services/store/proto_codec.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace makegood::store {

std::string SerializeDeterministic(
    const google::protobuf::MessageLite& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return bytes;
}

absl::StatusOr<makegood::v1::WriteResult> ParseWriteResult(
    absl::string_view outcome) {
  if (outcome == "CREATED") return makegood::v1::WRITE_RESULT_CREATED;
  if (outcome == "UPDATED") return makegood::v1::WRITE_RESULT_UPDATED;
  if (outcome == "UNCHANGED") return makegood::v1::WRITE_RESULT_UNCHANGED;
  return absl::InternalError(
      absl::StrCat("unexpected script outcome \"", outcome, "\""));
}

}  // namespace makegood::store
