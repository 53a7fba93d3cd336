// Integration tests of settlement::HttpProvider against a fake
// Stripe-compatible server (tests/testing/fake_psp.py) over real TLS.
//
// The suite makes its own CA and a server certificate for 127.0.0.1 with the
// openssl CLI, plus a second, unrelated CA to show that an untrusted server
// is refused. Every test starts its own fake server on a free port and reads
// the fake's admin endpoints to check how many times money moved: that
// count, not the client's answer alone, is what must never exceed one.
#include "services/settlement/http/http_provider.h"

#include <curl/curl.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/app_harness.h"
#include "tests/testing/subprocess.h"

namespace makegood::settlement {
namespace {

using ::makegood::testing::RunCommand;
using ::makegood::testing::Subprocess;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using Json = nlohmann::json;

constexpr char kApiKey[] = "sk_test_makegood";
constexpr absl::Duration kCallTimeout = absl::Seconds(30);

// --- Certificates -----------------------------------------------------------

// PEM files made once for the suite in a temporary directory.
struct Certificates {
  std::string dir;
  std::string ca;           // Signs the server certificate.
  std::string other_ca;     // Signs nothing the server uses.
  std::string server_cert;  // CN and IP SAN 127.0.0.1.
  std::string server_key;
};

absl::Status Run(const std::vector<std::string>& argv) {
  absl::StatusOr<testing::CommandResult> result = RunCommand(argv);
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    return absl::InternalError(
        absl::StrCat(argv[0], " ", argv[1], " failed: ", result->output));
  }
  return absl::OkStatus();
}

absl::Status MakeCa(const std::string& dir, const std::string& name) {
  return Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
              absl::StrCat("/CN=makegood test ", name), "-keyout",
              absl::StrCat(dir, "/", name, ".key"), "-out",
              absl::StrCat(dir, "/", name, ".pem")});
}

absl::StatusOr<Certificates> MakeCertificates() {
  char dir_template[] = "/tmp/makegood-psp-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  Certificates certs;
  certs.dir = dir_template;
  certs.ca = certs.dir + "/ca.pem";
  certs.other_ca = certs.dir + "/other_ca.pem";
  certs.server_cert = certs.dir + "/server.pem";
  certs.server_key = certs.dir + "/server.key";
  const std::string csr = certs.dir + "/server.csr";
  const std::string extensions = certs.dir + "/server.ext";
  std::ofstream(extensions) << "subjectAltName=IP:127.0.0.1\n"
                               "basicConstraints=CA:FALSE\n"
                               "keyUsage=digitalSignature\n"
                               "extendedKeyUsage=serverAuth\n";
  for (const char* name : {"ca", "other_ca"}) {
    if (absl::Status s = MakeCa(certs.dir, name); !s.ok()) return s;
  }
  if (absl::Status s =
          Run({"openssl", "req", "-newkey", "ec", "-pkeyopt",
               "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
               "/CN=127.0.0.1", "-keyout", certs.server_key, "-out", csr});
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          Run({"openssl", "x509", "-req", "-in", csr, "-CA", certs.ca, "-CAkey",
               certs.dir + "/ca.key", "-set_serial", "1", "-days", "2",
               "-extfile", extensions, "-out", certs.server_cert});
      !s.ok()) {
    return s;
  }
  return certs;
}

// --- The fake server --------------------------------------------------------

// One blocking HTTPS request (for the fake's admin endpoints).
absl::StatusOr<std::string> Fetch(const std::string& url,
                                  const std::string& ca_file,
                                  const std::string* post_json = nullptr) {
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return absl::InternalError("curl_easy_init");
  std::string body;
  curl_slist* headers =
      curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(
      easy, CURLOPT_WRITEFUNCTION,
      +[](char* data, size_t size, size_t count, void* user) -> size_t {
        static_cast<std::string*>(user)->append(data, size * count);
        return size * count;
      });
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
  if (post_json != nullptr) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, post_json->c_str());
  }
  CURLcode code = curl_easy_perform(easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  if (code != CURLE_OK) {
    return absl::UnavailableError(curl_easy_strerror(code));
  }
  if (status != 200) {
    return absl::InternalError(absl::StrCat("HTTP ", status, ": ", body));
  }
  return body;
}

// tests/testing/fake_psp.py on a free port, stopped when destroyed.
class FakePsp {
 public:
  static absl::StatusOr<std::unique_ptr<FakePsp>> Start(
      const Certificates& certs) {
    auto process = Subprocess::Start(
        {"python3", MAKEGOOD_SOURCE_DIR "/tests/testing/fake_psp.py", "--port",
         "0", "--cert", certs.server_cert, "--key", certs.server_key,
         "--api-key", kApiKey});
    if (!process.ok()) return process.status();
    absl::StatusOr<std::string> line = (*process)->WaitForLine(
        [](const std::string& l) { return absl::StartsWith(l, "PORT "); },
        absl::Seconds(10));
    int port = 0;
    if (!line.ok() || !absl::SimpleAtoi(line->substr(5), &port)) {
      return absl::UnavailableError(
          absl::StrCat("fake_psp.py did not start: ", (*process)->output()));
    }
    return std::unique_ptr<FakePsp>(
        new FakePsp(*std::move(process), port, certs.ca));
  }

  std::string base_url() const {
    return absl::StrCat("https://127.0.0.1:", port_);
  }

  // Applies `mode` to the next `count` POST /v1/refunds (see fake_psp.py).
  absl::Status SetFault(const std::string& mode, int count = 1,
                        int delay_ms = 0) {
    std::string request =
        Json{{"mode", mode}, {"count", count}, {"delay_ms", delay_ms}}.dump();
    return Fetch(base_url() + "/_admin/faults", ca_, &request).status();
  }

  // refund id -> times money moved.
  std::map<std::string, int> Payouts() {
    return Admin("payouts").get<std::map<std::string, int>>();
  }

  // Every refund object stored, oldest first.
  Json Refunds() { return Admin("refunds"); }

  // POST /v1/refunds received, whatever their outcome.
  int PostsReceived() { return Admin("requests")["post_refunds"].get<int>(); }

  // POST /v1/refunds executing now (holding their idempotency key).
  int InProgress() { return Admin("requests")["in_progress"].get<int>(); }

  // The most POST /v1/refunds the fake was ever answering at once.
  int PeakConcurrent() {
    return Admin("requests")["peak_concurrent"].get<int>();
  }

 private:
  FakePsp(std::unique_ptr<Subprocess> process, int port, std::string ca)
      : process_(std::move(process)), port_(port), ca_(std::move(ca)) {}

  Json Admin(const std::string& what) {
    absl::StatusOr<std::string> body =
        Fetch(absl::StrCat(base_url(), "/_admin/", what), ca_);
    EXPECT_TRUE(body.ok()) << body.status();
    if (!body.ok()) return Json::object();
    return Json::parse(*body);
  }

  std::unique_ptr<Subprocess> process_;
  int port_;
  std::string ca_;
};

// --- Calling the provider ---------------------------------------------------

// Counts `done` calls: each must come exactly once.
struct Completion {
  absl::Notification notified;
  std::atomic<int> calls{0};
  PayoutResult result;
};

absl::AnyInvocable<void(PayoutResult)> Record(
    std::shared_ptr<Completion> completion) {
  return [completion](PayoutResult result) {
    if (completion->calls.fetch_add(1) == 0) {
      completion->result = std::move(result);
      completion->notified.Notify();
    }
  };
}

PayoutResult Await(const std::shared_ptr<Completion>& completion) {
  EXPECT_TRUE(completion->notified.WaitForNotificationWithTimeout(kCallTimeout))
      << "done was never called";
  EXPECT_EQ(completion->calls.load(), 1);
  return completion->result;
}

PayoutResult PaySync(PaymentProvider& provider, const PayoutRequest& request) {
  auto completion = std::make_shared<Completion>();
  provider.Pay(request, Record(completion));
  return Await(completion);
}

PayoutResult LookupSync(PaymentProvider& provider,
                        const PayoutRequest& request) {
  auto completion = std::make_shared<Completion>();
  provider.Lookup(request, Record(completion));
  return Await(completion);
}

PayoutRequest Refund(const std::string& refund_id,
                     const std::string& payment_intent = "pi_order_1") {
  PayoutRequest request;
  request.refund_id = refund_id;
  request.member_id = "member-secret-7";
  request.order_id = "order-1";
  request.amount_minor = 1250;
  request.currency = "EUR";
  request.payment_reference = payment_intent;
  return request;
}

std::string Describe(const PayoutResult& result) {
  return absl::StrCat(PayoutOutcomeName(result.outcome),
                      " reason=", result.reason,
                      " ref=", result.provider_reference);
}

// --- Fixture ----------------------------------------------------------------

class HttpProviderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<Certificates> certs = MakeCertificates();
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = new Certificates(*std::move(certs));
  }

  static void TearDownTestSuite() {
    if (certs_ == nullptr) return;
    std::error_code ignored;
    std::filesystem::remove_all(certs_->dir, ignored);
    delete certs_;
    certs_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(certs_, nullptr);
    absl::StatusOr<std::unique_ptr<FakePsp>> psp = FakePsp::Start(*certs_);
    ASSERT_TRUE(psp.ok()) << psp.status();
    psp_ = *std::move(psp);
  }

  HttpProviderOptions Options() const {
    HttpProviderOptions options;
    options.base_url = psp_->base_url();
    options.api_key = kApiKey;
    options.ca_file = certs_->ca;
    options.connect_timeout = absl::Seconds(2);
    options.request_timeout = absl::Seconds(5);
    options.max_in_flight = 8;
    return options;
  }

  std::unique_ptr<HttpProvider> Provider(HttpProviderOptions options) {
    absl::StatusOr<std::unique_ptr<HttpProvider>> provider =
        HttpProvider::Create(std::move(options));
    EXPECT_TRUE(provider.ok()) << provider.status();
    return provider.ok() ? *std::move(provider) : nullptr;
  }

  std::unique_ptr<HttpProvider> Provider() { return Provider(Options()); }

  static Certificates* certs_;
  std::unique_ptr<FakePsp> psp_;
};

Certificates* HttpProviderTest::certs_ = nullptr;

// --- Tests ------------------------------------------------------------------

TEST_F(HttpProviderTest, PaySucceedsAndSendsNoPersonalData) {
  auto provider = Provider();
  PayoutResult result = PaySync(*provider, Refund("rf-1"));
  EXPECT_EQ(result.outcome, PayoutOutcome::kSucceeded) << Describe(result);
  EXPECT_THAT(result.provider_reference, StartsWith("re_"));
  EXPECT_EQ(psp_->Payouts(), (std::map<std::string, int>{{"rf-1", 1}}));

  Json refunds = psp_->Refunds();
  ASSERT_EQ(refunds.size(), 1u);
  const Json& refund = refunds[0];
  EXPECT_EQ(refund["id"], result.provider_reference);
  EXPECT_EQ(refund["payment_intent"], "pi_order_1");
  EXPECT_EQ(refund["amount"], 1250);
  EXPECT_EQ(refund["currency"], "eur");
  EXPECT_EQ(refund["metadata"],
            (Json{{"makegood_refund_id", "rf-1"}, {"order_id", "order-1"}}));
  EXPECT_FALSE(absl::StrContains(refunds.dump(), "member-secret-7"));
}

TEST_F(HttpProviderTest, PayingTheSameRefundAgainPaysOnceWithOneReference) {
  auto provider = Provider();
  PayoutResult first = PaySync(*provider, Refund("rf-1"));
  PayoutResult second = PaySync(*provider, Refund("rf-1"));
  ASSERT_EQ(first.outcome, PayoutOutcome::kSucceeded) << Describe(first);
  ASSERT_EQ(second.outcome, PayoutOutcome::kSucceeded) << Describe(second);
  EXPECT_EQ(second.provider_reference, first.provider_reference);
  EXPECT_EQ(psp_->PostsReceived(), 2);
  EXPECT_EQ(psp_->Payouts(), (std::map<std::string, int>{{"rf-1", 1}}));
}

TEST_F(HttpProviderTest, DeclinedRefundIsDeclinedAndPaysNothing) {
  auto provider = Provider();
  ASSERT_TRUE(psp_->SetFault("decline").ok());
  PayoutResult result = PaySync(*provider, Refund("rf-1"));
  EXPECT_EQ(result.outcome, PayoutOutcome::kDeclined) << Describe(result);
  EXPECT_EQ(result.reason, "expired_or_canceled_card");

  // The decline is the provider's stored answer: asked again, it says the
  // same, and its list shows the failed refund.
  PayoutResult again = PaySync(*provider, Refund("rf-1"));
  EXPECT_EQ(again.outcome, PayoutOutcome::kDeclined) << Describe(again);
  PayoutResult looked_up = LookupSync(*provider, Refund("rf-1"));
  EXPECT_EQ(looked_up.outcome, PayoutOutcome::kDeclined) << Describe(looked_up);
  EXPECT_EQ(looked_up.reason, "expired_or_canceled_card");
  EXPECT_THAT(psp_->Payouts(), IsEmpty());
}

TEST_F(HttpProviderTest, ServerErrorIsUnknownAndARetryPaysOnce) {
  auto provider = Provider();
  ASSERT_TRUE(psp_->SetFault("http_500").ok());
  PayoutResult failed = PaySync(*provider, Refund("rf-1"));
  EXPECT_EQ(failed.outcome, PayoutOutcome::kUnknown) << Describe(failed);
  EXPECT_EQ(failed.reason, "http_500");
  EXPECT_THAT(psp_->Payouts(), IsEmpty());

  PayoutResult retried = PaySync(*provider, Refund("rf-1"));
  EXPECT_EQ(retried.outcome, PayoutOutcome::kSucceeded) << Describe(retried);
  EXPECT_EQ(psp_->Payouts(), (std::map<std::string, int>{{"rf-1", 1}}));
}

TEST_F(HttpProviderTest, TimeoutAfterCommitIsReconciledByLookup) {
  HttpProviderOptions options = Options();
  options.request_timeout = absl::Milliseconds(400);
  auto provider = Provider(options);
  ASSERT_TRUE(psp_->SetFault("commit_then_timeout", 1, 2000).ok());

  PayoutResult lost = PaySync(*provider, Refund("rf-1"));
  EXPECT_EQ(lost.outcome, PayoutOutcome::kUnknown) << Describe(lost);
  EXPECT_EQ(lost.reason, "timeout");

  PayoutResult found = LookupSync(*provider, Refund("rf-1"));
  ASSERT_EQ(found.outcome, PayoutOutcome::kSucceeded) << Describe(found);
  EXPECT_THAT(found.provider_reference, StartsWith("re_"));

  PayoutResult repaid = PaySync(*provider, Refund("rf-1"));
  EXPECT_EQ(repaid.outcome, PayoutOutcome::kSucceeded) << Describe(repaid);
  EXPECT_EQ(repaid.provider_reference, found.provider_reference);
  EXPECT_EQ(psp_->Payouts(), (std::map<std::string, int>{{"rf-1", 1}}));
}

TEST_F(HttpProviderTest, LookupOfAnUnknownRefundIsNotFoundAndPaysNothing) {
  auto provider = Provider();
  ASSERT_EQ(PaySync(*provider, Refund("rf-1")).outcome,
            PayoutOutcome::kSucceeded);
  PayoutResult result = LookupSync(*provider, Refund("rf-never"));
  EXPECT_EQ(result.outcome, PayoutOutcome::kNotFound) << Describe(result);
  PayoutResult other_payment =
      LookupSync(*provider, Refund("rf-1", "pi_other_order"));
  EXPECT_EQ(other_payment.outcome, PayoutOutcome::kNotFound)
      << Describe(other_payment);
  EXPECT_EQ(psp_->PostsReceived(), 1);
  EXPECT_EQ(psp_->Payouts(), (std::map<std::string, int>{{"rf-1", 1}}));
}

TEST_F(HttpProviderTest, PendingRefundIsUnknownUntilItSettles) {
  auto provider = Provider();
  ASSERT_TRUE(psp_->SetFault("pending").ok());
  PayoutResult result = PaySync(*provider, Refund("rf-1"));
  EXPECT_EQ(result.outcome, PayoutOutcome::kUnknown) << Describe(result);
  EXPECT_EQ(result.reason, "pending");
  PayoutResult looked_up = LookupSync(*provider, Refund("rf-1"));
  EXPECT_EQ(looked_up.outcome, PayoutOutcome::kUnknown) << Describe(looked_up);
  EXPECT_EQ(looked_up.reason, "pending");
  EXPECT_THAT(psp_->Payouts(), IsEmpty());
}

TEST_F(HttpProviderTest, WrongApiKeyIsUnknownNeverDeclined) {
  HttpProviderOptions options = Options();
  options.api_key = "sk_test_wrong";
  auto provider = Provider(options);
  PayoutResult paid = PaySync(*provider, Refund("rf-1"));
  EXPECT_EQ(paid.outcome, PayoutOutcome::kUnknown) << Describe(paid);
  EXPECT_EQ(paid.reason, "http_401");
  PayoutResult looked_up = LookupSync(*provider, Refund("rf-1"));
  EXPECT_EQ(looked_up.outcome, PayoutOutcome::kUnknown) << Describe(looked_up);
  EXPECT_EQ(looked_up.reason, "http_401");
  EXPECT_THAT(psp_->Payouts(), IsEmpty());
}

TEST_F(HttpProviderTest, ServerNotSignedByTheConfiguredCaIsUnknownTls) {
  HttpProviderOptions options = Options();
  options.ca_file = certs_->other_ca;
  auto provider = Provider(options);
  PayoutResult result = PaySync(*provider, Refund("rf-1"));
  EXPECT_EQ(result.outcome, PayoutOutcome::kUnknown) << Describe(result);
  EXPECT_EQ(result.reason, "tls");
  EXPECT_EQ(psp_->PostsReceived(), 0);
  EXPECT_THAT(psp_->Payouts(), IsEmpty());
}

TEST_F(HttpProviderTest, NoServerListeningIsUnknownConnect) {
  absl::StatusOr<int> port = testing::PickFreePort();
  ASSERT_TRUE(port.ok());
  HttpProviderOptions options = Options();
  options.base_url = absl::StrCat("https://127.0.0.1:", *port);
  auto provider = Provider(options);
  PayoutResult result = PaySync(*provider, Refund("rf-1"));
  EXPECT_EQ(result.outcome, PayoutOutcome::kUnknown) << Describe(result);
  EXPECT_EQ(result.reason, "connect");
}

TEST_F(HttpProviderTest, SameRefundInFlightTwiceIsPaidOnce) {
  auto provider = Provider();
  // The first request holds the idempotency key for 500 ms; the second
  // arrives meanwhile and is told to come back (409), not paid again.
  ASSERT_TRUE(psp_->SetFault("slow", 1, 500).ok());
  auto first = std::make_shared<Completion>();
  provider->Pay(Refund("rf-1"), Record(first));
  // Wait until the fake holds the first request, without sleeping blind.
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (psp_->InProgress() < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  PayoutResult second = PaySync(*provider, Refund("rf-1"));
  EXPECT_EQ(second.outcome, PayoutOutcome::kUnknown) << Describe(second);
  EXPECT_EQ(second.reason, "http_409");
  PayoutResult first_result = Await(first);
  EXPECT_EQ(first_result.outcome, PayoutOutcome::kSucceeded)
      << Describe(first_result);
  EXPECT_EQ(psp_->Payouts(), (std::map<std::string, int>{{"rf-1", 1}}));
}

TEST_F(HttpProviderTest, ManyConcurrentPaysEachCompleteOnceAndPayOnce) {
  constexpr int kRefunds = 50;
  std::vector<std::shared_ptr<Completion>> completions;
  absl::BlockingCounter finished(kRefunds);
  auto provider = Provider();
  for (int i = 0; i < kRefunds; ++i) {
    auto completion = std::make_shared<Completion>();
    completions.push_back(completion);
    provider->Pay(Refund(absl::StrCat("rf-", i), absl::StrCat("pi_", i)),
                  [completion, &finished](PayoutResult result) {
                    if (completion->calls.fetch_add(1) == 0) {
                      completion->result = std::move(result);
                      finished.DecrementCount();
                    }
                  });
  }
  finished.Wait();
  provider.reset();  // Nothing may be completed a second time at shutdown.
  std::map<std::string, int> payouts = psp_->Payouts();
  ASSERT_EQ(payouts.size(), static_cast<size_t>(kRefunds));
  for (int i = 0; i < kRefunds; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(completions[i]->calls.load(), 1);
    EXPECT_EQ(completions[i]->result.outcome, PayoutOutcome::kSucceeded)
        << Describe(completions[i]->result);
    EXPECT_EQ(payouts[absl::StrCat("rf-", i)], 1);
  }
}

TEST_F(HttpProviderTest, MaxInFlightBoundsConcurrentRequests) {
  constexpr int kRefunds = 6;
  absl::BlockingCounter finished(kRefunds);
  std::atomic<int> succeeded{0};
  HttpProviderOptions options = Options();
  options.max_in_flight = 2;
  auto provider = Provider(options);
  // Slow answers keep requests overlapping if the provider lets them.
  ASSERT_TRUE(psp_->SetFault("slow", kRefunds, 150).ok());
  for (int i = 0; i < kRefunds; ++i) {
    provider->Pay(Refund(absl::StrCat("rf-", i), absl::StrCat("pi_", i)),
                  [&succeeded, &finished](PayoutResult result) {
                    if (result.outcome == PayoutOutcome::kSucceeded) {
                      succeeded.fetch_add(1);
                    }
                    finished.DecrementCount();
                  });
  }
  finished.Wait();
  EXPECT_EQ(succeeded.load(), kRefunds);
  EXPECT_EQ(psp_->PeakConcurrent(), 2);
  EXPECT_EQ(psp_->Payouts().size(), static_cast<size_t>(kRefunds));
}

TEST_F(HttpProviderTest, LookupReadsPastTheFirstPageOfRefunds) {
  // Stripe lists newest first, 100 per page: the oldest of 105 refunds of
  // one payment is on the second page.
  constexpr int kRefunds = 105;
  absl::BlockingCounter finished(kRefunds);
  std::atomic<int> succeeded{0};
  auto provider = Provider();
  for (int i = 0; i < kRefunds; ++i) {
    provider->Pay(Refund(absl::StrCat("rf-", i)),
                  [&succeeded, &finished](PayoutResult result) {
                    if (result.outcome == PayoutOutcome::kSucceeded) {
                      succeeded.fetch_add(1);
                    }
                    finished.DecrementCount();
                  });
  }
  finished.Wait();
  ASSERT_EQ(succeeded.load(), kRefunds);
  Json oldest = psp_->Refunds()[0];
  PayoutResult result = LookupSync(
      *provider,
      Refund(oldest["metadata"]["makegood_refund_id"].get<std::string>()));
  EXPECT_EQ(result.outcome, PayoutOutcome::kSucceeded) << Describe(result);
  EXPECT_EQ(result.provider_reference, oldest["id"].get<std::string>());
  EXPECT_EQ(LookupSync(*provider, Refund("rf-absent")).outcome,
            PayoutOutcome::kNotFound);
}

TEST_F(HttpProviderTest, ShutdownCompletesRunningAndQueuedCallsAsUnknown) {
  HttpProviderOptions options = Options();
  options.max_in_flight = 1;
  auto provider = Provider(options);
  ASSERT_TRUE(psp_->SetFault("slow", 1, 3000).ok());
  std::vector<std::shared_ptr<Completion>> completions;
  for (int i = 0; i < 3; ++i) {
    completions.push_back(std::make_shared<Completion>());
    provider->Pay(Refund(absl::StrCat("rf-", i)), Record(completions.back()));
  }
  provider.reset();
  for (const auto& completion : completions) {
    ASSERT_TRUE(completion->notified.HasBeenNotified());
    EXPECT_EQ(completion->calls.load(), 1);
    EXPECT_EQ(completion->result.outcome, PayoutOutcome::kUnknown);
    EXPECT_EQ(completion->result.reason, "shutdown");
  }
}

TEST_F(HttpProviderTest, UnpayableRequestIsDeclinedWithoutCallingTheServer) {
  auto provider = Provider();
  PayoutRequest no_payment = Refund("rf-1", "");
  PayoutResult result = PaySync(*provider, no_payment);
  EXPECT_EQ(result.outcome, PayoutOutcome::kDeclined) << Describe(result);
  EXPECT_EQ(result.reason, "missing_payment_reference");
  EXPECT_EQ(LookupSync(*provider, no_payment).outcome,
            PayoutOutcome::kNotFound);
  EXPECT_EQ(psp_->PostsReceived(), 0);
}

TEST(HttpProviderOptionsTest, CreateRefusesBadOptionsNamingTheField) {
  HttpProviderOptions options;
  options.base_url = "http://127.0.0.1:1";
  options.api_key = "k";
  absl::StatusOr<std::unique_ptr<HttpProvider>> plain_http =
      HttpProvider::Create(options);
  EXPECT_EQ(plain_http.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(plain_http.status().message(), ::testing::HasSubstr("base_url"));

  options.base_url = "https://127.0.0.1:1";
  options.max_in_flight = 0;
  absl::StatusOr<std::unique_ptr<HttpProvider>> no_slots =
      HttpProvider::Create(options);
  EXPECT_THAT(no_slots.status().message(),
              ::testing::HasSubstr("max_in_flight"));

  options.max_in_flight = 1;
  options.ca_file = "/nonexistent/ca.pem";
  absl::StatusOr<std::unique_ptr<HttpProvider>> no_ca =
      HttpProvider::Create(options);
  EXPECT_THAT(no_ca.status().message(), ::testing::HasSubstr("ca_file"));
}

// The whole path with the HTTPS provider: a rating's card refund is paid by
// the settlement worker through fake_psp.py (the refund id as
// Idempotency-Key, the order's payment reference as payment_intent), also
// when the processor commits and the answer is lost.
TEST_F(HttpProviderTest, WorkerSettlesACardRefundThroughTheHttpProvider) {
  auto harness = testing::AppHarness::Create();
  ASSERT_TRUE(harness.ok()) << harness.status();
  testing::AppHarness& h = **harness;
  std::string key_file = certs_->dir + "/psp_api_key";
  std::ofstream(key_file) << kApiKey << "\n";
  server::SettlementConfig& s = h.config().settlement;
  s.run_worker = true;
  s.consumer = "http-worker";
  s.card_provider = "http";
  s.http_url = psp_->base_url();
  s.http_api_key_file = key_file;
  s.http_ca_file = certs_->ca;
  s.http_timeout = absl::Milliseconds(500);
  s.retry_after = absl::Milliseconds(300);
  ASSERT_TRUE(h.StartApp().ok());
  ASSERT_TRUE(h.UpsertMember("m-1").ok());
  v1::RecordDeliveryRequest record;
  *record.mutable_order() = testing::AppHarness::SampleOrder(
      "m-1", "o-1", h.clock().Now() - absl::Hours(1));
  record.mutable_order()->set_payment_reference("pi_3Mtw");
  {
    grpc::ClientContext context;
    v1::RecordDeliveryResponse response;
    ASSERT_TRUE(
        h.stubs().orders->RecordDelivery(&context, record, &response).ok());
  }
  // The first POST commits, then answers too late: unknown, looked up later.
  ASSERT_TRUE(psp_->SetFault("commit_then_timeout", 1, 1500).ok());
  v1::SubmitRatingResponse rated;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        h.stubs()
            .ratings
            ->SubmitRating(&context, testing::MeltedRating("k-1"), &rated)
            .ok());
  }
  const std::string refund_id = rated.decision().refund().refund_id();
  ASSERT_FALSE(refund_id.empty());
  v1::Refund refund;
  for (int i = 0; i < 1000 && refund.state() != v1::REFUND_STATE_SUCCEEDED;
       ++i) {
    v1::GetRefundRequest get;
    get.set_refund_id(refund_id);
    v1::GetRefundResponse got;
    grpc::ClientContext context;
    ASSERT_TRUE(h.stubs().refunds->GetRefund(&context, get, &got).ok());
    refund = got.refund();
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(refund.state(), v1::REFUND_STATE_SUCCEEDED);
  EXPECT_EQ(psp_->Payouts(), (std::map<std::string, int>{{refund_id, 1}}));
  Json refunds = psp_->Refunds();
  ASSERT_EQ(refunds.size(), 1u);
  EXPECT_EQ(refunds[0]["payment_intent"], "pi_3Mtw");
  EXPECT_EQ(refunds[0]["amount"], refund.amount_minor());
  EXPECT_GE(h.app().settlement_stats().resumed, 1u);
}

}  // namespace
}  // namespace makegood::settlement
