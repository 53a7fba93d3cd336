#include "services/api/request_log.h"

#include <openssl/hmac.h>

#include <chrono>
#include <string>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/core/log.h"
#include "services/core/text.h"

namespace makegood::api {
namespace {

using grpc::experimental::InterceptionHookPoints;

std::string RandomHex(int bytes) {
  thread_local absl::BitGen gen;
  std::string raw(bytes, '\0');
  for (char& c : raw) c = static_cast<char>(absl::Uniform<uint8_t>(gen));
  return absl::BytesToHexString(raw);
}

std::string StringField(const google::protobuf::Message& message,
                        absl::string_view name) {
  const google::protobuf::FieldDescriptor* field =
      message.GetDescriptor()->FindFieldByName(std::string(name));
  if (field == nullptr ||
      field->type() != google::protobuf::FieldDescriptor::TYPE_STRING ||
      field->is_repeated()) {
    return "";
  }
  return message.GetReflection()->GetString(message, field);
}

class RequestLog final : public grpc::experimental::Interceptor {
 public:
  RequestLog(const RequestLogFactory& factory,
             grpc::experimental::ServerRpcInfo* info)
      : factory_(factory),
        info_(info),
        method_(info->method() != nullptr ? info->method() : ""),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      ReadMetadata(*methods->GetRecvInitialMetadata());
      if (factory_.auth() != nullptr) {
        // The caller as the handler sees it (verified), not as claimed.
        absl::StatusOr<auth::Principal> who = factory_.auth()->Authenticate(
            *methods->GetRecvInitialMetadata(),
            info_->server_context()->auth_context().get());
        caller_ = who.ok() ? who->id : "unauthenticated";
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        member_.empty() && absl::StartsWith(method_, "/makegood.")) {
      // Our services are protobuf-generated: the message is a Message.
      // (grpc++'s own health service is not, hence the method check.)
      if (void* message = methods->GetRecvMessage(); message != nullptr) {
        std::string id =
            MemberIdOf(*static_cast<google::protobuf::Message*>(message));
        if (!id.empty()) member_ = factory_.Pseudonym(id);
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      if (auto* trailers = methods->GetSendTrailingMetadata();
          trailers != nullptr) {
        trailers->emplace("x-request-id", RequestId());
      }
      grpc::Status status = methods->GetSendStatus();
      double ms = std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - start_)
                      .count();
      Log(status.ok() ? LogLevel::kInfo : LogLevel::kWarning, "rpc",
          {{"request_id", RequestId()},
           {"method", method_},
           {"caller", caller_},
           {"member", member_},
           {"code", static_cast<int>(status.error_code())},
           {"latency_ms", ms}});
    }
    methods->Proceed();
  }

 private:
  void ReadMetadata(
      const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
    if (auto it = metadata.find("x-request-id"); it != metadata.end()) {
      std::string id(it->second.data(), it->second.size());
      if (IsPrintableAscii(id, 1, 64)) request_id_ = std::move(id);
    }
    if (auto it = metadata.find("x-client-id"); it != metadata.end()) {
      std::string id(it->second.data(), it->second.size());
      caller_ = IsValidId(id) ? id : "invalid";
    }
  }

  const std::string& RequestId() {
    if (request_id_.empty()) request_id_ = RandomHex(8);
    return request_id_;
  }

  const RequestLogFactory& factory_;
  grpc::experimental::ServerRpcInfo* const info_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
  std::string request_id_;
  std::string caller_ = "anonymous";
  std::string member_;
};

}  // namespace

RequestLogFactory::RequestLogFactory(std::string pseudonym_key,
                                     const auth::Authenticator* auth)
    : key_(pseudonym_key.empty() ? RandomHex(32) : std::move(pseudonym_key)),
      auth_(auth) {}

grpc::experimental::Interceptor* RequestLogFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RequestLog(*this, info);
}

std::string RequestLogFactory::Pseudonym(absl::string_view member_id) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(member_id.data()),
       member_id.size(), digest, &length);
  return absl::StrCat("p_", absl::BytesToHexString(absl::string_view(
                                reinterpret_cast<const char*>(digest), 8)));
}

std::string MemberIdOf(const google::protobuf::Message& request) {
  if (std::string id = StringField(request, "member_id"); !id.empty()) {
    return id;
  }
  const google::protobuf::Descriptor* descriptor = request.GetDescriptor();
  for (const char* name : {"member", "order"}) {
    const google::protobuf::FieldDescriptor* field =
        descriptor->FindFieldByName(name);
    if (field == nullptr ||
        field->type() != google::protobuf::FieldDescriptor::TYPE_MESSAGE ||
        field->is_repeated() ||
        !request.GetReflection()->HasField(request, field)) {
      continue;
    }
    std::string id = StringField(
        request.GetReflection()->GetMessage(request, field), "member_id");
    if (!id.empty()) return id;
  }
  return "";
}

}  // namespace makegood::api
