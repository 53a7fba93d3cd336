#include "services/store/check_schema_script.h"

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

}  // namespace makegood::store
