// File: services/settlement/script_call.h
//
// What one call of a settlement script sends, and the checks its reply
// parsers share: the store's (services/store/script_call.h), named here so
// settlement's builders (settle_begin_script.h, settle_finish_script.h,
// wallet_pay_script.h, sandbox_pay_script.h, reconcile_script.h) use them
// unqualified. Every typed script call in makegood shares those one
// definitions.
#pragma once

#include "services/store/script_call.h"

namespace makegood::settlement {

using store::IntegerAt;
using store::MalformedReply;
using store::ScriptCall;
using store::TaggedReply;
using store::TextAt;

}  // namespace makegood::settlement
