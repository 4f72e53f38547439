// A JS function a plugin may keep and call from any thread, behind one trampoline (see
// trampoline.h). Three shapes:
// - result { future: T }: the call queues the JS function to its JS thread and returns at once
//   an FfiFuture that the JS Promise settles (JsResult<T>: a rejection is a value);
// - result void from another thread: queued, the caller never waits;
// - other results from another thread: the caller blocks until JS has run (it deadlocks if the
//   JS thread is itself waiting for that thread: documented in the README).
// From the JS thread itself every shape runs inline. Calls are queued with a Node-API
// thread-safe function, so the queue never blocks and survives the environment's teardown (the
// calls still queued then end with an error, never run).
#pragma once

#include <node_api.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "../abi/async_ffi.h"
#include "../call/plan.h"
#include "trampoline.h"

namespace rustplug {

class JsFuture;

class Callback {
 public:
  // callbackCreate(fn, name, argClasses: number[], argKinds: number[], resultKind, future: boolean,
  //                ref: boolean, inlineEntry: bigint) -> [pointer: bigint, handle: External]
  // inlineEntry: a koffi-registered `void (void*)` that calls callbackRunInline: a call made on the
  // JS thread may come from inside a koffi call, which runs native code on a stack of its own
  // where V8 cannot run; koffi's callback entry switches back to V8's stack first.
  static napi_value Create(napi_env env, napi_callback_info info);
  // callbackRelease(handle): the pointer stops reaching JS (calls made later get an error result
  // or zero); idempotent.
  static napi_value ReleaseJs(napi_env env, napi_callback_info info);
  // callbackStats() -> { alive: registrations not yet released, calls: made through trampolines }
  static napi_value Stats(napi_env env, napi_callback_info info);
  // callbackRunInline(frame: bigint): runs one inline call (the JS side of inlineEntry).
  static napi_value RunInline(napi_env env, napi_callback_info info);

  // The trampolines' entry points (any thread).
  static uint64_t CallInteger(size_t slot, const CallFrame& frame) noexcept;
  static double CallFloat(size_t slot, const CallFrame& frame) noexcept;
  static void CallFuture(size_t slot, const CallFrame& frame, FfiFutureRaw* out) noexcept;

 private:
  struct Call;
  struct InlineCall;
  Callback() = default;
  void Retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Release() noexcept;
  static Callback* Acquire(Returns returns, size_t slot) noexcept;
  // Queues a call to the JS thread; false when the environment is gone or going.
  bool Queue(Call* call) noexcept;
  // JS thread: converts the frame into JS arguments and calls the function.
  bool Invoke(napi_env env, napi_value fn, const CallFrame& frame, napi_value* result);
  static void CallJs(napi_env env, napi_value fn, void* context, void* data);
  static void OnTsfnFinalized(napi_env env, void* data, void* hint);
  // JS thread: a JS result → the register image of `result_` (false: wrong type, error thrown).
  bool ToWord(napi_env env, napi_value v, uint64_t* word, double* num);
  uint64_t Inline(const CallFrame& frame, double* num);
  void Fulfil(napi_env env, napi_value v, JsFuture* f);
  void Run(const CallFrame& frame, uint64_t* word, double* num) noexcept;
  // JS thread, once: empties the slot, releases the thread-safe function and the registration.
  void Unregister(napi_env env);

  std::atomic<int> refs_{1};  // the registration (JS side) + each call in flight
  Returns returns_ = Returns::kInteger;
  size_t slot_ = 0;
  CallPlan plan_;
  ResultKind arg_kinds_[kMaxPlannedArgs] = {};
  ResultKind result_ = kVoid;
  bool future_ = false;
  std::string name_;
  napi_env env_ = nullptr;
  pthread_t js_thread_{};
  napi_ref fn_ = nullptr;  // JS thread only, for inline calls
  void (*inline_entry_)(void*) = nullptr;
  std::mutex mu_;
  napi_threadsafe_function tsfn_ = nullptr;  // guarded by mu_; null once released or finalized
  bool released_ = false;                    // guarded by mu_
  bool finalized_ = false;                   // guarded by mu_
};

}  // namespace rustplug
