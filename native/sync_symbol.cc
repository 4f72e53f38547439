#include "sync_symbol.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "call/plan.h"

namespace rustplug {

namespace {

struct SyncSymbol {
  void* fn;
  SyncFrame* frame;
  napi_ref frame_ref;  // the frame's ArrayBuffer outlives every function that calls from it
};

// The whole call: one napi_get_cb_info for the symbol, the plugin's function, the result into
// the frame. No napi_value is read or made: the JS wrapper has checked and written every argument
// and reads the result from the frame.
template <SyncReturn R>
napi_value Call(napi_env env, napi_callback_info info) {
  void* data = nullptr;
  napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &data);
  const auto* s = static_cast<const SyncSymbol*>(data);
  SyncFrame* f = s->frame;
  if constexpr (R == kReturnWord) {
    f->result = CallSyncWord(s->fn, f->args);
  } else if constexpr (R == kReturnF64) {
    const double d = CallSyncF64(s->fn, f->args);
    std::memcpy(&f->result, &d, sizeof d);
  } else {
    const float x = CallSyncF32(s->fn, f->args);
    std::memcpy(&f->result, &x, sizeof x);
  }
  return nullptr;
}

void Finalize(napi_env env, void* data, void*) {
  auto* s = static_cast<SyncSymbol*>(data);
  napi_delete_reference(env, s->frame_ref);
  delete s;
}

bool ReadClasses(napi_env env, napi_value v, std::vector<ArgClass>* out) {
  bool is_array = false;
  uint32_t n = 0;
  if (napi_is_array(env, v, &is_array) != napi_ok || !is_array || napi_get_array_length(env, v, &n) != napi_ok) return false;
  out->resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    napi_value e;
    uint32_t c = 0;
    if (napi_get_element(env, v, i, &e) != napi_ok || napi_get_value_uint32(env, e, &c) != napi_ok || c >= kArgClassCount) return false;
    (*out)[i] = static_cast<ArgClass>(c);
  }
  return true;
}

napi_value Fail(napi_env env) {
  napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: bad syncSymbol() arguments");
  return nullptr;
}

}  // namespace

napi_value CreateSyncSymbol(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 4) return Fail(env);
  uint64_t address = 0;
  bool lossless = false;
  std::vector<ArgClass> classes;
  uint32_t ret = 0;
  void* frame = nullptr;
  size_t frame_size = 0;
  bool is_ab = false;
  if (napi_get_value_bigint_uint64(env, argv[0], &address, &lossless) != napi_ok || !lossless || address == 0 ||
      !ReadClasses(env, argv[1], &classes) || napi_get_value_uint32(env, argv[2], &ret) != napi_ok || ret >= kSyncReturnCount ||
      napi_is_arraybuffer(env, argv[3], &is_ab) != napi_ok || !is_ab ||
      napi_get_arraybuffer_info(env, argv[3], &frame, &frame_size) != napi_ok || frame_size < sizeof(SyncFrame) ||
      reinterpret_cast<uintptr_t>(frame) % alignof(SyncFrame) != 0) {
    return Fail(env);
  }
  CallPlan plan;
  napi_value out;
  if (!PlanSyncCall(classes.data(), classes.size(), &plan)) {
    napi_get_null(env, &out);
    return out;
  }
  const napi_callback calls[] = {Call<kReturnWord>, Call<kReturnF64>, Call<kReturnF32>};
  static_assert(sizeof(calls) / sizeof(calls[0]) == kSyncReturnCount, "one call per result register");
  auto* s = new SyncSymbol{reinterpret_cast<void*>(static_cast<uintptr_t>(address)), static_cast<SyncFrame*>(frame), nullptr};
  napi_value fn, slots;
  if (napi_create_reference(env, argv[3], 1, &s->frame_ref) != napi_ok) {
    delete s;
    return nullptr;
  }
  if (napi_create_function(env, "call", NAPI_AUTO_LENGTH, calls[ret], s, &fn) != napi_ok ||
      napi_add_finalizer(env, fn, s, Finalize, nullptr, nullptr) != napi_ok) {
    Finalize(env, s, nullptr);
    return nullptr;
  }
  if (napi_create_object(env, &out) != napi_ok || napi_create_array_with_length(env, plan.argc, &slots) != napi_ok) return nullptr;
  for (uint32_t i = 0; i < plan.argc; ++i) {
    napi_value n;
    napi_create_uint32(env, plan.slot[i], &n);
    napi_set_element(env, slots, i, n);
  }
  napi_set_named_property(env, out, "call", fn);
  napi_set_named_property(env, out, "slots", slots);
  return out;
}

}  // namespace rustplug
