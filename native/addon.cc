// Module entry. Everything per environment (worker_threads) hangs off napi instance data or
// function data; there are no process-wide mutable globals.
#include <napi.h>

#include "callback_guard.h"
#include "dlfcn.h"
#include "future_call.h"
#include "ffi_abi.h"
#include "hub.h"
#include "pingpong.h"

namespace rustplug {
namespace {

template <napi_value (Hub::*Method)(napi_env, napi_callback_info)>
napi_value OnHub(napi_env env, napi_callback_info info) {
  return (Hub::Of(env)->*Method)(env, info);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  RegisterDlfcn(env, exports);
  RegisterPingPong(env, exports);
  RegisterCallbackGuard(env, exports);
  napi_value max_args;
  napi_value limits = Napi::Object::New(env);
  napi_create_uint32(env, kMaxIntegerArgs, &max_args);
  napi_set_named_property(env, limits, "integer", max_args);
  napi_create_uint32(env, kMaxFloatArgs, &max_args);
  napi_set_named_property(env, limits, "float", max_args);
  napi_set_named_property(env, exports, "futureCallRegisters", limits);
  // The hub's entry points stay on the C API: they are the hot path of every async call.
  napi_property_descriptor hub[] = {
      {"futureKoffiStart", nullptr, OnHub<&Hub::KoffiStart>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futureCallStart", nullptr, OnHub<&Hub::CallStart>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futureCancel", nullptr, OnHub<&Hub::Cancel>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futureCancelGroup", nullptr, OnHub<&Hub::CancelGroup>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futureStats", nullptr, OnHub<&Hub::Stats>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futureSetup", nullptr, OnHub<&Hub::Setup>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof(hub) / sizeof(hub[0]), hub);
  Napi::Object kinds = Napi::Object::New(env);
  const char* names[] = {"void", "bool", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "f32", "f64", "pointer", "js"};
  static_assert(sizeof(names) / sizeof(names[0]) == kResultKindCount, "one name per ResultKind");
  for (uint32_t i = 0; i < kResultKindCount; ++i) kinds.Set(names[i], Napi::Number::New(env, i));
  exports.Set("resultKinds", kinds);
  return exports;
}

}  // namespace
}  // namespace rustplug

static Napi::Object InitRustplug(Napi::Env env, Napi::Object exports) { return rustplug::Init(env, exports); }
NODE_API_MODULE(rustplug, InitRustplug)
