// File: services/api/caller.h
//
// Admit() moved to services/auth/admit.h. This forwarding header remains only
// for services/api/goodwill_service.cc, which is moving to services/goodwill/
// concurrently; delete it once that file includes services/auth/admit.h.
#pragma once

#include "services/auth/admit.h"

namespace makegood::api {

using auth::Admit;

}  // namespace makegood::api
