#pragma once
#include <node_api.h>

namespace rustplug {
// Thunks placed between a plugin and koffi's callback trampolines: a JS callback called from a
// thread other than the JS thread that made the call is refused (zeros returned, counted)
// instead of deadlocking. See callback_guard.cc.
void RegisterCallbackGuard(napi_env env, napi_value exports);
}
