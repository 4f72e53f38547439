#include "ready_queue.h"

namespace rustplug {

void ReadyQueue::Push(WakerCell* cell) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  // Environment gone: nobody will poll. The cell keeps its SCHEDULED bit, so no later wake
  // comes back here for it either.
  if (async_ == nullptr) return;
  cell->Retain();
  const bool first = list_.empty();
  list_.push(cell);
  if (first) {
    signals.fetch_add(1, std::memory_order_relaxed);
    uv_async_send(async_);
  }
}

void ReadyQueue::TakeAll(CellList& out) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (list_.empty()) return;
  if (out.tail == nullptr) out.head = list_.head; else out.tail->next = list_.head;
  out.tail = list_.tail;
  list_ = CellList{};
}

void ReadyQueue::SignalSelf() noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (async_ != nullptr) uv_async_send(async_);
}

void ReadyQueue::Detach(CellList& leftover) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  async_ = nullptr;
  leftover = list_;
  list_ = CellList{};
}

}  // namespace rustplug
