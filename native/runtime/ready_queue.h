// The cross-thread half of a hub: wakers on any thread push their cell here and signal the
// environment's uv_async_t; the JS thread takes the whole list at once. It outlives the
// environment while any waker cell still points at it; after Detach() pushes are dropped.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <mutex>

#include "waker.h"

namespace rustplug {

// An intrusive FIFO of cells linked through WakerCell::next: a push never allocates, so a wake
// on a plugin thread cannot fail or throw. A cell is in it at most once (its SCHEDULED bit).
struct CellList {
  WakerCell* head = nullptr;
  WakerCell* tail = nullptr;

  bool empty() const noexcept { return head == nullptr; }
  void push(WakerCell* c) noexcept {
    c->next = nullptr;
    if (tail == nullptr) head = c; else tail->next = c;
    tail = c;
  }
  WakerCell* pop() noexcept {
    WakerCell* c = head;
    if (c == nullptr) return nullptr;
    head = c->next;
    if (head == nullptr) tail = nullptr;
    c->next = nullptr;
    return c;
  }
};

class ReadyQueue {
 public:
  explicit ReadyQueue(uv_async_t* async) noexcept : async_(async) {}

  void Retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Any thread. Takes a reference on the cell for the list; signals the JS thread when the list
  // was empty (one signal per batch: the JS thread takes the whole list when it runs).
  void Push(WakerCell* cell) noexcept;
  // JS thread. Moves the whole list into `out` (appending).
  void TakeAll(CellList& out) noexcept;
  // JS thread: asks for another drain (the rest of a batch that was cut short).
  void SignalSelf() noexcept;
  // JS thread, at environment teardown: no uv_async_send after this returns; the cells still
  // listed are handed back for the caller to release.
  void Detach(CellList& leftover) noexcept;

  std::atomic<int64_t> cells_alive{0};
  std::atomic<int64_t> waker_clones{0};  // owned clones handed to plugins and not yet consumed
  std::atomic<int64_t> saturated_cells{0};
  std::atomic<uint64_t> wakes{0};
  std::atomic<uint64_t> signals{0};

 private:
  std::mutex mu_;
  CellList list_;      // guarded by mu_
  uv_async_t* async_;  // guarded by mu_; null after Detach
  std::atomic<uint32_t> refs_{1};
};

}  // namespace rustplug
