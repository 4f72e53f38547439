#pragma once
#include <node_api.h>

namespace rustplug {
void RegisterLoader(napi_env env, napi_value exports);
}
