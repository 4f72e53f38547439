// The dynamic loader, bound directly: dlopen/dlsym/dlclose/dlerror/dlinfo/dladdr and
// dl_iterate_phdr. Handles and addresses cross into JS as bigints; the TS side owns policy.
#include "dlfcn.h"

#include <dlfcn.h>
#include <link.h>

#include <string>

namespace rustplug {

namespace {

napi_value Str(napi_env env, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

napi_value Addr(napi_env env, const void* p) {
  napi_value v;
  napi_create_bigint_uint64(env, reinterpret_cast<uintptr_t>(p), &v);
  return v;
}

bool GetString(napi_env env, napi_value v, std::string* out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) return false;
  out->resize(len);
  napi_get_value_string_utf8(env, v, out->data(), len + 1, &len);
  return true;
}

bool GetHandle(napi_env env, napi_value v, void** out) {
  uint64_t u = 0;
  bool lossless = false;
  if (napi_get_value_bigint_uint64(env, v, &u, &lossless) != napi_ok || !lossless || u == 0) return false;
  *out = reinterpret_cast<void*>(static_cast<uintptr_t>(u));
  return true;
}

// dlerror() is per thread and cleared by reading; read it right after the failing call.
napi_value LastError(napi_env env) {
  const char* e = dlerror();
  return Str(env, e != nullptr ? e : "unknown dynamic loader error");
}

// open(path, flags) -> { handle: bigint, realPath: string } | { error: string }
napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  std::string path;
  uint32_t flags = 0;
  if (argc < 2 || !GetString(env, argv[0], &path) || napi_get_value_uint32(env, argv[1], &flags) != napi_ok) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "dlopen(path: string, flags: number)");
    return nullptr;
  }
  dlerror();
  void* handle = dlopen(path.c_str(), static_cast<int>(flags));
  napi_value out;
  napi_create_object(env, &out);
  if (handle == nullptr) {
    napi_set_named_property(env, out, "error", LastError(env));
    return out;
  }
  napi_set_named_property(env, out, "handle", Addr(env, handle));
  struct link_map* map = nullptr;
  // Acquire: another environment's loader may be renaming this object right now (loader.cc
  // stores the new name with release semantics and never frees the old one).
  const char* name = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr) name = __atomic_load_n(&map->l_name, __ATOMIC_ACQUIRE);
  if (name != nullptr) napi_set_named_property(env, out, "realPath", Str(env, name));
  return out;
}

// sym(handle, name) -> bigint address | string error
napi_value Sym(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void* handle = nullptr;
  std::string name;
  if (argc < 2 || !GetHandle(env, argv[0], &handle) || !GetString(env, argv[1], &name)) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "dlsym(handle: bigint, name: string)");
    return nullptr;
  }
  dlerror();
  void* addr = dlsym(handle, name.c_str());
  // A symbol may legitimately be at address 0 (IFUNC/absolute); only dlerror says it failed.
  const char* err = dlerror();
  if (err != nullptr) return Str(env, err);
  if (addr == nullptr) return Str(env, (name + ": symbol resolves to a null address").c_str());
  return Addr(env, addr);
}

// close(handle) -> undefined | string error
napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void* handle = nullptr;
  if (argc < 1 || !GetHandle(env, argv[0], &handle)) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "dlclose(handle: bigint)");
    return nullptr;
  }
  dlerror();
  if (dlclose(handle) != 0) return LastError(env);
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// addr(address) -> { file, base, symbol?, symbolAddress? } | null   (dladdr)
napi_value AddrInfo(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void* addr = nullptr;
  napi_value out;
  Dl_info di;
  if (argc < 1 || !GetHandle(env, argv[0], &addr) || dladdr(addr, &di) == 0) {
    napi_get_null(env, &out);
    return out;
  }
  napi_create_object(env, &out);
  if (di.dli_fname != nullptr) napi_set_named_property(env, out, "file", Str(env, di.dli_fname));
  napi_set_named_property(env, out, "base", Addr(env, di.dli_fbase));
  if (di.dli_sname != nullptr) {
    napi_set_named_property(env, out, "symbol", Str(env, di.dli_sname));
    napi_set_named_property(env, out, "symbolAddress", Addr(env, di.dli_saddr));
  }
  return out;
}

int CollectObject(struct dl_phdr_info* info, size_t, void* data) {
  auto* names = static_cast<std::vector<std::string>*>(data);
  if (info->dlpi_name != nullptr && info->dlpi_name[0] != '\0') names->emplace_back(info->dlpi_name);
  return 0;
}

// loaded() -> string[]: the paths of every object mapped in this process (dl_iterate_phdr).
napi_value Loaded(napi_env env, napi_callback_info) {
  std::vector<std::string> names;
  dl_iterate_phdr(CollectObject, &names);
  napi_value arr;
  napi_create_array_with_length(env, names.size(), &arr);
  for (size_t i = 0; i < names.size(); ++i) napi_set_element(env, arr, static_cast<uint32_t>(i), Str(env, names[i].c_str()));
  return arr;
}

}  // namespace

void RegisterDlfcn(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"dlopen", nullptr, Open, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"dlsym", nullptr, Sym, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"dlclose", nullptr, Close, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"dladdr", nullptr, AddrInfo, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"loadedObjects", nullptr, Loaded, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);

  napi_value flags;
  napi_create_object(env, &flags);
  auto flag = [&](const char* name, int v) {
    napi_value n;
    napi_create_int32(env, v, &n);
    napi_set_named_property(env, flags, name, n);
  };
  flag("RTLD_LAZY", RTLD_LAZY);
  flag("RTLD_NOW", RTLD_NOW);
  flag("RTLD_GLOBAL", RTLD_GLOBAL);
  flag("RTLD_LOCAL", RTLD_LOCAL);
  flag("RTLD_NODELETE", RTLD_NODELETE);
  flag("RTLD_NOLOAD", RTLD_NOLOAD);
#ifdef RTLD_DEEPBIND
  flag("RTLD_DEEPBIND", RTLD_DEEPBIND);
#endif
  napi_set_named_property(env, exports, "RTLD", flags);
}

}  // namespace rustplug
