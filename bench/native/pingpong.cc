// Benchmark baseline only (a separate addon, bench/native/binding.gyp, never shipped): the bare
// cost of a cross-thread wake through libuv. ping() asks a helper thread to uv_async_send back; the
// returned promise resolves in the async callback. Nothing in the library uses this.
#include <node_api.h>

#include <uv.h>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace rustplug {

namespace {

struct PingPong {
  napi_env env;
  uv_async_t async;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  bool requested = false;
  bool stop = false;
  napi_deferred deferred = nullptr;
  napi_async_context context = nullptr;
  napi_ref resource = nullptr;

  void Run() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return requested || stop; });
      if (stop) return;
      requested = false;
      uv_async_send(&async);
    }
  }
};


void OnPong(uv_async_t* handle) {
  auto* pp = static_cast<PingPong*>(handle->data);
  if (pp->deferred == nullptr) return;
  napi_handle_scope scope;
  napi_open_handle_scope(pp->env, &scope);
  napi_value resource, undef;
  napi_get_reference_value(pp->env, pp->resource, &resource);
  napi_callback_scope cb;
  napi_open_callback_scope(pp->env, resource, pp->context, &cb);
  napi_get_undefined(pp->env, &undef);
  napi_deferred d = pp->deferred;
  pp->deferred = nullptr;
  napi_resolve_deferred(pp->env, d, undef);
  napi_close_callback_scope(pp->env, cb);
  napi_close_handle_scope(pp->env, scope);
}

void Teardown(void* arg) {
  auto* pp = static_cast<PingPong*>(arg);
  {
    std::lock_guard<std::mutex> lock(pp->mu);
    pp->stop = true;
  }
  pp->cv.notify_one();
  pp->thread.join();
  napi_async_destroy(pp->env, pp->context);
  napi_delete_reference(pp->env, pp->resource);
  uv_close(reinterpret_cast<uv_handle_t*>(&pp->async), [](uv_handle_t* h) { delete static_cast<PingPong*>(h->data); });
}

napi_value Ping(napi_env env, napi_callback_info info) {
  void* data = nullptr;
  napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &data);
  auto** slot = static_cast<PingPong**>(data);
  if (*slot == nullptr) {
    auto* pp = new PingPong();
    pp->env = env;
    uv_loop_t* loop;
    napi_get_uv_event_loop(env, &loop);
    uv_async_init(loop, &pp->async, OnPong);
    pp->async.data = pp;
    uv_unref(reinterpret_cast<uv_handle_t*>(&pp->async));
    napi_value resource, name;
    napi_create_object(env, &resource);
    napi_create_reference(env, resource, 1, &pp->resource);
    napi_create_string_utf8(env, "rustplug:ping", NAPI_AUTO_LENGTH, &name);
    napi_async_init(env, resource, name, &pp->context);
    pp->thread = std::thread([pp] { pp->Run(); });
    napi_add_env_cleanup_hook(env, Teardown, pp);
    *slot = pp;
  }
  PingPong* pp = *slot;
  napi_value promise;
  if (pp->deferred != nullptr) {
    napi_throw_error(env, nullptr, "ping() already in flight");
    return nullptr;
  }
  napi_create_promise(env, &pp->deferred, &promise);
  {
    std::lock_guard<std::mutex> lock(pp->mu);
    pp->requested = true;
  }
  pp->cv.notify_one();
  return promise;
}

}  // namespace

napi_value Init(napi_env env, napi_value exports) {
  auto** slot = new PingPong*(nullptr);
  napi_value fn;
  napi_create_function(env, "benchPing", NAPI_AUTO_LENGTH, Ping, slot, &fn);
  napi_add_finalizer(env, fn, slot, [](napi_env, void* d, void*) { delete static_cast<PingPong**>(d); }, nullptr, nullptr);
  napi_set_named_property(env, exports, "benchPing", fn);
  return exports;
}

}  // namespace rustplug

namespace rustplug_bench {
void InitFloor(napi_env env, napi_value exports);  // floor.cc
}

NAPI_MODULE_INIT() {
  rustplug_bench::InitFloor(env, exports);
  return rustplug::Init(env, exports);
}
