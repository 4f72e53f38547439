#include "hub.h"

#include "future_call.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace rustplug {

// ---------------------------------------------------------------------------------------------
// HubCore: the cross-thread half.

void HubCore::Enqueue(WakerCell* cell) {
  std::lock_guard<std::mutex> lock(mu_);
  if (async_ == nullptr) return;  // environment gone: the wake has nobody to reach
  cell->Retain();
  const bool first = ready_.empty();
  ready_.push_back(cell);
  // One signal per batch: the JS thread takes the whole list when it runs.
  if (first) {
    signals.fetch_add(1, std::memory_order_relaxed);
    uv_async_send(async_);
  }
}

void HubCore::TakeReady(std::vector<WakerCell*>& out) {
  std::lock_guard<std::mutex> lock(mu_);
  out.swap(ready_);
}

void HubCore::Detach(std::vector<WakerCell*>& leftover) {
  std::lock_guard<std::mutex> lock(mu_);
  async_ = nullptr;
  leftover.swap(ready_);
}

// ---------------------------------------------------------------------------------------------
// Hub: the JS-thread half.

namespace {

struct InstanceData {
  Hub* hub = nullptr;
};

void FinalizeInstance(napi_env, void* data, void*) { delete static_cast<InstanceData*>(data); }

constexpr double kMaxSafeInteger = 9007199254740991.0;

napi_value Int64ToJs(napi_env env, int64_t v) {
  napi_value out;
  if (v >= -static_cast<int64_t>(kMaxSafeInteger) && v <= static_cast<int64_t>(kMaxSafeInteger)) {
    napi_create_double(env, static_cast<double>(v), &out);
  } else {
    napi_create_bigint_int64(env, v, &out);
  }
  return out;
}

napi_value Uint64ToJs(napi_env env, uint64_t v) {
  napi_value out;
  if (v <= static_cast<uint64_t>(kMaxSafeInteger)) {
    napi_create_double(env, static_cast<double>(v), &out);
  } else {
    napi_create_bigint_uint64(env, v, &out);
  }
  return out;
}

napi_value PointerToJs(napi_env env, void* p) {
  napi_value out;
  if (p == nullptr) {
    napi_get_null(env, &out);
  } else {
    napi_create_bigint_uint64(env, reinterpret_cast<uintptr_t>(p), &out);
  }
  return out;
}

napi_value NumberToJs(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

template <typename T>
uint8_t CallPoll(void* poll_fn, void* fut_ptr, FfiContext* cx, T* out) {
  FfiPoll<T> r = reinterpret_cast<PollFn<T>>(poll_fn)(fut_ptr, cx);
  if (r.tag == kPollReady) *out = r.value;
  return r.tag;
}

// Pointers arrive from koffi as numbers (u64 fields below 2^53) or bigints.
bool ReadAddress(napi_env env, napi_value v, uintptr_t* out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_number) {
    double d;
    napi_get_value_double(env, v, &d);
    if (!(d >= 0) || d > kMaxSafeInteger || std::floor(d) != d) return false;
    *out = static_cast<uintptr_t>(d);
    return true;
  }
  if (t == napi_bigint) {
    uint64_t u;
    bool lossless;
    napi_get_value_bigint_uint64(env, v, &u, &lossless);
    if (!lossless) return false;
    *out = static_cast<uintptr_t>(u);
    return true;
  }
  return false;
}

napi_value Undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

}  // namespace

Hub* Hub::Of(napi_env env) {
  InstanceData* data = nullptr;
  napi_get_instance_data(env, reinterpret_cast<void**>(&data));
  if (data == nullptr) {
    data = new InstanceData();
    napi_set_instance_data(env, data, FinalizeInstance, nullptr);
  }
  if (data->hub == nullptr) data->hub = new Hub(env);
  return data->hub;
}

Hub::Hub(napi_env env) : env_(env) {
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  async_ = new uv_async_t;
  uv_async_init(loop, async_, OnAsync);
  async_->data = this;
  // No pending future, no reason to keep the process alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(async_));
  core_ = new HubCore(async_);

  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &resource_);
  napi_create_string_utf8(env, "rustplug:future", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &async_context_);
  napi_add_async_cleanup_hook(env, OnTeardown, this, &cleanup_);
}

Hub::~Hub() = default;

void Hub::RefLoop(bool add) {
  if (add) {
    if (loop_refs_++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(async_));
  } else {
    if (--loop_refs_ == 0) uv_unref(reinterpret_cast<uv_handle_t*>(async_));
  }
}

uint8_t Hub::PollOnce(ResultKind kind, void* poll_fn, void* fut_ptr, WakerCell* cell, napi_value js_poll,
                      napi_value* value, napi_value* error) {
  ++polls_;
  FfiContext cx{&cell->base};  // borrowed by the plugin for this call only
  napi_env env = env_;
  uint8_t tag;
  switch (kind) {
    case kVoid: {
      tag = reinterpret_cast<PollUnitFn>(poll_fn)(fut_ptr, &cx).tag;
      if (tag == kPollReady) *value = Undefined(env);
      return tag;
    }
    case kBool: {
      uint8_t v;
      tag = CallPoll<uint8_t>(poll_fn, fut_ptr, &cx, &v);
      if (tag == kPollReady) napi_get_boolean(env, v != 0, value);
      return tag;
    }
#define RUSTPLUG_NUMBER_KIND(KIND, CTYPE)                         \
  case KIND: {                                                    \
    CTYPE v;                                                      \
    tag = CallPoll<CTYPE>(poll_fn, fut_ptr, &cx, &v);             \
    if (tag == kPollReady) *value = NumberToJs(env, static_cast<double>(v)); \
    return tag;                                                   \
  }
      RUSTPLUG_NUMBER_KIND(kI8, int8_t)
      RUSTPLUG_NUMBER_KIND(kU8, uint8_t)
      RUSTPLUG_NUMBER_KIND(kI16, int16_t)
      RUSTPLUG_NUMBER_KIND(kU16, uint16_t)
      RUSTPLUG_NUMBER_KIND(kI32, int32_t)
      RUSTPLUG_NUMBER_KIND(kU32, uint32_t)
      RUSTPLUG_NUMBER_KIND(kF32, float)
      RUSTPLUG_NUMBER_KIND(kF64, double)
#undef RUSTPLUG_NUMBER_KIND
    case kI64: {
      int64_t v;
      tag = CallPoll<int64_t>(poll_fn, fut_ptr, &cx, &v);
      if (tag == kPollReady) *value = Int64ToJs(env, v);
      return tag;
    }
    case kU64: {
      uint64_t v;
      tag = CallPoll<uint64_t>(poll_fn, fut_ptr, &cx, &v);
      if (tag == kPollReady) *value = Uint64ToJs(env, v);
      return tag;
    }
    case kPointer: {
      void* v;
      tag = CallPoll<void*>(poll_fn, fut_ptr, &cx, &v);
      if (tag == kPollReady) *value = PointerToJs(env, v);
      return tag;
    }
    case kJs: {
      // koffi performs the call with the struct result type; we get {tag, value} back.
      napi_value cx_addr, global, result, tag_v;
      napi_create_bigint_uint64(env, reinterpret_cast<uintptr_t>(&cx), &cx_addr);
      napi_get_global(env, &global);
      if (napi_call_function(env, global, js_poll, 1, &cx_addr, &result) != napi_ok) {
        napi_get_and_clear_last_exception(env, error);
        return kPollPanicked;
      }
      uint32_t t = kPollPanicked;
      if (napi_get_named_property(env, result, "tag", &tag_v) == napi_ok) napi_get_value_uint32(env, tag_v, &t);
      if (t == kPollReady) napi_get_named_property(env, result, "value", value);
      return static_cast<uint8_t>(t);
    }
    default:
      return 0xff;
  }
}

napi_value Hub::MakeSettleError(uint32_t symbol_id, uint8_t tag) {
  napi_value err = nullptr;
  if (make_error_ != nullptr) {
    napi_value fn, global, args[2];
    napi_get_reference_value(env_, make_error_, &fn);
    napi_get_global(env_, &global);
    napi_create_uint32(env_, symbol_id, &args[0]);
    napi_create_uint32(env_, tag, &args[1]);
    if (napi_call_function(env_, global, fn, 2, args, &err) == napi_ok) return err;
    napi_get_and_clear_last_exception(env_, &err);
    return err;
  }
  napi_value msg;
  napi_create_string_utf8(env_, "a plugin future panicked", NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env_, nullptr, msg, &err);
  return err;
}

void Hub::Forget(Task* task) {
  // drop_fn runs exactly once per future: here, and only for a task that left pending_.
  task->drop_fn(task->fut_ptr);
  task->cell->task = nullptr;
  task->cell->Release();
  if (task->js_poll != nullptr) napi_delete_reference(env_, task->js_poll);
  if (task->keep != nullptr) napi_delete_reference(env_, task->keep);
  if (task->keeps_loop_alive) RefLoop(false);
  delete task;
}

void Hub::Settle(Task* task, uint8_t tag, napi_value value, napi_value error) {
  pending_.erase(task->id);
  napi_deferred deferred = task->deferred;
  const uint32_t symbol_id = task->symbol_id;
  Forget(task);
  ++settled_;
  if (tag == kPollReady && error == nullptr) {
    napi_resolve_deferred(env_, deferred, value);
  } else {
    napi_reject_deferred(env_, deferred, error != nullptr ? error : MakeSettleError(symbol_id, tag));
  }
}

void Hub::OnAsync(uv_async_t* handle) { static_cast<Hub*>(handle->data)->Drain(); }

void Hub::Drain() {
  ++drains_;
  const bool continuing = batch_pos_ < batch_.size();
  if (!continuing) {
    batch_.clear();
    batch_pos_ = 0;
    core_->TakeReady(batch_);
    if (batch_.empty()) return;
  }
  napi_handle_scope scope;
  napi_open_handle_scope(env_, &scope);
  napi_value resource;
  napi_get_reference_value(env_, resource_, &resource);
  // A callback scope, so promise reactions and nextTicks run when the batch is done.
  napi_callback_scope cb_scope;
  napi_open_callback_scope(env_, resource, async_context_, &cb_scope);
  // A bounded slice per loop iteration: a flood of wakes must not keep timers and I/O waiting.
  const size_t end = std::min(batch_.size(), batch_pos_ + kPollsPerDrain);
  for (; batch_pos_ < end; ++batch_pos_) {
    WakerCell* cell = batch_[batch_pos_];
    // Cleared before polling: a wake during this poll re-queues the cell for exactly one more poll.
    cell->queued.store(false, std::memory_order_release);
    Task* task = cell->task;
    if (task != nullptr) {
      napi_handle_scope inner;
      napi_open_handle_scope(env_, &inner);
      napi_value js_poll = nullptr, value = nullptr, error = nullptr;
      if (task->js_poll != nullptr) napi_get_reference_value(env_, task->js_poll, &js_poll);
      uint8_t tag = PollOnce(task->kind, task->poll_fn, task->fut_ptr, cell, js_poll, &value, &error);
      if (tag != kPollPending) {
        if (tag > kPollPanicked) error = MakeSettleError(task->symbol_id, tag);
        Settle(task, tag, value, error);
      }
      napi_close_handle_scope(env_, inner);
    }
    cell->Release();  // the ready list's reference
  }
  // The rest of the batch waits for the next loop iteration (the signal is to ourselves). After
  // finishing a continued batch, come back once more for the wakes that queued meanwhile: their
  // signal was spent on this slice.
  if (batch_pos_ < batch_.size() || continuing) uv_async_send(async_);
  napi_close_callback_scope(env_, cb_scope);
  napi_close_handle_scope(env_, scope);
}

napi_value Hub::Setup(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (make_error_ != nullptr) napi_delete_reference(env, make_error_);
  napi_create_reference(env, argv[0], 1, &make_error_);
  return Undefined(env);
}

// The arguments both entry points share, from `argv[0]` on:
//   kind, symbolId, ref, jsPoll, keep, cancelSlot, group
bool Hub::ReadStartOptions(napi_env env, const napi_value* argv, size_t argc, StartOptions* o) {
  if (argc < 3 || napi_get_value_uint32(env, argv[0], &o->kind) != napi_ok || o->kind >= kResultKindCount ||
      napi_get_value_uint32(env, argv[1], &o->symbol_id) != napi_ok ||
      napi_get_value_bool(env, argv[2], &o->keep_alive) != napi_ok) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: bad future start arguments");
    return false;
  }
  auto present = [&](size_t i, napi_valuetype want) {
    if (i >= argc) return false;
    napi_valuetype t;
    napi_typeof(env, argv[i], &t);
    return want == napi_undefined ? (t != napi_undefined && t != napi_null) : t == want;
  };
  o->js_poll = present(3, napi_function) ? argv[3] : nullptr;
  o->keep = present(4, napi_undefined) ? argv[4] : nullptr;
  o->slot = present(5, napi_object) ? argv[5] : nullptr;
  if (argc > 6) napi_get_value_uint32(env, argv[6], &o->group);
  if (o->kind == kJs && o->js_poll == nullptr) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: struct future without jsPoll");
    return false;
  }
  return true;
}

// callStart(fn, kind, symbolId, ref, jsPollFactory, keep, cancelSlot, group, signature, ...args):
// calls the plugin function and takes its future over in one native call.
napi_value Hub::CallStart(napi_env env, napi_callback_info info) {
  constexpr size_t kFixed = 9;
  size_t argc = kFixed + kMaxCallArgs;
  napi_value argv[kFixed + kMaxCallArgs];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint64_t fn = 0;
  uint32_t signature = 0;
  bool lossless = false;
  StartOptions o;
  if (argc < kFixed || napi_get_value_bigint_uint64(env, argv[0], &fn, &lossless) != napi_ok || fn == 0 ||
      napi_get_value_uint32(env, argv[8], &signature) != napi_ok) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: bad arguments to callStart()");
    return nullptr;
  }
  if (!ReadStartOptions(env, argv + 1, 7, &o)) return nullptr;
  FfiFutureRaw f;
  if (!CallFutureFunction(env, reinterpret_cast<void*>(static_cast<uintptr_t>(fn)), signature, argv + kFixed,
                          argc - kFixed, &f)) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: callStart() arguments do not fit registers");
    return nullptr;
  }
  if (o.js_poll != nullptr) {  // struct results only: no JS values on the scalar hot path
    napi_value poll_v, fut_v;
    napi_create_double(env, static_cast<double>(reinterpret_cast<uintptr_t>(f.poll_fn)), &poll_v);
    napi_create_double(env, static_cast<double>(reinterpret_cast<uintptr_t>(f.fut_ptr)), &fut_v);
    if (!ResolveJsPoll(env, f, poll_v, fut_v, &o)) return nullptr;
  }
  return StartFuture(env, f, o);
}

// For struct results the option holds a factory: (poll_fn, fut_ptr) => this future's JS poll.
// If it fails (a termination landed in it) the future is ours already and is dropped here.
bool Hub::ResolveJsPoll(napi_env env, const FfiFutureRaw& f, napi_value poll_v, napi_value fut_v, StartOptions* o) {
  if (o->js_poll == nullptr) return true;
  napi_value global, js_poll, factory_args[2] = {poll_v, fut_v};
  napi_get_global(env, &global);
  if (napi_call_function(env, global, o->js_poll, 2, factory_args, &js_poll) != napi_ok) {
    if (f.drop_fn != nullptr) reinterpret_cast<DropFn>(f.drop_fn)(f.fut_ptr);
    return false;
  }
  o->js_poll = js_poll;
  return true;
}

// koffiStart(rawFn, kind, symbolId, ref, jsPollFactory, keep, cancelSlot, group, ...args): for
// signatures callStart cannot make (structs by value, more arguments than registers), through
// the symbol's koffi function. A worker termination can still land between koffi returning the
// future and this function reading it (V8 checks for termination when the call returns); the
// future is then never dropped.
napi_value Hub::KoffiStart(napi_env env, napi_callback_info info) {
  constexpr size_t kFixed = 8;
  size_t argc = 0;
  napi_get_cb_info(env, info, &argc, nullptr, nullptr, nullptr);
  std::vector<napi_value> argv(argc < kFixed ? kFixed : argc);
  napi_get_cb_info(env, info, &argc, argv.data(), nullptr, nullptr);
  StartOptions o;
  napi_valuetype t = napi_undefined;
  if (argc >= kFixed) napi_typeof(env, argv[0], &t);
  if (t != napi_function) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: bad arguments to koffiStart()");
    return nullptr;
  }
  if (!ReadStartOptions(env, argv.data() + 1, kFixed - 1, &o)) return nullptr;
  napi_value global, ret;
  napi_get_global(env, &global);
  if (napi_call_function(env, global, argv[0], argc - kFixed, argv.data() + kFixed, &ret) != napi_ok) return nullptr;
  napi_value fut_v = nullptr, poll_v = nullptr, drop_v = nullptr;
  uintptr_t fut_ptr = 0, poll_fn = 0, drop_fn = 0;
  if (napi_get_named_property(env, ret, "fut_ptr", &fut_v) != napi_ok ||
      napi_get_named_property(env, ret, "poll_fn", &poll_v) != napi_ok ||
      napi_get_named_property(env, ret, "drop_fn", &drop_v) != napi_ok || !ReadAddress(env, fut_v, &fut_ptr) ||
      !ReadAddress(env, poll_v, &poll_fn) || !ReadAddress(env, drop_v, &drop_fn)) {
    napi_throw_type_error(env, "ERR_PLUGIN_INVALID_ARG", "rustplug internal: koffi returned no FfiFuture");
    return nullptr;
  }
  FfiFutureRaw f{reinterpret_cast<void*>(fut_ptr), reinterpret_cast<void*>(poll_fn), reinterpret_cast<void*>(drop_fn)};
  if (!ResolveJsPoll(env, f, poll_v, fut_v, &o)) return nullptr;
  return StartFuture(env, f, o);
}

napi_value Hub::StartFuture(napi_env env, const FfiFutureRaw& f, const StartOptions& o) {
  void* fut = f.fut_ptr;
  DropFn drop_fn = reinterpret_cast<DropFn>(f.drop_fn);
  if (f.poll_fn == nullptr || f.drop_fn == nullptr) {
    napi_throw_type_error(env, "ERR_PLUGIN_BAD_DECLARATION",
                          "the returned FfiFuture has a null poll_fn or drop_fn: the symbol probably does "
                          "not return an FfiFuture; check its declared result");
    return nullptr;
  }

  WakerCell* cell = WakerCell::Create(core_);
  napi_value value = nullptr, error = nullptr;
  const uint8_t tag = PollOnce(static_cast<ResultKind>(o.kind), f.poll_fn, fut, cell, o.js_poll, &value, &error);
  if (tag != kPollPending) {
    // Settled on the first poll: no task, no promise, no thread hop.
    drop_fn(fut);
    cell->Release();
    ++settled_;
    if (tag == kPollReady && error == nullptr) return value;
    napi_throw(env, error != nullptr ? error : MakeSettleError(o.symbol_id, tag));
    return nullptr;
  }

  napi_deferred deferred = nullptr;
  napi_value promise = nullptr;
  if (napi_create_promise(env, &deferred, &promise) != napi_ok) {
    // Only while the environment is stopping (worker.terminate() landed during this call): no JS
    // runs here again, so drop the future now. Returning the unset `promise` would crash V8.
    drop_fn(fut);
    cell->Release();
    ++settled_;
    return nullptr;
  }
  Task* task = new Task{next_id_++, fut, f.poll_fn, drop_fn, cell, deferred, nullptr, nullptr,
                        o.symbol_id, o.group, static_cast<ResultKind>(o.kind), o.keep_alive};
  cell->task = task;
  if (o.js_poll != nullptr) napi_create_reference(env, o.js_poll, 1, &task->js_poll);
  if (o.keep != nullptr) napi_create_reference(env, o.keep, 1, &task->keep);
  if (o.slot != nullptr) {
    napi_value id;
    napi_create_double(env, static_cast<double>(task->id), &id);
    napi_set_named_property(env, o.slot, "id", id);
  }
  pending_.emplace(task->id, task);
  if (o.keep_alive) RefLoop(true);
  return promise;
}

napi_value Hub::Cancel(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  double id = 0;
  napi_value result;
  if (argc < 2 || napi_get_value_double(env, argv[0], &id) != napi_ok) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  auto it = pending_.find(static_cast<uint64_t>(id));
  if (it == pending_.end()) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  Settle(it->second, kPollPanicked, nullptr, argv[1]);  // rejects with the caller's reason
  napi_get_boolean(env, true, &result);
  return result;
}

napi_value Hub::CancelGroup(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint32_t group = 0;
  napi_value result;
  if (argc < 2 || napi_get_value_uint32(env, argv[0], &group) != napi_ok || group == 0) {
    napi_create_uint32(env, 0, &result);
    return result;
  }
  std::vector<Task*> victims;
  for (auto& entry : pending_) {
    if (entry.second->group == group) victims.push_back(entry.second);
  }
  for (Task* task : victims) Settle(task, kPollPanicked, nullptr, argv[1]);
  napi_create_uint32(env, static_cast<uint32_t>(victims.size()), &result);
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
  set("wakerCells", static_cast<double>(core_->cells_alive.load()));
  set("wakerClones", static_cast<double>(core_->waker_clones.load()));
  set("wakes", static_cast<double>(core_->wakes.load()));
  set("signals", static_cast<double>(core_->signals.load()));
  set("drains", static_cast<double>(drains_));
  set("polls", static_cast<double>(polls_));
  set("settled", static_cast<double>(settled_));
  set("loopRefs", static_cast<double>(loop_refs_));
  // Native bytes a pending future costs the host: its task, its waker cell and its map node.
  set("bytesPerPending", static_cast<double>(sizeof(Task) + sizeof(WakerCell) + 2 * sizeof(void*) +
                                             sizeof(std::pair<const uint64_t, Task*>) + sizeof(void*)));
  return out;
}

void Hub::OnTeardown(napi_async_cleanup_hook_handle handle, void* arg) {
  Hub* hub = static_cast<Hub*>(arg);
  napi_env env = hub->env_;
  // Pending futures are dropped now, on this thread, while the plugin code is still mapped;
  // their promises die with the environment.
  for (auto& entry : hub->pending_) hub->Forget(entry.second);
  hub->pending_.clear();
  std::vector<WakerCell*> leftover;
  hub->core_->Detach(leftover);
  for (WakerCell* cell : leftover) cell->Release();
  for (size_t i = hub->batch_pos_; i < hub->batch_.size(); ++i) hub->batch_[i]->Release();
  hub->batch_.clear();
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
  hub->core_->Release();  // wakers still alive keep the core until their last reference goes
  delete hub;
  napi_remove_async_cleanup_hook(cleanup);
}

}  // namespace rustplug
