// File: services/auth/tls_credentials.h
//
// Transport security from certificate files, as Kubernetes mounts them from
// Secrets. The server side watches the files and picks up renewed
// certificates (cert-manager rotation) without a restart: gRPC's
// FileWatcherCertificateProvider re-reads them every refresh_interval and
// new handshakes use what it read; open connections keep their session.
//
//   TLS:        cert_file + key_file (PEM; the chain, leaf first).
//   Mutual TLS: also client_ca_file. Clients must then present a certificate
//               that chains to it, or the handshake fails; which names map
//               to which roles is the Authenticator's clients file.
//
// Files must be replaced atomically (Kubernetes swaps a symlinked directory;
// by hand: write elsewhere, then rename), or a reload may catch a key and a
// certificate that do not match. MakeServerCredentials checks the files once
// at start-up (readable, parseable, key matches certificate) so a bad
// deployment fails fast instead of failing every handshake.
//
// Example:
//   MAKEGOOD_ASSIGN_OR_RETURN(
//       std::shared_ptr<grpc::ServerCredentials> credentials,
//       MakeServerCredentials({.cert_file = "/tls/tls.crt",
//                              .key_file = "/tls/tls.key",
//                              .client_ca_file = "/tls/ca.crt",
//                              .refresh_interval = absl::Minutes(1)}));
//   builder.AddListeningPort(config.listen, credentials);
//
// Thread-safety: the functions are thread-safe; the credentials they return
// are gRPC's (shared, thread-safe).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace makegood::auth {

struct ServerTlsOptions {
  std::string cert_file;  // --tls_cert
  std::string key_file;   // --tls_key
  // --tls_client_ca; empty: clients are not asked for a certificate.
  std::string client_ca_file;
  // How often the files are re-read (whole seconds, at least one).
  absl::Duration refresh_interval = absl::Minutes(1);
};

// TLS (or mutual TLS) server credentials whose certificates are reloaded
// from the files. INVALID_ARGUMENT naming the option (tls_cert, tls_key,
// tls_client_ca, tls_refresh_interval) if a file is missing, not PEM, or the
// key does not match the certificate.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& options);

struct ClientTlsOptions {
  // CA bundle that signed the server's certificate; empty: the system roots.
  std::string ca_file;
  // Client certificate and key for mutual TLS; both or neither.
  std::string cert_file;
  std::string key_file;
};

// Channel credentials for tests, tools and the load generator. Files are
// read once. INVALID_ARGUMENT / NOT_FOUND naming the file on errors.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
MakeChannelCredentials(const ClientTlsOptions& options);

}  // namespace makegood::auth
