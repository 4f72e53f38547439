// A symbol that returns a future (FfiFuture<T>) or a stream (FfiStream<T>), prepared once at
// open(): everything a hot call needs (the function, its call plan, its result driver, its name
// for errors, its library) behind one External, so a call passes that handle and the arguments,
// not a positional protocol.
#pragma once

#include <node_api.h>

#include <string>

#include "call/plan.h"
#include "drivers/driver.h"
#include "library.h"

namespace rustplug {

class FutureSymbol {
 public:
  // futureSymbol(lib, fn: bigint, name, kind, argClasses: number[] | null, jsPoll | null,
  //              free: bigint | null, stream: boolean) -> External. argClasses null (or a signature the ABI's
  // planner refuses) means the symbol is called through koffi (futureKoffiStart).
  static napi_value Create(napi_env env, napi_callback_info info);
  // futureSymbolPlanned(sym) -> boolean: whether futureStart can call it directly.
  static napi_value Planned(napi_env env, napi_callback_info info);
  // Hot path: no type-tag check (the External never leaves rustplug's own modules).
  static FutureSymbol* Unwrap(napi_env env, napi_value v);

  // JS thread: each pending task of this symbol holds one reference.
  void Retain() noexcept { ++refs_; }
  void Release(napi_env env) noexcept;

  void* fn() const { return fn_; }
  const CallPlan* plan() const { return planned_ ? &plan_ : nullptr; }
  const Driver& driver() const { return *driver_; }
  const std::string& name() const { return name_; }
  bool stream() const { return stream_; }
  Library* library() const { return lib_; }

 private:
  FutureSymbol() = default;
  ~FutureSymbol();
  static void Finalize(napi_env env, void* data, void*);

  void* fn_ = nullptr;
  CallPlan plan_;
  bool planned_ = false;
  bool stream_ = false;
  Driver* driver_ = nullptr;
  std::string name_;
  Library* lib_ = nullptr;  // one Retain() held
  uint32_t refs_ = 1;       // the JS external's
};

}  // namespace rustplug
