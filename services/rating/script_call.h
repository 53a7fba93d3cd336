// File: services/rating/script_call.h
//
// What one call of a SubmitRating script sends, and the checks its reply
// parsers share: the store's (services/store/script_call.h), named here so
// rating's builders (admit_script.h, commit_script.h, release_script.h,
// rate_limit_script.h) use them unqualified. Every typed script call in
// makegood shares those one definitions.
#pragma once

#include "services/store/script_call.h"

namespace makegood::rating {

using store::IntegerAt;
using store::MalformedReply;
using store::ScriptCall;
using store::TaggedReply;
using store::TextAt;

}  // namespace makegood::rating
