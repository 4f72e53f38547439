// C values → JS values, the API's one rule for each: 64-bit integers are numbers while exact and
// bigints beyond 2^53 − 1, pointers are bigints (null for a null pointer), never doubles. And a
// pointer back from JS by the same rule.
#pragma once

#include <node_api.h>

#include <cstdint>

namespace rustplug {

constexpr double kMaxSafeInteger = 9007199254740991.0;

inline napi_value NumberToJs(napi_env env, double v) {
  napi_value out = nullptr;
  napi_create_double(env, v, &out);
  return out;
}

inline napi_value Int64ToJs(napi_env env, int64_t v) {
  if (v >= -static_cast<int64_t>(kMaxSafeInteger) && v <= static_cast<int64_t>(kMaxSafeInteger)) {
    return NumberToJs(env, static_cast<double>(v));
  }
  napi_value out = nullptr;
  napi_create_bigint_int64(env, v, &out);
  return out;
}

inline napi_value Uint64ToJs(napi_env env, uint64_t v) {
  if (v <= static_cast<uint64_t>(kMaxSafeInteger)) return NumberToJs(env, static_cast<double>(v));
  napi_value out = nullptr;
  napi_create_bigint_uint64(env, v, &out);
  return out;
}

inline napi_value PointerToJs(napi_env env, const void* p) {
  napi_value out = nullptr;
  if (p == nullptr) {
    napi_get_null(env, &out);
  } else {
    napi_create_bigint_uint64(env, reinterpret_cast<uintptr_t>(p), &out);
  }
  return out;
}

// A bigint address in the u64 range, or null for a null pointer; false for anything else.
inline bool PointerFromJs(napi_env env, napi_value v, void** out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_null) {
    *out = nullptr;
    return true;
  }
  uint64_t u = 0;
  bool lossless = false;
  if (t != napi_bigint || napi_get_value_bigint_uint64(env, v, &u, &lossless) != napi_ok || !lossless) return false;
  *out = reinterpret_cast<void*>(static_cast<uintptr_t>(u));
  return true;
}

}  // namespace rustplug
