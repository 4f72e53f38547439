#include <cstring>

#include "driver.h"

#include "../abi/js_values.h"

namespace rustplug {

namespace {

// One poll of a future (FfiPoll<T>) or of a stream (FfiPoll<FfiOption<T>>). *out is written only
// for Ready (Some); Ready(None) sets *end.
template <typename T>
uint8_t CallPoll(void* poll_fn, void* fut_ptr, FfiContext* cx, bool stream, T* out, bool* end) {
  if (!stream) {
    FfiPoll<T> r = reinterpret_cast<PollFn<T>>(poll_fn)(fut_ptr, cx);
    if (r.tag == kPollReady) *out = r.value;
    return r.tag;
  }
  using PollNextFn = FfiPoll<FfiOption<T>> (*)(void*, FfiContext*);
  FfiPoll<FfiOption<T>> r = reinterpret_cast<PollNextFn>(poll_fn)(fut_ptr, cx);
  if (r.tag != kPollReady) return r.tag;
  if (r.value.tag == kOptionNone) {
    *end = true;
  } else if (r.value.tag == kOptionSome) {
    *out = r.value.value;
  } else {
    return kPollBadTag;
  }
  return r.tag;
}

uint8_t CallPollUnit(void* poll_fn, void* fut_ptr, FfiContext* cx, bool stream, bool* end) {
  if (!stream) return reinterpret_cast<PollUnitFn>(poll_fn)(fut_ptr, cx).tag;
  using PollNextFn = FfiPoll<FfiOptionUnit> (*)(void*, FfiContext*);
  FfiPoll<FfiOptionUnit> r = reinterpret_cast<PollNextFn>(poll_fn)(fut_ptr, cx);
  if (r.tag != kPollReady) return r.tag;
  if (r.value.tag == kOptionNone) *end = true;
  else if (r.value.tag != kOptionSome) return kPollBadTag;
  return r.tag;
}


class ScalarDriver final : public Driver {
 public:
  ScalarDriver(ResultKind kind, FreeFn free_fn, bool stream) : kind_(kind), free_(free_fn), stream_(stream) {}

  PollResult Poll(napi_env env, void* poll_fn, void* fut_ptr, FfiContext* cx) const override {
    PollResult r;
    // The value is converted only for Ready(Some); `ready` says whether there is one.
    auto ready = [&r] { return r.tag == kPollReady && !r.end; };
    switch (kind_) {
      case kVoid:
        r.tag = CallPollUnit(poll_fn, fut_ptr, cx, stream_, &r.end);
        if (ready()) napi_get_undefined(env, &r.value);
        return r;
      case kBool: {
        uint8_t v = 0;
        r.tag = CallPoll<uint8_t>(poll_fn, fut_ptr, cx, stream_, &v, &r.end);
        if (ready()) napi_get_boolean(env, v != 0, &r.value);
        return r;
      }
#define RUSTPLUG_NUMBER_KIND(KIND, CTYPE)                                          \
  case KIND: {                                                                     \
    CTYPE v{};                                                                     \
    r.tag = CallPoll<CTYPE>(poll_fn, fut_ptr, cx, stream_, &v, &r.end);            \
    if (ready()) r.value = NumberToJs(env, static_cast<double>(v));                    \
    return r;                                                                      \
  }
      RUSTPLUG_NUMBER_KIND(kI8, int8_t)
      RUSTPLUG_NUMBER_KIND(kU8, uint8_t)
      RUSTPLUG_NUMBER_KIND(kI16, int16_t)
      RUSTPLUG_NUMBER_KIND(kU16, uint16_t)
      RUSTPLUG_NUMBER_KIND(kI32, int32_t)
      RUSTPLUG_NUMBER_KIND(kU32, uint32_t)
      RUSTPLUG_NUMBER_KIND(kF32, float)
      RUSTPLUG_NUMBER_KIND(kF64, double)
#undef RUSTPLUG_NUMBER_KIND
      case kI64: {
        int64_t v = 0;
        r.tag = CallPoll<int64_t>(poll_fn, fut_ptr, cx, stream_, &v, &r.end);
        if (ready()) r.value = Int64ToJs(env, v);
        return r;
      }
      case kU64: {
        uint64_t v = 0;
        r.tag = CallPoll<uint64_t>(poll_fn, fut_ptr, cx, stream_, &v, &r.end);
        if (ready()) r.value = Uint64ToJs(env, v);
        return r;
      }
      case kPointer: {
        void* v = nullptr;
        r.tag = CallPoll<void*>(poll_fn, fut_ptr, cx, stream_, &v, &r.end);
        if (ready()) r.value = PointerToJs(env, v);
        return r;
      }
      case kString: {
        char* s = nullptr;
        r.tag = CallPoll<char*>(poll_fn, fut_ptr, cx, stream_, &s, &r.end);
        if (!ready()) return r;
        if (s == nullptr) {
          napi_get_null(env, &r.value);
          return r;
        }
        // Invalid UTF-8 becomes U+FFFD, as TextDecoder does; a failure (a string over V8's
        // limit) still frees the plugin's memory and rejects with V8's error.
        if (napi_create_string_utf8(env, s, std::strlen(s), &r.value) != napi_ok) {
          r.value = nullptr;
          r.tag = kPollPanicked;
          napi_get_and_clear_last_exception(env, &r.error);
        }
        if (free_ != nullptr) free_(s);
        return r;
      }
      default:
        r.tag = kPollBadTag;
        return r;
    }
  }

 private:
  ResultKind kind_;
  FreeFn free_;
  bool stream_;
};

}  // namespace

Driver* NewScalarDriver(ResultKind kind, FreeFn free_fn, bool stream) { return new ScalarDriver(kind, free_fn, stream); }

}  // namespace rustplug
