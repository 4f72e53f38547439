// The one waker implementation rustplug hands to plugins. Every FfiWakerBase* a plugin sees is a
// WakerCell: the shared, thread-safe half of one task. Clones share the cell and count references,
// so a clone costs no allocation, and a late wake (after the task settled, was cancelled, or its
// environment went away) finds a live cell whose state says "dead" and does nothing.
#pragma once

#include <atomic>
#include <cstdint>

#include "../abi/async_ffi.h"
#include "state.h"

namespace rustplug {

class ReadyQueue;
struct Task;

struct WakerCell {
  FfiWakerBase base;            // first member: plugins receive &base and we cast back
  std::atomic<uint32_t> refs;   // task + ready queue + every owned clone a plugin holds
  std::atomic<uint32_t> state;  // task_state bits; see state.h for every transition
  WakerCell* next;              // ready-queue link; owned by whoever holds the SCHEDULED bit
  ReadyQueue* queue;            // one reference on the queue, dropped with the cell
  Task* task;                   // JS thread only; null once the task is gone

  // Safe Rust can leak clones (mem::forget), so the count must not wrap to zero and free a cell
  // that is still referenced. At this many references the cell is pinned: never freed again (a
  // leak of one cell, counted in stats as saturatedCells), like the kernel's refcount_t.
  static constexpr uint32_t kSaturated = 1u << 26;

  // A new cell with one reference (the task's), in the initial (running) state.
  static WakerCell* Create(ReadyQueue* queue) noexcept;
  static WakerCell* From(const FfiWakerBase* base) noexcept {
    return reinterpret_cast<WakerCell*>(const_cast<FfiWakerBase*>(base));
  }

  void Retain() noexcept;
  void Release() noexcept;
  // Any thread: marks the task woken, pushing it onto the ready queue when that is needed.
  void Wake() noexcept;
};

extern const FfiWakerVTable kWakerVTable;

}  // namespace rustplug
