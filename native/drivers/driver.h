// What one poll of a plugin's future yields, whatever the future carries. The runtime (hub.cc)
// owns scheduling, cancellation and settling; a driver only knows how to call poll_fn for its
// result type and turn a Ready value into JS. New kinds (streams' poll_next, futures backed by
// JS Promises) are new drivers; the runtime does not change.
#pragma once

#include <node_api.h>

#include <cstdint>

#include "../abi/async_ffi.h"

namespace rustplug {

struct PollResult {
  // kPollReady: `value` holds the result. kPollPending: nothing. Anything else (Panicked, a tag
  // that is none of the three): the hub makes the error, unless `error` already holds one (a
  // JS exception raised while reading the value).
  uint8_t tag = kPollPanicked;
  napi_value value = nullptr;
  napi_value error = nullptr;
};

class Driver {
 public:
  virtual ~Driver() = default;
  // JS thread only. Calls poll_fn(fut_ptr, cx) exactly once. May run JS (struct results), which
  // may re-enter rustplug: the runtime keeps the task alive and defers any cancel until return.
  virtual PollResult Poll(napi_env env, void* poll_fn, void* fut_ptr, FfiContext* cx) const = 0;
  // JS thread, once, when the symbol goes away (references into the environment).
  virtual void Dispose(napi_env env) {}
};

// Scalars, pointers and strings (drivers/scalar.cc): the value is read natively. A string result
// is copied into JS and then freed with `free_fn` (when the declaration names one) before the
// future is dropped, so no plugin pointer outlives the task that holds the library's code.
Driver* NewScalarDriver(ResultKind kind, FreeFn free_fn);
// Structs (drivers/struct_js.cc): a JS function (pollFn, fut, cx: bigint) => { tag, value } that
// knows the FfiPoll<Struct> return convention (koffi) makes the call.
Driver* NewStructDriver(napi_env env, napi_value js_poll);

}  // namespace rustplug
