// File: services/policy_file/policy_document.h
//
// The policy document (makegood.v1.Policy written as textproto): parsing,
// validation with errors that name the field, and versioning by content hash.
// ActivePolicy holds the policy in force and lets it be replaced atomically
// while requests read it.
//
// Example:
//   absl::StatusOr<PolicySnapshot> policy = LoadPolicyFile("policy.textproto");
//   if (!policy.ok()) { /* message names the file, line or field */ }
//   ActivePolicy active(std::move(*policy));
//   std::shared_ptr<const PolicySnapshot> now = active.Get();
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "makegood/v1/policy.pb.h"
#include "services/policy/engine.h"

namespace makegood::policy_file {

// One problem in a policy, e.g. {"tiers[1].name", "duplicate tier \"plus\""}.
struct PolicyViolation {
  std::string field;
  std::string description;
};

// A validated policy with its version. Immutable once built.
struct PolicySnapshot {
  makegood::v1::Policy policy;
  // "<name>@<first 12 hex digits of SHA-256 of the canonical bytes>".
  std::string version;
  absl::Time loaded_at;
  absl::flat_hash_set<std::string> tier_names;
  // The engine that decides under this policy; never null.
  std::shared_ptr<const policy::PolicyEngine> engine;

  bool HasTier(absl::string_view tier) const {
    return tier_names.contains(tier);
  }
};

// Every problem in `policy` (see policy_convert.h: document-level problems
// such as unset enums, and the engine's own checks), in field order; empty
// when it is valid.
std::vector<PolicyViolation> ValidatePolicy(const makegood::v1::Policy& policy);

// "<name>@<hash>" of a policy (valid or not).
std::string PolicyVersion(const makegood::v1::Policy& policy);

// Parses textproto. INVALID_ARGUMENT with "line:column: what" on syntax errors
// or unknown fields.
absl::StatusOr<makegood::v1::Policy> ParsePolicyText(absl::string_view text);

// Validates and builds the engine for `policy`. INVALID_ARGUMENT listing
// every violation as "field: description" on an invalid policy.
absl::StatusOr<PolicySnapshot> BuildPolicySnapshot(makegood::v1::Policy policy,
                                                   absl::Time now);

// Parses and validates policy text that came from `origin` (a file name,
// for messages): INVALID_ARGUMENT "<origin>: ..." naming the line or the
// fields, as ParsePolicyText and BuildPolicySnapshot do.
absl::StatusOr<PolicySnapshot> BuildPolicySnapshotFromText(
    absl::string_view text, absl::string_view origin, absl::Time now);

// Reads, parses and validates a policy file; errors name the file.
absl::StatusOr<PolicySnapshot> LoadPolicyFile(const std::string& path,
                                              absl::Time now);

// The policy in force. Thread-safe: readers get a shared snapshot that stays
// valid while they use it, even if Set() replaces it meanwhile.
class ActivePolicy {
 public:
  explicit ActivePolicy(PolicySnapshot initial)
      : current_(std::make_shared<const PolicySnapshot>(std::move(initial))) {}

  std::shared_ptr<const PolicySnapshot> Get() const {
    absl::MutexLock lock(&mu_);
    return current_;
  }

  void Set(PolicySnapshot next) {
    auto snapshot = std::make_shared<const PolicySnapshot>(std::move(next));
    absl::MutexLock lock(&mu_);
    current_ = std::move(snapshot);
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const PolicySnapshot> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace makegood::policy_file
