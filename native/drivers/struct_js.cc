#include "driver.h"

namespace rustplug {

namespace {

class StructDriver final : public Driver {
 public:
  explicit StructDriver(napi_ref poll) : poll_(poll) {}

  PollResult Poll(napi_env env, void* poll_fn, void* fut_ptr, FfiContext* cx) const override {
    PollResult r;
    napi_value fn, global, result, tag_v, argv[3];
    if (napi_get_reference_value(env, poll_, &fn) != napi_ok || fn == nullptr || napi_get_global(env, &global) != napi_ok ||
        napi_create_bigint_uint64(env, reinterpret_cast<uintptr_t>(poll_fn), &argv[0]) != napi_ok ||
        napi_create_bigint_uint64(env, reinterpret_cast<uintptr_t>(fut_ptr), &argv[1]) != napi_ok ||
        napi_create_bigint_uint64(env, reinterpret_cast<uintptr_t>(cx), &argv[2]) != napi_ok) {
      return Failed(env);
    }
    // Whether this threw or not, poll_fn ran at most once: koffi raises only before the call
    // (argument conversion) or after it (while decoding the result).
    if (napi_call_function(env, global, fn, 3, argv, &result) != napi_ok) return Failed(env);
    uint32_t tag = kPollPanicked;
    if (napi_get_named_property(env, result, "tag", &tag_v) != napi_ok || napi_get_value_uint32(env, tag_v, &tag) != napi_ok) {
      return Failed(env);
    }
    r.tag = static_cast<uint8_t>(tag > kPollBadTag ? kPollBadTag : tag);
    if (r.tag != kPollReady) return r;
    napi_value end_v;
    bool end = false;
    if (napi_get_named_property(env, result, "end", &end_v) == napi_ok) napi_get_value_bool(env, end_v, &end);
    r.end = end;
    if (!end && napi_get_named_property(env, result, "value", &r.value) != napi_ok) return Failed(env);
    return r;
  }

  void Dispose(napi_env env) override { napi_delete_reference(env, poll_); }

 private:
  // A JS exception (or a stopping environment, where there is none to take): Panicked, with it.
  static PollResult Failed(napi_env env) {
    PollResult r;
    r.tag = kPollPanicked;
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &r.error);
    if (r.error == nullptr) {
      napi_value msg;
      napi_create_string_utf8(env, "rustplug: the struct poll function did not return { tag, value }", NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, nullptr, msg, &r.error);
    }
    return r;
  }

  napi_ref poll_;
};

}  // namespace

Driver* NewStructDriver(napi_env env, napi_value js_poll) {
  napi_ref ref = nullptr;
  if (napi_create_reference(env, js_poll, 1, &ref) != napi_ok) return nullptr;
  return new StructDriver(ref);
}

}  // namespace rustplug
