#include "waker.h"

#include "ready_queue.h"

namespace rustplug {

namespace {

const FfiWakerBase* VtClone(const FfiWakerBase* base) noexcept {
  WakerCell* cell = WakerCell::From(base);
  cell->Retain();
  cell->queue->waker_clones.fetch_add(1, std::memory_order_relaxed);
  return base;
}

// wake consumes the caller's reference; wake_by_ref borrows it.
void VtWake(const FfiWakerBase* base) noexcept {
  WakerCell* cell = WakerCell::From(base);
  cell->Wake();
  cell->queue->waker_clones.fetch_sub(1, std::memory_order_relaxed);
  cell->Release();
}

void VtWakeByRef(const FfiWakerBase* base) noexcept { WakerCell::From(base)->Wake(); }

void VtDrop(const FfiWakerBase* base) noexcept {
  WakerCell* cell = WakerCell::From(base);
  cell->queue->waker_clones.fetch_sub(1, std::memory_order_relaxed);
  cell->Release();
}

}  // namespace

const FfiWakerVTable kWakerVTable = {VtClone, VtWake, VtWakeByRef, VtDrop};

WakerCell* WakerCell::Create(ReadyQueue* queue) noexcept {
  auto* cell = new (std::nothrow) WakerCell{{&kWakerVTable}, {1}, {task_state::kInitial}, nullptr, queue, nullptr};
  if (cell == nullptr) return nullptr;
  queue->Retain();
  queue->cells_alive.fetch_add(1, std::memory_order_relaxed);
  return cell;
}

void WakerCell::Retain() noexcept {
  const uint32_t old = refs.fetch_add(1, std::memory_order_relaxed);
  if (old + 1 >= kSaturated) {
    // Pinned for good: keep the count far from both ends whatever the plugin does next.
    if (old + 1 == kSaturated) queue->saturated_cells.fetch_add(1, std::memory_order_relaxed);
    refs.store(kSaturated, std::memory_order_relaxed);
  }
}

void WakerCell::Release() noexcept {
  // acq_rel: the thread that frees the cell must see every write made under other references.
  const uint32_t old = refs.fetch_sub(1, std::memory_order_acq_rel);
  if (old >= kSaturated) {
    refs.store(kSaturated, std::memory_order_relaxed);  // pinned: never reaches zero
    return;
  }
  if (old != 1) return;
  ReadyQueue* q = queue;
  delete this;
  q->cells_alive.fetch_sub(1, std::memory_order_relaxed);
  q->Release();
}

void WakerCell::Wake() noexcept {
  queue->wakes.fetch_add(1, std::memory_order_relaxed);
  if (task_state::Wake(state)) queue->Push(this);
}

}  // namespace rustplug
