// File: services/settlement/http/http_provider.cc
//
// HttpProvider: the libcurl multi loop (Engine) and the pure mapping from
// Stripe-style answers to PayoutResults. See http_provider.h for the
// contract.
#include "services/settlement/http/http_provider.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <deque>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"

namespace makegood::settlement {
namespace {

using Json = nlohmann::json;
using Done = absl::AnyInvocable<void(PayoutResult)>;

// Larger answers are not refunds or refund lists: fail as bad_response
// rather than buffer without bound.
constexpr size_t kMaxResponseBytes = 4 << 20;
constexpr int kLookupPageSize = 100;
// A payment with more refunds than this is not ours to scan: kUnknown.
constexpr int kMaxLookupPages = 20;
// Stripe's limit on Idempotency-Key length.
constexpr size_t kMaxIdempotencyKeyLength = 255;
// How long the loop sleeps when nothing happens; wakeups and libcurl's own
// timers cut it short.
constexpr int kIdlePollMillis = 1000;

PayoutResult MakeResult(PayoutOutcome outcome, std::string reason,
                        std::string reference = "") {
  PayoutResult result;
  result.outcome = outcome;
  result.reason = std::move(reason);
  result.provider_reference = std::move(reference);
  return result;
}

PayoutResult Unknown(std::string reason, std::string reference = "") {
  return MakeResult(PayoutOutcome::kUnknown, std::move(reason),
                    std::move(reference));
}

// --- Request encoding -------------------------------------------------------

// application/x-www-form-urlencoded / query component encoding (RFC 3986
// unreserved characters pass, everything else is %XX).
std::string PercentEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string FormEncode(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (!out.empty()) out.push_back('&');
    absl::StrAppend(&out, PercentEncode(key), "=", PercentEncode(value));
  }
  return out;
}

// Printable ASCII only: the value goes into an HTTP header.
bool IsHeaderSafe(absl::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c >= 0x20 && c < 0x7f; });
}

// Requests this provider can never pay, whatever the server says. They are
// declined without a network call; nullopt when the request is payable.
std::optional<PayoutResult> RejectUnpayable(const PayoutRequest& request) {
  auto declined = [](std::string reason) {
    return MakeResult(PayoutOutcome::kDeclined, std::move(reason));
  };
  if (request.refund_id.empty() ||
      request.refund_id.size() > kMaxIdempotencyKeyLength ||
      !IsHeaderSafe(request.refund_id)) {
    return declined("invalid_refund_id");
  }
  if (request.payment_reference.empty()) {
    return declined("missing_payment_reference");
  }
  if (request.amount_minor <= 0) return declined("invalid_amount");
  if (request.currency.size() != 3 ||
      !std::all_of(request.currency.begin(), request.currency.end(),
                   [](char c) { return absl::ascii_isalpha(c); })) {
    return declined("invalid_currency");
  }
  return std::nullopt;
}

std::string RefundBody(const PayoutRequest& request) {
  // metadata[member_id] is deliberately absent: personal data stays home.
  return FormEncode({
      {"payment_intent", request.payment_reference},
      {"amount", absl::StrCat(request.amount_minor)},
      {"currency", absl::AsciiStrToLower(request.currency)},
      {"metadata[makegood_refund_id]", request.refund_id},
      {"metadata[order_id]", request.order_id},
  });
}

// --- Response mapping -------------------------------------------------------

// `object[key]` when it is a string, else "". Never throws.
std::string StringField(const Json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// A Stripe refund object's status as an outcome.
PayoutResult MapRefund(const Json& refund) {
  std::string id = StringField(refund, "id");
  std::string status = StringField(refund, "status");
  if (id.empty()) return Unknown("bad_response");
  if (status == "succeeded") {
    return MakeResult(PayoutOutcome::kSucceeded, "", std::move(id));
  }
  if (status == "pending" || status == "requires_action") {
    return Unknown("pending", std::move(id));
  }
  if (status == "failed" || status == "canceled") {
    std::string reason = StringField(refund, "failure_reason");
    return MakeResult(PayoutOutcome::kDeclined,
                      reason.empty() ? status : reason, std::move(id));
  }
  return Unknown("bad_response", std::move(id));
}

// A non-2xx answer. Only an explicit card refusal is a decline; anything
// else (including 401/403: our misconfiguration) leaves the refund unknown.
PayoutResult MapErrorResponse(long http_status, const Json& body) {
  Json error = body.is_object() ? body.value("error", Json()) : Json();
  std::string type = StringField(error, "type");
  if (http_status == 402 || (http_status == 400 && type == "card_error")) {
    std::string reason = StringField(error, "decline_code");
    if (reason.empty()) reason = StringField(error, "code");
    if (reason.empty()) reason = "declined";
    return MakeResult(PayoutOutcome::kDeclined, std::move(reason));
  }
  if (http_status == 400 && type == "idempotency_error") {
    return Unknown("idempotency_mismatch");
  }
  return Unknown(absl::StrCat("http_", http_status));
}

bool IsSuccess(long http_status) {
  return http_status >= 200 && http_status < 300;
}

PayoutResult MapPayResponse(long http_status, const std::string& body) {
  Json doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!IsSuccess(http_status)) return MapErrorResponse(http_status, doc);
  if (!doc.is_object()) return Unknown("bad_response");
  return MapRefund(doc);
}

// Which of several refunds carrying the same refund id tells the truth:
// money moved beats money moving beats no money.
int RefundRank(const Json& refund) {
  std::string status = StringField(refund, "status");
  if (status == "succeeded") return 3;
  if (status == "pending" || status == "requires_action") return 2;
  return 1;
}

// One page of GET /v1/refunds: a final result, or the cursor of the next
// page to read.
struct LookupStep {
  std::optional<PayoutResult> result;
  std::string next_cursor;
};

LookupStep MapLookupPage(long http_status, const std::string& body,
                         absl::string_view refund_id) {
  if (!IsSuccess(http_status)) {
    return {Unknown(absl::StrCat("http_", http_status)), ""};
  }
  Json doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return {Unknown("bad_response"), ""};
  auto data = doc.find("data");
  if (data == doc.end() || !data->is_array()) {
    return {Unknown("bad_response"), ""};
  }
  const Json* best = nullptr;
  for (const Json& refund : *data) {
    if (!refund.is_object()) return {Unknown("bad_response"), ""};
    Json metadata = refund.value("metadata", Json());
    if (StringField(metadata, "makegood_refund_id") != refund_id) continue;
    if (best == nullptr || RefundRank(refund) > RefundRank(*best)) {
      best = &refund;
    }
  }
  if (best != nullptr) return {MapRefund(*best), ""};
  auto has_more = doc.find("has_more");
  if (has_more == doc.end() || !has_more->is_boolean() ||
      !has_more->get<bool>()) {
    return {MakeResult(PayoutOutcome::kNotFound, ""), ""};
  }
  std::string cursor = data->empty() ? "" : StringField(data->back(), "id");
  if (cursor.empty()) return {Unknown("bad_response"), ""};
  return {std::nullopt, std::move(cursor)};
}

// Transfer failures (no complete HTTP answer).
std::string TransportReason(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return "connect";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
      return "tls";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return "connection_lost";
    case CURLE_WRITE_ERROR:  // The response outgrew kMaxResponseBytes.
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
      return "bad_response";
    default:
      return absl::StrCat("curl_", static_cast<int>(code));
  }
}

// --- Options ----------------------------------------------------------------

absl::Status ValidateOptions(const HttpProviderOptions& options) {
  if (!absl::StartsWith(options.base_url, "https://") ||
      options.base_url.size() <= 8) {
    return absl::InvalidArgumentError(
        "HttpProviderOptions.base_url must be an https:// URL");
  }
  if (options.api_key.empty() || !IsHeaderSafe(options.api_key)) {
    return absl::InvalidArgumentError(
        "HttpProviderOptions.api_key must be non-empty printable ASCII");
  }
  if (!options.ca_file.empty() && access(options.ca_file.c_str(), R_OK) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "HttpProviderOptions.ca_file is not readable: ", options.ca_file));
  }
  if (options.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "HttpProviderOptions.connect_timeout must be positive");
  }
  if (options.request_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "HttpProviderOptions.request_timeout must be positive");
  }
  if (options.max_in_flight < 1) {
    return absl::InvalidArgumentError(
        "HttpProviderOptions.max_in_flight must be at least 1");
  }
  return absl::OkStatus();
}

long ToMillis(absl::Duration d) {
  return static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(d)));
}

// Collects the response body, refusing to grow past kMaxResponseBytes.
size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  size_t bytes = size * count;
  if (body->size() + bytes > kMaxResponseBytes) return 0;
  body->append(data, bytes);
  return bytes;
}

struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

struct HeaderListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, HeaderListDeleter>;

absl::Status GlobalInitOnce() {
  static absl::once_flag once;
  static CURLcode code = CURLE_OK;
  absl::call_once(once, [] { code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (code != CURLE_OK) {
    return absl::InternalError(
        absl::StrCat("curl_global_init: ", curl_easy_strerror(code)));
  }
  return absl::OkStatus();
}

}  // namespace

// --- Engine -----------------------------------------------------------------

// Owns the multi handle and the loop thread. Calls move from queue_ (any
// thread) to waiting_ (loop thread, not started yet) to running_ (a transfer
// in the multi handle), and are finished (done called, then destroyed) on
// the loop thread.
class HttpProvider::Engine {
 public:
  enum class Kind { kPay, kLookup };

  static absl::StatusOr<std::unique_ptr<Engine>> Start(
      HttpProviderOptions options);

  ~Engine();

  // Queues a call and wakes the loop; a call whose answer is known without
  // the network carries it in `preset`.
  void Submit(Kind kind, const PayoutRequest& request, Done done,
              std::optional<PayoutResult> preset);

 private:
  struct Call {
    Kind kind = Kind::kPay;
    PayoutRequest request;
    Done done;
    std::optional<PayoutResult> preset;
    int lookup_pages = 0;
    std::string lookup_cursor;  // starting_after for the next Lookup page.
    // The transfer in progress; rebuilt for each Lookup page.
    EasyHandle easy;
    HeaderList headers;
    std::string response;
    char error[CURL_ERROR_SIZE] = {};
  };

  Engine(HttpProviderOptions options, CURLM* multi);

  void Run();
  // Moves queue_ to waiting_; true once the engine is stopping.
  bool TakeQueued();
  // Starts waiting calls while fewer than max_in_flight run.
  void StartWaiting();
  absl::Status StartTransfer(Call& call);
  // Finishes completed transfers; true if any finished.
  bool DrainCompleted();
  void Complete(std::unique_ptr<Call> call, CURLcode code);
  void Finish(std::unique_ptr<Call> call, PayoutResult result);
  void FailAll();

  std::string PayUrl() const;
  std::string LookupUrl(const Call& call) const;

  const HttpProviderOptions options_;
  const std::string base_url_;  // Without a trailing '/'.
  CURLM* const multi_;
  std::thread thread_;

  absl::Mutex mu_;
  std::deque<std::unique_ptr<Call>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // Loop thread only.
  std::deque<std::unique_ptr<Call>> waiting_;
  absl::flat_hash_map<CURL*, std::unique_ptr<Call>> running_;
};

absl::StatusOr<std::unique_ptr<HttpProvider::Engine>>
HttpProvider::Engine::Start(HttpProviderOptions options) {
  if (absl::Status status = GlobalInitOnce(); !status.ok()) return status;
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) return absl::InternalError("curl_multi_init failed");
  // Keep one idle connection per possible transfer for reuse.
  if (curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS,
                        static_cast<long>(options.max_in_flight)) != CURLM_OK) {
    curl_multi_cleanup(multi);
    return absl::InternalError("curl_multi_setopt(MAXCONNECTS) failed");
  }
  std::unique_ptr<Engine> engine(new Engine(std::move(options), multi));
  engine->thread_ = std::thread([raw = engine.get()] { raw->Run(); });
  return engine;
}

HttpProvider::Engine::Engine(HttpProviderOptions options, CURLM* multi)
    : options_(std::move(options)),
      base_url_(absl::StripSuffix(options_.base_url, "/")),
      multi_(multi) {}

HttpProvider::Engine::~Engine() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  curl_multi_wakeup(multi_);
  if (thread_.joinable()) thread_.join();
  curl_multi_cleanup(multi_);
}

void HttpProvider::Engine::Submit(Kind kind, const PayoutRequest& request,
                                  Done done,
                                  std::optional<PayoutResult> preset) {
  auto call = std::make_unique<Call>();
  call->kind = kind;
  call->request = request;
  call->done = std::move(done);
  call->preset = std::move(preset);
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(std::move(call));
    }
  }
  // Only a `done` callback run during shutdown gets here with `call` left.
  if (call != nullptr) {
    Finish(std::move(call), Unknown("shutdown"));
    return;
  }
  curl_multi_wakeup(multi_);
}

void HttpProvider::Engine::Run() {
  while (!TakeQueued()) {
    StartWaiting();
    int still_running = 0;
    curl_multi_perform(multi_, &still_running);
    // Finished transfers free slots for waiting calls: start them before
    // sleeping.
    if (DrainCompleted() && !waiting_.empty()) continue;
    curl_multi_poll(multi_, nullptr, 0, kIdlePollMillis, nullptr);
  }
  FailAll();
}

bool HttpProvider::Engine::TakeQueued() {
  std::deque<std::unique_ptr<Call>> taken;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return true;
    taken.swap(queue_);
  }
  for (std::unique_ptr<Call>& call : taken) {
    if (call->preset.has_value()) {
      PayoutResult result = *std::move(call->preset);
      Finish(std::move(call), std::move(result));
    } else {
      waiting_.push_back(std::move(call));
    }
  }
  return false;
}

void HttpProvider::Engine::StartWaiting() {
  while (!waiting_.empty() &&
         running_.size() < static_cast<size_t>(options_.max_in_flight)) {
    std::unique_ptr<Call> call = std::move(waiting_.front());
    waiting_.pop_front();
    if (absl::Status status = StartTransfer(*call); !status.ok()) {
      call->easy.reset();
      call->headers.reset();
      Finish(std::move(call), Unknown("client_error"));
      continue;
    }
    CURL* easy = call->easy.get();
    running_.emplace(easy, std::move(call));
  }
}

std::string HttpProvider::Engine::PayUrl() const {
  return absl::StrCat(base_url_, "/v1/refunds");
}

std::string HttpProvider::Engine::LookupUrl(const Call& call) const {
  std::string url = absl::StrCat(base_url_, "/v1/refunds?payment_intent=",
                                 PercentEncode(call.request.payment_reference),
                                 "&limit=", kLookupPageSize);
  if (!call.lookup_cursor.empty()) {
    absl::StrAppend(&url,
                    "&starting_after=", PercentEncode(call.lookup_cursor));
  }
  return url;
}

absl::Status HttpProvider::Engine::StartTransfer(Call& call) {
  call.easy.reset(curl_easy_init());
  if (call.easy == nullptr) return absl::InternalError("curl_easy_init");
  CURL* easy = call.easy.get();
  call.response.clear();
  call.error[0] = '\0';

  curl_slist* headers = nullptr;
  std::vector<std::string> lines = {
      absl::StrCat("Authorization: Bearer ", options_.api_key),
      "Accept: application/json",
      "Expect:",  // No 100-continue round trip for small bodies.
  };
  if (call.kind == Kind::kPay) {
    lines.push_back(absl::StrCat("Idempotency-Key: ", call.request.refund_id));
  }
  for (const std::string& line : lines) {
    curl_slist* grown = curl_slist_append(headers, line.c_str());
    if (grown == nullptr) {
      curl_slist_free_all(headers);
      return absl::InternalError("curl_slist_append");
    }
    headers = grown;
  }
  call.headers.reset(headers);

  CURLcode rc = CURLE_OK;
  auto set = [&](CURLoption option, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(easy, option, value);
  };
  std::string url = call.kind == Kind::kPay ? PayUrl() : LookupUrl(call);
  set(CURLOPT_URL, url.c_str());  // libcurl copies strings it is given.
  set(CURLOPT_PROTOCOLS_STR, "https");
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_CONNECTTIMEOUT_MS, ToMillis(options_.connect_timeout));
  set(CURLOPT_TIMEOUT_MS, ToMillis(options_.request_timeout));
  set(CURLOPT_SSL_VERIFYPEER, 1L);
  set(CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) set(CURLOPT_CAINFO, options_.ca_file.c_str());
  set(CURLOPT_HTTPHEADER, call.headers.get());
  set(CURLOPT_WRITEFUNCTION, &AppendBody);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&call.response));
  set(CURLOPT_ERRORBUFFER, call.error);
  set(CURLOPT_PRIVATE, static_cast<void*>(&call));
  if (call.kind == Kind::kPay) {
    std::string body = RefundBody(call.request);
    set(CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    set(CURLOPT_COPYPOSTFIELDS, body.c_str());
  } else {
    set(CURLOPT_HTTPGET, 1L);
  }
  if (rc != CURLE_OK) {
    return absl::InternalError(
        absl::StrCat("curl_easy_setopt: ", curl_easy_strerror(rc)));
  }
  if (curl_multi_add_handle(multi_, easy) != CURLM_OK) {
    return absl::InternalError("curl_multi_add_handle");
  }
  return absl::OkStatus();
}

bool HttpProvider::Engine::DrainCompleted() {
  bool any = false;
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL* easy = message->easy_handle;
    CURLcode code = message->data.result;
    auto it = running_.find(easy);
    if (it == running_.end()) continue;
    std::unique_ptr<Call> call = std::move(it->second);
    running_.erase(it);
    curl_multi_remove_handle(multi_, easy);
    Complete(std::move(call), code);
    any = true;
  }
  return any;
}

void HttpProvider::Engine::Complete(std::unique_ptr<Call> call, CURLcode code) {
  if (code != CURLE_OK) {
    Finish(std::move(call), Unknown(TransportReason(code)));
    return;
  }
  long http_status = 0;
  curl_easy_getinfo(call->easy.get(), CURLINFO_RESPONSE_CODE, &http_status);
  if (call->kind == Kind::kPay) {
    PayoutResult result = MapPayResponse(http_status, call->response);
    Finish(std::move(call), std::move(result));
    return;
  }
  LookupStep step =
      MapLookupPage(http_status, call->response, call->request.refund_id);
  if (step.result.has_value()) {
    Finish(std::move(call), *std::move(step.result));
    return;
  }
  if (++call->lookup_pages >= kMaxLookupPages) {
    Finish(std::move(call), Unknown("too_many_refunds"));
    return;
  }
  // Next page: ahead of new calls, since it already held a slot.
  call->lookup_cursor = std::move(step.next_cursor);
  call->easy.reset();
  call->headers.reset();
  waiting_.push_front(std::move(call));
}

void HttpProvider::Engine::Finish(std::unique_ptr<Call> call,
                                  PayoutResult result) {
  Done done = std::move(call->done);
  call.reset();  // Frees the transfer before user code runs.
  done(std::move(result));
}

void HttpProvider::Engine::FailAll() {
  for (auto& [easy, call] : running_) {
    curl_multi_remove_handle(multi_, easy);
    call->easy.reset();
  }
  std::vector<std::unique_ptr<Call>> calls;
  for (auto& [easy, call] : running_) calls.push_back(std::move(call));
  running_.clear();
  for (auto& call : waiting_) calls.push_back(std::move(call));
  waiting_.clear();
  {
    absl::MutexLock lock(&mu_);
    for (auto& call : queue_) calls.push_back(std::move(call));
    queue_.clear();
  }
  for (auto& call : calls) Finish(std::move(call), Unknown("shutdown"));
}

// --- HttpProvider -----------------------------------------------------------

absl::StatusOr<std::unique_ptr<HttpProvider>> HttpProvider::Create(
    HttpProviderOptions options) {
  if (absl::Status status = ValidateOptions(options); !status.ok()) {
    return status;
  }
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Start(std::move(options));
  if (!engine.ok()) return engine.status();
  return std::unique_ptr<HttpProvider>(new HttpProvider(*std::move(engine)));
}

HttpProvider::HttpProvider(std::unique_ptr<Engine> engine)
    : engine_(std::move(engine)) {}

HttpProvider::~HttpProvider() = default;

void HttpProvider::Pay(const PayoutRequest& request,
                       absl::AnyInvocable<void(PayoutResult)> done) {
  engine_->Submit(Engine::Kind::kPay, request, std::move(done),
                  RejectUnpayable(request));
}

void HttpProvider::Lookup(const PayoutRequest& request,
                          absl::AnyInvocable<void(PayoutResult)> done) {
  // A request Pay would have declined without sending was never seen.
  std::optional<PayoutResult> preset;
  if (RejectUnpayable(request).has_value()) {
    preset = MakeResult(PayoutOutcome::kNotFound, "");
  }
  engine_->Submit(Engine::Kind::kLookup, request, std::move(done),
                  std::move(preset));
}

}  // namespace makegood::settlement
