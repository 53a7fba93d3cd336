// File: tests/fuzz/rating_request_fuzzer.cc
//
// SubmitRating's pure front: ValidateSubmitRating and RequestFingerprint on
// any SubmitRatingRequest (the input is the request's protobuf wire bytes).
// Properties, besides "never crashes":
//   - the fingerprint is 64 lower-case hex digits, a pure function of the
//     request, and stable under re-serialization (what a retry sends);
//   - it ignores the idempotency key, the order of reasons and (for valid
//     requests, whose line ids are distinct) the order of line ratings;
//   - it changes with every business field (member, order, overall
//     satisfaction present or not, comment);
//   - validity does not depend on the encoding or on the order of lines.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "makegood/v1/rating_service.pb.h"
#include "services/api/validation.h"
#include "services/errors/errors.h"
#include "services/rating/rating_ids.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using makegood::v1::SubmitRatingRequest;

bool Valid(const SubmitRatingRequest& request) {
  makegood::Violations violations;
  makegood::api::ValidateSubmitRating(request, violations);
  return violations.empty();
}

bool IsHexDigest(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
         });
}

// The same request with every repeated field in reverse order.
SubmitRatingRequest Reversed(const SubmitRatingRequest& request) {
  SubmitRatingRequest r = request;
  std::reverse(r.mutable_reasons()->begin(), r.mutable_reasons()->end());
  std::reverse(r.mutable_line_ratings()->begin(),
               r.mutable_line_ratings()->end());
  for (auto& line : *r.mutable_line_ratings()) {
    std::reverse(line.mutable_reasons()->begin(),
                 line.mutable_reasons()->end());
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  SubmitRatingRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return -1;

  const bool valid = Valid(request);
  const std::string fp = makegood::rating::RequestFingerprint(request);
  FUZZ_CHECK(IsHexDigest(fp)) << fp;
  FUZZ_CHECK(makegood::rating::RequestFingerprint(request) == fp);

  // Re-serialized (a retry), also deterministically.
  for (bool deterministic : {false, true}) {
    std::string bytes;
    {
      google::protobuf::io::StringOutputStream out(&bytes);
      google::protobuf::io::CodedOutputStream coded(&out);
      coded.SetSerializationDeterministic(deterministic);
      FUZZ_CHECK(request.SerializeToCodedStream(&coded));
    }
    SubmitRatingRequest again;
    FUZZ_CHECK(again.ParseFromString(bytes));
    FUZZ_CHECK(makegood::rating::RequestFingerprint(again) == fp)
        << "fingerprint changed by re-serialization";
    FUZZ_CHECK(Valid(again) == valid) << "validity changed by re-serialization";
  }

  // The idempotency key is not part of the fingerprint.
  SubmitRatingRequest other_key = request;
  other_key.set_idempotency_key(request.idempotency_key() + "k");
  FUZZ_CHECK(makegood::rating::RequestFingerprint(other_key) == fp);

  // Order of reasons and lines does not matter (line ids are distinct in a
  // valid request; with repeated ids the order of equal ids is not defined).
  SubmitRatingRequest reversed = Reversed(request);
  FUZZ_CHECK(Valid(reversed) == valid) << "validity depends on field order";
  if (valid) {
    FUZZ_CHECK(makegood::rating::RequestFingerprint(reversed) == fp)
        << "fingerprint depends on the order of reasons or lines";
  }

  // Every business field is part of it.
  SubmitRatingRequest changed = request;
  changed.set_member_id(request.member_id() + "m");
  FUZZ_CHECK(makegood::rating::RequestFingerprint(changed) != fp) << "member";
  changed = request;
  changed.set_order_id(request.order_id() + "o");
  FUZZ_CHECK(makegood::rating::RequestFingerprint(changed) != fp) << "order";
  changed = request;
  changed.set_comment(request.comment() + "c");
  FUZZ_CHECK(makegood::rating::RequestFingerprint(changed) != fp) << "comment";
  changed = request;
  if (request.has_satisfaction_percent()) {
    changed.clear_satisfaction_percent();
  } else {
    changed.set_satisfaction_percent(0);
  }
  FUZZ_CHECK(makegood::rating::RequestFingerprint(changed) != fp)
      << "satisfaction presence";
  if (request.line_ratings_size() > 0) {
    changed = request;
    auto* line = changed.mutable_line_ratings(0);
    line->set_line_id(line->line_id() + "l");
    FUZZ_CHECK(makegood::rating::RequestFingerprint(changed) != fp)
        << "line id";
  }
  return 0;
}
