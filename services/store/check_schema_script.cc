#include "services/store/check_schema_script.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace makegood::store {
namespace {

constexpr char kScript[] = "check_schema";

}  // namespace

ScriptCall BuildCheckSchemaCall(const CheckSchemaRequest& request) {
  ScriptCall call;
  call.keys = {KeySchema::MetaKey()};
  call.args = {absl::StrCat(request.partitions),
               absl::StrCat(request.schema_version)};
  return call;
}

absl::StatusOr<CheckSchemaReply> ParseCheckSchemaReply(
    const redis::RedisReply& reply) {
  auto elements = ArrayReply(reply, 2, kScript);
  if (!elements.ok()) return elements.status();
  auto partitions = IntegerAt(**elements, 0, kScript, "partitions");
  if (!partitions.ok()) return partitions.status();
  auto schema_version = IntegerAt(**elements, 1, kScript, "schema_version");
  if (!schema_version.ok()) return schema_version.status();
  return CheckSchemaReply{.partitions = *partitions,
                          .schema_version = *schema_version};
}

absl::Status CheckRecordedSchema(const CheckSchemaReply& recorded,
                                 int partitions) {
  if (recorded.partitions == partitions &&
      recorded.schema_version == kSchemaVersion) {
    return absl::OkStatus();
  }
  std::string what =
      absl::StrCat("redis holds data for partitions=", recorded.partitions,
                   " schema_version=", recorded.schema_version,
                   " but this server has partitions=", partitions,
                   " schema_version=", kSchemaVersion, "; refusing to serve");
  if (recorded.schema_version == 1 && kSchemaVersion == 2) {
    absl::StrAppend(
        &what,
        ". Schema 1 keys use the plain partition tags {p<N>}, which this "
        "release does not read (it uses balanced tags {p<N>.<s>}): with "
        "every server stopped, run makegood_admin migrate-tags (it renames "
        "the keys to the new tags, then records schema_version 2), or let "
        "the old release drain (every refund settled) and start this one on "
        "an empty Redis; see "
        "docs/ARCHITECTURE.md, \"Partition tags\"");
  } else if (recorded.schema_version > kSchemaVersion) {
    absl::StrAppend(&what, ". The data was written by a newer release");
  } else if (recorded.partitions != partitions) {
    absl::StrAppend(&what, ". Start with --partitions=", recorded.partitions,
                    " (every key depends on it)");
  }
  return absl::FailedPreconditionError(what);
}

}  // namespace makegood::store
