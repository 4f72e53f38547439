// The sync fast path: a symbol whose arguments and result all travel in registers is called by
// the addon itself, from a frame JS has filled, instead of through koffi (src/sync-call.ts).
#pragma once

#include <node_api.h>

namespace rustplug {

// syncSymbol(fn: bigint, argClasses: number[], returns: number, frame: ArrayBuffer)
//   -> { call: () => void, slots: number[] } | null (null: this ABI cannot plan it)
napi_value CreateSyncSymbol(napi_env env, napi_callback_info info);

}  // namespace rustplug
