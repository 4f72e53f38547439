#pragma once
#include <node_api.h>

#include <cstddef>
#include <cstdint>

#include "ffi_abi.h"

namespace rustplug {

// Register budget of a future-creating call (see future_call.cc): RDI carries the hidden result
// pointer, five general registers remain; eight XMM registers.
constexpr size_t kMaxIntegerArgs = 5;
constexpr size_t kMaxFloatArgs = 8;
constexpr size_t kMaxCallArgs = kMaxIntegerArgs + kMaxFloatArgs;

// Argument classes, two bits per parameter in `signature` (parameter 0 in the low bits).
enum ArgClass : uint32_t { kArgInteger = 0, kArgF64 = 1, kArgF32 = 2 };

// Calls `fn(args...) -> FfiFuture<T>`. False when an argument does not fit its class or the
// register budget; nothing was called then.
bool CallFutureFunction(napi_env env, void* fn, uint32_t signature, const napi_value* args, size_t argc,
                        FfiFutureRaw* out);

}  // namespace rustplug
