// The call that creates a future, for functions whose parameters are all of the integer class
// (integers, bool, pointers, strings and buffers passed as pointers), at most six of them.
// koffi would return the 24-byte FfiFuture as a fresh JS object (most of the cost of awaiting a
// ready future); here the C++ compiler performs the same call with the same struct return and
// the three addresses land in a Float64Array the caller reuses.
//
// Why passing every argument as a 64-bit integer is the same call: on x86_64 SysV each
// integer-class argument takes one general register (the first six), whatever its width; the
// callee reads the low bits, and values below 64 bits arrive sign- or zero-extended from their
// declared type because JS validated the range first (LLVM relies on that extension for i8/i16).
// Floating-point parameters go in SSE registers and are never routed here.
#include "future_call.h"

#include <cmath>

#include "ffi_abi.h"

namespace rustplug {

namespace {

bool ArgToWord(napi_env env, napi_value v, uint64_t* out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  switch (t) {
    case napi_number: {
      double d;
      napi_get_value_double(env, v, &d);
      *out = static_cast<uint64_t>(static_cast<int64_t>(d));
      return true;
    }
    case napi_bigint: {
      bool lossless;
      napi_get_value_bigint_uint64(env, v, out, &lossless);
      return true;  // range checked in JS (u64 or i64 two's complement)
    }
    case napi_boolean: {
      bool b;
      napi_get_value_bool(env, v, &b);
      *out = b ? 1 : 0;
      return true;
    }
    case napi_null:
    case napi_undefined:
      *out = 0;
      return true;
    case napi_object: {
      void* data = nullptr;
      bool is;
      if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
        size_t length, offset;
        napi_typedarray_type type;
        napi_value ab;
        napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset);
      } else if (napi_is_dataview(env, v, &is) == napi_ok && is) {
        size_t length, offset;
        napi_value ab;
        napi_get_dataview_info(env, v, &length, &data, &ab, &offset);
      } else if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
        size_t length;
        napi_get_arraybuffer_info(env, v, &data, &length);
      } else {
        return false;
      }
      *out = reinterpret_cast<uintptr_t>(data);
      return true;
    }
    default:
      return false;
  }
}

using W = uint64_t;

FfiFutureRaw CallWords(void* fn, size_t argc, const W* a) {
  switch (argc) {
    case 0: return reinterpret_cast<FfiFutureRaw (*)()>(fn)();
    case 1: return reinterpret_cast<FfiFutureRaw (*)(W)>(fn)(a[0]);
    case 2: return reinterpret_cast<FfiFutureRaw (*)(W, W)>(fn)(a[0], a[1]);
    case 3: return reinterpret_cast<FfiFutureRaw (*)(W, W, W)>(fn)(a[0], a[1], a[2]);
    case 4: return reinterpret_cast<FfiFutureRaw (*)(W, W, W, W)>(fn)(a[0], a[1], a[2], a[3]);
    case 5: return reinterpret_cast<FfiFutureRaw (*)(W, W, W, W, W)>(fn)(a[0], a[1], a[2], a[3], a[4]);
    default: return reinterpret_cast<FfiFutureRaw (*)(W, W, W, W, W, W)>(fn)(a[0], a[1], a[2], a[3], a[4], a[5]);
  }
}

// futureCall(fn: bigint, out: Float64Array(3), ...args) -> undefined
napi_value FutureCall(napi_env env, napi_callback_info info) {
  size_t argc = 2 + kMaxFutureCallArgs;
  napi_value argv[2 + kMaxFutureCallArgs];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint64_t fn = 0;
  bool lossless = false;
  void* out = nullptr;
  size_t out_len = 0;
  napi_typedarray_type out_type;
  napi_value ab;
  size_t offset;
  if (argc < 2 || napi_get_value_bigint_uint64(env, argv[0], &fn, &lossless) != napi_ok || fn == 0 ||
      napi_get_typedarray_info(env, argv[1], &out_type, &out_len, &out, &ab, &offset) != napi_ok ||
      out_type != napi_float64_array || out_len < 3) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: futureCall(fn, Float64Array(3), ...args)");
    return nullptr;
  }
  W words[kMaxFutureCallArgs] = {};
  const size_t n = argc - 2;
  for (size_t i = 0; i < n; ++i) {
    if (!ArgToWord(env, argv[2 + i], &words[i])) {
      napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: futureCall argument is not integer-class");
      return nullptr;
    }
  }
  FfiFutureRaw f = CallWords(reinterpret_cast<void*>(static_cast<uintptr_t>(fn)), n, words);
  double* o = static_cast<double*>(out);
  // User-space addresses are below 2^47, exact as doubles.
  o[0] = static_cast<double>(reinterpret_cast<uintptr_t>(f.fut_ptr));
  o[1] = static_cast<double>(reinterpret_cast<uintptr_t>(f.poll_fn));
  o[2] = static_cast<double>(reinterpret_cast<uintptr_t>(f.drop_fn));
  return nullptr;
}

}  // namespace

void RegisterFutureCall(napi_env env, napi_value exports) {
  napi_value fn, max;
  napi_create_function(env, "futureCall", NAPI_AUTO_LENGTH, FutureCall, nullptr, &fn);
  napi_set_named_property(env, exports, "futureCall", fn);
  napi_create_uint32(env, kMaxFutureCallArgs, &max);
  napi_set_named_property(env, exports, "futureCallMaxArgs", max);
}

}  // namespace rustplug
