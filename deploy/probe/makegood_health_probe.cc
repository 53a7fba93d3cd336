// File: deploy/probe/makegood_health_probe.cc
//
// makegood_health_probe: the Kubernetes exec probe of the makegood pods.
//
// Why it exists: makegood serves gRPC over TLS only (plaintext needs
// --insecure_dev, which binds loopback), and the kubelet's native gRPC probe
// dials plaintext (TLS for it is alpha from Kubernetes 1.37, behind the
// GRPCContainerProbeTLS gate). So the image carries this small client, run by
// an exec probe inside the container, which does what the native probe does
// over TLS: one grpc.health.v1.Health/Check and exit 0 only on SERVING.
//
//   makegood_health_probe [--addr=127.0.0.1:50051] [--service=NAME]
//                         [--timeout_ms=1500]
//                         [--tls_cert=FILE --tls_key=FILE] [--plaintext]
//
//   --addr        where makegood listens (the pod's own port, over loopback).
//   --service     the health service name; "" (the default) is the server as
//                 a whole, which is what makegood reports.
//   --timeout_ms  deadline of the connection and the call together.
//   --tls_cert/--tls_key
//                 a client certificate, for servers that require one (mutual
//                 TLS: --tls_client_ca). The pod's own certificate works when
//                 it allows client authentication.
//   --plaintext   no TLS (a server in --insecure_dev mode on loopback).
//
// The server certificate is deliberately not verified: the probe talks to its
// own container over loopback, so there is no peer identity to check, and
// verifying would tie the probe to the certificate's names. Health needs no
// caller credentials in makegood (no API key, no token).
//
// Exit codes (as grpc_health_probe): 0 SERVING, 1 usage, 2 connection or RPC
// failure, 4 a status other than SERVING. One line on stderr unless SERVING.
//
// Dependencies: gRPC C++ only (no generated code: the two health messages are
// encoded by hand). Built by deploy/Dockerfile; compiled by deploy/check.sh.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr int kServing = 0;
constexpr int kUsage = 1;
constexpr int kRpcFailure = 2;
constexpr int kNotServing = 4;

constexpr char kCheckMethod[] = "/grpc.health.v1.Health/Check";

struct Options {
  std::string addr = "127.0.0.1:50051";
  std::string service;
  int timeout_ms = 1500;
  std::string tls_cert;
  std::string tls_key;
  bool plaintext = false;
};

int Usage(const std::string& message) {
  std::cerr << "makegood_health_probe: " << message << "\n"
            << "usage: makegood_health_probe [--addr=HOST:PORT] "
               "[--service=NAME] [--timeout_ms=N] [--tls_cert=FILE "
               "--tls_key=FILE] [--plaintext]\n";
  return kUsage;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  *out = text.str();
  return !out->empty();
}

// HealthCheckRequest { string service = 1; }
std::string EncodeRequest(const std::string& service) {
  std::string out;
  if (service.empty()) return out;
  out.push_back(0x0a);  // field 1, length-delimited
  size_t n = service.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  out += service;
  return out;
}

// HealthCheckResponse { ServingStatus status = 1; } -> the status (0 when
// absent, UNKNOWN), or -1 when the bytes are not such a message.
int64_t DecodeStatus(const std::string& bytes) {
  int64_t status = 0;
  size_t i = 0;
  auto varint = [&](uint64_t* v) {
    *v = 0;
    for (int shift = 0; i < bytes.size() && shift < 64; shift += 7) {
      uint8_t b = static_cast<uint8_t>(bytes[i++]);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  };
  while (i < bytes.size()) {
    uint64_t key = 0;
    if (!varint(&key)) return -1;
    uint64_t value = 0;
    switch (key & 7) {
      case 0:  // varint
        if (!varint(&value)) return -1;
        if ((key >> 3) == 1) status = static_cast<int64_t>(value);
        break;
      case 2:  // length-delimited: skip
        if (!varint(&value) || value > bytes.size() - i) return -1;
        i += value;
        break;
      default:
        return -1;
    }
  }
  return status;
}

const char* StatusName(int64_t status) {
  switch (status) {
    case 0:
      return "UNKNOWN";
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      return "unrecognised";
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (name == "--addr" && !value.empty()) {
      o.addr = value;
    } else if (name == "--service") {
      o.service = value;
    } else if (name == "--timeout_ms") {
      o.timeout_ms = std::atoi(value.c_str());
      if (o.timeout_ms <= 0) return Usage("--timeout_ms must be positive");
    } else if (name == "--tls_cert") {
      o.tls_cert = value;
    } else if (name == "--tls_key") {
      o.tls_key = value;
    } else if (arg == "--plaintext") {
      o.plaintext = true;
    } else {
      return Usage("unknown argument \"" + arg + "\"");
    }
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return Usage("--tls_cert and --tls_key go together");
  }

  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (o.plaintext) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::experimental::TlsChannelCredentialsOptions tls;
    // Loopback to our own container: no peer identity to verify (see top).
    tls.set_verify_server_certs(false);
    tls.set_check_call_host(false);
    tls.set_certificate_verifier(
        std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
    if (!o.tls_cert.empty()) {
      grpc::experimental::IdentityKeyCertPair pair;
      if (!ReadFile(o.tls_key, &pair.private_key) ||
          !ReadFile(o.tls_cert, &pair.certificate_chain)) {
        std::cerr << "makegood_health_probe: cannot read " << o.tls_cert
                  << " or " << o.tls_key << "\n";
        return kRpcFailure;
      }
      tls.set_certificate_provider(
          std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
              std::vector<grpc::experimental::IdentityKeyCertPair>{pair}));
      tls.watch_identity_key_cert_pairs();
    }
    credentials = grpc::experimental::TlsCredentials(tls);
    if (credentials == nullptr) {
      std::cerr << "makegood_health_probe: gRPC refused the TLS options\n";
      return kRpcFailure;
    }
  }

  grpc::ChannelArguments args;
  args.SetString(GRPC_ARG_PRIMARY_USER_AGENT_STRING, "makegood-health-probe");
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(o.addr, credentials, args);
  grpc::GenericStub stub(channel);

  const auto deadline = std::chrono::system_clock::now() +
                        std::chrono::milliseconds(o.timeout_ms);
  grpc::ClientContext context;
  context.set_deadline(deadline);
  // Wait for the connection within the deadline instead of failing fast on a
  // server that is still starting.
  context.set_wait_for_ready(true);

  const std::string request_bytes = EncodeRequest(o.service);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(&context, kCheckMethod, request, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  const bool completed = cq.Next(&tag, &ok) && ok;
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!completed) {
    std::cerr << "makegood_health_probe: " << o.addr
              << ": the call did not complete\n";
    return kRpcFailure;
  }
  if (!status.ok()) {
    std::cerr << "makegood_health_probe: " << o.addr << ": " << kCheckMethod
              << " failed: code " << status.error_code() << ": "
              << status.error_message() << "\n";
    return kRpcFailure;
  }
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (response.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  const int64_t serving = DecodeStatus(bytes);
  if (serving == 1) return kServing;
  std::cerr << "makegood_health_probe: " << o.addr << ": status "
            << StatusName(serving) << "\n";
  return kNotServing;
}
