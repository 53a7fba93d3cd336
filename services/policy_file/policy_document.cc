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
#include "services/policy_proto/policy_convert.h"

namespace makegood::policy_file {
namespace {

using makegood::v1::Policy;

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
  for (policy::Violation& v : policy_proto::PolicyViolations(policy)) {
    violations.push_back({std::move(v.field), std::move(v.message)});
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
  absl::StatusOr<policy::PolicyConfig> config =
      policy_proto::ToPolicyConfig(policy);
  if (!config.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid policy: ", config.status().message()));
  }
  PolicySnapshot snapshot;
  snapshot.version = PolicyVersion(policy);
  absl::StatusOr<policy::PolicyEngine> engine =
      policy::PolicyEngine::Create(*std::move(config), snapshot.version);
  if (!engine.ok()) return engine.status();
  snapshot.engine =
      std::make_shared<const policy::PolicyEngine>(*std::move(engine));
  snapshot.loaded_at = now;
  for (const auto& tier : policy.tiers())
    snapshot.tier_names.insert(tier.name());
  snapshot.policy = std::move(policy);
  return snapshot;
}

absl::StatusOr<PolicySnapshot> BuildPolicySnapshotFromText(
    absl::string_view text, absl::string_view origin, absl::Time now) {
  absl::StatusOr<Policy> policy = ParsePolicyText(text);
  if (!policy.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": ", policy.status().message()));
  }
  absl::StatusOr<PolicySnapshot> snapshot =
      BuildPolicySnapshot(*std::move(policy), now);
  if (!snapshot.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": ", snapshot.status().message()));
  }
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
  return BuildPolicySnapshotFromText(text.str(), path, now);
}

}  // namespace makegood::policy_file
