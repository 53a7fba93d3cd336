// File: services/auth/role.h
//
// The roles a caller can hold, and small sets of them. A role is what a
// method table entry allows (method_roles.h); callers get theirs from a JWT
// "roles" claim, the API keys file or the mTLS clients file.
//
//   app-backend   the consumer app's backend: rates deliveries, reads refunds
//                 and trust
//   order-system  the order platform: records deliveries and members
//   agent         customer-support agents: goodwill, reads
//   admin         operators: the refund policy, reads
//   partner       a store or a courier: appeals the feedback a rating sent
//                 about it (FeedbackService). Its principal id says which:
//                 "store:<store_id>" or "courier:<courier_id>"
//
// Example:
//   absl::StatusOr<RoleSet> roles = ParseRoleList("agent,admin");
//   if (roles.ok() && roles->Contains(Role::kAgent)) ...
//
// Thread-safety: plain values; const use from many threads is safe.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace makegood::auth {

enum class Role : uint8_t {
  kAppBackend = 0,
  kOrderSystem = 1,
  kAgent = 2,
  kAdmin = 3,
  kPartner = 4,
};

inline constexpr int kRoleCount = 5;

// "app-backend", "order-system", "agent", "admin" or "partner".
absl::string_view RoleName(Role role);

// The role named exactly (lower case) `name`, or nullopt.
std::optional<Role> ParseRole(absl::string_view name);

// A set of roles (a bit set; copy freely).
class RoleSet {
 public:
  constexpr RoleSet() = default;
  constexpr RoleSet(std::initializer_list<Role> roles) {
    for (Role role : roles) bits_ |= Bit(role);
  }

  // Every role (the insecure development mode's principal).
  static constexpr RoleSet All() {
    return RoleSet({Role::kAppBackend, Role::kOrderSystem, Role::kAgent,
                    Role::kAdmin, Role::kPartner});
  }

  constexpr void Add(Role role) { bits_ |= Bit(role); }
  constexpr bool Contains(Role role) const { return (bits_ & Bit(role)) != 0; }
  // True if the sets share at least one role.
  constexpr bool Intersects(RoleSet other) const {
    return (bits_ & other.bits_) != 0;
  }
  constexpr bool empty() const { return bits_ == 0; }

  friend constexpr bool operator==(RoleSet a, RoleSet b) {
    return a.bits_ == b.bits_;
  }

  // Comma-separated names in enum order, e.g. "agent,admin"; "" if empty.
  std::string ToString() const;

 private:
  static constexpr uint8_t Bit(Role role) {
    return static_cast<uint8_t>(1u << static_cast<uint8_t>(role));
  }
  uint8_t bits_ = 0;
};

// Parses "role[,role...]" (no spaces, no empty items, no unknown names;
// repeats are harmless). The error message names the offending item.
absl::StatusOr<RoleSet> ParseRoleList(absl::string_view text);

}  // namespace makegood::auth
