#include "services/auth/role.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace makegood::auth {
namespace {

constexpr Role kAllRoles[kRoleCount] = {Role::kAppBackend, Role::kOrderSystem,
                                        Role::kAgent, Role::kAdmin,
                                        Role::kPartner};

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAppBackend:
      return "app-backend";
    case Role::kOrderSystem:
      return "order-system";
    case Role::kAgent:
      return "agent";
    case Role::kAdmin:
      return "admin";
    case Role::kPartner:
      return "partner";
  }
  return "unknown";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (Role role : kAllRoles) {
    if (RoleName(role) == name) return role;
  }
  return std::nullopt;
}

std::string RoleSet::ToString() const {
  std::string out;
  for (Role role : kAllRoles) {
    if (!Contains(role)) continue;
    if (!out.empty()) out.push_back(',');
    absl::StrAppend(&out, RoleName(role));
  }
  return out;
}

absl::StatusOr<RoleSet> ParseRoleList(absl::string_view text) {
  if (text.empty()) {
    return absl::InvalidArgumentError("role list is empty");
  }
  RoleSet roles;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    std::optional<Role> role = ParseRole(item);
    if (!role.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown role \"", item,
                       "\" (roles: app-backend, order-system, agent, admin, "
                       "partner)"));
    }
    roles.Add(*role);
  }
  return roles;
}

}  // namespace makegood::auth
