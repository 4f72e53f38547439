// Module entry. Everything per environment (worker_threads) hangs off napi instance data or
// function data. The only process-wide tables are the ones that map code to data: the callback
// trampolines (callbacks/) and the callback guard's thunks, because a function pointer handed to
// a plugin cannot carry its environment; each entry belongs to the environment that took it.
#include <dlfcn.h>
#include <node_api.h>

#include "abi/facts.h"
#include "callbacks/callback.h"
#include "callback_guard.h"
#include "dlfcn.h"
#include "library.h"
#include "loader.h"
#include "runtime/hub.h"
#include "symbol.h"
#include "sync_symbol.h"

namespace rustplug {
namespace {

template <napi_value (Hub::*Method)(napi_env, napi_callback_info)>
napi_value OnHub(napi_env env, napi_callback_info info) {
  Hub* hub = Hub::Of(env);
  return hub == nullptr ? nullptr : (hub->*Method)(env, info);
}

// Node dlcloses an addon when the last environment that loaded it goes away (a worker that was the
// only user). Plugin threads may call the waker vtable and the callback trampolines — this
// object's code — at any later time, so the addon pins itself: RTLD_NODELETE on the object that
// is already loaded keeps it mapped for the life of the process.
void PinSelf() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&PinSelf), &info) != 0 && info.dli_fname != nullptr) {
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  }
}

napi_value Init(napi_env env, napi_value exports) {
  PinSelf();
  RegisterDlfcn(env, exports);
  RegisterAbiFacts(env, exports);
  RegisterLoader(env, exports);
  RegisterCallbackGuard(env, exports);
  // The runtime's entry points stay on the C API: they are the hot path of every async call.
  napi_property_descriptor props[] = {
      {"callbackCreate", nullptr, Callback::Create, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"callbackRelease", nullptr, Callback::ReleaseJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"callbackRunInline", nullptr, Callback::RunInline, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"callbackStats", nullptr, Callback::Stats, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"library", nullptr, Library::Wrap, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"libraryClose", nullptr, OnHub<&Hub::CloseLibrary>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"libraryTasks", nullptr, OnHub<&Hub::LibraryTasks>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"libraryIdle", nullptr, OnHub<&Hub::LibraryIdle>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"syncSymbol", nullptr, CreateSyncSymbol, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futureSymbol", nullptr, FutureSymbol::Create, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futureSymbolPlanned", nullptr, FutureSymbol::Planned, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futureStart", nullptr, OnHub<&Hub::Start>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futureKoffiStart", nullptr, OnHub<&Hub::KoffiStart>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"streamStart", nullptr, OnHub<&Hub::StreamStart>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"streamKoffiStart", nullptr, OnHub<&Hub::StreamKoffiStart>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"streamNext", nullptr, OnHub<&Hub::StreamNext>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futureCancel", nullptr, OnHub<&Hub::Cancel>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futureStats", nullptr, OnHub<&Hub::Stats>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futureSetup", nullptr, OnHub<&Hub::Setup>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return nullptr;
  return exports;
}

}  // namespace
}  // namespace rustplug

NAPI_MODULE_INIT() { return rustplug::Init(env, exports); }
