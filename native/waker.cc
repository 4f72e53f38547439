#include "waker.h"

#include "hub.h"

namespace rustplug {

namespace {

const FfiWakerBase* VtClone(const FfiWakerBase* base) {
  WakerCell* cell = WakerCell::From(base);
  cell->Retain();
  cell->core->waker_clones.fetch_add(1, std::memory_order_relaxed);
  return base;
}

// wake consumes the caller's reference; wake_by_ref borrows it.
void VtWake(const FfiWakerBase* base) {
  WakerCell* cell = WakerCell::From(base);
  cell->WakeByRef();
  cell->core->waker_clones.fetch_sub(1, std::memory_order_relaxed);
  cell->Release();
}

void VtWakeByRef(const FfiWakerBase* base) { WakerCell::From(base)->WakeByRef(); }

void VtDrop(const FfiWakerBase* base) {
  WakerCell* cell = WakerCell::From(base);
  cell->core->waker_clones.fetch_sub(1, std::memory_order_relaxed);
  cell->Release();
}

}  // namespace

const FfiWakerVTable kWakerVTable = {VtClone, VtWake, VtWakeByRef, VtDrop};

WakerCell* WakerCell::Create(HubCore* core) {
  core->Retain();
  core->cells_alive.fetch_add(1, std::memory_order_relaxed);
  return new WakerCell{{&kWakerVTable}, {1}, {false}, core, nullptr};
}

void WakerCell::Release() {
  // acq_rel: the thread that frees the cell must see every write made under other references.
  if (refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  HubCore* c = core;
  delete this;
  c->cells_alive.fetch_sub(1, std::memory_order_relaxed);
  c->Release();
}

void WakerCell::WakeByRef() {
  core->wakes.fetch_add(1, std::memory_order_relaxed);
  // Only the false→true transition enqueues: wakes between two polls coalesce into one poll.
  if (queued.exchange(true, std::memory_order_acq_rel)) return;
  core->Enqueue(this);
}

}  // namespace rustplug
