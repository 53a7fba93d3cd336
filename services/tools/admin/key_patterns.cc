#include "services/tools/admin/key_patterns.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace makegood::admin {

std::string AllRefundsPattern() { return "mg:{p*}:refund:*"; }

std::string AllOrdersPattern() { return "mg:{p*}:order:*"; }

std::optional<std::string> OrderIdOfKey(absl::string_view key) {
  if (!store::KeySchema::PartitionOfKey(key).has_value()) return std::nullopt;
  key.remove_prefix(key.find("}:") + 2);
  if (!absl::ConsumePrefix(&key, "order:")) return std::nullopt;
  return std::string(key);
}

std::string TasksKey(const store::KeySchema& keys, int partition) {
  return absl::StrCat(keys.PartitionPrefix(partition), "fu:tasks");
}

}  // namespace makegood::admin
