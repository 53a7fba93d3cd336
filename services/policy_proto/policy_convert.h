// File: services/policy_proto/policy_convert.h
//
// Conversion between the policy document (makegood.v1.Policy, protobuf) and
// the engine's plain config (policy::PolicyConfig), so that the pure engine
// never sees protobuf.
//
// Validation happens in two layers, reported together and in field order:
//   - document-level: what only the protobuf form can get wrong (an enum left
//     at *_UNSPECIFIED or out of range, a malformed Duration, a required
//     section left out);
//   - engine-level: policy::Validate() on the converted config (ranges,
//     curve shape, duplicates, ...).
// Every violation's `field` is the path of the textproto field to fix, e.g.
// "tiers[1].instant_budget.capacity_minor" or "reason_rules[0].effect". An
// engine violation at or below a field that already has a document-level
// violation is left out: it would only repeat the same problem.
//
// Example:
//   absl::StatusOr<policy::PolicyConfig> config = ToPolicyConfig(document);
//   if (!config.ok()) return config.status();  // "field: message; ..."
//   v1::Policy again = FromPolicyConfig(*config);  // equal config back
//
// All functions are pure and thread-safe.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "makegood/v1/policy.pb.h"
#include "services/policy/policy_config.h"

namespace makegood::policy_proto {

// Every problem in `document`, document-level and engine-level, in the order
// of the fields in policy.proto; empty when the document is valid.
[[nodiscard]] std::vector<policy::Violation> PolicyViolations(
    const makegood::v1::Policy& document);

// The engine config `document` describes. INVALID_ARGUMENT listing every
// violation ("field: message; field: message") if it is not valid.
[[nodiscard]] absl::StatusOr<policy::PolicyConfig> ToPolicyConfig(
    const makegood::v1::Policy& document);

// The document that describes `config`: ToPolicyConfig(FromPolicyConfig(c))
// gives back `c` for every valid `c`. Every enum and section is written out
// explicitly, so the result also reads well as textproto.
[[nodiscard]] makegood::v1::Policy FromPolicyConfig(
    const policy::PolicyConfig& config);

}  // namespace makegood::policy_proto
