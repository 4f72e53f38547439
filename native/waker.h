// The one waker implementation rustplug hands to plugins. Every FfiWakerBase* a plugin sees is
// a WakerCell: clones share the cell and count references, so a clone costs no allocation and a
// late wake (after the future settled, was cancelled, or its environment went away) finds a live
// cell whose task is gone and does nothing.
#pragma once

#include <atomic>
#include <cstdint>

#include "ffi_abi.h"

namespace rustplug {

class HubCore;
struct Task;

struct WakerCell {
  FfiWakerBase base;  // first member: plugins receive &base and we cast back
  std::atomic<uint32_t> refs;
  std::atomic<bool> queued;  // in the hub's ready list; set by wakers, cleared by the JS thread
  HubCore* core;             // one reference on the core, dropped with the cell
  Task* task;                // JS thread only; null once the task settled or was cancelled

  // A new cell holding one reference, for the host's task.
  static WakerCell* Create(HubCore* core);
  static WakerCell* From(const FfiWakerBase* base) {
    return reinterpret_cast<WakerCell*>(const_cast<FfiWakerBase*>(base));
  }

  void Retain() { refs.fetch_add(1, std::memory_order_relaxed); }
  void Release();
  // Marks the cell ready and signals the hub, once until the JS thread takes it.
  void WakeByRef();
};

extern const FfiWakerVTable kWakerVTable;

}  // namespace rustplug
