#include "services/server/health_monitor.h"

#include <string>
#include <utility>
#include <vector>

#include "services/core/log.h"
#include "services/store/check_schema_script.h"
#include "services/store/lua/scripts.h"

namespace makegood::server {

struct HealthMonitor::State {
  explicit State(grpc::HealthCheckServiceInterface& h) : health(&h) {}

  // Publishes a check result unless the monitor has stopped.
  void Report(bool now_serving, const std::string& why) {
    absl::MutexLock lock(&mu);
    check_in_flight = false;
    if (stopped) return;
    if (reported && now_serving == serving &&
        (now_serving || why == last_problem)) {
      return;
    }
    reported = true;
    serving = now_serving;
    last_problem = why;
    health->SetServingStatus(now_serving);
    if (now_serving) {
      Log(LogLevel::kInfo, "health_serving");
    } else {
      Log(LogLevel::kWarning, "health_not_serving", {{"reason", why}});
    }
  }

  absl::Mutex mu;
  grpc::HealthCheckServiceInterface* health ABSL_GUARDED_BY(mu);
  bool stopped ABSL_GUARDED_BY(mu) = false;
  bool check_in_flight ABSL_GUARDED_BY(mu) = false;
  bool reported ABSL_GUARDED_BY(mu) = false;
  bool serving ABSL_GUARDED_BY(mu) = false;
  std::string last_problem ABSL_GUARDED_BY(mu);
};

HealthMonitor::HealthMonitor(redis::RedisClient& redis,
                             const store::KeySchema& keys,
                             grpc::HealthCheckServiceInterface& health,
                             absl::Duration interval)
    : redis_(redis),
      keys_(keys),
      interval_(interval),
      state_(std::make_shared<State>(health)) {}

void HealthMonitor::Start() {
  {
    absl::MutexLock lock(&state_->mu);
    state_->health->SetServingStatus(false);
  }
  thread_ = std::thread([this] { Run(); });
}

void HealthMonitor::Stop() {
  if (!thread_.joinable()) return;
  stop_.Notify();
  thread_.join();
  absl::MutexLock lock(&state_->mu);
  state_->stopped = true;
  state_->serving = false;
  // After Shutdown() the health service answers NOT_SERVING and ignores
  // further updates: the right answer while draining.
  state_->health->Shutdown();
}

bool HealthMonitor::serving() const {
  absl::MutexLock lock(&state_->mu);
  return state_->serving;
}

void HealthMonitor::Run() {
  do {
    CheckOnce();
  } while (!stop_.WaitForNotificationWithTimeout(interval_));
}

void HealthMonitor::CheckOnce() {
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->check_in_flight) return;  // The client's timeout ends it.
    state_->check_in_flight = true;
  }
  int partitions = keys_.partitions();
  store::ScriptCall call =
      store::BuildCheckSchemaCall({.partitions = partitions});
  redis_.Eval(
      store::scripts::kCheckSchema, std::move(call.keys), std::move(call.args),
      [state = state_, partitions](absl::StatusOr<redis::RedisReply> reply) {
        if (!reply.ok()) {
          state->Report(false, reply.status().ToString());
          return;
        }
        absl::StatusOr<store::CheckSchemaReply> recorded =
            store::ParseCheckSchemaReply(*reply);
        if (!recorded.ok()) {
          state->Report(false, recorded.status().ToString());
          return;
        }
        if (absl::Status same =
                store::CheckRecordedSchema(*recorded, partitions);
            !same.ok()) {
          state->Report(false, std::string(same.message()));
          return;
        }
        state->Report(true, "");
      });
}

}  // namespace makegood::server
