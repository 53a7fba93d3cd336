#include "services/policy_reload/policy_watcher.h"

#include <openssl/sha.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "services/core/log.h"

namespace makegood::policy_reload {
namespace {

// A policy is a few KB; anything this large is not one.
constexpr int64_t kMaxPolicyFileBytes = 4 << 20;

std::string Sha256(const std::string& bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
         digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

// The whole file at `path`, or an error naming it.
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"),
                                             &std::fclose);
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "policy file ", path, " cannot be read: ", std::strerror(errno)));
  }
  std::string content;
  char buffer[16384];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    content.append(buffer, n);
    if (static_cast<int64_t>(content.size()) > kMaxPolicyFileBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy file ", path, " is larger than ",
                       kMaxPolicyFileBytes, " bytes"));
    }
  }
  if (std::ferror(file.get())) {
    return absl::UnavailableError(
        absl::StrCat("policy file ", path, " cannot be read"));
  }
  return content;
}

}  // namespace

PolicyWatcher::PolicyWatcher(std::string path,
                             policy_file::ActivePolicy& active,
                             const Clock& clock, absl::Duration interval,
                             ReloadGuard guard)
    : path_(std::move(path)),
      active_(active),
      clock_(clock),
      interval_(interval),
      guard_(std::move(guard)) {}

PolicyWatcher::~PolicyWatcher() { Stop(); }

void PolicyWatcher::Start() {
  absl::MutexLock lifecycle(&lifecycle_mu_);
  if (thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void PolicyWatcher::Stop() {
  absl::MutexLock lifecycle(&lifecycle_mu_);
  if (!thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void PolicyWatcher::Run() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_)) {
        return;
      }
    }
    CheckNow();
  }
}

PolicyWatcherStats PolicyWatcher::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

PolicyWatcher::CheckResult PolicyWatcher::CheckNow() {
  CheckResult result;
  {
    absl::MutexLock lock(&check_mu_);
    result = Check();
  }
  absl::MutexLock lock(&mu_);
  ++stats_.checks;
  switch (result) {
    case CheckResult::kReloaded:
      ++stats_.reloads;
      break;
    case CheckResult::kRejected:
      ++stats_.rejected_reloads;
      break;
    case CheckResult::kReadError:
      ++stats_.read_errors;
      break;
    case CheckResult::kRefused:
      ++stats_.refused_reloads;
      break;
    case CheckResult::kUnchanged:
      break;
  }
  return result;
}

void PolicyWatcher::ReportError(absl::string_view event,
                                const std::string& error) {
  // A file that stays broken is reported once, not on every poll.
  if (error == last_error_) return;
  last_error_ = error;
  Log(LogLevel::kWarning, event,
      {{"path", path_},
       {"error", error},
       {"active_version", active_.Get()->version}});
}

PolicyWatcher::CheckResult PolicyWatcher::Check() {
  // stat() follows symlinks: a ConfigMap's swapped "..data" shows up as a
  // new inode behind the same path.
  const auto signature = [this]() -> std::optional<FileSignature> {
    struct stat st;
    if (::stat(path_.c_str(), &st) != 0) return std::nullopt;
    return FileSignature{
        .device = static_cast<uint64_t>(st.st_dev),
        .inode = static_cast<uint64_t>(st.st_ino),
        .size = static_cast<int64_t>(st.st_size),
        .mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                    st.st_mtim.tv_nsec};
  };
  const std::optional<FileSignature> before = signature();
  if (!before.has_value()) {
    ReportError("policy_file_unreadable",
                absl::StrCat("policy file ", path_,
                             " cannot be read: ", std::strerror(errno)));
    return CheckResult::kReadError;
  }
  absl::StatusOr<std::string> content = ReadFile(path_);
  if (!content.ok()) {
    ReportError("policy_file_unreadable",
                std::string(content.status().message()));
    return CheckResult::kReadError;
  }
  if (signature() != before) {
    // Written (or swapped) while we read: what we have may be a mix. The
    // next check reads it again.
    return CheckResult::kReadError;
  }
  const std::string hash = Sha256(*content);
  if (seen_any_ && *before == seen_signature_ && hash == seen_hash_) {
    return CheckResult::kUnchanged;
  }
  seen_any_ = true;
  seen_signature_ = *before;
  seen_hash_ = hash;

  absl::StatusOr<policy_file::PolicySnapshot> snapshot =
      policy_file::BuildPolicySnapshotFromText(*content, path_, clock_.Now());
  if (!snapshot.ok()) {
    ReportError("policy_reload_rejected",
                std::string(snapshot.status().message()));
    return CheckResult::kRejected;
  }
  const std::shared_ptr<const policy_file::PolicySnapshot> current =
      active_.Get();
  const std::string previous = current->version;
  if (snapshot->version == previous) {
    last_error_.clear();
    return CheckResult::kUnchanged;
  }
  if (guard_ != nullptr) {
    if (std::optional<ReloadRefusal> refusal = guard_(*current, *snapshot)) {
      // Checked again at the next poll: the reason may pass.
      seen_any_ = false;
      if (refusal->message != last_error_) {
        last_error_ = refusal->message;
        Log(LogLevel::kWarning, "policy_reload_refused",
            {{"path", path_},
             {"version", snapshot->version},
             {"active_version", previous},
             {"currency", refusal->currency},
             {"open_orders", refusal->open_orders},
             {"error", refusal->message}});
      }
      return CheckResult::kRefused;
    }
  }
  last_error_.clear();
  const std::string version = snapshot->version;
  active_.Set(*std::move(snapshot));
  Log(LogLevel::kInfo, "policy_reloaded",
      {{"path", path_}, {"version", version}, {"previous_version", previous}});
  return CheckResult::kReloaded;
}

}  // namespace makegood::policy_reload
