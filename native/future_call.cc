// The call that creates a future, made by the hub itself for every signature whose arguments all
// travel in registers, so that the plugin call and the hub taking the future over are one native
// call (no JS in between for a worker termination to interrupt) and koffi does not have to return
// the 24-byte FfiFuture as a fresh JS object (most of the cost of awaiting a ready future).
//
// The ABI facts this relies on (x86_64 System V), in one place:
// - FfiFuture<T> is 24 bytes (MEMORY class): the callee writes it through a hidden pointer in RDI.
//   Declaring the callee as returning FfiFutureRaw makes the C++ compiler do exactly that.
// - Integer-class arguments (integers, bool, pointers; strings and buffers are pointers) take the
//   next free general register (RSI, RDX, RCX, R8, R9 after the hidden pointer); float and double
//   arguments take the next XMM register (XMM0..XMM7). The two sequences are independent, so an
//   argument's register depends only on its position among arguments of its own class.
// - A callee reads only the registers of its own parameters. Calling it as if it took five words
//   and eight doubles fills every argument register and puts nothing on the stack, so the same
//   call fits any signature with at most five integer-class and eight floating-point parameters.
// - Values narrower than a register arrive sign- or zero-extended from their declared type (JS
//   validated the range), as LLVM expects for i8/i16. An f32 sits in the low 32 bits of its XMM
//   register; the upper bits are ignored.
#include "future_call.h"

#include <cstring>

namespace rustplug {

namespace {

using W = uint64_t;
using CallAll = FfiFutureRaw (*)(W, W, W, W, W, double, double, double, double, double, double, double, double);

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

bool ArgToXmm(napi_env env, napi_value v, bool single, double* out) {
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

bool CallFutureFunction(napi_env env, void* fn, uint32_t signature, const napi_value* args, size_t argc,
                        FfiFutureRaw* out) {
  W words[kMaxIntegerArgs] = {};
  double xmm[kMaxFloatArgs] = {};
  size_t nw = 0, nx = 0;
  for (size_t i = 0; i < argc; ++i) {
    const uint32_t cls = (signature >> (2 * i)) & 3;
    if (cls == kArgInteger) {
      if (nw == kMaxIntegerArgs || !ArgToWord(env, args[i], &words[nw++])) return false;
    } else {
      if (nx == kMaxFloatArgs || !ArgToXmm(env, args[i], cls == kArgF32, &xmm[nx++])) return false;
    }
  }
  *out = reinterpret_cast<CallAll>(fn)(words[0], words[1], words[2], words[3], words[4], xmm[0], xmm[1], xmm[2],
                                       xmm[3], xmm[4], xmm[5], xmm[6], xmm[7]);
  return true;
}

}  // namespace rustplug
