// File: services/policy_reload/policy_watcher.h
//
// PolicyWatcher: hot reload of the policy file. It polls the file, and when
// its content changes it loads it and swaps it into an ActivePolicy. A file
// that does not parse or validate (including one caught half-written) is
// refused: the violations are logged ("policy_reload_rejected") and the
// current policy keeps serving.
//
// Change detection: every check stat()s the path, following symlinks, and
// reads and hashes the file (policy files are a few KB). The file counts as
// changed when its (device, inode, size, mtime) or its SHA-256 differ from
// the last check's. Following symlinks is what makes Kubernetes ConfigMap
// volumes work: there the path is a symlink into "..data/", which the kubelet
// swaps atomically to a new directory, so the inode changes while the path
// stays. The content hash catches rewrites that keep size and mtime (mtime is
// only as fine as the kernel's clock tick). A file whose stat changes while
// it is being read is left for the next check. Content equal to the active
// policy's version is not reloaded (e.g. on the first check).
//
// Example:
//   ActivePolicy active(*LoadPolicyFile(path, clock.Now()));
//   PolicyWatcher watcher(path, active, clock, absl::Seconds(2));
//   watcher.Start();
//   ...
//   watcher.Stop();  // also done by the destructor
//
// Thread-safety: all methods are thread-safe. The watcher owns one thread
// between Start() and Stop(); CheckNow() may also be called from any thread
// (tests call it instead of waiting) and checks are serialized. `active` and
// `clock` are not owned and must outlive the watcher.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/core/clock.h"
#include "services/policy_file/policy_document.h"

namespace makegood::policy_reload {

// Counters for metrics. Monotonic over the watcher's life.
struct PolicyWatcherStats {
  // Checks made (by the thread or CheckNow()).
  int64_t checks = 0;
  // New policies swapped in.
  int64_t reloads = 0;
  // Changed files refused because they did not parse or validate.
  int64_t rejected_reloads = 0;
  // Checks that could not stat or read the file.
  int64_t read_errors = 0;
  // Valid policies the reload guard refused.
  int64_t refused_reloads = 0;
};

// Why a reload guard refuses a valid policy.
struct ReloadRefusal {
  std::string message;
  // The currency the policy would stop serving while it has open orders
  // ("" when the guard could not tell), and how many it has.
  std::string currency;
  int64_t open_orders = 0;
};

// Says whether `next` may replace `current` (nullopt: it may). Called on the
// watcher's thread; may block.
using ReloadGuard = std::function<std::optional<ReloadRefusal>(
    const policy_file::PolicySnapshot& current,
    const policy_file::PolicySnapshot& next)>;

class PolicyWatcher {
 public:
  // What one check did.
  enum class CheckResult {
    kUnchanged,  // same file and content as last time, or the active policy
    kReloaded,   // a new policy is active
    kRejected,   // changed, but invalid: the current policy stays
    kRefused,    // valid, but the guard refused it: the current policy stays
    kReadError,  // missing, unreadable, too large or written during the read
  };

  // Watches `path` (followed if a symlink) every `interval` once started,
  // swapping valid changes into `active`, stamped with `clock`'s time, when
  // `guard` (if set) does not refuse them.
  PolicyWatcher(std::string path, policy_file::ActivePolicy& active,
                const Clock& clock, absl::Duration interval,
                ReloadGuard guard = nullptr);
  ~PolicyWatcher();

  PolicyWatcher(const PolicyWatcher&) = delete;
  PolicyWatcher& operator=(const PolicyWatcher&) = delete;

  // Starts the polling thread; its first check is one interval away. No-op
  // if already running.
  void Start();
  // Stops the polling thread and waits for it (an ongoing check finishes).
  // No-op if not running. The watcher can be started again.
  void Stop();

  // Checks the file once, on the calling thread, and reloads it if changed.
  CheckResult CheckNow();

  [[nodiscard]] PolicyWatcherStats stats() const;

 private:
  // What identifies one version of the file without reading it.
  struct FileSignature {
    uint64_t device = 0;
    uint64_t inode = 0;
    int64_t size = 0;
    int64_t mtime_ns = 0;

    friend bool operator==(const FileSignature&,
                           const FileSignature&) = default;
  };

  void Run();
  CheckResult Check() ABSL_EXCLUSIVE_LOCKS_REQUIRED(check_mu_);
  // Logs `event` for `error` unless it repeats the last logged error.
  void ReportError(absl::string_view event, const std::string& error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(check_mu_);

  const std::string path_;
  policy_file::ActivePolicy& active_;
  const Clock& clock_;
  const absl::Duration interval_;
  const ReloadGuard guard_;

  // Serializes checks; guards what the last check saw.
  absl::Mutex check_mu_;
  bool seen_any_ ABSL_GUARDED_BY(check_mu_) = false;
  FileSignature seen_signature_ ABSL_GUARDED_BY(check_mu_);
  std::string seen_hash_ ABSL_GUARDED_BY(check_mu_);
  std::string last_error_ ABSL_GUARDED_BY(check_mu_);

  mutable absl::Mutex mu_;
  PolicyWatcherStats stats_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;        // touched only by Start() and Stop()
  absl::Mutex lifecycle_mu_;  // serializes Start() and Stop()
};

}  // namespace makegood::policy_reload
