#include "library.h"

#include <dlfcn.h>

namespace rustplug {

namespace {

// The type tag keeps a foreign External (or another addon's) from being taken for a Library.
constexpr napi_type_tag kLibraryTag = {0x7275737470lu, 0x6c75672d6c6962lu};

void Finalize(napi_env, void* data, void*) { static_cast<Library*>(data)->Release(); }

}  // namespace

void Library::ReleaseCode() noexcept {
  if (--code_refs_ != 0 || dlclosed_) return;
  dlclosed_ = true;
  // dlclose's failure has nobody to reach here (close() already returned); the handle is
  // gone either way as far as rustplug is concerned.
  dlclose(handle_);
}

void Library::Release() noexcept {
  if (--refs_ == 0) delete this;
}

void Library::MarkClosed() noexcept {
  if (closed_) return;
  closed_ = true;
  ReleaseCode();
}

napi_value Library::Wrap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint64_t handle = 0;
  bool lossless = false;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 ||
      napi_get_value_bigint_uint64(env, argv[0], &handle, &lossless) != napi_ok || !lossless || handle == 0) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "library(handle: bigint)");
    return nullptr;
  }
  auto* lib = new Library(reinterpret_cast<void*>(static_cast<uintptr_t>(handle)));
  napi_value ext;
  if (napi_create_external(env, lib, Finalize, nullptr, &ext) != napi_ok ||
      napi_type_tag_object(env, ext, &kLibraryTag) != napi_ok) {
    delete lib;  // nothing else saw it; the caller still owns the handle and dlcloses it
    return nullptr;
  }
  return ext;
}

Library* Library::Unwrap(napi_env env, napi_value v) {
  bool ok = false;
  void* data = nullptr;
  if (napi_check_object_type_tag(env, v, &kLibraryTag, &ok) != napi_ok || !ok ||
      napi_get_value_external(env, v, &data) != napi_ok) {
    return nullptr;
  }
  return static_cast<Library*>(data);
}

}  // namespace rustplug
