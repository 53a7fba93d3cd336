#include "services/settlement/sandbox_pay_script.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace makegood::settlement {
namespace {

constexpr char kScript[] = "sandbox_pay";

const char* ModeName(SandboxPayRequest::Mode mode) {
  switch (mode) {
    case SandboxPayRequest::Mode::kPay:
      return "pay";
    case SandboxPayRequest::Mode::kDecline:
      return "decline";
    case SandboxPayRequest::Mode::kLookup:
      return "lookup";
  }
  return "lookup";
}

}  // namespace

ScriptCall BuildSandboxPayCall(const store::KeySchema& keys,
                               const SandboxPayRequest& request) {
  ScriptCall call;
  call.keys = {keys.SandboxPaymentsKey(keys.PartitionOf(request.member_id))};
  call.args = {ModeName(request.mode), request.refund_id,
               absl::StrCat(request.amount_minor), request.reference,
               request.decline_reason};
  return call;
}

absl::StatusOr<SandboxPayReply> ParseSandboxPayReply(
    const redis::RedisReply& reply) {
  auto answer = TaggedReply(reply, 1, kScript);
  if (!answer.ok()) return answer.status();
  const std::vector<redis::RedisReply>& e = **answer;
  const std::string& tag = e[0].str;
  SandboxPayReply out;
  if (tag == "NOT_FOUND") {
    out.answer = SandboxPayAnswer::kNotFound;
    return out;
  }
  std::string* value = nullptr;
  if (tag == "SUCCEEDED") {
    out.answer = SandboxPayAnswer::kSucceeded;
    value = &out.reference;
  } else if (tag == "DECLINED") {
    out.answer = SandboxPayAnswer::kDeclined;
    value = &out.decline_reason;
  } else {
    return MalformedReply(kScript,
                          absl::StrCat("unknown answer \"", tag, "\""));
  }
  auto text =
      TextAt(e, 1, kScript,
             absl::StrCat(tag, out.answer == SandboxPayAnswer::kSucceeded
                                   ? " reference"
                                   : " reason"));
  if (!text.ok()) return text.status();
  *value = *std::move(text);
  return out;
}

}  // namespace makegood::settlement
