// What rustplug's loader (src/loader.ts) needs from glibc beyond dlopen: renaming a loaded
// object. rustplug maps every file from a descriptor it checked, through a one-time symlink to
// /proc/self/fd/N, so glibc names the object by that symlink. Renaming it serves two ends:
// - while a dependent is dlopen'ed, a dependency without a matching SONAME gets the NEEDED name
//   the dependent asks for, because glibc matches NEEDED names against l_name (and SONAMEs)
//   before it searches the disk, and its search would not find our descriptor;
// - afterwards every object carries the path ld.so would have given it, so dladdr,
//   dl_iterate_phdr, backtraces and debuggers name the real file.
// l_name is the public first field block of struct link_map (<link.h>); glibc frees it with
// free() when the object is unloaded, so the new name is malloc'ed. The old name is left
// allocated: another thread may be reading it right now (dl_iterate_phdr, dladdr).
#include "loader.h"

#include <dlfcn.h>
#include <link.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace rustplug {

namespace {

// linkMapRename(handle: bigint, name: string) -> boolean
napi_value Rename(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint64_t h = 0;
  bool lossless = false;
  size_t len = 0;
  if (argc < 2 || napi_get_value_bigint_uint64(env, argv[0], &h, &lossless) != napi_ok || !lossless || h == 0 ||
      napi_get_value_string_utf8(env, argv[1], nullptr, 0, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "linkMapRename(handle: bigint, name: string)");
    return nullptr;
  }
  std::string name(len, '\0');
  napi_get_value_string_utf8(env, argv[1], name.data(), len + 1, &len);
  struct link_map* map = nullptr;
  bool ok = false;
  if (dlinfo(reinterpret_cast<void*>(static_cast<uintptr_t>(h)), RTLD_DI_LINKMAP, &map) == 0 && map != nullptr) {
    char* fresh = strdup(name.c_str());
    if (fresh != nullptr) {
      __atomic_store_n(&map->l_name, fresh, __ATOMIC_RELEASE);
      ok = true;
    }
  }
  napi_value out;
  napi_get_boolean(env, ok, &out);
  return out;
}

}  // namespace

void RegisterLoader(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"linkMapRename", nullptr, Rename, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace rustplug
