#pragma once
#include <node_api.h>

namespace rustplug {
// exports.abi = { resultKinds, pollTags, argClasses, futureCallRegisters, futureSize, ... }
void RegisterAbiFacts(napi_env env, napi_value exports);
}  // namespace rustplug
