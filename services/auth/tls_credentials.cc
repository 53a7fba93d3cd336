#include "services/auth/tls_credentials.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "services/auth/credential_files.h"
#include "services/core/status_macros.h"

namespace makegood::auth {
namespace {

using BioPtr = std::unique_ptr<BIO, int (*)(BIO*)>;
using X509Ptr = std::unique_ptr<X509, void (*)(X509*)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)>;

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                &BIO_free);
}

// The first certificate of `pem`; INVALID_ARGUMENT naming `what` if none.
absl::StatusOr<X509Ptr> FirstCertificate(const std::string& pem,
                                         absl::string_view what,
                                         const std::string& path) {
  BioPtr bio = MemoryBio(pem);
  X509Ptr cert(bio == nullptr
                   ? nullptr
                   : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
               &X509_free);
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": ", path, " holds no PEM certificate (\"BEGIN CERTIFICATE\")"));
  }
  return cert;
}

absl::StatusOr<KeyPtr> PrivateKey(const std::string& pem,
                                  const std::string& path) {
  BioPtr bio = MemoryBio(pem);
  KeyPtr key(bio == nullptr ? nullptr
                            : PEM_read_bio_PrivateKey(bio.get(), nullptr,
                                                      nullptr, nullptr),
             &EVP_PKEY_free);
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tls_key: ", path,
        " holds no unencrypted PEM private key (\"BEGIN PRIVATE KEY\")"));
  }
  return key;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& options) {
  if (options.cert_file.empty() || options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "tls_cert and tls_key: both are required for TLS");
  }
  if (options.refresh_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        "tls_refresh_interval: must be at least 1s");
  }
  // Check once now, so a broken Secret stops the start-up with a clear
  // message; afterwards gRPC's watcher owns the files.
  MAKEGOOD_ASSIGN_OR_RETURN(std::string cert_pem,
                            ReadCredentialFile(options.cert_file, "tls_cert"));
  MAKEGOOD_ASSIGN_OR_RETURN(std::string key_pem,
                            ReadCredentialFile(options.key_file, "tls_key"));
  MAKEGOOD_ASSIGN_OR_RETURN(
      X509Ptr cert, FirstCertificate(cert_pem, "tls_cert", options.cert_file));
  MAKEGOOD_ASSIGN_OR_RETURN(KeyPtr key, PrivateKey(key_pem, options.key_file));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tls_key: ", options.key_file, " is not the key of the certificate in ",
        options.cert_file));
  }
  if (!options.client_ca_file.empty()) {
    MAKEGOOD_ASSIGN_OR_RETURN(
        std::string ca_pem,
        ReadCredentialFile(options.client_ca_file, "tls_client_ca"));
    MAKEGOOD_RETURN_IF_ERROR(
        FirstCertificate(ca_pem, "tls_client_ca", options.client_ca_file)
            .status());
  }

  const auto refresh_seconds =
      static_cast<unsigned int>(absl::ToInt64Seconds(options.refresh_interval));
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider;
  if (options.client_ca_file.empty()) {
    provider =
        std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
            options.key_file, options.cert_file, refresh_seconds);
  } else {
    provider =
        std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
            options.key_file, options.cert_file, options.client_ca_file,
            refresh_seconds);
  }
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (options.client_ca_file.empty()) {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    tls.watch_root_certs();
    tls.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::experimental::TlsServerCredentials(tls);
  if (credentials == nullptr) {
    return absl::InternalError("gRPC refused the TLS server options");
  }
  return credentials;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
MakeChannelCredentials(const ClientTlsOptions& options) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs both its certificate and key files");
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.ca_file.empty()) {
    MAKEGOOD_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                              ReadCredentialFile(options.ca_file, "tls_ca"));
  }
  if (!options.cert_file.empty()) {
    MAKEGOOD_ASSIGN_OR_RETURN(
        ssl.pem_cert_chain,
        ReadCredentialFile(options.cert_file, "tls_client_cert"));
    MAKEGOOD_ASSIGN_OR_RETURN(
        ssl.pem_private_key,
        ReadCredentialFile(options.key_file, "tls_client_key"));
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace makegood::auth
