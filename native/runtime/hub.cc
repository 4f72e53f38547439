#include "hub.h"

#include <algorithm>
#include <new>
#include <string>
#include <vector>

#include "../abi/js_values.h"

namespace rustplug {

namespace {

struct InstanceData {
  Hub* hub = nullptr;
};

void FinalizeInstance(napi_env, void* data, void*) { delete static_cast<InstanceData*>(data); }

napi_value Undefined(napi_env env) {
  napi_value u = nullptr;
  napi_get_undefined(env, &u);
  return u;
}

void ThrowInternal(napi_env env, const char* what) { napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", what); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Life cycle

Hub* Hub::Of(napi_env env) {
  InstanceData* data = nullptr;
  if (napi_get_instance_data(env, reinterpret_cast<void**>(&data)) != napi_ok) return nullptr;
  if (data == nullptr) {
    data = new (std::nothrow) InstanceData();
    if (data == nullptr || napi_set_instance_data(env, data, FinalizeInstance, nullptr) != napi_ok) {
      delete data;
      napi_throw_error(env, "ERR_PLUGIN_RUNTIME", "rustplug: cannot set up the future runtime for this environment");
      return nullptr;
    }
  }
  if (data->hub == nullptr) {
    Hub* hub = new Hub(env);
    if (!hub->Init()) {
      napi_throw_error(env, "ERR_PLUGIN_RUNTIME", "rustplug: cannot set up the future runtime for this environment (libuv or N-API refused)");
      return nullptr;  // Init() left nothing behind that needs this object, or it freed it
    }
    data->hub = hub;
  }
  return data->hub;
}

// Every resource is checked; on a failure the ones already made are undone, so a refused setup
// leaves no open handle to keep the loop (or the process) alive.
bool Hub::Init() {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env_, &loop) != napi_ok || loop == nullptr) {
    delete this;
    return false;
  }
  async_ = new uv_async_t;
  if (uv_async_init(loop, async_, OnAsync) != 0) {
    delete async_;
    delete this;
    return false;
  }
  async_->data = this;
  // No pending future, no reason to keep the process alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(async_));
  queue_ = new ReadyQueue(async_);

  napi_value resource, name;
  bool ok = napi_create_object(env_, &resource) == napi_ok && napi_create_reference(env_, resource, 1, &resource_) == napi_ok &&
            napi_create_string_utf8(env_, "rustplug:future", NAPI_AUTO_LENGTH, &name) == napi_ok &&
            napi_async_init(env_, resource, name, &async_context_) == napi_ok &&
            napi_add_async_cleanup_hook(env_, OnTeardown, this, &cleanup_) == napi_ok;
  if (!ok) {
    if (async_context_ != nullptr) napi_async_destroy(env_, async_context_);
    if (resource_ != nullptr) napi_delete_reference(env_, resource_);
    CellList none;
    queue_->Detach(none);
    queue_->Release();
    // The handle is freed once libuv has closed it; the hub has nothing else to give back.
    uv_close(reinterpret_cast<uv_handle_t*>(async_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    delete this;
    return false;
  }
  return true;
}

void Hub::OnTeardown(napi_async_cleanup_hook_handle handle, void* arg) {
  Hub* hub = static_cast<Hub*>(arg);
  napi_env env = hub->env_;
  // Pending futures are dropped now, on this thread, while the plugin code is still mapped;
  // their promises die with the environment. Taken out of the map first: a drop_fn may call
  // back into JS that is no longer allowed to run, but must not find a half-freed task.
  std::unordered_map<uint64_t, Task*> tasks;
  tasks.swap(hub->pending_);
  for (auto& entry : tasks) {
    task_state::Kill(entry.second->cell->state);
    hub->Free(entry.second);
  }
  CellList leftover;
  hub->queue_->Detach(leftover);
  while (WakerCell* c = leftover.pop()) c->Release();
  while (WakerCell* c = hub->batch_.pop()) c->Release();
  if (hub->make_error_ != nullptr) napi_delete_reference(env, hub->make_error_);
  napi_async_destroy(env, hub->async_context_);
  napi_delete_reference(env, hub->resource_);
  InstanceData* data = nullptr;
  napi_get_instance_data(env, reinterpret_cast<void**>(&data));
  if (data != nullptr) data->hub = nullptr;
  hub->cleanup_ = handle;
  uv_close(reinterpret_cast<uv_handle_t*>(hub->async_), OnClosed);
}

void Hub::OnClosed(uv_handle_t* handle) {
  Hub* hub = static_cast<Hub*>(handle->data);
  delete reinterpret_cast<uv_async_t*>(handle);
  napi_async_cleanup_hook_handle cleanup = hub->cleanup_;
  hub->queue_->Release();  // wakers still alive keep the queue until their last reference goes
  delete hub;
  napi_remove_async_cleanup_hook(cleanup);
}

void Hub::RefLoop(bool add) {
  if (add) {
    if (loop_refs_++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(async_));
  } else {
    if (--loop_refs_ == 0) uv_unref(reinterpret_cast<uv_handle_t*>(async_));
  }
}

napi_value Hub::Setup(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype t = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 ||
      napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    ThrowInternal(env, "rustplug internal: futureSetup(makeError: function)");
    return nullptr;
  }
  if (make_error_ != nullptr) napi_delete_reference(env, make_error_);
  make_error_ = nullptr;
  napi_create_reference(env, argv[0], 1, &make_error_);
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------
// Starting a future

// ref, keep, slot: whether the pending call keeps the loop alive, what memory it must keep
// referenced, and an object that receives the task id (for an AbortSignal).
void Hub::ReadStartArgs(napi_env env, const napi_value* argv, StartArgs* a) {
  bool ref = true;
  if (napi_get_value_bool(env, argv[0], &ref) == napi_ok) a->keep_alive = ref;
  napi_valuetype t;
  if (napi_typeof(env, argv[1], &t) == napi_ok && t != napi_undefined && t != napi_null) a->keep = argv[1];
  if (napi_typeof(env, argv[2], &t) == napi_ok && t == napi_object) a->slot = argv[2];
}

// Leading arguments of the start calls: futureStart(sym, ref, keep, slot, ...),
// streamStart(sym, ref, keep, ...); the koffi variants add `raw` after `sym`.
constexpr size_t kFutureFixed = 4;
constexpr size_t kStreamFixed = 3;

bool Hub::CallPlanned(napi_env env, const napi_value* argv, size_t argc, size_t fixed, FutureSymbol** out_sym,
                      FfiFutureRaw* f) {
  FutureSymbol* sym = argc < fixed ? nullptr : FutureSymbol::Unwrap(env, argv[0]);
  if (sym == nullptr || sym->plan() == nullptr || sym->stream() != (fixed == kStreamFixed)) {
    ThrowInternal(env, "rustplug internal: a planned start needs a planned symbol of its kind");
    return false;
  }
  if (sym->library()->closed()) {
    napi_throw_error(env, "ERR_PLUGIN_CLOSED", "the library was closed; open it again to call it");
    return false;
  }
  CallFrame frame;
  if (!FillFrame(env, *sym->plan(), argv + fixed, argc - fixed, &frame)) {
    ThrowInternal(env, "rustplug internal: the arguments do not match the symbol's plan");
    return false;
  }
  // JS the plugin runs from here on may close() the library: its code stays mapped until the
  // caller hands this hold to a task or lets it go.
  sym->library()->RetainCode();
  *f = FfiFutureRaw{};  // a function that is not really future-returning leaves it null
  CallFuture(sym->fn(), frame, f);
  *out_sym = sym;
  return true;
}

bool Hub::CallKoffi(napi_env env, const napi_value* argv, size_t argc, size_t fixed, FutureSymbol** out_sym,
                    FfiFutureRaw* f) {
  FutureSymbol* sym = argc < fixed ? nullptr : FutureSymbol::Unwrap(env, argv[0]);
  napi_valuetype t = napi_undefined;
  if (sym == nullptr || sym->stream() != (fixed == kStreamFixed + 1) || napi_typeof(env, argv[1], &t) != napi_ok ||
      t != napi_function) {
    ThrowInternal(env, "rustplug internal: a koffi start needs (sym, raw, ...)");
    return false;
  }
  if (sym->library()->closed()) {
    napi_throw_error(env, "ERR_PLUGIN_CLOSED", "the library was closed; open it again to call it");
    return false;
  }
  napi_value global, ret;
  napi_get_global(env, &global);
  Library* lib = sym->library();
  lib->RetainCode();  // as in CallPlanned
  // A worker termination can land as koffi returns: the future it made is then lost (never
  // dropped). Planned calls have no such window.
  if (napi_call_function(env, global, argv[1], argc - fixed, argv + fixed, &ret) != napi_ok) {
    lib->ReleaseCode();
    return false;
  }
  napi_value fut_v, poll_v, drop_v;
  *f = FfiFutureRaw{};
  if (napi_get_named_property(env, ret, "fut_ptr", &fut_v) != napi_ok || napi_get_named_property(env, ret, "poll_fn", &poll_v) != napi_ok ||
      napi_get_named_property(env, ret, "drop_fn", &drop_v) != napi_ok || !PointerFromJs(env, fut_v, &f->fut_ptr) ||
      !PointerFromJs(env, poll_v, &f->poll_fn) || !PointerFromJs(env, drop_v, &f->drop_fn)) {
    lib->ReleaseCode();
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) ThrowInternal(env, "rustplug internal: koffi returned no FfiFuture");
    return false;
  }
  *out_sym = sym;
  return true;
}

namespace {
// Reads argv with room for `fixed` leading arguments and up to kMaxPlannedArgs more; a koffi
// start may have more, so it reads them all.
std::vector<napi_value> AllArgs(napi_env env, napi_callback_info info, size_t fixed, size_t* argc) {
  *argc = 0;
  napi_get_cb_info(env, info, argc, nullptr, nullptr, nullptr);
  std::vector<napi_value> argv(std::max(*argc, fixed));
  napi_get_cb_info(env, info, argc, argv.data(), nullptr, nullptr);
  return argv;
}
}  // namespace

// The four start entry points differ only in how the plugin is called (planned, or through its
// koffi function, which comes right after the symbol) and in what takes its result over.
template <bool kKoffi, bool kStream>
napi_value Hub::Begin(napi_env env, napi_callback_info info) {
  constexpr size_t kFixed = (kStream ? kStreamFixed : kFutureFixed) + (kKoffi ? 1 : 0);
  FutureSymbol* sym = nullptr;
  FfiFutureRaw f;
  StartArgs a;
  if constexpr (kKoffi) {
    size_t argc;
    std::vector<napi_value> argv = AllArgs(env, info, kFixed, &argc);
    if (!CallKoffi(env, argv.data(), argc, kFixed, &sym, &f)) return nullptr;
    ReadStartArgs(env, argv.data() + 2, &a);
  } else {
    size_t argc = kFixed + kMaxPlannedArgs;
    napi_value argv[kFixed + kMaxPlannedArgs];
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || !CallPlanned(env, argv, argc, kFixed, &sym, &f)) {
      return nullptr;
    }
    ReadStartArgs(env, argv + 1, &a);
  }
  return kStream ? StartStream(env, sym, f, a) : StartFuture(env, sym, f, a);
}

napi_value Hub::Start(napi_env env, napi_callback_info info) { return Begin<false, false>(env, info); }
napi_value Hub::KoffiStart(napi_env env, napi_callback_info info) { return Begin<true, false>(env, info); }
napi_value Hub::StreamStart(napi_env env, napi_callback_info info) { return Begin<false, true>(env, info); }
napi_value Hub::StreamKoffiStart(napi_env env, napi_callback_info info) { return Begin<true, true>(env, info); }

namespace {
bool CheckReturned(napi_env env, FutureSymbol* sym, const FfiFutureRaw& f, const char* what) {
  if (f.poll_fn != nullptr && f.drop_fn != nullptr) return true;
  napi_throw_type_error(env, "ERR_PLUGIN_BAD_DECLARATION",
                        ("the " + std::string(what) + " returned by '" + sym->name() +
                         "' has a null poll function or drop_fn: the symbol probably does not return an " + what +
                         "; check its declared result")
                            .c_str());
  return false;
}
}  // namespace

Task* Hub::Adopt(napi_env env, Task&& t, const StartArgs& a) {
  Task* task = new (std::nothrow) Task(std::move(t));
  if (task == nullptr) return nullptr;
  task->id = next_id_++;
  task->keeps_loop_alive = a.keep_alive;
  task->symbol->Retain();  // the caller's code hold is the task's now
  task->symbol->library()->TaskStarted();
  if (a.keep != nullptr) napi_create_reference(env, a.keep, 1, &task->keep);
  task->cell->task = task;
  pending_.emplace(task->id, task);
  return task;
}

// The caller holds one RetainCode() on the symbol's library: it goes to the pending task, or is
// released once the future has been dropped.
napi_value Hub::StartFuture(napi_env env, FutureSymbol* sym, const FfiFutureRaw& f, const StartArgs& a) {
  Library* lib = sym->library();
  if (!CheckReturned(env, sym, f, "FfiFuture")) {
    lib->ReleaseCode();
    return nullptr;
  }
  WakerCell* cell = WakerCell::Create(queue_);
  if (cell == nullptr) {
    reinterpret_cast<DropFn>(f.drop_fn)(f.fut_ptr);
    lib->ReleaseCode();
    napi_throw_error(env, "ERR_PLUGIN_RUNTIME", "rustplug: out of memory starting a future");
    return nullptr;
  }
  // The first poll runs with the task reachable from close() (starting_), on this stack: JS run
  // by the poll may close the library, and that must cancel this task too.
  Task first;
  first.cell = cell;
  first.fut = f;
  first.symbol = sym;
  starting_.push_back(&first);
  ++polls_;
  FfiContext cx{&cell->base};
  PollResult r = sym->driver().Poll(env, f.poll_fn, f.fut_ptr, &cx);
  // Nested starts (a poll that calls into another future symbol) finish before this one.
  starting_.pop_back();

  if (r.tag != kPollPending) {
    // Settled on the first poll: no promise, no thread hop, no task object.
    const bool cancelled = task_state::FinishDone(cell->state);
    reinterpret_cast<DropFn>(f.drop_fn)(f.fut_ptr);
    cell->Release();
    lib->ReleaseCode();
    ++settled_;
    napi_value reason = cancelled ? TakeCancelReason(&first) : nullptr;
    if (reason != nullptr) {
      napi_throw(env, reason);
      return nullptr;
    }
    if (r.tag == kPollReady && r.error == nullptr) return r.value;
    napi_throw(env, r.error != nullptr ? r.error : MakeSettleError(*sym, r.tag));
    return nullptr;
  }

  napi_deferred deferred = nullptr;
  napi_value promise = nullptr;
  Task* task = nullptr;
  if (napi_create_promise(env, &deferred, &promise) != napi_ok || (task = Adopt(env, std::move(first), a)) == nullptr) {
    // The environment is stopping (a worker termination landed in this call), or out of
    // memory: no JS runs here again, so drop the future now. (A created promise is collected.)
    task_state::Kill(cell->state);
    reinterpret_cast<DropFn>(f.drop_fn)(f.fut_ptr);
    cell->Release();
    lib->ReleaseCode();
    if (first.cancel_reason != nullptr) napi_delete_reference(env, first.cancel_reason);
    ++settled_;
    return nullptr;
  }
  task->deferred = deferred;
  if (a.keep_alive) SetLoopRef(task, true);
  if (a.slot != nullptr) {
    napi_value id;
    napi_create_double(env, static_cast<double>(task->id), &id);
    napi_set_named_property(env, a.slot, "id", id);
  }
  AfterPoll(task, r);  // woken or cancelled during the first poll
  return promise;
}

napi_value Hub::StartStream(napi_env env, FutureSymbol* sym, const FfiFutureRaw& f, const StartArgs& a) {
  Library* lib = sym->library();
  if (!CheckReturned(env, sym, f, "FfiStream")) {
    lib->ReleaseCode();
    return nullptr;
  }
  WakerCell* cell = WakerCell::Create(queue_);
  Task t;
  t.cell = cell;
  t.fut = f;
  t.symbol = sym;
  t.stream = true;
  Task* task = cell == nullptr ? nullptr : Adopt(env, std::move(t), a);
  if (task == nullptr) {
    reinterpret_cast<DropFn>(f.drop_fn)(f.fut_ptr);
    if (cell != nullptr) cell->Release();
    lib->ReleaseCode();
    napi_throw_error(env, "ERR_PLUGIN_RUNTIME", "rustplug: out of memory starting a stream");
    return nullptr;
  }
  task_state::Park(cell->state);  // no waker has been handed out yet: nothing can race this
  ++streams_;
  napi_value id;
  napi_create_double(env, static_cast<double>(task->id), &id);
  return id;
}

napi_value Hub::IterResult(napi_value value, bool done) {
  napi_value out, d;
  napi_create_object(env_, &out);
  if (value == nullptr) napi_get_undefined(env_, &value);
  napi_set_named_property(env_, out, "value", value);
  napi_get_boolean(env_, done, &d);
  napi_set_named_property(env_, out, "done", d);
  return out;
}

void Hub::SetLoopRef(Task* task, bool on) {
  if (task->loop_ref == on) return;
  task->loop_ref = on;
  RefLoop(on);
}

napi_value Hub::StreamNext(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double id = 0;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 ||
      napi_get_value_double(env, argv[0], &id) != napi_ok) {
    ThrowInternal(env, "rustplug internal: streamNext(id)");
    return nullptr;
  }
  auto it = pending_.find(static_cast<uint64_t>(id));
  // Ended, cancelled or closed: the iterator is done.
  if (it == pending_.end() || !it->second->stream) return IterResult(nullptr, true);
  Task* task = it->second;
  if (task->deferred != nullptr) {
    ThrowInternal(env, "rustplug internal: streamNext() while a next() is waiting");
    return nullptr;
  }
  if (!task_state::Demand(task->cell->state)) return IterResult(nullptr, true);
  ++polls_;
  FfiContext cx{&task->cell->base};
  const FutureSymbol& sym = *task->symbol;
  PollResult r = sym.driver().Poll(env, task->fut.poll_fn, task->fut.fut_ptr, &cx);
  if (r.tag == kPollPending) {
    napi_deferred deferred = nullptr;
    napi_value promise = nullptr;
    if (napi_create_promise(env, &deferred, &promise) != napi_ok) {
      // Stopping environment: the stream is dropped at teardown; nothing to return.
      task_state::FinishPending(task->cell->state);
      return nullptr;
    }
    task->deferred = deferred;
    if (task->keeps_loop_alive) SetLoopRef(task, true);
    AfterPoll(task, r);
    return promise;
  }
  // Settled inside this call: no promise. The task's outcome is returned (or thrown) here.
  const bool item = r.tag == kPollReady && !r.end;
  bool cancelled;
  if (item) {
    switch (task_state::FinishPending(task->cell->state)) {
      case task_state::AfterPending::kReschedule:
        queue_->Push(task->cell);
        [[fallthrough]];
      case task_state::AfterPending::kIdle:
        ++items_;
        return IterResult(r.value, false);
      case task_state::AfterPending::kCancel:
        break;
    }
    cancelled = true;
  } else {
    cancelled = task_state::FinishDone(task->cell->state);
  }
  // The stream is over: dropped here, whatever ended it.
  const bool done_on_cancel = task->cancel_done;
  napi_value reason = cancelled ? TakeCancelReason(task) : nullptr;
  napi_value error = r.error;
  if (!cancelled && r.tag != kPollReady && error == nullptr) error = MakeSettleError(sym, r.tag);
  pending_.erase(task->id);
  Free(task);
  ++settled_;
  if (cancelled) {
    if (done_on_cancel) return IterResult(nullptr, true);
    napi_throw(env, reason);
    return nullptr;
  }
  if (error != nullptr) {
    napi_throw(env, error);
    return nullptr;
  }
  return IterResult(nullptr, true);  // Ready(None)
}

// ---------------------------------------------------------------------------------------------
// Polling

void Hub::OnAsync(uv_async_t* handle) { static_cast<Hub*>(handle->data)->Drain(); }

void Hub::Drain() {
  ++drains_;
  // Everything queued so far joins the batch (after what a cut-short slice left), so no wake
  // waits for a signal it already spent.
  queue_->TakeAll(batch_);
  if (batch_.empty()) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env_, &scope) != napi_ok) return;
  napi_value resource = nullptr;
  napi_get_reference_value(env_, resource_, &resource);
  // A callback scope, so promise reactions and nextTicks run when the slice is done.
  napi_callback_scope cb_scope = nullptr;
  const bool have_cb_scope = napi_open_callback_scope(env_, resource, async_context_, &cb_scope) == napi_ok;
  // A bounded slice per loop iteration: a flood of wakes must not keep timers and I/O waiting.
  for (size_t n = 0; n < kPollsPerDrain; ++n) {
    WakerCell* cell = batch_.pop();
    if (cell == nullptr) break;
    PollQueued(cell);
    cell->Release();  // the ready queue's reference
  }
  if (!batch_.empty()) queue_->SignalSelf();
  if (have_cb_scope) napi_close_callback_scope(env_, cb_scope);
  napi_close_handle_scope(env_, scope);
}

void Hub::PollQueued(WakerCell* cell) {
  if (task_state::TakeForPoll(cell->state) == task_state::Take::kSkip) return;
  Task* task = cell->task;  // alive: only the poller frees a running task
  if (task->stream && task->deferred == nullptr) {
    // Nobody is asking for an item: pull-based, so no poll; the next next() polls anyway.
    AfterPoll(task, PollResult{kPollPending});
    return;
  }
  napi_handle_scope inner;
  if (napi_open_handle_scope(env_, &inner) != napi_ok) return;
  ++polls_;
  FfiContext cx{&cell->base};
  const FutureSymbol& sym = *task->symbol;
  PollResult r = sym.driver().Poll(env_, task->fut.poll_fn, task->fut.fut_ptr, &cx);
  AfterPoll(task, r);
  napi_close_handle_scope(env_, inner);
}

void Hub::AfterPoll(Task* task, const PollResult& r) {
  WakerCell* cell = task->cell;
  const bool item = task->stream && r.tag == kPollReady && !r.end;
  if (r.tag == kPollPending || item) {
    switch (task_state::FinishPending(cell->state)) {
      case task_state::AfterPending::kIdle:
        break;
      case task_state::AfterPending::kReschedule:
        queue_->Push(cell);  // woken during the poll: poll once more
        break;
      case task_state::AfterPending::kCancel:
        CompleteCancelled(task);  // an item polled out of a cancelled stream is discarded
        return;
    }
    if (item) Deliver(task, r.value);
    return;
  }
  if (task_state::FinishDone(cell->state)) {
    CompleteCancelled(task);  // the cancel came first
  } else if (task->stream && r.tag == kPollReady) {
    Complete(task, kPollReady, IterResult(nullptr, true), nullptr);  // Ready(None)
  } else {
    Complete(task, r.tag, r.value, r.error);
  }
}

void Hub::Deliver(Task* task, napi_value item) {
  napi_deferred deferred = task->deferred;
  task->deferred = nullptr;
  SetLoopRef(task, false);
  ++items_;
  if (deferred != nullptr) napi_resolve_deferred(env_, deferred, IterResult(item, false));
}

void Hub::CompleteCancelled(Task* task) {
  const bool done = task->stream && task->cancel_done;
  napi_value reason = TakeCancelReason(task);
  if (done) {
    Complete(task, kPollReady, IterResult(nullptr, true), nullptr);
  } else {
    Complete(task, kPollPanicked, nullptr, reason);
  }
}

// ---------------------------------------------------------------------------------------------
// Settling and cancelling

napi_value Hub::MakeSettleError(const FutureSymbol& sym, uint8_t tag) {
  napi_value err = nullptr;
  if (make_error_ != nullptr) {
    napi_value fn, global, args[2];
    napi_get_reference_value(env_, make_error_, &fn);
    napi_get_global(env_, &global);
    napi_create_string_utf8(env_, sym.name().c_str(), sym.name().size(), &args[0]);
    napi_create_uint32(env_, tag, &args[1]);
    if (napi_call_function(env_, global, fn, 2, args, &err) == napi_ok) return err;
    napi_get_and_clear_last_exception(env_, &err);
    if (err != nullptr) return err;
  }
  napi_value msg;
  napi_create_string_utf8(env_, "a plugin future failed", NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env_, nullptr, msg, &err);
  return err;
}

napi_value Hub::TakeCancelReason(Task* task) {
  napi_value reason = nullptr;
  if (task->cancel_reason != nullptr) {
    napi_get_reference_value(env_, task->cancel_reason, &reason);
    napi_delete_reference(env_, task->cancel_reason);
    task->cancel_reason = nullptr;
  }
  if (reason == nullptr) napi_get_undefined(env_, &reason);
  return reason;
}

void Hub::Free(Task* task) {
  task->cell->task = nullptr;
  // drop_fn runs exactly once per future: here, for a task that already left pending_. It may
  // run JS; nothing can reach this task any more.
  reinterpret_cast<DropFn>(task->fut.drop_fn)(task->fut.fut_ptr);
  task->cell->Release();
  if (task->keep != nullptr) napi_delete_reference(env_, task->keep);
  if (task->cancel_reason != nullptr) napi_delete_reference(env_, task->cancel_reason);
  SetLoopRef(task, false);
  if (task->stream) --streams_;
  // Last: this may dlclose the library, after which none of its code may run.
  Library* lib = task->symbol->library();
  lib->Retain();
  task->symbol->Release(env_);
  lib->ReleaseCode();
  if (lib->TaskEnded()) {
    std::vector<napi_deferred> waiters;
    waiters.swap(lib->idle_waiters());
    for (napi_deferred d : waiters) napi_resolve_deferred(env_, d, Undefined(env_));
  }
  lib->Release();
  delete task;
}

void Hub::Complete(Task* task, uint8_t tag, napi_value value, napi_value error) {
  pending_.erase(task->id);
  napi_deferred deferred = task->deferred;
  const FutureSymbol* sym = task->symbol;
  if (tag != kPollReady && error == nullptr) error = MakeSettleError(*sym, tag);  // before the symbol may go
  Free(task);
  ++settled_;
  if (deferred == nullptr) return;  // a stream nobody was waiting on
  if (tag == kPollReady && error == nullptr) {
    napi_resolve_deferred(env_, deferred, value);
  } else {
    napi_reject_deferred(env_, deferred, error);
  }
}

void Hub::CancelTask(Task* task, napi_value reason, bool done) {
  switch (task_state::Cancel(task->cell->state)) {
    case task_state::CancelNow::kDrop:
      if (done && task->stream) {
        Complete(task, kPollReady, IterResult(nullptr, true), nullptr);
      } else {
        Complete(task, kPollPanicked, nullptr, reason);
      }
      break;
    case task_state::CancelNow::kDeferred:
      // The first cancel's reason wins; its poller settles the task when poll_fn returns.
      if (task->cancel_reason == nullptr) {
        napi_create_reference(env_, reason, 1, &task->cancel_reason);
        task->cancel_done = done;
      }
      break;
    case task_state::CancelNow::kAlreadyDone:
      break;
  }
}

napi_value Hub::Cancel(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  double id = 0;
  bool found = false;
  bool done = false;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok && argc >= 2 &&
      napi_get_value_double(env, argv[0], &id) == napi_ok) {
    if (argc >= 3) napi_get_value_bool(env, argv[2], &done);
    auto it = pending_.find(static_cast<uint64_t>(id));
    if (it != pending_.end()) {
      found = true;
      CancelTask(it->second, argv[1], done);  // rejects with the caller's reason
    }
  }
  napi_get_boolean(env, found, &result);
  return result;
}

napi_value Hub::CloseLibrary(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  Library* lib = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 2 ||
      (lib = Library::Unwrap(env, argv[0])) == nullptr) {
    ThrowInternal(env, "rustplug internal: libraryClose(lib, reason)");
    return nullptr;
  }
  if (lib->closed()) {
    napi_create_uint32(env, 0, &result);
    return result;
  }
  // Ids, not pointers: each cancel may drop a future whose drop_fn runs JS that settles others.
  std::vector<uint64_t> ids;
  for (auto& entry : pending_) {
    if (entry.second->symbol->library() == lib) ids.push_back(entry.first);
  }
  uint32_t cancelled = 0;
  for (uint64_t id : ids) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    CancelTask(it->second, argv[1]);
    ++cancelled;
  }
  // Tasks in their first poll further up this stack: cancelled when that poll returns.
  for (size_t i = 0; i < starting_.size(); ++i) {
    Task* t = starting_[i];
    if (t->symbol->library() != lib) continue;
    CancelTask(t, argv[1]);
    ++cancelled;
  }
  lib->MarkClosed();
  napi_create_uint32(env, cancelled, &result);
  return result;
}

napi_value Hub::LibraryTasks(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  Library* lib = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 ||
      (lib = Library::Unwrap(env, argv[0])) == nullptr) {
    ThrowInternal(env, "rustplug internal: libraryTasks(lib)");
    return nullptr;
  }
  napi_create_uint32(env, lib->tasks(), &out);
  return out;
}

napi_value Hub::LibraryIdle(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], promise;
  Library* lib = nullptr;
  napi_deferred deferred;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 ||
      (lib = Library::Unwrap(env, argv[0])) == nullptr) {
    ThrowInternal(env, "rustplug internal: libraryIdle(lib)");
    return nullptr;
  }
  if (napi_create_promise(env, &deferred, &promise) != napi_ok) return nullptr;
  if (lib->tasks() == 0) {
    napi_resolve_deferred(env, deferred, Undefined(env));
  } else {
    lib->idle_waiters().push_back(deferred);  // settled by Free() when the last task ends
  }
  return promise;
}

napi_value Hub::Stats(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_object(env, &out);
  auto set = [&](const char* key, double v) {
    napi_value n;
    napi_create_double(env, v, &n);
    napi_set_named_property(env, out, key, n);
  };
  set("pending", static_cast<double>(pending_.size() - streams_));
  set("streams", static_cast<double>(streams_));
  set("streamItems", static_cast<double>(items_));
  set("starting", static_cast<double>(starting_.size()));
  set("wakerCells", static_cast<double>(queue_->cells_alive.load()));
  set("wakerClones", static_cast<double>(queue_->waker_clones.load()));
  set("saturatedCells", static_cast<double>(queue_->saturated_cells.load()));
  set("wakes", static_cast<double>(queue_->wakes.load()));
  set("signals", static_cast<double>(queue_->signals.load()));
  set("drains", static_cast<double>(drains_));
  set("polls", static_cast<double>(polls_));
  set("settled", static_cast<double>(settled_));
  set("loopRefs", static_cast<double>(loop_refs_));
  // Native bytes a pending future costs the host: its task, its waker cell and its map node.
  set("bytesPerPending", static_cast<double>(sizeof(Task) + sizeof(WakerCell) + 2 * sizeof(void*) +
                                             sizeof(std::pair<const uint64_t, Task*>) + sizeof(void*)));
  return out;
}

}  // namespace rustplug
