// File: services/auth/authenticator.h
//
// Authenticator: turns the credentials a call presents into a Principal and
// checks the principal's roles against the method table (method_roles.h).
// Every makegood.v1 handler calls Authorize() first; health and reflection
// do not.
//
// Credentials, in the order they are looked at:
//   1. `authorization: Bearer <jwt>` — verified by JwtVerifier (on when
//      jwt_issuer/jwt_audience/jwt_key_file are set).
//   2. `x-api-key: <key>` — looked up by SHA-256 in the API keys file.
//      Sending both 1 and 2, or either twice, is refused as ambiguous.
//   3. A verified client certificate (mutual TLS) whose subject alternative
//      name or common name is listed in the clients file.
//   4. Nothing, in the insecure development mode only: the principal is
//      `x-client-id` (or "anonymous") with every role.
// Presented credentials are always checked, even in insecure mode: a bad
// token is refused, not ignored. The identity never comes from
// `x-client-id` outside insecure mode.
//
// Outcomes (absl::Status with an ErrorInfo reason, see errors.h):
//   UNAUTHENTICATED  CREDENTIALS_MISSING, CREDENTIALS_CONFLICT,
//                    CREDENTIALS_UNSUPPORTED (e.g. a bearer token where JWT is
//                    not configured), TOKEN_INVALID, TOKEN_EXPIRED,
//                    API_KEY_UNKNOWN, CLIENT_CERT_UNKNOWN
//   PERMISSION_DENIED ROLE_NOT_ALLOWED, METHOD_NOT_ALLOWED
//   INVALID_ARGUMENT  a malformed `x-client-id` in insecure mode
// Messages say what failed and never contain a token or a key.
//
// Files (JWT key, API keys, clients) are read once by Create, which fails
// with a message naming the option if any is missing or malformed. With a
// reload_interval they are re-read in the background; a changed set that
// parses replaces the old one atomically, one that does not is logged
// ("auth_reload_rejected") and the old one keeps serving. Authorize does no
// I/O.
//
// Example (server start-up, then in a handler):
//   MAKEGOOD_RETURN_IF_ERROR(CheckInsecureAllowed(config.listen));  // if dev
//   MAKEGOOD_ASSIGN_OR_RETURN(std::unique_ptr<Authenticator> auth,
//                             Authenticator::Create(options, RealClock()));
//   ...
//   absl::StatusOr<Principal> who =
//       auth->Authorize(*context, "/makegood.v1.RatingService/SubmitRating");
//   if (!who.ok()) { reactor->Finish(ToGrpcStatus(who.status())); ... }
//
// Thread-safety: Authorize, Authenticate and ReloadNow are thread-safe. The
// authenticator owns its reload thread (stopped by the destructor); `clock`
// is not owned and must outlive it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/security/auth_context.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/string_ref.h"
#include "services/auth/jwt_verifier.h"
#include "services/auth/principal.h"
#include "services/core/clock.h"

namespace makegood::auth {

inline constexpr char kAuthorizationMetadata[] = "authorization";
inline constexpr char kApiKeyMetadata[] = "x-api-key";
inline constexpr char kClientIdMetadata[] = "x-client-id";
inline constexpr char kAnonymousPrincipal[] = "anonymous";

struct AuthOptions {
  // JWT bearer tokens: on when any of these is set, then all three are
  // required. jwt_key_file holds the HS256 secret or the RS256/ES256 public
  // key PEM; the algorithm is fixed here, never taken from tokens.
  std::string jwt_issuer;
  std::string jwt_audience;
  std::string jwt_key_file;
  JwtAlgorithm jwt_algorithm = JwtAlgorithm::kRs256;
  absl::Duration jwt_leeway = absl::Seconds(30);
  // API keys file (credential_files.h); empty: API keys are not accepted.
  std::string api_keys_file;
  // mTLS clients file (credential_files.h); empty: client certificates
  // secure the transport but name no principal.
  std::string tls_clients_file;
  // Insecure development mode (see CheckInsecureAllowed). Logged loudly.
  bool insecure_dev = false;
  // How often the files above are checked for changes; zero: never.
  absl::Duration reload_interval = absl::Seconds(10);
};

// OK if `listen_address` ("host:port", "[v6]:port") listens on loopback only
// (127.0.0.0/8, ::1 or localhost); else INVALID_ARGUMENT naming insecure_dev.
// The server calls it before starting in insecure development mode.
[[nodiscard]] absl::Status CheckInsecureAllowed(
    absl::string_view listen_address);

class Authenticator {
 public:
  using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;

  // Reads and checks the configured files and starts the reload thread (if
  // reload_interval > 0). INVALID_ARGUMENT naming the option if nothing is
  // configured (no JWT, keys, clients file, nor insecure_dev) or a setting
  // or file is bad; NOT_FOUND if a file cannot be read.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(
      AuthOptions options, const Clock& clock);

  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // Authenticate, then CheckMethodAllowed(principal, full_method).
  // `full_method` is "/makegood.v1.<Service>/<Method>".
  absl::StatusOr<Principal> Authorize(
      const grpc::CallbackServerContext& context,
      absl::string_view full_method) const;

  // Who presents `metadata` over a connection with `peer` (nullptr or an
  // unauthenticated context: no client certificate). No role check.
  absl::StatusOr<Principal> Authenticate(const Metadata& metadata,
                                         const grpc::AuthContext* peer) const;

  // Re-reads the files now. true: they changed and were swapped in; false:
  // unchanged; an error: changed but refused (the old set keeps serving).
  absl::StatusOr<bool> ReloadNow();

 private:
  struct Credentials;

  Authenticator(AuthOptions options, const Clock& clock,
                std::shared_ptr<const Credentials> credentials);

  // Reads and parses every configured file.
  static absl::StatusOr<std::shared_ptr<const Credentials>> Load(
      const AuthOptions& options);

  std::shared_ptr<const Credentials> Current() const;
  void RunReloads();

  const AuthOptions options_;
  const Clock& clock_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const Credentials> credentials_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // Serialises ReloadNow calls (thread and tests).
  absl::Mutex reload_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::thread reload_thread_;
};

}  // namespace makegood::auth
