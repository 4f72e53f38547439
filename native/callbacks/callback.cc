#include "callback.h"

#include <cmath>
#include <condition_variable>
#include <cstring>
#include <new>
#include <vector>

#include "../abi/js_values.h"
#include "js_future.h"

namespace rustplug {

// ---------------------------------------------------------------------------------------------
// The slot registry. Trampolines are process-wide code, so the table that maps a trampoline to
// its callback is the one process-wide structure of the addon; each entry belongs to the
// environment that registered it. A freed slot is reused as late as possible (round robin), so a
// plugin that (wrongly) calls a released pointer most likely finds no callback there.

namespace {

struct Slot {
  std::mutex mu;
  Callback* cb = nullptr;
};

Slot g_slots[kReturnsCount][kTrampolineSlots];
std::mutex g_alloc_mu;
bool g_used[kReturnsCount][kTrampolineSlots];
size_t g_next[kReturnsCount];
std::atomic<int64_t> g_alive{0};
std::atomic<uint64_t> g_calls{0};

bool AllocSlot(Returns r, Callback* cb, size_t* out) {
  std::lock_guard<std::mutex> lock(g_alloc_mu);
  const size_t k = static_cast<size_t>(r);
  for (size_t n = 0; n < kTrampolineSlots; ++n) {
    const size_t i = (g_next[k] + n) % kTrampolineSlots;
    if (g_used[k][i]) continue;
    g_used[k][i] = true;
    g_next[k] = (i + 1) % kTrampolineSlots;
    std::lock_guard<std::mutex> slot_lock(g_slots[k][i].mu);
    g_slots[k][i].cb = cb;
    *out = i;
    return true;
  }
  return false;
}

void FreeSlot(Returns r, size_t i) {
  const size_t k = static_cast<size_t>(r);
  {
    std::lock_guard<std::mutex> slot_lock(g_slots[k][i].mu);
    g_slots[k][i].cb = nullptr;
  }
  std::lock_guard<std::mutex> lock(g_alloc_mu);
  g_used[k][i] = false;
}

// A type tag: a foreign External is never taken for a callback handle.
constexpr napi_type_tag kCallbackTag = {0x72706c7567636231ull, 0x63616c6c6261636bull};

napi_value Undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// The text a plugin gets for a rejection: the Error's message (with its name), or String(reason).
std::string DescribeRejection(napi_env env, napi_value reason) {
  napi_value str = nullptr;
  bool is_error = false;
  if (napi_is_error(env, reason, &is_error) == napi_ok && is_error) {
    napi_value msg;
    napi_valuetype t;
    if (napi_get_named_property(env, reason, "message", &msg) == napi_ok && napi_typeof(env, msg, &t) == napi_ok &&
        t == napi_string) {
      str = msg;
    }
  }
  if (str == nullptr && napi_coerce_to_string(env, reason, &str) != napi_ok) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    return "the callback rejected with a value that has no string form";
  }
  size_t len = 0;
  napi_get_value_string_utf8(env, str, nullptr, 0, &len);
  std::string out(len, '\0');
  napi_get_value_string_utf8(env, str, out.data(), len + 1, &len);
  return out;
}

std::string ClearException(napi_env env) {
  napi_value e = nullptr;
  if (napi_get_and_clear_last_exception(env, &e) != napi_ok || e == nullptr) return "the callback threw";
  return DescribeRejection(env, e);
}

}  // namespace

uint64_t DispatchInteger(size_t slot, const CallFrame& frame) noexcept { return Callback::CallInteger(slot, frame); }
double DispatchFloat(size_t slot, const CallFrame& frame) noexcept { return Callback::CallFloat(slot, frame); }
void DispatchFuture(size_t slot, const CallFrame& frame, FfiFutureRaw* out) noexcept {
  Callback::CallFuture(slot, frame, out);
}

// ---------------------------------------------------------------------------------------------
// One call in flight from a plugin thread to the JS thread.

struct Callback::Call {
  Callback* cb;  // one reference, released when the call is done
  CallFrame frame;
  JsFuture* future = nullptr;  // the future shape: the JS side's reference
  // The blocking shape (a result other than void from another thread): the caller waits here.
  std::mutex* mu = nullptr;
  std::condition_variable* cv = nullptr;
  bool* done = nullptr;
  uint64_t* word = nullptr;
  double* num = nullptr;

  void Finish(uint64_t w, double n) {
    if (done == nullptr) return;
    std::lock_guard<std::mutex> lock(*mu);
    *word = w;
    *num = n;
    *done = true;
    cv->notify_one();
  }
};

// One call made on the JS thread, handed through koffi's callback entry (see callback.h).
struct Callback::InlineCall {
  Callback* cb;
  const CallFrame* frame;
  uint64_t word;
  double num;
};

void Callback::Release() noexcept {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

Callback* Callback::Acquire(Returns returns, size_t slot) noexcept {
  if (slot >= kTrampolineSlots) return nullptr;
  Slot& s = g_slots[static_cast<size_t>(returns)][slot];
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.cb != nullptr) s.cb->Retain();
  return s.cb;
}

bool Callback::Queue(Call* call) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (tsfn_ == nullptr) return false;
  return napi_call_threadsafe_function(tsfn_, call, napi_tsfn_nonblocking) == napi_ok;
}

// ---------------------------------------------------------------------------------------------
// JS thread

bool Callback::Invoke(napi_env env, napi_value fn, const CallFrame& frame, napi_value* result) {
  napi_value argv[kMaxPlannedArgs];
  for (size_t i = 0; i < plan_.argc; ++i) {
    const bool is_float = plan_.cls[i] != kArgInteger;
    const uint64_t w = is_float ? 0 : frame.words[plan_.slot[i]];
    double d = is_float ? frame.floats[plan_.slot[i]] : 0;
    if (plan_.cls[i] == kArgF32) {
      float f;
      std::memcpy(&f, &frame.floats[plan_.slot[i]], sizeof f);  // the low half of the register
      d = f;
    }
    switch (arg_kinds_[i]) {
      case kBool: napi_get_boolean(env, (w & 0xff) != 0, &argv[i]); break;
      case kI8: argv[i] = NumberToJs(env, static_cast<int8_t>(w)); break;
      case kU8: argv[i] = NumberToJs(env, static_cast<uint8_t>(w)); break;
      case kI16: argv[i] = NumberToJs(env, static_cast<int16_t>(w)); break;
      case kU16: argv[i] = NumberToJs(env, static_cast<uint16_t>(w)); break;
      case kI32: argv[i] = NumberToJs(env, static_cast<int32_t>(w)); break;
      case kU32: argv[i] = NumberToJs(env, static_cast<uint32_t>(w)); break;
      case kI64: argv[i] = Int64ToJs(env, static_cast<int64_t>(w)); break;
      case kU64: argv[i] = Uint64ToJs(env, w); break;
      case kF32:
      case kF64: argv[i] = NumberToJs(env, d); break;
      case kString: {
        const char* s = reinterpret_cast<const char*>(static_cast<uintptr_t>(w));
        if (s == nullptr) {
          napi_get_null(env, &argv[i]);
        } else if (napi_create_string_utf8(env, s, std::strlen(s), &argv[i]) != napi_ok) {
          return false;
        }
        break;
      }
      default: argv[i] = PointerToJs(env, reinterpret_cast<void*>(static_cast<uintptr_t>(w))); break;
    }
  }
  return napi_call_function(env, Undefined(env), fn, plan_.argc, argv, result) == napi_ok;
}

bool Callback::ToWord(napi_env env, napi_value v, uint64_t* word, double* num) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  auto bad = [&](const char* expect) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG",
                          ("callback '" + name_ + "' must return " + expect + " (its declared result)").c_str());
    return false;
  };
  switch (result_) {
    case kVoid: return true;
    case kBool: {
      bool b;
      if (t != napi_boolean) return bad("a boolean");
      napi_get_value_bool(env, v, &b);
      *word = b ? 1 : 0;
      return true;
    }
    case kF32:
    case kF64:
      if (t != napi_number) return bad("a number");
      napi_get_value_double(env, v, num);
      return true;
    case kPointer:
      if (t == napi_null) {
        *word = 0;
        return true;
      }
      if (t != napi_bigint) return bad("a bigint address or null");
      {
        bool lossless;
        napi_get_value_bigint_uint64(env, v, word, &lossless);
        if (!lossless) return bad("a bigint address or null");
      }
      return true;
    case kI64:
    case kU64:
      if (t == napi_bigint) {
        bool lossless;
        if (result_ == kI64) {
          int64_t i;
          napi_get_value_bigint_int64(env, v, &i, &lossless);
          *word = static_cast<uint64_t>(i);
        } else {
          napi_get_value_bigint_uint64(env, v, word, &lossless);
        }
        if (!lossless) return bad("an integer in its range");
        return true;
      }
      [[fallthrough]];
    default: {
      // 8- to 32-bit integers (and 64-bit ones given as safe numbers): an integer in range.
      double d;
      if (t != napi_number) return bad("an integer number");
      napi_get_value_double(env, v, &d);
      static const double lo[] = {0, 0, -128, 0, -32768, 0, -2147483648.0, 0, -kMaxSafeInteger, 0};
      static const double hi[] = {0, 1, 127, 255, 32767, 65535, 2147483647.0, 4294967295.0, kMaxSafeInteger, kMaxSafeInteger};
      if (!std::isfinite(d) || std::trunc(d) != d || result_ > kU64 || d < lo[result_] || d > hi[result_]) {
        return bad("an integer in its range");
      }
      *word = static_cast<uint64_t>(static_cast<int64_t>(d));
      return true;
    }
  }
}

// JS thread: what the callback fulfilled with, checked against the declared result, settles the
// plugin's future (a value of the wrong type is a rejection the plugin sees).
void Callback::Fulfil(napi_env env, napi_value v, JsFuture* f) {
  if (result_ == kString) {
    napi_valuetype t;
    napi_typeof(env, v, &t);
    if (t != napi_string) {
      f->Reject("callback '" + name_ + "' must resolve to a string (its declared result)");
      return;
    }
    size_t len = 0;
    napi_get_value_string_utf8(env, v, nullptr, 0, &len);
    std::string str(len, '\0');
    napi_get_value_string_utf8(env, v, str.data(), len + 1, &len);
    f->ResolveString(str);
    return;
  }
  uint64_t w = 0;
  double n = 0;
  if (!ToWord(env, v, &w, &n)) {
    f->Reject(ClearException(env));
  } else if (result_ == kF32 || result_ == kF64) {
    f->ResolveNumber(n);
  } else {
    f->ResolveWord(w);
  }
}

namespace {

// A Promise's settlement, handed to the plugin's future.
struct Settle {
  Callback* cb;
  JsFuture* future;
  std::atomic<int> refs{2};  // the two reaction functions; each finalizer drops one
  bool settled = false;      // JS thread
};

}  // namespace

void Callback::CallJs(napi_env env, napi_value fn, void* context, void* data) {
  auto* call = static_cast<Call*>(data);
  Callback* cb = call->cb;
  if (env == nullptr || fn == nullptr) {
    // The environment is being torn down: the call never runs. A future gets an error value,
    // a blocked caller zero.
    if (call->future != nullptr) {
      call->future->Reject("the JS environment stopped before the callback could run");
      call->future->ReleaseJs();
    }
    call->Finish(0, 0);
  } else {
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value result = nullptr;
    const bool ok = cb->Invoke(env, fn, call->frame, &result);
    if (call->future != nullptr) {
      JsFuture* f = call->future;
      napi_value then = nullptr;
      napi_valuetype t = napi_undefined;
      if (!ok) {
        f->Reject(ClearException(env));
        f->ReleaseJs();
      } else if (napi_typeof(env, result, &t) == napi_ok && t == napi_object &&
                 napi_get_named_property(env, result, "then", &then) == napi_ok &&
                 napi_typeof(env, then, &t) == napi_ok && t == napi_function) {
        auto* settle = new Settle{cb, f};
        cb->Retain();
        auto on_ok = [](napi_env env, napi_callback_info info) -> napi_value {
          size_t argc = 1;
          napi_value argv[1];
          void* d = nullptr;
          napi_get_cb_info(env, info, &argc, argv, nullptr, &d);
          auto* s = static_cast<Settle*>(d);
          if (s->settled) return nullptr;
          s->settled = true;
          napi_value v = argc > 0 ? argv[0] : Undefined(env);
          s->cb->Fulfil(env, v, s->future);
          s->future->ReleaseJs();
          return nullptr;
        };
        auto on_err = [](napi_env env, napi_callback_info info) -> napi_value {
          size_t argc = 1;
          napi_value argv[1];
          void* d = nullptr;
          napi_get_cb_info(env, info, &argc, argv, nullptr, &d);
          auto* s = static_cast<Settle*>(d);
          if (s->settled) return nullptr;
          s->settled = true;
          s->future->Reject(DescribeRejection(env, argc > 0 ? argv[0] : Undefined(env)));
          s->future->ReleaseJs();
          return nullptr;
        };
        auto finalize = [](napi_env, void* d, void*) {
          auto* s = static_cast<Settle*>(d);
          if (s->refs.fetch_sub(1) != 1) return;
          // Neither reaction ran (a Promise that never settles, collected): the future waits
          // for nothing any more; tell the plugin.
          if (!s->settled) {
            s->future->Reject("the callback's Promise was collected without settling");
            s->future->ReleaseJs();
          }
          s->cb->Release();
          delete s;
        };
        napi_value fns[2];
        bool made = napi_create_function(env, "onFulfilled", NAPI_AUTO_LENGTH, on_ok, settle, &fns[0]) == napi_ok &&
                    napi_create_function(env, "onRejected", NAPI_AUTO_LENGTH, on_err, settle, &fns[1]) == napi_ok &&
                    napi_add_finalizer(env, fns[0], settle, finalize, nullptr, nullptr) == napi_ok;
        if (!made || napi_add_finalizer(env, fns[1], settle, finalize, nullptr, nullptr) != napi_ok) {
          // Could not wire the reactions (a stopping environment): settle with an error now.
          napi_value ignored;
          napi_get_and_clear_last_exception(env, &ignored);
          settle->settled = true;
          f->Reject("the callback's Promise could not be observed");
          f->ReleaseJs();
          if (!made) {
            cb->Release();
            delete settle;
          } else {
            settle->refs.fetch_sub(1);  // the second finalizer was never added
          }
        } else if (napi_value ignored_ret; napi_call_function(env, result, then, 2, fns, &ignored_ret) != napi_ok) {
          napi_value ignored;
          napi_get_and_clear_last_exception(env, &ignored);
          if (!settle->settled) {
            settle->settled = true;
            f->Reject("the callback's Promise threw from then()");
            f->ReleaseJs();
          }
        }
      } else {
        // A plain value: the callback was synchronous; resolve with it.
        cb->Fulfil(env, result, f);
        f->ReleaseJs();
      }
      call->Finish(0, 0);
    } else {
      uint64_t w = 0;
      double n = 0;
      // An exception stays pending: Node reports it as uncaught, as for any event callback. The
      // waiting caller gets zero.
      if (ok && call->done != nullptr) cb->ToWord(env, result, &w, &n);
      call->Finish(w, n);
    }
    napi_close_handle_scope(env, scope);
  }
  const bool heap = call->done == nullptr;
  if (heap) delete call;
  cb->Release();
}

void Callback::OnTsfnFinalized(napi_env, void* data, void*) {
  auto* cb = static_cast<Callback*>(data);
  {
    std::lock_guard<std::mutex> lock(cb->mu_);
    cb->tsfn_ = nullptr;
    cb->finalized_ = true;
  }
  cb->Release();  // the thread-safe function's reference
}

uint64_t Callback::Inline(const CallFrame& frame, double* num) {
  napi_env env = env_;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return 0;
  napi_value fn = nullptr, result = nullptr;
  uint64_t w = 0;
  if (fn_ != nullptr && napi_get_reference_value(env, fn_, &fn) == napi_ok && fn != nullptr &&
      Invoke(env, fn, frame, &result)) {
    ToWord(env, result, &w, num);  // a wrong type leaves a TypeError pending for the caller's JS
  }
  napi_close_handle_scope(env, scope);
  return w;
}

// ---------------------------------------------------------------------------------------------
// Any thread: the trampolines' side

// One call with a register result (or none): inline on the JS thread; from another thread queued
// for a void result, else queued and waited for.
void Callback::Run(const CallFrame& frame, uint64_t* word, double* num) noexcept {
  if (pthread_equal(pthread_self(), js_thread_)) {
    InlineCall ic{this, &frame, 0, 0};
    inline_entry_(&ic);
    *word = ic.word;
    *num = ic.num;
  } else if (result_ == kVoid) {
    auto* call = new (std::nothrow) Call{this, frame};
    if (call != nullptr) {
      Retain();
      if (!Queue(call)) {
        Release();
        delete call;
      }
    }
  } else {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Call call{this, frame};
    call.mu = &mu, call.cv = &cv, call.done = &done, call.word = word, call.num = num;
    Retain();
    if (Queue(&call)) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return done; });
    } else {
      Release();
    }
  }
}

uint64_t Callback::CallInteger(size_t slot, const CallFrame& frame) noexcept {
  Callback* cb = Acquire(Returns::kInteger, slot);
  if (cb == nullptr) return 0;  // released: the plugin called a pointer it should have let go
  g_calls.fetch_add(1, std::memory_order_relaxed);
  uint64_t w = 0;
  double n = 0;
  cb->Run(frame, &w, &n);
  cb->Release();
  return w;
}

double Callback::CallFloat(size_t slot, const CallFrame& frame) noexcept {
  Callback* cb = Acquire(Returns::kFloat, slot);
  if (cb == nullptr) return 0;
  g_calls.fetch_add(1, std::memory_order_relaxed);
  uint64_t w = 0;
  double n = 0;
  cb->Run(frame, &w, &n);
  const ResultKind kind = cb->result_;
  cb->Release();
  if (kind == kF32) {
    // An f32 result is read from the low half of XMM0.
    const float f = static_cast<float>(n);
    double out = 0;
    std::memcpy(&out, &f, sizeof f);
    return out;
  }
  return n;
}

void Callback::CallFuture(size_t slot, const CallFrame& frame, FfiFutureRaw* out) noexcept {
  Callback* cb = Acquire(Returns::kFuture, slot);
  // A released callback still returns a future, ready with an error: every JsResult<T> of ours
  // puts its message at the same place, so any kind's poll function reports it.
  JsFuture* f = JsFuture::Create(cb != nullptr ? cb->result_ : kVoid);
  if (f == nullptr) {
    if (cb != nullptr) cb->Release();
    *out = FfiFutureRaw{};
    return;
  }
  if (cb == nullptr) {
    f->Reject("the callback was released before the plugin called it");
    f->ReleaseJs();
    *out = f->Raw();
    return;
  }
  g_calls.fetch_add(1, std::memory_order_relaxed);
  auto* call = new (std::nothrow) Call{cb, frame, f};
  cb->Retain();
  if (call == nullptr || !cb->Queue(call)) {
    f->Reject("the callback's JS environment is gone");
    f->ReleaseJs();
    cb->Release();
    delete call;
  }
  *out = f->Raw();
  cb->Release();
}

// ---------------------------------------------------------------------------------------------
// JS API

napi_value Callback::Create(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  uint64_t entry = 0;
  bool entry_lossless = false;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 8 ||
      napi_get_value_bigint_uint64(env, argv[7], &entry, &entry_lossless) != napi_ok || entry == 0) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: callbackCreate() takes 8 arguments");
    return nullptr;
  }
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  auto* cb = new Callback();
  bool ok = t == napi_function;
  size_t name_len = 0;
  ok = ok && napi_get_value_string_utf8(env, argv[1], nullptr, 0, &name_len) == napi_ok;
  if (ok) {
    cb->name_.resize(name_len);
    napi_get_value_string_utf8(env, argv[1], cb->name_.data(), name_len + 1, &name_len);
  }
  uint32_t n = 0, n2 = 0, result = 0;
  bool future = false, ref = false;
  ok = ok && napi_get_array_length(env, argv[2], &n) == napi_ok && napi_get_array_length(env, argv[3], &n2) == napi_ok &&
       n == n2 && n <= kMaxPlannedArgs && napi_get_value_uint32(env, argv[4], &result) == napi_ok &&
       result < kJs && napi_get_value_bool(env, argv[5], &future) == napi_ok && napi_get_value_bool(env, argv[6], &ref) == napi_ok;
  ArgClass classes[kMaxPlannedArgs] = {};
  for (uint32_t i = 0; ok && i < n; ++i) {
    napi_value e;
    uint32_t c = 0, k = 0;
    ok = napi_get_element(env, argv[2], i, &e) == napi_ok && napi_get_value_uint32(env, e, &c) == napi_ok &&
         c < kArgClassCount && napi_get_element(env, argv[3], i, &e) == napi_ok && napi_get_value_uint32(env, e, &k) == napi_ok &&
         k < kJs;
    classes[i] = static_cast<ArgClass>(c);
    cb->arg_kinds_[i] = static_cast<ResultKind>(k);
  }
  if (!ok) {
    delete cb;
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: bad callbackCreate() arguments");
    return nullptr;
  }
  cb->result_ = static_cast<ResultKind>(result);
  cb->future_ = future;
  cb->returns_ = future ? Returns::kFuture : (cb->result_ == kF32 || cb->result_ == kF64) ? Returns::kFloat : Returns::kInteger;
  if (!PlanCallback(cb->returns_, classes, n, &cb->plan_)) {
    delete cb;
    napi_throw_type_error(env, "ERR_PLUGIN_BAD_DECLARATION",
                          "this callback's parameters do not fit the argument registers of this machine (x86_64: six "
                          "integer-class, eight floating-point; five integer-class for a future result), or this "
                          "machine has no callback trampolines");
    return nullptr;
  }
  if (!AllocSlot(cb->returns_, cb, &cb->slot_)) {
    delete cb;
    napi_throw_error(env, "ERR_PLUGIN_TOO_MANY_CALLBACKS",
                     "256 callbacks of this kind are alive: close() callbacks (or the calls that own them) you no longer need");
    return nullptr;
  }
  cb->env_ = env;
  cb->js_thread_ = pthread_self();
  cb->inline_entry_ = reinterpret_cast<void (*)(void*)>(static_cast<uintptr_t>(entry));
  napi_value name;
  napi_create_string_utf8(env, cb->name_.c_str(), cb->name_.size(), &name);
  cb->Retain();  // the thread-safe function's reference, dropped when it is finalized
  if (napi_create_reference(env, argv[0], 1, &cb->fn_) != napi_ok ||
      napi_create_threadsafe_function(env, argv[0], nullptr, name, 0, 1, cb, OnTsfnFinalized, cb, CallJs, &cb->tsfn_) != napi_ok) {
    FreeSlot(cb->returns_, cb->slot_);
    if (cb->fn_ != nullptr) napi_delete_reference(env, cb->fn_);
    delete cb;
    return nullptr;
  }
  // Whether queued calls keep the loop alive is the caller's choice (persistent callbacks);
  // callbacks tied to a pending call are kept alive by that call.
  if (!ref) napi_unref_threadsafe_function(env, cb->tsfn_);
  g_alive.fetch_add(1, std::memory_order_relaxed);

  napi_value handle, pointer, out;
  auto finalize = [](napi_env env, void* data, void*) {
    auto* c = static_cast<Callback*>(data);
    c->Unregister(env);  // collected without callbackRelease(): the JS side is gone anyway
    c->Release();        // the handle's
  };
  cb->Retain();  // the handle's reference
  napi_create_external(env, cb, finalize, nullptr, &handle);
  napi_type_tag_object(env, handle, &kCallbackTag);
  napi_create_bigint_uint64(env, reinterpret_cast<uintptr_t>(TrampolineAddress(cb->returns_, cb->slot_)), &pointer);
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, pointer);
  napi_set_element(env, out, 1, handle);
  return out;
}

napi_value Callback::ReleaseJs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool ok = false;
  void* data = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 ||
      napi_check_object_type_tag(env, argv[0], &kCallbackTag, &ok) != napi_ok || !ok ||
      napi_get_value_external(env, argv[0], &data) != napi_ok) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: callbackRelease(handle)");
    return nullptr;
  }
  static_cast<Callback*>(data)->Unregister(env);
  return Undefined(env);
}

void Callback::Unregister(napi_env env) {
  napi_threadsafe_function tsfn = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (released_) return;
    released_ = true;
    tsfn = tsfn_;
    tsfn_ = nullptr;
  }
  // No new call can find it; calls already queued still run (the function stays referenced by
  // the thread-safe function until it is finalized).
  FreeSlot(returns_, slot_);
  if (tsfn != nullptr) napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  if (fn_ != nullptr) napi_delete_reference(env, fn_);
  fn_ = nullptr;
  g_alive.fetch_sub(1, std::memory_order_relaxed);
  Release();  // the registration's
}

napi_value Callback::RunInline(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint64_t p = 0;
  bool lossless = false;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 ||
      napi_get_value_bigint_uint64(env, argv[0], &p, &lossless) != napi_ok || p == 0) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: callbackRunInline(frame)");
    return nullptr;
  }
  auto* ic = reinterpret_cast<InlineCall*>(static_cast<uintptr_t>(p));
  ic->word = ic->cb->Inline(*ic->frame, &ic->num);
  return Undefined(env);
}

napi_value Callback::Stats(napi_env env, napi_callback_info) {
  napi_value out, v;
  napi_create_object(env, &out);
  napi_create_double(env, static_cast<double>(g_alive.load()), &v);
  napi_set_named_property(env, out, "alive", v);
  napi_create_double(env, static_cast<double>(g_calls.load()), &v);
  napi_set_named_property(env, out, "calls", v);
  return out;
}

}  // namespace rustplug
