// JS arguments → register images. The wrapper (src/call.ts) has validated every value against
// the declaration and read each one exactly once, so this only converts; a value of the wrong
// shape still fails safely instead of being guessed.
#include <cstring>

#include "plan.h"

namespace rustplug {

namespace {

bool ToWord(napi_env env, napi_value v, uint64_t* out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  switch (t) {
    case napi_number: {
      double d;
      napi_get_value_double(env, v, &d);
      *out = static_cast<uint64_t>(static_cast<int64_t>(d));
      return true;
    }
    case napi_bigint: {
      bool lossless;
      // Range checked in JS (u64, or i64 as two's complement, which this yields too).
      return napi_get_value_bigint_uint64(env, v, out, &lossless) == napi_ok;
    }
    case napi_boolean: {
      bool b = false;
      napi_get_value_bool(env, v, &b);
      *out = b ? 1 : 0;
      return true;
    }
    case napi_null:
    case napi_object:
      return BufferAddress(env, v, out);
    default:
      return false;
  }
}

bool ToFloat(napi_env env, napi_value v, bool single, double* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!single) {
    *out = d;
    return true;
  }
  // The float's bits in the low half of the register image, zeros above.
  const float f = static_cast<float>(d);
  uint64_t bits = 0;
  std::memcpy(&bits, &f, sizeof f);
  std::memcpy(out, &bits, sizeof bits);
  return true;
}

}  // namespace

bool ReadSmallInts(napi_env env, napi_value v, uint32_t limit, std::vector<uint32_t>* out) {
  bool is_array = false;
  uint32_t n = 0;
  if (napi_is_array(env, v, &is_array) != napi_ok || !is_array || napi_get_array_length(env, v, &n) != napi_ok) return false;
  out->resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    napi_value e;
    if (napi_get_element(env, v, i, &e) != napi_ok || napi_get_value_uint32(env, e, &(*out)[i]) != napi_ok || (*out)[i] >= limit) return false;
  }
  return true;
}

bool BufferAddress(napi_env env, napi_value v, uint64_t* out) {
  void* data = nullptr;
  size_t length = 0;
  // The common case first, in one call: a TypedArray (a Buffer) fails it with a status, nothing
  // thrown, when it is anything else. Its data pointer already includes the view's offset.
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) == napi_ok) {
    *out = reinterpret_cast<uintptr_t>(data);
    return true;
  }
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_null) {
    *out = 0;
    return true;
  }
  if (t != napi_object) return false;
  bool is = false;
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    if (napi_get_dataview_info(env, v, &length, &data, nullptr, nullptr) != napi_ok) return false;
  } else if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    if (napi_get_arraybuffer_info(env, v, &data, &length) != napi_ok) return false;
  } else {
    return false;
  }
  *out = reinterpret_cast<uintptr_t>(data);
  return true;
}

bool FillFrame(napi_env env, const CallPlan& plan, const napi_value* args, size_t argc, CallFrame* frame) {
  if (argc != plan.argc) return false;
  for (size_t i = 0; i < argc; ++i) {
    const bool ok = plan.cls[i] == kArgInteger ? ToWord(env, args[i], &frame->words[plan.slot[i]])
                                               : ToFloat(env, args[i], plan.cls[i] == kArgF32, &frame->floats[plan.slot[i]]);
    if (!ok) return false;
  }
  return true;
}

}  // namespace rustplug
