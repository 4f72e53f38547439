#pragma once
#include <node_api.h>
#include <cstddef>

namespace rustplug {
// x86_64 SysV passes the first six integer-class arguments in registers.
constexpr size_t kMaxFutureCallArgs = 6;
void RegisterFutureCall(napi_env env, napi_value exports);
}
