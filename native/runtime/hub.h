// The per-environment future runtime: starts futures, polls the ready ones on the JS thread,
// cancels and settles them, and tears everything down with the environment. Cross-thread state
// lives in ReadyQueue and WakerCell; everything here is touched by the JS thread only.
//
// Re-entrancy: a poll, a drop_fn and a struct driver may run JS, and that JS may abort, close()
// or start calls. So a task being polled is never freed under the poller (a cancel only sets a
// state bit and the poller drops the future when poll_fn returns), a task leaves every lookup
// structure before its drop_fn runs, and nothing holds an iterator across a call into the plugin.
#pragma once

#include <node_api.h>
#include <uv.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "../abi/async_ffi.h"
#include "../symbol.h"
#include "ready_queue.h"
#include "waker.h"

namespace rustplug {

// One future, or one stream, owned by the runtime.
struct Task {
  uint64_t id = 0;
  WakerCell* cell = nullptr;  // the task's own reference
  FfiFutureRaw fut{};         // a stream has the same layout: stream_ptr, poll_next_fn, drop_fn
  FutureSymbol* symbol = nullptr;  // retained, and its library's code, while the task lives
  // A future's promise; a stream's pending next() (null while nobody waits for an item).
  napi_deferred deferred = nullptr;
  napi_ref keep = nullptr;           // argument memory the future may point into; may be null
  napi_ref cancel_reason = nullptr;  // a cancel that arrived while the task was running
  bool keeps_loop_alive = false;     // while something waits on it (`ref`)
  bool loop_ref = false;             // holds a loop ref right now
  bool stream = false;
  bool cancel_done = false;          // a stream's return(): a waiting next() ends with done: true
};

// How many ready tasks one loop iteration polls before yielding to timers and I/O.
constexpr size_t kPollsPerDrain = 1024;

class Hub {
 public:
  // Created on first use, one per environment. Null with a JS exception pending on failure.
  static Hub* Of(napi_env env);

  // futureStart(sym, ref, keep, slot, ...args): calls the planned symbol and takes its future
  // over in the same native call, so no JS (and no worker termination) falls in between.
  napi_value Start(napi_env env, napi_callback_info info);
  // futureKoffiStart(sym, raw, ref, keep, slot, ...args): the same through the symbol's koffi
  // function, for signatures the ABI's planner refuses.
  napi_value KoffiStart(napi_env env, napi_callback_info info);
  // futureCancel(id, reason, done?) -> boolean. For a stream, `done` ends a waiting next() with
  // { done: true } (the iterator's return()) instead of rejecting it with `reason`.
  napi_value Cancel(napi_env env, napi_callback_info info);
  // streamStart(sym, ref, keep, ...args) / streamKoffiStart(sym, raw, ref, keep, ...args) -> id:
  // calls the symbol and takes its stream over, idle (pull-based: nothing polls it until next()).
  napi_value StreamStart(napi_env env, napi_callback_info info);
  napi_value StreamKoffiStart(napi_env env, napi_callback_info info);
  // streamNext(id) -> { value, done } now, or a Promise of it; throws what the stream raised.
  napi_value StreamNext(napi_env env, napi_callback_info info);
  // libraryClose(lib, reason) -> number: cancels the library's futures (those being polled right
  // now when their poll returns) and lets go of the JS side's hold on its code.
  napi_value CloseLibrary(napi_env env, napi_callback_info info);
  napi_value Stats(napi_env env, napi_callback_info info);
  // libraryTasks(lib) -> number of the library's futures and streams alive.
  napi_value LibraryTasks(napi_env env, napi_callback_info info);
  // libraryIdle(lib) -> Promise<void>, settled once the library has no future or stream left.
  napi_value LibraryIdle(napi_env env, napi_callback_info info);
  // futureSetup(makeError: (symbolName, tag) => Error)
  napi_value Setup(napi_env env, napi_callback_info info);

 private:
  explicit Hub(napi_env env) : env_(env) {}
  bool Init();
  ~Hub() = default;
  static void OnAsync(uv_async_t* handle);
  static void OnTeardown(napi_async_cleanup_hook_handle handle, void* arg);
  static void OnClosed(uv_handle_t* handle);

  struct StartArgs {
    bool keep_alive = true;
    napi_value keep = nullptr;
    napi_value slot = nullptr;
  };
  static void ReadStartArgs(napi_env env, const napi_value* argv, StartArgs* a);
  template <bool kKoffi, bool kStream>
  napi_value Begin(napi_env env, napi_callback_info info);
  // Calls a planned symbol (argv: sym, <start args>, ...args) with its library's code held; on
  // success the hold goes with the FfiFutureRaw to the caller.
  bool CallPlanned(napi_env env, const napi_value* argv, size_t argc, size_t fixed, FutureSymbol** sym, FfiFutureRaw* f);
  // The same through koffi (argv: sym, raw, <start args>, ...args).
  bool CallKoffi(napi_env env, const napi_value* argv, size_t argc, size_t fixed, FutureSymbol** sym, FfiFutureRaw* f);
  // Polls a new future once; returns its value, or a pending promise; throws its error.
  napi_value StartFuture(napi_env env, FutureSymbol* sym, const FfiFutureRaw& f, const StartArgs& a);
  napi_value StartStream(napi_env env, FutureSymbol* sym, const FfiFutureRaw& f, const StartArgs& a);
  // A heap task's registration: id, map, symbol; the caller's code hold becomes the task's.
  Task* Adopt(napi_env env, Task&& t, const StartArgs& a);

  void Drain();
  void PollQueued(WakerCell* cell);
  // After a poll of a task that has a waiting promise (or, for a future, always): transitions the
  // state word and settles what the result settles.
  void AfterPoll(Task* task, const PollResult& r);
  // A stream's item for its waiting next().
  void Deliver(Task* task, napi_value item);
  void CompleteCancelled(Task* task);
  napi_value IterResult(napi_value value, bool done);
  void SetLoopRef(Task* task, bool on);
  // Asks for a cancel; the task is settled now or, if it is running, when its poll returns.
  void CancelTask(Task* task, napi_value reason, bool done = false);
  // Takes the task out of pending_, drops its future, then settles its promise: resolved with
  // `value` on Ready, else rejected with `error` or the error MakeSettleError makes for `tag`.
  void Complete(Task* task, uint8_t tag, napi_value value, napi_value error);
  void Free(Task* task);  // drop the future and release everything the task holds
  napi_value TakeCancelReason(Task* task);
  napi_value MakeSettleError(const FutureSymbol& sym, uint8_t tag);
  void RefLoop(bool add);

  napi_env env_;
  uv_async_t* async_ = nullptr;
  ReadyQueue* queue_ = nullptr;
  napi_async_context async_context_ = nullptr;
  napi_ref resource_ = nullptr;
  napi_ref make_error_ = nullptr;
  napi_async_cleanup_hook_handle cleanup_ = nullptr;
  std::unordered_map<uint64_t, Task*> pending_;
  std::vector<Task*> starting_;  // tasks in their first poll, on the stack of a start call
  CellList batch_;               // taken from the ready queue, polled in slices
  uint64_t next_id_ = 1;
  uint32_t loop_refs_ = 0;
  uint64_t polls_ = 0;
  uint64_t drains_ = 0;
  uint64_t settled_ = 0;
  uint64_t streams_ = 0;  // stream tasks alive
  uint64_t items_ = 0;    // stream items delivered
};

}  // namespace rustplug
