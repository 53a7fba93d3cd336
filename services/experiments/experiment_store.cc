#include "services/experiments/experiment_store.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "services/core/status_macros.h"
#include "services/errors/errors.h"
#include "services/experiments/lua/scripts.h"
#include "services/store/proto_codec.h"
#include "services/store/script_call.h"

namespace makegood::experiments {
namespace {

using google::protobuf::util::TimeUtil;
using makegood::v1::Experiment;
using redis::RedisReply;

makegood::v1::ExperimentState StateOf(const std::string& state) {
  if (state == "RUNNING") return makegood::v1::EXPERIMENT_STATE_RUNNING;
  if (state == "TRIPPED") return makegood::v1::EXPERIMENT_STATE_TRIPPED;
  return makegood::v1::EXPERIMENT_STATE_STOPPED;
}

std::vector<std::string> Keys(const std::string& name) {
  return {store::KeySchema::ExperimentsKey(),
          store::KeySchema::ExperimentKey(name),
          store::KeySchema::ExperimentAuditKey()};
}

}  // namespace

absl::Status ExperimentStore::Start(const Experiment& experiment,
                                    const std::string& summary) {
  absl::StatusOr<RedisReply> reply = redis_.EvalSync(
      scripts::kStartExperiment, Keys(experiment.name()),
      {experiment.name(),
       absl::StrCat(TimeUtil::TimestampToMilliseconds(experiment.started_at())),
       experiment.started_by(), store::SerializeDeterministic(experiment),
       summary});
  if (!reply.ok()) return reply.status();
  auto tagged = store::TaggedReply(*reply, 1, "start_experiment");
  if (!tagged.ok()) return tagged.status();
  const std::string& tag = (**tagged)[0].str;
  if (tag == "OK") return absl::OkStatus();
  if (tag == "EXISTS") {
    return ErrorWithReason(
        absl::StatusCode::kFailedPrecondition, "EXPERIMENT_EXISTS",
        absl::StrCat("an experiment named \"", experiment.name(),
                     "\" was started before; names are never reused"));
  }
  if (tag == "RUNNING" && (**tagged).size() > 1) {
    return ErrorWithReason(
        absl::StatusCode::kFailedPrecondition, "EXPERIMENT_RUNNING",
        absl::StrCat("experiment \"", (**tagged)[1].str,
                     "\" is running; stop it first (one runs at a time)"));
  }
  return store::MalformedReply("start_experiment",
                               absl::StrCat("unknown answer \"", tag, "\""));
}

absl::StatusOr<Experiment> ExperimentStore::Stop(const std::string& name,
                                                 absl::Time now,
                                                 const std::string& who,
                                                 const std::string& reason,
                                                 bool tripped) {
  absl::StatusOr<RedisReply> reply =
      redis_.EvalSync(scripts::kStopExperiment, Keys(name),
                      {name, absl::StrCat(absl::ToUnixMillis(now)), who, reason,
                       tripped ? "TRIPPED" : "STOPPED"});
  if (!reply.ok()) return reply.status();
  auto tagged = store::TaggedReply(*reply, 1, "stop_experiment");
  if (!tagged.ok()) return tagged.status();
  const std::string& tag = (**tagged)[0].str;
  if (tag == "NOT_FOUND") {
    return absl::NotFoundError(
        absl::StrCat("no experiment is named \"", name, "\""));
  }
  if (tag != "OK" && tag != "ALREADY") {
    return store::MalformedReply("stop_experiment",
                                 absl::StrCat("unknown answer \"", tag, "\""));
  }
  return Get(name);
}

absl::StatusOr<Experiment> ExperimentStore::Get(const std::string& name) {
  absl::StatusOr<RedisReply> reply = redis_.CommandSync(
      {"HMGET", store::KeySchema::ExperimentKey(name), "pb", "state",
       "stopped_at_ms", "stopped_by", "stop_reason"});
  if (!reply.ok()) return reply.status();
  auto e = store::ArrayReply(*reply, 5, "HMGET experiment");
  if (!e.ok()) return e.status();
  const std::vector<RedisReply>& fields = **e;
  if (fields[0].type != RedisReply::Type::kString) {
    return absl::NotFoundError(
        absl::StrCat("no experiment is named \"", name, "\""));
  }
  Experiment experiment;
  if (!experiment.ParseFromString(fields[0].str)) {
    return absl::InternalError(
        absl::StrCat("stored experiment \"", name, "\" does not parse"));
  }
  experiment.set_state(StateOf(fields[1].str));
  int64_t stopped_ms = 0;
  if (absl::SimpleAtoi(fields[2].str, &stopped_ms) && stopped_ms > 0) {
    *experiment.mutable_stopped_at() =
        TimeUtil::MillisecondsToTimestamp(stopped_ms);
  }
  experiment.set_stopped_by(fields[3].str);
  experiment.set_stop_reason(fields[4].str);
  return experiment;
}

absl::StatusOr<std::optional<std::string>> ExperimentStore::RunningName() {
  absl::StatusOr<RedisReply> name = redis_.CommandSync(
      {"HGET", store::KeySchema::ExperimentsKey(), "running"});
  if (!name.ok()) return name.status();
  if (name->type != RedisReply::Type::kString) return std::nullopt;
  return name->str;
}

absl::StatusOr<std::pair<ArmTally, ArmTally>> ExperimentStore::ReadArms(
    const std::string& name) {
  std::pair<ArmTally, ArmTally> arms;
  const std::string control = ControlArm(name);
  const std::string candidate = CandidateArm(name);
  for (int p = 0; p < keys_.partitions(); ++p) {
    absl::StatusOr<RedisReply> hash =
        redis_.CommandSync({"HGETALL", keys_.ArmsKey(p)});
    if (!hash.ok()) return hash.status();
    MAKEGOOD_RETURN_IF_ERROR(AddArmFields(hash->elements, control, arms.first));
    MAKEGOOD_RETURN_IF_ERROR(
        AddArmFields(hash->elements, candidate, arms.second));
  }
  return arms;
}

}  // namespace makegood::experiments
