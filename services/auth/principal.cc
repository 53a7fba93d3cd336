#include "services/auth/principal.h"

namespace makegood::auth {

absl::string_view AuthKindName(AuthKind kind) {
  switch (kind) {
    case AuthKind::kJwt:
      return "jwt";
    case AuthKind::kApiKey:
      return "api_key";
    case AuthKind::kMtls:
      return "mtls";
    case AuthKind::kInsecure:
      return "insecure";
  }
  return "unknown";
}

}  // namespace makegood::auth
