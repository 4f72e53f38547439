#include "symbol.h"

#include <vector>

#include "abi/js_values.h"

namespace rustplug {

namespace {

bool ReadString(napi_env env, napi_value v, std::string* out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) return false;
  out->resize(len);
  return napi_get_value_string_utf8(env, v, out->data(), len + 1, &len) == napi_ok;
}

// argClasses: null, or an array of small integers (ArgClass).
bool ReadPlan(napi_env env, napi_value v, CallPlan* plan, bool* planned) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  *planned = false;
  if (t == napi_null || t == napi_undefined) return true;
  std::vector<uint32_t> numbers;
  if (!ReadSmallInts(env, v, kArgClassCount, &numbers)) return false;
  std::vector<ArgClass> classes(numbers.size());
  for (size_t i = 0; i < numbers.size(); ++i) classes[i] = static_cast<ArgClass>(numbers[i]);
  *planned = PlanFutureCall(classes.data(), classes.size(), plan);
  return true;
}

}  // namespace

FutureSymbol::~FutureSymbol() {
  delete driver_;
  if (lib_ != nullptr) lib_->Release();
}

void FutureSymbol::Release(napi_env env) noexcept {
  if (--refs_ != 0) return;
  if (driver_ != nullptr) driver_->Dispose(env);
  delete this;
}

void FutureSymbol::Finalize(napi_env env, void* data, void*) { static_cast<FutureSymbol*>(data)->Release(env); }

napi_value FutureSymbol::Create(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 8) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: futureSymbol() takes 8 arguments");
    return nullptr;
  }
  Library* lib = Library::Unwrap(env, argv[0]);
  void* fn = nullptr;
  void* free_fn = nullptr;
  uint32_t kind = 0;
  napi_valuetype poll_type = napi_undefined;
  auto* sym = new FutureSymbol();
  bool ok = lib != nullptr && PointerFromJs(env, argv[1], &fn) && fn != nullptr && ReadString(env, argv[2], &sym->name_) &&
            napi_get_value_uint32(env, argv[3], &kind) == napi_ok && kind < kResultKindCount &&
            ReadPlan(env, argv[4], &sym->plan_, &sym->planned_) && napi_typeof(env, argv[5], &poll_type) == napi_ok &&
            PointerFromJs(env, argv[6], &free_fn) && napi_get_value_bool(env, argv[7], &sym->stream_) == napi_ok;
  if (ok) {
    if (kind == kJs) {
      ok = poll_type == napi_function && (sym->driver_ = NewStructDriver(env, argv[5])) != nullptr;
    } else {
      sym->driver_ = NewScalarDriver(static_cast<ResultKind>(kind), reinterpret_cast<FreeFn>(free_fn), sym->stream_);
    }
  }
  if (!ok) {
    delete sym;
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: bad futureSymbol() arguments");
    return nullptr;
  }
  sym->fn_ = fn;
  sym->lib_ = lib;
  lib->Retain();
  napi_value ext;
  if (napi_create_external(env, sym, Finalize, nullptr, &ext) != napi_ok) {
    sym->Release(env);
    return nullptr;
  }
  return ext;
}

napi_value FutureSymbol::Planned(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  FutureSymbol* sym = argc < 1 ? nullptr : Unwrap(env, argv[0]);
  napi_get_boolean(env, sym != nullptr && sym->planned_, &out);
  return out;
}

FutureSymbol* FutureSymbol::Unwrap(napi_env env, napi_value v) {
  void* data = nullptr;
  if (napi_get_value_external(env, v, &data) != napi_ok) return nullptr;
  return static_cast<FutureSymbol*>(data);
}

}  // namespace rustplug
