// File: services/tools/loadgen/setup.h
//
// What a run needs on the server before it is measured: --setup creates the
// dataset's members and orders; replay submits the keys it will re-send.
// Both append their figures to `json` and report progress on stderr.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "makegood/v1/rating_service.pb.h"
#include "services/tools/loadgen/connections.h"
#include "services/tools/loadgen/dataset.h"

namespace makegood::loadgen {

namespace v1 = ::makegood::v1;

// --setup: members, then their orders; false when any call failed.
bool Setup(Connections& connections, const Dataset& dataset, int concurrency,
           absl::Duration timeout, std::string& json);

// Replay requests: key i carries the rating of pair i. With `prime` they are
// submitted first; the keys that failed are left out of the replay (unless
// all failed, so that a server without SubmitRating shows as errors).
std::vector<v1::SubmitRatingRequest> ReplayRequests(
    Connections& connections, const Dataset& dataset, int keys, bool prime,
    const std::string& key_prefix, int concurrency, absl::Duration timeout,
    std::string& json);

}  // namespace makegood::loadgen
