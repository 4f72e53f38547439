// The per-environment hub: wakers on any thread put their cell on the ready list and signal one
// uv_async_t; the environment's JS thread takes the whole list and re-polls those tasks in a batch.
#pragma once

#include <node_api.h>
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "ffi_abi.h"
#include "waker.h"

namespace rustplug {

// The part of a hub that other threads touch. It outlives the environment while any waker cell
// still points at it; after Detach() wakes are dropped on the floor.
class HubCore {
 public:
  explicit HubCore(uv_async_t* async) : async_(async) {}

  void Retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Release() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Any thread. Takes a reference on the cell for the ready list.
  void Enqueue(WakerCell* cell);
  // JS thread. Moves the ready list into `out` (which must be empty).
  void TakeReady(std::vector<WakerCell*>& out);
  // JS thread, at environment teardown: no uv_async_send after this returns.
  void Detach(std::vector<WakerCell*>& leftover);

  std::atomic<int64_t> cells_alive{0};
  std::atomic<int64_t> waker_clones{0};  // owned clones handed to plugins and not yet consumed
  std::atomic<uint64_t> wakes{0};
  std::atomic<uint64_t> signals{0};

 private:
  std::mutex mu_;
  std::vector<WakerCell*> ready_;
  uv_async_t* async_;  // guarded by mu_; null after Detach
  std::atomic<uint32_t> refs_{1};
};

// How many ready tasks one loop iteration polls before yielding to timers and I/O.
constexpr size_t kPollsPerDrain = 1024;

struct Task {
  uint64_t id;
  void* fut_ptr;
  void* poll_fn;
  DropFn drop_fn;
  WakerCell* cell;     // the task's own reference
  napi_deferred deferred;
  napi_ref js_poll;    // kJs only
  napi_ref keep;       // argument memory that must outlive the future; may be null
  uint32_t symbol_id;
  uint32_t group;      // the library that made it, for close()
  ResultKind kind;
  bool keeps_loop_alive;
};

class Hub {
 public:
  static Hub* Of(napi_env env);  // created on first use, one per environment

  // callStart(fn, kind, symbolId, ref, jsPollFactory, keep, cancelSlot, group, signature, ...args):
  // calls `fn(args) -> FfiFuture<T>` itself and takes its future over in the same native call.
  napi_value CallStart(napi_env env, napi_callback_info info);
  // koffiStart(rawFn, kind, symbolId, ref, jsPollFactory, keep, cancelSlot, group, ...args): the
  // same through a koffi function, for signatures the hub does not call itself.
  napi_value KoffiStart(napi_env env, napi_callback_info info);
  napi_value Cancel(napi_env env, napi_callback_info info);
  napi_value CancelGroup(napi_env env, napi_callback_info info);
  napi_value Stats(napi_env env, napi_callback_info info);
  napi_value Setup(napi_env env, napi_callback_info info);

 private:
  explicit Hub(napi_env env);
  ~Hub();
  static void OnAsync(uv_async_t* handle);
  static void OnTeardown(napi_async_cleanup_hook_handle handle, void* arg);
  static void OnClosed(uv_handle_t* handle);

  struct StartOptions {
    uint32_t kind = 0;
    uint32_t symbol_id = 0;
    uint32_t group = 0;
    bool keep_alive = true;
    napi_value js_poll = nullptr;
    napi_value keep = nullptr;
    napi_value slot = nullptr;
  };
  static bool ResolveJsPoll(napi_env env, const FfiFutureRaw& f, napi_value poll_v, napi_value fut_v, StartOptions* o);
  static bool ReadStartOptions(napi_env env, const napi_value* argv, size_t argc, StartOptions* o);
  // Polls a new future once; settles it at once or makes it a pending task and returns its promise.
  napi_value StartFuture(napi_env env, const FfiFutureRaw& f, const StartOptions& o);

  void Drain();
  // Polls once. Returns the tag; on Ready `*value` holds the result, on a JS exception `*error`.
  uint8_t PollOnce(ResultKind kind, void* poll_fn, void* fut_ptr, WakerCell* cell, napi_value js_poll,
                   napi_value* value, napi_value* error);
  // Removes a pending task, drops its future, then resolves (Ready) or rejects with `error`
  // (a JS exception, a cancellation reason) or the error MakeSettleError makes for `tag`.
  void Settle(Task* task, uint8_t tag, napi_value value, napi_value error);
  void Forget(Task* task);  // drop the future and free the task, without touching its promise
  // PluginPanicError for Panicked; an ABI-mismatch error for a tag that is none of 0, 1, 2.
  napi_value MakeSettleError(uint32_t symbol_id, uint8_t tag);
  void RefLoop(bool add);

  napi_env env_;
  uv_async_t* async_;
  HubCore* core_;
  napi_async_context async_context_ = nullptr;
  napi_ref resource_ = nullptr;
  napi_ref make_error_ = nullptr;
  napi_async_cleanup_hook_handle cleanup_ = nullptr;
  std::unordered_map<uint64_t, Task*> pending_;
  std::vector<WakerCell*> batch_;  // taken from the core's ready list, polled in slices
  size_t batch_pos_ = 0;
  uint64_t next_id_ = 1;
  uint32_t loop_refs_ = 0;
  uint64_t polls_ = 0;
  uint64_t drains_ = 0;
  uint64_t settled_ = 0;
};

}  // namespace rustplug
