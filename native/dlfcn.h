#pragma once
#include <node_api.h>
#include <vector>

namespace rustplug {
void RegisterDlfcn(napi_env env, napi_value exports);
}
