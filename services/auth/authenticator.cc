#include "services/auth/authenticator.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/auth/credential_files.h"
#include "services/auth/method_roles.h"
#include "services/core/log.h"
#include "services/core/status_macros.h"
#include "services/core/text.h"
#include "services/errors/errors.h"

namespace makegood::auth {

struct Authenticator::Credentials {
  // Digest of every configured file's bytes: a reload that finds the same
  // fingerprint changes nothing.
  std::string fingerprint;
  std::optional<JwtVerifier> jwt;
  std::optional<ApiKeyTable> api_keys;
  std::optional<ClientTable> clients;
};

namespace {

constexpr absl::string_view kBearerPrefix = "bearer ";

absl::Status Unauthenticated(absl::string_view reason,
                             absl::string_view message) {
  return ErrorWithReason(absl::StatusCode::kUnauthenticated, reason, message);
}

// The values of metadata `key` (gRPC lower-cases keys).
std::vector<absl::string_view> Values(const Authenticator::Metadata& metadata,
                                      absl::string_view key) {
  std::vector<absl::string_view> values;
  auto [begin, end] =
      metadata.equal_range(grpc::string_ref(key.data(), key.size()));
  for (auto it = begin; it != end; ++it) {
    values.emplace_back(it->second.data(), it->second.size());
  }
  return values;
}

bool IsLoopbackHost(absl::string_view host) {
  // inet_pton reads up to the first NUL: "127.0.0.1\0x" is not loopback.
  if (absl::StrContains(host, '\0')) return false;
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  std::string text(host);
  in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

// The principal a verified client certificate names: nullopt if the peer
// presented none; CLIENT_CERT_UNKNOWN if none of its names is listed.
absl::StatusOr<std::optional<Principal>> FromClientCertificate(
    const ClientTable& clients, const grpc::AuthContext* peer) {
  if (peer == nullptr || !peer->IsPeerAuthenticated()) return std::nullopt;
  // "tls" from TlsServerCredentials (ours), "ssl" from SslServerCredentials.
  bool tls = false;
  for (const grpc::string_ref& type :
       peer->FindPropertyValues("transport_security_type")) {
    tls = tls || type == "tls" || type == "ssl";
  }
  if (!tls) return std::nullopt;
  // SANs first: they are what certificates are issued for today; the common
  // name is the fallback of older certificates.
  for (const char* property :
       {"x509_subject_alternative_name", "x509_common_name"}) {
    for (const grpc::string_ref& name : peer->FindPropertyValues(property)) {
      if (const ClientEntry* entry =
              clients.Find(absl::string_view(name.data(), name.size()))) {
        Principal principal;
        principal.id = entry->name;
        principal.roles = entry->roles;
        principal.kind = AuthKind::kMtls;
        return principal;
      }
    }
  }
  return Unauthenticated(
      "CLIENT_CERT_UNKNOWN",
      "the client certificate is valid but none of its names is in the "
      "clients file");
}

}  // namespace

absl::Status CheckInsecureAllowed(absl::string_view listen_address) {
  absl::string_view host = listen_address;
  if (absl::StartsWith(host, "[")) {
    size_t close = host.find(']');
    host = close == absl::string_view::npos ? absl::string_view()
                                            : host.substr(1, close - 1);
  } else if (size_t colon = host.find(':');
             colon != absl::string_view::npos &&
             host.find(':', colon + 1) == absl::string_view::npos) {
    host = host.substr(0, colon);  // "host:port"
  }
  if (!IsLoopbackHost(host)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "insecure_dev: the insecure development mode needs a loopback listen "
        "address (127.0.0.1, [::1] or localhost), not \"",
        listen_address, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Authenticator::Credentials>>
Authenticator::Load(const AuthOptions& options) {
  auto credentials = std::make_shared<Credentials>();
  const bool jwt_on = !options.jwt_issuer.empty() ||
                      !options.jwt_audience.empty() ||
                      !options.jwt_key_file.empty();
  if (jwt_on) {
    if (options.jwt_key_file.empty()) {
      return absl::InvalidArgumentError(
          "jwt_key_file: required when JWT authentication is on");
    }
    MAKEGOOD_ASSIGN_OR_RETURN(
        std::string key,
        ReadCredentialFile(options.jwt_key_file, "jwt_key_file"));
    absl::StrAppend(&credentials->fingerprint, Sha256Hex(key));
    JwtVerifierOptions jwt;
    jwt.algorithm = options.jwt_algorithm;
    jwt.key = std::move(key);
    jwt.issuer = options.jwt_issuer;
    jwt.audience = options.jwt_audience;
    jwt.leeway = options.jwt_leeway;
    MAKEGOOD_ASSIGN_OR_RETURN(JwtVerifier verifier,
                              JwtVerifier::Create(std::move(jwt)));
    credentials->jwt.emplace(std::move(verifier));
  }
  absl::StrAppend(&credentials->fingerprint, "/");
  if (!options.api_keys_file.empty()) {
    MAKEGOOD_ASSIGN_OR_RETURN(
        std::string text,
        ReadCredentialFile(options.api_keys_file, "api_keys_file"));
    absl::StrAppend(&credentials->fingerprint, Sha256Hex(text));
    MAKEGOOD_ASSIGN_OR_RETURN(
        ApiKeyTable keys,
        ApiKeyTable::Parse(
            text, absl::StrCat("api_keys_file ", options.api_keys_file)));
    credentials->api_keys.emplace(std::move(keys));
  }
  absl::StrAppend(&credentials->fingerprint, "/");
  if (!options.tls_clients_file.empty()) {
    MAKEGOOD_ASSIGN_OR_RETURN(
        std::string text,
        ReadCredentialFile(options.tls_clients_file, "tls_clients_file"));
    absl::StrAppend(&credentials->fingerprint, Sha256Hex(text));
    MAKEGOOD_ASSIGN_OR_RETURN(
        ClientTable clients,
        ClientTable::Parse(
            text, absl::StrCat("tls_clients_file ", options.tls_clients_file)));
    credentials->clients.emplace(std::move(clients));
  }
  return std::shared_ptr<const Credentials>(std::move(credentials));
}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(
    AuthOptions options, const Clock& clock) {
  if (options.reload_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "auth_reload_interval: must not be negative");
  }
  MAKEGOOD_ASSIGN_OR_RETURN(std::shared_ptr<const Credentials> credentials,
                            Load(options));
  if (!credentials->jwt.has_value() && !credentials->api_keys.has_value() &&
      !credentials->clients.has_value() && !options.insecure_dev) {
    return absl::InvalidArgumentError(
        "no caller authentication configured: set jwt_issuer, jwt_audience "
        "and jwt_key_file, or api_keys_file, or tls_clients_file (or "
        "insecure_dev for local development)");
  }
  Log(LogLevel::kInfo, "auth_configured",
      {{"jwt", credentials->jwt.has_value()},
       {"jwt_algorithm", credentials->jwt.has_value()
                             ? JwtAlgorithmName(options.jwt_algorithm)
                             : absl::string_view("")},
       {"api_keys", static_cast<int64_t>(credentials->api_keys.has_value()
                                             ? credentials->api_keys->size()
                                             : 0)},
       {"tls_clients", static_cast<int64_t>(credentials->clients.has_value()
                                                ? credentials->clients->size()
                                                : 0)},
       {"insecure_dev", options.insecure_dev}});
  if (options.insecure_dev) {
    Log(LogLevel::kWarning, "insecure_dev_mode",
        {{"message",
          "INSECURE DEVELOPMENT MODE: calls without credentials are accepted "
          "and get every role; never use this outside a developer machine"}});
  }
  return std::unique_ptr<Authenticator>(
      new Authenticator(std::move(options), clock, std::move(credentials)));
}

Authenticator::Authenticator(AuthOptions options, const Clock& clock,
                             std::shared_ptr<const Credentials> credentials)
    : options_(std::move(options)),
      clock_(clock),
      credentials_(std::move(credentials)) {
  if (options_.reload_interval > absl::ZeroDuration()) {
    reload_thread_ = std::thread([this] { RunReloads(); });
  }
}

Authenticator::~Authenticator() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (reload_thread_.joinable()) reload_thread_.join();
}

std::shared_ptr<const Authenticator::Credentials> Authenticator::Current()
    const {
  absl::ReaderMutexLock lock(&mu_);
  return credentials_;
}

void Authenticator::RunReloads() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                               options_.reload_interval)) {
        return;
      }
    }
    // Logs its outcome; a refused set leaves the current one in place.
    absl::StatusOr<bool> reloaded = ReloadNow();
    (void)reloaded;
  }
}

absl::StatusOr<bool> Authenticator::ReloadNow() {
  absl::MutexLock serial(&reload_mu_);
  absl::StatusOr<std::shared_ptr<const Credentials>> loaded = Load(options_);
  if (!loaded.ok()) {
    Log(LogLevel::kWarning, "auth_reload_rejected",
        {{"error", loaded.status().message()}});
    return loaded.status();
  }
  {
    absl::MutexLock lock(&mu_);
    if ((*loaded)->fingerprint == credentials_->fingerprint) return false;
    credentials_ = *std::move(loaded);
  }
  Log(LogLevel::kInfo, "auth_reloaded", {});
  return true;
}

absl::StatusOr<Principal> Authenticator::Authorize(
    const grpc::CallbackServerContext& context,
    absl::string_view full_method) const {
  std::shared_ptr<const grpc::AuthContext> peer = context.auth_context();
  MAKEGOOD_ASSIGN_OR_RETURN(
      Principal principal, Authenticate(context.client_metadata(), peer.get()));
  MAKEGOOD_RETURN_IF_ERROR(CheckMethodAllowed(principal, full_method));
  return principal;
}

absl::StatusOr<Principal> Authenticator::Authenticate(
    const Metadata& metadata, const grpc::AuthContext* peer) const {
  std::shared_ptr<const Credentials> credentials = Current();
  const std::vector<absl::string_view> authorization =
      Values(metadata, kAuthorizationMetadata);
  const std::vector<absl::string_view> api_keys =
      Values(metadata, kApiKeyMetadata);
  if (authorization.size() + api_keys.size() > 1) {
    return Unauthenticated(
        "CREDENTIALS_CONFLICT",
        "send exactly one credential: one `authorization: Bearer <jwt>` or "
        "one `x-api-key`, not several");
  }

  if (!authorization.empty()) {
    if (!credentials->jwt.has_value()) {
      return Unauthenticated("CREDENTIALS_UNSUPPORTED",
                             "this server does not accept bearer tokens");
    }
    absl::string_view value = authorization.front();
    if (value.size() <= kBearerPrefix.size() ||
        !absl::StartsWithIgnoreCase(value, kBearerPrefix)) {
      return Unauthenticated(
          "TOKEN_INVALID",
          "the authorization metadata must be \"Bearer <jwt>\"");
    }
    absl::string_view token =
        absl::StripAsciiWhitespace(value.substr(kBearerPrefix.size()));
    return credentials->jwt->Verify(token, clock_.Now());
  }

  if (!api_keys.empty()) {
    if (!credentials->api_keys.has_value()) {
      return Unauthenticated("CREDENTIALS_UNSUPPORTED",
                             "this server does not accept API keys");
    }
    const ApiKeyEntry* entry = credentials->api_keys->Find(api_keys.front());
    if (entry == nullptr) {
      return Unauthenticated("API_KEY_UNKNOWN",
                             "the x-api-key is not a known key");
    }
    Principal principal;
    principal.id = entry->principal_id;
    principal.roles = entry->roles;
    principal.kind = AuthKind::kApiKey;
    return principal;
  }

  if (credentials->clients.has_value()) {
    MAKEGOOD_ASSIGN_OR_RETURN(
        std::optional<Principal> from_certificate,
        FromClientCertificate(*credentials->clients, peer));
    if (from_certificate.has_value()) return *std::move(from_certificate);
  }

  if (options_.insecure_dev) {
    Principal principal;
    principal.id = kAnonymousPrincipal;
    principal.roles = RoleSet::All();
    principal.kind = AuthKind::kInsecure;
    const std::vector<absl::string_view> client_ids =
        Values(metadata, kClientIdMetadata);
    if (!client_ids.empty()) {
      if (!IsValidId(client_ids.front())) {
        Violations violations;
        violations.Add("metadata x-client-id",
                       "must be 1-128 characters of [A-Za-z0-9._:@-]");
        return violations.ToStatus();
      }
      principal.id = std::string(client_ids.front());
    }
    return principal;
  }

  std::vector<absl::string_view> accepted;
  if (credentials->jwt.has_value()) {
    accepted.push_back("`authorization: Bearer <jwt>`");
  }
  if (credentials->api_keys.has_value()) accepted.push_back("`x-api-key`");
  if (credentials->clients.has_value()) {
    accepted.push_back("a client certificate listed in the clients file");
  }
  return Unauthenticated(
      "CREDENTIALS_MISSING",
      absl::StrCat("no credentials: send ", absl::StrJoin(accepted, " or ")));
}

}  // namespace makegood::auth
