#include "hub.h"

#include <algorithm>
#include <new>

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

// koffi hands pointers back as bigints (null for a null pointer).
bool ReadPointer(napi_env env, napi_value v, void** out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_null) {
    *out = nullptr;
    return true;
  }
  uint64_t u = 0;
  bool lossless = false;
  if (t != napi_bigint || napi_get_value_bigint_uint64(env, v, &u, &lossless) != napi_ok || !lossless) return false;
  *out = reinterpret_cast<void*>(static_cast<uintptr_t>(u));
  return true;
}

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

napi_value Hub::Start(napi_env env, napi_callback_info info) {
  constexpr size_t kFixed = 4;
  size_t argc = kFixed + kMaxPlannedArgs;
  napi_value argv[kFixed + kMaxPlannedArgs];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < kFixed) {
    ThrowInternal(env, "rustplug internal: futureStart(sym, ref, keep, slot, ...args)");
    return nullptr;
  }
  FutureSymbol* sym = FutureSymbol::Unwrap(env, argv[0]);
  if (sym == nullptr || sym->plan() == nullptr) {
    ThrowInternal(env, "rustplug internal: futureStart() needs a planned future symbol");
    return nullptr;
  }
  if (sym->library()->closed()) {
    napi_throw_error(env, "ERR_PLUGIN_CLOSED", "the library was closed; open it again to call it");
    return nullptr;
  }
  CallFrame frame;
  if (!FillFrame(env, *sym->plan(), argv + kFixed, argc - kFixed, &frame)) {
    ThrowInternal(env, "rustplug internal: futureStart() arguments do not match the symbol's plan");
    return nullptr;
  }
  StartArgs a;
  ReadStartArgs(env, argv + 1, &a);
  FfiFutureRaw f{};  // a function that is not really future-returning leaves it null
  // JS the plugin runs from here on may close() the library: its code stays mapped until
  // StartFuture hands this hold to the task or lets it go.
  sym->library()->RetainCode();
  CallFuture(sym->fn(), frame, &f);
  return StartFuture(env, sym, f, a);
}

napi_value Hub::KoffiStart(napi_env env, napi_callback_info info) {
  constexpr size_t kFixed = 5;
  size_t argc = 0;
  if (napi_get_cb_info(env, info, &argc, nullptr, nullptr, nullptr) != napi_ok) return nullptr;
  std::vector<napi_value> argv(std::max(argc, kFixed));
  napi_get_cb_info(env, info, &argc, argv.data(), nullptr, nullptr);
  FutureSymbol* sym = argc < kFixed ? nullptr : FutureSymbol::Unwrap(env, argv[0]);
  napi_valuetype t = napi_undefined;
  if (sym == nullptr || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    ThrowInternal(env, "rustplug internal: futureKoffiStart(sym, raw, ref, keep, slot, ...args)");
    return nullptr;
  }
  if (sym->library()->closed()) {
    napi_throw_error(env, "ERR_PLUGIN_CLOSED", "the library was closed; open it again to call it");
    return nullptr;
  }
  StartArgs a;
  ReadStartArgs(env, argv.data() + 2, &a);
  napi_value global, ret;
  napi_get_global(env, &global);
  Library* lib = sym->library();
  lib->RetainCode();  // as in Start(): held across the call, then handed to StartFuture
  // A worker termination can land as koffi returns: the future it made is then lost (never
  // dropped). Planned calls (futureStart) have no such window.
  if (napi_call_function(env, global, argv[1], argc - kFixed, argv.data() + kFixed, &ret) != napi_ok) {
    lib->ReleaseCode();
    return nullptr;
  }
  napi_value fut_v, poll_v, drop_v;
  FfiFutureRaw f{};
  if (napi_get_named_property(env, ret, "fut_ptr", &fut_v) != napi_ok || napi_get_named_property(env, ret, "poll_fn", &poll_v) != napi_ok ||
      napi_get_named_property(env, ret, "drop_fn", &drop_v) != napi_ok || !ReadPointer(env, fut_v, &f.fut_ptr) ||
      !ReadPointer(env, poll_v, &f.poll_fn) || !ReadPointer(env, drop_v, &f.drop_fn)) {
    lib->ReleaseCode();
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) ThrowInternal(env, "rustplug internal: koffi returned no FfiFuture");
    return nullptr;
  }
  return StartFuture(env, sym, f, a);
}

// The caller holds one RetainCode() on the symbol's library: it goes to the pending task, or is
// released once the future has been dropped.
napi_value Hub::StartFuture(napi_env env, FutureSymbol* sym, const FfiFutureRaw& f, const StartArgs& a) {
  Library* lib = sym->library();
  if (f.poll_fn == nullptr || f.drop_fn == nullptr) {
    lib->ReleaseCode();
    napi_throw_type_error(env, "ERR_PLUGIN_BAD_DECLARATION",
                          ("the FfiFuture returned by '" + sym->name() +
                           "' has a null poll_fn or drop_fn: the symbol probably does not return an FfiFuture; check its declared result")
                              .c_str());
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
  Task* task = new (std::nothrow) Task(first);
  if (task == nullptr || napi_create_promise(env, &deferred, &promise) != napi_ok) {
    // Out of memory, or the environment is stopping (a worker termination landed in this
    // call): no JS runs here again, so drop the future now.
    delete task;
    task_state::Kill(cell->state);
    reinterpret_cast<DropFn>(f.drop_fn)(f.fut_ptr);
    cell->Release();
    lib->ReleaseCode();
    if (first.cancel_reason != nullptr) napi_delete_reference(env, first.cancel_reason);
    ++settled_;
    return nullptr;
  }
  task->id = next_id_++;
  task->deferred = deferred;
  task->keeps_loop_alive = a.keep_alive;
  sym->Retain();  // the caller's code hold is the task's now
  if (a.keep != nullptr) napi_create_reference(env, a.keep, 1, &task->keep);
  cell->task = task;
  pending_.emplace(task->id, task);
  if (a.keep_alive) RefLoop(true);
  if (a.slot != nullptr) {
    napi_value id;
    napi_create_double(env, static_cast<double>(task->id), &id);
    napi_set_named_property(env, a.slot, "id", id);
  }
  switch (task_state::FinishPending(cell->state)) {
    case task_state::AfterPending::kIdle:
      break;
    case task_state::AfterPending::kReschedule:
      queue_->Push(cell);  // woken during the first poll: poll once more
      break;
    case task_state::AfterPending::kCancel:
      Complete(task, kPollPanicked, nullptr, TakeCancelReason(task));
      break;
  }
  return promise;
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
  napi_handle_scope inner;
  if (napi_open_handle_scope(env_, &inner) != napi_ok) return;
  ++polls_;
  FfiContext cx{&cell->base};
  const FutureSymbol& sym = *task->symbol;
  PollResult r = sym.driver().Poll(env_, task->fut.poll_fn, task->fut.fut_ptr, &cx);
  if (r.tag == kPollPending) {
    switch (task_state::FinishPending(cell->state)) {
      case task_state::AfterPending::kIdle:
        break;
      case task_state::AfterPending::kReschedule:
        queue_->Push(cell);
        break;
      case task_state::AfterPending::kCancel:
        Complete(task, kPollPanicked, nullptr, TakeCancelReason(task));
        break;
    }
  } else if (task_state::FinishDone(cell->state)) {
    Complete(task, kPollPanicked, nullptr, TakeCancelReason(task));  // the cancel came first
  } else {
    Complete(task, r.tag, r.value, r.error);
  }
  napi_close_handle_scope(env_, inner);
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
  if (task->keeps_loop_alive) RefLoop(false);
  // Last: this may dlclose the library, after which none of its code may run.
  Library* lib = task->symbol->library();
  lib->Retain();
  task->symbol->Release(env_);
  lib->ReleaseCode();
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
  if (tag == kPollReady && error == nullptr) {
    napi_resolve_deferred(env_, deferred, value);
  } else {
    napi_reject_deferred(env_, deferred, error);
  }
}

void Hub::CancelTask(Task* task, napi_value reason) {
  switch (task_state::Cancel(task->cell->state)) {
    case task_state::CancelNow::kDrop:
      Complete(task, kPollPanicked, nullptr, reason);
      break;
    case task_state::CancelNow::kDeferred:
      // The first cancel's reason wins; its poller settles the task when poll_fn returns.
      if (task->cancel_reason == nullptr) napi_create_reference(env_, reason, 1, &task->cancel_reason);
      break;
    case task_state::CancelNow::kAlreadyDone:
      break;
  }
}

napi_value Hub::Cancel(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  double id = 0;
  bool found = false;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok && argc >= 2 &&
      napi_get_value_double(env, argv[0], &id) == napi_ok) {
    auto it = pending_.find(static_cast<uint64_t>(id));
    if (it != pending_.end()) {
      found = true;
      CancelTask(it->second, argv[1]);  // rejects with the caller's reason
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

napi_value Hub::Stats(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_object(env, &out);
  auto set = [&](const char* key, double v) {
    napi_value n;
    napi_create_double(env, v, &n);
    napi_set_named_property(env, out, key, n);
  };
  set("pending", static_cast<double>(pending_.size()));
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
