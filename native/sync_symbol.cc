#include "sync_symbol.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "abi/async_ffi.h"
#include "abi/js_values.h"
#include "call/plan.h"

namespace rustplug {

namespace {

enum Passed : uint8_t { kFromFrame = 0, kString = 1, kBuffer = 2, kPassedCount };

struct SyncSymbol {
  void* fn;
  SyncFrame* frame;
  napi_ref frame_ref;  // the frame's ArrayBuffer outlives every function that calls from it
  FreeFn free_string;  // a string result's `free`, or null (borrowed)
  uint8_t passed_count;
  Passed passed[kMaxPlannedArgs];  // the arguments JS passes to the call, in order
  uint8_t passed_slot[kMaxPlannedArgs];
};

// Memory for string arguments, alive until the plugin returns: short ones on the stack.
class Arena {
 public:
  char* Take(size_t n) {
    if (n <= sizeof(stack_) - used_) {
      char* p = stack_ + used_;
      used_ += n;
      return p;
    }
    heap_.emplace_back(new (std::nothrow) char[n]);
    return heap_.back().get();
  }
  size_t room() const { return sizeof(stack_) - used_; }
  char* next() { return stack_ + used_; }
  void Used(size_t n) { used_ += n; }

 private:
  char stack_[1024];
  size_t used_ = 0;
  std::vector<std::unique_ptr<char[]>> heap_;
};

// A JS string (checked by the wrapper: a string without NUL) as NUL-terminated UTF-8.
bool EncodeString(napi_env env, napi_value v, Arena* arena, uint64_t* out) {
  size_t len = 0;
  // One pass when it surely fits: napi never splits a character, so a result at least 4 bytes
  // short of the room left means nothing was cut off.
  const size_t room = arena->room();
  if (room > 4 && napi_get_value_string_utf8(env, v, arena->next(), room, &len) == napi_ok && len + 4 < room) {
    *out = reinterpret_cast<uintptr_t>(arena->next());
    arena->Used(len + 1);
    return true;
  }
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) return false;
  char* p = arena->Take(len + 1);
  if (p == nullptr) {
    napi_throw_range_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug: out of memory for a string argument");
    return false;
  }
  if (napi_get_value_string_utf8(env, v, p, len + 1, &len) != napi_ok) return false;
  *out = reinterpret_cast<uintptr_t>(p);
  return true;
}

bool ThrowBadPassed(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: a string or buffer argument of the wrong shape");
  return false;
}

// The plugin call and its result. Scalars are neither read nor made here: the JS wrapper has
// checked and written them into the frame, and reads a scalar result from it.
template <SyncReturn R>
napi_value Invoke(napi_env env, const SyncSymbol* s) {
  SyncFrame* f = s->frame;
  if constexpr (R == kReturnWord) {
    f->result = CallSyncWord(s->fn, f->args);
  } else if constexpr (R == kReturnF64) {
    const double d = CallSyncF64(s->fn, f->args);
    std::memcpy(&f->result, &d, sizeof d);
  } else if constexpr (R == kReturnF32) {
    const float x = CallSyncF32(s->fn, f->args);
    std::memcpy(&f->result, &x, sizeof x);
  } else {
    char* p = reinterpret_cast<char*>(static_cast<uintptr_t>(CallSyncWord(s->fn, f->args)));
    napi_value out;
    if (p == nullptr) {
      napi_get_null(env, &out);
      return out;
    }
    // Copied, then freed (when declared) whether or not the copy worked: no plugin pointer
    // outlives the call.
    const napi_status status = napi_create_string_utf8(env, p, NAPI_AUTO_LENGTH, &out);
    if (s->free_string != nullptr) s->free_string(p);
    if (status != napi_ok) {
      napi_throw_range_error(env, "ERR_PLUGIN_BAD_RESULT", "rustplug: the string result is too long for a JS string");
      return nullptr;
    }
    return out;
  }
  return nullptr;
}

// Only scalars: the symbol is all this reads from the call.
template <SyncReturn R>
napi_value CallScalars(napi_env env, napi_callback_info info) {
  void* data = nullptr;
  napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &data);
  return Invoke<R>(env, static_cast<const SyncSymbol*>(data));
}

// Strings and buffers come as the call's arguments, in order; strings live in the arena until
// the plugin has returned. N is their count when small (napi_get_cb_info fills every slot it is
// given, so asking for no more than there are saves work on each call), else kMaxPlannedArgs.
template <SyncReturn R, size_t N>
napi_value CallPassing(napi_env env, napi_callback_info info) {
  void* data = nullptr;
  napi_value argv[N];
  size_t argc = N;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  const auto* s = static_cast<const SyncSymbol*>(data);
  if (argc != s->passed_count || (N == kMaxPlannedArgs && argc > N)) return ThrowBadPassed(env), nullptr;
  Arena arena;
  for (size_t i = 0; i < argc; ++i) {
    uint64_t* word = &s->frame->args.words[s->passed_slot[i]];
    const bool ok = s->passed[i] == kString ? EncodeString(env, argv[i], &arena, word) : BufferAddress(env, argv[i], word);
    if (!ok) return ThrowBadPassed(env), nullptr;
  }
  return Invoke<R>(env, s);
}

template <SyncReturn R>
napi_callback CallFor(size_t passes) {
  switch (passes) {
    case 0: return CallScalars<R>;
    case 1: return CallPassing<R, 1>;
    case 2: return CallPassing<R, 2>;
    case 3: return CallPassing<R, 3>;
    default: return CallPassing<R, kMaxPlannedArgs>;
  }
}

void Finalize(napi_env env, void* data, void*) {
  auto* s = static_cast<SyncSymbol*>(data);
  napi_delete_reference(env, s->frame_ref);
  delete s;
}

napi_value Fail(napi_env env) {
  napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: bad syncSymbol() arguments");
  return nullptr;
}

}  // namespace

napi_value CreateSyncSymbol(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 6) return Fail(env);
  void* fn = nullptr;
  void* free_fn = nullptr;
  std::vector<uint32_t> classes, passed;
  uint32_t ret = 0;
  void* frame = nullptr;
  size_t frame_size = 0;
  bool is_ab = false;
  if (!PointerFromJs(env, argv[0], &fn) || fn == nullptr || !ReadSmallInts(env, argv[1], kArgClassCount, &classes) ||
      napi_get_value_uint32(env, argv[2], &ret) != napi_ok || ret >= kSyncReturnCount ||
      napi_is_arraybuffer(env, argv[3], &is_ab) != napi_ok || !is_ab ||
      napi_get_arraybuffer_info(env, argv[3], &frame, &frame_size) != napi_ok || frame_size < sizeof(SyncFrame) ||
      reinterpret_cast<uintptr_t>(frame) % alignof(SyncFrame) != 0 || !ReadSmallInts(env, argv[4], kPassedCount, &passed) ||
      passed.size() != classes.size() || !PointerFromJs(env, argv[5], &free_fn)) {
    return Fail(env);
  }
  std::vector<ArgClass> cls(classes.size());
  for (size_t i = 0; i < classes.size(); ++i) cls[i] = static_cast<ArgClass>(classes[i]);
  CallPlan plan;
  napi_value out;
  if (!PlanSyncCall(cls.data(), cls.size(), &plan)) {
    napi_get_null(env, &out);
    return out;
  }
  auto* s = new SyncSymbol{fn, static_cast<SyncFrame*>(frame), nullptr, reinterpret_cast<FreeFn>(free_fn), 0, {}, {}};
  for (size_t i = 0; i < passed.size(); ++i) {
    if (passed[i] == kFromFrame) continue;
    if (cls[i] != kArgInteger) {
      delete s;
      return Fail(env);
    }
    s->passed[s->passed_count] = static_cast<Passed>(passed[i]);
    s->passed_slot[s->passed_count++] = plan.slot[i];
  }
  const size_t passes = s->passed_count;
  const napi_callback calls[] = {CallFor<kReturnWord>(passes), CallFor<kReturnF64>(passes), CallFor<kReturnF32>(passes),
                                 CallFor<kReturnString>(passes)};
  static_assert(sizeof(calls) / sizeof(calls[0]) == kSyncReturnCount, "one call per result register");
  if (napi_create_reference(env, argv[3], 1, &s->frame_ref) != napi_ok) {
    delete s;
    return nullptr;
  }
  napi_value call, slots;
  if (napi_create_function(env, "call", NAPI_AUTO_LENGTH, calls[ret], s, &call) != napi_ok) {
    Finalize(env, s, nullptr);
    return nullptr;
  }
  if (napi_add_finalizer(env, call, s, Finalize, nullptr, nullptr) != napi_ok) return nullptr;  // unreachable: leaks s
  if (napi_create_object(env, &out) != napi_ok || napi_create_array_with_length(env, plan.argc, &slots) != napi_ok) return nullptr;
  for (uint32_t i = 0; i < plan.argc; ++i) {
    napi_value n;
    napi_create_uint32(env, plan.slot[i], &n);
    napi_set_element(env, slots, i, n);
  }
  napi_set_named_property(env, out, "call", call);
  napi_set_named_property(env, out, "slots", slots);
  return out;
}

}  // namespace rustplug
