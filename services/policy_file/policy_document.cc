#include "services/policy_file/policy_document.h"

#include <openssl/sha.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"
#include "services/core/text.h"

namespace makegood::policy_file {
namespace {

using makegood::v1::Policy;

constexpr size_t kMaxPolicyNameLength = 64;
constexpr size_t kMaxTierNameLength = 32;

// Collects textproto syntax errors as "line:column: message".
class ErrorCollector final : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    errors_.push_back(absl::StrCat(line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    errors_.push_back(absl::StrCat(line + 1, ":", column + 1, ": ", message));
  }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::vector<std::string> errors_;
};

std::string CanonicalBytes(const Policy& policy) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    policy.SerializeToCodedStream(&coded);
  }
  return bytes;
}

}  // namespace

std::vector<PolicyViolation> ValidatePolicy(const Policy& policy) {
  std::vector<PolicyViolation> violations;
  if (!IsLowerToken(policy.name(), kMaxPolicyNameLength)) {
    violations.push_back(
        {"name", absl::StrCat("must be 1-", kMaxPolicyNameLength,
                              " characters of [a-z0-9_-]")});
  }
  if (policy.tiers().empty()) {
    violations.push_back({"tiers", "at least one tier is required"});
  }
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < policy.tiers_size(); ++i) {
    const std::string& name = policy.tiers(i).name();
    std::string field = absl::StrCat("tiers[", i, "].name");
    if (!IsLowerToken(name, kMaxTierNameLength)) {
      violations.push_back(
          {field, absl::StrCat("must be 1-", kMaxTierNameLength,
                               " characters of [a-z0-9_-]")});
    } else if (!seen.insert(name).second) {
      violations.push_back(
          {field, absl::StrCat("duplicate tier \"", name, "\"")});
    }
  }
  return violations;
}

std::string PolicyVersion(const Policy& policy) {
  std::string bytes = CanonicalBytes(policy);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
         digest);
  std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
  return absl::StrCat(policy.name(), "@", hex.substr(0, 12));
}

absl::StatusOr<Policy> ParsePolicyText(absl::string_view text) {
  Policy policy;
  ErrorCollector errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &policy)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "policy does not parse: ", absl::StrJoin(errors.errors(), "; ")));
  }
  return policy;
}

absl::StatusOr<PolicySnapshot> BuildPolicySnapshot(Policy policy,
                                                   absl::Time now) {
  std::vector<PolicyViolation> violations = ValidatePolicy(policy);
  if (!violations.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid policy: ",
        absl::StrJoin(violations, "; ",
                      [](std::string* out, const PolicyViolation& v) {
                        absl::StrAppend(out, v.field, ": ", v.description);
                      })));
  }
  PolicySnapshot snapshot;
  snapshot.version = PolicyVersion(policy);
  // TODO(issue 4): build the engine config from the document itself. Until the
  // document carries the full policy, the engine runs the built-in default.
  absl::StatusOr<policy::PolicyEngine> engine =
      policy::PolicyEngine::Create(policy::DefaultPolicyConfig(),
                                   snapshot.version);
  if (!engine.ok()) return engine.status();
  snapshot.engine =
      std::make_shared<const policy::PolicyEngine>(*std::move(engine));
  snapshot.loaded_at = now;
  for (const auto& tier : policy.tiers())
    snapshot.tier_names.insert(tier.name());
  snapshot.policy = std::move(policy);
  return snapshot;
}

absl::StatusOr<PolicySnapshot> LoadPolicyFile(const std::string& path,
                                              absl::Time now) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("policy file ", path, " cannot be read"));
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<Policy> policy = ParsePolicyText(text.str());
  if (!policy.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", policy.status().message()));
  }
  absl::StatusOr<PolicySnapshot> snapshot =
      BuildPolicySnapshot(*std::move(policy), now);
  if (!snapshot.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", snapshot.status().message()));
  }
  return snapshot;
}

}  // namespace makegood::policy_file
