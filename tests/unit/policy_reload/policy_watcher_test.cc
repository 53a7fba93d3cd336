// Hot reload of the policy file. Tests drive the watcher with CheckNow()
// instead of waiting for its thread, on real files in a per-test directory.
#include "services/policy_reload/policy_watcher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/policy_file/policy_document.h"
#include "tests/testing/fake_clock.h"

namespace makegood::policy_reload {
namespace {

namespace fs = std::filesystem;
using Result = PolicyWatcher::CheckResult;
using ::makegood::policy_file::ActivePolicy;
using ::makegood::policy_file::LoadPolicyFile;
using ::makegood::policy_file::PolicySnapshot;
using ::testing::StartsWith;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The shipped policy, renamed (a new version) when `name` is not "default".
std::string PolicyText(const std::string& name = "default") {
  static const std::string* const kDefault = new std::string(ReadAll(
      std::string(MAKEGOOD_SOURCE_DIR) + "/config/policy/default.textproto"));
  return absl::StrReplaceAll(*kDefault,
                             {{"name: \"default\"", "name: \"" + name + "\""}});
}

void Write(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << text;
}

class PolicyWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           absl::StrCat(
               "policy_watcher_", ::getpid(), "_",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "policy.textproto").string();
  }
  void TearDown() override {
    watcher_.reset();
    fs::remove_all(dir_);
  }

  // Loads the file as the server does at start-up and watches it, with
  // `guard` if set.
  void StartWatching(ReloadGuard guard = nullptr) {
    absl::StatusOr<PolicySnapshot> initial =
        LoadPolicyFile(path_, clock_.Now());
    ASSERT_TRUE(initial.ok()) << initial.status();
    active_ = std::make_unique<ActivePolicy>(*std::move(initial));
    watcher_ = std::make_unique<PolicyWatcher>(
        path_, *active_, clock_, absl::Hours(1), std::move(guard));
  }

  std::string ActiveVersion() const { return active_->Get()->version; }

  fs::path dir_;
  std::string path_;
  testing::FakeClock clock_{kStart};
  std::unique_ptr<ActivePolicy> active_;
  std::unique_ptr<PolicyWatcher> watcher_;
};

TEST_F(PolicyWatcherTest, UnchangedFileIsNotReloaded) {
  Write(path_, PolicyText());
  StartWatching();
  const std::shared_ptr<const PolicySnapshot> before = active_->Get();
  EXPECT_EQ(watcher_->CheckNow(), Result::kUnchanged);  // same as loaded
  EXPECT_EQ(watcher_->CheckNow(), Result::kUnchanged);
  EXPECT_EQ(active_->Get(), before);
  EXPECT_EQ(watcher_->stats().checks, 2);
  EXPECT_EQ(watcher_->stats().reloads, 0);
  EXPECT_EQ(watcher_->stats().rejected_reloads, 0);
}

TEST_F(PolicyWatcherTest, TouchedFileWithTheSameContentIsNotReloaded) {
  Write(path_, PolicyText());
  StartWatching();
  const std::shared_ptr<const PolicySnapshot> before = active_->Get();
  Write(path_, PolicyText());  // rewritten: new mtime, same bytes
  EXPECT_EQ(watcher_->CheckNow(), Result::kUnchanged);
  EXPECT_EQ(active_->Get(), before);
  EXPECT_EQ(watcher_->stats().reloads, 0);
}

TEST_F(PolicyWatcherTest, ValidChangeIsApplied) {
  Write(path_, PolicyText());
  StartWatching();
  clock_.Advance(absl::Minutes(5));
  Write(path_, PolicyText("second"));

  EXPECT_EQ(watcher_->CheckNow(), Result::kReloaded);

  std::shared_ptr<const PolicySnapshot> now = active_->Get();
  EXPECT_THAT(now->version, StartsWith("second@"));
  EXPECT_EQ(now->engine->version(), now->version);
  EXPECT_EQ(now->loaded_at, kStart + absl::Minutes(5));
  EXPECT_EQ(watcher_->stats().reloads, 1);
  EXPECT_EQ(watcher_->CheckNow(), Result::kUnchanged);
  EXPECT_EQ(watcher_->stats().reloads, 1);
}

TEST_F(PolicyWatcherTest, AGuardsRefusalKeepsTheOldPolicyUntilItPasses) {
  Write(path_, PolicyText());
  // Refuses while `open` orders remain, as the currency guard does.
  int open = 3;
  int asked = 0;
  std::string seen_current, seen_next;
  StartWatching(
      [&](const PolicySnapshot& current,
          const PolicySnapshot& next) -> std::optional<ReloadRefusal> {
        ++asked;
        seen_current = current.version;
        seen_next = next.version;
        if (open == 0) return std::nullopt;
        return ReloadRefusal{.message = absl::StrCat("KRW has ", open, " open"),
                             .currency = "KRW",
                             .open_orders = open};
      });
  const std::string before = ActiveVersion();
  EXPECT_EQ(asked, 0) << "not asked about the policy it started with";
  Write(path_, PolicyText("second"));

  EXPECT_EQ(watcher_->CheckNow(), Result::kRefused);
  EXPECT_EQ(ActiveVersion(), before);
  EXPECT_EQ(seen_current, before);
  EXPECT_THAT(seen_next, StartsWith("second@"));
  EXPECT_EQ(watcher_->stats().refused_reloads, 1);
  EXPECT_EQ(watcher_->stats().rejected_reloads, 0);
  // The same file is asked about again at the next check: orders get rated
  // and windows end.
  EXPECT_EQ(watcher_->CheckNow(), Result::kRefused);
  EXPECT_EQ(asked, 2);
  open = 0;
  EXPECT_EQ(watcher_->CheckNow(), Result::kReloaded);
  EXPECT_THAT(ActiveVersion(), StartsWith("second@"));
  EXPECT_EQ(watcher_->stats().refused_reloads, 2);
  EXPECT_EQ(watcher_->CheckNow(), Result::kUnchanged);
  EXPECT_EQ(asked, 3);
}

TEST_F(PolicyWatcherTest, InvalidChangeIsRefusedAndTheOldPolicyKeepsServing) {
  Write(path_, PolicyText());
  StartWatching();
  const std::shared_ptr<const PolicySnapshot> before = active_->Get();
  Write(path_, absl::StrReplaceAll(PolicyText("second"),
                                   {{"base_trust: 500", "base_trust: 5000"}}));

  EXPECT_EQ(watcher_->CheckNow(), Result::kRejected);
  EXPECT_EQ(active_->Get(), before);
  EXPECT_EQ(watcher_->stats().rejected_reloads, 1);
  // The same bad file is refused once, not on every poll.
  EXPECT_EQ(watcher_->CheckNow(), Result::kUnchanged);
  EXPECT_EQ(watcher_->stats().rejected_reloads, 1);

  // Fixed: now it is applied.
  Write(path_, PolicyText("second"));
  EXPECT_EQ(watcher_->CheckNow(), Result::kReloaded);
  EXPECT_THAT(ActiveVersion(), StartsWith("second@"));
}

TEST_F(PolicyWatcherTest, HalfWrittenFileIsRefusedUntilComplete) {
  Write(path_, PolicyText());
  StartWatching();
  const std::string next = PolicyText("second");
  for (size_t cut : {next.size() / 3, next.size() / 2, next.size() - 40}) {
    Write(path_, next.substr(0, cut));
    EXPECT_EQ(watcher_->CheckNow(), Result::kRejected) << cut;
    EXPECT_THAT(ActiveVersion(), StartsWith("default@")) << cut;
  }
  EXPECT_EQ(watcher_->stats().rejected_reloads, 3);
  Write(path_, next);
  EXPECT_EQ(watcher_->CheckNow(), Result::kReloaded);
  EXPECT_THAT(ActiveVersion(), StartsWith("second@"));
}

// Two valid policies of the same size, written so that the file also keeps
// its mtime: only the content hash tells them apart.
TEST_F(PolicyWatcherTest, ContentChangeWithTheSameSizeAndMtimeIsPickedUp) {
  Write(path_, PolicyText("policy1"));
  StartWatching();
  struct stat before;
  ASSERT_EQ(::stat(path_.c_str(), &before), 0);
  Write(path_, PolicyText("policy2"));
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path_.c_str(), times, 0), 0);

  EXPECT_EQ(watcher_->CheckNow(), Result::kReloaded);
  EXPECT_THAT(ActiveVersion(), StartsWith("policy2@"));
}

// Kubernetes mounts a ConfigMap as <dir>/policy.textproto ->
// ..data/policy.textproto, ..data -> ..<timestamp>/, and updates it by
// writing a new timestamped directory and renaming a new ..data over the old.
TEST_F(PolicyWatcherTest, ConfigMapSymlinkSwapIsPickedUp) {
  const auto publish = [&](const std::string& version,
                           const std::string& text) {
    fs::create_directory(dir_ / version);
    Write(dir_ / version / "policy.textproto", text);
    fs::create_directory_symlink(version, dir_ / "..data_tmp");
    fs::rename(dir_ / "..data_tmp", dir_ / "..data");  // atomic swap
  };
  publish("..2024_01_01_00_00_00.1", PolicyText());
  fs::create_symlink("..data/policy.textproto", path_);
  StartWatching();
  EXPECT_EQ(watcher_->CheckNow(), Result::kUnchanged);

  publish("..2024_01_01_00_01_00.2", PolicyText("second"));
  fs::remove_all(dir_ / "..2024_01_01_00_00_00.1");  // the kubelet cleans up
  EXPECT_EQ(watcher_->CheckNow(), Result::kReloaded);
  EXPECT_THAT(ActiveVersion(), StartsWith("second@"));

  publish(
      "..2024_01_01_00_02_00.3",
      absl::StrReplaceAll(PolicyText("third"), {{"currency: \"EUR\"", ""}}));
  EXPECT_EQ(watcher_->CheckNow(), Result::kRejected);
  EXPECT_THAT(ActiveVersion(), StartsWith("second@"));
  EXPECT_EQ(watcher_->stats().reloads, 1);
  EXPECT_EQ(watcher_->stats().rejected_reloads, 1);
}

TEST_F(PolicyWatcherTest, MissingFileKeepsThePolicyAndIsReadAgainLater) {
  Write(path_, PolicyText());
  StartWatching();
  fs::remove(path_);
  EXPECT_EQ(watcher_->CheckNow(), Result::kReadError);
  EXPECT_THAT(ActiveVersion(), StartsWith("default@"));
  EXPECT_EQ(watcher_->stats().read_errors, 1);
  Write(path_, PolicyText("second"));
  EXPECT_EQ(watcher_->CheckNow(), Result::kReloaded);
}

TEST_F(PolicyWatcherTest, StartsAndStopsItsThread) {
  Write(path_, PolicyText());
  StartWatching();
  watcher_->Start();
  watcher_->Start();  // no-op
  watcher_->Stop();
  watcher_->Stop();  // no-op
  watcher_->Start();
  // The destructor stops it; the hour-long interval never elapses, so the
  // thread made no check.
  watcher_.reset();
  SUCCEED();
}

TEST_F(PolicyWatcherTest, CheckNowIsSafeWhileTheThreadRuns) {
  Write(path_, PolicyText());
  StartWatching();
  watcher_->Start();
  Write(path_, PolicyText("second"));
  EXPECT_EQ(watcher_->CheckNow(), Result::kReloaded);
  watcher_->Stop();
  EXPECT_EQ(watcher_->stats().reloads, 1);
}

}  // namespace
}  // namespace makegood::policy_reload
