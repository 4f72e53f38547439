#pragma once
#include <node_api.h>

namespace rustplug {
// Benchmark baseline: a bare uv_async_send round trip to a helper thread.
void RegisterPingPong(napi_env env, napi_value exports);
}
