#include "services/server/health_monitor.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lua/scripts.h"
#include "services/core/log.h"

namespace makegood::server {

void HealthMonitor::Start() {
  health_.SetServingStatus(false);
  thread_ = std::thread([this] { Run(); });
}

void HealthMonitor::Stop() {
  if (!thread_.joinable()) return;
  stop_.Notify();
  thread_.join();
  serving_ = false;
  // After Shutdown() the health service answers NOT_SERVING and ignores
  // further updates: the right answer while draining.
  health_.Shutdown();
}

void HealthMonitor::Run() {
  do {
    CheckOnce();
  } while (!stop_.WaitForNotificationWithTimeout(interval_));
}

bool HealthMonitor::CheckOnce() {
  absl::Notification done;
  absl::StatusOr<store::RedisReply> reply;
  redis_.Eval(store::scripts::kCheckSchema, {store::KeySchema::MetaKey()},
              {absl::StrCat(keys_.partitions()),
               absl::StrCat(store::kSchemaVersion)},
              [&](absl::StatusOr<store::RedisReply> r) {
                reply = std::move(r);
                done.Notify();
              });
  done.WaitForNotification();  // The client's own timeout bounds this.
  if (!reply.ok()) {
    Report(false, reply.status().ToString());
    return false;
  }
  auto fields = store::ReplyArray(*reply, 2, "check_schema");
  if (!fields.ok()) {
    Report(false, fields.status().ToString());
    return false;
  }
  const auto& f = **fields;
  auto partitions = store::ReplyInteger(f[0], "partitions");
  auto schema = store::ReplyInteger(f[1], "schema_version");
  if (!partitions.ok() || !schema.ok() || *partitions != keys_.partitions() ||
      *schema != store::kSchemaVersion) {
    Report(false,
           absl::StrCat("redis holds data for partitions=",
                        f[0].is_text() ? f[0].str : "?", " schema_version=",
                        f[1].is_text() ? f[1].str : "?",
                        " but this server has partitions=", keys_.partitions(),
                        " schema_version=", store::kSchemaVersion,
                        "; refusing to serve"));
    return false;
  }
  Report(true, "");
  return true;
}

void HealthMonitor::Report(bool serving, absl::string_view why) {
  bool changed = !reported_ || serving != serving_.load();
  if (!changed && (serving || why == last_problem_)) return;
  reported_ = true;
  last_problem_ = std::string(why);
  serving_ = serving;
  health_.SetServingStatus(serving);
  if (serving) {
    Log(LogLevel::kInfo, "health_serving");
  } else {
    Log(LogLevel::kWarning, "health_not_serving", {{"reason", why}});
  }
}

}  // namespace makegood::server
