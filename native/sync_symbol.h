// The sync fast path: a symbol whose arguments and result all travel in registers is called by
// the addon itself instead of through koffi (src/sync-frame.ts). Scalars come from a frame JS has
// filled; strings and buffers come as the function's own arguments and are converted here; a
// string result becomes a JS string here (and is freed with the declared `free`).
#pragma once

#include <node_api.h>

namespace rustplug {

// syncSymbol(fn: bigint, argClasses: number[], returns: number, frame: ArrayBuffer,
//            passed: number[] (per argument: 0 from the frame, 1 a string, 2 a buffer),
//            free: bigint | null)
//   -> { call: Function, slots: number[] } | null (null: this ABI cannot plan it)
napi_value CreateSyncSymbol(napi_env env, napi_callback_info info);

}  // namespace rustplug
