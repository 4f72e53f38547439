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
  // kPollReady: `value` holds the result (a future's value, a stream's item), or, for a stream,
  // `end` says Ready(None). kPollPending: nothing. Anything else (Panicked, a tag that is none of
  // the three, an option tag that is none of None/Some): the hub makes the error, unless `error`
  // already holds one (a JS exception raised while reading the value).
  uint8_t tag = kPollPanicked;
  bool end = false;
  napi_value value = nullptr;
  napi_value error = nullptr;
};

// A tag outside the ABI's, reported as an ABI mismatch by the hub.
constexpr uint8_t kPollBadTag = 0xff;

class Driver {
 public:
  virtual ~Driver() = default;
  // JS thread only. Calls poll_fn(fut_ptr, cx) exactly once (a stream's poll_next_fn). May run JS
  // (struct results), which may re-enter rustplug: the runtime keeps the task alive and defers
  // any cancel until return.
  virtual PollResult Poll(napi_env env, void* poll_fn, void* fut_ptr, FfiContext* cx) const = 0;
  // JS thread, once, when the symbol goes away (references into the environment).
  virtual void Dispose(napi_env env) {}
};

// Scalars, pointers and strings (drivers/scalar.cc): the value is read natively. A string result
// is copied into JS and then freed with `free_fn` (when the declaration names one) before the
// future is dropped, so no plugin pointer outlives the task that holds the library's code.
// `stream`: the function is a poll_next_fn returning FfiPoll<FfiOption<T>>.
Driver* NewScalarDriver(ResultKind kind, FreeFn free_fn, bool stream);
// Structs (drivers/struct_js.cc): a JS function (pollFn, fut, cx: bigint) => { tag, value, end? }
// that knows the FfiPoll<Struct> (or FfiPoll<FfiOption<Struct>>) return convention (koffi).
Driver* NewStructDriver(napi_env env, napi_value js_poll);

}  // namespace rustplug
